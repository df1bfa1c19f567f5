//! `--metrics-addr` on a running `sync`: `/healthz` answers while it runs, `/readyz` only once
//! every partition is past its snapshot, `/metrics` counts what the target really received
//! (the snapshot's keys, the live commands) and gives a lag per partition, the status page at
//! `/` renders those numbers in a real headless browser (Debian's `chromium`), and a taken
//! address stops the command before it writes, naming the option. Lag alerts and JSON logs
//! below.

mod common;

use common::broker::{consume_cmd, produce_cmd, read_all, unique_topic, Broker};
use common::dataset::write_small_strings;
use common::follow::{
    assert_identical, fails, sync_cmd, sync_log, wait_caught_up, Proc, PARTITIONS,
};
use common::{key_count, RedisServer};
use slotstream_test_support::server::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SNAPSHOT_KEYS: usize = 5_000;
const LIVE_COMMANDS: usize = 300;

/// `GET path` from `addr`: the status and the body (`None`: nothing listens there yet).
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    // HTTP/1.0: the answer comes whole, never in chunks.
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Some((status, body))
}

/// `GET path` until it answers `status`, for at most `limit`.
fn wait_for_status(addr: &str, path: &str, status: u16, limit: Duration, sync: &Proc) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let answer = get(addr, path);
        if let Some((got, body)) = &answer {
            if *got == status {
                return body.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{path} did not answer {status} within {limit:?} (last: {answer:?}):\n{}",
            sync.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The first of `names` found on `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Headless Chromium's view of `url` once its scripts ran for 5 s of page time: the DOM as
/// text, and a screenshot written to `screenshot`. `None` (outside CI) without Chromium.
fn browse(url: &str, screenshot: &Path) -> Option<String> {
    // The names headless Chromium comes as.
    let Some(binary) = on_path(&["chromium", "chromium-browser", "google-chrome"]) else {
        slotstream_test_support::missing::report(
            "chromium",
            Path::new("PATH"),
            "apt-get install chromium",
        );
        return None;
    };
    let profile = std::env::temp_dir().join(format!("slotstream-chromium-{}", std::process::id()));
    let run = |extra: &[String]| {
        let output = Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                // Containers often give /dev/shm only 64 MB.
                "--disable-dev-shm-usage",
                "--virtual-time-budget=5000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(url)
            .output()
            .expect("run chromium");
        assert!(
            output.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    let dom = run(&["--dump-dom".to_string()]);
    run(&[
        "--window-size=1200,900".to_string(),
        format!("--screenshot={}", screenshot.display()),
    ]);
    let _ = std::fs::remove_dir_all(&profile);
    Some(dom)
}

/// The value of the sample `name` (with its labels, if any) in Prometheus text.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
}

#[test]
fn sync_serves_health_readiness_and_counters_of_what_it_copied() {
    let source = RedisServer::start();
    write_small_strings(&mut source.conn(), SNAPSHOT_KEYS);
    let target = RedisServer::start();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = sync_cmd(&source, &target);
    cmd.args(["--metrics-addr", &addr, "--ready-lag-secs", "60"]);
    let mut sync = Proc::spawn(&mut cmd, "sync");
    wait_for_status(&addr, "/healthz", 200, Duration::from_secs(30), &sync);
    let log = sync_log(&source);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    wait_for_status(&addr, "/readyz", 200, Duration::from_secs(30), &sync);

    let mut conn = source.conn();
    for i in 0..LIVE_COMMANDS {
        let _: () = redis::cmd("SET")
            .arg(format!("live:{i}"))
            .arg(i)
            .query(&mut conn)
            .unwrap();
    }
    let written = common::follow::source_offset(&source);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    assert_identical(&source, &target);
    let (status, text) = get(&addr, "/metrics").expect("/metrics answers");
    assert_eq!(status, 200, "{text}");
    let applied = sample(&text, "slotstream_snapshot_keys_applied_total");
    assert_eq!(applied as usize, SNAPSHOT_KEYS, "{text}");
    // Live commands are counted once applied; the progress counters are read, not reset.
    let commands = sample(&text, "slotstream_commands_applied_total") as usize;
    assert!(
        commands >= LIVE_COMMANDS,
        "{commands} commands counted, {LIVE_COMMANDS} written and applied:\n{text}"
    );
    assert_eq!(sample(&text, "slotstream_partitions"), PARTITIONS as f64);
    assert_eq!(
        sample(&text, "slotstream_partitions_live"),
        PARTITIONS as f64
    );
    assert_eq!(sample(&text, "slotstream_ready"), 1.0, "{text}");
    let lags = text
        .lines()
        .filter(|l| l.starts_with("slotstream_lag_seconds{"))
        .count();
    assert_eq!(lags, PARTITIONS as usize, "one lag per partition:\n{text}");
    // Each partition's checkpoint as the metrics say, against the target's own: past the
    // live writes, and not past what the target holds now.
    let mut conn = target.conn();
    for partition in 0..PARTITIONS {
        let name = format!("slotstream_checkpoint_offset{{shard=\"\",partition=\"{partition}\"}}");
        let shown = sample(&text, &name) as u64;
        let stored: u64 = redis::cmd("HGET")
            .arg(format!("__slotstream:checkpoint:{log}:{partition}"))
            .arg("offset")
            .query(&mut conn)
            .unwrap();
        assert!(
            written <= shown && shown <= stored,
            "{name} {shown}: the writes end at {written}, the target's checkpoint is at {stored}"
        );
        let epoch = format!("slotstream_checkpoint_epoch{{shard=\"\",partition=\"{partition}\"}}");
        assert_eq!(sample(&text, &epoch), 1.0, "{text}");
    }
    // The capture's offset (reported about every second) reaches the writes' end.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, text) = get(&addr, "/metrics").expect("/metrics answers");
        let followed = sample(&text, "slotstream_source_offset{shard=\"\"}") as u64;
        if followed >= written {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "source_offset {followed} < {written}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let batches = sample(&text, "slotstream_batch_seconds_count");
    let in_buckets = sample(&text, "slotstream_batch_seconds_bucket{le=\"+Inf\"}");
    assert!(batches > 0.0 && in_buckets == batches, "{text}");
    assert_eq!(get(&addr, "/nothing").map(|(s, _)| s), Some(404));

    // The status page, as a person sees it.
    let screenshot = std::env::var_os("SLOTSTREAM_STATUS_SCREENSHOT").map_or_else(
        || std::env::temp_dir().join(format!("slotstream-status-{}.png", std::process::id())),
        PathBuf::from,
    );
    if let Some(dom) = browse(&format!("http://{addr}/"), &screenshot) {
        for shown in [
            "<span id=\"phase\" class=\"ok\">live</span>".to_string(),
            format!("{PARTITIONS} of {PARTITIONS} partitions live"),
            format!(
                "<div class=\"value\" id=\"keys\">{}</div>",
                number_with_commas(SNAPSHOT_KEYS)
            ),
            format!("{} applied", number_with_commas(commands)),
            "<div class=\"value ok\" id=\"ready\">yes</div>".to_string(),
        ] {
            assert!(
                dom.contains(&shown),
                "the page does not show {shown:?}:\n{dom}"
            );
        }
        let png = std::fs::read(&screenshot).expect("the screenshot");
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 20_000,
            "{} bytes",
            png.len()
        );
    }

    // The address is taken: a second sync stops at once, naming the option.
    let other = RedisServer::start();
    let mut second = sync_cmd(&source, &other);
    second.args(["--metrics-addr", &addr]);
    let out = fails(&mut second, "a second sync on the same address");
    assert!(
        out.contains(&format!("cannot serve metrics on --metrics-addr {addr}")),
        "{out}"
    );
    assert_eq!(key_count(&other), 0, "the second sync wrote:\n{out}");
    sync.stop();
    status_of_a_stopped_sync(&source, &target);
}

/// `slotstream status --source --target` after a sync stopped, with writes it has not seen:
/// each partition's checkpoint against the source's replication offset, as read directly.
fn status_of_a_stopped_sync(source: &RedisServer, target: &RedisServer) {
    let mut conn = source.conn();
    for i in 0..50 {
        let _: () = redis::cmd("SET")
            .arg(format!("late:{i}"))
            .arg(i)
            .query(&mut conn)
            .unwrap();
    }
    let offset = || -> i64 {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut source.conn())
            .unwrap();
        let line = info
            .lines()
            .find_map(|l| l.strip_prefix("master_repl_offset:"));
        line.unwrap().trim().parse().unwrap()
    };
    let before = offset();
    let output = Command::new(common::SLOTSTREAM)
        .args([
            "status",
            "--source",
            &source.url(),
            "--target",
            &target.url(),
            "--json",
        ])
        .args(["--partitions", &PARTITIONS.to_string()])
        .output()
        .unwrap();
    assert_eq!(offset(), before, "the source moved while status ran");
    let text = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{err}: {text}\n{}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(output.status.code(), Some(0), "no --max-lag-secs: {report}");
    let log = &report["logs"][0];
    assert_eq!(log["log"], sync_log(source).as_str(), "{report}");
    assert_eq!(log["unit"], "bytes", "{report}");
    let rows = log["partitions"].as_array().expect("partitions");
    assert_eq!(rows.len(), PARTITIONS as usize, "{report}");
    let mut conn = target.conn();
    for (partition, row) in rows.iter().enumerate() {
        let key = format!("{}:{partition}", sync_log(source));
        let (applied, epoch): (i64, i64) = redis::cmd("HMGET")
            .arg(format!("__slotstream:checkpoint:{key}"))
            .arg("offset")
            .arg("epoch")
            .query(&mut conn)
            .unwrap();
        assert_eq!(row["applied"].as_i64(), Some(applied), "{row}");
        assert_eq!(row["end"].as_i64(), Some(before), "{row}");
        assert_eq!(row["lag"].as_i64(), Some(before - applied), "{row}");
        assert_eq!(row["epoch"].as_i64(), Some(epoch), "{row}");
        assert_eq!(row["snapshot_done"].as_bool(), Some(true), "{row}");
        assert!(before > applied, "the late writes are not applied: {row}");
        assert!(
            row["lag_seconds"].as_f64().is_some_and(|s| s > 0.0),
            "{row}"
        );
    }
}

/// `1234567` → `1,234,567`, as the page shows numbers.
fn number_with_commas(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A webhook receiver: every request's body, as it arrives.
fn webhook() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as many body bytes as Content-Length says.
            let body = loop {
                let Ok(n) = stream.read(&mut buf) else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                let Some((head, body)) = text.split_once("\r\n\r\n") else {
                    continue;
                };
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_string())
                    })
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    break Some(body.to_string());
                }
            };
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            if let Some(body) = body {
                let _ = tx.send(body);
            }
        }
    });
    (url, rx)
}

/// `--alert-lag-secs`: a copy held back (`--live-max-ops 250`) under 3,000 writes warns once its
/// lag passes the threshold and says when it is back under, and the webhook gets a JSON
/// document for each; logs come as one JSON object per line with `--log-format json`.
#[test]
fn lag_alerts_are_logged_and_posted_and_logs_can_be_json() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    let (url, posted) = webhook();
    let mut cmd = sync_cmd(&source, &target);
    // Slow enough that the writes outrun it even on a loaded machine (at 500/s a starved
    // source once wrote slower than that, and no lag built up).
    cmd.args(["--live-max-ops", "250", "--ttl-extension-secs", "600"])
        .args(["--alert-lag-secs", "1", "--alert-webhook", &url])
        .args(["--log-format", "json"]);
    let mut sync = Proc::spawn(&mut cmd, "sync");
    let log = sync_log(&source);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    write_small_strings(&mut source.conn(), 3_000);
    wait_caught_up(&source, &target, &log, &mut [&mut sync]);
    common::follow::wait_logged(
        &sync,
        "lag back under --alert-lag-secs",
        Duration::from_secs(60),
    );
    let text = sync.log();
    assert!(text.contains("lag over --alert-lag-secs"), "{text}");
    let events: Vec<serde_json::Value> = (0..2)
        .map(|_| {
            let body = posted
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("the webhook got fewer than 2 documents:\n{text}"));
            serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"))
        })
        .collect();
    assert_eq!(events[0]["event"], "lag_over", "{events:?}");
    assert!(
        events[0]["lag_seconds"].as_f64().unwrap() > 1.0,
        "{events:?}"
    );
    assert_eq!(events[1]["event"], "lag_recovered", "{events:?}");
    assert_eq!(events[0]["command"], "sync", "{events:?}");
    // Every line of the log is a JSON object with a level and a message.
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
        assert!(object["level"].is_string(), "{line}");
        assert!(object["fields"]["message"].is_string(), "{line}");
    }
    assert_identical(&source, &target);
    sync.stop();
}

/// Partitions of the idle topic (the acceptance figure counts 16).
const IDLE_PARTITIONS: u32 = 16;
/// How long the source stays idle while heartbeats are counted.
const IDLE_SECS: u64 = 60;
/// An idle partition gets a heartbeat at most every 5 s (`LIVENESS_TICKS` ticks of at least
/// 100 ms, after a `PING` of the source; every 10 s without one).
const IDLE_HEARTBEAT_SECS: u64 = 5;

/// A real Prometheus server (Debian's `prometheus`) scraping `target` every second.
struct Prometheus {
    proc: Option<Proc>,
    addr: String,
    dir: PathBuf,
}

/// Stopped, and its data removed, however the test ends.
impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(proc) = self.proc.take() {
            proc.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Prometheus {
    /// `None` (outside CI) when `prometheus` is not installed.
    fn start(target: &str) -> Option<Prometheus> {
        let Some(binary) = on_path(&["prometheus"]) else {
            slotstream_test_support::missing::report(
                "prometheus",
                Path::new("PATH"),
                "apt-get install prometheus",
            );
            return None;
        };
        let addr = format!("127.0.0.1:{}", free_port());
        let dir = std::env::temp_dir().join(format!("slotstream-prometheus-{addr}"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: slotstream\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new(binary);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"));
        let proc = Proc::spawn(&mut cmd, "prometheus");
        wait_for_status(&addr, "/-/ready", 200, Duration::from_secs(60), &proc);
        Some(Prometheus {
            proc: Some(proc),
            addr,
            dir,
        })
    }

    /// The result of an instant query (a name without labels: nothing to escape).
    fn query(&self, name: &str) -> Vec<serde_json::Value> {
        let (status, body) =
            get(&self.addr, &format!("/api/v1/query?query={name}")).expect("prometheus answers");
        assert_eq!(status, 200, "{body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// The messages of `topic`, as `(partition, offset, record)`.
fn records(broker: &Broker, topic: &str) -> Vec<(i32, i64, slotstream_schemas::Record)> {
    let codec = slotstream_schemas::Codec::shared().unwrap();
    read_all(broker.bootstrap(), topic)
        .into_iter()
        .map(|(partition, offset, _, value, _)| (partition, offset, codec.decode(&value).unwrap()))
        .collect()
}

#[test]
fn prometheus_scrapes_a_running_consume_an_idle_topic_gets_few_heartbeats_and_a_stopped_consumer_raises_the_lag_alert(
) {
    let topic = unique_topic("idle");
    let broker = Broker::start(common::SLOTSTREAM, &[(&topic, IDLE_PARTITIONS)]);
    let source = RedisServer::start();
    let target = RedisServer::start();
    write_small_strings(&mut source.conn(), 2_000);
    let addr = format!("127.0.0.1:{}", free_port());
    let producer_addr = format!("127.0.0.1:{}", free_port());
    let producer = Proc::spawn(
        produce_cmd(&source, &broker, &topic, IDLE_PARTITIONS)
            .args(["--metrics-addr", &producer_addr]),
        "produce",
    );
    let (webhook_url, posted) = webhook();
    let consumer = Proc::spawn(
        consume_cmd(&target, &broker, &topic)
            .args(["--metrics-addr", &addr, "--ready-lag-secs", "60"])
            .args(["--alert-lag-secs", "2", "--alert-webhook", &webhook_url]),
        "consume",
    );
    wait_for_status(&addr, "/readyz", 200, Duration::from_secs(60), &consumer);
    let prometheus = Prometheus::start(&addr);

    // The source writes nothing: the topic gets heartbeats only, a few per partition.
    let before: std::collections::HashSet<(i32, i64)> = records(&broker, &topic)
        .into_iter()
        .map(|(partition, offset, _)| (partition, offset))
        .collect();
    std::thread::sleep(Duration::from_secs(IDLE_SECS));
    let new: Vec<_> = records(&broker, &topic)
        .into_iter()
        .filter(|(partition, offset, _)| !before.contains(&(*partition, *offset)))
        .collect();
    let heartbeats = new
        .iter()
        .filter(|(_, _, r)| matches!(r.body, slotstream_schemas::Body::Heartbeat(_)))
        .count() as u64;
    assert_eq!(
        heartbeats,
        new.len() as u64,
        "an idle source wrote records: {new:?}"
    );
    let most = u64::from(IDLE_PARTITIONS) * IDLE_SECS / IDLE_HEARTBEAT_SECS;
    eprintln!("{heartbeats} heartbeats in {IDLE_SECS} s of an idle source (at most {most})");
    assert!(
        heartbeats <= most && heartbeats >= u64::from(IDLE_PARTITIONS),
        "{heartbeats} heartbeats in {IDLE_SECS} s idle, expected 16 to {most}"
    );
    let mut partitions: Vec<i32> = new.iter().map(|(p, ..)| *p).collect();
    partitions.dedup();
    partitions.sort_unstable();
    partitions.dedup();
    assert_eq!(
        partitions.len(),
        IDLE_PARTITIONS as usize,
        "every partition had a heartbeat"
    );

    if let Some(prometheus) = prometheus {
        // Prometheus parsed every scrape, and its query API has a lag series per partition.
        let up = prometheus.query("up");
        assert_eq!(up.len(), 1, "{up:?}");
        assert_eq!(up[0]["value"][1], "1", "the scrape failed: {up:?}");
        let lags = prometheus.query("slotstream_lag_seconds");
        let mut labels: Vec<&str> = lags
            .iter()
            .filter_map(|series| series["metric"]["partition"].as_str())
            .collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), IDLE_PARTITIONS as usize, "{lags:?}");
    }
    // The consumer stopped while the source writes: once it runs again, the lag it finds is
    // posted, and then its recovery.
    consumer.signal("STOP");
    write_small_strings(&mut source.conn(), 500);
    std::thread::sleep(Duration::from_secs(4));
    consumer.signal("CONT");
    let events: Vec<serde_json::Value> = (0..2)
        .map(|_| {
            let body = posted
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!(
                        "the webhook got fewer than 2 documents:\n{}",
                        consumer.log()
                    )
                });
            serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"))
        })
        .collect();
    assert_eq!(events[0]["event"], "lag_over", "{events:?}");
    assert_eq!(events[0]["command"], "consume", "{events:?}");
    assert!(
        events[0]["lag_seconds"].as_f64().unwrap() > 2.0,
        "{events:?}"
    );
    assert_eq!(events[1]["event"], "lag_recovered", "{events:?}");

    // librdkafka's own report of the producer: an idle queue, and a measured round trip.
    let (_, text) = get(&producer_addr, "/metrics").expect("the producer's /metrics");
    assert_eq!(
        sample(&text, "slotstream_kafka_producer_queue_messages"),
        0.0,
        "{text}"
    );
    assert!(
        sample(&text, "slotstream_kafka_broker_rtt_avg_seconds") > 0.0,
        "{text}"
    );
    let (mut producer, mut consumer) = (producer, consumer);
    wait_caught_up(
        &source,
        &target,
        &topic,
        &mut [&mut producer, &mut consumer],
    );
    assert_identical(&source, &target);
    consumer.stop();
    producer.stop();
}
