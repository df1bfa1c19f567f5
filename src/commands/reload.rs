//! Limits a running copy takes again without a restart: on SIGHUP the options are read again as
//! at start (config file, `SLOTSTREAM_*` variables, then the command line, which still wins),
//! and the new write limits (`--max-ops`, `--max-bytes` and their per-phase forms) and read
//! limit (`--source-max-bytes`) hold from each partition's next batch and the capture's next
//! read on. The new limits are logged; options that no longer parse change nothing (warned).

use crate::cli::{Cli, Command, ThrottleArgs};
use clap::Parser;
use slotstream_consumer::throttle::Throttles;
use slotstream_producer::read_limit::ReadRate;
use std::sync::{Once, OnceLock};
use tokio::signal::unix::{signal, SignalKind};

/// The process's write limits: every apply side of the command (each shard's, each attempt's)
/// waits on the same throttles, which SIGHUP changes.
static THROTTLES: OnceLock<Throttles> = OnceLock::new();

/// The process's read limit on the source, shared by every capture as [`THROTTLES`] is.
static SOURCE_RATE: OnceLock<ReadRate> = OnceLock::new();

static WATCHING: Once = Once::new();

/// The process's write limits, made from `args` by the first call; later calls (a retry's,
/// another shard's) get the same handle, as SIGHUP left it.
pub fn throttles(args: &ThrottleArgs) -> Throttles {
    watch_hangup();
    let (snapshot, live) = args.rates();
    THROTTLES
        .get_or_init(|| Throttles::new(snapshot, live))
        .clone()
}

/// How long the process's batches have waited for the write limits (zero before any).
pub fn throttle_waited() -> std::time::Duration {
    THROTTLES.get().map(Throttles::waited).unwrap_or_default()
}

/// The process's read limit on the source, as [`throttles`] is for writes.
pub fn source_rate(bytes_per_second: u64) -> ReadRate {
    watch_hangup();
    SOURCE_RATE
        .get_or_init(|| ReadRate::new(bytes_per_second))
        .clone()
}

/// Starts watching for SIGHUP, once (the commands that copy call it as they start, so a SIGHUP
/// never ends them as its default action would).
pub fn watch_hangup() {
    WATCHING.call_once(|| {
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(hangup) => hangup,
            Err(err) => {
                tracing::warn!(%err, "cannot watch for SIGHUP: the limits stay as started");
                return;
            }
        };
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                match reread() {
                    Ok(limits) => apply(limits),
                    Err(err) => tracing::warn!(
                        "SIGHUP: the options could not be read again, so the limits stay as \
                         they were; fix them and send SIGHUP again: {err:#}"
                    ),
                }
            }
        });
    });
}

/// Sets the limits read again and logs what holds now.
fn apply((throttle, source_max_bytes): (Option<ThrottleArgs>, Option<u64>)) {
    let mut now = Vec::new();
    if let (Some(throttles), Some(args)) = (THROTTLES.get(), throttle) {
        let (snapshot, live) = args.rates();
        throttles.set(snapshot, live);
        now.push(format!("writes to the target {throttles}"));
    }
    if let (Some(rate), Some(bytes)) = (SOURCE_RATE.get(), source_max_bytes) {
        rate.set(bytes);
        now.push(match bytes {
            0 => "reads from the source unlimited".to_string(),
            bytes => format!("reads from the source {bytes} bytes/s"),
        });
    }
    tracing::info!("SIGHUP: options read again; limits now: {}", now.join("; "));
}

/// The limit options as the process would read them now: the write limits and the source's
/// read limit, each where the command has it.
fn reread() -> anyhow::Result<(Option<ThrottleArgs>, Option<u64>)> {
    let args = crate::layers::layered(std::env::args_os().collect())?;
    let cli = Cli::try_parse_from(args)?;
    Ok(match cli.command {
        Command::Sync(args) => (Some(args.throttle), Some(args.source_max_bytes)),
        #[cfg(feature = "kafka")]
        Command::Produce(args) => (None, Some(args.source_max_bytes)),
        #[cfg(feature = "kafka")]
        Command::Consume(args) => (Some(args.throttle), None),
        #[cfg(feature = "kafka")]
        Command::Replay(args) => (Some(args.throttle), None),
        _ => (None, None),
    })
}
