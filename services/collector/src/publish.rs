//! Publishing posts to `posts.raw`: idempotent, compressed, keyed by author
//! id, with delivery outcomes counted by the producer's callback.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Statistics};
use weibostream_shared::Post;
use weibostream_shared::kafka::KafkaSettings;
use weibostream_shared::stats::{BrokerReadiness, STATS_INTERVAL_MS};

use crate::metrics::SourceMetrics;
use crate::ops::CollectorOps;

/// Delivery counters shared with the producer's callback thread.
#[derive(Debug, Default)]
pub struct DeliveryCounts {
    /// Posts the broker acknowledged.
    pub acked: AtomicU64,
    /// Posts that could not be delivered (after librdkafka's retries).
    pub failed: AtomicU64,
}

/// Producer context counting deliveries (also in the source's metrics and
/// the publish-error counter) and following the broker connection state.
pub struct CountingContext {
    counts: Arc<DeliveryCounts>,
    source: Arc<SourceMetrics>,
    ops: CollectorOps,
    broker: BrokerReadiness,
}

impl ClientContext for CountingContext {
    fn stats(&self, statistics: Statistics) {
        self.broker.observe(&statistics);
    }
}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        match result {
            Ok(_) => {
                self.counts.acked.fetch_add(1, Ordering::Relaxed);
                self.source.add_published(1);
            }
            Err((error, _)) => {
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
                self.ops.publish_errors.inc();
                tracing::error!(%error, "post not delivered to the broker");
            }
        }
    }
}

/// Publishes posts to one topic.
pub struct Publisher {
    producer: ThreadedProducer<CountingContext>,
    topic: String,
    counts: Arc<DeliveryCounts>,
    buffer: Vec<u8>,
    sent: u64,
    ops: CollectorOps,
}

impl Publisher {
    /// Creates the producer (no I/O until the first send); acknowledged
    /// posts count as published by `source`, the broker connection state
    /// drives `broker`'s readiness.
    pub fn new(
        settings: &KafkaSettings,
        topic: &str,
        source: Arc<SourceMetrics>,
        ops: CollectorOps,
        broker: BrokerReadiness,
    ) -> anyhow::Result<Self> {
        let counts = Arc::new(DeliveryCounts::default());
        let producer = settings
            .producer_config("collector")
            .set("statistics.interval.ms", STATS_INTERVAL_MS.to_string())
            .create_with_context(CountingContext {
                counts: counts.clone(),
                source,
                ops: ops.clone(),
                broker,
            })
            .context("creating the producer")?;
        Ok(Publisher {
            producer,
            topic: topic.to_string(),
            counts,
            buffer: Vec::with_capacity(1024),
            sent: 0,
            ops,
        })
    }

    /// Enqueues a post, waiting while the local queue is full.
    pub async fn publish(&mut self, post: &Post) -> anyhow::Result<()> {
        self.buffer.clear();
        serde_json::to_writer(&mut self.buffer, post).context("encoding a post")?;
        loop {
            let record = BaseRecord::to(&self.topic)
                .key(post.author.id.as_str())
                .payload(&self.buffer);
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((error, _)) => {
                    self.ops.publish_errors.inc();
                    bail!("cannot enqueue a post: {error}")
                }
            }
        }
        self.sent += 1;
        if self.sent.is_multiple_of(256) {
            self.ops.queue(self.in_flight());
        }
        Ok(())
    }

    /// Posts enqueued so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Posts enqueued but not yet acknowledged or failed.
    pub fn in_flight(&self) -> i32 {
        let in_flight = self.producer.in_flight_count();
        self.ops.queue(in_flight);
        in_flight
    }

    /// Posts acknowledged so far.
    pub fn acked(&self) -> u64 {
        self.counts.acked.load(Ordering::Relaxed)
    }

    /// Waits up to `timeout` for every enqueued post to be acknowledged;
    /// errors if any was not.
    pub fn finish(&self, timeout: Duration) -> anyhow::Result<u64> {
        if let Err(error) = self.producer.flush(timeout) {
            bail!(
                "{} post(s) unacknowledged after {} ms: {error}",
                self.producer.in_flight_count(),
                timeout.as_millis()
            );
        }
        self.ops.queue(self.producer.in_flight_count());
        let failed = self.counts.failed.load(Ordering::Relaxed);
        if failed > 0 {
            bail!("{failed} post(s) could not be delivered");
        }
        Ok(self.acked())
    }
}
