//! The HTTP side of `--metrics-addr`: a hyper HTTP/1 server on its own task, answering
//! `GET /metrics`, `/`, `/status.json`, `/healthz` and `/readyz`; anything else is 404.

use super::{current, ready, status, text};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Listens on `addr` and serves from a task of its own for as long as the process runs.
/// Binding happens here, so a taken or wrong address stops the command before it starts.
pub async fn serve(addr: SocketAddr, ready_lag: Duration) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr).await.map_err(|err| {
        anyhow::anyhow!(
            "cannot serve metrics on --metrics-addr {addr}: {err}; give a free address (port 0 \
             picks one) or leave the option out"
        )
    })?;
    let bound = listener.local_addr()?;
    tracing::info!(addr = %bound, "serving the status page at /, /metrics, /healthz and /readyz");
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(%err, "metrics: accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let service = service_fn(move |request| async move {
                    Ok::<_, Infallible>(respond(&request, ready_lag))
                });
                if let Err(err) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%err, "metrics: a connection ended with an error");
                }
            });
        }
    });
    Ok(())
}

fn respond(request: &Request<Incoming>, ready_lag: Duration) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        if let Ok(value) = content_type.parse() {
            response
                .headers_mut()
                .insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    };
    let plain = "text/plain; charset=utf-8";
    match request.uri().path() {
        "/metrics" => {
            let numbers = current();
            match text::render(&numbers, ready(&numbers, ready_lag)) {
                Ok(body) => reply(
                    StatusCode::OK,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    body,
                ),
                Err(err) => reply(StatusCode::INTERNAL_SERVER_ERROR, plain, err.to_string()),
            }
        }
        "/" => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            status::PAGE.to_string(),
        ),
        "/status.json" => match serde_json::to_string(&status::of(&current(), ready_lag)) {
            Ok(body) => reply(StatusCode::OK, "application/json", body),
            Err(err) => reply(StatusCode::INTERNAL_SERVER_ERROR, plain, err.to_string()),
        },
        "/healthz" => reply(StatusCode::OK, plain, "ok\n".into()),
        "/readyz" => {
            let numbers = current();
            if ready(&numbers, ready_lag) {
                reply(StatusCode::OK, plain, "ready\n".into())
            } else {
                let why = if numbers.partitions > 0 {
                    format!(
                        "not ready: {} of {} partitions past their snapshot, lag up to {} ms \
                         (--ready-lag-secs {})\n",
                        numbers.lags_ms.len(),
                        numbers.partitions,
                        numbers.lags_ms.values().max().copied().unwrap_or(0),
                        ready_lag.as_secs()
                    )
                } else {
                    format!(
                        "not ready: {} of {} captures past their snapshot\n",
                        numbers.captures_live, numbers.captures
                    )
                };
                reply(StatusCode::SERVICE_UNAVAILABLE, plain, why)
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            plain,
            "not found: /, /status.json, /metrics, /healthz and /readyz are served here\n".into(),
        ),
    }
}
