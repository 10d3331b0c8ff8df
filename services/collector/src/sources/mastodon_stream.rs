//! Mastodon's SSE streaming API (`/api/v1/streaming/public`, needs a token):
//! `update` events become posts, `delete` and `status.update` (edits) are
//! skipped, `:` heartbeats keep the connection alive, and a `retry:` field
//! sets the least wait before reconnecting. On every (re)connect
//! the REST timeline fills the gap since the last post, so a reconnect or a
//! restart loses nothing; duplicates from the overlap are dropped.

use std::time::Duration;

use serde_json::Value;

use super::http;
use super::mastodon::{MastodonCursor, MastodonSource};
use super::sse::{SseError, SseEvent, SseEvents};
use super::{Failure, FetchError, PendingBatch, SeenIds, SourceContext, SourceError, until};
use crate::metrics::ErrorKind;
use weibostream_shared::retry::Pacer;

/// Streams until shutdown, reconnecting after transient errors.
pub async fn run(source: MastodonSource, context: SourceContext) -> Result<(), SourceError> {
    let connect_timeout = Duration::from_millis(source.settings.request_timeout_ms);
    let client = http::client(None, connect_timeout).map_err(SourceError::Fatal)?;
    let mut state = Stream {
        since_id: context
            .load_cursor::<MastodonCursor>()?
            .and_then(|c| c.since_id),
        seen: SeenIds::new(source.settings.dedup_capacity),
        backoff: context.backoff(),
        retry: None,
    };
    tracing::info!(source = %context.name, since_id = ?state.since_id, "streaming the public timeline");
    loop {
        match state.session(&source, &context, &client).await {
            Ok(()) => return Ok(()),
            Err(FetchError::Fatal(message)) => {
                context.metrics.add_error(ErrorKind::Auth);
                return Err(SourceError::Fatal(message));
            }
            Err(FetchError::Transient(mut failure)) => {
                // The server's `retry:` holds for every reconnect, as in a browser.
                failure.retry_after = failure.retry_after.max(state.retry);
                if !context.retry_after(&mut state.backoff, &failure).await {
                    return Ok(());
                }
            }
        }
    }
}

struct Stream {
    since_id: Option<String>,
    seen: SeenIds<String>,
    backoff: weibostream_shared::retry::Backoff,
    /// The last `retry:` the server sent.
    retry: Option<Duration>,
}

impl Stream {
    /// One connection: `Ok` on shutdown, an error when it broke.
    async fn session(
        &mut self,
        source: &MastodonSource,
        context: &SourceContext,
        client: &reqwest::Client,
    ) -> Result<(), FetchError> {
        let url = format!(
            "{}/api/v1/streaming/public",
            source.instance.base_url.trim_end_matches('/')
        );
        let what = format!("GET {url}");
        let token = source
            .token
            .as_ref()
            .map(|t| t.expose())
            .unwrap_or_default();
        let request = client
            .get(&url)
            .bearer_auth(token)
            .header("Accept", "text/event-stream");
        let connect = Duration::from_millis(source.settings.request_timeout_ms);
        let response = match tokio::time::timeout(connect, request.send()).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return Err(http::transport(&error, &what).into()),
            Err(_) => {
                return Err(Failure::new(
                    ErrorKind::Timeout,
                    format!(
                        "{what}: no response headers within {} ms",
                        connect.as_millis()
                    ),
                )
                .into());
            }
        };
        if !response.status().is_success() {
            let status = response.status();
            let headers = response.headers().clone();
            let body = tokio::time::timeout(connect, response.bytes())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            let response = http::Response {
                status,
                headers,
                body: body.to_vec(),
            };
            source.check(&response, &what)?;
            return Err(http::status_failure(status, &response.body, &what).into());
        }
        tracing::info!(source = %context.name, "stream connected");
        if !self.backfill(source, context).await? {
            return Ok(());
        }
        let idle = Duration::from_millis(source.settings.stream_idle_timeout_ms);
        let mut events = SseEvents::from_response(response, idle);
        let mut pending = PendingBatch::new(Some(MastodonCursor {
            since_id: self.since_id.clone(),
        }));
        let failure = loop {
            let next = tokio::select! {
                () = context.shutdown.cancelled() => {
                    let _ = pending.flush(context).await;
                    return Ok(());
                }
                () = until(pending.deadline(context.batch_max_wait)) => {
                    if pending.flush(context).await.is_err() {
                        return Ok(());
                    }
                    continue;
                }
                next = events.next() => next,
            };
            self.retry = events.retry().or(self.retry);
            match next {
                Ok(Some(event)) => {
                    self.handle(source, context, event, &mut pending);
                    if pending.is_full(context.batch_max_posts)
                        && pending.flush(context).await.is_err()
                    {
                        return Ok(());
                    }
                }
                Ok(None) => {
                    break Failure::new(
                        ErrorKind::Closed,
                        format!("{what}: the server closed the stream"),
                    );
                }
                Err(SseError::Body(error)) => {
                    break match error.downcast::<reqwest::Error>() {
                        Ok(error) => http::transport(&error, &what),
                        Err(error) => {
                            Failure::new(ErrorKind::Connection, format!("{what}: {error}"))
                        }
                    };
                }
                Err(error) => {
                    let kind = match &error {
                        SseError::Idle(_) => ErrorKind::Timeout,
                        _ => ErrorKind::InvalidJson,
                    };
                    break Failure::new(kind, format!("{what}: {error}"));
                }
            }
        };
        // A connection that carried anything, heartbeats included, worked:
        // the next reconnect starts from the shortest wait.
        if events.heard_from_server() {
            self.backoff.reset();
        }
        if pending.flush(context).await.is_err() {
            return Ok(());
        }
        Err(failure.into())
    }

    /// Fetches what was posted since the cursor over REST; `false` on shutdown.
    async fn backfill(
        &mut self,
        source: &MastodonSource,
        context: &SourceContext,
    ) -> Result<bool, FetchError> {
        let Some(since_id) = self.since_id.clone() else {
            return Ok(true);
        };
        let mut pacer = Pacer::new(Duration::ZERO, 0);
        let Some(statuses) = source.poll(&mut pacer, context, Some(&since_id)).await? else {
            return Ok(false);
        };
        let (posts, moved) =
            source.new_posts(context, statuses, &mut self.since_id, &mut self.seen);
        let cursor = MastodonCursor {
            since_id: self.since_id.clone(),
        };
        Ok(context.send(posts, moved.then_some(&cursor)).await.is_ok())
    }

    fn handle(
        &mut self,
        source: &MastodonSource,
        context: &SourceContext,
        event: SseEvent,
        pending: &mut PendingBatch<MastodonCursor>,
    ) {
        let SseEvent { event, data } = event;
        match event.as_str() {
            "update" => {
                context.metrics.add_fetched(1);
                let status: Value = match serde_json::from_str(&data) {
                    Ok(status) => status,
                    Err(error) => {
                        context.metrics.add_error(ErrorKind::InvalidJson);
                        tracing::warn!(source = %context.name, %error, "skipping an update event that is not JSON");
                        return;
                    }
                };
                let Some(id) = status.get("id").and_then(Value::as_str).map(str::to_owned) else {
                    context.metrics.add_error(ErrorKind::InvalidRecord);
                    return;
                };
                let post = source.accept(context, &id, &status, &mut self.since_id, &mut self.seen);
                pending.push(
                    post,
                    Some(MastodonCursor {
                        since_id: self.since_id.clone(),
                    }),
                );
            }
            "delete" | "status.update" => {
                // A published post cannot be retracted or replaced downstream.
                context.metrics.add_fetched(1);
                context.metrics.add_skipped(1);
            }
            _ => {}
        }
    }
}
