//! A fault rig: a source with a snapshot worth interrupting (small keys and one big list that
//! travels in about a hundred chunks), an empty target, the slotstream processes between them for one
//! [`Role`], and what phase the copy is in as the servers show it.

use crate::common::broker::{consume_cmd, produce_cmd, Broker};
use crate::common::dataset;
use crate::common::follow::{broker_with_topic, sync_cmd, sync_log, wait_caught_up, PARTITIONS};
use crate::common::RedisServer;
use slotstream_schemas::slot::{key_slot, partition_for_slot};
use slotstream_test_support::Proc;
use std::time::{Duration, Instant};

/// The big list, alone in its hash tag so its part mark is known.
pub const BIG_KEY: &str = "{big}:list";
pub(crate) const PART_MARK: &str = "__slotstream:part:{big}";
/// The big list's db: one the workload leaves alone, and after db 0 in the snapshot, so a
/// limited consumer has used up its burst on the small keys by the time the parts come.
pub(crate) const BIG_DB: u8 = 3;
const SMALL_KEYS: usize = 20_000;

/// The big list of a snapshot: elements of 1 KB, and the chunks it travels in.
#[derive(Debug, Clone, Copy)]
pub struct BigList {
    pub elements: usize,
    pub chunk_bytes: &'static str,
}

/// Straight into the target: 12 MB in about 90 chunks, long enough to be killed in.
pub const SYNC_BIG_LIST: BigList = BigList {
    elements: 12_000,
    chunk_bytes: "131072",
};
/// Through Kafka: 1 MB in about 32 chunks, all in one partition. Four epochs of it fit in what
/// `slotstream dev-broker` keeps per partition (about 5 MB), so a consumer a few snapshots
/// behind a producer that restarts over and over loses nothing to retention. The workload's
/// streams (trimmed to about 100 entries) stay under the chunk size: a stream in chunks is
/// rewritten as commands, which cannot re-create a pending entry whose message was deleted
/// (COMPATIBILITY.md), and the workload makes such entries.
pub const KAFKA_BIG_LIST: BigList = BigList {
    elements: 1_000,
    chunk_bytes: "32768",
};
/// The consumer's `--max-ops` through Kafka: five times what the workload and the ledger write,
/// in small batches (a tenth of a second's share per partition, 250 writes), so the big list's
/// parts span several batches and a kill can land between them.
const CONSUMER_MAX_OPS: &str = "20000";

/// The big list's part mark, and the checkpoint of its partition, as the target shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartState {
    pub(crate) mark: Option<String>,
    checkpoint: Vec<(String, String)>,
}

impl PartState {
    /// The value is half-built, and its partition moved since `start`: it is being applied.
    pub(crate) fn building_since(&self, start: &PartState) -> bool {
        self.mark.is_some() && self != start
    }
}

/// The process the faults are aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Sync,
    Produce,
    Consume,
}

/// Where a copy stands, as the source (its replica's state) and the target (checkpoints, the
/// big value's part mark) show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Not connected yet, or between two steps.
    Starting,
    Snapshot,
    /// The big list's parts are being applied.
    BigValue,
    Live,
}

pub struct Rig {
    pub source: RedisServer,
    pub target: RedisServer,
    pub role: Role,
    /// The name the checkpoints carry: `sync:<source>` or the topic.
    pub log: String,
    sync: Option<Proc>,
    broker: Option<Broker>,
    producer: Option<Proc>,
    consumer: Option<Proc>,
    /// The big value's state when the victim last started: a mark left by an earlier run is no
    /// sign of the value being applied now.
    pub(crate) part_before: PartState,
    /// After [`Rig::force_new_epoch`]: the newest epoch the target had. Until the new epoch
    /// shows (a transfer, or a higher epoch in the checkpoints), the copy is not live.
    awaiting_epoch: Option<u64>,
}

impl Role {
    pub fn big_list(self) -> BigList {
        match self {
            Role::Sync => SYNC_BIG_LIST,
            Role::Produce | Role::Consume => KAFKA_BIG_LIST,
        }
    }
}

impl Rig {
    /// Source (with the snapshot data and `DEBUG` enabled, to force new epochs) and target; no
    /// process yet.
    pub fn new(role: Role, name: &str) -> Rig {
        let source = RedisServer::start_with_args(&["--enable-debug-command", "yes"]);
        let target = RedisServer::start();
        write_snapshot_data(&source, role.big_list());
        let (log, broker) = match role {
            Role::Sync => (sync_log(&source), None),
            Role::Produce | Role::Consume => {
                let topic = crate::common::broker::unique_topic(name);
                let broker = broker_with_topic(&topic);
                (topic, Some(broker))
            }
        };
        Rig {
            source,
            target,
            role,
            log,
            sync: None,
            broker,
            producer: None,
            consumer: None,
            part_before: PartState::default(),
            awaiting_epoch: None,
        }
    }

    /// Starts every process of the role's path.
    pub fn start_all(&mut self) {
        match self.role {
            Role::Sync => self.start(Role::Sync),
            Role::Produce | Role::Consume => {
                self.start(Role::Produce);
                self.start(Role::Consume);
            }
        }
    }

    /// Starts the victim, if it is not running.
    pub fn start_victim(&mut self) {
        self.part_before = self.part_state();
        self.start(self.role);
    }

    /// SIGKILL of the victim; returns the phase the kill landed in. When the victim writes the
    /// target (`sync`, `consume`), a part mark it left behind, new since it started, shows a
    /// kill inside the big value even when the value's parts came and went between two looks.
    /// For `produce` the phase is the consumer's at the kill, as the target shows it: a little
    /// behind the producer, and going on without it.
    pub fn kill_victim(&mut self) -> Phase {
        let before = self.phase();
        if let Some(mut proc) = self.slot(self.role).take() {
            proc.kill();
        }
        if self.role == Role::Produce {
            return before;
        }
        let after = self.part_state();
        match before {
            _ if after.building_since(&self.part_before) => Phase::BigValue,
            // The value was done by the time of the kill.
            Phase::BigValue => Phase::Snapshot,
            phase => phase,
        }
    }

    fn slot(&mut self, role: Role) -> &mut Option<Proc> {
        match role {
            Role::Sync => &mut self.sync,
            Role::Produce => &mut self.producer,
            Role::Consume => &mut self.consumer,
        }
    }

    fn start(&mut self, role: Role) {
        if self.slot(role).is_some() {
            return;
        }
        let mut cmd = match role {
            Role::Sync => {
                let mut cmd = sync_cmd(&self.source, &self.target);
                cmd.args(["--chunk-bytes", role.big_list().chunk_bytes]);
                cmd
            }
            Role::Produce => {
                let broker = self.broker.as_ref().expect("a broker");
                let mut cmd = produce_cmd(&self.source, broker, &self.log, PARTITIONS);
                cmd.args(["--chunk-bytes", role.big_list().chunk_bytes]);
                cmd
            }
            Role::Consume => {
                let broker = self.broker.as_ref().expect("a broker");
                let mut cmd = consume_cmd(&self.target, broker, &self.log);
                cmd.args(["--max-ops", CONSUMER_MAX_OPS]);
                cmd
            }
        };
        let name = format!("{role:?}").to_lowercase();
        *self.slot(role) = Some(Proc::spawn(&mut cmd, &name));
    }

    /// Through Kafka, before a new epoch is forced: lets the consumer apply what the topic holds
    /// first, so no more than the next pass ever waits in a partition (`slotstream dev-broker`
    /// keeps about 5 MB of one; a producer restarted faster than the consumer applies would
    /// outrun it into records deleted before they were applied). With the producer killed,
    /// until the consumer's checkpoints stand still. A killed consumer that had not begun the
    /// producer's last pass in every partition starts again and runs until it has (a consumer
    /// left dead with the pass to read from its start makes the big value's parts last longer).
    pub fn let_consumer_catch_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut last = (self.all_checkpoints(), Instant::now());
        loop {
            let caught_up = match self.role {
                Role::Sync => true,
                Role::Produce => {
                    let now = self.all_checkpoints();
                    if now != last.0 {
                        last = (now, Instant::now());
                    }
                    last.1.elapsed() >= Duration::from_millis(300)
                }
                Role::Consume => {
                    let replid = master_replid(&self.source);
                    let reached = self.all_checkpoints().iter().all(|checkpoint| {
                        checkpoint
                            .iter()
                            .any(|(field, value)| field == "replid" && *value == replid)
                    });
                    if !reached {
                        self.start_victim();
                    }
                    reached
                }
            };
            if caught_up {
                return;
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "the consumer did not catch up:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every partition's checkpoint, field by field.
    fn all_checkpoints(&self) -> Vec<Vec<(String, String)>> {
        let mut conn = self.target.conn();
        (0..PARTITIONS)
            .map(|p| {
                redis::cmd("HGETALL")
                    .arg(format!("__slotstream:checkpoint:{}:{p}", self.log))
                    .query(&mut conn)
                    .expect("HGETALL a checkpoint")
            })
            .collect()
    }

    /// Makes the next replica link a full resync with a new replication id, as a restarted
    /// source would: the producer (or `sync`) opens a new epoch. A connected producer is
    /// dropped, so it reconnects into the new epoch at once.
    pub fn force_new_epoch(&mut self) {
        self.awaiting_epoch = Some(self.checkpoints().1);
        let mut conn = self.source.conn();
        let _: () = redis::cmd("DEBUG")
            .arg("CHANGE-REPL-ID")
            .query(&mut conn)
            .expect("DEBUG CHANGE-REPL-ID");
        let _: redis::Value = redis::cmd("CLIENT")
            .arg(&["KILL", "TYPE", "replica"])
            .query(&mut conn)
            .expect("CLIENT KILL");
    }

    /// The phase the copy is in now.
    pub fn phase(&mut self) -> Phase {
        let part = self.part_state();
        let state = replica_state(&self.source);
        let (done, epoch) = self.checkpoints();
        let transferring = matches!(state.as_deref(), Some("wait_bgsave" | "send_bulk"));
        if self
            .awaiting_epoch
            .is_some_and(|before| transferring || epoch > before)
        {
            self.awaiting_epoch = None;
        }
        if part.building_since(&self.part_before) {
            return Phase::BigValue;
        }
        // The consumer's view: its checkpoints. The capture side's: its replica link.
        let applying = self.role != Role::Produce && done == Some(false);
        if transferring || applying {
            return Phase::Snapshot;
        }
        if self.awaiting_epoch.is_none() && state.as_deref() == Some("online") && done == Some(true)
        {
            return Phase::Live;
        }
        Phase::Starting
    }

    /// Waits until the copy is in `want` (or past it: a phase can be missed between two
    /// looks), and returns the phase reached.
    pub fn wait_for(&mut self, want: Phase) -> Phase {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let now = self.phase();
            if now >= want || (now == Phase::Live && want != Phase::Live) {
                return now;
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "the copy never reached {want:?} (at {now:?}):\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Panics with the logs if a process exited by itself.
    pub fn assert_running(&mut self) {
        for proc in [&mut self.sync, &mut self.producer, &mut self.consumer]
            .into_iter()
            .flatten()
        {
            if let Some(status) = proc.child.try_wait().expect("try_wait") {
                panic!("a slotstream process exited ({status}):\n{}", proc.log());
            }
        }
    }

    /// Every process's log so far.
    pub fn logs(&self) -> String {
        [&self.sync, &self.producer, &self.consumer]
            .into_iter()
            .flatten()
            .map(Proc::log)
            .collect::<Vec<_>>()
            .join("\n---\n")
    }

    /// Waits until the copy is live and the target's checkpoints reach the source's offset.
    pub fn wait_caught_up(&mut self) {
        self.wait_for(Phase::Live);
        let mut procs: Vec<&mut Proc> = [&mut self.sync, &mut self.producer, &mut self.consumer]
            .into_iter()
            .flatten()
            .collect();
        wait_caught_up(&self.source, &self.target, &self.log, &mut procs);
    }

    /// Stops every process; returns their logs.
    pub fn stop(&mut self) -> String {
        [self.sync.take(), self.producer.take(), self.consumer.take()]
            .into_iter()
            .flatten()
            .map(Proc::stop)
            .collect::<Vec<_>>()
            .join("\n---\n")
    }

    /// The big list's part mark and its partition's checkpoint. The mark alone is no identity:
    /// it counts parts, and every epoch counts them again from the start.
    pub(crate) fn part_state(&self) -> PartState {
        let partition = partition_for_slot(key_slot(BIG_KEY.as_bytes()), PARTITIONS);
        let mut conn = self.target.conn();
        let checkpoint = redis::cmd("HGETALL")
            .arg(format!("__slotstream:checkpoint:{}:{partition}", self.log))
            .query(&mut conn)
            .expect("HGETALL a checkpoint");
        let (_, mark): ((), Option<String>) = redis::pipe()
            .cmd("SELECT")
            .arg(BIG_DB)
            .cmd("GET")
            .arg(PART_MARK)
            .query(&mut conn)
            .expect("GET the part mark");
        PartState { mark, checkpoint }
    }

    fn checkpoints(&self) -> (Option<bool>, u64) {
        checkpoints(&self.target, &self.log)
    }
}

/// Whether every partition's checkpoint of `log` says its snapshot is applied (`None`: some
/// partition has none yet), and the newest epoch among them.
pub fn checkpoints(target: &RedisServer, log: &str) -> (Option<bool>, u64) {
    let mut conn = target.conn();
    let (mut done, mut newest) = (Some(true), 0);
    for p in 0..PARTITIONS {
        let (flag, epoch): (Option<u8>, Option<u64>) = redis::cmd("HMGET")
            .arg(format!("__slotstream:checkpoint:{log}:{p}"))
            .arg("snapshot_done")
            .arg("epoch")
            .query(&mut conn)
            .expect("HMGET a checkpoint");
        newest = newest.max(epoch.unwrap_or(0));
        done = match (done, flag) {
            (Some(all), Some(flag)) => Some(all && flag == 1),
            _ => None,
        };
    }
    (done, newest)
}

/// Bookkeeping of big values left on the target (`__slotstream:build:*` under construction,
/// `__slotstream:part:*` marks), in every db: once the copy has caught up, none may remain.
pub fn half_built_values(target: &RedisServer) -> Vec<String> {
    let mut conn = target.conn();
    let mut found = Vec::new();
    for db in 0..16 {
        let _: () = redis::cmd("SELECT")
            .arg(db)
            .query(&mut conn)
            .expect("SELECT");
        for pattern in ["__slotstream:build:*", "__slotstream:part:*"] {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(pattern)
                .query(&mut conn)
                .expect("KEYS");
            found.extend(keys.into_iter().map(|key| format!("db {db}: {key}")));
        }
    }
    found
}

/// The source's replication id.
pub fn master_replid(source: &RedisServer) -> String {
    source.info_field("replication", "master_replid")
}

/// The state of the source's first replica (`wait_bgsave`, `send_bulk`, `online`), if any.
pub fn replica_state(source: &RedisServer) -> Option<String> {
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut source.conn())
        .expect("INFO replication");
    let line = info.lines().find(|l| l.starts_with("slave0:"))?;
    line.split(',')
        .find_map(|field| field.strip_prefix("state="))
        .map(str::to_string)
}

/// Small strings in db 0 and the big list in db 3, of incompressible elements: most of the
/// snapshot's bytes.
pub fn write_snapshot_data(source: &RedisServer, big: BigList) {
    let mut conn = source.conn();
    dataset::write_small_strings(&mut conn, SMALL_KEYS);
    let _: () = redis::cmd("SELECT")
        .arg(BIG_DB)
        .query(&mut conn)
        .expect("SELECT");
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for start in (0..big.elements).step_by(500) {
        let mut pipe = redis::pipe();
        for i in start..(start + 500).min(big.elements) {
            let element: String = (0..1000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from(b'a' + (x % 26) as u8)
                })
                .collect();
            pipe.cmd("RPUSH")
                .arg(BIG_KEY)
                .arg(format!("{i}:{element}"))
                .ignore();
        }
        pipe.query::<()>(&mut conn).expect("RPUSH the big list");
    }
}

/// Waits until `ready` (given the process, to read its log), while `proc` runs; panics with
/// its log if it exits, or after a generous liveness bound.
pub fn wait_until(proc: &mut Proc, what: &str, mut ready: impl FnMut(&Proc) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready(proc) {
        if let Some(status) = proc.child.try_wait().expect("try_wait") {
            panic!(
                "{what}: the process exited ({status}) first:\n{}",
                proc.log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no {what} after 120 s:\n{}",
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
