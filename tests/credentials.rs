//! Passwords kept off the command line: read from a file or from the environment by `sync`,
//! `verify`, `produce` and `consume`, and never shown in a log line or an error.

mod common;

use common::{assert_same_contents, slotstream, RedisServer};
use slotstream_test_support::Proc;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Characters a URL would have to escape, so the test shows they travel intact.
const SOURCE_PASSWORD: &str = "src:p@ss/w0rd";
const TARGET_PASSWORD: &str = "tgt-Secr3t";

/// `url` with `password`, escaped for a URL.
fn with_password(server: &RedisServer, password: &str) -> String {
    let escaped: String = password
        .chars()
        .map(|c| match c {
            ':' => "%3A".to_string(),
            '@' => "%40".to_string(),
            '/' => "%2F".to_string(),
            c => c.to_string(),
        })
        .collect();
    server.url_with_password(&escaped)
}

/// A server that requires `password`, holding a few keys of several types.
fn server_with(password: &str, data: bool) -> RedisServer {
    let server = RedisServer::start_with_args(&["--requirepass", password]);
    if data {
        let mut conn = redis::Client::open(with_password(&server, password))
            .unwrap()
            .get_connection()
            .unwrap();
        for i in 0..50 {
            let _: () = redis::cmd("SET")
                .arg(format!("s:{i}"))
                .arg(i)
                .query(&mut conn)
                .unwrap();
            let _: () = redis::cmd("RPUSH")
                .arg(format!("l:{i}"))
                .arg(&["a", "b"])
                .query(&mut conn)
                .unwrap();
            let _: () = redis::cmd("HSET")
                .arg(format!("h:{i}"))
                .arg(&[("f", "v")])
                .query(&mut conn)
                .unwrap();
            let _: () = redis::cmd("EXPIRE")
                .arg(format!("h:{i}"))
                .arg(3600)
                .query(&mut conn)
                .unwrap();
        }
    }
    server
}

/// A file holding `password` on its first line, removed with the returned guard's directory.
fn password_file(name: &str, password: &str) -> (PathBuf, TempDir) {
    let dir = TempDir::new(name);
    let path = dir.0.join("password");
    std::fs::write(&path, format!("{password}\n")).unwrap();
    (path, dir)
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("slotstream-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_no_password(text: &str) {
    for password in [SOURCE_PASSWORD, TARGET_PASSWORD, "src%3Ap%40ss%2Fw0rd"] {
        assert!(!text.contains(password), "a password is shown:\n{text}");
    }
}

/// `sync` takes the source's password from a file and the target's from the environment,
/// `verify` the other way round; the copy is identical, and no output line shows either.
#[test]
fn sync_and_verify_read_passwords_from_a_file_and_the_environment() {
    let source = server_with(SOURCE_PASSWORD, true);
    let target = server_with(TARGET_PASSWORD, false);
    let (source_file, _source_dir) = password_file("source-pw", SOURCE_PASSWORD);
    let (target_file, _target_dir) = password_file("target-pw", TARGET_PASSWORD);
    let output = slotstream()
        .args(["sync", "--snapshot-only", "--source", &source.url()])
        .arg("--source-password-file")
        .arg(&source_file)
        .args(["--target", &target.url()])
        .env("SLOTSTREAM_TARGET_PASSWORD", TARGET_PASSWORD)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_no_password(&stderr);
    assert_no_password(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(
        assert_same_contents(
            &with_password(&source, SOURCE_PASSWORD),
            &with_password(&target, TARGET_PASSWORD)
        ),
        150
    );
    let output = slotstream()
        .args([
            "verify",
            "--source",
            &source.url(),
            "--target",
            &target.url(),
        ])
        .arg("--target-password-file")
        .arg(&target_file)
        .env("SLOTSTREAM_SOURCE_PASSWORD", SOURCE_PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_no_password(&stdout);
    assert_no_password(&String::from_utf8_lossy(&output.stderr));
}

/// A wrong password from the environment is refused, naming the side, without showing it; a
/// password file that cannot be read is named by its path.
#[test]
fn a_wrong_password_from_the_environment_is_named_but_not_shown() {
    let source = server_with(SOURCE_PASSWORD, true);
    let target = RedisServer::start();
    let output = slotstream()
        .args(["sync", "--snapshot-only", "--retry-for-secs", "0"])
        .args(["--source", &source.url(), "--target", &target.url()])
        .env("SLOTSTREAM_SOURCE_PASSWORD", TARGET_PASSWORD)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert_no_password(&stderr);
    let output = slotstream()
        .args(["sync", "--snapshot-only", "--source", &source.url()])
        .args(["--source-password-file", "/nonexistent/slotstream/pw"])
        .args(["--target", &target.url()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot read the source password file /nonexistent/slotstream/pw"),
        "{stderr}"
    );
}

/// Through Kafka: `produce` and `consume` take their passwords from the environment, follow
/// live changes, and show neither in their logs.
#[cfg(feature = "kafka")]
#[test]
fn kafka_produce_and_consume_read_passwords_from_the_environment() {
    use common::broker::{consume_cmd, produce_cmd, unique_topic};
    use common::follow::{broker_with_topic, PARTITIONS};

    let source = server_with(SOURCE_PASSWORD, true);
    let target = server_with(TARGET_PASSWORD, false);
    let topic = unique_topic("passwords");
    let broker = broker_with_topic(&topic);
    let producer = Proc::spawn(
        produce_cmd(&source, &broker, &topic, PARTITIONS)
            .env("SLOTSTREAM_SOURCE_PASSWORD", SOURCE_PASSWORD),
        "produce",
    );
    let consumer = Proc::spawn(
        consume_cmd(&target, &broker, &topic).env("SLOTSTREAM_TARGET_PASSWORD", TARGET_PASSWORD),
        "consume",
    );
    let mut conn = redis::Client::open(with_password(&source, SOURCE_PASSWORD))
        .unwrap()
        .get_connection()
        .unwrap();
    for i in 0..100 {
        let _: () = redis::cmd("INCR").arg("counter").query(&mut conn).unwrap();
        let _: () = redis::cmd("LPUSH")
            .arg("pushed")
            .arg(i)
            .query(&mut conn)
            .unwrap();
    }
    let (source_url, target_url) = (
        with_password(&source, SOURCE_PASSWORD),
        with_password(&target, TARGET_PASSWORD),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // The last write of the workload is the 100th LPUSH.
        let pushed: u64 = redis::Client::open(target_url.as_str())
            .unwrap()
            .get_connection()
            .and_then(|mut c| redis::cmd("LLEN").arg("pushed").query(&mut c))
            .unwrap_or(0);
        if pushed == 100 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}\n---\n{}",
            producer.log(),
            consumer.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_same_contents(&source_url, &target_url);
    assert_no_password(&producer.stop());
    assert_no_password(&consumer.stop());
}
