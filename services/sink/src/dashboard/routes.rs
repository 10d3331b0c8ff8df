//! The dashboard's HTTP routes: the page and its assets (embedded in the
//! binary), `/api/snapshot` (JSON) and `/events` (Server-Sent Events).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt as _;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{Dashboard, Update};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Everything the page needs comes from this server; no inline script or
/// style, no frames, no plugins.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; \
                   frame-ancestors 'none'; form-action 'none'";

const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CSP),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
];

#[derive(Clone)]
struct RouteState {
    dashboard: Dashboard,
    closing: CancellationToken,
}

/// The dashboard's routes; open event streams end when `closing` is
/// cancelled (so the server can stop).
pub fn router(dashboard: Dashboard, closing: CancellationToken) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/api/snapshot", get(snapshot))
        .route("/events", get(events))
        .with_state(RouteState { dashboard, closing })
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        SECURITY_HEADERS,
        [(header::CONTENT_TYPE, content_type)],
        body,
    )
        .into_response()
}

async fn snapshot(State(state): State<RouteState>) -> Response {
    (SECURITY_HEADERS, axum::Json(state.dashboard.snapshot())).into_response()
}

async fn events(State(state): State<RouteState>) -> Response {
    let Some((snapshot, receiver, slot)) = state.dashboard.subscribe() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many dashboard clients\n",
        )
            .into_response();
    };
    let first = match serde_json::to_string(&snapshot) {
        Ok(json) => Event::default()
            .event("snapshot")
            .retry(Duration::from_secs(2))
            .data(json),
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response();
        }
    };
    let updates = futures::stream::unfold((receiver, slot), |(mut receiver, slot)| async move {
        match receiver.recv().await {
            Ok(update) => Some((Ok(event(&update)), (receiver, slot))),
            Err(RecvError::Lagged(skipped)) => {
                tracing::debug!(skipped, "dashboard client too slow; disconnected");
                None
            }
            Err(RecvError::Closed) => None,
        }
    });
    let stream = futures::stream::once(async move { Ok::<_, Infallible>(first) })
        .chain(updates)
        .take_until(state.closing.cancelled_owned());
    (
        SECURITY_HEADERS,
        Sse::new(stream).keep_alive(KeepAlive::default()),
    )
        .into_response()
}

fn event(update: &Update) -> Event {
    Event::default().event(update.kind).data(&*update.json)
}
