//! The filter's consumer context: logs every partition assignment change,
//! keeps the client's statistics and the replica's readiness, and hands the
//! worker's gap guard where assigned partitions start.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, Statistics};
use weibostream_shared::http::Readiness;
use weibostream_shared::quirks::resume::{self, PendingStarts};
use weibostream_shared::stats::ClientStats;

/// Logs every partition assignment change, so it is visible which replica
/// works on what; keeps the client's statistics (watermarks, broker state)
/// and the replica's readiness.
pub(crate) struct FilterContext {
    replica: String,
    pub(crate) stats: ClientStats,
    readiness: Readiness,
    joined: AtomicBool,
    /// Where newly assigned partitions start (their committed offsets) and
    /// which were revoked, for the worker's gap guard; `None` without
    /// `kafka.local_broker_quirks` (no guard, no look-up).
    pub(crate) starts: Option<Arc<PendingStarts>>,
}

impl FilterContext {
    /// The context of replica `replica`'s consumer of `topic`; `starts`
    /// with `kafka.local_broker_quirks` only.
    pub(crate) fn new(
        replica: String,
        topic: &str,
        readiness: Readiness,
        starts: Option<Arc<PendingStarts>>,
    ) -> Self {
        FilterContext {
            replica,
            stats: ClientStats::new(topic),
            readiness,
            joined: AtomicBool::new(false),
            starts,
        }
    }

    /// Whether the group has given this replica a share (possibly empty).
    pub(crate) fn has_joined(&self) -> bool {
        self.joined.load(Ordering::Acquire)
    }

    /// Ready once the group gave this replica its (possibly empty) share and
    /// a broker connection is up.
    fn refresh_readiness(&self) {
        let joined = self.joined.load(Ordering::Acquire);
        match self.stats.broker_up() {
            Some(false) => self
                .readiness
                .not_ready("broker unreachable: no broker connection is up"),
            _ if joined => self.readiness.ready(),
            _ => {}
        }
    }
}

impl ClientContext for FilterContext {
    fn stats(&self, statistics: Statistics) {
        self.stats.update(&statistics);
        self.refresh_readiness();
    }
}

impl ConsumerContext for FilterContext {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let list = |tpl: &TopicPartitionList| {
            tpl.elements()
                .iter()
                .map(|e| e.partition())
                .collect::<Vec<_>>()
        };
        match rebalance {
            Rebalance::Assign(tpl) => {
                if let Some(starts) = &self.starts {
                    starts.push(resume::committed_starts(consumer, tpl));
                }
                tracing::info!(replica = %self.replica, partitions = ?list(tpl), "partitions assigned");
                self.joined.store(true, Ordering::Release);
                self.refresh_readiness();
            }
            Rebalance::Revoke(tpl) => {
                if let Some(starts) = &self.starts {
                    starts.push(resume::forgotten(tpl));
                }
                tracing::info!(replica = %self.replica, partitions = ?list(tpl), "partitions revoked")
            }
            Rebalance::Error(error) => {
                tracing::warn!(replica = %self.replica, %error, "rebalance error")
            }
        }
    }
}
