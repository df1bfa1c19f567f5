//! [`RedisServer`]: a real `redis-server` (or `valkey-server`) on a free loopback port, in its
//! own temp dir, killed on `Drop`.

use crate::missing;
use crate::resp::RespClient;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The binary [`RedisServer::start`] runs, looked up on `PATH`.
pub const DEFAULT_BINARY: &str = "redis-server";
/// How it is installed on Debian.
const DEFAULT_INSTALL: &str = "apt-get install redis-server redis-tools, or scripts/test.sh";
/// Start attempts before giving up (another process may grab the port we picked).
const ATTEMPTS: usize = 5;
/// How long a server gets to answer PING.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A running server: no persistence, loopback only, log in its temp dir.
pub struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
    binary: PathBuf,
    /// Every argument it was started with, so [`RedisServer::kill_and_restart`] can start it
    /// again as it was.
    args: Vec<String>,
}

impl RedisServer {
    /// Starts `redis-server` from `PATH` with no extra arguments.
    pub fn start() -> RedisServer {
        Self::start_with_args(&[])
    }

    /// Starts `redis-server` from `PATH` with extra arguments, e.g. `&["--requirepass", "pw"]`.
    /// Every end-to-end test needs it, so it is never skipped: without it this panics, naming
    /// the install command.
    pub fn start_with_args(args: &[&str]) -> RedisServer {
        let Some(binary) = on_path(DEFAULT_BINARY) else {
            panic!(
                "{DEFAULT_BINARY} is not on PATH ({}); install it with `{DEFAULT_INSTALL}`",
                std::env::var("PATH").unwrap_or_default()
            );
        };
        Self::start_binary(binary, args)
    }

    /// Starts `redis-server` from `PATH` with extra arguments, or returns `None` when it is not
    /// installed (after a note; in CI it panics instead, see [`crate::missing`]).
    pub fn try_start(args: &[&str]) -> Option<RedisServer> {
        Some(Self::start_binary(default_binary()?, args))
    }

    /// Starts a given `redis-server` (or `valkey-server`) binary with extra arguments.
    pub fn start_binary(binary: impl AsRef<Path>, args: &[&str]) -> RedisServer {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Self::start_binary_with(binary, |_| args.clone())
    }

    /// Starts a given binary with extra arguments that depend on the port it is given (tried
    /// again on a fresh port when it does not start), e.g. a cluster bus port of its own.
    pub fn start_binary_with(
        binary: impl AsRef<Path>,
        args_for_port: impl Fn(u16) -> Vec<String>,
    ) -> RedisServer {
        let binary = binary.as_ref().to_path_buf();
        let dir = unique_dir();
        fs::create_dir_all(&dir).expect("create the server's temp dir");
        let mut last_log = String::new();
        for _ in 0..ATTEMPTS {
            let port = free_port();
            let log = File::create(dir.join("server.log")).expect("create server.log");
            let mut args: Vec<String> = [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--repl-diskless-sync-delay",
                "0",
                "--dir",
            ]
            .iter()
            .map(|a| a.to_string())
            .collect();
            args.push(dir.to_string_lossy().into_owned());
            args.extend(args_for_port(port));
            let child = spawn(&binary, &args, log);
            let mut server = RedisServer {
                child,
                port,
                dir: dir.clone(),
                binary: binary.clone(),
                args,
            };
            if server.wait_ready() {
                return server;
            }
            last_log = server.log();
            // The port was taken, or the server refused to start: try a fresh port. The
            // dir is kept for the next attempt, so forget it before `Drop` removes it.
            let _ = server.child.kill();
            let _ = server.child.wait();
            server.dir = PathBuf::new();
        }
        let _ = fs::remove_dir_all(&dir);
        panic!(
            "{} did not start after {ATTEMPTS} attempts; last log:\n{last_log}",
            binary.display()
        );
    }

    /// Waits until this server says it is ready and answers PING (NOAUTH counts: it is up and
    /// wants a password). The log check guards against another server that won the same port.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let logged_ready = self.log().contains("Ready to accept connections");
            if let Some(reply) = ping(self.port).filter(|_| logged_ready) {
                if reply.starts_with("+PONG") || reply.starts_with("-NOAUTH") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `redis://:PASSWORD@127.0.0.1:PORT`, for servers started with `--requirepass`.
    pub fn url_with_password(&self, password: &str) -> String {
        format!("redis://:{password}@127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("a valid URL")
    }

    /// A blocking connection to db 0, without read timeout (big values take a while).
    pub fn conn(&self) -> redis::Connection {
        self.client()
            .get_connection()
            .unwrap_or_else(|err| panic!("connect to {}: {err}", self.url()))
    }

    /// A connection speaking plain RESP2, for crates that do not use the `redis` crate.
    pub fn resp(&self) -> RespClient {
        RespClient::connect(self.port)
    }

    /// A field of `INFO <section>` (`used_memory`, `master_replid`, …), trimmed; panics when
    /// the server does not answer or has no such field.
    pub fn info_field(&self, section: &str, name: &str) -> String {
        let info: String = redis::cmd("INFO")
            .arg(section)
            .query(&mut self.conn())
            .unwrap_or_else(|err| panic!("INFO {section} on {}: {err}", self.url()));
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(|value| value.trim().to_string())
            .unwrap_or_else(|| panic!("no {name} in INFO {section} of {}", self.url()))
    }

    /// The value the server was started with for `flag` (`"--tls-port"`, say): the last one
    /// given, as the server reads them.
    pub fn arg(&self, flag: &str) -> Option<&str> {
        let at = self.args.iter().rposition(|arg| arg == flag)?;
        self.args.get(at + 1).map(String::as_str)
    }

    /// The server's working dir (its `--dir`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing is answered, like a
    /// stalled host. `Drop` still ends it.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.child.id());
    }

    /// Kills the server (SIGKILL, as a crashed host) and starts it again as it was: same port,
    /// same dir, same arguments, so whatever it persists (`--appendonly yes`) is loaded again.
    /// Returns once it answers PING.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("open server.log");
        self.child = spawn(&self.binary, &self.args, log);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the restarted server exited ({status}):\n{}", self.log());
            }
            if ping(self.port).is_some_and(|reply| reply.starts_with("+PONG")) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the restarted server did not answer PING:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.dir.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs `binary` with `args`, its output into `log`.
fn spawn(binary: &Path, args: &[String], log: File) -> Child {
    Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log handle"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", binary.display()))
}

/// `redis-server` from `PATH`, or `None` after [`missing::report`] (which panics in CI).
pub fn default_binary() -> Option<PathBuf> {
    let found = on_path(DEFAULT_BINARY);
    if found.is_none() {
        let path = std::env::var("PATH").unwrap_or_default();
        missing::report(DEFAULT_BINARY, Path::new(&path), DEFAULT_INSTALL);
    }
    found
}

/// The first executable file called `name` in a `PATH` directory.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A port the kernel just handed out; free again once the listener is dropped.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind a loopback port")
}

fn unique_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "slotstream-redis-{}-{n}-{nanos}",
        std::process::id()
    ))
}

/// Sends an inline PING and returns the first line of the reply.
fn ping(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    stream.write_all(b"PING\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}
