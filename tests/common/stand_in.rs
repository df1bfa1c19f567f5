//! A stand-in master for the bad-input tests: it answers the replica handshake like a real
//! source and then serves what the test asks for (a real RDB, a damaged one, garbage where a
//! reply or the command stream belongs), so each kind of bad input reaches slotstream exactly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

/// The 40-byte end mark of a diskless transfer the stand-in master serves.
pub const EOF_MARK: &[u8; 40] = b"0123456789abcdef0123456789abcdef01234567";

/// The `+FULLRESYNC` line of the stand-in master (replication offset 0).
pub const FULLRESYNC: &[u8] = b"+FULLRESYNC 0123456789abcdef0123456789abcdef01234567 0\r\n";

/// How the stand-in master answers `PSYNC`.
#[derive(Clone)]
pub enum Serve {
    /// `+FULLRESYNC`, `$<len>` and all of it.
    Whole(Vec<u8>),
    /// `+FULLRESYNC`, `$<len>` of the whole, then only the first `cut` bytes, then close.
    CutAt(Vec<u8>, usize),
    /// These bytes verbatim in place of the whole reply (garbage, a malformed `+FULLRESYNC`,
    /// a bad snapshot header…), then the link held open.
    Raw(Vec<u8>),
    /// `+FULLRESYNC`, `$<len>` and the whole RDB, then these bytes as the live command stream,
    /// then the link held open.
    ThenStream(Vec<u8>, Vec<u8>),
    /// `+FULLRESYNC`, `$EOF:<mark>`, the first `cut` bytes of the RDB, then silence with the
    /// link held open: the end mark never comes.
    DisklessStall(Vec<u8>, usize),
    /// `+FULLRESYNC`, `$EOF:<mark>`, the first `cut` bytes of the RDB, then close.
    DisklessCut(Vec<u8>, usize),
}

/// Starts a stand-in master on a free port; returns its URL. Every connection gets `+OK` to
/// anything but `PING` and `PSYNC` (so plain clients, like the module check, get nothing
/// useful), and a replica that sends `PSYNC` gets `serve`.
pub fn stand_in_master(serve: Serve) -> String {
    stand_in(serve, None)
}

/// [`stand_in_master`] whose plain commands (`COMMAND`, `INFO`…; all but `PING`, `PSYNC` and
/// `REPLCONF`) are answered by the real server at `upstream` (`host:port`): what following
/// the command stream needs (the source's command table).
pub fn stand_in_master_beside(serve: Serve, upstream: &str) -> String {
    stand_in(serve, Some(upstream.to_string()))
}

fn stand_in(serve: Serve, upstream: Option<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else {
                return;
            };
            let serve = serve.clone();
            let upstream = upstream.clone();
            std::thread::spawn(move || serve_replica(stream, serve, upstream));
        }
    });
    format!("redis://127.0.0.1:{port}")
}

fn serve_replica(stream: TcpStream, serve: Serve, upstream: Option<String>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut real = match upstream {
        Some(addr) => Some(BufReader::new(TcpStream::connect(addr)?)),
        None => None,
    };
    loop {
        let command = read_command(&mut reader)?;
        let name = command
            .first()
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_default();
        match (name.as_slice(), real.as_mut()) {
            (b"PING", _) => writer.write_all(b"+PONG\r\n")?,
            (b"PSYNC", _) => break,
            (b"REPLCONF", _) | (_, None) => writer.write_all(b"+OK\r\n")?,
            (_, Some(real)) => {
                let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
                real.get_mut().write_all(&resp_command(&args))?;
                let mut reply = Vec::new();
                copy_reply(real, &mut reply)?;
                writer.write_all(&reply)?;
            }
        }
    }
    if !matches!(serve, Serve::Raw(_)) {
        writer.write_all(FULLRESYNC)?;
        writer.write_all(b"\n\n")?;
    }
    match serve {
        Serve::Whole(rdb) => {
            writer.write_all(format!("${}\r\n", rdb.len()).as_bytes())?;
            writer.write_all(&rdb)?;
        }
        Serve::CutAt(rdb, cut) => {
            writer.write_all(format!("${}\r\n", rdb.len()).as_bytes())?;
            return writer.write_all(&rdb[..cut]);
        }
        Serve::Raw(bytes) => writer.write_all(&bytes)?,
        Serve::ThenStream(rdb, stream) => {
            writer.write_all(format!("${}\r\n", rdb.len()).as_bytes())?;
            writer.write_all(&rdb)?;
            writer.write_all(&stream)?;
        }
        Serve::DisklessStall(rdb, cut) => {
            writer.write_all(b"$EOF:")?;
            writer.write_all(EOF_MARK)?;
            writer.write_all(b"\r\n")?;
            writer.write_all(&rdb[..cut])?;
        }
        Serve::DisklessCut(rdb, cut) => {
            writer.write_all(b"$EOF:")?;
            writer.write_all(EOF_MARK)?;
            writer.write_all(b"\r\n")?;
            return writer.write_all(&rdb[..cut]);
        }
    }
    // Keep the link open as a real master would, until the replica hangs up; what it sends
    // (REPLCONF ACK) is read and dropped.
    let mut sink = [0u8; 1024];
    while reader.read(&mut sink)? > 0 {}
    Ok(())
}

fn read_command(reader: &mut impl BufRead) -> std::io::Result<Vec<Vec<u8>>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let count: usize = line.trim_start_matches('*').trim().parse().unwrap_or(0);
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        line.clear();
        reader.read_line(&mut line)?;
        let len: usize = line.trim_start_matches('$').trim().parse().unwrap_or(0);
        let mut arg = vec![0; len + 2];
        reader.read_exact(&mut arg)?;
        arg.truncate(len);
        args.push(arg);
    }
    Ok(args)
}

/// Appends one whole RESP2 reply from `reader` to `out`, as it came.
fn copy_reply(reader: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    out.extend_from_slice(&line);
    let count = || -> i64 {
        String::from_utf8_lossy(&line[1..])
            .trim()
            .parse()
            .unwrap_or(-1)
    };
    match line.first() {
        Some(b'$') if count() >= 0 => {
            let mut bulk = vec![0; count() as usize + 2];
            reader.read_exact(&mut bulk)?;
            out.extend_from_slice(&bulk);
        }
        Some(b'*') => {
            for _ in 0..count().max(0) {
                copy_reply(reader, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// A command as the replication stream carries it (RESP array of bulk strings).
pub fn resp_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}
