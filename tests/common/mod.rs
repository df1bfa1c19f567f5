//! Shared helpers for the integration tests: the `slotstream` binary, the acceptance dataset,
//! and an independent content checker. Servers, brokers and child processes come from
//! `slotstream-test-support`.
//!
//! # Layout
//! - `dataset`: what the tests write (every type and encoding, TTLs, several dbs, big keys).
//! - `contents`: [`assert_same_contents`], a key-by-key check that shares no code with
//!   `slotstream verify`, so a copy is proven by two independent checkers.
//! - `audit`: a ledger of non-idempotent writes with known results, to count lost and doubled ones.
//! - `broker`: the test broker (re-exported) and the `slotstream produce`/`consume` commands.
//! - `versions`: the seven server versions (re-exported), what each can create, and a dataset of
//!   every type and encoding.
//! - `workload`: live writes of every kind, for the incremental tests.
//! - `newer`: live writes of commands newer than an older target knows.
//! - `stand_in`: a stand-in master that answers the replica handshake and serves bad input.
//! - `follow`: slotstream processes following a live source, and waiting for them to catch up.
//! - `keyspace`: db 0 of a server or of a cluster, key by key, to compare the two.
//! - `interrupt`: big sources, and waiting until a snapshot is partly applied, to interrupt it.

#![allow(dead_code)]

pub mod audit;
pub mod broker;
pub mod contents;
pub mod dataset;
pub mod follow;
pub mod interrupt;
pub mod keyspace;
pub mod newer;
pub mod stand_in;
pub mod versions;
pub mod workload;

#[allow(unused_imports)]
pub use contents::{assert_same_contents, assert_same_contents_with};
pub use slotstream_test_support::RedisServer;

use slotstream_verify::{VerifyError, VerifyOptions, VerifyReport};
use std::process::{Command, Output};

/// How much later than the source's slotstream writes every expiry time on the target, by
/// default (`--ttl-extension-secs`).
pub const TTL_EXTENSION_MS: i64 =
    slotstream_consumer::TargetConfig::DEFAULT_TTL_EXTENSION_SECS as i64 * 1000;

/// The path of the `slotstream` binary built for this test run.
pub const SLOTSTREAM: &str = env!("CARGO_BIN_EXE_slotstream");

/// The `slotstream` binary built for this test run.
pub fn slotstream() -> Command {
    Command::new(SLOTSTREAM)
}

/// Runs `cmd` to its end; panics with its output unless it succeeded.
pub fn run_ok(cmd: &mut Command) -> Output {
    let output = cmd.output().expect("run slotstream");
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every key of a server, in all 16 databases (slotstream's bookkeeping included).
pub fn key_count(server: &RedisServer) -> u64 {
    let mut conn = server.conn();
    (0..16)
        .map(|db| {
            let _: () = redis::cmd("SELECT").arg(db).query(&mut conn).unwrap();
            redis::cmd("DBSIZE").query::<u64>(&mut conn).unwrap()
        })
        .sum()
}

/// What one `slotstream verify` run printed, and how it ended.
#[derive(Debug)]
pub struct VerifyRun {
    /// The exit code; `None` if the process was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl VerifyRun {
    fn from_output(output: Output) -> Self {
        VerifyRun {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// stdout and stderr, for assertion messages.
    pub fn text(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `slotstream verify --source URL --target URL [extra args]` and waits for it.
pub fn run_verify(source_url: &str, target_url: &str, extra_args: &[&str]) -> VerifyRun {
    let output = slotstream()
        .args(["verify", "--source", source_url, "--target", target_url])
        .args(extra_args)
        .output()
        .expect("run slotstream verify");
    VerifyRun::from_output(output)
}

/// Compares two servers written alike with `slotstream_verify` (the library behind `slotstream
/// verify`) and its defaults: expiry times compared as they are.
pub fn compare(source_url: &str, target_url: &str) -> Result<VerifyReport, VerifyError> {
    compare_with(VerifyOptions::new(source_url, target_url))
}

/// [`compare`] for a copy slotstream wrote: the target's expiry times are expected the default
/// TTL extension later.
pub fn compare_copy(source_url: &str, target_url: &str) -> Result<VerifyReport, VerifyError> {
    let mut options = VerifyOptions::new(source_url, target_url);
    options.ttl_extension_ms = TTL_EXTENSION_MS as u64;
    compare_with(options)
}

/// [`compare`] with other options.
pub fn compare_with(options: VerifyOptions) -> Result<VerifyReport, VerifyError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a runtime")
        .block_on(slotstream_verify::verify(&options))
}

/// Compares a source and slotstream's copy of it with `slotstream_verify` ([`compare_copy`])
/// and panics with the differences unless there are none.
pub fn verify_identical(source: &RedisServer, target: &RedisServer) {
    let report = compare_copy(&source.url(), &target.url())
        .unwrap_or_else(|err| panic!("verify could not compare: {err}"));
    assert!(report.is_identical(), "{}", describe(&report));
}

/// The differences and warnings of a report, one per line, for assertion messages.
pub fn describe(report: &VerifyReport) -> String {
    let total = report.total();
    let mut lines = vec![format!(
        "verify: {} differences in {} keys, {} warnings",
        total.differences(),
        total.keys_differing,
        total.warnings
    )];
    for d in &report.differences {
        let key = slotstream_verify::escape(&d.key, 200);
        lines.push(format!(
            "  db {} \"{key}\": {:?}: {}",
            d.db, d.kind, d.reason
        ));
    }
    for w in &report.warnings {
        let key = slotstream_verify::escape(&w.key, 200);
        lines.push(format!("  db {} \"{key}\": warning: {}", w.db, w.reason));
    }
    lines.join("\n")
}
