//! `slotstream dev-broker`: librdkafka's in-memory mock cluster ([`DevBroker`]), with the topics
//! created up front.
//!
//! Clients cannot create topics on the mock cluster (it has no `CreateTopics`), so every topic
//! named with `--topic NAME[:PARTITIONS]` is created at start, together with its resume topic. The
//! bootstrap servers are the first line of stdout, so a script or test can read them; everything
//! else goes to the log on stderr. Nothing is kept: the data lives in this process only.

use crate::cli::DevBrokerArgs;
use crate::shutdown::Shutdown;
use anyhow::Context;
use slotstream_kafka::topic::resume_topic;
use slotstream_kafka::DevBroker;
use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

/// Partitions of a data topic given as plain `NAME`, the same default as `--partitions`.
const DEFAULT_PARTITIONS: i32 = 16;
/// Kafka's limit on a topic name's length.
const MAX_TOPIC_NAME: usize = 249;

pub async fn run(args: DevBrokerArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.brokers >= 1,
        "--brokers must be at least 1, got {}",
        args.brokers
    );
    let topics = plan_topics(&args.topics)?;

    // The signals are watched (by `shutdown`) since before the address is printed: whoever
    // reads it may signal at once.

    // Bound to a name, not `_`: the cluster (and its listeners) lives until it is dropped.
    let cluster = DevBroker::start(args.brokers, &topics)?;
    let bootstrap = cluster.bootstrap_servers();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{bootstrap}").context("cannot write the bootstrap servers")?;
    stdout
        .flush()
        .context("cannot write the bootstrap servers")?;
    drop(stdout);
    tracing::info!(
        bootstrap = %bootstrap,
        brokers = args.brokers,
        "dev broker ready; it is in memory and loses every topic and record when it exits \
         (stop it with SIGTERM or Ctrl-C)"
    );

    shutdown.stopped().await;
    drop(cluster);
    tracing::info!("dev broker stopped");
    Ok(ExitCode::SUCCESS)
}

/// Every topic to create, in order: each data topic, then its resume topic with 1 partition.
fn plan_topics(specs: &[String]) -> anyhow::Result<Vec<(String, i32)>> {
    let mut topics = Vec::new();
    for spec in specs {
        let (name, partitions) = parse_topic_spec(spec)?;
        let resume = resume_topic(&name);
        topics.push((name, partitions));
        topics.push((resume, 1));
    }
    let mut seen = HashSet::new();
    for (name, _) in &topics {
        anyhow::ensure!(
            seen.insert(name.as_str()),
            "topic {name} is named twice by the --topic flags (each NAME also creates NAME.resume)"
        );
    }
    Ok(topics)
}

/// Parses `NAME` or `NAME:PARTITIONS`.
fn parse_topic_spec(spec: &str) -> anyhow::Result<(String, i32)> {
    let (name, partitions) = match spec.split_once(':') {
        None => (spec, DEFAULT_PARTITIONS),
        Some((name, count)) => {
            let partitions = count.parse::<i32>().ok().filter(|p| *p >= 1);
            let partitions = partitions.with_context(|| {
                format!(
                    "bad --topic {spec:?}: PARTITIONS must be a whole number of at least 1 \
                     (expected NAME or NAME:PARTITIONS)"
                )
            })?;
            (name, partitions)
        }
    };
    let legal = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let room = MAX_TOPIC_NAME - ".resume".len();
    anyhow::ensure!(
        !name.is_empty() && legal && name != "." && name != ".." && name.len() <= room,
        "bad --topic {spec:?}: NAME must be 1 to {room} characters of a-z, A-Z, 0-9, '.', '_' \
         and '-' (expected NAME or NAME:PARTITIONS)"
    );
    Ok((name.to_string(), partitions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_specs() {
        assert_eq!(parse_topic_spec("shop").unwrap(), ("shop".into(), 16));
        assert_eq!(
            parse_topic_spec("a.b-c_1:3").unwrap(),
            ("a.b-c_1".into(), 3)
        );
        for bad in [
            "a:b",
            ":3",
            "x:0",
            "x:-1",
            "x:",
            "",
            "a b",
            "a:1:2",
            "..",
            "x:99999999999",
        ] {
            let err = parse_topic_spec(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn resume_topics_follow_their_data_topic() {
        let specs = ["a:3".to_string(), "b".to_string()];
        let planned = plan_topics(&specs).unwrap();
        let expected = [("a", 3), ("a.resume", 1), ("b", 16), ("b.resume", 1)];
        let expected: Vec<_> = expected.iter().map(|(n, p)| (n.to_string(), *p)).collect();
        assert_eq!(planned, expected);
        let clash = ["a".to_string(), "a.resume".to_string()];
        assert!(plan_topics(&clash)
            .unwrap_err()
            .to_string()
            .contains("a.resume"));
    }
}
