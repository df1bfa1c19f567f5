//! Named points where tests stop or kill a whole process (the `fail` crate), compiled in only
//! when the `failpoints` feature is on, which only test builds turn on.
//!
//! In-process tests set a point to `return` and the run stops there with an error
//! (`consumer/tests/in_process.rs`). The points named in [`KILL_POINTS`] instead end the process
//! at once, as a SIGKILL would (nothing flushed, no destructor run): a test starts `slotstream`
//! with `FAILPOINTS=<point>=return` (or `N*off->return` for the N+1st time) and restarts it.

/// The points that end the process, and where each one is.
pub const KILL_POINTS: &[(&str, &str)] = &[
    (
        "snapshot-before-end",
        "producer: after a snapshot's last record, before its SnapshotEnd records",
    ),
    (
        "resume-point-unacknowledged",
        "Kafka writer: a resume point sent, not yet acknowledged",
    ),
    (
        "cross-slot-step-applied",
        "consumer, cluster target: one step of a command across slots committed with its mark, \
         the next not yet sent",
    ),
    (
        "barrier-applied",
        "consumer: a barrier and every involved partition's checkpoint committed, the waiting \
         partitions not yet released",
    ),
];

/// Reads `FAILPOINTS` from the environment when failpoints are compiled in; otherwise nothing.
/// Call once, at the start of the process.
pub fn from_env() {
    #[cfg(feature = "failpoints")]
    std::mem::forget(fail::FailScenario::setup());
}

/// Ends the process at once, as a SIGKILL would: what a kill point does when it fires.
pub fn kill_here(point: &str) -> ! {
    eprintln!("failpoint {point}: ending the process");
    std::process::abort()
}
