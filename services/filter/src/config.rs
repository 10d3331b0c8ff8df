//! The filter's one config type (`[filter]` TOML file, `FILTER__*` env vars).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use weibostream_shared::Topics;
use weibostream_shared::kafka::KafkaSettings;

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
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            kafka: KafkaSettings::default(),
            topics: Topics::default(),
            group: "filter".into(),
            replica_id: String::new(),
            rules_path: PathBuf::from("rules.toml"),
            batch_interval_ms: 5000,
            max_record_bytes: 1 << 20,
            shutdown_timeout_ms: 5000,
        }
    }
}

impl FilterConfig {
    /// Checks every key without I/O; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        self.kafka.validate()?;
        self.topics.validate()?;
        if self.group.trim().is_empty() {
            return Err("group: must not be empty".into());
        }
        if self.batch_interval_ms < 100 {
            return Err(format!(
                "batch_interval_ms: {} is below the 100 ms minimum",
                self.batch_interval_ms
            ));
        }
        if self.max_record_bytes < 64 {
            return Err(format!(
                "max_record_bytes: {} is below the 64 byte minimum",
                self.max_record_bytes
            ));
        }
        if self.shutdown_timeout_ms == 0 {
            return Err("shutdown_timeout_ms: must be above 0".into());
        }
        Ok(())
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
        assert!(
            config
                .validate()
                .unwrap_err()
                .starts_with("batch_interval_ms")
        );
    }
}
