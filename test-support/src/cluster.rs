//! [`Cluster`]: a real Redis Cluster of throwaway servers (each a [`RedisServer`] on its own
//! loopback port and cluster bus port), made with `redis-cli --cluster create` and ready only
//! once every node says `cluster_state:ok`; every node stops on `Drop`.

use crate::server::{free_port, on_path, RedisServer, DEFAULT_BINARY};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long the nodes get to agree on the slots and their replicas.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The tools that create a cluster, in order of preference.
const CLIS: [&str; 2] = ["redis-cli", "valkey-cli"];

/// A running cluster: primaries own all 16384 slots between them, each with its replicas.
pub struct Cluster {
    nodes: Vec<RedisServer>,
    primaries: Vec<usize>,
    /// `redis-cli` or `valkey-cli`, for changes to the cluster.
    cli: PathBuf,
}

impl Cluster {
    /// `primaries` (at least 3) primaries of `redis-server` from `PATH`, each with
    /// `replicas_per_primary` replicas.
    pub fn start(primaries: usize, replicas_per_primary: usize) -> Cluster {
        let Some(binary) = on_path(DEFAULT_BINARY) else {
            panic!("{DEFAULT_BINARY} is not on PATH; the cluster tests need it");
        };
        Self::start_binary(binary, primaries, replicas_per_primary)
    }

    /// The same with a given server binary (Redis 5.0+ or Valkey). `redis-cli` (or
    /// `valkey-cli`) is taken from beside the binary, else from `PATH`.
    pub fn start_binary(
        binary: impl AsRef<Path>,
        primaries: usize,
        replicas_per_primary: usize,
    ) -> Cluster {
        assert!(
            primaries >= 3,
            "a cluster needs at least 3 primaries (redis-cli --cluster create), not {primaries}"
        );
        let binary = binary.as_ref();
        let bus_port_option = has_bus_port_option(binary);
        let count = primaries * (1 + replicas_per_primary);
        let nodes: Vec<RedisServer> = (0..count)
            .map(|_| {
                RedisServer::start_binary_with(binary, |_| {
                    let mut args = vec![
                        "--cluster-enabled".to_string(),
                        "yes".to_string(),
                        "--cluster-node-timeout".to_string(),
                        "5000".to_string(),
                    ];
                    // Without it the bus listens on port + 10000, which may be taken or out of
                    // range; the server then fails to start and is tried on another port.
                    if bus_port_option {
                        args.extend(["--cluster-port".to_string(), free_port().to_string()]);
                    }
                    args
                })
            })
            .collect();
        let cli = find_cli(binary);
        let output = Command::new(&cli)
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())))
            .args(["--cluster-replicas", &replicas_per_primary.to_string()])
            .arg("--cluster-yes")
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", cli.display()));
        assert!(
            output.status.success(),
            "{} --cluster create failed:\n{}\n{}",
            cli.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let mut cluster = Cluster {
            nodes,
            primaries: Vec::new(),
            cli,
        };
        cluster.wait_ready(count, primaries);
        cluster
    }

    /// Waits until every node has every slot assigned, knows every other node and says
    /// `cluster_state:ok`, and every replica's link to its primary is up.
    fn wait_ready(&mut self, count: usize, primaries: usize) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let states: Vec<NodeState> = self.nodes.iter().map(NodeState::read).collect();
            let ready = states.iter().all(|s| s.ready(count));
            let primary_count = states.iter().filter(|s| s.primary).count();
            if ready && primary_count == primaries {
                self.primaries = (0..self.nodes.len())
                    .filter(|&i| states[i].primary)
                    .collect();
                return;
            }
            if Instant::now() > deadline {
                let ports: Vec<u16> = self.nodes.iter().map(|n| n.port()).collect();
                let logs: Vec<String> = self.nodes.iter().map(|n| n.log()).collect();
                panic!(
                    "the cluster was not ready within {READY_TIMEOUT:?}: ports {ports:?}, \
                     states {states:?}\n{}",
                    logs.join("\n---\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Moves `slots` slots from primary `from` to primary `to` (indexes into
    /// [`Cluster::primaries`]) with `redis-cli --cluster reshard`, key by key as the tool does;
    /// returns once it is done.
    pub fn reshard(&self, from: usize, to: usize, slots: usize) {
        let primaries = self.primaries();
        let id = |node: &RedisServer| -> String {
            redis::cmd("CLUSTER")
                .arg("MYID")
                .query(&mut node.conn())
                .expect("CLUSTER MYID")
        };
        let output = Command::new(&self.cli)
            .arg("--cluster")
            .arg("reshard")
            .arg(format!("127.0.0.1:{}", primaries[from].port()))
            .args(["--cluster-from", &id(primaries[from])])
            .args(["--cluster-to", &id(primaries[to])])
            .args(["--cluster-slots", &slots.to_string()])
            .arg("--cluster-yes")
            .output()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", self.cli.display()));
        assert!(
            output.status.success(),
            "{} --cluster reshard failed:\n{}\n{}",
            self.cli.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Promotes `replica` (an index into [`Cluster::replicas`]) with `CLUSTER FAILOVER`, as an
    /// operator's planned failover does (no write is lost), and returns once the cluster is
    /// whole again with it as a primary; [`Cluster::primaries`] then names it.
    pub fn failover(&mut self, replica: usize) {
        let node = (0..self.nodes.len())
            .filter(|i| !self.primaries.contains(i))
            .nth(replica)
            .expect("no such replica");
        let deadline = Instant::now() + READY_TIMEOUT;
        // A manual failover the primary does not answer in time is dropped: ask again.
        let mut asked: Option<Instant> = None;
        while !NodeState::read(&self.nodes[node]).primary {
            assert!(
                Instant::now() < deadline,
                "the replica did not become a primary:\n{}",
                self.nodes[node].log()
            );
            if asked.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                let _: () = redis::cmd("CLUSTER")
                    .arg("FAILOVER")
                    .query(&mut self.nodes[node].conn())
                    .expect("CLUSTER FAILOVER");
                asked = Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let primaries = self.primaries.len();
        self.wait_ready(self.nodes.len(), primaries);
    }

    /// Every node, primaries and replicas.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// The primaries, in the order they were created.
    pub fn primaries(&self) -> Vec<&RedisServer> {
        self.primaries.iter().map(|&i| &self.nodes[i]).collect()
    }

    /// The replicas.
    pub fn replicas(&self) -> Vec<&RedisServer> {
        (0..self.nodes.len())
            .filter(|i| !self.primaries.contains(i))
            .map(|i| &self.nodes[i])
            .collect()
    }

    /// The primary that owns `key`'s slot (asked of the cluster: `CLUSTER KEYSLOT` and
    /// `CLUSTER SLOTS`).
    pub fn primary_for(&self, key: &[u8]) -> &RedisServer {
        let mut conn = self.nodes[self.primaries[0]].conn();
        let slot: i64 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut conn)
            .expect("CLUSTER KEYSLOT");
        let ranges: Vec<redis::Value> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query(&mut conn)
            .expect("CLUSTER SLOTS");
        for range in ranges {
            let redis::Value::Array(fields) = range else {
                continue;
            };
            let number = |i: usize| match fields.get(i) {
                Some(redis::Value::Int(n)) => *n,
                other => panic!("CLUSTER SLOTS: unexpected field {other:?}"),
            };
            if !(number(0)..=number(1)).contains(&slot) {
                continue;
            }
            let Some(redis::Value::Array(owner)) = fields.get(2) else {
                panic!("CLUSTER SLOTS: no owner for {slot}");
            };
            let Some(redis::Value::Int(port)) = owner.get(1) else {
                panic!("CLUSTER SLOTS: no port in {owner:?}");
            };
            return self
                .nodes
                .iter()
                .find(|n| i64::from(n.port()) == *port)
                .expect("the owner is one of the nodes");
        }
        panic!("no node owns slot {slot}");
    }

    /// Sets `key` to `value` on the primary that owns it.
    pub fn set(&self, key: &str, value: &str) {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query(&mut self.primary_for(key.as_bytes()).conn())
            .expect("SET on the owning primary");
    }
}

/// What one node says about the cluster.
#[derive(Debug)]
struct NodeState {
    state_ok: bool,
    slots_assigned: u64,
    known_nodes: u64,
    primary: bool,
    link_up: bool,
}

impl NodeState {
    fn read(node: &RedisServer) -> NodeState {
        let mut conn = node.conn();
        let cluster: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query(&mut conn)
            .unwrap_or_default();
        let replication: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut conn)
            .unwrap_or_default();
        let field = |text: &str, name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(|value| value.trim().to_string())
                .unwrap_or_default()
        };
        let primary = field(&replication, "role") == "master";
        NodeState {
            state_ok: field(&cluster, "cluster_state") == "ok",
            slots_assigned: field(&cluster, "cluster_slots_assigned")
                .parse()
                .unwrap_or(0),
            known_nodes: field(&cluster, "cluster_known_nodes").parse().unwrap_or(0),
            primary,
            link_up: primary || field(&replication, "master_link_status") == "up",
        }
    }

    fn ready(&self, count: usize) -> bool {
        self.state_ok
            && self.slots_assigned == 16384
            && self.known_nodes == count as u64
            && self.link_up
    }
}

/// Whether the server takes `--cluster-port` (Redis 7.0+, every Valkey).
fn has_bus_port_option(binary: &Path) -> bool {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .unwrap_or_else(|err| panic!("cannot run {} --version: {err}", binary.display()));
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Valkey") {
        return true;
    }
    let major = text
        .split("v=")
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    major >= 7
}

/// `redis-cli` or `valkey-cli` beside `binary`, else on `PATH`.
fn find_cli(binary: &Path) -> PathBuf {
    let beside = binary
        .parent()
        .into_iter()
        .flat_map(|dir| CLIS.map(|c| dir.join(c)));
    beside
        .chain(CLIS.iter().filter_map(|c| on_path(c)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no redis-cli or valkey-cli beside {} or on PATH; install redis-tools",
                binary.display()
            )
        })
}
