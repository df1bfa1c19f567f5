//! TLS on every Redis link: `sync`, `produce`/`consume` and `verify` over `rediss://` to
//! servers that demand client certificates, servers that speak TLS 1.3 only, and the errors for
//! a wrong CA, a missing client certificate and TLS options on a plain URL. The servers also
//! keep a plain port, which only the test's own checks use: slotstream is given the TLS URL.

mod common;

use common::dataset::write_full;
use common::follow::{assert_identical, fails, wait_caught_up, write_counters, Proc, PARTITIONS};
use common::{assert_same_contents, run_verify, slotstream};
use slotstream_test_support::{TestCerts, TlsServer};
use std::process::Command;
use std::time::Duration;

/// `slotstream sync` between the TLS ports of `source` and `target`, with `extra` arguments.
fn sync_cmd(source: &TlsServer, target: &TlsServer, extra: &[String]) -> Command {
    let mut cmd = slotstream();
    cmd.args([
        "sync",
        "--source",
        &source.tls_url(),
        "--target",
        &target.tls_url(),
    ])
    .args(["--partitions", &PARTITIONS.to_string()])
    .args(extra);
    cmd
}

/// The checkpoints' name of a sync from `source`'s TLS port.
fn log_of(source: &TlsServer) -> String {
    format!("sync:127.0.0.1:{}", source.tls_port)
}

/// `--source-tls-ca-cert SOURCE_CA --target-tls-ca-cert TARGET_CA`.
fn ca_args(source_ca: &std::path::Path, target_ca: &std::path::Path) -> Vec<String> {
    vec![
        "--source-tls-ca-cert".to_string(),
        source_ca.display().to_string(),
        "--target-tls-ca-cert".to_string(),
        target_ca.display().to_string(),
    ]
}

#[test]
fn sync_and_verify_run_over_tls_with_client_certificates() {
    let certs = TestCerts::make();
    // Redis asks TLS clients for a certificate unless told otherwise (tls-auth-clients yes).
    let source = TlsServer::start(&certs, &[]);
    let target = TlsServer::start(&certs, &[]);
    write_full(&mut source.server.conn());
    let mut args = certs.client_args("source");
    args.extend(certs.client_args("target"));
    let mut sync = Proc::spawn(&mut sync_cmd(&source, &target, &args), "sync");
    write_counters(&source.server, 1);
    wait_caught_up(
        &source.server,
        &target.server,
        &log_of(&source),
        &mut [&mut sync],
    );
    write_counters(&source.server, 2);
    wait_caught_up(
        &source.server,
        &target.server,
        &log_of(&source),
        &mut [&mut sync],
    );
    assert_identical(&source.server, &target.server);
    sync.stop();

    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_verify(&source.tls_url(), &target.tls_url(), &args);
    assert_eq!(run.code, Some(0), "{}", run.text());
    // And verify over TLS sees a difference when there is one.
    let _: () = redis::cmd("SET")
        .arg("only-on-the-source")
        .arg(1)
        .query(&mut source.server.conn())
        .unwrap();
    let run = run_verify(&source.tls_url(), &target.tls_url(), &args);
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(run.stdout.contains("only-on-the-source"), "{}", run.text());
}

#[test]
fn servers_that_speak_only_tls_1_2_or_only_tls_1_3_are_copied() {
    let certs = TestCerts::make();
    for version in ["TLSv1.2", "TLSv1.3"] {
        let only = ["--tls-protocols", version, "--tls-auth-clients", "no"];
        let source = TlsServer::start(&certs, &only);
        let target = TlsServer::start(&certs, &only);
        write_full(&mut source.server.conn());
        let mut args = ca_args(&certs.ca, &certs.ca);
        args.push("--snapshot-only".into());
        let mut sync = Proc::spawn(&mut sync_cmd(&source, &target, &args), "sync");
        let status = sync.wait_exit(Duration::from_secs(120), "sync did not finish");
        assert!(
            status.success(),
            "sync over {version} failed:\n{}",
            sync.log()
        );
        assert_same_contents(&source.server.url(), &target.server.url());
    }
}

#[test]
fn a_source_certificate_from_another_ca_is_refused_naming_the_flag() {
    let certs = TestCerts::make();
    let source = TlsServer::start(&certs, &["--tls-auth-clients", "no"]);
    let target = TlsServer::start(&certs, &["--tls-auth-clients", "no"]);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut source.server.conn())
        .unwrap();
    let args = ca_args(&certs.other_ca, &certs.ca);
    let log = fails(&mut sync_cmd(&source, &target, &args), "sync");
    assert!(log.contains("--source-tls-ca-cert"), "{log}");
    assert!(log.contains("certificate verify failed"), "{log}");
    assert_eq!(common::key_count(&target.server), 0, "{log}");
}

#[test]
fn a_target_certificate_from_another_ca_is_refused_naming_the_flag() {
    let certs = TestCerts::make();
    let source = TlsServer::start(&certs, &["--tls-auth-clients", "no"]);
    let target = TlsServer::start(&certs, &["--tls-auth-clients", "no"]);
    let args = ca_args(&certs.ca, &certs.other_ca);
    let log = fails(&mut sync_cmd(&source, &target, &args), "sync");
    assert!(log.contains("--target-tls-ca-cert"), "{log}");
    assert!(log.contains("certificate verify failed"), "{log}");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_verify(&source.tls_url(), &target.tls_url(), &args);
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(
        run.stderr.contains("--target-tls-ca-cert"),
        "{}",
        run.text()
    );
}

#[test]
fn a_missing_client_certificate_is_named() {
    let certs = TestCerts::make();
    let source = TlsServer::start(&certs, &[]);
    let target = TlsServer::start(&certs, &["--tls-auth-clients", "no"]);
    let args = ca_args(&certs.ca, &certs.ca);
    let log = fails(&mut sync_cmd(&source, &target, &args), "sync");
    assert!(log.contains("--source-tls-cert"), "{log}");
}

#[test]
fn tls_options_for_a_plain_url_are_refused() {
    let certs = TestCerts::make();
    let source = TlsServer::start(&certs, &["--tls-auth-clients", "no"]);
    let target = common::RedisServer::start();
    let mut cmd = slotstream();
    cmd.args([
        "sync",
        "--source",
        &source.server.url(),
        "--target",
        &target.url(),
    ])
    .args(["--source-tls-ca-cert", &certs.ca.display().to_string()]);
    let log = fails(&mut cmd, "sync");
    assert!(log.contains("not a rediss:// URL"), "{log}");
    // A half client identity is named too.
    let mut cmd = slotstream();
    cmd.args([
        "sync",
        "--source",
        &source.tls_url(),
        "--target",
        &target.url(),
    ])
    .args([
        "--source-tls-cert",
        &certs.client_cert.display().to_string(),
    ]);
    let log = fails(&mut cmd, "sync");
    assert!(log.contains("--source-tls-key"), "{log}");
    // And a redis:// URL at a TLS port is told to use rediss://, not retried for ever.
    let tls_port_as_plain = format!("redis://127.0.0.1:{}", source.tls_port);
    let mut cmd = slotstream();
    cmd.args([
        "sync",
        "--source",
        &tls_port_as_plain,
        "--target",
        &target.url(),
    ]);
    let log = fails(&mut cmd, "sync");
    assert!(log.contains("use a rediss:// URL"), "{log}");
    assert_eq!(common::key_count(&target), 0, "{log}");
}

#[cfg(feature = "kafka")]
mod kafka {
    use super::*;
    use common::broker::{consume_cmd_to, produce_cmd_from, unique_topic};
    use common::follow::broker_with_topic;

    /// No broker that runs here serves Kafka over TLS or SASL (tansu 0.6 has no TLS listener and
    /// no SCRAM credentials with memory storage; the mock cluster is plain), so this shows the
    /// settings reach librdkafka: asked for TLS, it fails the handshake with the plain broker,
    /// and `produce` stops naming the security settings instead of running in plain text.
    #[test]
    fn kafka_tls_settings_reach_librdkafka_and_a_failed_handshake_is_named() {
        let certs = TestCerts::make();
        let source = common::RedisServer::start();
        let topic = unique_topic("kafka-tls");
        let broker = broker_with_topic(&topic);
        let mut produce = produce_cmd_from(&source.url(), &broker, &topic, PARTITIONS);
        produce
            .args(["--kafka-config", "security.protocol=SSL"])
            .arg("--kafka-config")
            .arg(format!("ssl.ca.location={}", certs.ca.display()))
            .arg("--snapshot-only");
        let log = fails(&mut produce, "produce");
        assert!(
            log.contains("the security settings in --kafka-config"),
            "{log}"
        );
    }

    #[test]
    fn produce_and_consume_run_over_tls_with_client_certificates() {
        let certs = TestCerts::make();
        let source = TlsServer::start(&certs, &[]);
        let target = TlsServer::start(&certs, &[]);
        write_full(&mut source.server.conn());
        let topic = unique_topic("tls");
        let broker = broker_with_topic(&topic);
        let mut produce = produce_cmd_from(&source.tls_url(), &broker, &topic, PARTITIONS);
        produce.args(certs.client_args("source"));
        let mut producer = Proc::spawn(&mut produce, "produce");
        let mut consume = consume_cmd_to(&target.tls_url(), &broker, &topic);
        consume.args(certs.client_args("target"));
        let mut consumer = Proc::spawn(&mut consume, "consume");
        write_counters(&source.server, 1);
        wait_caught_up(
            &source.server,
            &target.server,
            &topic,
            &mut [&mut producer, &mut consumer],
        );
        assert_identical(&source.server, &target.server);
        consumer.stop();
        producer.stop();
    }
}
