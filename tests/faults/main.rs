//! Faults injected on real processes and real servers: SIGKILL of `sync`, `produce` and
//! `consume` at random moments, and `sync`'s source link cut and stalled through a TCP proxy.
//! Every test ends by comparing the destination with the source (two independent checkers) and
//! counting lost and doubled non-idempotent writes with a ledger.
//!
//! Random moments come from one seed, printed by each test: `SLOTSTREAM_FAULT_SEED=<n>` replays
//! a run's random choices (where they land still depends on timing), and
//! `SLOTSTREAM_FAULT_KILLS=<n>` sets the kills per role. The CI run (`cargo nextest run`) keeps
//! the 20 kills per role the suite is specified with, over short phases: the four tests take
//! about a minute and a half together (the kill tests, named `heavy_*`, one at a time).
//! `scripts/faults.sh` runs 60 kills per role, and more cuts, over several seeds; RELIABILITY.md
//! has the figures and says what is not covered yet.
//!
//! # Layout
//! - `broker`: the dev-broker frozen (SIGSTOP) for 30 s under live `produce` and `consume`.
//! - `catch`: holding the target's writes with the big value half-applied, for a kill there.
//! - `check`: the end of every test: the ledger, both checkers, the summary line.
//! - `chance`: the seed, its PRNG and the kill count, from the environment or fixed.
//! - `rig`: source, target, victim processes and what phase a run is in, as the servers show it.
//! - `kills`: SIGKILL of `sync`, `produce` and `consume` over the snapshot, a big value and the
//!   live phase.
//! - `network`: `sync`'s source link through a proxy, cut during the snapshot and live, then
//!   stalled past `--retry-for-secs`.
//! - `target`: the destination out of memory under a live `sync`, then crashed and restarted
//!   from its append-only file.
//! - `kill_points`: kills at named points (a test build's failpoints): before a snapshot's
//!   `SnapshotEnd`, with a resume point unacknowledged, after a barrier committed.
//! - `cut_snapshot`: `produce`'s first snapshot cut in its middle while the source deletes what
//!   was applied: the retry must open a new epoch that sweeps.

#[path = "../common/mod.rs"]
mod common;

#[cfg(feature = "kafka")]
mod broker;
mod catch;
mod chance;
mod check;
#[cfg(feature = "kafka")]
mod cut_snapshot;
mod kill_points;
mod kills;
mod network;
mod rig;
mod target;
