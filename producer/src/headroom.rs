//! How long a source lets its replica (slotstream) fall behind: its backlog and its replica
//! output-buffer limit, measured against the rate it writes its replication stream. Told once
//! at start, per shard of a cluster, so an operator sees before a fault that, say, a link down
//! for more than 3 s costs a full sync, or that a snapshot longer than a minute will be cut.

use crate::config::SourceConfig;
use std::time::{Duration, Instant};

/// How long the write rate is sampled for the report at start.
pub const SAMPLE: Duration = Duration::from_secs(5);

/// What a source allows, and how fast it writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Headroom {
    /// `repl-backlog-size`: how much of its stream it keeps for a replica to continue from.
    pub backlog_bytes: u64,
    /// `client-output-buffer-limit replica`: the hard limit, the soft one and its seconds.
    pub buffer: Option<BufferLimit>,
    /// Replication stream bytes per second, sampled.
    pub bytes_per_sec: f64,
}

/// A replica output-buffer limit: the link is cut at `hard` bytes, or after `soft` bytes held
/// for `soft_secs`. 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

impl Headroom {
    /// Reads the settings and samples the stream's offset over `over`.
    pub fn measure(config: &SourceConfig, over: Duration) -> redis::RedisResult<Headroom> {
        let mut conn = config.client_connection()?;
        let backlog: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("repl-backlog-size")
            .query(&mut conn)?;
        let limits: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("client-output-buffer-limit")
            .query(&mut conn)?;
        let offset = |conn: &mut redis::Connection| -> redis::RedisResult<u64> {
            let info: String = redis::cmd("INFO").arg("replication").query(conn)?;
            Ok(crate::source_clock::master_offset(&info).unwrap_or(0))
        };
        let (first, at) = (offset(&mut conn)?, Instant::now());
        std::thread::sleep(over);
        let last = offset(&mut conn)?;
        let secs = at.elapsed().as_secs_f64().max(0.001);
        Ok(Headroom {
            backlog_bytes: backlog.get(1).and_then(|n| n.parse().ok()).unwrap_or(0),
            buffer: limits.get(1).and_then(|text| replica_limit(text)),
            bytes_per_sec: last.saturating_sub(first) as f64 / secs,
        })
    }

    /// Seconds of writes the backlog holds (`None` while the source writes nothing).
    pub fn backlog_secs(&self) -> Option<f64> {
        (self.bytes_per_sec > 0.0).then(|| self.backlog_bytes as f64 / self.bytes_per_sec)
    }

    /// Seconds of writes the output buffer holds while a snapshot is sent, before the source
    /// cuts the link (`None`: no limit, or no writes).
    pub fn buffer_secs(&self) -> Option<f64> {
        let limit = self.buffer?;
        let bytes = match (limit.hard, limit.soft) {
            (0, 0) => return None,
            (0, soft) => soft,
            (hard, 0) => hard,
            (hard, soft) => hard.min(soft),
        };
        (self.bytes_per_sec > 0.0).then(|| bytes as f64 / self.bytes_per_sec)
    }

    /// Logs what the numbers mean for `node` (a warning when a link down for under a minute
    /// would cost a full sync).
    pub fn report(&self, node: &str) {
        let rate_kb = self.bytes_per_sec / 1024.0;
        let backlog = self
            .backlog_secs()
            .map_or("the source writes nothing now".to_string(), |s| {
                format!("holds {s:.1} s of writes")
            });
        let buffer = match (self.buffer, self.buffer_secs()) {
            (None, _) => "unknown".to_string(),
            (Some(limit), None) => format!(
                "{} MB hard, {} MB for {} s",
                limit.hard >> 20,
                limit.soft >> 20,
                limit.soft_secs
            ),
            (Some(limit), Some(secs)) => format!(
                "{} MB hard, {} MB for {} s: holds {secs:.0} s of writes while a snapshot is sent",
                limit.hard >> 20,
                limit.soft >> 20,
                limit.soft_secs
            ),
        };
        let short = self.backlog_secs().is_some_and(|s| s < 60.0);
        let line = format!(
            "source {node}: writes {rate_kb:.1} KB/s; its backlog ({} KB) {backlog}; its replica \
             output-buffer limit: {buffer}",
            self.backlog_bytes >> 10
        );
        if short {
            tracing::warn!(
                "{line}. A link down longer than the backlog holds takes a full sync: raise \
                 repl-backlog-size on the source"
            );
        } else {
            tracing::info!("{line}");
        }
    }
}

/// Measures `config`'s source on a thread of its own (sampling for `over`) and reports it;
/// a source that refuses `CONFIG` (some managed services do) is only noted at debug level.
pub fn report_in_background(config: SourceConfig, node: String, over: Duration) {
    let spawned = std::thread::Builder::new()
        .name("headroom".into())
        .spawn(move || match Headroom::measure(&config, over) {
            Ok(headroom) => headroom.report(&node),
            Err(err) => tracing::debug!(source = %node, %err, "cannot read the source's limits"),
        });
    if let Err(err) = spawned {
        tracing::debug!(%err, "cannot start the headroom report");
    }
}

/// The `replica` (or `slave`) class of a `client-output-buffer-limit` value, such as
/// `normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60`.
fn replica_limit(text: &str) -> Option<BufferLimit> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("replica") || w.eq_ignore_ascii_case("slave"))?;
    let number = |i: usize| words.get(at + i)?.parse::<u64>().ok();
    Some(BufferLimit {
        hard: number(1)?,
        soft: number(2)?,
        soft_secs: number(3)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_replica_class() {
        let text = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
        assert_eq!(
            replica_limit(text),
            Some(BufferLimit {
                hard: 268435456,
                soft: 67108864,
                soft_secs: 60
            })
        );
        assert_eq!(replica_limit("normal 0 0 0"), None);
        assert_eq!(replica_limit("replica x 1 2"), None);
    }

    #[test]
    fn turns_sizes_into_seconds_of_writes() {
        let headroom = Headroom {
            backlog_bytes: 1 << 20,
            buffer: Some(BufferLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_secs: 60,
            }),
            bytes_per_sec: f64::from(1 << 19),
        };
        assert_eq!(headroom.backlog_secs(), Some(2.0));
        assert_eq!(headroom.buffer_secs(), Some(128.0));
        let idle = Headroom {
            bytes_per_sec: 0.0,
            ..headroom.clone()
        };
        assert_eq!(idle.backlog_secs(), None);
        let unlimited = Headroom {
            buffer: Some(BufferLimit {
                hard: 0,
                soft: 0,
                soft_secs: 0,
            }),
            ..headroom
        };
        assert_eq!(unlimited.buffer_secs(), None);
    }
}
