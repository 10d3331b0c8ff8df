//! Per-source counters of the live sources: plain atomics, readable at any
//! time through [`CollectorMetrics`] (for logs now, a `/metrics` endpoint later).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Why a fetch, a connection or a record failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// HTTP 5xx from the service.
    Http5xx,
    /// Another unexpected HTTP status or API error code.
    Http4xx,
    /// The request or the stream timed out.
    Timeout,
    /// Connecting failed, the connection was reset, or a body was cut short.
    Connection,
    /// The server closed a stream; the source reconnects.
    Closed,
    /// A body, frame or line was not the JSON it should be.
    InvalidJson,
    /// A record was valid JSON but could not be turned into a post.
    InvalidRecord,
    /// The service said to slow down (Weibo 10022-10024, HTTP 429).
    RateLimited,
    /// The service rejected the credentials; the collector stops.
    Auth,
    /// Weibo's mobile API refused us (HTTP 418 or 432, `ok: -100`, a login
    /// redirect): the source pauses and backs off.
    Refused,
}

impl ErrorKind {
    /// Every kind, in the order of [`SourceMetrics`]'s counters.
    pub const ALL: [ErrorKind; 10] = [
        ErrorKind::Http5xx,
        ErrorKind::Http4xx,
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::Closed,
        ErrorKind::InvalidJson,
        ErrorKind::InvalidRecord,
        ErrorKind::RateLimited,
        ErrorKind::Auth,
        ErrorKind::Refused,
    ];

    /// The name used in logs and snapshots, e.g. `rate_limited`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Http5xx => "http_5xx",
            ErrorKind::Http4xx => "http_4xx",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::Closed => "closed",
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::InvalidRecord => "invalid_record",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Auth => "auth",
            ErrorKind::Refused => "refused",
        }
    }
}

/// Counters of one source instance (`weibo`, `mastodon:mastodon.social`, ...).
#[derive(Debug)]
pub struct SourceMetrics {
    name: String,
    fetched: AtomicU64,
    published: AtomicU64,
    duplicates: AtomicU64,
    skipped: AtomicU64,
    errors: [AtomicU64; ErrorKind::ALL.len()],
    gaps_abandoned: AtomicU64,
    lost_at_most: AtomicU64,
    paused: Mutex<Option<String>>,
}

impl SourceMetrics {
    /// Zeroed counters for the source called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        SourceMetrics {
            name: name.into(),
            fetched: AtomicU64::new(0),
            published: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
            gaps_abandoned: AtomicU64::new(0),
            lost_at_most: AtomicU64::new(0),
            paused: Mutex::new(None),
        }
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts records received from the service (posts or not).
    pub fn add_fetched(&self, n: u64) {
        self.fetched.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts posts the broker acknowledged.
    pub fn add_published(&self, n: u64) {
        self.published.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts posts dropped because they were already seen.
    pub fn add_duplicates(&self, n: u64) {
        self.duplicates.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts records that are not new posts (deletions, edits, likes, other languages).
    pub fn add_skipped(&self, n: u64) {
        self.skipped.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one error of `kind`.
    pub fn add_error(&self, kind: ErrorKind) {
        if let Some(index) = ErrorKind::ALL.iter().position(|k| *k == kind) {
            self.errors[index].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a gap in a timeline that can no longer be filled, and the most
    /// posts it may have held (`Gap::lost_at_most` of the Weibo sources).
    pub fn add_gap_abandoned(&self, lost_at_most: u64) {
        self.gaps_abandoned.fetch_add(1, Ordering::Relaxed);
        self.lost_at_most.fetch_add(lost_at_most, Ordering::Relaxed);
    }

    /// Gaps given up so far.
    pub fn gaps_abandoned(&self) -> u64 {
        self.gaps_abandoned.load(Ordering::Relaxed)
    }

    /// The most posts the abandoned gaps may have held.
    pub fn lost_at_most(&self) -> u64 {
        self.lost_at_most.load(Ordering::Relaxed)
    }

    /// Marks the source paused (`Some(why)`) or running again (`None`).
    pub fn set_paused(&self, why: Option<String>) {
        if let Ok(mut paused) = self.paused.lock() {
            *paused = why;
        }
    }

    /// Why the source is paused, if it is.
    pub fn paused(&self) -> Option<String> {
        self.paused.lock().ok().and_then(|paused| paused.clone())
    }

    /// Records received so far.
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// Posts acknowledged by the broker so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Duplicate posts dropped so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Records skipped so far.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Errors of `kind` so far.
    pub fn errors(&self, kind: ErrorKind) -> u64 {
        ErrorKind::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |index| self.errors[index].load(Ordering::Relaxed))
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> SourceSnapshot {
        SourceSnapshot {
            source: self.name.clone(),
            fetched: self.fetched(),
            published: self.published(),
            duplicates_dropped: self.duplicates(),
            skipped: self.skipped(),
            errors: ErrorKind::ALL
                .iter()
                .map(|kind| (kind.name(), self.errors(*kind)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            gaps_abandoned: self.gaps_abandoned(),
            lost_at_most: self.lost_at_most(),
            paused: self.paused(),
        }
    }
}

/// The counters of one source at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSnapshot {
    /// Source name.
    pub source: String,
    /// Records received.
    pub fetched: u64,
    /// Posts acknowledged by the broker.
    pub published: u64,
    /// Duplicate posts dropped.
    pub duplicates_dropped: u64,
    /// Records that were not new posts.
    pub skipped: u64,
    /// Non-zero error counts by [`ErrorKind::name`].
    pub errors: BTreeMap<&'static str, u64>,
    /// Timeline gaps given up (the service no longer serves them).
    pub gaps_abandoned: u64,
    /// The most posts those gaps may have held.
    pub lost_at_most: u64,
    /// Why the source is paused, if it is.
    pub paused: Option<String>,
}

/// The counters of every live source of a collector; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CollectorMetrics {
    sources: Arc<Vec<Arc<SourceMetrics>>>,
}

impl CollectorMetrics {
    /// Metrics over these sources.
    pub fn new(sources: Vec<Arc<SourceMetrics>>) -> Self {
        CollectorMetrics {
            sources: Arc::new(sources),
        }
    }

    /// Every source's counters.
    pub fn sources(&self) -> &[Arc<SourceMetrics>] {
        &self.sources
    }

    /// The counters of the source called `name`.
    pub fn source(&self, name: &str) -> Option<&Arc<SourceMetrics>> {
        self.sources.iter().find(|source| source.name() == name)
    }

    /// A snapshot of every source.
    pub fn snapshot(&self) -> Vec<SourceSnapshot> {
        self.sources
            .iter()
            .map(|source| source.snapshot())
            .collect()
    }

    /// Logs every source's counters at info.
    pub fn log(&self, when: &str) {
        for snapshot in self.snapshot() {
            let errors = serde_json::to_string(&snapshot.errors).unwrap_or_default();
            tracing::info!(
                source = %snapshot.source,
                fetched = snapshot.fetched,
                published = snapshot.published,
                duplicates_dropped = snapshot.duplicates_dropped,
                skipped = snapshot.skipped,
                %errors,
                gaps_abandoned = snapshot.gaps_abandoned,
                paused = snapshot.paused.as_deref().unwrap_or("no"),
                "source metrics ({when})"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_snapshots() {
        let metrics = Arc::new(SourceMetrics::new("weibo"));
        metrics.add_fetched(3);
        metrics.add_published(2);
        metrics.add_duplicates(1);
        metrics.add_error(ErrorKind::RateLimited);
        metrics.add_error(ErrorKind::RateLimited);
        let all = CollectorMetrics::new(vec![metrics.clone()]);
        let snapshot = &all.snapshot()[0];
        assert_eq!(
            (
                snapshot.fetched,
                snapshot.published,
                snapshot.duplicates_dropped
            ),
            (3, 2, 1)
        );
        assert_eq!(snapshot.errors.get("rate_limited"), Some(&2));
        assert_eq!(snapshot.errors.len(), 1);
        assert_eq!(
            all.source("weibo").map(|m| m.errors(ErrorKind::Auth)),
            Some(0)
        );
        assert!(all.source("mastodon").is_none());
    }
}
