//! Bluesky through Jetstream: a WebSocket of JSON events filtered to
//! `app.bsky.feed.post`. Only `create` commits become posts; identity and
//! account events, deletes and other collections are skipped. The cursor is
//! the `time_us` of the last event handled; a reconnect or a restart resumes
//! there and drops the replayed events up to it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use weibostream_shared::{Author, Post, Source};

use super::{Failure, PendingBatch, SeenIds, SourceContext, SourceError, until};
use crate::config::JetstreamSettings;
use crate::metrics::ErrorKind;
use crate::weibo::primary_language;

/// The collection of Bluesky posts.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

/// What the Jetstream source saves after each acknowledged batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JetstreamCursor {
    /// `time_us` of the last event handled.
    pub time_us: u64,
}

/// What one event is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new post.
    Post(Box<Post>),
    /// Anything else: identity, account, deletes, other collections, other languages.
    Skip,
}

/// The Jetstream source.
pub struct JetstreamSource {
    settings: JetstreamSettings,
}

impl JetstreamSource {
    /// A source for `settings`.
    pub fn new(settings: JetstreamSettings) -> Self {
        JetstreamSource { settings }
    }

    /// The subscribe URL, resuming at `cursor` if given.
    pub fn url(&self, cursor: Option<u64>) -> String {
        let separator = if self.settings.url.contains('?') {
            '&'
        } else {
            '?'
        };
        let mut url = format!(
            "{}{separator}wantedCollections={POST_COLLECTION}",
            self.settings.url
        );
        if let Some(cursor) = cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        url
    }

    /// Streams until shutdown, reconnecting with backoff.
    pub async fn run(self, context: SourceContext) -> Result<(), SourceError> {
        let mut cursor = context.load_cursor::<JetstreamCursor>()?.map(|c| c.time_us);
        let mut seen = SeenIds::new(self.settings.dedup_capacity);
        let mut backoff = context.backoff();
        tracing::info!(source = %context.name, ?cursor, "following Jetstream");
        loop {
            match self
                .session(&context, &mut cursor, &mut seen, &mut backoff)
                .await
            {
                Ok(()) => return Ok(()),
                Err(failure) => {
                    if !context.retry_after(&mut backoff, &failure).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// One connection: `Ok` on shutdown, the failure when it broke.
    async fn session(
        &self,
        context: &SourceContext,
        cursor: &mut Option<u64>,
        seen: &mut SeenIds<String>,
        backoff: &mut weibostream_shared::retry::Backoff,
    ) -> Result<(), Failure> {
        let url = self.url(*cursor);
        let connect = Duration::from_millis(self.settings.connect_timeout_ms);
        let mut socket =
            match tokio::time::timeout(connect, tokio_tungstenite::connect_async(&url)).await {
                Ok(Ok((socket, _))) => socket,
                Ok(Err(error)) => {
                    return Err(Failure::new(
                        ErrorKind::Connection,
                        format!("connecting to {url}: {error}"),
                    ));
                }
                Err(_) => {
                    return Err(Failure::new(
                        ErrorKind::Timeout,
                        format!(
                            "connecting to {url}: no handshake within {} ms",
                            connect.as_millis()
                        ),
                    ));
                }
            };
        tracing::info!(source = %context.name, %url, "connected");
        let resume_after = *cursor;
        let idle = Duration::from_millis(self.settings.idle_timeout_ms);
        let mut idle_deadline = Instant::now() + idle;
        let mut pending = PendingBatch::new(cursor.map(|time_us| JetstreamCursor { time_us }));
        loop {
            let message = tokio::select! {
                () = context.shutdown.cancelled() => {
                    let _ = pending.flush(context).await;
                    let _ = socket.close(None).await;
                    return Ok(());
                }
                () = until(pending.deadline(context.batch_max_wait)) => {
                    if pending.flush(context).await.is_err() {
                        return Ok(());
                    }
                    continue;
                }
                message = tokio::time::timeout_at(idle_deadline, socket.next()) => message,
            };
            let failure = match message {
                Ok(Some(Ok(Message::Text(text)))) => {
                    idle_deadline = Instant::now() + idle;
                    backoff.reset();
                    self.handle(
                        context,
                        text.as_str(),
                        resume_after,
                        cursor,
                        seen,
                        &mut pending,
                    );
                    if pending.is_full(context.batch_max_posts)
                        && pending.flush(context).await.is_err()
                    {
                        return Ok(());
                    }
                    continue;
                }
                Ok(Some(Ok(Message::Close(frame)))) => Failure::new(
                    ErrorKind::Closed,
                    format!(
                        "{url}: the server closed the connection{}",
                        frame
                            .map(|f| format!(" ({} {})", f.code, f.reason))
                            .unwrap_or_default()
                    ),
                ),
                Ok(Some(Ok(_))) => {
                    idle_deadline = Instant::now() + idle;
                    continue;
                }
                Ok(Some(Err(error))) => {
                    Failure::new(ErrorKind::Connection, format!("{url}: {error}"))
                }
                Ok(None) => Failure::new(ErrorKind::Closed, format!("{url}: the connection ended")),
                Err(_) => Failure::new(
                    ErrorKind::Timeout,
                    format!("{url}: no event for {} ms", idle.as_millis()),
                ),
            };
            if pending.flush(context).await.is_err() {
                return Ok(());
            }
            return Err(failure);
        }
    }

    fn handle(
        &self,
        context: &SourceContext,
        text: &str,
        resume_after: Option<u64>,
        cursor: &mut Option<u64>,
        seen: &mut SeenIds<String>,
        pending: &mut PendingBatch<JetstreamCursor>,
    ) {
        context.metrics.add_fetched(1);
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(error) => {
                context.metrics.add_error(ErrorKind::InvalidJson);
                tracing::warn!(source = %context.name, %error, "skipping an event that is not JSON");
                return;
            }
        };
        let Some(time_us) = value.get("time_us").and_then(Value::as_u64) else {
            context.metrics.add_error(ErrorKind::InvalidRecord);
            tracing::warn!(source = %context.name, "skipping an event without time_us");
            return;
        };
        if resume_after.is_some_and(|resume| time_us <= resume) {
            // Replayed from the cursor: handled before the reconnect or restart.
            context.metrics.add_duplicates(1);
            return;
        }
        *cursor = Some(cursor.map_or(time_us, |c| c.max(time_us)));
        let next_cursor = cursor.map(|time_us| JetstreamCursor { time_us });
        match event_to_post(&value, &self.settings.languages, Utc::now()) {
            Ok(Event::Post(post)) if seen.insert(post.id.clone()) => {
                pending.push(Some(*post), next_cursor)
            }
            Ok(Event::Post(_)) => {
                context.metrics.add_duplicates(1);
                pending.push(None, next_cursor);
            }
            Ok(Event::Skip) => {
                context.metrics.add_skipped(1);
                pending.push(None, next_cursor);
            }
            Err(error) => {
                context.metrics.add_error(ErrorKind::InvalidRecord);
                tracing::warn!(source = %context.name, time_us, %error, "skipping a bad event");
                pending.push(None, next_cursor);
            }
        }
    }
}

/// Turns one Jetstream event into a post, or says to skip it. `languages`
/// (ISO 639-1) keeps only posts tagged with one of them, when not empty.
pub fn event_to_post(
    event: &Value,
    languages: &[String],
    collected_at: DateTime<Utc>,
) -> Result<Event, String> {
    if event.get("kind").and_then(Value::as_str) != Some("commit") {
        return Ok(Event::Skip);
    }
    let commit = event
        .get("commit")
        .ok_or("commit event without \"commit\"")?;
    let field = |key: &str| commit.get(key).and_then(Value::as_str);
    if field("collection") != Some(POST_COLLECTION) || field("operation") != Some("create") {
        return Ok(Event::Skip);
    }
    let did = event
        .get("did")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
        .ok_or("missing field \"did\"")?;
    let rkey = field("rkey")
        .filter(|r| !r.is_empty())
        .ok_or("missing field \"commit.rkey\"")?;
    let record = commit
        .get("record")
        .ok_or("missing field \"commit.record\"")?;
    let langs: Vec<String> = record
        .get("langs")
        .and_then(Value::as_array)
        .map(|langs| {
            langs
                .iter()
                .filter_map(Value::as_str)
                .map(primary_language)
                .collect()
        })
        .unwrap_or_default();
    if !languages.is_empty()
        && !langs
            .iter()
            .any(|lang| languages.iter().any(|want| want.eq_ignore_ascii_case(lang)))
    {
        return Ok(Event::Skip);
    }
    let created_at = record
        .get("createdAt")
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|time| time.with_timezone(&Utc))
        .or_else(|| {
            let time_us = event.get("time_us")?.as_i64()?;
            DateTime::from_timestamp_micros(time_us)
        })
        .ok_or("no usable createdAt or time_us")?;
    Ok(Event::Post(Box::new(Post {
        id: Source::Bluesky.post_id(&format!("{did}/{rkey}")),
        source: Source::Bluesky,
        text: record
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned(),
        lang: langs.into_iter().next().filter(|lang| !lang.is_empty()),
        created_at,
        author: Author {
            id: did.to_owned(),
            name: did.to_owned(),
            followers: None,
            verified: false,
        },
        url: Some(format!("https://bsky.app/profile/{did}/post/{rkey}")),
        reposts: 0,
        comments: 0,
        likes: 0,
        repost_of: None,
        client: None,
        collected_at,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &str = include_str!("../../tests/fixtures/jetstream/golden_v1.jsonl");

    #[test]
    fn golden_events_give_their_one_post() {
        let now = Utc::now();
        let posts: Vec<Post> = GOLDEN
            .lines()
            .map(|line| event_to_post(&serde_json::from_str(line).unwrap(), &[], now).unwrap())
            .filter_map(|event| match event {
                Event::Post(post) => Some(*post),
                Event::Skip => None,
            })
            .collect();
        // The fixture holds one post among likes, reposts, follows, identity and account events.
        assert_eq!(posts.len(), 1, "{posts:#?}");
        let first = &posts[0];
        assert_eq!(
            first.id,
            "bluesky:did:plc:q235v55g5unth4zjjdpacfdr/3mmoojp4cd223"
        );
        assert_eq!(first.text, "Try RSV for a good time !!");
        assert_eq!(first.lang.as_deref(), Some("en"));
        assert_eq!(
            first.url.as_deref(),
            Some("https://bsky.app/profile/did:plc:q235v55g5unth4zjjdpacfdr/post/3mmoojp4cd223")
        );
        assert_eq!(
            first.created_at,
            "2026-05-25T14:23:28.757Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(posts.iter().all(|post| post.validate().is_ok()));
    }

    #[test]
    fn language_filter_and_url() {
        let event: Value = serde_json::from_str(GOLDEN.lines().nth(1).unwrap()).unwrap();
        let now = Utc::now();
        assert_eq!(event_to_post(&event, &["ja".into()], now), Ok(Event::Skip));
        assert!(matches!(
            event_to_post(&event, &["EN".into()], now),
            Ok(Event::Post(_))
        ));
        let source = JetstreamSource::new(JetstreamSettings::default());
        assert_eq!(
            source.url(Some(5)),
            "wss://jetstream2.us-east.bsky.network/subscribe?wantedCollections=app.bsky.feed.post&cursor=5"
        );
    }
}
