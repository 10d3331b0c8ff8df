//! What librdkafka's statistics (`statistics.interval.ms`) tell the
//! services: whether a broker connection is up, and per partition the high
//! watermark seen in fetch responses, the committed offset and the read
//! position. Lag is computed from these, not from a ListOffsets request:
//! Tansu answers ListOffsets "latest" wrongly (see `docs/broker.md` of the
//! shared docs), while the watermark carried by Fetch responses is right on
//! every broker.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rdkafka::{ClientContext, Statistics};

use crate::http::Readiness;

/// How often clients that feed [`ClientStats`] emit statistics.
pub const STATS_INTERVAL_MS: u64 = 1000;

/// Offsets of one partition as the client last saw them; `None` when unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionOffsets {
    /// High watermark (the offset after the last record), from fetch responses.
    pub high: Option<i64>,
    /// Low watermark (the first offset still stored).
    pub low: Option<i64>,
    /// The group's committed offset.
    pub committed: Option<i64>,
    /// The consumer's position: the offset after the last record handed to
    /// the application.
    pub position: Option<i64>,
    /// Records fetched and not yet handed to the application (librdkafka
    /// counts its whole consumer queue here when partitions share it).
    pub queued: i64,
}

impl PartitionOffsets {
    /// Records behind the high watermark, counted from the furthest of the
    /// committed offset and the position (from the low watermark, or 0, when
    /// neither is known); `None` when no high watermark was seen yet.
    pub fn lag(&self) -> Option<u64> {
        let high = self.high?;
        let from = match (self.committed, self.position) {
            (Some(c), Some(p)) => c.max(p),
            (Some(o), None) | (None, Some(o)) => o,
            (None, None) => self.low.unwrap_or(0),
        };
        Some(u64::try_from(high - from).unwrap_or(0))
    }
}

fn known(offset: i64) -> Option<i64> {
    (offset >= 0).then_some(offset)
}

/// The offsets of every partition of `topic` in one statistics snapshot.
pub fn partition_offsets(stats: &Statistics, topic: &str) -> BTreeMap<i32, PartitionOffsets> {
    let Some(topic) = stats.topics.get(topic) else {
        return BTreeMap::new();
    };
    topic
        .partitions
        .values()
        // Partition -1 is librdkafka's internal "unassigned" queue.
        .filter(|p| p.partition >= 0)
        .map(|p| {
            (
                p.partition,
                PartitionOffsets {
                    high: known(p.hi_offset),
                    low: known(p.lo_offset),
                    committed: known(p.committed_offset),
                    position: known(p.app_offset),
                    queued: p.fetchq_cnt,
                },
            )
        })
        .collect()
}

/// Whether at least one real broker connection is up (librdkafka's
/// internal pseudo-broker does not count).
pub fn broker_up(stats: &Statistics) -> bool {
    stats
        .brokers
        .values()
        .any(|b| b.source != "internal" && b.state == "UP")
}

/// A client context that keeps a service's readiness in step with its
/// broker connections: not ready while none is up, ready again when one is.
/// Add `statistics.interval.ms` ([`STATS_INTERVAL_MS`]) to the client's config.
#[derive(Clone)]
pub struct BrokerReadiness {
    /// The readiness it sets.
    pub readiness: Readiness,
}

impl BrokerReadiness {
    /// Updates the readiness from one statistics snapshot.
    pub fn observe(&self, stats: &Statistics) {
        if broker_up(stats) {
            self.readiness.ready();
        } else {
            self.readiness
                .not_ready("broker unreachable: no broker connection is up");
        }
    }
}

impl ClientContext for BrokerReadiness {
    fn stats(&self, statistics: Statistics) {
        self.observe(&statistics);
    }
}

#[derive(Debug, Default)]
struct Latest {
    received: bool,
    broker_up: bool,
    partitions: BTreeMap<i32, PartitionOffsets>,
}

/// The latest statistics of one client, for one topic; written by the
/// client's context, read by the service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ClientStats {
    topic: String,
    latest: Arc<Mutex<Latest>>,
}

impl ClientStats {
    /// Keeps the offsets of `topic`'s partitions.
    pub fn new(topic: &str) -> ClientStats {
        ClientStats {
            topic: topic.to_string(),
            latest: Arc::default(),
        }
    }

    /// Takes in a statistics snapshot (call from `ClientContext::stats`).
    pub fn update(&self, stats: &Statistics) {
        let partitions = partition_offsets(stats, &self.topic);
        let up = broker_up(stats);
        if let Ok(mut latest) = self.latest.lock() {
            latest.received = true;
            latest.broker_up = up;
            // A snapshot may omit partitions not fetched; keep what was seen.
            latest.partitions.extend(partitions);
        }
    }

    /// Whether a broker connection was up in the last snapshot; `None`
    /// before the first snapshot.
    pub fn broker_up(&self) -> Option<bool> {
        let latest = self.latest.lock().ok()?;
        latest.received.then_some(latest.broker_up)
    }

    /// `(topic, partition, high watermark)` of every partition whose
    /// fetched records the client has all handed over: what
    /// [`Resumer::check_stalls`](crate::quirks::resume::Resumer::check_stalls) takes.
    pub fn drained_ends(&self) -> Vec<(String, i32, i64)> {
        self.partitions()
            .into_iter()
            .filter(|(_, offsets)| offsets.queued == 0)
            .filter_map(|(partition, offsets)| Some((self.topic.clone(), partition, offsets.high?)))
            .collect()
    }

    /// The latest offsets of every partition seen.
    pub fn partitions(&self) -> BTreeMap<i32, PartitionOffsets> {
        self.latest
            .lock()
            .map(|l| l.partitions.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_from_the_furthest_known_offset() {
        let offsets = PartitionOffsets {
            high: Some(100),
            low: Some(10),
            committed: Some(60),
            position: Some(80),
            queued: 0,
        };
        assert_eq!(offsets.lag(), Some(20));
        let fresh = PartitionOffsets {
            committed: None,
            position: None,
            ..offsets
        };
        assert_eq!(fresh.lag(), Some(90));
        let ahead = PartitionOffsets {
            position: Some(120),
            ..offsets
        };
        assert_eq!(ahead.lag(), Some(0), "a stale watermark clamps at 0");
        let unknown = PartitionOffsets {
            high: None,
            ..offsets
        };
        assert_eq!(unknown.lag(), None);
    }

    #[test]
    fn no_snapshot_means_unknown() {
        let client = ClientStats::new("posts.raw");
        assert_eq!(client.broker_up(), None);
        assert!(client.partitions().is_empty());
    }
}
