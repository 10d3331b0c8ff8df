//! The sink's Prometheus metrics (`weibostream_sink_*`, served on `/metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::merge::{Block, Completion};

/// Labels naming an output: `stdout`, `jsonl`, `sqlite` or `postgres`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutputLabels {
    /// The output.
    pub output: &'static str,
}

/// Labels naming why a block was output: `complete`, `grace` (after the
/// grace period, partitions missing) or `straggler` (late matches).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CompletionLabels {
    /// How the block was completed.
    pub completion: &'static str,
}

/// Labels naming a partition the sink consumes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    /// Topic.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

/// Labels naming an alert channel and what became of an alert sent to it:
/// `sent`, `failed` (every try failed) or `dropped` (its queue was full).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// The channel's name.
    pub channel: String,
    /// The outcome.
    pub outcome: &'static str,
}

/// Every sink metric; cheap to clone (clones share the values).
#[derive(Clone, Default)]
pub struct SinkMetrics {
    /// Matched-post records read from `posts.matched` (before de-duplication).
    pub matched_posts_received: Counter,
    /// Batch reports read from `filter.reports`.
    pub reports_received: Counter,
    /// Posts written, per output.
    pub posts_output: Family<OutputLabels, Counter>,
    /// Redelivered posts dropped because they were output before.
    pub duplicates_dropped: Counter,
    /// Blocks output, by completion.
    pub blocks: Family<CompletionLabels, Counter>,
    /// Blocks printed on stdout.
    pub blocks_printed: Counter,
    /// Posts the filters read, summed from their reports.
    pub posts_in: Counter,
    /// Records the filters sent to the dead-letter topic, summed from their reports.
    pub dead_lettered: Counter,
    /// Failed attempts to write a block to an output (store, file, stdout).
    pub output_write_failures: Counter,
    /// Attempts to write again after a failure.
    pub output_write_retries: Counter,
    /// 1 while consumption is paused: an output or the store cannot be
    /// written, or the store is three blocks behind.
    pub consumption_paused: Gauge,
    /// Batches waiting for reports or matches.
    pub pending_batches: Gauge,
    /// Records the broker skipped and seeking back did not bring back
    /// (see `weibostream_shared::quirks::continuity`).
    pub skipped_records: Counter,
    /// Seeks back to read again records the broker skipped.
    pub rewinds: Counter,
    /// High watermark minus the sink's committed offset (or its position
    /// before its first commit), per partition it owns.
    pub consumer_lag_records: Family<PartitionLabels, Gauge>,
    /// Alerts this sink claimed and queued (each alert once for all sinks).
    pub alerts_fired: Counter,
    /// Alert deliveries per channel and outcome.
    pub alert_deliveries: Family<DeliveryLabels, Counter>,
    /// Stored posts, counts and alerts deleted for `retention_days`.
    pub retention_deleted_rows: Counter,
}

impl SinkMetrics {
    /// Metrics registered in `registry` under `weibostream_sink_`.
    pub fn register(registry: &mut Registry) -> SinkMetrics {
        let metrics = SinkMetrics::default();
        let sink = registry.sub_registry_with_prefix("sink");
        sink.register(
            "matched_posts_received",
            "Matched-post records read from posts.matched, before de-duplication",
            metrics.matched_posts_received.clone(),
        );
        sink.register(
            "reports_received",
            "Batch reports read from filter.reports",
            metrics.reports_received.clone(),
        );
        sink.register(
            "posts_output",
            "Matched posts written, per output (stdout, jsonl, sqlite, postgres)",
            metrics.posts_output.clone(),
        );
        sink.register(
            "duplicates_dropped",
            "Redelivered posts dropped because they were output before",
            metrics.duplicates_dropped.clone(),
        );
        sink.register(
            "blocks",
            "Batch blocks output: complete, after the grace period, or stragglers",
            metrics.blocks.clone(),
        );
        sink.register(
            "blocks_printed",
            "Blocks printed on stdout",
            metrics.blocks_printed.clone(),
        );
        sink.register(
            "posts_in",
            "Posts the filters read, summed from their batch reports",
            metrics.posts_in.clone(),
        );
        sink.register(
            "dead_lettered_records",
            "Records the filters sent to the dead-letter topic, summed from their batch reports",
            metrics.dead_lettered.clone(),
        );
        sink.register(
            "output_write_failures",
            "Failed attempts to write a block to an output (database, file, stdout)",
            metrics.output_write_failures.clone(),
        );
        sink.register(
            "output_write_retries",
            "Write attempts made after a failure",
            metrics.output_write_retries.clone(),
        );
        sink.register(
            "consumption_paused",
            "1 while consumption is paused (an output or the store cannot be written, or the store is behind)",
            metrics.consumption_paused.clone(),
        );
        sink.register(
            "pending_batches",
            "Batches waiting for reports or matches",
            metrics.pending_batches.clone(),
        );
        sink.register(
            "skipped_records",
            "Records the broker skipped and seeking back did not bring back (their matched posts are missing from the output; counted with kafka.local_broker_quirks only)",
            metrics.skipped_records.clone(),
        );
        sink.register(
            "rewinds",
            "Seeks back to read again records the broker skipped (kafka.local_broker_quirks only)",
            metrics.rewinds.clone(),
        );
        sink.register(
            "consumer_lag_records",
            "High watermark minus the committed offset, per partition the sink owns",
            metrics.consumer_lag_records.clone(),
        );
        sink.register(
            "alerts_fired",
            "Alerts this sink recorded and queued for its channels",
            metrics.alerts_fired.clone(),
        );
        sink.register(
            "alert_deliveries",
            "Alert deliveries per channel and outcome (sent, failed, dropped)",
            metrics.alert_deliveries.clone(),
        );
        sink.register(
            "retention_deleted_rows",
            "Stored posts, rule counts and alerts deleted because they are older than retention_days",
            metrics.retention_deleted_rows.clone(),
        );
        for completion in ["complete", "grace", "straggler"] {
            let _ = metrics
                .blocks
                .get_or_create(&CompletionLabels { completion });
        }
        metrics
    }

    /// Counts a block every output took.
    pub fn block_output(&self, block: &Block) {
        self.duplicates_dropped.inc_by(block.duplicates_dropped);
        self.blocks
            .get_or_create(&CompletionLabels {
                completion: completion_label(&block.completion),
            })
            .inc();
        for report in &block.reports {
            self.posts_in.inc_by(report.posts_in);
            self.dead_lettered.inc_by(report.dead_lettered);
        }
    }

    /// Counts `posts` written to `output`.
    pub fn posts_written(&self, output: &'static str, posts: usize) {
        self.posts_output
            .get_or_create(&OutputLabels { output })
            .inc_by(posts as u64);
    }
}

impl SinkMetrics {
    /// Counts `n` alerts with this outcome on `channel`.
    pub fn alert_delivered(&self, channel: &str, outcome: &'static str, n: u64) {
        self.alert_deliveries
            .get_or_create(&DeliveryLabels {
                channel: channel.to_string(),
                outcome,
            })
            .inc_by(n);
    }
}

/// The `completion` label of a block.
pub fn completion_label(completion: &Completion) -> &'static str {
    match completion {
        Completion::Complete => "complete",
        Completion::Late { .. } => "grace",
        Completion::Straggler => "straggler",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_the_weibostream_prefix_and_units() {
        let mut registry = Registry::with_prefix("weibostream");
        let metrics = SinkMetrics::register(&mut registry);
        metrics.posts_written("jsonl", 3);
        metrics
            .consumer_lag_records
            .get_or_create(&PartitionLabels {
                topic: "posts.matched".into(),
                partition: 2,
            })
            .set(7);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("weibostream_sink_posts_output_total{output=\"jsonl\"} 3"),
            "{text}"
        );
        assert!(
            text.contains(
                "weibostream_sink_consumer_lag_records{topic=\"posts.matched\",partition=\"2\"} 7"
            ),
            "{text}"
        );
    }
}
