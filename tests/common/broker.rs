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
    produce_cmd_from(&source.url(), broker, topic, partitions)
}

/// [`produce_cmd`] from a source reached at `source_url` (through a proxy, say).
pub fn produce_cmd_from(
    source_url: &str,
    broker: &Broker,
    topic: &str,
    partitions: u32,
) -> Command {
    let mut cmd = Command::new(super::SLOTSTREAM);
    cmd.args([
        "produce",
        "--source",
        source_url,
        "--brokers",
        broker.bootstrap(),
    ])
    .args(["--topic", topic, "--partitions", &partitions.to_string()]);
    cmd
}

/// `slotstream consume` of `topic` into `target`.
pub fn consume_cmd(target: &super::RedisServer, broker: &Broker, topic: &str) -> Command {
    consume_cmd_to(&target.url(), broker, topic)
}

/// [`consume_cmd`] into a target reached at `target_url` (over TLS, through sentinels).
pub fn consume_cmd_to(target_url: &str, broker: &Broker, topic: &str) -> Command {
    let mut cmd = Command::new(super::SLOTSTREAM);
    cmd.args(["consume", "--brokers", broker.bootstrap(), "--topic", topic])
        .args(["--target", target_url]);
    cmd
}
