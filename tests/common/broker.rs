//! The test broker and raw Kafka helpers (from `slotstream-test-support`), and the `slotstream`
//! produce/consume commands the tests run against it.

pub use slotstream_test_support::broker::*;
pub use slotstream_test_support::kafka::*;
use std::process::Command;

/// `slotstream produce` from `source` into `topic` (created with `partitions` partitions).
pub fn produce_cmd(
    source: &super::RedisServer,
    broker: &Broker,
    topic: &str,
    partitions: u32,
) -> Command {
    let mut cmd = Command::new(super::SLOTSTREAM);
    cmd.args([
        "produce",
        "--source",
        &source.url(),
        "--brokers",
        broker.bootstrap(),
    ])
    .args(["--topic", topic, "--partitions", &partitions.to_string()]);
    cmd
}

/// `slotstream consume` of `topic` into `target`.
pub fn consume_cmd(target: &super::RedisServer, broker: &Broker, topic: &str) -> Command {
    let mut cmd = Command::new(super::SLOTSTREAM);
    cmd.args(["consume", "--brokers", broker.bootstrap(), "--topic", topic])
        .args(["--target", &target.url()]);
    cmd
}
