//! Topic names and partition counts, shared so every service agrees on them.

use serde::{Deserialize, Serialize};

use crate::config::InvalidKey;

use crate::kafka::TopicSpec;

/// Names and partition counts of the pipeline's topics (config section `[topics]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topics {
    /// Normalized posts from the collector.
    pub raw: String,
    /// Posts that matched at least one rule, written by the filter replicas.
    pub matched: String,
    /// One report per filter replica per batch, empty batches included.
    pub reports: String,
    /// Records the filter could not decode, with headers saying why.
    pub dlq: String,
    /// Partitions of `raw` when a service has to create it.
    pub raw_partitions: i32,
    /// Partitions of `matched` when a service has to create it.
    pub matched_partitions: i32,
    /// Replication factor for topics a service creates (1 for a single broker).
    pub replication_factor: i32,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            raw: "posts.raw".into(),
            matched: "posts.matched".into(),
            reports: "filter.reports".into(),
            dlq: "posts.dlq".into(),
            raw_partitions: 6,
            matched_partitions: 6,
            replication_factor: 1,
        }
    }
}

/// Which of the pipeline's topics a service touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicRole {
    /// `posts.raw`.
    Raw,
    /// `posts.matched`.
    Matched,
    /// `filter.reports` (one partition, so reports stay in order).
    Reports,
    /// `posts.dlq` (one partition).
    DeadLetter,
}

impl Topics {
    /// Creation specs for the given topics, with their configured partition counts.
    pub fn specs(&self, roles: &[TopicRole]) -> Vec<TopicSpec> {
        roles
            .iter()
            .map(|role| {
                let (name, partitions) = match role {
                    TopicRole::Raw => (&self.raw, self.raw_partitions),
                    TopicRole::Matched => (&self.matched, self.matched_partitions),
                    TopicRole::Reports => (&self.reports, 1),
                    TopicRole::DeadLetter => (&self.dlq, 1),
                };
                TopicSpec {
                    name: name.clone(),
                    partitions,
                    replication_factor: self.replication_factor,
                }
            })
            .collect()
    }

    /// Checks names and counts; returns the offending key on error.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        for (key, name) in [
            ("topics.raw", &self.raw),
            ("topics.matched", &self.matched),
            ("topics.reports", &self.reports),
            ("topics.dlq", &self.dlq),
        ] {
            let valid = !name.is_empty()
                && name.len() <= 249
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !valid {
                return Err(InvalidKey::new(
                    key,
                    format!("{name:?} is not a valid topic name (letters, digits, '.', '_', '-')"),
                ));
            }
        }
        for (key, n) in [
            ("topics.raw_partitions", self.raw_partitions),
            ("topics.matched_partitions", self.matched_partitions),
            ("topics.replication_factor", self.replication_factor),
        ] {
            if n < 1 {
                return Err(InvalidKey::new(key, format!("must be at least 1, got {n}")));
            }
        }
        Ok(())
    }
}
