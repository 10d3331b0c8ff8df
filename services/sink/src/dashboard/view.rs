//! What the dashboard shows of a post and of a batch, made from the blocks
//! the sink output. Pure. Untrusted text (post text, names, rule ids,
//! terms) goes through the shared terminal sanitizer here — it removes
//! control and bidi-override characters; the page then renders it only as
//! text, never as HTML.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use weibostream_shared::sanitize::for_terminal;
use weibostream_shared::{BatchReport, MatchedPost};

use crate::merge::{Block, Completion};
use crate::metrics::completion_label;
use crate::print::merge_terms;

/// A matched post as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostView {
    /// Stable post id.
    pub id: String,
    /// Source prefix (`weibo`, `mastodon`...).
    pub source: &'static str,
    /// Author display name.
    pub author: String,
    /// Whether the source marks the author verified.
    pub verified: bool,
    /// Post text.
    pub text: String,
    /// Rule ids it matched.
    pub rules: Vec<String>,
    /// The batch it was processed in.
    pub batch_time: DateTime<Utc>,
    /// When the author posted it.
    pub created_at: DateTime<Utc>,
    /// The filter replica that matched it.
    pub replica: String,
    /// Classifier label, when the filter has a model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Probability of `label`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Link to the post, only when it is an `http(s)` URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl PostView {
    /// The view of a matched post.
    pub fn of(matched: &MatchedPost) -> PostView {
        let post = &matched.post;
        PostView {
            id: for_terminal(&post.id),
            source: post.source.prefix(),
            author: for_terminal(&post.author.name),
            verified: post.author.verified,
            text: for_terminal(&post.text),
            rules: matched.rules.iter().map(|r| for_terminal(r)).collect(),
            batch_time: matched.batch_time,
            created_at: post.created_at,
            replica: for_terminal(&matched.replica),
            label: matched.label.as_deref().map(for_terminal),
            probability: matched.probability,
            url: post.url.as_deref().and_then(web_url),
        }
    }
}

/// `url` when it is a plain `http://` or `https://` URL (no `javascript:` links).
fn web_url(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    ((lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(char::is_control))
    .then(|| url.trim().to_string())
}

/// One replica's share of a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaView {
    /// Replica name.
    pub replica: String,
    /// Time from the batch close to the broker's acknowledgement of its matches.
    pub processing_ms: f64,
    /// The batch interval it ran with.
    pub interval_ms: u64,
    /// Posts it read in the batch.
    pub posts_in: u64,
    /// Partitions it covered.
    pub partitions: Vec<i32>,
    /// Its consumer lag in records at the batch close, when its report carries one.
    pub lag: Option<u64>,
}

/// A term and its score (summed over replicas).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermView {
    /// The term.
    pub term: String,
    /// Its TF-IDF score.
    pub score: f64,
}

/// A batch as the dashboard charts it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchView {
    /// The batch time.
    pub batch_time: DateTime<Utc>,
    /// `complete` or `grace` (output after the grace period).
    pub completion: &'static str,
    /// Partitions no report covered (for `grace`).
    pub missing_partitions: Vec<i32>,
    /// Partitions of `posts.raw`.
    pub partition_count: i32,
    /// Posts read by every replica in the batch.
    pub posts_in: u64,
    /// `posts_in` per second of batch interval.
    pub posts_per_s: f64,
    /// New matched posts output for the batch.
    pub matched: usize,
    /// Matches per rule id, summed over the replicas' reports.
    pub matched_per_rule: BTreeMap<String, u64>,
    /// Redelivered posts dropped.
    pub duplicates_dropped: u64,
    /// Records the replicas dead-lettered.
    pub dead_lettered: u64,
    /// The batch interval (the longest any replica reported).
    pub interval_ms: u64,
    /// Each replica's report.
    pub replicas: Vec<ReplicaView>,
    /// Trending terms, best first, when the filters compute them.
    pub top_terms: Vec<TermView>,
}

impl BatchView {
    /// The view of a block; `None` for straggler blocks (no reports to chart).
    pub fn of(block: &Block) -> Option<BatchView> {
        let missing_partitions = match &block.completion {
            Completion::Complete => Vec::new(),
            Completion::Late { missing_partitions } => missing_partitions.clone(),
            Completion::Straggler => return None,
        };
        let reports = &block.reports;
        let posts_in: u64 = reports.iter().map(|r| r.posts_in).sum();
        let interval_ms = reports.iter().map(|r| r.interval_ms).max().unwrap_or(0);
        let mut matched_per_rule = BTreeMap::new();
        for report in reports {
            for (rule, n) in &report.matched_per_rule {
                *matched_per_rule.entry(for_terminal(rule)).or_default() += n;
            }
        }
        let top_terms = merge_terms(reports.iter().map(|r| r.top_terms.as_slice()))
            .into_iter()
            .map(|(term, score)| TermView {
                term: for_terminal(term),
                score,
            })
            .collect();
        Some(BatchView {
            batch_time: block.batch_time,
            completion: completion_label(&block.completion),
            missing_partitions,
            partition_count: block.partition_count,
            posts_in,
            posts_per_s: if interval_ms > 0 {
                posts_in as f64 * 1000.0 / interval_ms as f64
            } else {
                0.0
            },
            matched: block.posts.len(),
            matched_per_rule,
            duplicates_dropped: block.duplicates_dropped,
            dead_lettered: reports.iter().map(|r| r.dead_lettered).sum(),
            interval_ms,
            replicas: reports.iter().map(replica_view).collect(),
            top_terms,
        })
    }
}

fn replica_view(report: &BatchReport) -> ReplicaView {
    ReplicaView {
        replica: for_terminal(&report.replica),
        processing_ms: report.processing_ms,
        interval_ms: report.interval_ms,
        posts_in: report.posts_in,
        partitions: report.covered_partitions().collect(),
        lag: report.lag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn only_web_links_are_kept() {
        assert_eq!(
            web_url("https://weibo.com/1/abc"),
            Some("https://weibo.com/1/abc".into())
        );
        assert_eq!(web_url("javascript:alert(1)"), None);
        assert_eq!(web_url(" JavaScript:alert(1)"), None);
        assert_eq!(web_url("data:text/html,<script>"), None);
    }
}
