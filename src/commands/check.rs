//! `slotstream check`: every item a copy needs of its source and target, pass / warn / fail
//! with what to do; exit 0 when all pass, 1 on a failure, 2 on warnings only. Nothing is
//! written to either side.

use crate::check::{self, Report, Section};
use crate::cli::CheckArgs;
use crate::shutdown::Shutdown;
use slotstream_schemas::display::redact_url;
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(args: CheckArgs, _shutdown: &Shutdown) -> anyhow::Result<ExitCode> {
    if args.source.is_none() && args.target.is_none() {
        anyhow::bail!("give --source, --target or both: check looks at the sides it is given");
    }
    let mut report = Report::default();
    let mut seen = None;
    if let Some(url) = &args.source {
        let config = args.source_secret.source_config(url, &args.sentinel)?;
        let sample = Some(Duration::from_secs(args.sample_secs));
        let (items, source) =
            tokio::task::spawn_blocking(move || check::source::check(&config, sample)).await?;
        seen = source;
        report.sections.push(Section {
            title: format!("source {}", redact_url(url)),
            items,
        });
    }
    if let Some(url) = &args.target {
        let config = args
            .values
            .target_config(url, &args.target_secret, &args.sentinel)?;
        let items = check::target::check(&config, seen.as_ref(), true).await;
        report.sections.push(Section {
            title: format!("target {}", redact_url(url)),
            items,
        });
    }
    println!("{report}");
    Ok(report.exit_code())
}
