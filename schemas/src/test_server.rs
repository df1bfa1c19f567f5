//! A throwaway `redis-server` for tests: free loopback port, temp dir, no persistence, killed on
//! drop; plus just enough RESP2 to talk to it.
//!
//! The binary is `$REDIS_SERVER` or `redis-server` from `PATH`. When it is not installed,
//! [`TestServer::start`] prints a note and returns `None`, and the calling test passes without
//! checking anything.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

pub(crate) struct TestServer {
    child: Child,
    dir: PathBuf,
    reader: BufReader<TcpStream>,
}

impl TestServer {
    /// Starts a server with `extra_args` after the defaults; `None` if there is no binary.
    pub(crate) fn start(extra_args: &[&str]) -> Option<Self> {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        for attempt in 0..5 {
            // Take a free port from the OS; another process could grab it before the server
            // binds, hence the retries.
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("bind a loopback port")
                .port();
            let dir = std::env::temp_dir().join(format!(
                "slotstream-schemas-{}-{port}-{attempt}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("create temp dir");
            let spawned = Command::new(&binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                .args(extra_args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let mut child = match spawned {
                Ok(child) => child,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    eprintln!("note: {binary} not found; skipping the real-server check");
                    let _ = std::fs::remove_dir_all(&dir);
                    return None;
                }
                Err(e) => panic!("spawn {binary}: {e}"),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait().expect("poll redis-server").is_some() {
                    break; // exited, most likely the port was taken: try another
                }
                if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(30)))
                        .expect("set timeout");
                    let mut server = TestServer {
                        child,
                        dir,
                        reader: BufReader::new(stream),
                    };
                    if server.command(&[b"PING"]) == Reply::Status("PONG".into()) {
                        return Some(server);
                    }
                    panic!("redis-server on port {port} did not answer PING");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_dir_all(&dir);
        }
        panic!("could not start {binary}");
    }

    /// Sends one command and reads its reply.
    pub(crate) fn command(&mut self, args: &[&[u8]]) -> Reply {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        self.reader
            .get_mut()
            .write_all(&request)
            .expect("write command");
        read_reply(&mut self.reader)
    }
}

fn read_line(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("read reply line");
    assert!(
        line.ends_with("\r\n"),
        "connection closed mid-reply: {line:?}"
    );
    line.truncate(line.len() - 2);
    line
}

fn read_reply(reader: &mut impl BufRead) -> Reply {
    let line = read_line(reader);
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" => Reply::Status(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(rest.parse().expect("integer reply")),
        "$" => {
            let len: i64 = rest.parse().expect("bulk length");
            if len < 0 {
                return Reply::Bulk(None);
            }
            let mut data = vec![0u8; len as usize + 2];
            reader.read_exact(&mut data).expect("bulk data");
            data.truncate(len as usize);
            Reply::Bulk(Some(data))
        }
        "*" => {
            let len: i64 = rest.parse().expect("array length");
            if len < 0 {
                return Reply::Array(None);
            }
            Reply::Array(Some((0..len).map(|_| read_reply(reader)).collect()))
        }
        _ => panic!("unexpected reply line {line:?}"),
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
