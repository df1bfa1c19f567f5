//! The value writes: strings, counters, bitmaps, HyperLogLogs, lists, hashes, sets and sorted
//! sets. Multi-key commands take all their keys from one scope, so inside a single-slot MULTI
//! block they stay in one slot.

use super::batch::Batch;
use super::keys::{float_step, Family, Scope};
use super::ops::{Gen, Op};

impl Gen {
    pub(super) fn emit_data(&mut self, op: Op, scope: Scope, b: &mut Batch) {
        match op {
            Op::Set | Op::SetEx | Op::SetPxShort | Op::SetGet => self.set(op, scope, b),
            Op::Incr => {
                let key = self.key(Family::Counter, scope);
                let step = self.rng.range(1, 1000);
                match self.rng.below(4) {
                    0 => b.cmd("INCR").arg(key),
                    1 => b.cmd("DECR").arg(key),
                    2 => b.cmd("INCRBY").arg(key).arg(step),
                    _ => b.cmd("DECRBY").arg(key).arg(step),
                };
            }
            Op::IncrByFloat => {
                let key = self.key(Family::Float, scope);
                b.cmd("INCRBYFLOAT").arg(key).arg(float_step(&mut self.rng));
            }
            Op::Append => {
                let (key, value) = (self.key(Family::Text, scope), self.value());
                b.cmd("APPEND").arg(key).arg(value);
            }
            Op::SetRange => {
                let key = self.key(Family::Text, scope);
                let offset = self.rng.below(64);
                b.cmd("SETRANGE").arg(key).arg(offset).arg("xyz");
            }
            Op::Mset => {
                let keys = self.many(Family::Text, scope, 5, 20);
                let p = b.cmd("MSET");
                for key in keys {
                    p.arg(key).arg(self.value());
                }
            }
            Op::MsetNx => {
                let keys = self.many(Family::Nx, scope, 2, 4);
                // Clear the keys now and then, or MSETNX would almost never succeed.
                if self.rng.chance(30) {
                    b.cmd("DEL").arg(&keys);
                }
                let p = b.cmd("MSETNX");
                for key in keys {
                    p.arg(key).arg(self.value());
                }
            }
            Op::Setbit => {
                let key = self.key(Family::Bitmap, scope);
                let range = if self.rng.chance(95) { 4096 } else { 65_536 };
                let offset = self.rng.below(range);
                b.cmd("SETBIT").arg(key).arg(offset).arg(self.rng.below(2));
            }
            Op::Bitop => {
                let keys = self.many(Family::Bitmap, scope, 2, 4);
                let (dest, rest) = keys.split_first().expect("at least one key");
                // A tag group may not hold enough distinct keys; then the dest is a source too.
                let sources = if rest.is_empty() { &keys[..1] } else { rest };
                if self.rng.chance(20) {
                    b.cmd("BITOP").arg("NOT").arg(dest).arg(&sources[0]);
                } else {
                    let op = *self.rng.pick(&["AND", "OR", "XOR"]);
                    b.cmd("BITOP").arg(op).arg(dest).arg(sources);
                }
            }
            Op::Pfadd => {
                let key = self.key(Family::Hll, scope);
                let p = b.cmd("PFADD").arg(key);
                for _ in 0..self.rng.range(1, 6) {
                    p.arg(format!("e{}", self.rng.below(10_000)));
                }
            }
            Op::Pfmerge => {
                let keys = self.many(Family::Hll, scope, 2, 3);
                b.cmd("PFMERGE").arg(keys);
            }
            Op::Push | Op::Pop | Op::Linsert | Op::Ltrim | Op::Lset | Op::Lmove => {
                self.list(op, scope, b)
            }
            Op::Hset | Op::Hincrby | Op::Hincrbyfloat | Op::Hdel => self.hash(op, scope, b),
            _ => self.set_or_zset(op, scope, b),
        }
    }

    fn set(&mut self, op: Op, scope: Scope, b: &mut Batch) {
        let (key, value) = (self.key(Family::Text, scope), self.value());
        match op {
            Op::SetEx => {
                let ttl = self.rng.range(3600, 86_400);
                b.cmd("SET").arg(key).arg(value).arg("EX").arg(ttl);
            }
            // Short enough to expire while the run goes on.
            Op::SetPxShort => {
                let ttl = self.rng.range(50, 1000);
                b.cmd("SET").arg(key).arg(value).arg("PX").arg(ttl);
            }
            Op::SetGet if self.features.redis_62 && self.rng.chance(50) => {
                b.cmd("SET").arg(key).arg(value).arg("GET");
            }
            Op::SetGet => {
                b.cmd("GETSET").arg(key).arg(value);
            }
            _ => {
                b.cmd("SET").arg(key).arg(value);
            }
        }
    }

    /// A list element: mostly from a small space, so LINSERT finds its pivot.
    fn element(&mut self, key: &[u8]) -> Vec<u8> {
        if self.rng.chance(80) {
            self.member(key, 32).into_bytes()
        } else {
            self.value()
        }
    }

    fn list(&mut self, op: Op, scope: Scope, b: &mut Batch) {
        let key = self.key(Family::List, scope);
        match op {
            Op::Push => {
                let p = b.cmd(self.both("LPUSH", "RPUSH")).arg(&key);
                for _ in 0..self.rng.range(1, 5) {
                    p.arg(self.element(&key));
                }
            }
            Op::Pop => {
                let p = b.cmd(self.both("LPOP", "RPOP")).arg(&key);
                if self.features.redis_62 && self.rng.chance(25) {
                    p.arg(self.rng.range(2, 4));
                }
            }
            Op::Linsert => {
                let (pivot, element) = (self.member(&key, 32), self.element(&key));
                let side = self.both("BEFORE", "AFTER");
                b.cmd("LINSERT").arg(key).arg(side).arg(pivot).arg(element);
            }
            Op::Ltrim => {
                let (start, stop) = match self.rng.below(3) {
                    0 => (0, self.rng.range(4, 60) as i64),
                    1 => (1, -1),
                    _ => (-40, -1),
                };
                b.cmd("LTRIM").arg(key).arg(start).arg(stop);
            }
            Op::Lset => {
                let index = self.rng.below(7) as i64 - 3;
                b.cmd("LSET").arg(&key).arg(index).arg(self.element(&key));
            }
            _ => {
                let dest = self.key(Family::List, scope);
                if self.features.lmove {
                    let (from, to) = (self.both("LEFT", "RIGHT"), self.both("LEFT", "RIGHT"));
                    b.cmd("LMOVE").arg(key).arg(dest).arg(from).arg(to);
                } else {
                    b.cmd("RPOPLPUSH").arg(key).arg(dest);
                }
            }
        }
    }

    /// Hash fields: `f*` hold text, `i*` integers, `d*` floats, so increments never meet text.
    fn hash(&mut self, op: Op, scope: Scope, b: &mut Batch) {
        let key = self.key(Family::Hash, scope);
        match op {
            Op::Hset => {
                let p = b.cmd("HSET").arg(key);
                for _ in 0..self.rng.range(1, 4) {
                    // Now and then a far field, so some hashes outgrow the compact encoding.
                    let space = if self.rng.chance(90) { 40 } else { 300 };
                    p.arg(format!("f{}", self.rng.below(space)))
                        .arg(self.value());
                }
            }
            Op::Hincrby => {
                let (field, step) = (self.rng.below(8), self.rng.below(200) as i64 - 100);
                b.cmd("HINCRBY").arg(key).arg(format!("i{field}")).arg(step);
            }
            Op::Hincrbyfloat => {
                let field = format!("d{}", self.rng.below(8));
                b.cmd("HINCRBYFLOAT")
                    .arg(key)
                    .arg(field)
                    .arg(float_step(&mut self.rng));
            }
            _ => {
                let p = b.cmd("HDEL").arg(key);
                for _ in 0..self.rng.range(1, 3) {
                    let kind = *self.rng.pick(&["f", "f", "i", "d"]);
                    p.arg(format!(
                        "{kind}{}",
                        self.rng.below(if kind == "f" { 40 } else { 8 })
                    ));
                }
            }
        }
    }

    fn set_or_zset(&mut self, op: Op, scope: Scope, b: &mut Batch) {
        let family = match op {
            Op::Sadd | Op::Srem | Op::Spop | Op::Smove | Op::SetStore => Family::Set,
            _ => Family::Zset,
        };
        let key = self.key(family, scope);
        match op {
            Op::Sadd | Op::Srem => {
                let label = if op == Op::Sadd { "SADD" } else { "SREM" };
                // Now and then a member from a wide space, so some sets outgrow their encoding.
                let space = if op == Op::Sadd && self.rng.chance(3) {
                    700
                } else {
                    64
                };
                let p = b.cmd(label).arg(&key);
                for _ in 0..self.rng.range(1, 5) {
                    p.arg(self.member(&key, space));
                }
            }
            Op::Spop => {
                let p = b.cmd("SPOP").arg(key);
                if self.rng.chance(30) {
                    p.arg(self.rng.range(2, 5));
                }
            }
            Op::Smove => {
                let dest = self.key(Family::Set, scope);
                b.cmd("SMOVE")
                    .arg(&key)
                    .arg(dest)
                    .arg(self.member(&key, 64));
            }
            Op::SetStore => {
                let label = *self.rng.pick(&["SUNIONSTORE", "SINTERSTORE", "SDIFFSTORE"]);
                let sources = self.many(Family::Set, scope, 2, 3);
                b.cmd(label).arg(key).arg(sources);
            }
            Op::Zadd => {
                let p = b.cmd("ZADD").arg(&key);
                match self.rng.below(10) {
                    0 => p.arg("NX"),
                    1 => p.arg("XX"),
                    2 => p.arg("CH"),
                    _ => p,
                };
                for _ in 0..self.rng.range(1, 4) {
                    let score = (self.rng.below(2000) as f64 - 1000.0) / 4.0;
                    p.arg(score).arg(self.member(&key, 64));
                }
            }
            Op::Zincrby => {
                let step = float_step(&mut self.rng);
                b.cmd("ZINCRBY")
                    .arg(&key)
                    .arg(step)
                    .arg(self.member(&key, 64));
            }
            Op::Zrem => {
                let p = b.cmd("ZREM").arg(&key);
                for _ in 0..self.rng.range(1, 3) {
                    p.arg(self.member(&key, 64));
                }
            }
            Op::Zremrangebyrank => {
                let (start, stop) = if self.rng.chance(50) {
                    (0, self.rng.below(3) as i64)
                } else {
                    (-2, -1)
                };
                b.cmd("ZREMRANGEBYRANK").arg(key).arg(start).arg(stop);
            }
            _ => self.zset_store(key, scope, b),
        }
    }

    /// ZUNIONSTORE/ZINTERSTORE, sometimes with a plain set among the sources, WEIGHTS and
    /// AGGREGATE.
    fn zset_store(&mut self, dest: Vec<u8>, scope: Scope, b: &mut Batch) {
        let mut sources = self.many(Family::Zset, scope, 2, 3);
        if self.rng.chance(25) {
            sources.push(self.key(Family::Set, scope));
        }
        let label = self.both("ZUNIONSTORE", "ZINTERSTORE");
        let p = b.cmd(label).arg(dest).arg(sources.len()).arg(&sources);
        if self.rng.chance(30) {
            p.arg("WEIGHTS");
            for _ in &sources {
                p.arg(self.rng.range(1, 4));
            }
        }
        if self.rng.chance(30) {
            p.arg("AGGREGATE")
                .arg(*self.rng.pick(&["SUM", "MIN", "MAX"]));
        }
    }
}
