//! Options from a config file (`--config`) and from `SLOTSTREAM_*` variables: the file runs a
//! copy; for one option, the variable beats the file and the flag beats both; a key slotstream
//! does not know is named with its line; the example file in the repository is valid.

mod common;

use common::follow::{assert_identical, fails};
use common::{run_ok, slotstream, RedisServer};
use std::path::PathBuf;

fn write_config(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("slotstream-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).expect("write the config file");
    path
}

#[test]
fn a_config_file_runs_a_copy() {
    let source = RedisServer::start();
    let target = RedisServer::start();
    common::dataset::write_small_strings(&mut source.conn(), 500);
    let config = write_config(
        "copy",
        &format!(
            "[common]\nlog = \"info\"\n\n[sync]\nsource = \"{}\"\ntarget = \"{}\"\n\
             snapshot_only = true\npartitions = 4\n",
            source.url(),
            target.url()
        ),
    );
    let mut sync = slotstream();
    sync.arg("--config").arg(&config).arg("sync");
    run_ok(&mut sync);
    assert_identical(&source, &target);
}

#[test]
fn a_variable_beats_the_file_and_a_flag_beats_both() {
    let config = write_config(
        "layers",
        "[sync]\nsource = \"redis://127.0.0.1:1\"\ntarget = \"redis://127.0.0.1:2\"\npartitions = 0\n",
    );
    let run = |env: Option<&str>, flag: Option<&str>| {
        let mut sync = slotstream();
        sync.arg("--config").arg(&config).arg("sync");
        if let Some(value) = env {
            sync.env("SLOTSTREAM_PARTITIONS", value);
        }
        if let Some(value) = flag {
            sync.args(["--partitions", value]);
        }
        fails(&mut sync, "sync")
    };
    // Each layer's value is out of range, so the error says which one was used.
    assert!(run(None, None).contains("(got 0)"));
    assert!(run(Some("20000"), None).contains("(got 20000)"));
    assert!(run(Some("20000"), Some("30000")).contains("(got 30000)"));
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let config = write_config("typo", "[common]\nlog = \"info\"\n\n[sync]\nmax_op = 5\n");
    let mut sync = slotstream();
    sync.arg("--config").arg(&config).arg("sync");
    let log = fails(&mut sync, "sync");
    assert!(
        log.contains("line 5: unknown key `max_op` in [sync]"),
        "{log}"
    );
    let config = write_config("section", "[synk]\nmax-ops = 5\n");
    let mut sync = slotstream();
    sync.arg("--config").arg(&config).arg("sync");
    let log = fails(&mut sync, "sync");
    assert!(log.contains("line 1: unknown section [synk]"), "{log}");
}

/// The example file with every commented-out option of it turned on (`# key = value` lines),
/// so an option it documents that no command knows fails the test below.
fn example_with_every_option() -> PathBuf {
    let example = include_str!("../slotstream.example.toml");
    let text: String = example
        .lines()
        .map(|line| {
            let option = line.strip_prefix("# ").filter(|rest| {
                rest.split_once(" = ").is_some_and(|(key, _)| {
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                })
            });
            // A trailing comment after the value stays a comment.
            format!("{}\n", option.unwrap_or(line))
        })
        .collect();
    write_config("example-every-option", &text)
}

#[test]
fn the_example_file_is_valid() {
    let every = example_with_every_option();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/slotstream.example.toml");
    for config in [std::path::Path::new(example), every.as_path()] {
        for command in [
            "sync",
            "verify",
            "check",
            "produce",
            "consume",
            "replay",
            "dev-broker",
        ] {
            let mut help = slotstream();
            help.arg("--config").arg(config).args([command, "--help"]);
            run_ok(&mut help);
        }
    }
}
