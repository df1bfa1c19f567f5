//! Stream writes: XADD with `*` and with explicit ids, trimming, deletion, consumer groups and
//! the pending entries lists (XREADGROUP, XACK, XCLAIM).
//!
//! Three rules keep a native replica identical to the source, seen-times and entries-read
//! included:
//! - XREADGROUP always runs in a MULTI right after an XADD to the same stream, so it always
//!   delivers an entry. A read that delivers nothing still refreshes the consumer's seen-time
//!   on the source, but nothing is propagated, so the replica's seen-time would fall behind.
//! - Each such read is followed, in the same MULTI, by another XADD and a `NOACK` read of
//!   one entry by the same consumer. Before Redis 7.4 a read with acknowledgement replicates
//!   as `XCLAIM ... LASTID`, which moves the group's last id on the replica but not its
//!   entries-read counter (fixed by redis/redis#12898); a NOACK read replicates as
//!   `XGROUP SETID ... ENTRIESREAD n`, which brings the counter back in line.
//! - XCLAIM names ids this connection wrote (explicit ids on [`Family::OwnStream`]) with an
//!   idle time of 0, right after they were read into the PEL, so it claims rather than only
//!   touching the consumer.

use super::batch::Batch;
use super::keys::{Family, Scope};
use super::ops::{Gen, Op};

impl Gen {
    pub(super) fn emit_stream(&mut self, op: Op, scope: Scope, b: &mut Batch) {
        match op {
            Op::Xadd => {
                let key = self.key(Family::Stream, scope);
                self.xadd(b, &key);
            }
            Op::XaddOwn => {
                let key = self.key(Family::OwnStream, scope);
                self.xadd_own(b, &key);
            }
            Op::Xdel => {
                let key = self.key(Family::OwnStream, scope);
                let p = b.cmd("XDEL").arg(key);
                for _ in 0..self.rng.range(1, 3) {
                    p.arg(self.recent_own_id());
                }
            }
            Op::XgroupCreate => {
                let (key, _) = self.group_stream(scope);
                let (group, start) = (self.group(), self.both("$", "0"));
                b.cmd("XGROUP CREATE")
                    .arg(key)
                    .arg(group)
                    .arg(start)
                    .arg("MKSTREAM");
            }
            Op::XgroupSetid => {
                let (key, _) = self.group_stream(scope);
                let (group, start) = (self.group(), self.both("$", "0"));
                b.cmd("XGROUP SETID").arg(key).arg(group).arg(start);
            }
            Op::XgroupDestroy => {
                let (key, _) = self.group_stream(scope);
                b.cmd("XGROUP DESTROY").arg(key).arg(self.group());
            }
            Op::XgroupConsumer => {
                let (key, _) = self.group_stream(scope);
                let (group, consumer) = (self.group(), self.consumer());
                let label = if self.features.redis_62 && self.rng.chance(60) {
                    "XGROUP CREATECONSUMER"
                } else {
                    "XGROUP DELCONSUMER"
                };
                b.cmd(label).arg(key).arg(group).arg(consumer);
            }
            Op::XreadGroup => self.read_group(scope, b),
            Op::Xack => {
                let key = self
                    .keys
                    .key_among(&mut self.rng, Family::OwnStream, scope, 16);
                let p = b.cmd("XACK").arg(key).arg(self.group());
                for _ in 0..self.rng.range(1, 3) {
                    p.arg(self.recent_own_id());
                }
            }
            Op::Xclaim => self.claim(scope, b),
            _ => {
                let own = self.rng.chance(50);
                let family = if own {
                    Family::OwnStream
                } else {
                    Family::Stream
                };
                let key = self.key(family, scope);
                if own && self.features.redis_62 && self.rng.chance(40) {
                    let min_id = format!("{}-0", self.own_id.saturating_sub(60));
                    b.cmd("XTRIM").arg(key).arg("MINID").arg(min_id);
                } else {
                    let p = b.cmd("XTRIM").arg(key).arg("MAXLEN");
                    if self.rng.chance(50) {
                        p.arg("~");
                    }
                    p.arg(self.rng.range(10, 80));
                }
            }
        }
    }

    /// `MULTI, XADD, XREADGROUP ... >, [XACK the new id], XADD, XREADGROUP NOACK ..., EXEC`
    fn read_group(&mut self, scope: Scope, b: &mut Batch) {
        let (key, own) = self.group_stream(scope);
        let (group, consumer) = (self.group(), self.consumer());
        b.cmd("MULTI");
        let id = self.add_to_group_stream(b, &key, own);
        let count = self.rng.range(1, 5);
        self.read(b, &key, &group, &consumer, count, false);
        if let Some(id) = id.filter(|_| self.rng.chance(30)) {
            b.cmd("XACK").arg(&key).arg(&group).arg(id);
        }
        self.add_to_group_stream(b, &key, own);
        self.read(b, &key, &group, &consumer, 1, true);
        b.cmd("EXEC");
    }

    /// `MULTI, XADD id, XREADGROUP (one consumer), XCLAIM id and an older id (another),
    /// XADD, XREADGROUP NOACK, EXEC`
    fn claim(&mut self, scope: Scope, b: &mut Batch) {
        let key = self
            .keys
            .key_among(&mut self.rng, Family::OwnStream, scope, 16);
        let (group, reader, claimer) = (self.group(), self.consumer(), self.consumer());
        b.cmd("MULTI");
        let id = self.xadd_own(b, &key);
        self.read(b, &key, &group, &reader, 100, false);
        let older = self.recent_own_id();
        let p = b
            .cmd("XCLAIM")
            .arg(&key)
            .arg(&group)
            .arg(claimer)
            .arg(0)
            .arg(id)
            .arg(older);
        if self.rng.chance(30) {
            p.arg("JUSTID");
        }
        self.xadd_own(b, &key);
        self.read(b, &key, &group, &reader, 1, true);
        b.cmd("EXEC");
    }

    fn add_to_group_stream(&mut self, b: &mut Batch, key: &[u8], own: bool) -> Option<String> {
        if own {
            Some(self.xadd_own(b, key))
        } else {
            self.xadd(b, key);
            None
        }
    }

    /// `XREADGROUP GROUP group consumer COUNT n [NOACK] STREAMS key >`
    fn read(
        &mut self,
        b: &mut Batch,
        key: &[u8],
        group: &str,
        consumer: &str,
        n: u64,
        noack: bool,
    ) {
        let p = b
            .cmd("XREADGROUP")
            .arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(n);
        if noack {
            p.arg("NOACK");
        }
        p.arg("STREAMS").arg(key).arg(">");
    }
}
