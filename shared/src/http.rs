//! The operations HTTP endpoint every service serves: `/metrics`
//! (Prometheus text format), `/healthz` (the process is alive) and `/readyz`
//! (it has reached the broker and is doing its job). A service may merge
//! routes of its own (the sink's dashboard) into the same server.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::config::InvalidKey;

/// Where a service serves its operations endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// `host:port` to listen on, e.g. `127.0.0.1:9102`; port 0 picks a free
    /// port (logged at start); `off` serves nothing. Use `0.0.0.0:<port>` in
    /// a container so Prometheus can reach it.
    pub bind: String,
}

impl HttpSettings {
    /// Settings listening on `bind`.
    pub fn on(bind: &str) -> HttpSettings {
        HttpSettings { bind: bind.into() }
    }

    /// The address to listen on, `None` when switched off; names the key
    /// when it is not an address.
    pub fn address(&self) -> Result<Option<SocketAddr>, InvalidKey> {
        let bind = self.bind.trim();
        if bind.is_empty() || bind.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        bind.parse().map(Some).map_err(|_| {
            InvalidKey::new(
                "http.bind",
                format!("{bind:?} is not host:port (e.g. 127.0.0.1:9102) or \"off\""),
            )
        })
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings::on("off")
    }
}

/// Whether the service is ready; `/readyz` answers 503 with the reason until
/// it is. Cheap to clone; every clone shares the state.
#[derive(Clone, Default)]
pub struct Readiness {
    ready: Arc<AtomicBool>,
    reason: Arc<Mutex<String>>,
}

impl Readiness {
    /// A readiness flag that starts as not ready ("starting").
    pub fn new() -> Readiness {
        let readiness = Readiness::default();
        readiness.not_ready("starting");
        readiness
    }

    /// Marks the service ready.
    pub fn ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Marks the service not ready, saying why (shown by `/readyz`).
    pub fn not_ready(&self, reason: &str) {
        if let Ok(mut slot) = self.reason.lock() {
            reason.clone_into(&mut slot);
        }
        self.ready.store(false, Ordering::Release);
    }

    /// Whether the service is ready now.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn reason(&self) -> String {
        self.reason.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

#[derive(Clone)]
struct OpsState {
    registry: Arc<Registry>,
    readiness: Readiness,
}

/// The `/metrics`, `/healthz` and `/readyz` routes over `registry`.
pub fn ops_router(registry: Arc<Registry>, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(OpsState {
            registry,
            readiness,
        })
}

async fn metrics(State(state): State<OpsState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}

async fn readyz(State(state): State<OpsState>) -> Response {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready\n".to_string()).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", state.readiness.reason()),
        )
            .into_response()
    }
}

/// How long a stopping server may take to finish the requests it is
/// answering (an open event stream ends when its token is cancelled).
pub const STOP_WAIT: Duration = Duration::from_secs(2);

/// A running HTTP server. Dropping it stops it without waiting; [`HttpServer::stop`]
/// stops it and waits (bounded).
pub struct HttpServer {
    /// The address it listens on (the real port when 0 was asked for).
    pub address: SocketAddr,
    task: JoinHandle<()>,
    stop: DropGuard,
}

impl HttpServer {
    /// Stops accepting connections, lets the requests being answered
    /// finish, and waits at most [`STOP_WAIT`] for them. (A request still
    /// open after that is left to end with the runtime: axum runs each
    /// connection as a task of its own, out of reach here.)
    pub async fn stop(self) {
        self.stop.disarm().cancel();
        if tokio::time::timeout(STOP_WAIT, self.task).await.is_err() {
            tracing::warn!(address = %self.address, "http server did not stop in time");
        }
    }
}

/// Binds `settings` and serves `router` until `stop` is cancelled, the
/// server is dropped or [`HttpServer::stop`] is called; `Ok(None)` when
/// switched off. Fails (before serving) when the address cannot be bound.
///
/// `stop` is the server's own token, not the service's shutdown: metrics
/// stay up while a service drains. Routes that hold requests open (event
/// streams) end them when it is cancelled.
pub async fn serve(
    service: &str,
    settings: &HttpSettings,
    router: Router,
    stop: CancellationToken,
) -> anyhow::Result<Option<HttpServer>> {
    let Some(bind) = settings.address().map_err(anyhow::Error::msg)? else {
        return Ok(None);
    };
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("http.bind: cannot listen on {bind}: {e}"))?;
    let address = listener.local_addr()?;
    tracing::info!(service, %address, "serving /metrics, /healthz, /readyz");
    let stopped = stop.clone().cancelled_owned();
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::warn!(%error, "http server stopped");
        }
    });
    Ok(Some(HttpServer {
        address,
        task,
        stop: stop.drop_guard(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_parses_or_names_the_key() {
        assert_eq!(HttpSettings::on("off").address(), Ok(None));
        assert_eq!(HttpSettings::on("").address(), Ok(None));
        assert_eq!(
            HttpSettings::on("127.0.0.1:9102").address(),
            Ok(Some("127.0.0.1:9102".parse().unwrap()))
        );
        let error = HttpSettings::on("localhost").address().unwrap_err();
        assert_eq!(error.key, "http.bind", "{error}");
    }

    #[test]
    fn readiness_starts_not_ready_and_keeps_its_reason() {
        let readiness = Readiness::new();
        assert!(!readiness.is_ready());
        readiness.not_ready("broker unreachable");
        assert_eq!(readiness.reason(), "broker unreachable");
        readiness.clone().ready();
        assert!(readiness.is_ready());
    }

    /// Sends `GET path` on a new connection and reads the status line; `None`
    /// when the connection is refused or closed without an answer.
    async fn status(address: SocketAddr, path: &str) -> Option<String> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await.ok()?;
        (!line.is_empty()).then(|| line.trim_end().to_string())
    }

    fn router_with_a_slow_route() -> Router {
        ops_router(Arc::new(Registry::default()), Readiness::new()).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late\n"
            }),
        )
    }

    async fn start() -> HttpServer {
        serve(
            "test",
            &HttpSettings::on("127.0.0.1:0"),
            router_with_a_slow_route(),
            CancellationToken::new(),
        )
        .await
        .unwrap()
        .expect("a server on a free port")
    }

    #[tokio::test]
    async fn off_serves_nothing_and_a_taken_port_names_the_key() {
        let off = serve(
            "test",
            &HttpSettings::on("off"),
            Router::new(),
            CancellationToken::new(),
        )
        .await;
        assert!(off.unwrap().is_none());
        let server = start().await;
        let taken = HttpSettings::on(&server.address.to_string());
        let error = serve("test", &taken, Router::new(), CancellationToken::new())
            .await
            .err()
            .expect("the port is taken");
        assert!(error.to_string().starts_with("http.bind:"), "{error}");
        server.stop().await;
    }

    #[tokio::test]
    async fn stop_waits_for_open_requests_at_most_the_stop_wait_and_refuses_new_ones() {
        let server = start().await;
        let address = server.address;
        assert_eq!(
            status(address, "/healthz").await.as_deref(),
            Some("HTTP/1.1 200 OK")
        );
        assert_eq!(
            status(address, "/readyz").await.as_deref(),
            Some("HTTP/1.1 503 Service Unavailable")
        );
        assert_eq!(
            status(address, "/nowhere").await.as_deref(),
            Some("HTTP/1.1 404 Not Found")
        );
        let slow = tokio::spawn(status(address, "/slow"));
        // The slow request is being answered before the server stops.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = std::time::Instant::now();
        server.stop().await;
        let took = started.elapsed();
        assert!(took >= STOP_WAIT, "stop returned after {took:?}");
        assert!(
            took < STOP_WAIT + Duration::from_secs(2),
            "stop took {took:?}"
        );
        assert!(!slow.is_finished(), "the slow request was answered");
        assert_eq!(status(address, "/healthz").await, None);
    }

    #[tokio::test]
    async fn dropping_the_server_stops_it() {
        let server = start().await;
        let address = server.address;
        assert!(status(address, "/healthz").await.is_some());
        drop(server);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while status(address, "/healthz").await.is_some() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "still serving after drop"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
