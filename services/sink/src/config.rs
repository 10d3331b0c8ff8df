//! The sink's one config type (TOML file, `SINK__*` env vars).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use weibostream_shared::Topics;
use weibostream_shared::http::HttpSettings;
use weibostream_shared::kafka::KafkaSettings;
use weibostream_shared::secret::Secret;

/// Where the sink serves its dashboard and metrics unless configured.
pub const DEFAULT_HTTP_BIND: &str = "127.0.0.1:9103";

/// Everything the sink needs; validated before any I/O.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    /// Kafka client settings.
    pub kafka: KafkaSettings,
    /// Topic names and partition counts.
    pub topics: Topics,
    /// Group id the sink commits its offsets under. The sink reads every
    /// partition itself (no group membership), so give each sink its own.
    pub group: String,
    /// How long after its batch time a batch waits for missing partition
    /// reports before it is printed anyway, naming the late partitions.
    pub grace_ms: u64,
    /// Print Spark-style blocks on stdout.
    pub print: bool,
    /// Posts shown per block on stdout (the rest are counted); 0 shows all.
    pub print_max_posts: usize,
    /// Print batch times in UTC instead of the local time zone.
    pub print_utc: bool,
    /// Append each matched post once, as a JSON line, to this file.
    pub jsonl_path: Option<PathBuf>,
    /// Upsert matched posts into this SQLite file (created with its schema on first run).
    pub sqlite_path: Option<PathBuf>,
    /// Upsert matched posts into PostgreSQL: `postgres://user:password@host/db`
    /// or `host=... user=...`. Set it from the environment (`SINK__POSTGRES_URL`)
    /// when it holds a password; it is never printed.
    pub postgres_url: Option<Secret>,
    /// First wait before retrying a store or file that could not be written; doubles each time.
    pub store_retry_initial_ms: u64,
    /// Longest wait between write retries.
    pub store_retry_max_ms: u64,
    /// Post ids remembered for de-duplication (oldest forgotten first).
    pub dedupe_capacity: usize,
    /// Upper bound for the final flush and commit on shutdown.
    pub shutdown_timeout_ms: u64,
    /// The operations endpoint and live dashboard (`/`, `/metrics`,
    /// `/healthz`, `/readyz`): loopback by default; `0.0.0.0:9103` in a
    /// container; `off` serves nothing.
    pub http: HttpSettings,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            kafka: KafkaSettings::default(),
            topics: Topics::default(),
            group: "sink".into(),
            grace_ms: 10_000,
            print: true,
            print_max_posts: 20,
            print_utc: false,
            jsonl_path: None,
            sqlite_path: None,
            postgres_url: None,
            store_retry_initial_ms: 500,
            store_retry_max_ms: 10_000,
            dedupe_capacity: 1_000_000,
            shutdown_timeout_ms: 5000,
            http: HttpSettings::on(DEFAULT_HTTP_BIND),
        }
    }
}

impl SinkConfig {
    /// Checks every key without I/O; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        self.kafka.validate()?;
        self.topics.validate()?;
        if self.group.trim().is_empty() {
            return Err("group: must not be empty".into());
        }
        if self.dedupe_capacity == 0 {
            return Err("dedupe_capacity: must be above 0".into());
        }
        if !self.print && self.jsonl_path.is_none() {
            return Err(
                "print is false and jsonl_path is unset: the sink would output nothing".into(),
            );
        }
        if self.shutdown_timeout_ms == 0 {
            return Err("shutdown_timeout_ms: must be above 0".into());
        }
        self.http.address()?;
        Ok(())
    }
}
