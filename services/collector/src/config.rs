//! The collector's one config type (TOML file, `COLLECTOR__*` env vars).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use weibostream_shared::Topics;
use weibostream_shared::kafka::KafkaSettings;

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
    /// The source to run.
    pub source: SourceKind,
    /// Synthetic source settings.
    pub synthetic: SyntheticSettings,
    /// File source settings.
    pub file: FileSettings,
    /// Upper bound for flushing unacknowledged posts on shutdown.
    pub shutdown_timeout_ms: u64,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            kafka: KafkaSettings::default(),
            topics: Topics::default(),
            source: SourceKind::Synthetic,
            synthetic: SyntheticSettings::default(),
            file: FileSettings::default(),
            shutdown_timeout_ms: 10_000,
        }
    }
}

impl CollectorConfig {
    /// Checks every key without I/O; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        self.kafka.validate()?;
        self.topics.validate()?;
        if self.source == SourceKind::File && self.file.path.as_os_str().is_empty() {
            return Err("file.path: required when source = \"file\"".into());
        }
        if self.shutdown_timeout_ms == 0 {
            return Err("shutdown_timeout_ms: must be above 0".into());
        }
        Ok(())
    }
}
