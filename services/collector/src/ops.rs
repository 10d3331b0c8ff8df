//! The collector's Prometheus metrics (served on `/metrics`): per-source
//! counters read from the sources' own [`SourceMetrics`] at scrape time, plus
//! publish errors, cursor saves and the producer's queue depth.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::metrics::{CollectorMetrics, ErrorKind};

type Labels = Vec<(String, String)>;

/// The collector's metric handles; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CollectorOps {
    /// Posts the broker did not acknowledge (after librdkafka's retries) or
    /// that could not be enqueued.
    pub publish_errors: Counter,
    cursor_saves: Family<Labels, Counter>,
    /// Records waiting in the producer's queue.
    pub producer_queue: Gauge,
}

impl CollectorOps {
    /// Creates the metrics over `sources` and registers them in `registry`
    /// (whose prefix should be `weibostream`).
    pub fn register(registry: &mut Registry, sources: CollectorMetrics) -> CollectorOps {
        let ops = CollectorOps::default();
        registry.register(
            "collector_publish_errors",
            "Posts not acknowledged by the broker or not enqueued",
            ops.publish_errors.clone(),
        );
        registry.register(
            "collector_cursor_saves",
            "Cursor files saved after the broker acknowledged the posts before them, by source",
            ops.cursor_saves.clone(),
        );
        registry.register(
            "collector_producer_queue_messages",
            "Posts waiting in the producer's queue (not yet acknowledged)",
            ops.producer_queue.clone(),
        );
        registry.register_collector(Box::new(SourceCounters(sources)));
        ops
    }

    /// A cursor of `source` was saved.
    pub fn cursor_saved(&self, source: &str) {
        self.cursor_saves
            .get_or_create(&vec![("source".to_string(), source.to_string())])
            .inc();
    }

    /// Sets the producer queue depth.
    pub fn queue(&self, messages: i32) {
        self.producer_queue.set(i64::from(messages));
    }
}

/// Encodes every source's counters at scrape time.
#[derive(Debug)]
struct SourceCounters(CollectorMetrics);

impl SourceCounters {
    fn counter(
        &self,
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        values: impl Iterator<Item = (Labels, u64)>,
    ) -> fmt::Result {
        let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (labels, value) in values {
            ConstCounter::new(value).encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

fn source(name: &str) -> Labels {
    vec![("source".to_string(), name.to_string())]
}

impl Collector for SourceCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let sources = self.0.sources();
        self.counter(
            &mut encoder,
            "collector_posts_published",
            "Posts the broker acknowledged, by source",
            sources.iter().map(|s| (source(s.name()), s.published())),
        )?;
        self.counter(
            &mut encoder,
            "collector_records_fetched",
            "Records received from a live service (posts or not), by source",
            sources.iter().map(|s| (source(s.name()), s.fetched())),
        )?;
        self.counter(
            &mut encoder,
            "collector_source_errors",
            "Errors of the sources, by source and kind (http_5xx, timeout, invalid_json, rate_limited...)",
            sources.iter().flat_map(|s| {
                ErrorKind::ALL.iter().map(|kind| {
                    let mut labels = source(s.name());
                    labels.push(("kind".to_string(), kind.name().to_string()));
                    (labels, s.errors(*kind))
                })
            }),
        )?;
        self.counter(
            &mut encoder,
            "collector_gaps_abandoned",
            "Timeline gaps (after a poll failed mid-walk) given up because the service no longer serves them, by source",
            sources.iter().map(|s| (source(s.name()), s.gaps_abandoned())),
        )?;
        self.counter(
            &mut encoder,
            "collector_gap_posts_lost_at_most",
            "The most posts the abandoned gaps may have held (one per post id between each gap's ends), by source",
            sources.iter().map(|s| (source(s.name()), s.lost_at_most())),
        )?;
        let mut metric = encoder.encode_descriptor(
            "collector_source_paused",
            "1 while a source is paused because the service refuses us (Weibo 418, 432, login required), by source",
            None,
            MetricType::Gauge,
        )?;
        for s in sources {
            let paused = i64::from(s.paused().is_some());
            ConstGauge::new(paused).encode(metric.encode_family(&source(s.name()))?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::metrics::SourceMetrics;

    #[test]
    fn source_counters_are_read_at_scrape_time() {
        let weibo = Arc::new(SourceMetrics::new("weibo"));
        let mut registry = Registry::with_prefix("weibostream");
        let ops = CollectorOps::register(&mut registry, CollectorMetrics::new(vec![weibo.clone()]));
        weibo.add_published(7);
        weibo.add_error(ErrorKind::RateLimited);
        weibo.add_gap_abandoned(25);
        weibo.set_paused(Some("paused until 2026-12-02T15:00:00Z: HTTP 418".into()));
        ops.cursor_saved("weibo");
        ops.queue(3);
        ops.publish_errors.inc();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "weibostream_collector_posts_published_total{source=\"weibo\"} 7",
            "weibostream_collector_source_errors_total{source=\"weibo\",kind=\"rate_limited\"} 1",
            "weibostream_collector_source_errors_total{source=\"weibo\",kind=\"timeout\"} 0",
            "weibostream_collector_cursor_saves_total{source=\"weibo\"} 1",
            "weibostream_collector_producer_queue_messages 3",
            "weibostream_collector_gaps_abandoned_total{source=\"weibo\"} 1",
            "weibostream_collector_gap_posts_lost_at_most_total{source=\"weibo\"} 25",
            "weibostream_collector_source_paused{source=\"weibo\"} 1",
            "weibostream_collector_publish_errors_total 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
