//! The collector's one config type (TOML file, `COLLECTOR__*` env vars).

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};
use weibostream_shared::Topics;
use weibostream_shared::config::InvalidKey;
use weibostream_shared::http::HttpSettings;
use weibostream_shared::kafka::KafkaSettings;

pub use crate::live_config::{
    JetstreamSettings, MastodonInstance, MastodonSettings, RetrySettings, SocketSettings,
    WeiboMobileSettings, WeiboSearchSettings, WeiboSettings, WeiboTimeline, WeiboUserSettings,
};

/// A source of posts; `sources` lists the ones to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// The seeded generator (`[synthetic]`); runs alone.
    Synthetic,
    /// A file of Weibo statuses, response bodies or normalized posts
    /// (`[file]`); runs alone.
    File,
    /// Sina Weibo open API polling (`[weibo]`).
    Weibo,
    /// Weibo keyword search through the mobile web API (`[weibo_search]`, `[weibo_mobile]`).
    #[serde(rename = "weibo_search")]
    WeiboSearch,
    /// Weibo users' posts through the mobile web API (`[weibo_user]`, `[weibo_mobile]`).
    #[serde(rename = "weibo_user")]
    WeiboUser,
    /// Mastodon instances, REST polling or SSE streaming (`[mastodon]`).
    Mastodon,
    /// Bluesky through Jetstream's WebSocket (`[jetstream]`).
    Jetstream,
    /// Line-oriented TCP feeders (`[socket]`).
    Socket,
}

/// Every source, in the order error messages list them.
const ALL_SOURCES: [SourceKind; 8] = [
    SourceKind::Synthetic,
    SourceKind::File,
    SourceKind::Weibo,
    SourceKind::WeiboSearch,
    SourceKind::WeiboUser,
    SourceKind::Mastodon,
    SourceKind::Jetstream,
    SourceKind::Socket,
];

impl SourceKind {
    /// The name in `sources`, e.g. `weibo_search`.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Synthetic => "synthetic",
            SourceKind::File => "file",
            SourceKind::Weibo => "weibo",
            SourceKind::WeiboSearch => "weibo_search",
            SourceKind::WeiboUser => "weibo_user",
            SourceKind::Mastodon => "mastodon",
            SourceKind::Jetstream => "jetstream",
            SourceKind::Socket => "socket",
        }
    }

    /// Whether it follows a live service until stopped (`synthetic` and
    /// `file` are inputs for tests and replays).
    pub fn is_live(self) -> bool {
        !matches!(self, SourceKind::Synthetic | SourceKind::File)
    }
}

impl std::str::FromStr for SourceKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        let name = name.trim();
        ALL_SOURCES
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = ALL_SOURCES.iter().map(|k| k.name()).collect();
                format!(
                    "unknown source {name:?}: expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// `sources = ["weibo", "jetstream"]`, or `COLLECTOR__SOURCES=weibo,jetstream`.
fn list_or_csv<'de, D>(deserializer: D) -> Result<Vec<SourceKind>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        List(Vec<String>),
        Csv(String),
    }
    let names = match Given::deserialize(deserializer)? {
        Given::List(list) => list,
        Given::Csv(text) => text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    names
        .iter()
        .map(|name| name.parse().map_err(serde::de::Error::custom))
        .collect()
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

/// The collector's default `kafka.linger_ms`. A post waits seconds for its
/// filter batch to close anyway, so 100 ms more at the source is not seen
/// after the close, while 20 times fewer produce batches than at 5 ms cut
/// the broker's work per fetch (on the local broker, whose fetch lists every
/// stored batch of a partition, the end-to-end p99 after close fell from
/// ~275–345 ms to ~120–175 ms at 20,000 posts/s).
pub const COLLECTOR_LINGER_MS: u32 = 100;

/// Everything the collector needs; validated before any I/O.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorConfig {
    /// Kafka client settings.
    pub kafka: KafkaSettings,
    /// Topic names and partition counts.
    pub topics: Topics,
    /// The sources to run: `["synthetic"]` (the default), `["file"]`, or
    /// live sources together, e.g. `["weibo", "mastodon", "jetstream",
    /// "socket"]` (`--synthetic` and `--file` replace the list).
    #[serde(deserialize_with = "list_or_csv")]
    pub sources: Vec<SourceKind>,
    /// Removed: replaced by `sources`. Read only to say so when a config
    /// still sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
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
    /// The Weibo mobile web API: cookie, budget and pauses of `weibo_search` and `weibo_user`.
    pub weibo_mobile: WeiboMobileSettings,
    /// Weibo keyword search.
    pub weibo_search: WeiboSearchSettings,
    /// Weibo users' timelines.
    pub weibo_user: WeiboUserSettings,
    /// Mastodon instances.
    pub mastodon: MastodonSettings,
    /// Bluesky Jetstream.
    pub jetstream: JetstreamSettings,
    /// Line-oriented TCP feeders.
    pub socket: SocketSettings,
    /// Where `/metrics`, `/healthz` and `/readyz` are served (`http.bind`;
    /// `off` serves nothing, port 0 picks a free port).
    pub http: HttpSettings,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            kafka: KafkaSettings {
                linger_ms: COLLECTOR_LINGER_MS,
                ..KafkaSettings::default()
            },
            topics: Topics::default(),
            sources: vec![SourceKind::Synthetic],
            source: None,
            synthetic: SyntheticSettings::default(),
            file: FileSettings::default(),
            shutdown_timeout_ms: 10_000,
            cursor_dir: PathBuf::from("collector-state"),
            batch_max_posts: 500,
            batch_max_wait_ms: 200,
            metrics_log_interval_ms: 60_000,
            retry: RetrySettings::default(),
            weibo: WeiboSettings::default(),
            weibo_mobile: WeiboMobileSettings::default(),
            weibo_search: WeiboSearchSettings::default(),
            weibo_user: WeiboUserSettings::default(),
            mastodon: MastodonSettings::default(),
            jetstream: JetstreamSettings::default(),
            socket: SocketSettings::default(),
            http: HttpSettings::on("127.0.0.1:9101"),
        }
    }
}

impl CollectorConfig {
    /// Checks every key without I/O; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        if let Some(old) = &self.source {
            return Err(InvalidKey::new(
                "source",
                format!(
                    "this key was replaced by sources; write sources = [{:?}]",
                    old.trim()
                ),
            ));
        }
        self.kafka.validate()?;
        self.topics.validate()?;
        self.http.address()?;
        self.validate_sources()?;
        if self.shutdown_timeout_ms == 0 {
            return Err(InvalidKey::new("shutdown_timeout_ms", "must be above 0"));
        }
        match self.sources.as_slice() {
            [SourceKind::Synthetic] => Ok(()),
            [SourceKind::File] if self.file.path.as_os_str().is_empty() => Err(InvalidKey::new(
                "file.path",
                "required when sources = [\"file\"]",
            )),
            [SourceKind::File] => Ok(()),
            _ => self.validate_live(),
        }
    }

    /// The list itself: not empty, no source twice, `synthetic` and `file`
    /// alone.
    fn validate_sources(&self) -> Result<(), InvalidKey> {
        if self.sources.is_empty() {
            return Err(InvalidKey::new(
                "sources",
                "list at least one source, e.g. sources = [\"synthetic\"]",
            ));
        }
        let mut seen = HashSet::new();
        for kind in &self.sources {
            if !seen.insert(kind) {
                return Err(InvalidKey::new(
                    "sources",
                    format!("{} is listed twice", kind.name()),
                ));
            }
        }
        if self.sources.len() > 1
            && let Some(alone) = self.sources.iter().find(|kind| !kind.is_live())
        {
            return Err(InvalidKey::new(
                "sources",
                format!(
                    "{} cannot be listed with other sources: it is a finite input \
                     (for tests and replays) that ends the run when it is used up, while \
                     the live sources run until stopped and resume from cursors; run it \
                     in a collector of its own",
                    alone.name()
                ),
            ));
        }
        Ok(())
    }

    fn validate_live(&self) -> Result<(), InvalidKey> {
        if self.cursor_dir.as_os_str().is_empty() {
            return Err(InvalidKey::new(
                "cursor_dir",
                "required when sources are set",
            ));
        }
        if self.batch_max_posts == 0 {
            return Err(InvalidKey::new("batch_max_posts", "must be above 0"));
        }
        if self.batch_max_wait_ms == 0 {
            return Err(InvalidKey::new("batch_max_wait_ms", "must be above 0"));
        }
        if self.metrics_log_interval_ms == 0 {
            return Err(InvalidKey::new(
                "metrics_log_interval_ms",
                "must be above 0",
            ));
        }
        self.retry.validate()?;
        for kind in &self.sources {
            match kind {
                SourceKind::Synthetic | SourceKind::File => {}
                SourceKind::Weibo => self.weibo.validate()?,
                SourceKind::WeiboSearch => {
                    self.weibo_mobile.validate()?;
                    self.weibo_search.validate()?;
                }
                SourceKind::WeiboUser => {
                    self.weibo_mobile.validate()?;
                    self.weibo_user.validate()?;
                }
                SourceKind::Mastodon => self.mastodon.validate()?,
                SourceKind::Jetstream => self.jetstream.validate()?,
                SourceKind::Socket => self.socket.validate()?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use weibostream_shared::config::load_from;

    use super::*;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<CollectorConfig, String> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(file, "{toml}").unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let config: CollectorConfig =
            load_from("COLLECTOR", Some(file.path()), env).map_err(|e| e.to_string())?;
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    #[test]
    fn defaults_keep_the_synthetic_source_and_real_urls() {
        let config = load("", &[]).unwrap();
        assert_eq!(config.sources, [SourceKind::Synthetic]);
        assert_eq!(config.weibo.base_url, "https://api.weibo.com/2");
        assert_eq!(config.weibo.calls_per_hour, 150);
        assert_eq!(
            config.mastodon.instances[0].base_url,
            "https://mastodon.social"
        );
        assert!(
            config
                .jetstream
                .url
                .starts_with("wss://jetstream2.us-east.bsky.network/")
        );
    }

    #[test]
    fn the_old_source_key_is_named_from_env_too() {
        let error = load("", &[("COLLECTOR__SOURCE", "synthetic")]).unwrap_err();
        assert_eq!(
            error,
            "source: this key was replaced by sources; write sources = [\"synthetic\"]"
        );
        let config = load("sources = [\"file\"]\n[file]\npath = \"posts.jsonl\"", &[]).unwrap();
        assert_eq!(config.sources, [SourceKind::File]);
    }

    #[test]
    fn the_collector_lingers_longer_than_the_other_services() {
        assert_eq!(load("", &[]).unwrap().kafka.linger_ms, COLLECTOR_LINGER_MS);
        let config = load("[kafka]\ncompression = \"zstd\"", &[]).unwrap();
        assert_eq!(config.kafka.linger_ms, COLLECTOR_LINGER_MS);
        let config = load("", &[("COLLECTOR__KAFKA__LINGER_MS", "5")]).unwrap();
        assert_eq!(config.kafka.linger_ms, 5);
        assert_eq!(KafkaSettings::default().linger_ms, 5);
    }

    #[test]
    fn live_sources_from_toml_and_env() {
        let toml = r#"
            sources = ["mastodon", "jetstream"]
            cursor_dir = "/var/lib/weibostream"
            [[mastodon.instances]]
            base_url = "https://fosstodon.org"
            [[mastodon.instances]]
            base_url = "https://mstdn.jp"
            access_token_env = "MSTDN_TOKEN"
            [jetstream]
            languages = ["zh", "ja"]
        "#;
        let config = load(toml, &[("COLLECTOR__JETSTREAM__IDLE_TIMEOUT_MS", "5000")]).unwrap();
        let urls: Vec<_> = config
            .mastodon
            .instances
            .iter()
            .map(|i| i.base_url.as_str())
            .collect();
        assert_eq!(urls, ["https://fosstodon.org", "https://mstdn.jp"]);
        assert_eq!(config.mastodon.instances[1].access_token_env, "MSTDN_TOKEN");
        assert!(config.mastodon.instances[1].streaming);
        assert_eq!(config.jetstream.idle_timeout_ms, 5000);
        let toml = "sources = [\"weibo_search\", \"weibo_user\"]\n[weibo_search]\nqueries = [\"建设银行 涨\"]\n[weibo_user]\nuids = [\"1234567890\"]";
        let config = load(toml, &[]).unwrap();
        assert_eq!(config.weibo_mobile.base_url, "https://m.weibo.cn");
        assert_eq!(config.weibo_mobile.cookie_env, "WEIBO_COOKIE");
        assert!(config.weibo_mobile.min_gap_ms >= 3000);
        assert_eq!(config.weibo_search.queries, ["建设银行 涨"]);
        let config = load("", &[("COLLECTOR__SOURCES", "weibo, socket")]).unwrap();
        assert_eq!(config.sources, [SourceKind::Weibo, SourceKind::Socket]);
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        for (toml, key) in [
            ("sources = [\"twitter\"]", "twitter"),
            ("sources = [\"weibo\"]\n[weibo]\ntoken = \"x\"", "token"),
            (
                "sources = [\"weibo\", \"weibo\"]",
                "sources: weibo is listed twice",
            ),
            (
                "sources = [\"weibo\"]\n[weibo]\npage_size = 101",
                "weibo.page_size",
            ),
            (
                "sources = [\"weibo\"]\n[weibo]\nbase_url = \"ftp://x\"",
                "weibo.base_url",
            ),
            (
                "sources = [\"weibo\"]\n[weibo]\naccess_token_env = \"\"",
                "weibo.access_token_env",
            ),
            (
                "sources = [\"mastodon\"]\n[[mastodon.instances]]\nbase_url = \"https://a.b\"\n[[mastodon.instances]]\nbase_url = \"https://a.b/\"",
                "mastodon.instances[1].base_url",
            ),
            (
                "sources = [\"mastodon\"]\n[mastodon]\npage_size = 41",
                "mastodon.page_size",
            ),
            (
                "sources = [\"jetstream\"]\n[jetstream]\nurl = \"https://x\"",
                "jetstream.url",
            ),
            (
                "sources = [\"jetstream\"]\n[jetstream]\nlanguages = [\"e n\"]",
                "jetstream.languages",
            ),
            (
                "sources = [\"socket\"]\n[socket]\naddresses = [\"nope\"]",
                "socket.addresses[0]",
            ),
            (
                "sources = [\"socket\"]\n[retry]\nmax_backoff_ms = 1",
                "retry.max_backoff_ms",
            ),
            (
                "sources = [\"weibo_search\"]",
                "weibo_search.queries: list at least one query",
            ),
            (
                "sources = [\"weibo_search\", \"weibo_search\"]",
                "sources: weibo_search is listed twice",
            ),
            (
                "sources = [\"weibo_search\"]\n[weibo_search]\nqueries = [\"a\", \"a\"]",
                "weibo_search.queries[1]",
            ),
            (
                "sources = [\"weibo_search\"]\n[weibo_search]\nqueries = [\"  \"]",
                "weibo_search.queries[0]",
            ),
            (
                "sources = [\"weibo_search\"]\n[weibo_search]\nqueries = [\"a\"]\n[weibo_mobile]\nmin_gap_ms = 0",
                "weibo_mobile.min_gap_ms",
            ),
            (
                "sources = [\"weibo_search\"]\n[weibo_search]\nqueries = [\"a\"]\n[weibo_mobile]\ncookie = \"SUB=x\"",
                "cookie",
            ),
            (
                "sources = [\"weibo_user\"]\n[weibo_user]\nuids = [\"12a\"]",
                "weibo_user.uids[0]",
            ),
            (
                "sources = [\"weibo_user\"]\n[weibo_user]\nuids = [\"1\"]\n[weibo_mobile]\nrefused_max_backoff_ms = 10",
                "weibo_mobile.refused_max_backoff_ms",
            ),
            ("[http]\nbind = \"localhost\"", "http.bind"),
            (
                "source = \"file\"",
                "source: this key was replaced by sources; write sources = [\"file\"]",
            ),
            ("sources = []", "sources: list at least one source"),
            ("sources = [\"file\"]", "file.path: required"),
            (
                "sources = [\"synthetic\", \"socket\"]",
                "sources: synthetic cannot be listed with other sources",
            ),
            (
                "sources = [\"jetstream\", \"file\"]\n[file]\npath = \"a\"",
                "sources: file cannot be listed with other sources",
            ),
            (
                "sources = [\"twitter\"]",
                "expected one of synthetic, file, weibo",
            ),
            ("[http]\nport = 1", "port"),
        ] {
            let error = load(toml, &[]).unwrap_err();
            assert!(error.contains(key), "{toml}: {error}");
        }
    }
}
