//! The filter's one config type (`[filter]` TOML file, `FILTER__*` env vars).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use weibostream_shared::Topics;
use weibostream_shared::config::InvalidKey;

use crate::rules::MatchOptions;
use weibostream_shared::http::HttpSettings;
use weibostream_shared::kafka::KafkaSettings;

/// The filter's default `kafka.producer_queue_max_kb`. A replica that reads
/// faster than the broker takes its matches holds the difference here, and
/// each KiB counted costs ~1.3–1.8 KiB of memory (librdkafka's per-record
/// header, the batch being compressed). On the local broker, 1,000,000
/// posts with 20 rules: 64 MiB peaked at 62–135 MiB RSS, 24 MiB at ~91 MiB
/// and ~10% slower reading, 16 MiB at 75–77 MiB and ~20% slower.
pub const FILTER_PRODUCER_QUEUE_KB: u32 = 24_576;

/// The filter's default `kafka.consumer_queue_max_kb` (prefetch): 8 MiB is
/// ~20,000 posts, tens of milliseconds of reading at full speed.
pub const FILTER_CONSUMER_QUEUE_KB: u32 = 8_192;

/// Everything a filter replica needs; validated before any I/O.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilterConfig {
    /// Kafka client settings.
    pub kafka: KafkaSettings,
    /// Topic names and partition counts.
    pub topics: Topics,
    /// Consumer group shared by all replicas.
    pub group: String,
    /// This replica's name in reports; default `<hostname>-<pid>`.
    pub replica_id: String,
    /// Path of the TOML rules file.
    pub rules_path: PathBuf,
    /// Batch length; batches end on wall-clock multiples of it (like Spark's batch times).
    pub batch_interval_ms: u64,
    /// Records larger than this go to the dead-letter topic.
    pub max_record_bytes: usize,
    /// Upper bound for draining the open batch on shutdown; keep it below the session timeout.
    pub shutdown_timeout_ms: u64,
    /// How often the rules file is checked for changes (new rules apply from
    /// the next batch); 0 turns polling off, leaving SIGHUP.
    pub rules_poll_ms: u64,
    /// Match rules across Chinese scripts: rule literals and post text are
    /// both folded to simplified characters (OpenCC's character table), so
    /// `建设银行` matches `建設銀行` and the reverse. Off: characters match
    /// only as written.
    pub fold_chinese_scripts: bool,
    /// Trending terms in each batch report.
    pub trending: TrendingConfig,
    /// The classifier behind `label:` rules and the label on matched posts.
    pub classifier: ClassifierConfig,
    /// Where `/metrics`, `/healthz` and `/readyz` are served (`http.bind`;
    /// `off` serves nothing, port 0 picks a free port).
    pub http: HttpSettings,
}

/// `[trending]`: top TF-IDF terms per batch, overall and per rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrendingConfig {
    /// Tokenize posts and report trending terms (off: no tokenization at all).
    pub enabled: bool,
    /// Batches of history the IDF is learned from (60 five-second batches: 5 minutes).
    pub history_batches: usize,
    /// Terms reported per list.
    pub top_n: usize,
    /// A term must be in at least this many posts of the batch (or of the
    /// rule's matches) to be reported, when there are that many posts.
    pub min_posts: u32,
}

impl Default for TrendingConfig {
    fn default() -> Self {
        TrendingConfig {
            enabled: false,
            history_batches: 60,
            top_n: 10,
            min_posts: 2,
        }
    }
}

/// `[classifier]`: a model trained by `filter train`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifierConfig {
    /// Model file to load at start; unset: no classifier, and rules using
    /// `label:` are rejected.
    pub model_path: Option<PathBuf>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            kafka: KafkaSettings {
                producer_queue_max_kb: FILTER_PRODUCER_QUEUE_KB,
                consumer_queue_max_kb: FILTER_CONSUMER_QUEUE_KB,
                ..KafkaSettings::default()
            },
            topics: Topics::default(),
            group: "filter".into(),
            replica_id: String::new(),
            rules_path: PathBuf::from("rules.toml"),
            batch_interval_ms: 5000,
            max_record_bytes: 1 << 20,
            shutdown_timeout_ms: 5000,
            rules_poll_ms: 1000,
            fold_chinese_scripts: true,
            trending: TrendingConfig::default(),
            classifier: ClassifierConfig::default(),
            http: HttpSettings::on("127.0.0.1:9102"),
        }
    }
}

impl FilterConfig {
    /// Checks every key without I/O; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        self.kafka.validate()?;
        self.topics.validate()?;
        self.http.address()?;
        if self.group.trim().is_empty() {
            return Err(InvalidKey::new("group", "must not be empty"));
        }
        if self.batch_interval_ms < 100 {
            return Err(InvalidKey::new(
                "batch_interval_ms",
                format!("{} is below the 100 ms minimum", self.batch_interval_ms),
            ));
        }
        if self.max_record_bytes < 64 {
            return Err(InvalidKey::new(
                "max_record_bytes",
                format!("{} is below the 64 byte minimum", self.max_record_bytes),
            ));
        }
        if self.shutdown_timeout_ms == 0 {
            return Err(InvalidKey::new("shutdown_timeout_ms", "must be above 0"));
        }
        if self.rules_poll_ms != 0 && self.rules_poll_ms < 100 {
            return Err(InvalidKey::new(
                "rules_poll_ms",
                format!(
                    "{} is below the 100 ms minimum (0 turns polling off)",
                    self.rules_poll_ms
                ),
            ));
        }
        let trending = &self.trending;
        if trending.history_batches == 0 {
            return Err(InvalidKey::new(
                "trending.history_batches",
                "must be at least 1",
            ));
        }
        if trending.top_n == 0 {
            return Err(InvalidKey::new("trending.top_n", "must be at least 1"));
        }
        if self
            .classifier
            .model_path
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(InvalidKey::new(
                "classifier.model_path",
                "must not be empty (leave it unset for no classifier)",
            ));
        }
        Ok(())
    }

    /// How the rules match text, from this config.
    pub fn match_options(&self) -> MatchOptions {
        MatchOptions {
            fold_chinese_scripts: self.fold_chinese_scripts,
        }
    }

    /// The replica id to report: the configured one or `<hostname>-<pid>`.
    pub fn effective_replica_id(&self) -> String {
        if !self.replica_id.trim().is_empty() {
            return self.replica_id.trim().to_string();
        }
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        format!("{host}-{}", std::process::id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        let mut config = FilterConfig::default();
        assert!(config.validate().is_ok());
        config.batch_interval_ms = 10;
        assert_eq!(config.validate().unwrap_err().key, "batch_interval_ms");
        let mut config = FilterConfig::default();
        config.trending.top_n = 0;
        assert_eq!(config.validate().unwrap_err().key, "trending.top_n");
        let config = FilterConfig {
            rules_poll_ms: 10,
            ..FilterConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().key, "rules_poll_ms");
        let config = FilterConfig {
            http: HttpSettings::on("localhost"),
            ..FilterConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().key, "http.bind");
    }

    #[test]
    fn the_filter_queues_are_smaller_than_the_shared_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("filter.toml");
        std::fs::write(&path, "[kafka]\nlinger_ms = 10\n").unwrap();
        let load = |env: Vec<(String, String)>| -> FilterConfig {
            weibostream_shared::config::load_from("FILTER", Some(&path), env).unwrap()
        };
        let config = load(Vec::new());
        assert_eq!(
            (
                config.kafka.producer_queue_max_kb,
                config.kafka.consumer_queue_max_kb,
                config.kafka.linger_ms
            ),
            (FILTER_PRODUCER_QUEUE_KB, FILTER_CONSUMER_QUEUE_KB, 10)
        );
        let env = vec![(
            "FILTER__KAFKA__PRODUCER_QUEUE_MAX_KB".to_string(),
            "65536".to_string(),
        )];
        assert_eq!(load(env).kafka.producer_queue_max_kb, 65_536);
        assert!(KafkaSettings::default().producer_queue_max_kb > FILTER_PRODUCER_QUEUE_KB);
    }

    #[test]
    fn text_keys_load_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("filter.toml");
        std::fs::write(
            &path,
            "[trending]\nenabled = true\nhistory_batches = 12\n[classifier]\nmodel_path = \"m.json\"\n",
        )
        .unwrap();
        let env = [
            ("FILTER__TRENDING__TOP_N".to_string(), "3".to_string()),
            (
                "FILTER__FOLD_CHINESE_SCRIPTS".to_string(),
                "false".to_string(),
            ),
        ];
        let config: FilterConfig =
            weibostream_shared::config::load_from("FILTER", Some(&path), env).unwrap();
        assert!(!config.fold_chinese_scripts);
        assert!(!config.match_options().fold_chinese_scripts);
        assert!(config.trending.enabled);
        assert_eq!(config.trending.history_batches, 12);
        assert_eq!(config.trending.top_n, 3);
        assert_eq!(config.classifier.model_path, Some(PathBuf::from("m.json")));
        let defaults: FilterConfig =
            weibostream_shared::config::load_from("FILTER", None, Vec::new()).unwrap();
        assert_eq!(defaults, FilterConfig::default());
        std::fs::write(&path, "[trending]\nenabeld = true\n").unwrap();
        let error = weibostream_shared::config::load_from::<FilterConfig, _>(
            "FILTER",
            Some(&path),
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("enabeld"), "{error}");
    }
}
