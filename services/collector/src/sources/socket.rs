//! Line-oriented TCP feeders, as the original prototype used: connect, read
//! lines until the feeder closes, reconnect. A line is a normalized post or
//! a Weibo status as JSON (read like the `file` source reads a line), or
//! plain text, which becomes a post with a per-connection id. Feeders cannot
//! replay, so this source has no cursor: lines read but not yet acknowledged
//! when the collector dies are lost.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use weibostream_shared::{Author, Post, Source};

use super::{Failure, PendingBatch, SeenIds, SourceContext, SourceError, until};
use crate::config::SocketSettings;
use crate::file_input::{FileRecord, FileRecords, InputErrorKind};
use crate::metrics::ErrorKind;

/// How a connection ended.
enum Ended {
    Shutdown,
    Closed { lines: u64 },
}

/// One feeder.
pub struct SocketSource {
    address: String,
    settings: SocketSettings,
}

impl SocketSource {
    /// A source reading the feeder at `address` (`host:port`).
    pub fn new(address: String, settings: SocketSettings) -> Self {
        SocketSource { address, settings }
    }

    /// Reads until shutdown, reconnecting whenever the feeder closes.
    pub async fn run(self, context: SourceContext) -> Result<(), SourceError> {
        let mut seen = SeenIds::new(self.settings.dedup_capacity);
        let mut backoff = context.backoff();
        let delay = Duration::from_millis(self.settings.reconnect_delay_ms);
        loop {
            let failure = match self.session(&context, &mut seen).await {
                Ok(Ended::Shutdown) => return Ok(()),
                Ok(Ended::Closed { lines }) if lines > 0 => {
                    tracing::info!(source = %context.name, lines, "the feeder closed the connection; reconnecting");
                    backoff.reset();
                    if !weibostream_shared::retry::sleep(delay, &context.shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
                Ok(Ended::Closed { .. }) => Failure::new(
                    ErrorKind::Closed,
                    format!("{}: closed before sending a line", self.address),
                ),
                Err(failure) => failure,
            };
            if !context.retry_after(&mut backoff, &failure).await {
                return Ok(());
            }
        }
    }

    async fn session(
        &self,
        context: &SourceContext,
        seen: &mut SeenIds<String>,
    ) -> Result<Ended, Failure> {
        let connect = Duration::from_millis(self.settings.connect_timeout_ms);
        let stream = match tokio::time::timeout(connect, TcpStream::connect(&self.address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                return Err(Failure::new(
                    ErrorKind::Connection,
                    format!("connecting to {}: {error}", self.address),
                ));
            }
            Err(_) => {
                return Err(Failure::new(
                    ErrorKind::Timeout,
                    format!(
                        "connecting to {}: no answer within {} ms",
                        self.address,
                        connect.as_millis()
                    ),
                ));
            }
        };
        let connection = Connection {
            address: &self.address,
            started: Utc::now(),
            lines: 0,
        };
        tracing::info!(source = %context.name, "connected");
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        let mut overlong = false;
        let mut connection = connection;
        let mut pending = PendingBatch::<()>::new(None);
        loop {
            let read = tokio::select! {
                () = context.shutdown.cancelled() => {
                    let _ = pending.flush(context).await;
                    return Ok(Ended::Shutdown);
                }
                () = until(pending.deadline(context.batch_max_wait)) => {
                    if pending.flush(context).await.is_err() {
                        return Ok(Ended::Shutdown);
                    }
                    continue;
                }
                read = reader.fill_buf() => read.map(<[u8]>::to_vec),
            };
            let data = match read {
                Ok(data) => data,
                Err(error) => {
                    let _ = pending.flush(context).await;
                    return Err(Failure::new(
                        ErrorKind::Connection,
                        format!("reading from {}: {error}", self.address),
                    ));
                }
            };
            if data.is_empty() {
                if !line.is_empty() && !overlong {
                    self.line_done(context, &mut connection, &line, seen, &mut pending);
                }
                return match pending.flush(context).await {
                    Ok(()) => Ok(Ended::Closed {
                        lines: connection.lines,
                    }),
                    Err(_) => Ok(Ended::Shutdown),
                };
            }
            reader.consume(data.len());
            let mut rest = data.as_slice();
            while !rest.is_empty() {
                let (part, complete) = match rest.iter().position(|b| *b == b'\n') {
                    Some(end) => (&rest[..end], true),
                    None => (rest, false),
                };
                rest = if complete {
                    &rest[part.len() + 1..]
                } else {
                    &[]
                };
                if line.len() + part.len() > self.settings.max_line_bytes {
                    overlong = true;
                    line.clear();
                } else if !overlong {
                    line.extend_from_slice(part);
                }
                if complete {
                    if overlong {
                        connection.lines += 1;
                        context.metrics.add_error(ErrorKind::InvalidRecord);
                        tracing::warn!(source = %context.name, max_line_bytes = self.settings.max_line_bytes, "skipping an overlong line");
                    } else {
                        self.line_done(context, &mut connection, &line, seen, &mut pending);
                    }
                    line.clear();
                    overlong = false;
                }
            }
            if pending.is_full(context.batch_max_posts) && pending.flush(context).await.is_err() {
                return Ok(Ended::Shutdown);
            }
        }
    }

    fn line_done(
        &self,
        context: &SourceContext,
        connection: &mut Connection<'_>,
        line: &[u8],
        seen: &mut SeenIds<String>,
        pending: &mut PendingBatch<()>,
    ) {
        connection.lines += 1;
        let outcome = line_to_posts(line, connection, Utc::now());
        if outcome.posts.is_empty() && outcome.skipped == 0 && outcome.errors.is_empty() {
            return;
        }
        context.metrics.add_fetched(1);
        context.metrics.add_skipped(outcome.skipped);
        for (kind, error) in outcome.errors {
            context.metrics.add_error(kind);
            tracing::warn!(source = %context.name, line = connection.lines, %error, "skipping a bad line");
        }
        for post in outcome.posts {
            if seen.insert(post.id.clone()) {
                pending.push(Some(post), None);
            } else {
                context.metrics.add_duplicates(1);
            }
        }
    }
}

/// One connection to a feeder, for the ids of plain-text posts.
pub struct Connection<'a> {
    /// The feeder's `host:port`.
    pub address: &'a str,
    /// When the connection was opened.
    pub started: DateTime<Utc>,
    /// Lines read so far on it (the current line's number once counted).
    pub lines: u64,
}

/// What one line gave.
#[derive(Debug, Default)]
pub struct LineOutcome {
    /// Posts read from it.
    pub posts: Vec<Post>,
    /// Deleted statuses in it.
    pub skipped: u64,
    /// Why parts of it could not be read.
    pub errors: Vec<(ErrorKind, String)>,
}

/// Reads one line: JSON (a post, a status, a response body) if it starts
/// like JSON, else plain text. Blank lines give nothing.
pub fn line_to_posts(line: &[u8], connection: &Connection<'_>, now: DateTime<Utc>) -> LineOutcome {
    let mut outcome = LineOutcome::default();
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return outcome;
    }
    if !text.starts_with(['{', '[']) {
        let local_id = format!(
            "{}/{}-{}",
            connection.address,
            connection.started.timestamp_millis(),
            connection.lines
        );
        outcome.posts.push(Post {
            id: Source::Socket.post_id(&local_id),
            source: Source::Socket,
            text: text.to_owned(),
            lang: text
                .chars()
                .any(crate::weibo::is_han)
                .then(|| "zh".to_owned()),
            created_at: now,
            author: Author {
                id: connection.address.to_owned(),
                name: connection.address.to_owned(),
                followers: None,
                verified: false,
            },
            url: None,
            reposts: 0,
            comments: 0,
            likes: 0,
            repost_of: None,
            client: None,
            collected_at: now,
        });
        return outcome;
    }
    for record in FileRecords::new(text.as_bytes(), Utc::now) {
        match record {
            Ok(FileRecord::Post(post)) => outcome.posts.push(post),
            Ok(FileRecord::Deleted { .. }) => outcome.skipped += 1,
            Err(error) => {
                let kind = match error.kind {
                    InputErrorKind::InvalidJson(_) | InputErrorKind::InvalidDocument { .. } => {
                        ErrorKind::InvalidJson
                    }
                    _ => ErrorKind::InvalidRecord,
                };
                outcome.errors.push((kind, error.kind.to_string()));
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> Connection<'static> {
        Connection {
            address: "127.0.0.1:9999",
            started: "2025-01-01T00:00:00Z".parse().unwrap(),
            lines: 3,
        }
    }

    #[test]
    fn plain_text_json_posts_and_statuses() {
        let now = Utc::now();
        let outcome = line_to_posts("  建设银行 涨了 \r".as_bytes(), &connection(), now);
        let post = &outcome.posts[0];
        assert_eq!(post.id, "socket:127.0.0.1:9999/1735689600000-3");
        assert_eq!(
            (post.text.as_str(), post.lang.as_deref()),
            ("建设银行 涨了", Some("zh"))
        );
        assert!(post.validate().is_ok());

        let status =
            r#"{"created_at":"Wed Jan 21 18:50:05 +0800 2015","id":7,"text":"t","user":{"id":1}}"#;
        let outcome = line_to_posts(status.as_bytes(), &connection(), now);
        assert_eq!(outcome.posts[0].id, "weibo:7");
        let post = serde_json::to_string(&outcome.posts[0]).unwrap();
        assert_eq!(
            line_to_posts(post.as_bytes(), &connection(), now).posts,
            outcome.posts
        );

        let outcome = line_to_posts(br#"{"id":"9","deleted":"1"}"#, &connection(), now);
        assert_eq!((outcome.posts.len(), outcome.skipped), (0, 1));
        let outcome = line_to_posts(br#"{"id": 5, "text": "trunc"#, &connection(), now);
        assert_eq!(outcome.errors[0].0, ErrorKind::InvalidJson);
        assert!(line_to_posts(b"   ", &connection(), now).posts.is_empty());
    }
}
