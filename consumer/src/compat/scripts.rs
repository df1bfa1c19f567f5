//! The Lua scripts that do, on an older destination, what one newer command does: each reads
//! what it needs on the destination itself, so the effect is exactly the command's. Scripts run
//! whole (`EVAL`), inside the batch's transaction like any command; every server since Redis 2.6
//! has them.

use crate::wire::Commands;

/// `SET key value [NX|XX] KEEPTTL` before Redis 6.0: the value replaced, the key's TTL kept
/// (read and set again to the millisecond; `INCRBYFLOAT` replicates as such a `SET`).
/// KEYS: key. ARGV: value, then `SET`'s other options.
pub const SET_KEEPING_TTL: &str = "\
local ttl = redis.call('PTTL', KEYS[1])
local done = redis.call('SET', KEYS[1], unpack(ARGV))
if done and ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return done";

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT` before Redis 6.2. The element is pushed
/// before it is popped, so a list moved onto itself never empties (and keeps its TTL).
/// KEYS: source, destination. ARGV: where from, where to (`LEFT` or `RIGHT`).
pub const LMOVE: &str = "\
local value = redis.call('LINDEX', KEYS[1], ARGV[1] == 'LEFT' and 0 or -1)
if not value then return false end
redis.call(ARGV[2] == 'LEFT' and 'LPUSH' or 'RPUSH', KEYS[2], value)
redis.call(ARGV[1] == 'LEFT' and 'LPOP' or 'RPOP', KEYS[1])
return value";

/// `ZADD key [XX] GT|LT score member …` of several members before Redis 6.2: each existing
/// member is updated only when its new score is greater (GT) or less (LT); new members are
/// added unless XX. Scores compare as doubles, as the server compares them.
/// KEYS: key. ARGV: `GT` or `LT`, `XX` or empty, then score, member, …
pub const ZADD_COMPARED: &str = "\
local greater = ARGV[1] == 'GT'
for i = 3, #ARGV, 2 do
  local score, member = ARGV[i], ARGV[i + 1]
  local old = redis.call('ZSCORE', KEYS[1], member)
  if old then
    local new, was = tonumber(score), tonumber(old)
    if (greater and new > was) or (not greater and new < was) then
      redis.call('ZADD', KEYS[1], score, member)
    end
  elseif ARGV[2] ~= 'XX' then
    redis.call('ZADD', KEYS[1], score, member)
  end
end
return 0";

/// `ZRANGESTORE` before Redis 6.2, through the older read command of the same range.
/// KEYS: destination, source. ARGV: the read command, `1` when its reply carries scores (else
/// each member's score is read), then the read's arguments after the key.
pub const ZRANGESTORE: &str = "\
local found = redis.call(ARGV[1], KEYS[2], unpack(ARGV, 3))
local entries = {}
if ARGV[2] == '1' then
  for i = 1, #found, 2 do entries[#entries + 1] = {found[i + 1], found[i]} end
else
  for i = 1, #found do
    entries[#entries + 1] = {redis.call('ZSCORE', KEYS[2], found[i]), found[i]}
  end
end
redis.call('DEL', KEYS[1])
for _, entry in ipairs(entries) do redis.call('ZADD', KEYS[1], entry[1], entry[2]) end
return #entries";

/// `ZDIFFSTORE` before Redis 6.2: the members of the first input (a sorted set, or a set with
/// scores of 1) found in none of the others, with their scores.
/// KEYS: destination, then the inputs.
pub const ZDIFFSTORE: &str = "\
local function kind(key) return redis.call('TYPE', key)['ok'] end
local entries = {}
local first = kind(KEYS[2])
if first == 'zset' then
  local found = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #found, 2 do entries[#entries + 1] = {found[i + 1], found[i]} end
elseif first == 'set' then
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    entries[#entries + 1] = {'1', member}
  end
end
local kept = {}
for _, entry in ipairs(entries) do
  local found = false
  for j = 3, #KEYS do
    local other = kind(KEYS[j])
    if (other == 'zset' and redis.call('ZSCORE', KEYS[j], entry[2]))
      or (other == 'set' and redis.call('SISMEMBER', KEYS[j], entry[2]) == 1) then
      found = true
      break
    end
  end
  if not found then kept[#kept + 1] = entry end
end
redis.call('DEL', KEYS[1])
for _, entry in ipairs(kept) do redis.call('ZADD', KEYS[1], entry[1], entry[2]) end
return #kept";

/// `COPY source destination [DB n] [REPLACE]` before Redis 6.2, as `DUMP` and `RESTORE` (the
/// TTL read and set again to the millisecond).
/// KEYS: source, destination. ARGV: the database (empty: the current one), `REPLACE` or empty.
pub const COPY: &str = "\
local value = redis.call('DUMP', KEYS[1])
if not value then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
if ARGV[1] ~= '' then redis.call('SELECT', ARGV[1]) end
if ARGV[2] == 'REPLACE' then
  redis.call('RESTORE', KEYS[2], ttl, value, 'REPLACE')
else
  redis.call('RESTORE', KEYS[2], ttl, value)
end
return 1";

/// A stream trimmed to `MINID` before Redis 6.2, which trims by length only: the entries with
/// smaller IDs deleted, a few hundred at a time.
/// KEYS: stream. ARGV: the smallest ID kept, in full (`ms-seq`).
pub const TRIM_MINID: &str = "\
while true do
  local ids = {}
  for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', ARGV[1], 'COUNT', 256)) do
    if entry[1] ~= ARGV[1] then ids[#ids + 1] = entry[1] end
  end
  if #ids == 0 then return 0 end
  redis.call('XDEL', KEYS[1], unpack(ids))
end";

/// `HSETEX key KEEPTTL FIELDS n field value …` on a destination with field TTLs but without
/// `HSETEX` (whose `HSET` clears a field's TTL): each field's expiry time read, the fields set,
/// the times set again.
/// KEYS: key. ARGV: field, value, …
pub const HSET_KEEPING_TTLS: &str = "\
local fields = {}
for i = 1, #ARGV, 2 do fields[#fields + 1] = ARGV[i] end
local at = redis.call('HPEXPIRETIME', KEYS[1], 'FIELDS', #fields, unpack(fields))
redis.call('HSET', KEYS[1], unpack(ARGV))
for i, when in ipairs(at) do
  if when > 0 then redis.call('HPEXPIREAT', KEYS[1], when, 'FIELDS', 1, fields[i]) end
end
return 0";

/// Writes `EVAL script <keys.len()> keys… args…`.
pub fn eval<K: AsRef<[u8]>, A: AsRef<[u8]>>(
    out: &mut Commands,
    script: &str,
    keys: &[K],
    args: &[A],
) {
    out.command(3 + keys.len() + args.len());
    out.arg(b"EVAL");
    out.arg(script.as_bytes());
    out.arg_int(keys.len() as i64);
    for key in keys {
        out.arg(key.as_ref());
    }
    for arg in args {
        out.arg(arg.as_ref());
    }
}
