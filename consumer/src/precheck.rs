//! Before a snapshot's first write: what the source holds, as its `EpochBegin` says, that the
//! destination cannot take. Values of modules it has not loaded stop the snapshot; hashes with
//! field TTLs on a destination without them stop it too, unless `--on-unsupported` says to leave
//! them out.

use crate::config::OnUnsupported;
use crate::target::TargetInfo;
use slotstream_schemas::display::show_key;
use slotstream_schemas::EpochBegin;

/// What the snapshot of `begin` means for `target`.
#[derive(Debug, PartialEq, Eq)]
pub enum Fit {
    /// Everything in it can be written.
    Whole,
    /// Some keys will be left out (or may fail); the warnings say which.
    Partly(Vec<String>),
    /// Nothing may be written; the message says why and what to do.
    Refused(String),
}

/// Checks an epoch before its first write: `Err` with why and what to do when its snapshot
/// holds what the destination cannot take ([`fit`]). When `speaks` (one partition speaks for
/// all), warns of what will be left out and says when values will be rewritten as commands
/// rather than restored.
pub fn check_epoch(
    begin: &EpochBegin,
    target: &TargetInfo,
    on_unsupported: OnUnsupported,
    speaks: bool,
) -> Result<(), String> {
    match fit(begin, target, on_unsupported) {
        Fit::Whole => {}
        Fit::Partly(warnings) => {
            for warning in warnings.iter().filter(|_| speaks) {
                tracing::warn!("{warning}");
            }
        }
        Fit::Refused(why) => return Err(why),
    }
    if !target.restores(begin.rdb_version) && speaks {
        tracing::info!(
            source = %begin.source_version,
            source_rdb = begin.rdb_version,
            target = %target.version,
            target_rdb = target.rdb_version,
            "the target cannot RESTORE the source's RDB format: values are written as commands"
        );
    }
    Ok(())
}

/// Compares the source's facts in `begin` with the destination.
pub fn fit(begin: &EpochBegin, target: &TargetInfo, on_unsupported: OnUnsupported) -> Fit {
    let mut warnings = Vec::new();
    let mut blocking = Vec::new();
    for module in &begin.modules {
        if target.modules.contains(&module.name) {
            continue;
        }
        match module.keys {
            Some(0) => {}
            Some(keys) => blocking.push(format!("{} ({keys} keys)", module.name)),
            None => warnings.push(format!(
                "the source has module {} and the target has not loaded it; slotstream knows no \
                 value types of it, so keys of such types (if any) will fail when they are \
                 written",
                module.name
            )),
        }
    }
    if !blocking.is_empty() {
        return Fit::Refused(format!(
            "the target has not loaded modules whose values the source holds: {}; nothing of \
             this snapshot was written. Load them on the target (--loadmodule) and start again",
            blocking.join(", ")
        ));
    }
    let total: u64 = begin.field_ttl_hashes.iter().map(|c| c.keys).sum();
    if total > 0 && !target.has_field_ttls() {
        let per_db: Vec<String> = begin
            .field_ttl_hashes
            .iter()
            .map(|c| format!("db {}: {}", c.db, c.keys))
            .collect();
        let examples: Vec<String> = begin
            .field_ttl_examples
            .iter()
            .map(|key| show_key(&key.0).to_string())
            .collect();
        let found = format!(
            "the source has {total} hashes with field TTLs ({}){}, and the target ({}) has no \
             hash field TTLs (HEXPIRE needs Redis 7.4+ or Valkey 9+)",
            per_db.join(", "),
            if examples.is_empty() {
                String::new()
            } else {
                format!(", e.g. {}", examples.join(", "))
            },
            target.version,
        );
        match on_unsupported {
            OnUnsupported::Fail => {
                return Fit::Refused(format!(
                    "{found}; nothing of this snapshot was written. Use such a target, or pass \
                     --on-unsupported=skip-with-warning to copy everything else and leave these \
                     keys out"
                ))
            }
            OnUnsupported::SkipWithWarning => warnings.push(format!(
                "{found}; as --on-unsupported=skip-with-warning says, those keys are left out"
            )),
        }
    }
    if warnings.is_empty() {
        Fit::Whole
    } else {
        Fit::Partly(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::parse_info;
    use slotstream_schemas::{DbCount, Element, SourceModule};

    fn begin(modules: &[(&str, Option<u64>)], field_ttls: &[(u32, u64)]) -> EpochBegin {
        EpochBegin {
            replid: "r".into(),
            offset: 0,
            partitions: 16,
            rdb_version: 12,
            source_version: "redis 7.4.1".into(),
            modules: modules
                .iter()
                .map(|&(name, keys)| SourceModule {
                    name: name.into(),
                    keys,
                })
                .collect(),
            field_ttl_hashes: field_ttls
                .iter()
                .map(|&(db, keys)| DbCount { db, keys })
                .collect(),
            field_ttl_examples: vec![Element(b"h:1".to_vec())],
        }
    }

    fn target(version: &str, modules: &[&str]) -> TargetInfo {
        let mut info = parse_info(&format!("redis_version:{version}\r\n"));
        info.modules = modules.iter().map(|m| m.to_string()).collect();
        info
    }

    #[test]
    fn missing_modules_with_keys_refuse_naming_modules_and_counts() {
        let b = begin(&[("ReJSON", Some(3)), ("bf", Some(0)), ("x", None)], &[]);
        let Fit::Refused(why) = fit(&b, &target("7.4.1", &[]), OnUnsupported::Fail) else {
            panic!("not refused");
        };
        assert!(
            why.contains("ReJSON (3 keys)") && !why.contains("bf"),
            "{why}"
        );
        assert_eq!(
            fit(&b, &target("7.4.1", &["ReJSON"]), OnUnsupported::Fail),
            Fit::Partly(vec![
                "the source has module x and the target has not loaded it; slotstream knows no \
                 value types of it, so keys of such types (if any) will fail when they are \
                 written"
                    .into()
            ])
        );
    }

    #[test]
    fn field_ttls_refuse_or_warn_only_on_targets_without_them() {
        let b = begin(&[], &[(0, 2), (3, 1)]);
        assert_eq!(
            fit(&b, &target("7.4.1", &[]), OnUnsupported::Fail),
            Fit::Whole
        );
        let Fit::Refused(why) = fit(&b, &target("7.0.15", &[]), OnUnsupported::Fail) else {
            panic!("not refused");
        };
        assert!(
            why.contains("3 hashes with field TTLs (db 0: 2, db 3: 1), e.g. \"h:1\""),
            "{why}"
        );
        let Fit::Partly(warnings) = fit(&b, &target("7.0.15", &[]), OnUnsupported::SkipWithWarning)
        else {
            panic!("no warning");
        };
        assert!(warnings[0].contains("left out"), "{warnings:?}");
        assert_eq!(
            fit(
                &begin(&[], &[]),
                &target("5.0.10", &[]),
                OnUnsupported::Fail
            ),
            Fit::Whole
        );
    }
}
