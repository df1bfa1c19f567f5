//! SIGKILL of `sync`, `produce` and `consume` at random moments, spread over the snapshot, the
//! big list's parts and the live phase, while a mixed workload and the ledger write to the
//! source: the destination ends identical and no ledger write is lost or doubled.
//!
//! Each kill aims at the phase (snapshot, big value, live) with the fewest kills so far: the
//! victim starts (into a new epoch for the first two, with the source's replication id changed
//! while it is down), the test waits until the servers show that phase, then waits a random time
//! and kills; inside the big value, it holds the target's writes after one to three of its
//! batches and kills there. The phase the kill landed in is what is counted (a part mark left
//! behind shows a kill inside the big value), and every phase must have had one.

use crate::chance::{self, Chance};
use crate::check::assert_converged;
use crate::common::audit::Ledger;
use crate::common::workload::{self, WorkloadConfig};
use crate::rig::{half_built_values, Phase, Rig, Role};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const AIMS: [Phase; 3] = [Phase::Snapshot, Phase::BigValue, Phase::Live];

/// The mixed workload, paced so the destination keeps up between kills; it runs until stopped.
pub fn workload_config(seed: u64) -> WorkloadConfig {
    WorkloadConfig {
        seed,
        min_duration: Duration::from_secs(3600),
        // The one FLUSHDB and SWAPDB come at 40% and 60% of this: during the kills.
        min_ops: 30_000,
        dbs: vec![0, 1, 2],
        keys_per_db: 200,
        flushdb_once: true,
        swapdb_once: true,
        connections: 1,
        max_ops_per_sec: Some(1_500),
    }
}

/// How long to wait, once the aimed phase shows, before the kill (the big value has its own
/// way, [`Rig::pause_inside_big_value`]).
fn delay(chance: &mut Chance, aim: Phase) -> Duration {
    match aim {
        Phase::Snapshot => chance.ms(0, 60),
        _ => chance.ms(0, 1_500),
    }
}

/// Runs the kills against `role` and checks the destination; returns the summary line.
pub fn kill_at_random_moments(role: Role, name: &str) -> String {
    let seed = chance::seed(name);
    let kills = chance::kills();
    let mut chance = Chance::new(seed);
    let started = Instant::now();
    let mut rig = Rig::new(role, name);
    let writer = workload::spawn(&rig.source.url(), workload_config(seed));
    let ledger = Ledger::spawn(&rig.source.url());
    rig.start_all();

    let mut at_kill: BTreeMap<Phase, usize> = BTreeMap::new();
    for i in 0..kills {
        // The phase with the fewest kills so far: a phase missed is aimed at again.
        let aim = AIMS
            .into_iter()
            .min_by_key(|aim| at_kill.get(aim).copied().unwrap_or(0))
            .expect("phases to aim at");
        if i > 0 {
            if aim != Phase::Live {
                rig.let_consumer_catch_up();
                rig.force_new_epoch();
            }
            rig.start_victim();
        }
        let (how, phase) = if aim == Phase::BigValue {
            // Held after one to three of its batches.
            let moves = 1 + (chance.next_u64() % 3) as u32;
            let paused = rig.pause_inside_big_value(moves);
            let how = match paused {
                Some(_) => format!("held after {moves} parts moved"),
                None => format!("done before {moves} parts moved"),
            };
            let phase = rig.kill_victim();
            drop(paused);
            (how, phase)
        } else {
            let reached = rig.wait_for(aim);
            let wait = delay(&mut chance, aim);
            std::thread::sleep(wait);
            (
                format!("reached {reached:?}, {wait:?} later"),
                rig.kill_victim(),
            )
        };
        eprintln!("{name}: kill {i}: aimed at {aim:?}, {how}, in {phase:?}");
        *at_kill.entry(phase).or_default() += 1;
    }
    rig.start_victim();

    let counts = ledger.stop();
    let report = writer.stop_and_wait();
    rig.wait_caught_up();
    let converged = assert_converged(name, &rig.source, &rig.target, counts, || rig.logs());
    let left = half_built_values(&rig.target);
    assert!(
        left.is_empty(),
        "half-built values left on the target: {left:?}"
    );
    rig.stop();
    for aim in AIMS {
        assert!(
            at_kill.get(&aim).is_some_and(|&n| n > 0),
            "no kill landed in {aim:?}: {at_kill:?}"
        );
    }
    let summary = format!(
        "{name}: seed {seed}, {kills} kills of {role:?} at {at_kill:?}; {}",
        converged.summary(report.ops, started.elapsed())
    );
    eprintln!("{summary}");
    summary
}

#[test]
fn heavy_kills_of_sync_lose_and_double_nothing() {
    kill_at_random_moments(Role::Sync, "kills-sync");
}

#[test]
#[cfg(feature = "kafka")]
fn heavy_kills_of_produce_lose_and_double_nothing() {
    kill_at_random_moments(Role::Produce, "kills-produce");
}

#[test]
#[cfg(feature = "kafka")]
fn heavy_kills_of_consume_lose_and_double_nothing() {
    kill_at_random_moments(Role::Consume, "kills-consume");
}
