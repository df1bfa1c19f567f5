//! [`VerifyOptions`]: the two servers, how strictly expiry times are compared, what the report
//! keeps, and which part of the source the copy holds.

use crate::scope::Scope;

/// What to compare and how strictly.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// `redis://[user:password@]host:port` of each side.
    pub source: String,
    pub target: String,
    /// Largest accepted difference between the two sides' absolute expiry times (the target's
    /// moved back by `ttl_extension_ms`), in ms.
    pub ttl_tolerance_ms: u64,
    /// How much later the copy wrote every expiry time on the target (its TTL extension).
    pub ttl_extension_ms: u64,
    /// How many differences (and warnings) the report keeps.
    pub max_report: usize,
    /// TLS settings of each side, for a `rediss://` URL (`None`: the system's CAs).
    pub source_tls: Option<slotstream_link::Tls>,
    pub target_tls: Option<slotstream_link::Tls>,
    /// Where each source database went, and which keys the copy holds.
    pub scope: Scope,
}

impl VerifyOptions {
    pub const DEFAULT_TTL_TOLERANCE_MS: u64 = 2000;
    pub const DEFAULT_MAX_REPORT: usize = 20;

    /// Source and target with the default tolerance and report size.
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> VerifyOptions {
        VerifyOptions {
            source: source.into(),
            target: target.into(),
            ttl_tolerance_ms: Self::DEFAULT_TTL_TOLERANCE_MS,
            ttl_extension_ms: 0,
            max_report: Self::DEFAULT_MAX_REPORT,
            source_tls: None,
            target_tls: None,
            scope: Scope::default(),
        }
    }
}
