//! Keyspace writes (TTLs, DEL/UNLINK, RENAME, COPY, MOVE), MULTI blocks, scripts and
//! functions, SELECT and PUBLISH.
//!
//! TTLs are either short (at most 1 s, so those keys expire during the run) or at least an
//! hour: nothing is left about to expire once the run ends, when the copy gets compared.

use super::batch::Batch;
use super::keys::{Family, Scope};
use super::ops::{Gen, Op, SCRIPT_MANY, SCRIPT_ONE};

/// The channel PUBLISH writes to; no test subscribes, it only has to leave the data alone.
const CHANNEL: &str = "slotstream:workload";
/// 2100-01-01T00:00:00Z in ms. PEXPIREAT needs an absolute time; deriving it from a constant
/// rather than the clock keeps the commands a function of the seed alone.
const FAR_FUTURE_MS: u64 = 4_102_444_800_000;
const YEAR_MS: u64 = 365 * 86_400_000;

impl Gen {
    pub(super) fn emit_keyspace(&mut self, op: Op, scope: Scope, b: &mut Batch) {
        match op {
            Op::ExpireShort => {
                let key = self.ttl_key(scope);
                if self.rng.chance(50) {
                    b.cmd("PEXPIRE").arg(key).arg(self.rng.range(50, 1000));
                } else {
                    b.cmd("EXPIRE").arg(key).arg(1);
                }
            }
            Op::ExpireLong => {
                let key = self.ttl_key(scope);
                // EXPIRE 0 deletes the key (and replicates as a DEL).
                let ttl = if self.rng.chance(5) {
                    0
                } else {
                    self.rng.range(3600, 86_400)
                };
                b.cmd("EXPIRE").arg(key).arg(ttl);
            }
            Op::PexpireAt => {
                let key = self.ttl_key(scope);
                // A time in the past deletes the key, like EXPIRE 0.
                let at = if self.rng.chance(5) {
                    1000
                } else {
                    FAR_FUTURE_MS - self.rng.below(YEAR_MS)
                };
                b.cmd("PEXPIREAT").arg(key).arg(at);
            }
            Op::Persist => {
                let key = self.any_key(scope);
                b.cmd("PERSIST").arg(key);
            }
            Op::DelMany => {
                let label = self.both("DEL", "UNLINK");
                // Before 6.2, UNLINK of a stream whose last group was destroyed crashes the
                // server (redis/redis#8932), so there UNLINK leaves streams to DEL.
                let streams_ok = label == "DEL" || self.features.redis_62;
                let n = self.rng.range(5, 20);
                let keys: Vec<Vec<u8>> = (0..n)
                    .map(|_| loop {
                        let family = *self.rng.pick(&Family::ALL);
                        if streams_ok || !family.is_stream() {
                            break self.key(family, scope);
                        }
                    })
                    .collect();
                b.cmd(label).arg(keys);
            }
            Op::Rename | Op::RenameTagged => {
                let scope = match (op, scope) {
                    (Op::RenameTagged, Scope::Any) => Scope::Tag(self.keys.tag(&mut self.rng)),
                    _ => scope,
                };
                // Both names from one family, so the type behind a prefix never changes.
                let family = *self.rng.pick(&Family::ALL);
                let (from, to) = (self.key(family, scope), self.key(family, scope));
                let label = if self.rng.chance(80) {
                    "RENAME"
                } else {
                    "RENAMENX"
                };
                b.cmd(label).arg(from).arg(to);
            }
            Op::Copy if !self.features.copy => self.emit_keyspace(Op::Rename, scope, b),
            Op::Copy => {
                let family = *self.rng.pick(&Family::ALL);
                let (from, to) = (self.key(family, scope), self.key(family, scope));
                let other = self.other_db().filter(|_| self.rng.chance(30));
                let replace = self.rng.chance(50);
                let p = b.cmd("COPY").arg(from).arg(to);
                if let Some(db) = other {
                    p.arg("DB").arg(db);
                }
                if replace {
                    p.arg("REPLACE");
                }
            }
            Op::Move => match self.other_db() {
                Some(db) => {
                    let key = self.any_key(scope);
                    b.cmd("MOVE").arg(key).arg(db);
                }
                None => self.emit_keyspace(Op::Persist, scope, b),
            },
            Op::MultiSlot => {
                let group = self.keys.tag(&mut self.rng);
                self.multi(Scope::Tag(group), b);
            }
            Op::MultiCross => self.multi(Scope::Any, b),
            Op::Eval => self.eval(b),
            Op::Fcall if self.features.functions => {
                let scope = self.script_scope();
                let (list, counter) = (
                    self.key(Family::List, scope),
                    self.key(Family::Counter, scope),
                );
                let element = self.value();
                b.cmd("FCALL")
                    .arg("ss_push")
                    .arg(2)
                    .arg(list)
                    .arg(counter)
                    .arg(element);
            }
            Op::EvalSha | Op::Fcall => {
                let scope = self.script_scope();
                let (hash, set) = (self.key(Family::Hash, scope), self.key(Family::Set, scope));
                let member = self.member(&set, 64);
                b.cmd("EVALSHA")
                    .arg(&self.cached_sha)
                    .arg(2)
                    .arg(hash)
                    .arg(set)
                    .arg(member);
            }
            Op::Select => {
                if let Some(db) = self.other_db() {
                    self.db = db;
                    b.cmd("SELECT").arg(db);
                }
            }
            _ => {
                let message = self.value();
                b.cmd("PUBLISH").arg(CHANNEL).arg(message);
            }
        }
    }

    /// A key for EXPIRE and friends: any family, float counters aside before 6.0 (see
    /// [`super::Features::keepttl`]).
    fn ttl_key(&mut self, scope: Scope) -> Vec<u8> {
        loop {
            let family = *self.rng.pick(&Family::ALL);
            if self.features.keepttl || family != Family::Float {
                return self.key(family, scope);
            }
        }
    }

    /// Scripts get keys in one slot half the time, as a cluster client would send them.
    fn script_scope(&mut self) -> Scope {
        if self.rng.chance(50) {
            Scope::Tag(self.keys.tag(&mut self.rng))
        } else {
            Scope::Any
        }
    }

    /// EVAL writing one key, or four keys of four types.
    fn eval(&mut self, b: &mut Batch) {
        let scope = self.script_scope();
        if self.rng.chance(40) {
            let (key, value) = (self.key(Family::Text, scope), self.value());
            b.cmd("EVAL").arg(SCRIPT_ONE).arg(1).arg(key).arg(value);
            return;
        }
        let keys = [
            self.key(Family::Counter, scope),
            self.key(Family::Hash, scope),
            self.key(Family::List, scope),
            self.key(Family::Zset, scope),
        ];
        let step = self.rng.range(1, 100);
        b.cmd("EVAL")
            .arg(SCRIPT_MANY)
            .arg(keys.len())
            .arg(&keys[..])
            .arg(step)
            .arg(self.value());
    }
}
