//! A throwaway server for the oracle tests (free loopback port, temp dir, no persistence,
//! killed on drop) and just enough RESP2 to talk to it.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

    pub fn get(&self, name: &str) -> &Reply {
        self.field(name)
            .unwrap_or_else(|| panic!("no {name:?} in {self:?}"))
    }
}

pub struct Server {
    child: Child,
    dir: PathBuf,
    reader: BufReader<TcpStream>,
}

impl Server {
    /// Starts `binary` with the standard options and `extra` ones.
    pub fn start(binary: &Path, extra: &[&str]) -> Server {
        for attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            assert_ne!(port, 6379);
            let dir = std::env::temp_dir().join(format!(
                "slotstream-elements-{}-{port}-{attempt}",
                std::process::id()
            ));
            fs::create_dir_all(&dir).expect("temp dir");
            let log = File::create(dir.join("server.log")).expect("server.log");
            let mut child = Command::new(binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(&dir)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    break; // exited: most likely the port was taken meanwhile
                }
                if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(60)))
                        .expect("timeout");
                    let mut server = Server {
                        child,
                        dir,
                        reader: BufReader::new(stream),
                    };
                    match server.try_command(&[b"PING"]) {
                        Some(Reply::Status(s)) if s == "PONG" => return server,
                        _ => panic!("{} did not answer PING", binary.display()),
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            eprintln!("{} did not start on port {port}:\n{log}", binary.display());
            let _ = fs::remove_dir_all(&dir);
        }
        panic!("could not start {}", binary.display());
    }

    /// Sends a command; `None` if the connection broke (e.g. while still loading).
    fn try_command(&mut self, args: &[&[u8]]) -> Option<Reply> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        self.reader.get_mut().write_all(&request).ok()?;
        read_reply(&mut self.reader)
    }

    /// Sends a command and returns its reply, errors included.
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

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}
