//! The sources. Each runs as its own task, turns what a service sends (or
//! what it generates or reads) into [`Post`]s and hands them to the
//! publisher as [`Batch`]es, each with the cursor to save once the broker
//! has acknowledged the batch.

pub mod finite;
pub mod html;
pub mod http;
pub mod jetstream;
pub mod mastodon;
mod mastodon_status;
pub mod mastodon_stream;
pub mod poll;
pub mod socket;
mod sse;
#[cfg(test)]
mod sse_timing;
pub mod weibo;
pub mod weibo_feeds;
pub mod weibo_mobile;
pub mod weibo_rules;

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weibostream_shared::Post;

use crate::config::RetrySettings;
use crate::cursor::CursorFile;
use crate::metrics::{ErrorKind, SourceMetrics};
use weibostream_shared::retry::Backoff;

/// Posts of one source and the cursor that follows them.
#[derive(Debug)]
pub struct Batch {
    /// New posts, oldest first.
    pub posts: Vec<Post>,
    /// The cursor to save once every post of this batch (and of the batches
    /// before it) is acknowledged; `None` for sources that cannot resume.
    pub cursor: Option<CursorUpdate>,
    /// Counters of the source, to count the posts once published.
    pub metrics: Arc<SourceMetrics>,
}

/// A cursor value and the file it goes to.
#[derive(Debug, Clone)]
pub struct CursorUpdate {
    /// Where to save it.
    pub file: CursorFile,
    /// The encoded cursor.
    pub bytes: Vec<u8>,
}

/// The publisher went away; the source should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the publisher stopped")]
pub struct PublisherGone;

/// What every source task gets: where to send batches, its counters, its
/// cursor file, the retry policy and the shutdown token.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// Source name in logs and metrics, e.g. `mastodon:mastodon.social`.
    pub name: String,
    /// The publisher's inbox.
    pub batches: mpsc::Sender<Batch>,
    /// This source's counters.
    pub metrics: Arc<SourceMetrics>,
    /// This source's cursor file, if it has one.
    pub cursor: Option<CursorFile>,
    /// Backoff after transient errors.
    pub retry: RetrySettings,
    /// Posts per batch at most, for streaming sources.
    pub batch_max_posts: usize,
    /// Longest time a streaming source holds posts before sending them.
    pub batch_max_wait: Duration,
    /// Cancelled when the collector stops.
    pub shutdown: CancellationToken,
}

impl SourceContext {
    /// Sends posts and the cursor after them; waits while the publisher is busy.
    pub async fn send<C: serde::Serialize>(
        &self,
        posts: Vec<Post>,
        cursor: Option<&C>,
    ) -> Result<(), PublisherGone> {
        let cursor = match (&self.cursor, cursor) {
            (Some(file), Some(cursor)) => Some(CursorUpdate {
                file: file.clone(),
                bytes: CursorFile::encode(cursor),
            }),
            _ => None,
        };
        if posts.is_empty() && cursor.is_none() {
            return Ok(());
        }
        let batch = Batch {
            posts,
            cursor,
            metrics: self.metrics.clone(),
        };
        self.batches.send(batch).await.map_err(|_| PublisherGone)
    }

    /// The saved cursor; an unreadable one is a fatal error (the user must fix it).
    pub fn load_cursor<C: serde::de::DeserializeOwned>(&self) -> Result<Option<C>, SourceError> {
        match &self.cursor {
            Some(file) => file.load().map_err(SourceError::Fatal),
            None => Ok(None),
        }
    }

    /// A backoff with this context's retry settings.
    pub fn backoff(&self) -> Backoff {
        Backoff::new(
            Duration::from_millis(self.retry.initial_backoff_ms),
            Duration::from_millis(self.retry.max_backoff_ms),
        )
    }

    /// Counts and logs a transient failure, then waits out the backoff;
    /// `false` if shutdown came first.
    pub async fn retry_after(&self, backoff: &mut Backoff, failure: &Failure) -> bool {
        self.metrics.add_error(failure.kind);
        let delay = backoff.next_delay(failure.retry_after);
        let retry_at = chrono::Utc::now() + chrono::TimeDelta::from_std(delay).unwrap_or_default();
        tracing::warn!(
            source = %self.name,
            kind = failure.kind.name(),
            attempt = backoff.attempt(),
            retry_in_ms = delay.as_millis() as u64,
            retry_at = %retry_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "{}; retrying in {:.1} s",
            failure.message,
            delay.as_secs_f64()
        );
        weibostream_shared::retry::sleep(delay, &self.shutdown).await
    }
}

/// A failure that may go away: retried after a backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure, for the metrics.
    pub kind: ErrorKind,
    /// What happened, for the log.
    pub message: String,
    /// How long the server asked to wait, if it did.
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// A failure without a server hint.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// Why one request or connection failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Retry after a backoff.
    Transient(Failure),
    /// Retrying cannot help (rejected credentials): stop the collector.
    Fatal(String),
}

impl From<Failure> for FetchError {
    fn from(failure: Failure) -> Self {
        FetchError::Transient(failure)
    }
}

/// Why a source stopped before shutdown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Something the user must fix; the message says what.
    #[error("{0}")]
    Fatal(String),
}

/// The last `capacity` keys seen, to drop duplicates with bounded memory.
#[derive(Debug, Clone)]
pub struct SeenIds<K> {
    capacity: usize,
    set: HashSet<K>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone> SeenIds<K> {
    /// Remembers at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        SeenIds {
            capacity: capacity.max(1),
            set: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// `true` if `key` is new (and now remembered), `false` if seen before.
    pub fn insert(&mut self, key: K) -> bool {
        if self.set.contains(&key) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.set.insert(key.clone());
        self.order.push_back(key);
        true
    }

    /// Whether `key` was seen.
    pub fn contains(&self, key: &K) -> bool {
        self.set.contains(key)
    }

    /// The remembered keys, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &K> {
        self.order.iter()
    }
}

/// Posts of a streaming source waiting to be sent, with the cursor after them.
#[derive(Debug)]
pub struct PendingBatch<C> {
    posts: Vec<Post>,
    cursor: Option<C>,
    dirty: bool,
    since: Option<Instant>,
}

impl<C: serde::Serialize> PendingBatch<C> {
    /// An empty batch whose cursor starts at `cursor`.
    pub fn new(cursor: Option<C>) -> Self {
        PendingBatch {
            posts: Vec::new(),
            cursor,
            dirty: false,
            since: None,
        }
    }

    /// Adds a post (if any) and moves the cursor past the record it came from.
    pub fn push(&mut self, post: Option<Post>, cursor: Option<C>) {
        if let Some(post) = post {
            self.posts.push(post);
        }
        if cursor.is_some() {
            self.cursor = cursor;
        }
        self.dirty = true;
        self.since.get_or_insert_with(Instant::now);
    }

    /// The cursor after the last record pushed.
    pub fn cursor(&self) -> Option<&C> {
        self.cursor.as_ref()
    }

    /// When the batch must be sent: after `max_wait` since its first record.
    pub fn deadline(&self, max_wait: Duration) -> Option<Instant> {
        self.since.map(|since| since + max_wait)
    }

    /// Whether it holds `max_posts` posts.
    pub fn is_full(&self, max_posts: usize) -> bool {
        self.posts.len() >= max_posts
    }

    /// Sends what is pending, if anything.
    pub async fn flush(&mut self, context: &SourceContext) -> Result<(), PublisherGone> {
        self.since = None;
        if !std::mem::take(&mut self.dirty) {
            return Ok(());
        }
        let posts = std::mem::take(&mut self.posts);
        context.send(posts, self.cursor.as_ref()).await
    }
}

/// Sleeps until `deadline`, or forever when there is none (for `select!`).
pub async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_ids_forget_the_oldest_beyond_capacity() {
        let mut seen = SeenIds::new(2);
        assert!(seen.insert(1));
        assert!(!seen.insert(1));
        assert!(seen.insert(2));
        assert!(seen.insert(3));
        assert!(!seen.contains(&1));
        assert!(seen.insert(1));
        assert_eq!(seen.iter().copied().collect::<Vec<_>>(), vec![3, 1]);
    }
}
