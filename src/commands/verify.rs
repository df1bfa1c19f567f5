//! `slotstream verify`: compare source and target, print a summary, exit 1 on any difference.

use crate::cli::VerifyArgs;
use crate::shutdown::Shutdown;
use slotstream_verify::{escape, verify, Scope, VerifyOptions, VerifyReport};
use std::fmt::Write;
use std::process::ExitCode;

/// Longest key rendering in the report, in characters.
const KEY_CHARS: usize = 200;

pub async fn run(args: VerifyArgs, shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    // Sentinel URLs name each side's current primary.
    let source = args
        .source_secret
        .source_config(&args.source, &args.sentinel)?;
    let (target, _) = args.sentinel.resolve(&args.target, "target")?;
    let options = VerifyOptions {
        source_tls: source.tls,
        target_tls: args.target_secret.tls(&target)?,
        source: source.url,
        target,
        ttl_tolerance_ms: args.ttl_tolerance_ms,
        ttl_extension_ms: args.ttl_extension_secs * 1000,
        max_report: args.max_report,
        scope: Scope {
            db_map: args.map_db.iter().copied().collect(),
            filter: args.filter.key_filter(false),
        },
    };
    let Some(report) = shutdown.or_stop(verify(&options)).await else {
        anyhow::bail!("verify stopped on request before the comparison finished");
    };
    let report = report?;
    println!("{}", render(&report));
    Ok(if report.is_identical() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The printed summary: a header, a table of counts per db, the first differences and
/// warnings, and a last line that names the outcome.
fn render(report: &VerifyReport) -> String {
    let total = report.total();
    // Writing to a String cannot fail.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "verify: source {} vs target {} (ttl extension {} ms, tolerance {} ms), {:.1} s",
        report.source,
        report.target,
        report.ttl_extension_ms,
        report.ttl_tolerance_ms,
        report.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "{:>5} {:>10} {:>10} {:>8} {:>8} {:>6} {:>6} {:>6}",
        "db", "keys", "identical", "missing", "extra", "type", "value", "ttl"
    );
    let rows = report.dbs.iter().map(|(db, c)| (db.to_string(), c));
    let total_row = (report.dbs.len() > 1).then(|| ("all".to_string(), &total));
    for (db, c) in rows.chain(total_row) {
        let _ = writeln!(
            out,
            "{:>5} {:>10} {:>10} {:>8} {:>8} {:>6} {:>6} {:>6}",
            db,
            c.compared,
            c.identical,
            c.missing_on_target,
            c.extra_on_target,
            c.type_differs,
            c.value_differs,
            c.ttl_differs
        );
    }
    if !report.differences.is_empty() {
        let (shown, all) = (report.differences.len(), total.differences());
        let _ = writeln!(out, "differences (first {shown} of {all}):");
        for d in &report.differences {
            let key = escape(&d.key, KEY_CHARS);
            let _ = writeln!(
                out,
                "  db {} \"{key}\": {}: {}",
                d.db,
                d.kind.label(),
                d.reason
            );
        }
    }
    if !report.warnings.is_empty() {
        let (shown, all) = (report.warnings.len(), total.warnings);
        let _ = writeln!(out, "warnings (first {shown} of {all}):");
        for w in &report.warnings {
            let key = escape(&w.key, KEY_CHARS);
            let _ = writeln!(out, "  db {} \"{key}\": {}", w.db, w.reason);
        }
    }
    if report.is_identical() {
        let dbs = report.dbs.values().filter(|c| c.compared > 0).count();
        let _ = write!(
            out,
            "verify: identical ({} keys in {dbs} dbs)",
            total.compared
        );
    } else {
        let _ = write!(
            out,
            "verify: {} differences in {} keys",
            total.differences(),
            total.keys_differing
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotstream_verify::DiffKind;

    #[test]
    fn last_line_names_the_outcome() {
        let mut report = VerifyReport {
            max_report: 10,
            ..Default::default()
        };
        report.record_key(0, b"a", Vec::new());
        assert!(render(&report).ends_with("verify: identical (1 keys in 1 dbs)"));
        report.record_key(
            1,
            b"b\xff",
            vec![
                (DiffKind::ValueDiffers, "string length 1 vs 2".into()),
                (DiffKind::TtlDiffers, "ttl 5 vs none".into()),
            ],
        );
        let text = render(&report);
        assert!(text.contains("  db 1 \"b\\xff\": value differs: string length 1 vs 2\n"));
        assert!(text.contains("  db 1 \"b\\xff\": ttl differs: ttl 5 vs none\n"));
        assert!(
            text.contains("\n  all          2          1        0        0      0      1      1\n")
        );
        assert!(text.ends_with("verify: 2 differences in 1 keys"));
    }
}
