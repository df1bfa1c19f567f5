//! Where options come from besides the command line: a TOML file (`--config PATH`, or
//! `SLOTSTREAM_CONFIG`) and `SLOTSTREAM_<OPTION>` environment variables. The command line wins
//! over both, the environment over the file.
//!
//! Both layers become command-line arguments, placed before the user's and only for options the
//! user did not give, so clap checks every value the same way whatever its origin. The file has
//! a `[common]` section, for options of any command that takes them, and one section per
//! command (`[sync]`, `[produce]`, …), which wins over `[common]`. Keys are option names
//! (`max-ops` or `max_ops`); a flag is `true` or `false`; a repeatable option takes an array.
//! A key no command knows, in a section, is an error naming it and its line.

use anyhow::{bail, Context};
use clap::{ArgAction, CommandFactory};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;
use toml_edit::{Document, Item, Table, Value};

/// The environment variable that names a config file, like `--config`.
const CONFIG_ENV: &str = "SLOTSTREAM_CONFIG";

/// One option of a subcommand, as clap declares it.
struct Opt {
    long: String,
    /// `--flag` alone (no value).
    flag: bool,
    /// May be given more than once.
    repeatable: bool,
    /// clap reads an environment variable for it already.
    has_env: bool,
}

/// `args` (the process's, program name first) with the file's and the environment's options
/// put in front of the user's.
pub fn layered(args: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let mut cli = crate::cli::Cli::command();
    cli.build();
    let Some((at, name)) = args.iter().enumerate().skip(1).find_map(|(i, arg)| {
        let arg = arg.to_str()?;
        cli.find_subcommand(arg).map(|_| (i, arg.to_string()))
    }) else {
        return Ok(args);
    };
    let given = given_by_user(&args);
    let options = options_of(&cli, &name);
    let mut from_env = Vec::new();
    let mut env_given = BTreeSet::new();
    for opt in options
        .iter()
        .filter(|o| !o.has_env && !given.contains(&o.long))
    {
        let var = format!("SLOTSTREAM_{}", opt.long.to_uppercase().replace('-', "_"));
        let Some(value) = std::env::var_os(&var) else {
            continue;
        };
        let value = value
            .into_string()
            .map_err(|_| anyhow::anyhow!("{var} is not valid UTF-8"))?;
        push(&mut from_env, opt, &Value::from(value.clone()), || {
            var.clone()
        })?;
        env_given.insert(opt.long.clone());
    }
    let mut from_file = Vec::new();
    if let Some(path) = config_path(&args) {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let doc = Document::parse(text.as_str())
            .map_err(|err| anyhow::anyhow!("config file {}: {err}", path.display()))?;
        let file = ConfigFile {
            path: &path,
            text: &text,
            cli: &cli,
        };
        file.check(doc.as_table())?;
        for section in ["common", name.as_str()] {
            let Some(table) = doc.as_table().get(section).and_then(Item::as_table) else {
                continue;
            };
            for (key, item) in table.iter() {
                let long = key.replace('_', "-");
                let Some(opt) = options.iter().find(|o| o.long == long) else {
                    continue;
                };
                if given.contains(&long) || env_given.contains(&long) {
                    continue;
                }
                // A command's own section wins over [common]: drop what [common] said.
                if section != "common" {
                    drop_option(&mut from_file, &long);
                }
                let where_ = || file.place(table, key);
                match item {
                    Item::Value(Value::Array(values)) if opt.repeatable => {
                        for value in values.iter() {
                            push(&mut from_file, opt, value, where_)?;
                        }
                    }
                    Item::Value(value) => push(&mut from_file, opt, value, where_)?,
                    _ => bail!("{}: expected a value", where_()),
                }
            }
        }
    }
    let mut layered = args[..=at].to_vec();
    layered.extend(from_file);
    layered.extend(from_env);
    layered.extend(args[at + 1..].iter().cloned());
    Ok(layered)
}

/// The long names the user gave (`--name value` or `--name=value`), anywhere on the line.
fn given_by_user(args: &[OsString]) -> BTreeSet<String> {
    args.iter()
        .filter_map(|arg| arg.to_str()?.strip_prefix("--"))
        .map(|arg| arg.split('=').next().unwrap_or(arg).to_string())
        .collect()
}

/// `--config PATH`, `--config=PATH` or `SLOTSTREAM_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut words = args.iter();
    while let Some(arg) = words.next() {
        let arg = arg.to_str()?;
        if arg == "--config" {
            return words.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os(CONFIG_ENV).map(PathBuf::from)
}

fn options_of(cli: &clap::Command, name: &str) -> Vec<Opt> {
    let Some(command) = cli.find_subcommand(name) else {
        return Vec::new();
    };
    command
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?.to_string();
            (long != "config" && long != "help" && long != "version").then(|| Opt {
                long,
                flag: matches!(arg.get_action(), ArgAction::SetTrue),
                repeatable: matches!(arg.get_action(), ArgAction::Append),
                has_env: arg.get_env().is_some(),
            })
        })
        .collect()
}

/// The arguments for `opt` set to `value`; `place` names where the value came from.
fn push(
    out: &mut Vec<OsString>,
    opt: &Opt,
    value: &Value,
    place: impl Fn() -> String,
) -> anyhow::Result<()> {
    let text = match value {
        Value::String(s) => s.value().clone(),
        Value::Integer(i) => i.value().to_string(),
        Value::Float(f) => f.value().to_string(),
        Value::Boolean(b) => b.value().to_string(),
        Value::Array(_) => bail!("{}: --{} takes one value, not a list", place(), opt.long),
        _ => bail!("{}: expected a string, a number or true/false", place()),
    };
    if opt.flag {
        match text.as_str() {
            "true" | "1" | "yes" => out.push(format!("--{}", opt.long).into()),
            "false" | "0" | "no" | "" => {}
            other => bail!(
                "{}: --{} is a flag: true or false, not {other:?}",
                place(),
                opt.long
            ),
        }
        return Ok(());
    }
    out.push(format!("--{}", opt.long).into());
    out.push(text.into());
    Ok(())
}

/// Removes every `--long [value]` from `args` (written by [`push`]).
fn drop_option(args: &mut Vec<OsString>, long: &str) {
    let name = OsString::from(format!("--{long}"));
    let mut i = 0;
    while i < args.len() {
        if args[i] != name {
            i += 1;
            continue;
        }
        let with_value = args
            .get(i + 1)
            .is_some_and(|next| !next.to_string_lossy().starts_with("--"));
        args.drain(i..i + 1 + usize::from(with_value));
    }
}

/// The file being read, for its checks and error messages.
struct ConfigFile<'a> {
    path: &'a std::path::Path,
    text: &'a str,
    cli: &'a clap::Command,
}

impl ConfigFile<'_> {
    /// Every section is `[common]` or a command's, and every key an option of that command
    /// (of some command, in `[common]`).
    fn check(&self, top: &Table) -> anyhow::Result<()> {
        let commands: Vec<String> = self
            .cli
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .filter(|name| name != "help")
            .collect();
        for (section, item) in top.iter() {
            let Some(table) = item.as_table() else {
                bail!(
                    "{}: `{section}` is outside any section; put options under [common] or \
                     under a command's section ([{}])",
                    self.place(top, section),
                    commands.join("], [")
                );
            };
            let known: Vec<&str> = match section {
                "common" => commands.iter().map(String::as_str).collect(),
                name if commands.iter().any(|c| c == name) => vec![name],
                _ => bail!(
                    "{}: unknown section [{section}]; sections are [common], [{}]",
                    self.place(top, section),
                    commands.join("], [")
                ),
            };
            for (key, _) in table.iter() {
                let long = key.replace('_', "-");
                let anywhere = known
                    .iter()
                    .any(|name| options_of(self.cli, name).iter().any(|o| o.long == long));
                if !anywhere {
                    bail!(
                        "{}: unknown key `{key}` in [{section}] (see `slotstream {} --help`)",
                        self.place(table, key),
                        if section == "common" {
                            "<command>"
                        } else {
                            section
                        }
                    );
                }
            }
        }
        Ok(())
    }

    /// `config file PATH, line N` for `key` of `table`.
    fn place(&self, table: &Table, key: &str) -> String {
        let line = table
            .get_key_value(key)
            .and_then(|(key, _)| key.span())
            .map(|span| self.text[..span.start].matches('\n').count() + 1);
        match line {
            Some(line) => format!("config file {}, line {line}", self.path.display()),
            None => format!("config file {}", self.path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_later_section_replaces_what_common_said() {
        let mut out = args(&["--max-ops", "5", "--snapshot-only", "--map-db", "1=2"]);
        drop_option(&mut out, "max-ops");
        drop_option(&mut out, "map-db");
        assert_eq!(out, args(&["--snapshot-only"]));
    }

    #[test]
    fn the_user_s_options_are_found_in_both_forms() {
        let given = given_by_user(&args(&[
            "slotstream",
            "sync",
            "--max-ops=5",
            "--target",
            "x",
        ]));
        assert!(given.contains("max-ops") && given.contains("target"));
    }
}
