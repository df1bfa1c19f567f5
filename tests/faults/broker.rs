//! The broker frozen (SIGSTOP) for 30 s in the live phase of `produce` and `consume`, while
//! the source takes the mixed workload and the ledger: neither side exits, and once the broker
//! goes on the destination ends identical with no ledger write lost or doubled.

use crate::chance;
use crate::check::assert_converged;
use crate::common::audit::Ledger;
use crate::common::follow::KafkaLink;
use crate::common::follow::Proc;
use crate::common::workload;
use crate::common::RedisServer;
use crate::kills::workload_config;
use crate::rig::replica_state;
use std::time::{Duration, Instant};

/// How long the broker stays frozen (the figure: longer than librdkafka's socket and
/// request timeouts, so both sides see their requests fail and retry).
const FROZEN: Duration = Duration::from_secs(30);

#[test]
fn produce_and_consume_survive_a_broker_frozen_for_30_s() {
    let name = "broker-pause";
    let seed = chance::seed(name);
    let mut link = KafkaLink::new(name);
    if link.broker.is_external() {
        eprintln!("{name}: note: tested on the dev-broker only (an external broker is shared)");
        return;
    }
    let started = Instant::now();
    let source = RedisServer::start_with_args(&["--repl-backlog-size", "64mb"]);
    let target = RedisServer::start();
    let writer = workload::spawn(&source.url(), workload_config(seed));
    let ledger = Ledger::spawn(&source.url());
    link.start_producer(&source);
    link.start_consumer(&target);
    let deadline = Instant::now() + Duration::from_secs(120);
    while replica_state(&source).as_deref() != Some("online") {
        assert!(Instant::now() < deadline, "the producer never went live");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(2));

    link.broker.pause();
    std::thread::sleep(FROZEN);
    for proc in link.producer.iter_mut().chain(link.consumer.iter_mut()) {
        assert!(
            proc.child.try_wait().expect("try_wait").is_none(),
            "a process exited with the broker frozen:\n{}",
            proc.log()
        );
    }
    link.broker.resume();
    std::thread::sleep(Duration::from_secs(2));

    let counts = ledger.stop();
    let report = writer.stop_and_wait();
    link.wait_caught_up(&source, &target);
    let converged = assert_converged(name, &source, &target, counts, || {
        let log = |proc: &Option<Proc>| proc.as_ref().map(Proc::log).unwrap_or_default();
        format!(
            "consumer:\n{}\nproducer:\n{}",
            log(&link.consumer),
            log(&link.producer)
        )
    });
    link.stop();
    eprintln!(
        "{name}: seed {seed}, broker frozen {FROZEN:?}; {}",
        converged.summary(report.ops, started.elapsed())
    );
}
