//! The command mix: which operations the workload draws, how often, and the commands each sends.
//!
//! An operation is drawn from [`MIX`] and written into the batch; MULTI blocks draw their
//! commands from [`IN_MULTI`], all in one hash-tag group (one slot) or anywhere (cross-slot).
//! Operations the server lacks fall back to an older equivalent (LMOVE to RPOPLPUSH, SET GET
//! to GETSET, FCALL to EVALSHA, COPY to RENAME), so the mix stays about the same on every
//! version; the exact sequence is a function of the seed and the server's [`Features`].

use super::batch::Batch;
use super::features::Features;
use super::keys::{member, value, Family, Keys, Rng, Scope};

/// EVAL with one key.
pub const SCRIPT_ONE: &str = "return redis.call('APPEND', KEYS[1], ARGV[1])";
/// EVAL over four keys of four types.
pub const SCRIPT_MANY: &str = "redis.call('INCRBY', KEYS[1], ARGV[1]) \
     redis.call('HSET', KEYS[2], 'f0', ARGV[2]) \
     redis.call('RPUSH', KEYS[3], ARGV[2]) \
     redis.call('LTRIM', KEYS[3], -50, -1) \
     redis.call('ZINCRBY', KEYS[4], ARGV[1], 'm0') \
     return 1";
/// Loaded with SCRIPT LOAD, then run with EVALSHA.
pub const SCRIPT_CACHED: &str = "redis.call('HINCRBY', KEYS[1], 'i0', 1) \
     return redis.call('SADD', KEYS[2], ARGV[1])";
/// Loaded with FUNCTION LOAD REPLACE (7.0+), then run with FCALL.
pub const LIBRARY: &str = "#!lua name=slotstream_workload\n\
     redis.register_function('ss_push', function(keys, args)\n\
       redis.call('LPUSH', keys[1], args[1])\n\
       redis.call('LTRIM', keys[1], 0, 99)\n\
       return redis.call('INCR', keys[2])\n\
     end)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Set,
    SetEx,
    SetPxShort,
    SetGet,
    Incr,
    IncrByFloat,
    Append,
    SetRange,
    Mset,
    MsetNx,
    Push,
    Pop,
    Linsert,
    Ltrim,
    Lset,
    Lmove,
    Hset,
    Hincrby,
    Hincrbyfloat,
    Hdel,
    Sadd,
    Srem,
    Spop,
    Smove,
    SetStore,
    Zadd,
    Zincrby,
    Zrem,
    Zremrangebyrank,
    ZsetStore,
    Xadd,
    XaddOwn,
    Xdel,
    XgroupCreate,
    XgroupSetid,
    XgroupDestroy,
    XgroupConsumer,
    XreadGroup,
    Xack,
    Xclaim,
    Xtrim,
    Setbit,
    Bitop,
    Pfadd,
    Pfmerge,
    ExpireShort,
    ExpireLong,
    PexpireAt,
    Persist,
    DelMany,
    Rename,
    RenameTagged,
    Copy,
    Move,
    MultiSlot,
    MultiCross,
    Eval,
    EvalSha,
    Fcall,
    Select,
    Publish,
}

/// Relative weights of the top-level operations (they sum to 915).
#[rustfmt::skip]
pub const MIX: &[(Op, u64)] = &[
    (Op::Set, 45), (Op::SetEx, 12), (Op::SetPxShort, 20), (Op::SetGet, 15), (Op::Incr, 30),
    (Op::IncrByFloat, 15), (Op::Append, 22), (Op::SetRange, 15), (Op::Mset, 10),
    (Op::MsetNx, 8),
    (Op::Push, 40), (Op::Pop, 22), (Op::Linsert, 10), (Op::Ltrim, 12), (Op::Lset, 10),
    (Op::Lmove, 12),
    (Op::Hset, 40), (Op::Hincrby, 18), (Op::Hincrbyfloat, 12), (Op::Hdel, 16),
    (Op::Sadd, 35), (Op::Srem, 12), (Op::Spop, 10), (Op::Smove, 10), (Op::SetStore, 12),
    (Op::Zadd, 35), (Op::Zincrby, 15), (Op::Zrem, 12), (Op::Zremrangebyrank, 6),
    (Op::ZsetStore, 10),
    (Op::Xadd, 30), (Op::XaddOwn, 20), (Op::Xdel, 8), (Op::XgroupCreate, 10),
    (Op::XgroupSetid, 4), (Op::XgroupDestroy, 2), (Op::XgroupConsumer, 5),
    (Op::XreadGroup, 22), (Op::Xack, 8), (Op::Xclaim, 10), (Op::Xtrim, 6),
    (Op::Setbit, 20), (Op::Bitop, 8), (Op::Pfadd, 22), (Op::Pfmerge, 8),
    (Op::ExpireShort, 8), (Op::ExpireLong, 10), (Op::PexpireAt, 10), (Op::Persist, 10),
    (Op::DelMany, 5), (Op::Rename, 8), (Op::RenameTagged, 8), (Op::Copy, 10), (Op::Move, 4),
    (Op::MultiSlot, 18), (Op::MultiCross, 18), (Op::Eval, 22), (Op::EvalSha, 14),
    (Op::Fcall, 14),
    (Op::Select, 30), (Op::Publish, 2),
];

/// What a MULTI block is made of: writes whose keys can all live in one slot.
#[rustfmt::skip]
const IN_MULTI: &[Op] = &[
    Op::Set, Op::SetEx, Op::SetPxShort, Op::Incr, Op::IncrByFloat, Op::Append, Op::SetRange,
    Op::Mset, Op::MsetNx, Op::Push, Op::Pop, Op::Lmove, Op::Hset, Op::Hincrby,
    Op::Hincrbyfloat, Op::Hdel, Op::Sadd, Op::Srem, Op::Smove, Op::SetStore, Op::Zadd,
    Op::Zincrby, Op::ZsetStore, Op::XaddOwn, Op::Xadd, Op::Setbit, Op::Bitop, Op::Pfadd,
    Op::Pfmerge, Op::ExpireShort, Op::ExpireLong, Op::Persist, Op::DelMany, Op::Rename,
    Op::Copy,
];

/// One connection's command generator.
pub struct Gen {
    pub(super) rng: Rng,
    pub(super) keys: Keys,
    pub(super) features: Features,
    pub(super) dbs: Vec<i64>,
    /// The db this connection has selected.
    pub db: i64,
    /// The last id this connection gave an [`Family::OwnStream`] entry.
    pub(super) own_id: u64,
    /// The SHA1 SCRIPT LOAD returned for [`SCRIPT_CACHED`].
    pub(super) cached_sha: String,
    total_weight: u64,
}

impl Gen {
    pub fn new(
        seed: u64,
        conn: usize,
        keys_per_db: u64,
        dbs: &[i64],
        features: Features,
        cached_sha: String,
    ) -> Gen {
        Gen {
            rng: Rng::new(seed ^ (conn as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            keys: Keys::new(keys_per_db, conn),
            features,
            dbs: dbs.to_vec(),
            db: dbs[0],
            own_id: 0,
            cached_sha,
            total_weight: MIX.iter().map(|(_, w)| w).sum(),
        }
    }

    /// Draws one operation and writes its commands into `b`.
    pub fn random_op(&mut self, b: &mut Batch) {
        let mut ticket = self.rng.below(self.total_weight);
        let op = MIX
            .iter()
            .find(|(_, weight)| {
                let hit = ticket < *weight;
                ticket = ticket.saturating_sub(*weight);
                hit
            })
            .map_or(Op::Set, |(op, _)| *op);
        self.emit(op, Scope::Any, b);
    }

    /// Another configured db than the current one, if there is one.
    pub(super) fn other_db(&mut self) -> Option<i64> {
        let others: Vec<i64> = self.dbs.iter().copied().filter(|&d| d != self.db).collect();
        (!others.is_empty()).then(|| *self.rng.pick(&others))
    }

    pub(super) fn key(&mut self, family: Family, scope: Scope) -> Vec<u8> {
        self.keys.key(&mut self.rng, family, scope)
    }

    pub(super) fn many(&mut self, family: Family, scope: Scope, lo: u64, hi: u64) -> Vec<Vec<u8>> {
        let n = self.rng.range(lo, hi);
        self.keys.keys(&mut self.rng, family, scope, n)
    }

    pub(super) fn any_key(&mut self, scope: Scope) -> Vec<u8> {
        let family = *self.rng.pick(&Family::ALL);
        self.key(family, scope)
    }

    pub(super) fn value(&mut self) -> Vec<u8> {
        value(&mut self.rng)
    }

    pub(super) fn member(&mut self, key: &[u8], space: u64) -> String {
        member(&mut self.rng, key, space)
    }

    pub(super) fn both<'a>(&mut self, a: &'a str, b: &'a str) -> &'a str {
        if self.rng.chance(50) {
            a
        } else {
            b
        }
    }

    /// A stream for consumer-group commands, from the first few keys of a stream family:
    /// groups live long enough to be read from there, instead of one here and one there.
    /// Says whether it is an [`Family::OwnStream`].
    pub(super) fn group_stream(&mut self, scope: Scope) -> (Vec<u8>, bool) {
        let own = self.rng.chance(50);
        let family = if own {
            Family::OwnStream
        } else {
            Family::Stream
        };
        let key = self.keys.key_among(&mut self.rng, family, scope, 16);
        (key, own)
    }

    pub(super) fn next_own_id(&mut self) -> String {
        self.own_id += 1;
        format!("{}-1", self.own_id)
    }

    /// An id this connection added lately; it may since have been trimmed or deleted.
    pub(super) fn recent_own_id(&mut self) -> String {
        let back = self.rng.below(80);
        format!("{}-1", self.own_id.saturating_sub(back).max(1))
    }

    pub(super) fn group(&mut self) -> String {
        format!("g{}", self.rng.below(2))
    }

    pub(super) fn consumer(&mut self) -> String {
        format!("c{}", self.rng.below(3))
    }

    /// `XADD key [MAXLEN ~ 100 | MAXLEN 50] * f v ...`
    pub(super) fn xadd(&mut self, b: &mut Batch, key: &[u8]) {
        let p = b.cmd("XADD").arg(key);
        match self.rng.below(10) {
            0..=4 => p.arg("MAXLEN").arg("~").arg(100),
            5..=8 => p.arg("MAXLEN").arg(50),
            _ => p,
        };
        p.arg("*");
        for _ in 0..self.rng.range(1, 3) {
            p.arg(format!("f{}", self.rng.below(5)))
                .arg(value(&mut self.rng));
        }
    }

    /// `XADD key [MAXLEN 50] N-1 f v` with this connection's next id; returns the id.
    pub(super) fn xadd_own(&mut self, b: &mut Batch, key: &[u8]) -> String {
        let id = self.next_own_id();
        let p = b.cmd("XADD").arg(key);
        if self.rng.chance(30) {
            p.arg("MAXLEN").arg(50);
        }
        p.arg(&id).arg("f").arg(value(&mut self.rng));
        id
    }

    pub(super) fn multi(&mut self, scope: Scope, b: &mut Batch) {
        b.cmd("MULTI");
        for _ in 0..self.rng.range(3, 6) {
            let op = *self.rng.pick(IN_MULTI);
            self.emit(op, scope, b);
        }
        b.cmd("EXEC");
    }

    /// Writes the commands of `op`, its keys limited to `scope`.
    pub(super) fn emit(&mut self, op: Op, scope: Scope, b: &mut Batch) {
        match op {
            Op::Xadd
            | Op::XaddOwn
            | Op::Xdel
            | Op::XgroupCreate
            | Op::XgroupSetid
            | Op::XgroupDestroy
            | Op::XgroupConsumer
            | Op::XreadGroup
            | Op::Xack
            | Op::Xclaim
            | Op::Xtrim => self.emit_stream(op, scope, b),
            Op::ExpireShort
            | Op::ExpireLong
            | Op::PexpireAt
            | Op::Persist
            | Op::DelMany
            | Op::Rename
            | Op::RenameTagged
            | Op::Copy
            | Op::Move
            | Op::MultiSlot
            | Op::MultiCross
            | Op::Eval
            | Op::EvalSha
            | Op::Fcall
            | Op::Select
            | Op::Publish => self.emit_keyspace(op, scope, b),
            _ => self.emit_data(op, scope, b),
        }
    }
}
