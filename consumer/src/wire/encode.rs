//! A batch of commands encoded as RESP straight into one buffer: no per-command objects, and
//! big values copied once, from the record into the bytes that go on the socket.

/// Commands in wire form, and how many there are.
#[derive(Debug, Default)]
pub struct Commands {
    buf: Vec<u8>,
    count: usize,
}

impl Commands {
    /// Starts a command of `args` arguments (its name included); write each with [`Self::arg`],
    /// [`Self::arg_int`] or [`Self::bulk_start`]…[`Self::bulk_end`].
    pub fn command(&mut self, args: usize) {
        self.header(b'*', args);
        self.count += 1;
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

    /// Appends a command built with the `redis` crate (rare commands: checkpoints, `SELECT`).
    pub fn push_cmd(&mut self, cmd: &redis::Cmd) {
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
        self.count = 0;
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    fn header(&mut self, kind: u8, n: usize) {
        // Kind byte, up to 20 digits, CRLF.
        let mut line = [0u8; 23];
        let start = 1 + format_u64(n as u64, &mut line[1..21]);
        line[start - 1] = kind;
        line[21] = b'\r';
        line[22] = b'\n';
        self.buf.extend_from_slice(&line[start - 1..]);
    }
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

/// Splits encoded commands back into their arguments (for tests).
#[cfg(test)]
pub fn decode(commands: &Commands) -> Vec<Vec<Vec<u8>>> {
    fn number(buf: &[u8], pos: &mut usize) -> usize {
        let end = *pos + buf[*pos..].iter().position(|&b| b == b'\r').unwrap();
        let n = std::str::from_utf8(&buf[*pos + 1..end])
            .unwrap()
            .parse()
            .unwrap();
        *pos = end + 2;
        n
    }
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
    assert_eq!(out.len(), commands.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let decoded = decode(&ours);
        assert_eq!(decoded[0], decoded[1]);
        for value in [0, 7, -7, 10, 99, 100, i64::MAX, i64::MIN, -1000000] {
            let mut ours = Commands::default();
            ours.command(1);
            ours.arg_int(value);
            let mut cmd = redis::Cmd::new();
            cmd.arg(value);
            assert_eq!(ours.bytes(), cmd.get_packed_command(), "{value}");
        }
        assert_eq!(
            &ours.bytes()[..ours.bytes().len() / 2],
            cmd.get_packed_command()
        );
    }
}
