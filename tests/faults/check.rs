//! The end of every fault test: once the copy has caught up, what the ledger finds on the
//! target (printed first, so a failing run says what it lost too), both checkers agreeing that
//! the copy is exact, and no ledger write lost or doubled; then the line the test prints.

use crate::common::audit::{LedgerCheck, LedgerCounts};
use crate::common::{assert_same_contents, compare_copy, describe, RedisServer};
use std::time::Duration;

/// What a converged copy showed.
pub struct Converged {
    pub check: LedgerCheck,
    /// Keys compared, over every database.
    pub keys: usize,
}

impl Converged {
    /// `<ops> workload commands, <writes> ledger writes in <keys> keys: lost 0, doubled 0;
    /// <keys> keys identical; <elapsed>`, the tail of each test's summary line.
    pub fn summary(&self, workload_ops: u64, elapsed: Duration) -> String {
        let check = &self.check;
        format!(
            "{workload_ops} workload commands, {} ledger writes in {} keys: lost {}, doubled {}; \
             {} keys identical; {elapsed:.0?}",
            check.writes, check.keys, check.lost, check.doubled, self.keys
        )
    }
}

/// Asserts the target converged on the source; `logs` (the processes' logs) is read only for a
/// failure message.
pub fn assert_converged(
    name: &str,
    source: &RedisServer,
    target: &RedisServer,
    counts: LedgerCounts,
    logs: impl FnOnce() -> String,
) -> Converged {
    let check = counts.check(&target.url());
    eprintln!("{name}: ledger: {check:?}");
    let keys = assert_same_contents(&source.url(), &target.url());
    let verified = compare_copy(&source.url(), &target.url()).expect("verify runs");
    assert!(verified.is_identical(), "{}", describe(&verified));
    assert_eq!(
        (check.lost, check.doubled),
        (0, 0),
        "ledger writes lost or doubled: {check:?}\n{}",
        logs()
    );
    Converged { check, keys }
}
