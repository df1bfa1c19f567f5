//! Snapshot keys as plain commands, for a destination that cannot `RESTORE` their payload: an
//! older RDB format than the source's (a newer → older migration), or the other server family's
//! (Redis 7.4's RDB 12 on Valkey 9).
//!
//! The value is decoded with [`slotstream_rdb::elements`] in bounded batches and written as
//! `DEL`, then `SET` / `RPUSH` / `SADD` / `ZADD` / `HSET` / `XADD` commands of at most
//! [`ELEMENTS_PER_COMMAND`] elements, then what the value carries besides its elements: hash
//! field TTLs (`HPEXPIREAT`), a stream's last ID, counters, consumer groups, consumers and
//! pending entries (`stream`), and the key's own expiry (`PEXPIREAT`). A key's commands go into
//! one batch, and a batch that moves a checkpoint is one `MULTI/EXEC`: readers see the old value
//! or the whole new one.

mod stream;

use crate::config::OnUnsupported;
use crate::expiry::{on_target, passed, write_hpexpireat};
use crate::target::TargetInfo;
use crate::wire::Commands;
use slotstream_rdb::elements::{self, Batch, DecodeError, HashField, Kind, StreamMeta};
use slotstream_schemas::SnapshotKey;

/// Elements written per command.
pub const ELEMENTS_PER_COMMAND: usize = 256;

/// Why a key could not be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("cannot decode the value: {0}")]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Unsupported(String),
}

/// What became of a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Rewritten {
    /// This many commands were written.
    Commands(usize),
    /// Nothing was written: the key holds only what the destination cannot express, and
    /// [`OnUnsupported::SkipWithWarning`] said to leave it out.
    Skipped(String),
}

/// The clock and limits a rewrite works with.
pub struct RewriteContext<'a> {
    pub target: &'a TargetInfo,
    pub now_ms: i64,
    /// Every expiry time is written this much later (see [`crate::expiry`]).
    pub extension_ms: i64,
    pub on_unsupported: OnUnsupported,
}

/// A value, or a part of one, to write as commands.
pub struct Part<'a> {
    pub rdb_type: u8,
    /// A standalone RDB object (for a chunk: holding a run of the value's elements).
    pub object: &'a [u8],
    pub rdb_version: u16,
    /// The value's first part: the key is emptied first.
    pub first: bool,
    /// The value's last part: a stream's metadata and the key's expiry are written.
    pub last: bool,
    pub expire_ms: Option<i64>,
}

impl<'a> Part<'a> {
    /// A whole snapshot key.
    pub fn whole(key: &'a SnapshotKey) -> Part<'a> {
        Part {
            rdb_type: key.rdb_type,
            object: &key.object,
            rdb_version: key.rdb_version,
            first: true,
            last: true,
            expire_ms: key.expire_ms,
        }
    }
}

/// Writes `part` as plain commands on `key` into `out`.
pub fn write_part(
    out: &mut Commands,
    key: &[u8],
    part: &Part<'_>,
    ctx: &RewriteContext<'_>,
) -> Result<Rewritten, RewriteError> {
    let kind = elements::kind(part.rdb_type, part.rdb_version)?;
    if kind == Kind::Hash && elements::has_field_ttl_type(part.rdb_type) {
        if let Some(skipped) = check_field_ttls(part, ctx)? {
            return Ok(Rewritten::Skipped(skipped));
        }
    }
    // A whole stream: its pending IDs, read ahead, for the ones whose message is gone.
    let placeholders = if kind == Kind::Stream && part.first && part.last {
        stream_meta(part)?
            .map(|meta| stream::Placeholders::of(&meta))
            .unwrap_or_default()
    } else {
        stream::Placeholders::default()
    };
    let mut writer = Writer {
        out,
        key,
        ctx,
        count: 0,
        last: part.last,
        field_ttls: Vec::new(),
        placeholders,
    };
    if part.first {
        writer.command(&[b"DEL", key]);
        if kind == Kind::Stream {
            stream::create_empty(&mut writer);
        }
    }
    elements::for_each_batch(
        part.rdb_type,
        part.object,
        part.rdb_version,
        ELEMENTS_PER_COMMAND,
        |batch| writer.batch(batch),
    )?;
    writer.field_expiries();
    if let Some(at) = part.expire_ms.filter(|_| part.last) {
        let at = on_target(at, ctx.extension_ms);
        writer.out.command(3);
        writer.out.arg(b"PEXPIREAT");
        writer.out.arg(key);
        writer.out.arg_int(at);
        writer.count += 1;
    }
    Ok(Rewritten::Commands(writer.count))
}

/// A stream's metadata, read ahead of its entries (which are decoded and dropped meanwhile).
fn stream_meta(part: &Part<'_>) -> Result<Option<StreamMeta>, RewriteError> {
    let mut found = None;
    elements::for_each_batch::<DecodeError>(
        part.rdb_type,
        part.object,
        part.rdb_version,
        ELEMENTS_PER_COMMAND,
        |batch| {
            if let Batch::StreamMeta(meta) = batch {
                found = Some(meta);
            }
            Ok(())
        },
    )?;
    Ok(found)
}

/// For a hash whose fields carry TTLs on a destination without field TTLs: an error
/// ([`OnUnsupported::Fail`]) or the reason to skip it. `None`: write it.
fn check_field_ttls(
    part: &Part<'_>,
    ctx: &RewriteContext<'_>,
) -> Result<Option<String>, RewriteError> {
    if ctx.target.has_field_ttls() {
        return Ok(None);
    }
    let mut with_ttl = 0usize;
    elements::for_each_batch(
        part.rdb_type,
        part.object,
        part.rdb_version,
        ELEMENTS_PER_COMMAND,
        |batch| {
            if let Batch::Hash(fields) = batch {
                with_ttl += fields.iter().filter(|f| f.expire_ms.is_some()).count();
            }
            Ok::<(), RewriteError>(())
        },
    )?;
    if with_ttl == 0 {
        return Ok(None);
    }
    let why = format!(
        "{with_ttl} of its fields have their own TTL (HEXPIRE), which {} cannot hold",
        ctx.target.version
    );
    match ctx.on_unsupported {
        OnUnsupported::Fail => Err(RewriteError::Unsupported(format!(
            "{why}; nothing of this key was written. Use a target with hash field TTLs (Redis \
             7.4+, Valkey 9+), or pass --on-unsupported=skip-with-warning to leave such keys out"
        ))),
        OnUnsupported::SkipWithWarning => Ok(Some(why)),
    }
}

/// Writes the commands of one key and counts them.
struct Writer<'a, 'c> {
    out: &'a mut Commands,
    key: &'a [u8],
    ctx: &'a RewriteContext<'c>,
    count: usize,
    /// Whether this is the value's last part (a stream's metadata comes with it).
    last: bool,
    /// Fields with a TTL still in the future, written after every field is set.
    field_ttls: Vec<(Vec<u8>, i64)>,
    /// A whole stream's pending IDs that may need a placeholder entry.
    placeholders: stream::Placeholders,
}

impl Writer<'_, '_> {
    fn command(&mut self, args: &[&[u8]]) {
        self.out.push(args);
        self.count += 1;
    }

    /// `NAME key` followed by `items`, each written with `write` as `per_item` arguments.
    fn keyed<T>(
        &mut self,
        name: &[u8],
        items: &[T],
        per_item: usize,
        mut write: impl FnMut(&mut Commands, &T),
    ) {
        if items.is_empty() {
            return;
        }
        self.out.command(2 + items.len() * per_item);
        self.out.arg(name);
        self.out.arg(self.key);
        for item in items {
            write(self.out, item);
        }
        self.count += 1;
    }

    fn batch(&mut self, batch: Batch) -> Result<(), RewriteError> {
        match batch {
            Batch::String(value) => {
                let key = self.key;
                self.command(&[b"SET", key, &value]);
            }
            Batch::List(items) => self.keyed(b"RPUSH", &items, 1, |out, item| out.arg(item)),
            Batch::Set(members) => self.keyed(b"SADD", &members, 1, |out, m| out.arg(m)),
            Batch::ZSet(members) => self.keyed(b"ZADD", &members, 2, |out, (member, score)| {
                out.arg(score_text(*score).as_bytes());
                out.arg(member);
            }),
            Batch::Hash(fields) => self.hash(fields),
            Batch::StreamEntries(entries) => {
                for entry in &entries {
                    stream::write_entry(self, entry);
                }
            }
            Batch::StreamMeta(meta) if self.last => stream::write_meta(self, &meta),
            // Earlier parts of a stream carry empty metadata: the last one has the real one.
            Batch::StreamMeta(_) => {}
        }
        Ok(())
    }

    /// `HSET` of the fields still alive; their TTLs are kept for [`Self::field_expiries`].
    fn hash(&mut self, fields: Vec<HashField>) {
        let (now, extension) = (self.ctx.now_ms, self.ctx.extension_ms);
        let alive: Vec<&HashField> = fields
            .iter()
            .filter(|f| f.expire_ms.is_none_or(|at| !passed(at, extension, now)))
            .collect();
        self.keyed(b"HSET", &alive, 2, |out, field| {
            out.arg(&field.field);
            out.arg(&field.value);
        });
        self.field_ttls.extend(
            alive
                .iter()
                .filter_map(|f| Some((f.field.clone(), on_target(f.expire_ms?, extension)))),
        );
    }

    /// `HPEXPIREAT key at FIELDS 1 field` for each field with a TTL.
    fn field_expiries(&mut self) {
        for (field, at) in std::mem::take(&mut self.field_ttls) {
            write_hpexpireat(self.out, self.key, at, std::iter::once(field.as_slice()));
            self.count += 1;
        }
    }
}

/// A score as `ZADD` reads it back to the same double: the shortest text that round-trips
/// (with an exponent for very large or small values), or `inf`.
fn score_text(score: f64) -> String {
    if score.is_infinite() {
        if score > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{score:?}")
    }
}

#[cfg(test)]
mod tests;
