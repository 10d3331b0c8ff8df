//! The replica's Prometheus metrics (served on `/metrics`, names listed in
//! the README) and the lag-growth detector behind the "input is faster than
//! processing" warning.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use weibostream_shared::quirks::resume::Resumer;
use weibostream_shared::stats::PartitionOffsets;

type Labels = Vec<(String, String)>;

fn label(key: &str, value: impl ToString) -> Labels {
    vec![(key.to_string(), value.to_string())]
}

/// Every metric of one replica; cheap to clone (the handles share their values).
#[derive(Debug, Clone)]
pub struct FilterMetrics {
    posts_in: Family<Labels, Counter>,
    dead_lettered: Family<Labels, Counter>,
    skipped_records: Counter,
    rewinds: Counter,
    posts_matched: Counter,
    rule_matches: Family<Labels, Counter>,
    batch_processing: Histogram,
    last_batch_processing: Gauge<f64, AtomicU64>,
    batch_interval: Gauge<f64, AtomicU64>,
    batches: Counter,
    lag: Family<Labels, Gauge>,
    lag_total: Gauge,
    assigned_partitions: Gauge,
    producer_queue: Gauge,
}

impl FilterMetrics {
    /// Creates the metrics and registers them in `registry` (whose prefix
    /// should be `weibostream`).
    pub fn register(registry: &mut Registry, interval_ms: u64) -> FilterMetrics {
        let metrics = FilterMetrics {
            posts_in: Family::default(),
            dead_lettered: Family::default(),
            skipped_records: Counter::default(),
            rewinds: Counter::default(),
            posts_matched: Counter::default(),
            rule_matches: Family::default(),
            // 1 ms .. ~65 s
            batch_processing: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            last_batch_processing: Gauge::default(),
            batch_interval: Gauge::default(),
            batches: Counter::default(),
            lag: Family::default(),
            lag_total: Gauge::default(),
            assigned_partitions: Gauge::default(),
            producer_queue: Gauge::default(),
        };
        metrics.batch_interval.set(interval_ms as f64 / 1000.0);
        let r = registry;
        r.register(
            "filter_posts_in",
            "Good posts read from posts.raw, by source partition",
            metrics.posts_in.clone(),
        );
        r.register(
            "filter_records_dead_lettered",
            "Records sent to the dead-letter topic, by reason",
            metrics.dead_lettered.clone(),
        );
        r.register(
            "filter_skipped_records",
            "Records of posts.raw the broker skipped and seeking back did not bring back: never filtered (counted with kafka.local_broker_quirks only)",
            metrics.skipped_records.clone(),
        );
        r.register(
            "filter_rewinds",
            "Seeks back to read again records of posts.raw the broker skipped (kafka.local_broker_quirks only)",
            metrics.rewinds.clone(),
        );
        r.register(
            "filter_posts_matched",
            "Posts that matched at least one rule (each counted once)",
            metrics.posts_matched.clone(),
        );
        r.register(
            "filter_rule_matches",
            "Matches per rule (a post matching two rules counts for both)",
            metrics.rule_matches.clone(),
        );
        r.register_with_unit(
            "filter_batch_processing",
            "Time spent processing a batch: handling its records plus closing it",
            Unit::Seconds,
            metrics.batch_processing.clone(),
        );
        r.register_with_unit(
            "filter_last_batch_processing",
            "Processing time of the last closed batch",
            Unit::Seconds,
            metrics.last_batch_processing.clone(),
        );
        r.register_with_unit(
            "filter_batch_interval",
            "The batch interval; processing above it means the input is faster than this replica",
            Unit::Seconds,
            metrics.batch_interval.clone(),
        );
        r.register(
            "filter_batches",
            "Batches closed (reported)",
            metrics.batches.clone(),
        );
        r.register(
            "filter_consumer_lag_records",
            "Records behind the high watermark (from fetch responses) per assigned partition, counted from the committed offset or the position",
            metrics.lag.clone(),
        );
        r.register(
            "filter_consumer_lag_total_records",
            "Sum of the consumer lag over the assigned partitions at the last batch close",
            metrics.lag_total.clone(),
        );
        r.register(
            "filter_assigned_partitions",
            "Partitions of posts.raw assigned to this replica",
            metrics.assigned_partitions.clone(),
        );
        r.register(
            "filter_producer_queue_messages",
            "Records waiting in the producer's queue (not yet acknowledged by the broker)",
            metrics.producer_queue.clone(),
        );
        metrics
    }

    /// The posts of a closed batch: good posts per source partition, posts
    /// matching any rule, and matches per rule (by id). Counted per batch,
    /// not per post: a labelled counter costs a hash and a lock per update.
    pub fn batch_posts<'a>(
        &self,
        posts_per_partition: &[(i32, u64)],
        matched_posts: u64,
        matches_per_rule: impl Iterator<Item = (&'a str, u64)>,
    ) {
        for &(partition, posts) in posts_per_partition {
            if posts > 0 {
                self.posts_in
                    .get_or_create(&label("partition", partition))
                    .inc_by(posts);
            }
        }
        self.posts_matched.inc_by(matched_posts);
        for (rule, matches) in matches_per_rule {
            if matches > 0 {
                self.rule_matches
                    .get_or_create(&label("rule", rule))
                    .inc_by(matches);
            }
        }
    }

    /// Makes every rule's counter visible (at zero) before its first match.
    pub fn rules(&self, ids: &[String]) {
        for id in ids {
            let _ = self.rule_matches.get_or_create(&label("rule", id));
        }
    }

    /// A record sent to the dead-letter topic for `reason`.
    pub fn dead_lettered(&self, reason: &str) {
        self.dead_lettered
            .get_or_create(&label("reason", reason))
            .inc();
    }

    /// A [`Resumer`] counting into this replica's rewind and skipped-record counters.
    pub fn resumer(&self) -> Resumer {
        Resumer::new(self.rewinds.clone(), self.skipped_records.clone())
    }

    /// A batch closed after `seconds` of processing.
    pub fn batch_closed(&self, seconds: f64) {
        self.batches.inc();
        self.batch_processing.observe(seconds);
        self.last_batch_processing.set(seconds);
    }

    /// The assigned partitions and their offsets at a batch close; returns
    /// the total lag when every assigned partition's lag is known.
    pub fn partitions(
        &self,
        assigned: &[i32],
        offsets: &BTreeMap<i32, PartitionOffsets>,
    ) -> Option<u64> {
        self.assigned_partitions.set(assigned.len() as i64);
        self.lag.clear();
        let mut total = Some(0u64);
        for partition in assigned {
            match offsets.get(partition).and_then(PartitionOffsets::lag) {
                Some(lag) => {
                    self.lag
                        .get_or_create(&label("partition", partition))
                        .set(i64::try_from(lag).unwrap_or(i64::MAX));
                    total = total.map(|t| t + lag);
                }
                None => total = None,
            }
        }
        self.lag_total
            .set(total.map_or(0, |t| i64::try_from(t).unwrap_or(i64::MAX)));
        total
    }

    /// Records waiting in the producer's queue.
    pub fn producer_queue(&self, messages: i32) {
        self.producer_queue.set(i64::from(messages));
    }
}

/// Batches in a row with growing lag before a warning.
pub const LAG_GROWTH_BATCHES: u32 = 3;

/// Watches the total lag at each batch close: lag that grew over
/// [`LAG_GROWTH_BATCHES`] closes in a row, and is more than a batch's input
/// behind, means the input arrives faster than the replica processes it.
#[derive(Debug, Default)]
pub struct LagTrend {
    last: Option<u64>,
    growing_for: u32,
}

impl LagTrend {
    /// Takes the total lag at a batch close (`None`: unknown) and the posts
    /// the batch read; returns how many batches in a row it has grown when
    /// a warning is due (every [`LAG_GROWTH_BATCHES`] growing batches).
    pub fn observe(&mut self, lag: Option<u64>, batch_records: u64) -> Option<u32> {
        let lag = lag?;
        let grew = self.last.is_some_and(|last| lag > last);
        self.last = Some(lag);
        if !grew {
            self.growing_for = 0;
            return None;
        }
        self.growing_for += 1;
        let due = self.growing_for.is_multiple_of(LAG_GROWTH_BATCHES) && lag > batch_records;
        due.then_some(self.growing_for)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_growing_over_three_batches_warns_every_three() {
        let mut trend = LagTrend::default();
        let warnings: Vec<_> = [100, 200, 300, 400, 500, 600, 700]
            .into_iter()
            .map(|lag| trend.observe(Some(lag), 50))
            .collect();
        assert_eq!(
            warnings,
            [None, None, None, Some(3), None, None, Some(6)],
            "the first value has nothing to compare with"
        );
    }

    #[test]
    fn lag_that_falls_or_stays_small_does_not_warn() {
        let mut trend = LagTrend::default();
        for lag in [100, 200, 300, 250, 300, 400] {
            assert_eq!(trend.observe(Some(lag), 50), None, "lag {lag}");
        }
        let mut small = LagTrend::default();
        for lag in [1, 2, 3, 4, 5, 6, 7] {
            assert_eq!(
                small.observe(Some(lag), 50),
                None,
                "below one batch of input"
            );
        }
        let mut unknown = LagTrend::default();
        assert_eq!(unknown.observe(None, 0), None);
    }

    #[test]
    fn partitions_sum_known_lag_and_count_rules() {
        let mut registry = Registry::with_prefix("weibostream");
        let metrics = FilterMetrics::register(&mut registry, 5000);
        let offsets = BTreeMap::from([
            (
                0,
                PartitionOffsets {
                    high: Some(10),
                    position: Some(4),
                    ..PartitionOffsets::default()
                },
            ),
            (
                1,
                PartitionOffsets {
                    high: Some(7),
                    committed: Some(7),
                    ..PartitionOffsets::default()
                },
            ),
        ]);
        assert_eq!(metrics.partitions(&[0, 1], &offsets), Some(6));
        assert_eq!(metrics.partitions(&[0, 2], &offsets), None);
        metrics.rules(&["a".into(), "b".into()]);
        metrics.batch_posts(&[(3, 1), (4, 0)], 1, [("a", 1), ("b", 0)].into_iter());
        metrics.dead_lettered("invalid_json");
        metrics.batch_closed(0.25);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "weibostream_filter_posts_in_total{partition=\"3\"} 1",
            "weibostream_filter_posts_matched_total 1",
            "weibostream_filter_rule_matches_total{rule=\"a\"} 1",
            "weibostream_filter_rule_matches_total{rule=\"b\"} 0",
            "weibostream_filter_records_dead_lettered_total{reason=\"invalid_json\"} 1",
            "weibostream_filter_consumer_lag_records{partition=\"0\"} 6",
            "weibostream_filter_batch_interval_seconds 5.0",
            "weibostream_filter_batches_total 1",
            "weibostream_filter_batch_processing_seconds_count 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(!text.contains("consumer_lag_records{partition=\"1\"}"));
    }
}
