//! `slotstream dev-broker` as other processes see it, and the broker test helpers on any broker.

mod common;

use common::broker::{
    create_topic, external_brokers, partition_count, produce_raw, produce_raw_with_headers,
    read_all, unique_topic, Broker,
};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Liveness bound for a process that should exit; not a timing assertion.
const EXIT_DEADLINE: Duration = Duration::from_secs(20);

/// Dev-broker-only tests skip themselves when the suite runs against an external broker.
fn skip_on_external(test: &str) -> bool {
    if let Some(brokers) = external_brokers() {
        eprintln!("note: {test} tests dev-broker itself; skipped with external broker {brokers}");
        return true;
    }
    false
}

#[test]
fn kafka_dev_broker_serves_produce_and_consume() {
    if skip_on_external("kafka_dev_broker_serves_produce_and_consume") {
        return;
    }
    let broker = Broker::start(common::SLOTSTREAM, &[("events", 3)]);
    let bootstrap = broker.bootstrap();

    let mut expected = Vec::new();
    for partition in 0..3 {
        for i in 0..4i64 {
            let key = format!("k{partition}-{i}").into_bytes();
            // Binary values, including bytes that are not UTF-8.
            let value = vec![0xff, partition as u8, i as u8, 0x00];
            let offset = produce_raw(bootstrap, "events", partition, &key, &value);
            assert_eq!(offset, i, "offsets of a new partition count from 0");
            expected.push((partition, i, Some(key), value, Vec::new()));
        }
    }
    assert_eq!(read_all(bootstrap, "events"), expected);

    assert_eq!(partition_count(bootstrap, "events"), Some(3));
    assert_eq!(partition_count(bootstrap, "events.resume"), Some(1));
    assert_eq!(read_all(bootstrap, "events.resume"), Vec::new());
    assert_eq!(partition_count(bootstrap, "never-created"), None);
}

#[test]
fn kafka_dev_broker_exits_cleanly_on_sigterm() {
    if skip_on_external("kafka_dev_broker_exits_cleanly_on_sigterm") {
        return;
    }
    let mut child = common::slotstream()
        .args(["dev-broker", "--topic", "a:2", "--topic", "b"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run slotstream dev-broker");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("read the first line");
    let first = first.trim();
    let (host, port) = first
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("first line is not host:port: {first:?}"));
    assert_eq!(host, "127.0.0.1", "first line: {first:?}");
    port.parse::<u16>()
        .unwrap_or_else(|_| panic!("first line has no port: {first:?}"));
    assert_eq!(partition_count(first, "a"), Some(2));
    assert_eq!(partition_count(first, "a.resume"), Some(1));
    assert_eq!(partition_count(first, "b"), Some(16));
    assert_eq!(partition_count(first, "b.resume"), Some(1));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let deadline = Instant::now() + EXIT_DEADLINE;
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait for dev-broker") {
            break exit;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dev-broker still running {EXIT_DEADLINE:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("piped stderr"), &mut log)
        .expect("read the log");
    assert_eq!(exit.code(), Some(0), "exit {exit:?}; log:\n{log}");
    assert!(log.contains("in memory"), "log:\n{log}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read the rest of stdout");
    assert_eq!(rest, "", "only the bootstrap servers go to stdout");
}

#[test]
fn kafka_dev_broker_rejects_bad_topic_spec() {
    if skip_on_external("kafka_dev_broker_rejects_bad_topic_spec") {
        return;
    }
    for spec in ["x:0", "a:b", ":3"] {
        let output = common::slotstream()
            .args(["dev-broker", "--topic", "ok:1", "--topic", spec])
            .stdin(Stdio::null())
            .output()
            .expect("run slotstream dev-broker");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{spec}: {:?}", output.status);
        assert!(
            stderr.contains(&format!("\"{spec}\"")),
            "{spec}: the error names the spec:\n{stderr}"
        );
        assert!(
            output.stdout.is_empty(),
            "{spec}: no bootstrap servers printed"
        );
    }
}

/// The helpers every Kafka test relies on, on whichever broker the suite has.
#[test]
fn kafka_broker_helpers_round_trip() {
    let topic = unique_topic("round-trip");
    let broker = Broker::start(common::SLOTSTREAM, &[(&topic, 2)]);
    let bootstrap = broker.bootstrap();
    if broker.is_external() {
        assert_eq!(partition_count(bootstrap, &topic), None);
        create_topic(bootstrap, &topic, 2);
    }
    assert_eq!(partition_count(bootstrap, &topic), Some(2));
    assert_eq!(read_all(bootstrap, &topic), Vec::new());

    let junk: &[u8] = b"\x00\x01not avro\xfe";
    let first = produce_raw(bootstrap, &topic, 1, b"\x3f\xff", junk);
    let second = produce_raw_with_headers(
        bootstrap,
        &topic,
        1,
        None,
        b"v2",
        &[("slotstream.epoch", b"7"), ("empty", b"")],
    );
    let third = produce_raw(bootstrap, &topic, 0, b"", b"");
    assert_eq!((first, second, third), (0, 1, 0));

    let header = |k: &str, v: &[u8]| (k.to_string(), v.to_vec());
    assert_eq!(
        read_all(bootstrap, &topic),
        vec![
            (0, 0, Some(Vec::new()), Vec::new(), Vec::new()),
            (1, 0, Some(b"\x3f\xff".to_vec()), junk.to_vec(), Vec::new()),
            (
                1,
                1,
                None,
                b"v2".to_vec(),
                vec![header("slotstream.epoch", b"7"), header("empty", b"")]
            ),
        ]
    );
}

/// Many records per batch, as the producer writes them: `read_all` must return every one.
#[test]
fn kafka_read_all_returns_every_record_of_batched_writes() {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let topic = unique_topic("batches");
    let broker = Broker::start(common::SLOTSTREAM, &[(&topic, 2)]);
    let bootstrap = broker.bootstrap();
    if broker.is_external() {
        create_topic(bootstrap, &topic, 2);
    }
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("compression.type", "lz4")
        .set("enable.idempotence", "true")
        .create()
        .expect("create a producer");
    const PER_PARTITION: i64 = 500;
    for i in 0..PER_PARTITION {
        for partition in 0..2 {
            let value = format!("{partition}:{i}");
            let record = BaseRecord::<(), _>::to(&topic)
                .partition(partition)
                .payload(&value);
            producer.send(record).expect("queue a record");
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).expect("flush");

    let read = read_all(bootstrap, &topic);
    let expected: Vec<(i32, i64, Vec<u8>)> = (0..2)
        .flat_map(|p| (0..PER_PARTITION).map(move |i| (p, i, format!("{p}:{i}").into_bytes())))
        .collect();
    let got: Vec<(i32, i64, Vec<u8>)> = read.into_iter().map(|(p, o, _, v, _)| (p, o, v)).collect();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
}
