//! Settings of the apply side: where the destination is, how records are batched, and what to
//! do with values the destination cannot hold.

use crate::dbmap::DbMap;
use slotstream_link::Tls;
use std::time::Duration;

/// How to reach the destination and how hard to push it.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    /// `redis://[user:password@]host:port`
    pub url: String,
    /// Commands per pipeline sent to the destination.
    pub batch_records: usize,
    /// Payload bytes per pipeline; a single bigger record goes alone.
    pub batch_bytes: usize,
    /// Give up connecting after this long.
    pub connect_timeout: Duration,
    /// A reply slower than this fails the batch (a 500 MB RESTORE takes seconds).
    pub response_timeout: Duration,
    /// Every expiry time is written this much later, so the destination does not expire a key
    /// before the source's own `DEL` or renewal of it arrives (see [`crate::expiry`]).
    pub ttl_extension: Duration,
    /// What to do with values the destination cannot hold (hash field TTLs on an old target).
    pub on_unsupported: OnUnsupported,
    /// What to do with a destination that holds keys of its own before the first write.
    pub on_existing: OnExisting,
    /// Which destination database receives each source database (`--map-db`).
    pub db_map: DbMap,
    /// TLS settings for a `rediss://` URL (`None`: the system's CAs).
    pub tls: Option<Tls>,
}

impl TargetConfig {
    /// The default of `ttl_extension`, in seconds.
    pub const DEFAULT_TTL_EXTENSION_SECS: u64 = 10;

    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            batch_records: 2048,
            batch_bytes: 4 << 20,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(300),
            ttl_extension: Duration::from_secs(Self::DEFAULT_TTL_EXTENSION_SECS),
            on_unsupported: OnUnsupported::default(),
            on_existing: OnExisting::default(),
            db_map: DbMap::default(),
            tls: None,
        }
    }
}

/// What to do with a value or a live command the destination cannot hold as it is (hash field
/// TTLs on a target without them, a function library on a target without functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnsupported {
    /// Stop before writing it, naming it.
    #[default]
    Fail,
    /// Leave it out, with a warning that names it.
    SkipWithWarning,
}

/// What to do with a destination that holds keys of its own before slotstream first writes
/// into it (see [`crate::existing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnExisting {
    /// Refuse it before any write, naming how many keys and a few of them.
    #[default]
    Fail,
    /// Copy over it; its keys are remembered and no sweep ever deletes them.
    Overwrite,
}
