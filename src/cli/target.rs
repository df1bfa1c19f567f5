//! How the apply side writes: what the target cannot hold, keys of its own, database mapping and
//! TTL extension ([`ValueArgs`]), and how fast ([`ThrottleArgs`]).

use super::{SentinelArgs, TargetSecret};
use clap::{Args, ValueEnum};
use slotstream_consumer::throttle::Rate;

/// How fast the apply side may write to the target, snapshot and live changes alike.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ThrottleArgs {
    /// Most writes per second applied to the target: commands, with each key of a batched
    /// `MSET` counted (0: unlimited).
    #[arg(long, default_value_t = 0)]
    pub max_ops: u32,
    /// Most payload bytes per second written to the target (0: unlimited).
    #[arg(long, default_value_t = 0)]
    pub max_bytes: u64,
    /// --max-ops for the snapshot alone (default: --max-ops).
    #[arg(long)]
    pub snapshot_max_ops: Option<u32>,
    /// --max-ops for live changes alone (default: --max-ops).
    #[arg(long)]
    pub live_max_ops: Option<u32>,
    /// --max-bytes for the snapshot alone (default: --max-bytes).
    #[arg(long)]
    pub snapshot_max_bytes: Option<u64>,
    /// --max-bytes for live changes alone (default: --max-bytes).
    #[arg(long)]
    pub live_max_bytes: Option<u64>,
}

impl ThrottleArgs {
    /// The limits of the snapshot's writes and of live changes.
    pub fn rates(&self) -> (Rate, Rate) {
        let rate = |ops: Option<u32>, bytes: Option<u64>| Rate {
            ops: u64::from(ops.unwrap_or(self.max_ops)),
            bytes: bytes.unwrap_or(self.max_bytes),
        };
        (
            rate(self.snapshot_max_ops, self.snapshot_max_bytes),
            rate(self.live_max_ops, self.live_max_bytes),
        )
    }
}

/// How values the destination cannot hold are treated.
#[derive(Debug, Clone, Args)]
pub struct ValueArgs {
    /// A value or live command the target cannot hold (a hash with field TTLs, or HEXPIRE, on a
    /// target without field TTLs): `fail` stops before writing it, naming the key;
    /// `skip-with-warning` leaves it out.
    #[arg(long, value_enum, default_value_t = OnUnsupported::Fail)]
    pub on_unsupported: OnUnsupported,
    /// A target that holds keys of its own before the first write: `fail` refuses it (naming
    /// how many and a few); `overwrite` copies over it and keeps its keys out of every sweep.
    #[arg(long, value_enum, default_value_t = OnExisting::Fail)]
    pub on_existing: OnExisting,
    /// Write source database SRC's keys into destination database DST (repeatable), e.g.
    /// `--map-db 3=0` for a cluster target, which has db 0 only. Unmapped databases keep their
    /// number; two mapped onto one share it.
    #[arg(long = "map-db", value_name = "SRC=DST", value_parser = parse_db_pair)]
    pub map_db: Vec<(u32, u32)>,
    /// Every expiry time is written this many seconds later on the target, so the target (a
    /// primary, which expires keys on its own clock) keeps a key until the source's own `DEL`
    /// or renewal of it arrives. Keep it above the copy's lag; `verify` takes the same setting.
    #[arg(long, default_value_t = slotstream_consumer::TargetConfig::DEFAULT_TTL_EXTENSION_SECS)]
    pub ttl_extension_secs: u64,
}

pub(crate) fn parse_db_pair(pair: &str) -> Result<(u32, u32), String> {
    slotstream_consumer::dbmap::parse_pair(pair).map_err(|bad| bad.to_string())
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnExisting {
    Fail,
    Overwrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnUnsupported {
    Fail,
    SkipWithWarning,
}

impl ValueArgs {
    /// The destination's settings for `url` (its current primary, for a sentinel URL) with
    /// these choices and `secret`'s TLS files.
    pub fn target_config(
        &self,
        url: &str,
        secret: &TargetSecret,
        sentinel: &SentinelArgs,
    ) -> anyhow::Result<slotstream_consumer::TargetConfig> {
        let mut config = secret.target_config(url, sentinel)?;
        config.ttl_extension = std::time::Duration::from_secs(self.ttl_extension_secs);
        config.on_unsupported = match self.on_unsupported {
            OnUnsupported::Fail => slotstream_consumer::OnUnsupported::Fail,
            OnUnsupported::SkipWithWarning => slotstream_consumer::OnUnsupported::SkipWithWarning,
        };
        config.on_existing = match self.on_existing {
            OnExisting::Fail => slotstream_consumer::OnExisting::Fail,
            OnExisting::Overwrite => slotstream_consumer::OnExisting::Overwrite,
        };
        config.db_map = self.map_db.iter().copied().collect();
        Ok(config)
    }
}
