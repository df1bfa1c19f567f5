//! `--alert-lag-secs N`: a warning when a partition's lag passes N seconds and an info line when
//! every partition is back under it, the `slotstream_lag_alert` gauge, and with
//! `--alert-webhook URL` a small JSON document POSTed for each (the "latency exceeds
//! threshold" alert of managed migration services). Judged every 2 s.

use crate::progress::Numbers;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// What to alert on, set once as the command starts.
#[derive(Debug, Clone)]
pub struct LagAlert {
    pub threshold: Duration,
    pub webhook: Option<url::Url>,
    /// The command, for the webhook's document.
    pub command: &'static str,
}

static ALERT: OnceLock<LagAlert> = OnceLock::new();
/// Whether the lag is over the threshold now (the alert is raised).
static RAISED: AtomicBool = AtomicBool::new(false);

/// Judges the lag every progress tick (2 s) from now on, by `alert`.
pub fn watch(alert: LagAlert) {
    if ALERT.set(alert).is_err() {
        return;
    }
    tokio::spawn(async {
        let mut ticker = tokio::time::interval(Duration::from_secs(2));
        loop {
            ticker.tick().await;
            check(&super::current());
        }
    });
}

/// Whether the alert is raised now.
pub fn raised() -> bool {
    RAISED.load(Ordering::Relaxed)
}

/// Judges `numbers` against the threshold; raises or clears the alert on a change.
fn check(numbers: &Numbers) {
    let Some(alert) = ALERT.get() else {
        return;
    };
    let Some((key, &ms)) = numbers.lags_ms.iter().max_by_key(|(_, &ms)| ms) else {
        return;
    };
    let threshold_ms = alert.threshold.as_millis() as i64;
    let over = ms > threshold_ms;
    if over == RAISED.swap(over, Ordering::Relaxed) {
        return;
    }
    let (event, lag_secs) = ("lag_over", ms as f64 / 1000.0);
    if over {
        tracing::warn!(
            partition = %key,
            lag_s = lag_secs,
            threshold_s = alert.threshold.as_secs(),
            "lag over --alert-lag-secs"
        );
    } else {
        tracing::info!(
            lag_s = lag_secs,
            threshold_s = alert.threshold.as_secs(),
            "lag back under --alert-lag-secs"
        );
    }
    if let Some(url) = &alert.webhook {
        let document = serde_json::json!({
            "event": if over { event } else { "lag_recovered" },
            "command": alert.command,
            "partition": key.to_string(),
            "lag_seconds": lag_secs,
            "threshold_seconds": alert.threshold.as_secs(),
        });
        let url = url.clone();
        tokio::spawn(async move {
            if let Err(err) = post(&url, document.to_string()).await {
                tracing::warn!(
                    "could not POST the lag alert to --alert-webhook {}: {err:#}",
                    shown(&url)
                );
            }
        });
    }
}

/// `url` without its password, for logs.
pub fn shown(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    shown.to_string()
}

/// POSTs `body` (JSON) to `url` (`http://` or `https://`), within 10 s.
async fn post(url: &url::Url, body: String) -> anyhow::Result<()> {
    let host = url
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("the URL names no host"))?
        .to_string();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| anyhow::anyhow!("the URL names no port"))?;
    let request = hyper::Request::post(&url[url::Position::BeforePath..])
        .header(hyper::header::HOST, &host)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let sent = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        let status = match url.scheme() {
            "http" => send(TokioIo::new(stream), request).await?,
            "https" => {
                let connector = tokio_native_tls::TlsConnector::from(
                    tokio_native_tls::native_tls::TlsConnector::new()?,
                );
                let tls = connector.connect(&host, stream).await?;
                send(TokioIo::new(tls), request).await?
            }
            other => anyhow::bail!("{other}:// is not http:// or https://"),
        };
        anyhow::ensure!(status.is_success(), "the webhook answered {status}");
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(10), sent)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within 10 s"))?
}

async fn send<IO>(
    io: TokioIo<IO>,
    request: hyper::Request<Full<Bytes>>,
) -> anyhow::Result<hyper::StatusCode>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender.send_request(request).await?.status())
}
