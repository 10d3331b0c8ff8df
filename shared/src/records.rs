//! Records of `posts.matched` and `filter.reports` (their JSON schemas are
//! documented in `docs/records.md`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Post;

/// A post that matched at least one rule, as published to `posts.matched`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedPost {
    /// End of the batch the post was processed in (a multiple of the interval).
    pub batch_time: DateTime<Utc>,
    /// The filter replica that processed it.
    pub replica: String,
    /// Ids of the rules it matched, in rule-file order.
    pub rules: Vec<String>,
    /// Partition of `posts.raw` it was read from.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
    /// The post itself.
    pub post: Post,
    /// The classifier's most probable label for the post, when the filter
    /// has a model (`classifier.model_path`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The probability of `label`, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

// `probability` is never NaN (JSON cannot carry one), so equality is total.
impl Eq for MatchedPost {}

/// A term and its TF-IDF score in one batch (see `BatchReport::top_terms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TermScore {
    /// The token, as the filter's tokenizer produced it (normalized).
    pub term: String,
    /// TF-IDF score: higher means more specific to this batch.
    pub score: f64,
}

/// What one replica read from one partition in one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRange {
    /// Partition of `posts.raw`.
    pub partition: i32,
    /// First offset read in the batch; absent when nothing was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_offset: Option<i64>,
    /// Last offset read in the batch; absent when nothing was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_offset: Option<i64>,
    /// Records read from the partition in the batch (good and dead-lettered).
    pub records: u64,
}

/// One replica's account of one batch, published to `filter.reports` after
/// every matched post of the batch was acknowledged by the broker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    /// End of the batch (a multiple of the interval since the Unix epoch).
    pub batch_time: DateTime<Utc>,
    /// Batch interval in milliseconds.
    pub interval_ms: u64,
    /// The filter replica that wrote the report.
    pub replica: String,
    /// Every partition assigned to the replica when the batch closed, plus any
    /// it read from during the batch, with the offsets covered.
    pub partitions: Vec<PartitionRange>,
    /// Good posts read in the batch.
    pub posts_in: u64,
    /// Records sent to the dead-letter topic in the batch.
    pub dead_lettered: u64,
    /// Matched posts published for the batch (each counted once, whatever its rule count).
    pub matched_posts: u64,
    /// Matches per rule id (every rule listed, zeros included).
    pub matched_per_rule: BTreeMap<String, u64>,
    /// Time from the batch close to the broker's acknowledgement of its matches.
    pub processing_ms: f64,
    /// Trending terms of the batch's posts, best first, scored by TF-IDF
    /// against the replica's recent batches; empty unless `trending.enabled`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_terms: Vec<TermScore>,
    /// The same over the posts each rule matched, by rule id (rules without
    /// matches are left out); empty unless `trending.enabled`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub top_terms_per_rule: BTreeMap<String, Vec<TermScore>>,
    /// Consumer lag of the replica's assigned partitions when the batch
    /// closed: records behind the high watermark, summed over partitions
    /// (from the committed offset or, when ahead, the consumer's position).
    /// Absent when the replica could not tell (no watermark fetched yet) or
    /// from filters older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
}

impl BatchReport {
    /// Partitions the report covers.
    pub fn covered_partitions(&self) -> impl Iterator<Item = i32> + '_ {
        self.partitions.iter().map(|p| p.partition)
    }
}
