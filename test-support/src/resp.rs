//! [`RespClient`]: just enough RESP2 to talk to a test server without the `redis` crate (the
//! crates that decode what servers write check it against the server's own replies).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long a reply may take (a big `DEBUG RELOAD` or `DUMP` takes a while).
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// A string reply's bytes (an integer as its decimal text).
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(b)) => b.clone(),
            Reply::Status(s) => s.as_bytes().to_vec(),
            Reply::Int(n) => n.to_string().into_bytes(),
            other => panic!("expected a string reply, got {other:?}"),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.bytes()).expect("UTF-8 reply")
    }

    /// An integer reply, or a string one holding an integer.
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(n) => *n,
            Reply::Bulk(Some(_)) | Reply::Status(_) => self.text().parse().expect("integer text"),
            other => panic!("expected an integer reply, got {other:?}"),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Reply::Bulk(None) | Reply::Array(None))
    }

    pub fn array(&self) -> &[Reply] {
        match self {
            Reply::Array(Some(items)) => items,
            other => panic!("expected an array reply, got {other:?}"),
        }
    }

    /// A flat `[name, value, name, value, ...]` array, looked up by name.
    pub fn field(&self, name: &str) -> Option<&Reply> {
        self.array()
            .chunks(2)
            .find(|pair| pair[0].bytes() == name.as_bytes())
            .map(|pair| &pair[1])
    }

    /// [`Reply::field`] that panics when the name is absent.
    pub fn get(&self, name: &str) -> &Reply {
        self.field(name)
            .unwrap_or_else(|| panic!("no {name:?} in {self:?}"))
    }
}

/// One connection to a server on loopback.
pub struct RespClient {
    reader: BufReader<TcpStream>,
}

impl RespClient {
    /// Connects to `127.0.0.1:port`.
    pub fn connect(port: u16) -> RespClient {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|err| panic!("connect to 127.0.0.1:{port}: {err}"));
        stream
            .set_read_timeout(Some(READ_TIMEOUT))
            .expect("set a read timeout");
        RespClient {
            reader: BufReader::new(stream),
        }
    }

    /// Sends a command; `None` if the connection broke (e.g. while the server was loading).
    pub fn try_command(&mut self, args: &[&[u8]]) -> Option<Reply> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        self.reader.get_mut().write_all(&request).ok()?;
        read_reply(&mut self.reader)
    }

    /// Sends a command and returns its reply, error replies included.
    pub fn raw(&mut self, args: &[&[u8]]) -> Reply {
        self.try_command(args)
            .expect("connection to the server lost")
    }

    /// Sends a command given as strings; panics on an error reply.
    pub fn cmd(&mut self, args: &[&str]) -> Reply {
        let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.ok(&bytes)
    }

    /// Sends a command; panics on an error reply.
    pub fn ok(&mut self, args: &[&[u8]]) -> Reply {
        match self.raw(args) {
            Reply::Error(e) => panic!(
                "{:?}: {e}",
                args.iter()
                    .map(|a| String::from_utf8_lossy(a))
                    .take(8)
                    .collect::<Vec<_>>()
            ),
            reply => reply,
        }
    }
}

fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).ok()?;
    if !line.ends_with(b"\r\n") {
        return None;
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).ok()
}

fn read_reply(reader: &mut impl BufRead) -> Option<Reply> {
    let line = read_line(reader)?;
    if line.is_empty() {
        return None;
    }
    let (kind, rest) = line.split_at(1);
    Some(match kind {
        "+" => Reply::Status(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Int(rest.parse().ok()?),
        "$" => {
            let len: i64 = rest.parse().ok()?;
            if len < 0 {
                return Some(Reply::Bulk(None));
            }
            let mut data = vec![0u8; len as usize + 2];
            reader.read_exact(&mut data).ok()?;
            data.truncate(len as usize);
            Reply::Bulk(Some(data))
        }
        "*" => {
            let len: i64 = rest.parse().ok()?;
            if len < 0 {
                return Some(Reply::Array(None));
            }
            let mut items = Vec::with_capacity(len as usize);
            for _ in 0..len {
                items.push(read_reply(reader)?);
            }
            Reply::Array(Some(items))
        }
        _ => return None,
    })
}
