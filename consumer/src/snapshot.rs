//! Snapshot records into a batch: each key as its [plan](crate::plan) says (a pair of a shared
//! `MSET`, a `RESTORE`, or its value rewritten as commands), and function libraries. The
//! rewriting is shared with big values' chunks ([`crate::chunk`]).

use crate::batch::{Batch, Replies};
use crate::config::OnUnsupported;
use crate::error::ApplyError;
use crate::plan::{plan, KeyPlan};
use crate::restore::{function_command, library_name, write_field_expiries, write_restore};
use crate::rewrite::{write_part, Part, RewriteContext, Rewritten};
use crate::stats::ApplyStats;
use crate::target::TargetInfo;
use crate::wire::Commands;
use slotstream_rdb::elements::has_field_ttl_type;
use slotstream_schemas::display::show_key;
use slotstream_schemas::{Function, SnapshotKey};
use std::sync::atomic::Ordering;

/// What became of a snapshot record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Its commands are in the batch.
    Yes,
    /// It had expired before it could be applied: nothing written.
    Expired,
    /// Left out, as `--on-unsupported=skip-with-warning` says (warned and counted).
    LeftOut,
}

/// Writes snapshot records for one destination.
pub struct SnapshotWriter<'a> {
    pub target: &'a TargetInfo,
    /// The destination's address, for errors.
    pub addr: &'a str,
    /// Every expiry time is written this much later (see [`crate::expiry`]).
    pub extension_ms: i64,
    pub on_unsupported: OnUnsupported,
    pub stats: &'a ApplyStats,
}

impl SnapshotWriter<'_> {
    /// Adds a snapshot key to the batch (in the batch's current database, `db`).
    pub fn key(
        &self,
        batch: &mut Batch,
        db: u32,
        key: SnapshotKey,
        now_ms: i64,
    ) -> Result<Written, ApplyError> {
        let mut push = batch.push(Replies::Strict);
        let written = match plan(&key, self.target, now_ms, self.extension_ms) {
            KeyPlan::Expired => Written::Expired,
            KeyPlan::Mset(value) => {
                push.commands().mset_pair(&key.key, &value);
                Written::Yes
            }
            KeyPlan::Restore => {
                write_restore(push.commands(), &key, now_ms, self.extension_ms);
                if has_field_ttl_type(key.rdb_type) {
                    write_field_expiries(push.commands(), &key, self.extension_ms).map_err(
                        |err| ApplyError::Incompatible {
                            addr: self.addr.to_string(),
                            why: format!(
                                "key {} (db {db}, a hash with field TTLs): {err}",
                                show_key(&key.key)
                            ),
                        },
                    )?;
                }
                Written::Yes
            }
            KeyPlan::Rewrite => {
                let what = || {
                    format!(
                        "RDB type {} of RDB version {}",
                        key.rdb_type, key.rdb_version
                    )
                };
                let part = Part::whole(&key);
                self.rewrite(push.commands(), db, &key.key, &key.key, &part, now_ms, what)?
            }
        };
        push.concerning(key.key);
        if written == Written::Yes {
            batch.tally.snapshot_keys += 1;
            batch.tally.records += 1;
        }
        Ok(written)
    }

    /// Adds a function library to the batch (`FUNCTION LOAD REPLACE`, in db 0), or, on a
    /// destination without functions (before Redis 7.0), stops or leaves it out as
    /// `--on-unsupported` says.
    pub fn function(&self, batch: &mut Batch, function: &Function) -> Result<Written, ApplyError> {
        let name = library_name(&function.code);
        if !self.target.at_least(7, 0) {
            let why = format!(
                "the source has the function library {name}, and {} has no functions (Redis 7.0+)",
                self.target.version
            );
            return match self.on_unsupported {
                OnUnsupported::Fail => Err(ApplyError::Incompatible {
                    addr: self.addr.to_string(),
                    why: format!(
                        "{why}; pass --on-unsupported=skip-with-warning to copy without it"
                    ),
                }),
                OnUnsupported::SkipWithWarning => {
                    tracing::warn!(%why, "function library left out");
                    self.stats.left_out.fetch_add(1, Ordering::Relaxed);
                    Ok(Written::LeftOut)
                }
            };
        }
        batch.select(0);
        let mut push = batch.push(Replies::Strict);
        push.commands().push_cmd(&function_command(function));
        push.concerning(name.into_bytes());
        batch.tally.records += 1;
        Ok(Written::Yes)
    }

    /// Writes `part` of `key`'s value as commands on `on` (the key, or where it is built) into
    /// `cmds`. [`Written::LeftOut`] when the value is left out (warned and counted, as
    /// `--on-unsupported` said); an error naming the key and `what` part of it otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn rewrite(
        &self,
        cmds: &mut Commands,
        db: u32,
        key: &[u8],
        on: &[u8],
        part: &Part<'_>,
        now_ms: i64,
        what: impl FnOnce() -> String,
    ) -> Result<Written, ApplyError> {
        let ctx = RewriteContext {
            target: self.target,
            now_ms,
            extension_ms: self.extension_ms,
            on_unsupported: self.on_unsupported,
        };
        match write_part(cmds, on, part, &ctx) {
            Ok(Rewritten::Commands(_)) => Ok(Written::Yes),
            Ok(Rewritten::Skipped(why)) => {
                tracing::warn!(db, key = %show_key(key), %why, "key left out");
                self.stats.left_out.fetch_add(1, Ordering::Relaxed);
                Ok(Written::LeftOut)
            }
            Err(err) => Err(ApplyError::Incompatible {
                addr: self.addr.to_string(),
                why: format!("key {} (db {db}, {}): {err}", show_key(key), what()),
            }),
        }
    }
}
