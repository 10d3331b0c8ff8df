//! The dashboard's HTTP routes: the page and its assets (embedded in the
//! binary), `/api/snapshot` (JSON) and `/events` (Server-Sent Events).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt as _;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{Dashboard, Update};
use crate::history::History;
use crate::history::query::{AlertsParams, CountsParams, PostsParams};
use crate::store::Dialect;

const INDEX_HTML: &str = include_str!("assets/index.html");
/// Helpers both pages load before their own script.
const COMMON_JS: &str = include_str!("assets/common.js");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const HISTORY_HTML: &str = include_str!("assets/history.html");
const HISTORY_JS: &str = include_str!("assets/history.js");

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
    history: Option<History>,
}

/// The dashboard's routes; open event streams end when `closing` is
/// cancelled (so the server can stop). `history`: the store the history
/// API reads, when the sink has one.
pub fn router(
    dashboard: Dashboard,
    closing: CancellationToken,
    history: Option<History>,
) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/common.js",
            get(|| async { asset("text/javascript; charset=utf-8", COMMON_JS) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route(
            "/history",
            get(|| async { asset("text/html; charset=utf-8", HISTORY_HTML) }),
        )
        .route(
            "/history.js",
            get(|| async { asset("text/javascript; charset=utf-8", HISTORY_JS) }),
        )
        .route("/api/snapshot", get(snapshot))
        .route("/events", get(events))
        .route("/api/posts", get(posts))
        .route("/api/counts", get(counts))
        .route("/api/alerts", get(alerts))
        .with_state(RouteState {
            dashboard,
            closing,
            history,
        })
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

fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        SECURITY_HEADERS,
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

fn answer<T: serde::Serialize>(result: anyhow::Result<T>) -> Response {
    match result {
        Ok(value) => (SECURITY_HEADERS, axum::Json(value)).into_response(),
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "history query failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the store could not answer; see the sink's log",
            )
        }
    }
}

fn no_store() -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        "no history: the sink has no store (set sqlite_path or postgres_url)",
    )
}

/// Query parameters as given; a bad one is a 400 naming it.
type Params<T> = Result<Query<T>, QueryRejection>;

fn bad_params(rejection: QueryRejection) -> Response {
    json_error(StatusCode::BAD_REQUEST, &rejection.body_text())
}

async fn posts(State(state): State<RouteState>, params: Params<PostsParams>) -> Response {
    let Some(history) = state.history else {
        return no_store();
    };
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => return bad_params(rejection),
    };
    match params.check() {
        Ok(query) => answer(history.posts(&query).await),
        Err(error) => json_error(StatusCode::BAD_REQUEST, &error.0),
    }
}

async fn counts(State(state): State<RouteState>, params: Params<CountsParams>) -> Response {
    let Some(history) = state.history else {
        return no_store();
    };
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => return bad_params(rejection),
    };
    match params.check(chrono::Utc::now()) {
        Ok(query) => answer(history.counts(&query).await),
        Err(error) => json_error(StatusCode::BAD_REQUEST, &error.0),
    }
}

async fn alerts(State(state): State<RouteState>, params: Params<AlertsParams>) -> Response {
    let Some(history) = state.history else {
        return no_store();
    };
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => return bad_params(rejection),
    };
    if let Err(error) = params.sql(Dialect::Sqlite) {
        return json_error(StatusCode::BAD_REQUEST, &error.0);
    }
    answer(
        history
            .alerts(&params)
            .await
            .map(|alerts| serde_json::json!({ "alerts": alerts })),
    )
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
