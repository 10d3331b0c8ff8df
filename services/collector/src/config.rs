//! The collector's one config type (TOML file, `COLLECTOR__*` env vars).

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use weibostream_shared::Topics;
use weibostream_shared::kafka::KafkaSettings;

pub use crate::live_config::{
    JetstreamSettings, LiveSourceKind, MastodonInstance, MastodonSettings, RetrySettings,
    SocketSettings, WeiboSettings, WeiboTimeline,
};

/// Which source feeds the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// The seeded generator (`[synthetic]`).
    Synthetic,
    /// A file of Weibo statuses, response bodies or normalized posts (`[file]`).
    File,
}

/// Settings of the synthetic source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticSettings {
    /// RNG seed: the same seed gives the same posts.
    pub seed: u64,
    /// Posts per second; 0 publishes as fast as the broker takes them.
    pub rate_per_s: u64,
    /// Posts to publish before exiting; 0 runs until stopped.
    pub count: u64,
}

impl Default for SyntheticSettings {
    fn default() -> Self {
        SyntheticSettings {
            seed: 42,
            rate_per_s: 200,
            count: 0,
        }
    }
}

/// When to draw a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Progress {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Settings of the file source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSettings {
    /// File to read: JSON lines of Weibo statuses or normalized posts, or a
    /// saved `{"statuses":[...]}` response body.
    pub path: PathBuf,
    /// Replay rate in posts per second; 0 publishes as fast as possible.
    pub rate_per_s: u64,
    /// Progress bar on stderr.
    pub progress: Progress,
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            path: PathBuf::new(),
            rate_per_s: 0,
            progress: Progress::Auto,
        }
    }
}

/// Everything the collector needs; validated before any I/O.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// Kafka client settings.
    pub kafka: KafkaSettings,
    /// Topic names and partition counts.
    pub topics: Topics,
    /// The source to run when `sources` is empty.
    pub source: SourceKind,
    /// Live sources to run together, e.g. `["weibo", "mastodon", "jetstream", "socket"]`;
    /// when not empty they replace `source` (`--synthetic` and `--file` clear it).
    #[serde(deserialize_with = "crate::live_config::list_or_csv")]
    pub sources: Vec<LiveSourceKind>,
    /// Synthetic source settings.
    pub synthetic: SyntheticSettings,
    /// File source settings.
    pub file: FileSettings,
    /// Upper bound for flushing unacknowledged posts on shutdown.
    pub shutdown_timeout_ms: u64,
    /// Folder of the live sources' cursor files (one JSON file per source),
    /// each saved only after the broker acknowledged the posts before it.
    pub cursor_dir: PathBuf,
    /// A live stream's posts are published in batches of at most this many.
    pub batch_max_posts: usize,
    /// ... or after this long, whichever comes first.
    pub batch_max_wait_ms: u64,
    /// Interval of the per-source metrics log lines.
    pub metrics_log_interval_ms: u64,
    /// Backoff of the live sources after transient errors.
    pub retry: RetrySettings,
    /// Weibo open API poller.
    pub weibo: WeiboSettings,
    /// Mastodon instances.
    pub mastodon: MastodonSettings,
    /// Bluesky Jetstream.
    pub jetstream: JetstreamSettings,
    /// Line-oriented TCP feeders.
    pub socket: SocketSettings,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            kafka: KafkaSettings::default(),
            topics: Topics::default(),
            source: SourceKind::Synthetic,
            sources: Vec::new(),
            synthetic: SyntheticSettings::default(),
            file: FileSettings::default(),
            shutdown_timeout_ms: 10_000,
            cursor_dir: PathBuf::from("collector-state"),
            batch_max_posts: 500,
            batch_max_wait_ms: 200,
            metrics_log_interval_ms: 60_000,
            retry: RetrySettings::default(),
            weibo: WeiboSettings::default(),
            mastodon: MastodonSettings::default(),
            jetstream: JetstreamSettings::default(),
            socket: SocketSettings::default(),
        }
    }
}

impl CollectorConfig {
    /// Checks every key without I/O; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        self.kafka.validate()?;
        self.topics.validate()?;
        if !self.sources.is_empty() {
            return self.validate_live();
        }
        if self.source == SourceKind::File && self.file.path.as_os_str().is_empty() {
            return Err("file.path: required when source = \"file\"".into());
        }
        if self.shutdown_timeout_ms == 0 {
            return Err("shutdown_timeout_ms: must be above 0".into());
        }
        Ok(())
    }

    fn validate_live(&self) -> Result<(), String> {
        let mut seen = HashSet::new();
        for kind in &self.sources {
            if !seen.insert(kind) {
                return Err(format!("sources: {kind:?} is listed twice").to_lowercase());
            }
        }
        if self.shutdown_timeout_ms == 0 {
            return Err("shutdown_timeout_ms: must be above 0".into());
        }
        if self.cursor_dir.as_os_str().is_empty() {
            return Err("cursor_dir: required when sources are set".into());
        }
        if self.batch_max_posts == 0 {
            return Err("batch_max_posts: must be above 0".into());
        }
        if self.batch_max_wait_ms == 0 {
            return Err("batch_max_wait_ms: must be above 0".into());
        }
        if self.metrics_log_interval_ms == 0 {
            return Err("metrics_log_interval_ms: must be above 0".into());
        }
        self.retry.validate()?;
        for kind in &self.sources {
            match kind {
                LiveSourceKind::Weibo => self.weibo.validate()?,
                LiveSourceKind::Mastodon => self.mastodon.validate()?,
                LiveSourceKind::Jetstream => self.jetstream.validate()?,
                LiveSourceKind::Socket => self.socket.validate()?,
            }
        }
        Ok(())
    }
}
