//! The workload's raw material: a seeded PRNG, key names per type family, and values.
//!
//! Every type has its own key prefix, so a command never meets a key of another type by chance
//! (no accidental WRONGTYPE); keys are drawn from a small space so they are rewritten often.

/// SplitMix64: a few lines, seedable, and good enough to pick commands; no extra dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True `percent` times out of 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One key prefix per value type (and per kind of string), so types never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Strings written with SET/APPEND/SETRANGE/MSET.
    Text,
    /// Integer strings (INCR and friends).
    Counter,
    /// Float strings (INCRBYFLOAT).
    Float,
    /// Strings only MSETNX writes, from a tiny space so it sometimes succeeds.
    Nx,
    Bitmap,
    Hll,
    List,
    Hash,
    Set,
    Zset,
    /// Streams with `*` ids.
    Stream,
    /// Streams with explicit ids, one set per connection so ids only grow (XACK, XCLAIM and
    /// XDEL need to name ids without reading replies, to keep the run deterministic).
    OwnStream,
}

impl Family {
    fn prefix(self) -> &'static str {
        match self {
            Family::Text => "str",
            Family::Counter => "cnt",
            Family::Float => "flt",
            Family::Nx => "nx",
            Family::Bitmap => "bit",
            Family::Hll => "hll",
            Family::List => "list",
            Family::Hash => "hash",
            Family::Set => "set",
            Family::Zset => "zset",
            Family::Stream => "xs",
            Family::OwnStream => "xe",
        }
    }

    pub fn is_stream(self) -> bool {
        matches!(self, Family::Stream | Family::OwnStream)
    }

    /// The families a generic key command (DEL, EXPIRE, MOVE...) may touch.
    pub const ALL: [Family; 12] = [
        Family::Text,
        Family::Counter,
        Family::Float,
        Family::Nx,
        Family::Bitmap,
        Family::Hll,
        Family::List,
        Family::Hash,
        Family::Set,
        Family::Zset,
        Family::Stream,
        Family::OwnStream,
    ];
}

/// Where a command's keys may live: anywhere, or all in one hash-tag group (one slot).
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Any,
    Tag(u64),
}

/// The key space of one connection.
pub struct Keys {
    /// Plain and binary key indexes per family and db.
    per_db: u64,
    /// This connection's number, for [`Family::OwnStream`].
    conn: usize,
}

impl Keys {
    pub fn new(per_db: u64, conn: usize) -> Keys {
        Keys {
            per_db: per_db.max(8),
            conn,
        }
    }

    /// A hash-tag group to keep several keys in one slot.
    pub fn tag(&self, rng: &mut Rng) -> u64 {
        rng.below(self.per_db / 8)
    }

    /// A key of `family`: a quarter hash-tagged (`{user:N}:...`), an eighth with non-UTF-8
    /// bytes (streams aside), the rest plain.
    pub fn key(&self, rng: &mut Rng, family: Family, scope: Scope) -> Vec<u8> {
        let space = if family == Family::Nx { 8 } else { self.per_db };
        self.key_among(rng, family, scope, space)
    }

    /// Like [`Keys::key`], from the first `space` keys of the family.
    pub fn key_among(&self, rng: &mut Rng, family: Family, scope: Scope, space: u64) -> Vec<u8> {
        let idx = rng.below(space);
        match scope {
            Scope::Tag(group) => self.tagged(family, group, rng.below(4)),
            Scope::Any if family == Family::Nx => self.plain(family, idx),
            Scope::Any => match idx % 8 {
                0 | 1 => self.tagged(family, idx / 8, idx % 8),
                // Stream errors (NOGROUP) quote the key, and redis-rs cannot parse an error
                // line that is not UTF-8: it would take the connection down with it.
                2 if !family.is_stream() => self.binary(family, idx),
                _ => self.plain(family, idx),
            },
        }
    }

    /// `n` distinct keys of `family` in `scope` (fewer if the space is small).
    pub fn keys(&self, rng: &mut Rng, family: Family, scope: Scope, n: u64) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for _ in 0..n * 2 {
            let key = self.key(rng, family, scope);
            if !keys.contains(&key) {
                keys.push(key);
            }
            if keys.len() as u64 == n {
                break;
            }
        }
        keys
    }

    /// The `member`th key of tag group `group`: `{user:GROUP}:PREFIX:MEMBER`.
    pub fn tagged(&self, family: Family, group: u64, member: u64) -> Vec<u8> {
        format!("{{user:{group}}}:{}:{member}", self.name(family)).into_bytes()
    }

    fn plain(&self, family: Family, idx: u64) -> Vec<u8> {
        format!("{}:{idx}", self.name(family)).into_bytes()
    }

    fn binary(&self, family: Family, idx: u64) -> Vec<u8> {
        let mut key = format!("{}:", self.name(family)).into_bytes();
        key.extend_from_slice(b"\xff\x00\xfe\r\n");
        key.extend_from_slice(idx.to_string().as_bytes());
        key
    }

    fn name(&self, family: Family) -> String {
        match family {
            Family::OwnStream => format!("{}{}", family.prefix(), self.conn),
            _ => family.prefix().to_string(),
        }
    }
}

/// A string value: mostly short text, sometimes empty, binary, numeric or a few hundred bytes.
pub fn value(rng: &mut Rng) -> Vec<u8> {
    match rng.below(20) {
        0 => Vec::new(),
        1 => {
            let len = rng.range(1, 12) as usize;
            (0..len).map(|i| [0xff, 0x00, 0x80, b'\n'][i % 4]).collect()
        }
        2 => {
            let len = rng.range(100, 1200) as usize;
            let byte = b'a' + rng.below(26) as u8;
            vec![byte; len]
        }
        3 => rng.below(100_000).to_string().into_bytes(),
        _ => format!("v{}", rng.below(1_000_000)).into_bytes(),
    }
}

/// A collection member from a space of `space`; integer-only for some keys (intsets and
/// integer-encoded listpack entries) and text for others.
pub fn member(rng: &mut Rng, key: &[u8], space: u64) -> String {
    let n = rng.below(space);
    if key.iter().map(|&b| u64::from(b)).sum::<u64>() % 3 == 0 {
        n.to_string()
    } else {
        format!("m{n}")
    }
}

/// An increment for INCRBYFLOAT/HINCRBYFLOAT/ZINCRBY, exact in binary so no float noise builds
/// up, signed so the totals wander around zero.
pub fn float_step(rng: &mut Rng) -> String {
    let step = rng.range(1, 400) as f64 / 8.0;
    let step = if rng.chance(40) { -step } else { step };
    step.to_string()
}
