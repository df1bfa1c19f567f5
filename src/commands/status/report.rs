//! What `slotstream status` found: per log and partition the checkpoint, the log's end and the
//! lag between them; printed as a table or JSON, and judged against `--max-lag-secs`.

use serde::Serialize;
use slotstream_consumer::checkpoint::Checkpoint;
use std::fmt;
use std::process::ExitCode;

/// What a log's lag is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Kafka messages after the checkpoint's (a `consume`).
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    Records,
    /// Bytes of the source's replication stream after the checkpoint's position (a `sync`).
    Bytes,
}

/// One partition of one log.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub partition: u32,
    /// The epoch of the checkpoint (none before the partition's first batch).
    pub epoch: Option<u64>,
    /// Whether that epoch's snapshot is applied in this partition.
    pub snapshot_done: bool,
    /// Where the checkpoint is: the Kafka offset of the last record applied, or the source
    /// replication offset it reached.
    pub applied: Option<i64>,
    /// The log's end: the offset of the topic partition's last message, or the source's
    /// replication offset now.
    pub end: Option<i64>,
    /// Records (or bytes) after the checkpoint.
    pub lag: Option<i64>,
    /// How long ago the source wrote the last record applied, when records wait after it
    /// (0 when none wait).
    pub lag_seconds: Option<f64>,
}

impl Row {
    /// A partition with `checkpoint` (if any), the log's `end`, and `lag` after it, at `now_ms`.
    pub fn new(
        partition: u32,
        checkpoint: Option<&Checkpoint>,
        applied: Option<i64>,
        end: Option<i64>,
        lag: Option<i64>,
        now_ms: i64,
    ) -> Row {
        let lag = lag.map(|n| n.max(0));
        let lag_seconds = match (lag, checkpoint.and_then(|c| c.captured_ms)) {
            (Some(0), _) => Some(0.0),
            (Some(_), Some(captured)) => Some((now_ms - captured).max(0) as f64 / 1000.0),
            _ => None,
        };
        Row {
            partition,
            epoch: checkpoint.map(|c| c.epoch),
            snapshot_done: checkpoint.is_some_and(|c| c.snapshot_done),
            applied,
            end,
            lag,
            lag_seconds,
        }
    }

    /// Over `max` seconds behind, or behind by an unknown time (records wait and nothing
    /// applied says since when).
    fn over(&self, max: f64) -> bool {
        match self.lag_seconds {
            Some(seconds) => seconds > max,
            None => self.lag != Some(0),
        }
    }
}

/// The partitions of one checkpoint log (a topic, a shard of it, or a `sync`).
#[derive(Debug, Clone, Serialize)]
pub struct Log {
    /// The checkpoints' log name (`<topic>`, `<topic>/<shard>`, `sync:<source id>`).
    pub log: String,
    /// What the checkpoints are measured against.
    pub against: String,
    pub unit: Unit,
    pub partitions: Vec<Row>,
}

/// Every log `status` looked at.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub logs: Vec<Log>,
    pub max_lag_secs: Option<f64>,
    /// Whether some partition lags more than `max_lag_secs`.
    pub over: bool,
}

impl Report {
    pub fn new(logs: Vec<Log>, max_lag_secs: Option<f64>) -> Report {
        let over = max_lag_secs.is_some_and(|max| {
            logs.iter()
                .flat_map(|log| &log.partitions)
                .any(|row| row.over(max))
        });
        Report {
            logs,
            max_lag_secs,
            over,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        if self.over {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// A number, or `-` when unknown.
fn or_dash<T: fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

impl fmt::Display for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Records => "records",
            Unit::Bytes => "bytes",
        };
        writeln!(f, "{} (against {}; lag in {unit})", self.log, self.against)?;
        writeln!(
            f,
            "{:>9}  {:>15}  {:>8}  {:>14}  {:>14}  {:>12}  {:>9}",
            "partition", "epoch", "snapshot", "applied", "end", "lag", "lag (s)"
        )?;
        for row in &self.partitions {
            let snapshot = match (row.epoch, row.snapshot_done) {
                (None, _) => "-",
                (Some(_), true) => "done",
                (Some(_), false) => "applying",
            };
            writeln!(
                f,
                "{:>9}  {:>15}  {:>8}  {:>14}  {:>14}  {:>12}  {:>9}",
                row.partition,
                or_dash(row.epoch),
                snapshot,
                or_dash(row.applied),
                or_dash(row.end),
                or_dash(row.lag),
                or_dash(row.lag_seconds.map(|s| format!("{s:.1}"))),
            )?;
        }
        let done = self.partitions.iter().filter(|r| r.snapshot_done).count();
        let started = self.partitions.iter().filter(|r| r.epoch.is_some()).count();
        write!(
            f,
            "{} partitions: {started} with a checkpoint, {done} with the snapshot applied",
            self.partitions.len()
        )?;
        let without = self.partitions.len() - started;
        if started == 0 {
            write!(
                f,
                "\n  no checkpoint of {} in the target: nothing applied yet, or the copy \
                 runs under another name (--topic, --source-id)",
                self.log
            )?;
        } else if self.unit == Unit::Bytes
            && self.partitions[started..].iter().all(|r| r.epoch.is_none())
            && without > 0
        {
            write!(
                f,
                "\n  partitions {started}-{} have no checkpoint: if the sync runs with \
                 --partitions {started}, give status the same",
                self.partitions.len() - 1
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, log) in self.logs.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{log}")?;
        }
        if let Some(max) = self.max_lag_secs {
            let verdict = if self.over { "over" } else { "within" };
            write!(f, "lag {verdict} --max-lag-secs {max}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(captured_ms: Option<i64>) -> Checkpoint {
        Checkpoint {
            epoch: 3,
            captured_ms,
            ..Default::default()
        }
    }

    #[test]
    fn lag_seconds_count_from_the_last_record_applied_when_records_wait() {
        let waiting = Row::new(
            0,
            Some(&checkpoint(Some(1_000))),
            Some(5),
            Some(9),
            Some(4),
            6_500,
        );
        assert_eq!(waiting.lag_seconds, Some(5.5));
        let caught_up = Row::new(
            0,
            Some(&checkpoint(Some(1_000))),
            Some(9),
            Some(9),
            Some(0),
            6_500,
        );
        assert_eq!(caught_up.lag_seconds, Some(0.0));
        let nothing_applied = Row::new(0, None, None, Some(9), Some(10), 6_500);
        assert_eq!(nothing_applied.lag_seconds, None);
    }

    #[test]
    fn a_partition_behind_by_an_unknown_time_is_over_any_limit() {
        let rows =
            |lag, captured| Row::new(1, Some(&checkpoint(captured)), None, None, lag, 10_000);
        let report = |row: Row, max| {
            let log = Log {
                log: "t".into(),
                against: "topic t".into(),
                unit: Unit::Records,
                partitions: vec![row],
            };
            Report::new(vec![log], Some(max)).over
        };
        assert!(!report(rows(Some(3), Some(9_000)), 1.5));
        assert!(report(rows(Some(3), Some(8_000)), 1.5));
        assert!(report(rows(Some(3), None), 1000.0));
        assert!(!report(rows(Some(0), None), 0.0));
        assert!(report(rows(None, None), 1000.0));
    }
}
