//! A batch of commands encoded as RESP straight into one buffer: no per-command objects, and
//! big values copied once, from the record into the bytes that go on the socket.

/// Pairs an `MSET` collects before a new one starts.
const MSET_PAIRS: usize = 256;

/// Commands in wire form, and how many there are.
#[derive(Debug, Default)]
pub struct Commands {
    buf: Vec<u8>,
    count: usize,
    /// Arguments of an `MSET` still open: key, value, key, value…
    group: Vec<u8>,
    grouped: usize,
    /// Keys set by `MSET`s beyond the first of each (see [`Self::writes`]).
    more_pairs: usize,
}

impl Commands {
    /// Starts a command of `args` arguments (its name included); write each with [`Self::arg`],
    /// [`Self::arg_int`] or [`Self::bulk_start`]…[`Self::bulk_end`].
    pub fn command(&mut self, args: usize) {
        self.close_group();
        self.header(b'*', args);
        self.count += 1;
    }

    /// Sets `key` to `value` in an `MSET` shared with the string writes right before and after
    /// it (up to 256): one command instead of one per key. Returns whether this began a new
    /// command (which counts as one, under its first key).
    pub fn mset_pair(&mut self, key: &[u8], value: &[u8]) -> bool {
        if self.grouped == MSET_PAIRS {
            self.close_group();
        }
        let began = self.grouped == 0;
        if began {
            self.count += 1;
        } else {
            self.more_pairs += 1;
        }
        self.group.reserve(key.len() + value.len() + 48);
        for bytes in [key, value] {
            put_header(&mut self.group, b'$', bytes.len());
            self.group.extend_from_slice(bytes);
            self.group.extend_from_slice(b"\r\n");
        }
        self.grouped += 1;
        began
    }

    /// Writes the open `MSET`, if any, into the buffer.
    fn close_group(&mut self) {
        if self.grouped == 0 {
            return;
        }
        put_header(&mut self.buf, b'*', 1 + 2 * self.grouped);
        self.buf.extend_from_slice(b"$4\r\nMSET\r\n");
        self.buf.extend_from_slice(&self.group);
        self.group.clear();
        self.grouped = 0;
    }

    /// Appends a whole command of plain arguments.
    pub fn push<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.command(args.len());
        for arg in args {
            self.arg(arg.as_ref());
        }
    }

    pub fn arg(&mut self, bytes: &[u8]) {
        self.buf.reserve(bytes.len() + 24);
        self.header(b'$', bytes.len());
        self.buf.extend_from_slice(bytes);
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn arg_int(&mut self, value: i64) {
        let mut digits = [0u8; 20];
        let start = format_u64(value.unsigned_abs(), &mut digits);
        if value < 0 {
            let mut signed = [0u8; 21];
            let len = digits.len() - start;
            signed[0] = b'-';
            signed[1..=len].copy_from_slice(&digits[start..]);
            self.arg(&signed[..=len]);
        } else {
            self.arg(&digits[start..]);
        }
    }

    /// Starts an argument of `len` bytes written in pieces with [`Self::bulk_piece`].
    pub fn bulk_start(&mut self, len: usize) {
        self.buf.reserve(len + 16);
        self.header(b'$', len);
    }

    pub fn bulk_piece(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn bulk_end(&mut self) {
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Appends one command already in wire form (from [`split_commands`]).
    pub fn push_raw(&mut self, command: &[u8]) {
        self.close_group();
        self.buf.extend_from_slice(command);
        self.count += 1;
    }

    /// Appends a command built with the `redis` crate (rare commands: checkpoints, `SELECT`).
    pub fn push_cmd(&mut self, cmd: &redis::Cmd) {
        self.close_group();
        cmd.write_packed_command(&mut self.buf);
        self.count += 1;
    }

    /// Empties the batch, keeping its buffer for the next one unless it grew past `max_bytes`
    /// (one big value must not keep its size of memory held for good).
    pub fn clear(&mut self, max_bytes: usize) {
        if self.buf.capacity() > max_bytes {
            self.buf = Vec::new();
        }
        self.buf.clear();
        self.group.clear();
        self.grouped = 0;
        self.more_pairs = 0;
        self.count = 0;
    }

    /// Commands, as the destination sees them.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Writes, for batch sizes and rate limits: commands, with every key of an `MSET` counted.
    pub fn writes(&self) -> usize {
        self.count + self.more_pairs
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of the commands so far (an open `MSET` included, without its header).
    pub fn byte_len(&self) -> usize {
        self.buf.len() + self.group.len()
    }

    /// The commands in wire form, an open `MSET` closed first.
    pub fn bytes(&mut self) -> &[u8] {
        self.close_group();
        &self.buf
    }

    fn header(&mut self, kind: u8, n: usize) {
        put_header(&mut self.buf, kind, n);
    }
}

/// Writes a RESP header line: the kind byte, `n`, CRLF.
fn put_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    // Kind byte, up to 20 digits, CRLF.
    let mut line = [0u8; 23];
    let start = 1 + format_u64(n as u64, &mut line[1..21]);
    line[start - 1] = kind;
    line[21] = b'\r';
    line[22] = b'\n';
    out.extend_from_slice(&line[start - 1..]);
}

/// Writes `value`'s decimal digits at the end of `out` (20 bytes hold any u64); returns where
/// they start. The formatting machinery of `write!` was a visible share of a small key's cost.
fn format_u64(mut value: u64, out: &mut [u8]) -> usize {
    let mut start = out.len();
    loop {
        start -= 1;
        out[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return start;
        }
    }
}

/// Splits commands in wire form (as [`Commands`] writes them) into one slice per command. A
/// malformed tail is left out.
pub fn split_commands(mut wire: &[u8]) -> Vec<&[u8]> {
    let mut commands = Vec::new();
    let whole = wire;
    let mut start = 0;
    while !wire.is_empty() {
        let Some(len) = command_len(wire) else { break };
        commands.push(&whole[start..start + len]);
        start += len;
        wire = &wire[len..];
    }
    commands
}

/// The length of the command at the start of `wire`: `*n`, then `n` bulk strings.
fn command_len(wire: &[u8]) -> Option<usize> {
    fn line(wire: &[u8], at: usize, kind: u8) -> Option<(usize, usize)> {
        if wire.get(at) != Some(&kind) {
            return None;
        }
        let end = at + wire[at..].iter().position(|&b| b == b'\r')?;
        let n = std::str::from_utf8(&wire[at + 1..end]).ok()?.parse().ok()?;
        Some((n, end + 2))
    }
    let (args, mut at) = line(wire, 0, b'*')?;
    for _ in 0..args {
        let (len, body) = line(wire, at, b'$')?;
        at = body.checked_add(len)?.checked_add(2)?;
    }
    (at <= wire.len()).then_some(at)
}

/// Splits encoded commands back into their arguments (for tests).
#[cfg(test)]
pub fn decode(commands: &mut Commands) -> Vec<Vec<Vec<u8>>> {
    fn number(buf: &[u8], pos: &mut usize) -> usize {
        let end = *pos + buf[*pos..].iter().position(|&b| b == b'\r').unwrap();
        let n = std::str::from_utf8(&buf[*pos + 1..end])
            .unwrap()
            .parse()
            .unwrap();
        *pos = end + 2;
        n
    }
    let count = commands.len();
    let buf = commands.bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        assert_eq!(buf[pos], b'*');
        let args = number(buf, &mut pos);
        let mut command = Vec::new();
        for _ in 0..args {
            assert_eq!(buf[pos], b'$');
            let len = number(buf, &mut pos);
            command.push(buf[pos..pos + len].to_vec());
            assert_eq!(&buf[pos + len..pos + len + 2], b"\r\n");
            pos += len + 2;
        }
        out.push(command);
    }
    assert_eq!(out.len(), count);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_back_one_by_one() {
        let mut ours = Commands::default();
        ours.push(&[&b"SET"[..], b"a\r\nb", b"1"]);
        ours.push(&[&b"DEL"[..], b"x"]);
        let wire = ours.bytes().to_vec();
        let parts = split_commands(&wire);
        assert_eq!(parts.len(), 2);
        let mut again = Commands::default();
        for part in &parts {
            again.push_raw(part);
        }
        assert_eq!(again.bytes(), &wire[..]);
        assert_eq!(
            split_commands(&wire[..wire.len() - 1]).len(),
            1,
            "a cut command is left out"
        );
    }

    #[test]
    fn encodes_like_the_redis_crate() {
        let mut ours = Commands::default();
        ours.command(4);
        ours.arg(b"SET");
        ours.arg(b"k\r\n");
        ours.arg_int(-1234567890123);
        ours.bulk_start(5);
        ours.bulk_piece(b"he");
        ours.bulk_piece(b"llo");
        ours.bulk_end();
        let mut cmd = redis::cmd("SET");
        cmd.arg(b"k\r\n").arg(-1234567890123i64).arg("hello");
        ours.push_cmd(&cmd);
        let decoded = decode(&mut ours);
        assert_eq!(decoded[0], decoded[1]);
        for value in [0, 7, -7, 10, 99, 100, i64::MAX, i64::MIN, -1000000] {
            let mut ours = Commands::default();
            ours.command(1);
            ours.arg_int(value);
            let mut cmd = redis::Cmd::new();
            cmd.arg(value);
            assert_eq!(ours.bytes(), cmd.get_packed_command(), "{value}");
        }
        let half = ours.bytes().len() / 2;
        assert_eq!(&ours.bytes()[..half], cmd.get_packed_command());
    }

    #[test]
    fn string_writes_share_an_mset_until_another_command() {
        let mut ours = Commands::default();
        let began: Vec<bool> = (0..300)
            .map(|i| ours.mset_pair(format!("k{i}").as_bytes(), b"v"))
            .collect();
        assert_eq!(began.iter().filter(|&&b| b).count(), 2);
        assert!(began[0] && began[256]);
        ours.command(2);
        ours.arg(b"DEL");
        ours.arg(b"x");
        assert!(ours.mset_pair(b"a", b"\r\n"));
        assert_eq!((ours.len(), ours.writes()), (4, 302));
        let decoded = decode(&mut ours);
        let lens: Vec<usize> = decoded.iter().map(Vec::len).collect();
        assert_eq!(lens, [1 + 2 * 256, 1 + 2 * 44, 2, 3]);
        assert_eq!(decoded[1][0], b"MSET");
        assert_eq!(decoded[1][1..3], [b"k256".to_vec(), b"v".to_vec()]);
        assert_eq!(decoded[3], [&b"MSET"[..], b"a", b"\r\n"]);
    }
}
