//! [`Proc`]: a child process of a test (a `slotstream` command) whose stderr goes to a file,
//! shown when it fails, and which never outlives the test.
//!
//! With `SLOTSTREAM_TEST_LOG_DIR` set, the files go there and are kept, so a run of the whole
//! suite can be searched afterwards (`.ci/run` greps them for the suite's passwords:
//! `scripts/no-passwords-in-logs.sh`); otherwise they are temp files, removed once read.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where the logs go and stay, when set.
const LOG_DIR: &str = "SLOTSTREAM_TEST_LOG_DIR";

/// A child process whose stderr goes to a file, shown when it fails.
pub struct Proc {
    pub child: Child,
    log: std::path::PathBuf,
}

impl Proc {
    /// Spawns `cmd` with stdout discarded and stderr in a temp file named after `name`.
    pub fn spawn(cmd: &mut Command, name: &str) -> Proc {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::var_os(LOG_DIR).map_or_else(std::env::temp_dir, Into::into);
        let log = dir.join(format!("slotstream-{}-{name}-{n}.log", std::process::id()));
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .unwrap();
        Proc { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Waits for the process to exit by itself; panics with `why` and its log after `limit`.
    pub fn wait_exit(&mut self, limit: Duration, why: &str) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "{why}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends the signal `name` (`TERM`, `INT`, `KILL`…) without waiting.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.child.id());
    }

    /// SIGTERM, then [`Proc::wait_exit`].
    pub fn terminate_within(&mut self, limit: Duration, why: &str) -> ExitStatus {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        self.wait_exit(limit, why)
    }

    /// SIGTERM, then reap; returns the log.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let log = self.log();
        if std::env::var_os(LOG_DIR).is_none() {
            let _ = std::fs::remove_file(&self.log);
        }
        log
    }
}

/// A test that fails (panics) must not leave its processes running.
impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
