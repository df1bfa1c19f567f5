//! [`Broker`]: a Kafka broker for the tests, an external one from `SLOTSTREAM_TEST_BROKERS` or a
//! `slotstream dev-broker` child process killed on `Drop`; and topic names unique to a test.
//!
//! The same suite runs against both: without the variable each test gets its own dev-broker
//! (librdkafka's mock cluster, which cannot create topics through the Admin API, so
//! [`Broker::start`] has it create them up front); with it, every test shares one broker (tansu
//! in CI, or a real Kafka), so topic names come from [`unique_topic`] and topics are created
//! through the Admin API, by the code under test or by [`crate::kafka::create_topic`].

use crate::kafka::PATIENCE;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The variable naming an external broker's bootstrap servers.
pub const EXTERNAL_ENV: &str = "SLOTSTREAM_TEST_BROKERS";

/// A broker the test can talk to.
pub struct Broker {
    bootstrap: String,
    /// The dev-broker process; `None` for an external broker.
    child: Option<Child>,
    /// Kept open so the dev-broker never writes into a closed pipe.
    _stdout: Option<BufReader<ChildStdout>>,
}

impl Broker {
    /// Uses `SLOTSTREAM_TEST_BROKERS` when set (an external broker, e.g. tansu; `topics` are then
    /// not created here: the code under test creates them through the Admin API, or the test
    /// calls [`crate::kafka::create_topic`]). Otherwise starts `slotstream dev-broker --topic
    /// NAME:P ...` as a separate process (which also creates each `NAME.resume` with 1 partition) and reads the
    /// bootstrap servers from its first line of stdout; `slotstream` is the binary to run (a
    /// test's `env!("CARGO_BIN_EXE_slotstream")`).
    pub fn start(slotstream: impl AsRef<Path>, topics: &[(&str, u32)]) -> Broker {
        if let Some(bootstrap) = external_brokers() {
            return Broker {
                bootstrap,
                child: None,
                _stdout: None,
            };
        }
        let mut command = Command::new(slotstream.as_ref());
        command.arg("dev-broker");
        for (name, partitions) in topics {
            command.arg("--topic").arg(format!("{name}:{partitions}"));
        }
        // stderr is inherited: the broker's log lands in the test's captured output.
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run slotstream dev-broker");
        let stdout = child.stdout.take().expect("dev-broker stdout is piped");
        let (sent, received) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line).map(|_| line);
            let _ = sent.send((read, reader));
        });
        let mut broker = Broker {
            bootstrap: String::new(),
            child: Some(child),
            _stdout: None,
        };
        match received.recv_timeout(PATIENCE) {
            Ok((Ok(line), reader)) if !line.trim().is_empty() => {
                broker.bootstrap = line.trim().to_string();
                broker._stdout = Some(reader);
                broker
            }
            Ok((read, _)) => panic!("dev-broker printed no bootstrap servers: {read:?}"),
            Err(_) => panic!("dev-broker printed nothing within {PATIENCE:?}"),
        }
    }

    /// Bootstrap servers, `host:port[,host:port...]`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Whether this is a broker from `SLOTSTREAM_TEST_BROKERS` rather than a dev-broker.
    pub fn is_external(&self) -> bool {
        self.child.is_none()
    }

    /// Freezes the broker process (SIGSTOP): connections stay open but nothing is answered, as in
    /// a network partition or a stalled broker. A no-op, with a note, for an external broker.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// Lets a paused broker go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("CONT");
    }

    fn signal(&self, name: &str) {
        let Some(child) = &self.child else {
            eprintln!("note: SIG{name} skipped: the broker is external ({EXTERNAL_ENV})");
            return;
        };
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {} failed", child.id());
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // SIGKILL also ends a process stopped by `pause`.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The external broker's bootstrap servers, when `SLOTSTREAM_TEST_BROKERS` is set and not empty.
pub fn external_brokers() -> Option<String> {
    std::env::var(EXTERNAL_ENV)
        .ok()
        .map(|value| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

/// A topic name unique to this test process and call, `t-<pid>-<secs>-<n>-<label>`, so tests can
/// share one external broker (the seconds keep names apart across runs on a long-lived broker).
pub fn unique_topic(label: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() % 1_000_000)
        .unwrap_or(0);
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("t-{}-{secs}-{n}-{label}", std::process::id())
}
