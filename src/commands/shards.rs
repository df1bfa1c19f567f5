//! Which node of each shard of a cluster source is captured, and under which name: one plan
//! that `sync` and `produce` share.

use crate::cli::SourcePrefer;
use slotstream_producer::headroom;
use slotstream_producer::shards::{self, Shard};
use slotstream_producer::SourceConfig;

/// One shard's capture: the node to read, configured as that shard.
pub struct ShardCapture {
    /// The shard's name in logs, checkpoints and resume points: `slots-<first slot>`.
    pub label: String,
    /// The node read (`host:port`) and, in `config`, the shard's source id and slots.
    #[cfg_attr(not(feature = "kafka"), allow(dead_code))]
    pub node: String,
    pub config: SourceConfig,
}

/// Plans the capture of each shard of `shards` that `chosen` names (every shard when it is
/// empty): its primary, or with [`SourcePrefer::Replica`] one of its replicas (one `CLUSTER
/// SLOTS` lists, else one its primary says is online; the primary when it has none). The
/// shard's source id is `<source_id>/<label>`. Tells each shard's headroom in the background.
/// Blocking.
pub fn plan(
    source: &SourceConfig,
    source_id: &str,
    shards: &[Shard],
    chosen: &[String],
    prefer: SourcePrefer,
) -> anyhow::Result<Vec<ShardCapture>> {
    let picked = pick(shards, chosen)?;
    tracing::info!(
        shards = shards.len(),
        captured = picked.len(),
        primaries = %shards.iter().map(|s| format!("{} ({})", s.primary, s.slots)).collect::<Vec<_>>().join(", "),
        prefer = ?prefer,
        "the source is a cluster: one capture per shard"
    );
    let mut captures = Vec::with_capacity(picked.len());
    for shard in picked {
        let primary = source.for_node(&shard.primary);
        let replica = match prefer {
            SourcePrefer::Primary => None,
            SourcePrefer::Replica => shard
                .replicas
                .first()
                .cloned()
                .or_else(|| shards::online_replica(&primary)),
        };
        let mut config = match &replica {
            Some(replica) => source.for_node(replica),
            None => primary,
        };
        let node = replica.unwrap_or_else(|| shard.primary.clone());
        tracing::info!(shard = %shard.slots, node, "capturing");
        headroom::report_in_background(
            config.clone(),
            format!("{node} (slots {})", shard.slots),
            headroom::SAMPLE,
        );
        let label = shard.label();
        config.source_id = Some(format!("{source_id}/{label}"));
        config.shard = Some(shard.slots.clone());
        captures.push(ShardCapture {
            label,
            node,
            config,
        });
    }
    Ok(captures)
}

/// The shards `chosen` names, each by its label (`slots-0`) or one of its nodes' `host:port`;
/// every shard when `chosen` is empty.
fn pick<'a>(shards: &'a [Shard], chosen: &[String]) -> anyhow::Result<Vec<&'a Shard>> {
    if chosen.is_empty() {
        return Ok(shards.iter().collect());
    }
    let mut picked = Vec::new();
    for name in chosen {
        let shard = shards
            .iter()
            .find(|s| s.label() == *name || s.primary == *name || s.replicas.contains(name))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--shard {name}: no shard of the source is named so; its shards are {} (a \
                     shard is named by its label or by the host:port of one of its nodes)",
                    shards
                        .iter()
                        .map(|s| format!(
                            "{} (slots {}, primary {})",
                            s.label(),
                            s.slots,
                            s.primary
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        if !picked.iter().any(|p: &&Shard| std::ptr::eq(*p, shard)) {
            picked.push(shard);
        }
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slotstream_schemas::slot::SlotRanges;

    fn shard(first: u16, last: u16, primary: &str, replica: &str) -> Shard {
        let mut slots = SlotRanges::default();
        slots.push(first..=last);
        Shard {
            slots,
            primary: primary.into(),
            replicas: vec![replica.into()],
        }
    }

    #[test]
    fn shards_are_picked_by_label_or_node() {
        let shards = [
            shard(0, 8191, "a:1", "b:1"),
            shard(8192, 16383, "c:1", "d:1"),
        ];
        let labels = |chosen: &[&str]| -> Vec<String> {
            let chosen: Vec<String> = chosen.iter().map(|s| s.to_string()).collect();
            pick(&shards, &chosen)
                .unwrap()
                .iter()
                .map(|s| s.label())
                .collect()
        };
        assert_eq!(labels(&[]), ["slots-0", "slots-8192"]);
        assert_eq!(labels(&["slots-8192"]), ["slots-8192"]);
        assert_eq!(labels(&["d:1", "a:1", "b:1"]), ["slots-8192", "slots-0"]);
        let err = pick(&shards, &["x:1".to_string()]).unwrap_err().to_string();
        assert!(err.contains("slots-0 (slots 0-8191, primary a:1)"), "{err}");
    }
}
