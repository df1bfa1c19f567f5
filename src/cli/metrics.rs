//! `--metrics-addr` and `--ready-lag-secs`, for the commands that copy (`sync`, `produce`,
//! `consume`, `replay`).

use clap::Args;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Default, Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR/metrics, with /healthz and /readyz (e.g.
    /// `127.0.0.1:9187`; port 0 picks a free one, logged).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<SocketAddr>,
    /// /readyz answers 200 once every partition is past its snapshot and its lag is at most
    /// this many seconds.
    #[arg(long, default_value_t = 30)]
    pub ready_lag_secs: u64,
}

impl MetricsArgs {
    /// Starts serving, when asked to.
    pub async fn serve(&self) -> anyhow::Result<()> {
        match self.metrics_addr {
            Some(addr) => {
                crate::metrics::serve(addr, Duration::from_secs(self.ready_lag_secs)).await
            }
            None => Ok(()),
        }
    }
}
