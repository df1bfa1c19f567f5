//! [`Sentinels`]: three Redis Sentinels on free loopback ports watching the primaries a test
//! names (quorum 2, a primary taken as down after 1 s), killed on `Drop`; and a failover that
//! waits until the new primary is in place.

use crate::server::{free_port, on_path, DEFAULT_BINARY};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Three sentinels and their config dirs.
pub struct Sentinels {
    children: Vec<Child>,
    pub ports: Vec<u16>,
    dir: PathBuf,
}

impl Sentinels {
    /// Starts three sentinels watching each `(name, primary port)`, and waits until each knows
    /// every primary and one replica of it (a failover needs one).
    pub fn start(masters: &[(&str, u16)]) -> Sentinels {
        let binary = on_path(DEFAULT_BINARY).expect("redis-server on PATH (it runs sentinels)");
        let dir = std::env::temp_dir().join(format!(
            "slotstream-sentinels-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("create the sentinels' dir");
        let mut sentinels = Sentinels {
            children: Vec::new(),
            ports: Vec::new(),
            dir,
        };
        for i in 0..3 {
            let port = free_port();
            let mut conf = format!(
                "port {port}\nbind 127.0.0.1\ndir {}\n",
                sentinels.dir.display()
            );
            for (name, primary) in masters {
                conf += &format!(
                    "sentinel monitor {name} 127.0.0.1 {primary} 2\n\
                     sentinel down-after-milliseconds {name} 1000\n\
                     sentinel failover-timeout {name} 5000\n"
                );
            }
            // Sentinels rewrite their config file: each needs its own, writable.
            let file = sentinels.dir.join(format!("sentinel-{i}.conf"));
            std::fs::write(&file, conf).expect("write a sentinel config");
            let log = std::fs::File::create(sentinels.dir.join(format!("sentinel-{i}.log")))
                .expect("create a sentinel log");
            let child = Command::new(&binary)
                .arg(&file)
                .arg("--sentinel")
                .stdout(Stdio::from(log))
                .stderr(Stdio::null())
                .spawn()
                .expect("start a sentinel");
            sentinels.children.push(child);
            sentinels.ports.push(port);
        }
        for (name, _) in masters {
            sentinels.wait(
                Duration::from_secs(60),
                &format!("sentinels know {name}'s replica"),
                |s| s.ports.iter().all(|port| knows_a_replica(*port, name)),
            );
        }
        sentinels
    }

    /// `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/<name>`
    pub fn url(&self, name: &str) -> String {
        let hosts: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+sentinel://{}/{name}", hosts.join(","))
    }

    /// The port of `name`'s primary, as the first sentinel sees it.
    pub fn primary(&self, name: &str) -> u16 {
        primary_of(self.ports[0], name).expect("the sentinel names the primary")
    }

    /// `SENTINEL FAILOVER <name>`; waits until every sentinel names another primary, that
    /// primary says it is one, and the old one replicates from it. Returns the new port.
    pub fn failover(&self, name: &str) -> u16 {
        let old = self.primary(name);
        let _: String = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg(name)
            .query(&mut conn(self.ports[0]).expect("the first sentinel answers"))
            .expect("SENTINEL FAILOVER");
        let mut new = old;
        self.wait(
            Duration::from_secs(60),
            &format!("a new primary for {name}"),
            |s| {
                let named: Vec<Option<u16>> =
                    s.ports.iter().map(|p| primary_of(*p, name)).collect();
                match named[0] {
                    Some(port) if port != old && named.iter().all(|n| *n == Some(port)) => {
                        new = port;
                        role(port) == "master" && master_port(old) == Some(port)
                    }
                    _ => false,
                }
            },
        );
        new
    }

    fn wait(&self, bound: Duration, what: &str, mut done: impl FnMut(&Sentinels) -> bool) {
        let deadline = Instant::now() + bound;
        while !done(self) {
            if Instant::now() > deadline {
                let logs: Vec<String> = (0..3)
                    .map(|i| {
                        std::fs::read_to_string(self.dir.join(format!("sentinel-{i}.log")))
                            .unwrap_or_default()
                    })
                    .collect();
                panic!("no {what} after {bound:?}:\n{}", logs.join("\n---\n"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sentinels {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A connection to `port`, or `None` while it does not answer yet.
fn conn(port: u16) -> Option<redis::Connection> {
    redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .ok()?
        .get_connection_with_timeout(Duration::from_secs(2))
        .ok()
}

fn primary_of(sentinel: u16, name: &str) -> Option<u16> {
    let reply: Option<(String, String)> = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(name)
        .query(&mut conn(sentinel)?)
        .ok()?;
    reply?.1.parse().ok()
}

fn knows_a_replica(sentinel: u16, name: &str) -> bool {
    let Some(mut conn) = conn(sentinel) else {
        return false;
    };
    let replicas: redis::RedisResult<Vec<std::collections::HashMap<String, String>>> =
        redis::cmd("SENTINEL")
            .arg("REPLICAS")
            .arg(name)
            .query(&mut conn);
    replicas.is_ok_and(|replicas| {
        replicas.iter().any(|r| {
            r.get("flags").is_some_and(|f| f == "slave")
                && r.get("master-link-status").is_some_and(|s| s == "ok")
        })
    })
}

fn info_field(port: u16, name: &str) -> Option<String> {
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query(&mut conn(port)?)
        .ok()?;
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(|value| value.trim().to_string())
}

fn role(port: u16) -> String {
    info_field(port, "role").unwrap_or_default()
}

fn master_port(port: u16) -> Option<u16> {
    (role(port) == "slave").then(|| info_field(port, "master_port")?.parse().ok())?
}
