//! Following a live source in the tests: slotstream processes that are killed with the test,
//! waiting until the destination's checkpoints reach the source's offset, and the writes and
//! link drops the incremental tests make.

use super::broker::{consume_cmd, create_topic, produce_cmd, unique_topic, Broker};
use super::{assert_same_contents, slotstream, verify_identical, RedisServer};
pub use slotstream_test_support::Proc;
use std::process::Command;
use std::time::{Duration, Instant};

pub const PARTITIONS: u32 = 8;

/// The source's replication offset.
pub fn source_offset(source: &RedisServer) -> u64 {
    source
        .info_field("replication", "master_repl_offset")
        .parse()
        .expect("master_repl_offset is a number")
}

/// The lowest replication offset the target's checkpoints of `log` cover; `None` while a
/// partition has none or is in the middle of a snapshot (whose records all carry the offset
/// the snapshot was taken at).
pub fn applied_offset(target: &RedisServer, log: &str) -> Option<u64> {
    let mut conn = target.conn();
    (0..PARTITIONS)
        .map(|p| {
            let (offset, done): (Option<u64>, Option<u64>) = redis::cmd("HMGET")
                .arg(format!("__slotstream:checkpoint:{log}:{p}"))
                .arg("offset")
                .arg("snapshot_done")
                .query(&mut conn)
                .unwrap();
            offset.filter(|_| done == Some(1))
        })
        .collect::<Option<Vec<u64>>>()
        .and_then(|offsets| offsets.into_iter().min())
}

/// Makes the source delete (and replicate the deletion of) every key whose time has passed:
/// `SCAN` expires what it meets. Until then such keys linger on the source, logically gone.
pub fn expire_due_keys(source: &RedisServer) {
    let mut conn = source.conn();
    for db in 0..16 {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut conn).unwrap();
        let mut cursor: u64 = 0;
        loop {
            let (next, _): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query(&mut conn)
                .unwrap();
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
}

/// The newest epoch every partition's checkpoint of `log` has reached (0 while one has none).
pub fn checkpoint_epoch(target: &RedisServer, log: &str) -> u64 {
    let mut conn = target.conn();
    (0..PARTITIONS)
        .map(|p| {
            redis::cmd("HGET")
                .arg(format!("__slotstream:checkpoint:{log}:{p}"))
                .arg("epoch")
                .query::<Option<u64>>(&mut conn)
                .unwrap()
                .unwrap_or(0)
        })
        .min()
        .unwrap_or(0)
}

/// Whether every partition's checkpoint of `log` says its epoch's snapshot is applied.
pub fn snapshot_done(target: &RedisServer, log: &str) -> bool {
    let mut conn = target.conn();
    (0..PARTITIONS).all(|p| {
        redis::cmd("HGET")
            .arg(format!("__slotstream:checkpoint:{log}:{p}"))
            .arg("snapshot_done")
            .query::<Option<u8>>(&mut conn)
            .unwrap()
            == Some(1)
    })
}

/// Waits until every partition's checkpoint has applied its snapshot and reached the source's
/// current offset (the heartbeats move idle partitions along), or panics after a generous
/// liveness bound. A snapshot's records carry the offset it was taken at, so the offset alone
/// is reached in the middle of a snapshot of a source that takes no writes.
pub fn wait_caught_up(
    source: &RedisServer,
    target: &RedisServer,
    log: &str,
    procs: &mut [&mut Proc],
) {
    // Short TTLs set by the workload: let them end on the source first.
    std::thread::sleep(Duration::from_millis(1100));
    expire_due_keys(source);
    let wanted = source_offset(source);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if applied_offset(target, log).is_some_and(|o| o >= wanted) && snapshot_done(target, log) {
            return;
        }
        for proc in procs.iter_mut() {
            if proc.child.try_wait().unwrap().is_some() {
                panic!("a slotstream process exited early:\n{}", proc.log());
            }
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = procs.iter().map(|p| p.log()).collect();
            panic!(
                "the target did not catch up with offset {wanted} (at {:?}):\n{}",
                applied_offset(target, log),
                logs.join("\n---\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `cmd` as `what`, expecting it to fail by itself within a minute; returns its log.
pub fn fails(cmd: &mut Command, what: &str) -> String {
    let mut proc = Proc::spawn(cmd, what);
    let status = proc.wait_exit(Duration::from_secs(60), &format!("{what} did not stop"));
    let log = proc.log();
    assert!(!status.success(), "{what} succeeded:\n{log}");
    log
}

pub fn sync_cmd(source: &RedisServer, target: &RedisServer) -> Command {
    sync_cmd_from(&source.url(), target)
}

/// [`sync_cmd`] from a source reached at `source_url` (through a proxy, say).
pub fn sync_cmd_from(source_url: &str, target: &RedisServer) -> Command {
    let mut cmd = slotstream();
    cmd.args(["sync", "--source", source_url, "--target", &target.url()])
        .args(["--partitions", &PARTITIONS.to_string()]);
    cmd
}

/// A broker with the data topic in place before producer and consumer start together (on an
/// external broker the producer would create it, possibly after the consumer looked).
pub fn broker_with_topic(topic: &str) -> Broker {
    let broker = Broker::start(super::SLOTSTREAM, &[(topic, PARTITIONS)]);
    if broker.is_external() {
        create_topic(broker.bootstrap(), topic, PARTITIONS);
    }
    broker
}

pub fn sync_log(source: &RedisServer) -> String {
    format!("sync:127.0.0.1:{}", source.port())
}

/// Waits until `proc`'s log holds `text`: the step a test checks has happened (a copy that is
/// identical already, say from a killed run, does not show that its restart got anywhere).
pub fn wait_logged(proc: &Proc, text: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !proc.log().contains(text) {
        assert!(
            Instant::now() < deadline,
            "{text:?} not logged within {limit:?}:\n{}",
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Both checkers agree the copy is exact.
pub fn assert_identical(source: &RedisServer, target: &RedisServer) {
    assert_same_contents(&source.url(), &target.url());
    verify_identical(source, target);
}

/// [`assert_identical`] for a copy made with `--ttl-extension-secs` of `extension_ms`.
pub fn assert_identical_with(source: &RedisServer, target: &RedisServer, extension_ms: i64) {
    super::contents::assert_same_contents_with(&source.url(), &target.url(), extension_ms);
    let mut options = slotstream_verify::VerifyOptions::new(source.url(), target.url());
    options.ttl_extension_ms = extension_ms as u64;
    let report = super::compare_with(options)
        .unwrap_or_else(|err| panic!("verify could not compare: {err}"));
    assert!(report.is_identical(), "{}", super::describe(&report));
}

/// Every replicated command of the workload succeeded on the source, so on an identical target
/// each must succeed too: a refusal means the copies had already drifted apart.
pub fn assert_nothing_refused(log: &str) {
    let last = log
        .lines()
        .rev()
        .find_map(|line| line.split("refused=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    assert_eq!(last, Some(0), "refused commands, or no live line:\n{log}");
}

/// A small deterministic generator for kill moments.
pub struct Moments(pub u64);

impl Moments {
    pub fn next_ms(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

/// Drops every replica link of the source and every client link of the target (slotstream's).
pub fn drop_links(source: &RedisServer, target: &RedisServer) {
    let _: redis::Value = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "replica"])
        .query(&mut source.conn())
        .unwrap();
    let _: redis::Value = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
        .query(&mut target.conn())
        .unwrap();
}

/// A few counters and list pushes, so a lost or doubled command shows.
pub fn write_counters(source: &RedisServer, round: u32) {
    let mut conn = source.conn();
    for i in 0..200 {
        let _: i64 = redis::cmd("INCR")
            .arg(format!("counter:{}", i % 20))
            .query(&mut conn)
            .unwrap();
        let _: i64 = redis::cmd("LPUSH")
            .arg(format!("pushes:{}", i % 7))
            .arg(format!("{round}-{i}"))
            .query(&mut conn)
            .unwrap();
    }
}

/// A broker with its data topic, and the producer and consumer processes around it.
pub struct KafkaLink {
    pub topic: String,
    pub broker: Broker,
    pub producer: Option<Proc>,
    pub consumer: Option<Proc>,
}

impl KafkaLink {
    /// A broker with a fresh topic named after `name`; no process yet.
    pub fn new(name: &str) -> KafkaLink {
        let topic = unique_topic(name);
        let broker = broker_with_topic(&topic);
        KafkaLink {
            topic,
            broker,
            producer: None,
            consumer: None,
        }
    }

    /// [`KafkaLink::new`] with a producer from `source` and a consumer into `target`.
    pub fn start(name: &str, source: &RedisServer, target: &RedisServer) -> KafkaLink {
        let mut link = KafkaLink::new(name);
        link.start_producer(source);
        link.start_consumer(target);
        link
    }

    /// Starts the producer, SIGKILLing a running one first.
    pub fn start_producer(&mut self, source: &RedisServer) {
        if let Some(mut old) = self.producer.take() {
            old.kill();
        }
        let mut cmd = produce_cmd(source, &self.broker, &self.topic, PARTITIONS);
        self.producer = Some(Proc::spawn(&mut cmd, "produce"));
    }

    /// Starts the consumer, SIGKILLing a running one first.
    pub fn start_consumer(&mut self, target: &RedisServer) {
        if let Some(mut old) = self.consumer.take() {
            old.kill();
        }
        let mut cmd = consume_cmd(target, &self.broker, &self.topic);
        self.consumer = Some(Proc::spawn(&mut cmd, "consume"));
    }

    /// [`wait_caught_up`] for this link's checkpoints and processes.
    /// Waits (up to three minutes) until every partition's checkpoint is of an epoch after
    /// `epoch`: a source restarted from its AOF counts its offsets from lower than before, so
    /// until the new epoch arrives the old checkpoints look caught up.
    pub fn wait_epoch_after(&mut self, target: &RedisServer, epoch: u64) {
        let deadline = Instant::now() + Duration::from_secs(180);
        while checkpoint_epoch(target, &self.topic) <= epoch {
            assert!(
                Instant::now() < deadline,
                "no epoch after {epoch} reached the target:\n{}",
                self.producer.as_ref().map(Proc::log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_caught_up(&mut self, source: &RedisServer, target: &RedisServer) {
        let mut procs: Vec<&mut Proc> = self
            .producer
            .iter_mut()
            .chain(self.consumer.iter_mut())
            .collect();
        wait_caught_up(source, target, &self.topic, &mut procs);
    }

    /// Stops both processes; returns the consumer's log, then the producer's.
    pub fn stop(mut self) -> (String, String) {
        let consumer = self.consumer.take().map(Proc::stop).unwrap_or_default();
        let producer = self.producer.take().map(Proc::stop).unwrap_or_default();
        (consumer, producer)
    }
}
