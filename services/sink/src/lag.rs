//! The sink's own consumer lag per partition, from librdkafka's statistics
//! (fetched high watermarks against committed offsets and position; see
//! `weibostream_shared::stats`), exported as a metric.

use rdkafka::TopicPartitionList;
use rdkafka::config::ClientConfig;
use weibostream_shared::stats::{ClientStats, STATS_INTERVAL_MS};

use crate::metrics::{PartitionLabels, SinkMetrics};

/// The latest statistics of the sink's consumer, per topic it reads.
#[derive(Clone)]
pub struct ConsumerLag {
    topics: Vec<(String, ClientStats)>,
}

impl ConsumerLag {
    /// Keeps statistics for these topics.
    pub fn new(topics: &[&str]) -> ConsumerLag {
        ConsumerLag {
            topics: topics
                .iter()
                .map(|t| (t.to_string(), ClientStats::new(t)))
                .collect(),
        }
    }

    /// Turns statistics on in a consumer config, unless the passthrough set them.
    pub fn enable(config: &mut ClientConfig) {
        if config.get("statistics.interval.ms").is_none() {
            config.set("statistics.interval.ms", STATS_INTERVAL_MS.to_string());
        }
    }

    /// Takes in a statistics snapshot (from the consumer's context).
    pub fn update(&self, stats: &rdkafka::Statistics) {
        for (_, topic) in &self.topics {
            topic.update(stats);
        }
    }

    /// [`ClientStats::drained_ends`] of every topic the sink reads.
    pub fn ends(&self) -> Vec<(String, i32, i64)> {
        self.topics
            .iter()
            .flat_map(|(_, stats)| stats.drained_ends())
            .collect()
    }

    /// Sets the lag gauge of every partition in `assignment` whose lag is
    /// known, and drops the gauges of partitions no longer owned.
    pub fn export(&self, assignment: &TopicPartitionList, metrics: &SinkMetrics) {
        metrics.consumer_lag_records.clear();
        let offsets: Vec<_> = self
            .topics
            .iter()
            .map(|(topic, stats)| (topic, stats.partitions()))
            .collect();
        for element in assignment.elements() {
            let lag = offsets
                .iter()
                .find(|(topic, _)| topic.as_str() == element.topic())
                .and_then(|(_, partitions)| partitions.get(&element.partition()))
                .and_then(|offsets| offsets.lag());
            if let Some(lag) = lag {
                metrics
                    .consumer_lag_records
                    .get_or_create(&PartitionLabels {
                        topic: element.topic().to_string(),
                        partition: element.partition(),
                    })
                    .set(i64::try_from(lag).unwrap_or(i64::MAX));
            }
        }
    }
}
