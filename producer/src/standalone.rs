//! Until cluster sources are supported: a source that is a cluster node is refused before any
//! record is written, since its snapshot holds only that node's slots. One small check, so
//! cluster support can lift it.

use crate::error::CaptureError;

/// Refuses a source whose `INFO cluster` says `cluster_enabled:1`. A source whose `INFO` cannot
/// be read is let through with a warning: the replica link that follows reports a real fault.
pub fn refuse_cluster(conn: &mut redis::Connection, addr: &str) -> Result<(), CaptureError> {
    let info: String = match redis::cmd("INFO").arg("cluster").query(conn) {
        Ok(info) => info,
        Err(err) => {
            tracing::warn!(
                source = addr,
                %err,
                "cannot read INFO cluster; assuming a standalone source"
            );
            return Ok(());
        }
    };
    if is_cluster_node(&info) {
        return Err(CaptureError::Unsupported {
            addr: addr.to_string(),
            what: "it is a cluster node (cluster_enabled:1), and cluster sources are not \
                   supported yet: only this node's slots would be copied. Point --source at a \
                   standalone server"
                .into(),
        });
    }
    Ok(())
}

/// Whether `INFO cluster` text says the server runs in cluster mode.
fn is_cluster_node(info: &str) -> bool {
    info.lines().any(|line| line.trim() == "cluster_enabled:1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cluster_enabled() {
        assert!(is_cluster_node("# Cluster\r\ncluster_enabled:1\r\n"));
        assert!(!is_cluster_node("# Cluster\r\ncluster_enabled:0\r\n"));
        assert!(!is_cluster_node(""));
    }
}
