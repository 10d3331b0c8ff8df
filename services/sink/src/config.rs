//! The sink's one config type (TOML file, `SINK__*` env vars).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use weibostream_shared::Topics;
use weibostream_shared::config::InvalidKey;
use weibostream_shared::http::HttpSettings;
use weibostream_shared::kafka::KafkaSettings;
use weibostream_shared::secret::{Secret, SecretSource};

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
    /// First wait before retrying a store or file that could not be written;
    /// doubles each time, each wait drawn from its upper half (jitter).
    pub store_retry_initial_ms: u64,
    /// Longest wait between write retries.
    pub store_retry_max_ms: u64,
    /// Post ids remembered for de-duplication (oldest forgotten first).
    pub dedupe_capacity: usize,
    /// Upper bound for the final flush and commit on shutdown.
    pub shutdown_timeout_ms: u64,
    /// Delete stored posts, rule counts and alerts whose batch time is older
    /// than this many days (in the background, in small steps); 0 keeps all.
    pub retention_days: u32,
    /// Alerts: the rules file holding `[rule.alert]` sections and where to send.
    pub alerts: AlertSettings,
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
            retention_days: 0,
            alerts: AlertSettings::default(),
            http: HttpSettings::on(DEFAULT_HTTP_BIND),
        }
    }
}

impl SinkConfig {
    /// Checks every key without I/O; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        self.kafka.validate()?;
        self.topics.validate()?;
        if self.group.trim().is_empty() {
            return Err(InvalidKey::new("group", "must not be empty"));
        }
        if self.dedupe_capacity == 0 {
            return Err(InvalidKey::new("dedupe_capacity", "must be above 0"));
        }
        if !self.print && self.jsonl_path.is_none() {
            return Err(InvalidKey::new(
                "jsonl_path",
                "unset while print is false: the sink would output nothing",
            ));
        }
        if self.shutdown_timeout_ms == 0 {
            return Err(InvalidKey::new("shutdown_timeout_ms", "must be above 0"));
        }
        if self.retention_days > 0 && self.sqlite_path.is_none() && self.postgres_url.is_none() {
            return Err(InvalidKey::new(
                "retention_days",
                "set sqlite_path or postgres_url (there is no store)",
            ));
        }
        self.alerts.validate()?;
        if self.alerts.rules_path.is_some()
            && self.sqlite_path.is_none()
            && self.postgres_url.is_none()
        {
            return Err(InvalidKey::new(
                "alerts.rules_path",
                "alerts need a store (sqlite_path or postgres_url) for their counts and state",
            ));
        }
        self.http.address()?;
        Ok(())
    }
}

/// Where alerts come from and go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// The rules file (the filter's); its `[rule.alert]` sections are the
    /// alerts. Unset: no alerts.
    pub rules_path: Option<PathBuf>,
    /// Where alerts are sent (`[[alerts.channels]]`).
    pub channels: Vec<AlertChannel>,
    /// Upper bound for one delivery request.
    pub timeout_ms: u64,
    /// Tries per alert and channel before it is given up (logged, counted).
    pub attempts: u32,
    /// First wait before sending again; doubles each time, each wait drawn
    /// from its upper half (jitter).
    pub retry_initial_ms: u64,
    /// Longest wait between tries.
    pub retry_max_ms: u64,
    /// Alerts waiting per channel; more are dropped (logged, counted), so a
    /// stuck endpoint never holds up the stream.
    pub queue_len: usize,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            rules_path: None,
            channels: Vec::new(),
            timeout_ms: 10_000,
            attempts: 5,
            retry_initial_ms: 1000,
            retry_max_ms: 60_000,
            queue_len: 100,
        }
    }
}

impl AlertSettings {
    /// Checks every key without I/O; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        if self.timeout_ms == 0 {
            return Err(InvalidKey::new("alerts.timeout_ms", "must be above 0"));
        }
        if self.attempts == 0 {
            return Err(InvalidKey::new("alerts.attempts", "must be above 0"));
        }
        if self.retry_initial_ms == 0 || self.retry_max_ms < self.retry_initial_ms {
            return Err(InvalidKey::new(
                "alerts.retry_initial_ms",
                "must be above 0 and at most alerts.retry_max_ms",
            ));
        }
        if self.queue_len == 0 {
            return Err(InvalidKey::new("alerts.queue_len", "must be above 0"));
        }
        for (i, channel) in self.channels.iter().enumerate() {
            let key = format!("alerts.channels[{i}]");
            if channel.name.trim().is_empty() {
                return Err(InvalidKey::new(format!("{key}.name"), "must not be empty"));
            }
            if self.channels[..i].iter().any(|c| c.name == channel.name) {
                return Err(InvalidKey::new(
                    format!("{key}.name"),
                    format!("{:?} is used twice", channel.name),
                ));
            }
            channel
                .url
                .validate()
                .map_err(|e| InvalidKey::new(format!("{key}.url"), e))?;
            match (&channel.secret, channel.kind) {
                (Some(secret), ChannelKind::Dingtalk | ChannelKind::Feishu) => secret
                    .validate()
                    .map_err(|e| InvalidKey::new(format!("{key}.secret"), e))?,
                (Some(_), kind) => {
                    return Err(InvalidKey::new(
                        format!("{key}.secret"),
                        format!("{kind:?} channels are not signed"),
                    ));
                }
                (None, _) => {}
            }
        }
        Ok(())
    }
}

/// One place alerts are sent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertChannel {
    /// The name rules refer to in `alert.channels`.
    pub name: String,
    /// What the endpoint expects.
    pub kind: ChannelKind,
    /// The webhook URL (it holds the token): `env:NAME` or `file:/path`.
    pub url: SecretSource,
    /// Signing secret of a DingTalk robot or Feishu/Lark bot with signature
    /// verification on: `env:NAME` or `file:/path`.
    pub secret: Option<SecretSource>,
}

/// The kinds of alert endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Any HTTP endpoint: the alert as JSON.
    Webhook,
    /// A Slack incoming webhook.
    Slack,
    /// A DingTalk group robot.
    Dingtalk,
    /// A Feishu/Lark group bot.
    Feishu,
    /// A WeCom (企业微信) group robot.
    Wecom,
}
