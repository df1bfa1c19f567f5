//! `--metrics-addr`, `--ready-lag-secs` and the lag alert, for the commands that copy (`sync`,
//! `produce`, `consume`, `replay`).

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
    /// Warn when a partition's lag passes this many seconds, and say when every partition is
    /// back under it (the slotstream_lag_alert metric follows).
    #[arg(long, value_name = "SECS")]
    pub alert_lag_secs: Option<u64>,
    /// POST a JSON document to this http:// or https:// URL when the lag alert is raised and
    /// when it clears (needs --alert-lag-secs).
    #[arg(long, value_name = "URL", requires = "alert_lag_secs")]
    pub alert_webhook: Option<url::Url>,
}

impl MetricsArgs {
    pub fn ready_lag(&self) -> Duration {
        Duration::from_secs(self.ready_lag_secs)
    }

    /// The lag alert's threshold, when asked for.
    pub fn alert_lag(&self) -> Option<Duration> {
        self.alert_lag_secs.map(Duration::from_secs)
    }
}
