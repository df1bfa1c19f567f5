//! `slotstream verify`: compare source and target, print a summary, exit 1 on any difference.

use crate::cli::VerifyArgs;
use crate::verify::{verify, VerifyOptions};
use std::process::ExitCode;

pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let options = VerifyOptions {
        source: args.source,
        target: args.target,
        ttl_tolerance_ms: args.ttl_tolerance_ms,
        max_report: args.max_report,
    };
    let report = verify(&options).await?;
    println!("{report}");
    Ok(if report.is_identical() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
