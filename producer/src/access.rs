//! Before the replica handshake: whether the source account may run what the capture sends
//! (`ACL DRYRUN`, through `slotstream-link`'s `access`). A missing required permission stops
//! the capture naming it and the rule that allows it, before anything is written anywhere.

use crate::config::{SourceAddr, SourceConfig};
use crate::error::CaptureError;
use slotstream_link::access::{self, Need, SOURCE_CLUSTER_NEEDS, SOURCE_NEEDS};

/// Checks the account of `config`'s URL; a source that cannot be asked is let through (the
/// replica link reports the real fault, and a missing permission shows as `NOPERM` there).
pub fn check_source_access(config: &SourceConfig, addr: &SourceAddr) -> Result<(), CaptureError> {
    let Ok(mut conn) = config.client_connection() else {
        return Ok(());
    };
    let needs: &[&[Need]] = match config.shard {
        Some(_) => &[SOURCE_NEEDS, SOURCE_CLUSTER_NEEDS],
        None => &[SOURCE_NEEDS],
    };
    let (user, access) = access::check(&mut conn, addr.username.as_deref(), needs);
    access
        .settle("source", &user, &addr.to_string())
        .map_err(|why| CaptureError::Permission {
            addr: addr.to_string(),
            why,
        })
}
