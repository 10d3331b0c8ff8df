//! The replica's run loop: consume, micro-batch on clock-aligned intervals,
//! publish matches and a report per batch, then commit (at-least-once).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use weibostream_shared::TopicRole;
use weibostream_shared::kafka;

use crate::FilterConfig;
use crate::batch::{OpenBatch, batch_end};
use crate::decode::decode_post;
use crate::output::{dead_letter_headers, matched_record};
use crate::rules::{MatchScratch, RuleSet};

const SERVICE: &str = "filter";

/// Logs every partition assignment change, so it is visible which replica
/// works on what.
struct FilterContext {
    replica: String,
}

impl ClientContext for FilterContext {}

impl ConsumerContext for FilterContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let list = |tpl: &TopicPartitionList| {
            tpl.elements()
                .iter()
                .map(|e| e.partition())
                .collect::<Vec<_>>()
        };
        match rebalance {
            Rebalance::Assign(tpl) => {
                tracing::info!(replica = %self.replica, partitions = ?list(tpl), "partitions assigned")
            }
            Rebalance::Revoke(tpl) => {
                tracing::info!(replica = %self.replica, partitions = ?list(tpl), "partitions revoked")
            }
            Rebalance::Error(error) => {
                tracing::warn!(replica = %self.replica, %error, "rebalance error")
            }
        }
    }
}

/// A filter replica, built and ready to run.
pub struct Filter {
    config: FilterConfig,
    rules: RuleSet,
    replica: String,
}

/// Why a filter could not be built (all are the user's to fix: exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A config key is invalid.
    #[error("invalid config: {0}")]
    Config(String),
    /// The rules file cannot be read or has an error.
    #[error("{0}")]
    Rules(#[from] crate::rules::RuleError),
}

impl Filter {
    /// Validates the config and compiles the rules; no network I/O.
    pub fn build(config: FilterConfig) -> Result<Filter, BuildError> {
        config.validate().map_err(BuildError::Config)?;
        let rules = RuleSet::load(&config.rules_path)?;
        let replica = config.effective_replica_id();
        Ok(Filter {
            config,
            rules,
            replica,
        })
    }

    /// This replica's id, as written in its reports.
    pub fn replica_id(&self) -> &str {
        &self.replica
    }

    /// Runs until `shutdown` is cancelled, then closes the open batch,
    /// commits and leaves the group, bounded by `shutdown_timeout_ms`.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let config = &self.config;
        kafka::wait_for_broker(&config.kafka, SERVICE).await?;
        let topics = &config.topics;
        let specs = topics.specs(&[
            TopicRole::Raw,
            TopicRole::Matched,
            TopicRole::Reports,
            TopicRole::DeadLetter,
        ]);
        kafka::ensure_topics(&config.kafka, SERVICE, &specs).await?;

        let context = FilterContext {
            replica: self.replica.clone(),
        };
        let consumer: StreamConsumer<FilterContext> = config
            .kafka
            .consumer_config(SERVICE, &config.group)
            .create_with_context(context)
            .context("creating the consumer")?;
        consumer.subscribe(&[&topics.raw]).context("subscribing")?;
        let producer: FutureProducer = config
            .kafka
            .producer_config(SERVICE)
            .create()
            .context("creating the producer")?;
        tracing::info!(replica = %self.replica, group = %config.group, topic = %topics.raw,
            rules = self.rules.len(), interval_ms = config.batch_interval_ms, "filter started");

        let mut worker = Worker::new(&self, &producer);
        let result = worker.run_batches(&consumer, &shutdown).await;
        consumer.unsubscribe();
        let _ = producer.flush(Duration::from_millis(config.shutdown_timeout_ms));
        tracing::info!(replica = %self.replica, "filter stopped");
        result
    }
}

/// State of the loop: reusable buffers and the producer.
struct Worker<'a> {
    filter: &'a Filter,
    producer: &'a FutureProducer,
    rule_ids: Vec<String>,
    scratch: MatchScratch,
    matched: Vec<usize>,
    out: Vec<u8>,
    deliveries: Vec<DeliveryFuture>,
    busy: Duration,
}

impl<'a> Worker<'a> {
    fn new(filter: &'a Filter, producer: &'a FutureProducer) -> Self {
        Worker {
            filter,
            producer,
            rule_ids: filter.rules.ids().map(str::to_string).collect(),
            scratch: filter.rules.scratch(),
            matched: Vec::new(),
            out: Vec::with_capacity(4096),
            deliveries: Vec::new(),
            busy: Duration::ZERO,
        }
    }

    async fn run_batches(
        &mut self,
        consumer: &StreamConsumer<FilterContext>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let interval_ms = self.filter.config.batch_interval_ms;
        loop {
            let now = Utc::now();
            let end = batch_end(now, interval_ms);
            let wait = (end - now).to_std().unwrap_or(Duration::ZERO);
            let deadline = tokio::time::Instant::now() + wait;
            let mut batch = OpenBatch::new(end, self.rules_len());
            let stopping = loop {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => break true,
                    _ = tokio::time::sleep_until(deadline) => break false,
                    message = consumer.recv() => match message {
                        Ok(message) => self.handle(&message, &mut batch).await?,
                        Err(error) => tracing::warn!(%error, "consumer error; retrying"),
                    },
                }
            };
            let limit = Duration::from_millis(self.filter.config.shutdown_timeout_ms);
            let close = self.close(consumer, batch, stopping);
            if stopping {
                match tokio::time::timeout(limit, close).await {
                    Ok(result) => result?,
                    Err(_) => tracing::warn!(
                        "open batch not acknowledged in time; its posts will be redelivered"
                    ),
                }
                return Ok(());
            }
            close.await?;
        }
    }

    fn rules_len(&self) -> usize {
        self.rule_ids.len()
    }

    async fn handle(
        &mut self,
        message: &BorrowedMessage<'_>,
        batch: &mut OpenBatch,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        let config = &self.filter.config;
        let (partition, offset) = (message.partition(), message.offset());
        batch.record_read(partition, offset);
        match decode_post(message.payload(), config.max_record_bytes) {
            Ok(post) => {
                self.filter
                    .rules
                    .match_text(&post.text, &mut self.scratch, &mut self.matched);
                batch.post_processed(&self.matched);
                if !self.matched.is_empty() {
                    let rules: Vec<&str> = self
                        .matched
                        .iter()
                        .map(|&i| self.rule_ids[i].as_str())
                        .collect();
                    let raw = message.payload().unwrap_or_default();
                    let time = batch.batch_time();
                    matched_record(
                        &time,
                        &self.filter.replica,
                        &rules,
                        partition,
                        offset,
                        raw,
                        &mut self.out,
                    );
                    let record = FutureRecord::to(&config.topics.matched)
                        .key(post.id.as_str())
                        .payload(&self.out);
                    self.deliveries
                        .push(kafka::enqueue(self.producer, record).await?);
                }
            }
            Err(rejected) => {
                tracing::warn!(partition, offset, reason = %rejected.reason, error = %rejected.detail,
                    "undecodable record sent to the dead-letter topic");
                batch.dead_lettered();
                let headers = dead_letter_headers(
                    &rejected,
                    message.topic(),
                    partition,
                    offset,
                    &self.filter.replica,
                );
                let mut record = FutureRecord::to(&config.topics.dlq).headers(headers);
                if let Some(payload) = message.payload() {
                    record = record.payload(payload);
                }
                if let Some(key) = message.key() {
                    record = record.key(key);
                }
                self.deliveries
                    .push(kafka::enqueue(self.producer, record).await?);
            }
        }
        self.busy += started.elapsed();
        Ok(())
    }

    /// Publishes the report after the batch's records are acknowledged, then
    /// commits what the batch read from partitions this replica still owns.
    async fn close(
        &mut self,
        consumer: &StreamConsumer<FilterContext>,
        batch: OpenBatch,
        final_batch: bool,
    ) -> anyhow::Result<()> {
        let closed = Instant::now();
        let config = &self.filter.config;
        kafka::await_deliveries(std::mem::take(&mut self.deliveries)).await?;
        let assignment = consumer.assignment().context("reading the assignment")?;
        let assigned: Vec<i32> = assignment
            .elements()
            .iter()
            .map(|e| e.partition())
            .collect();
        if assigned.is_empty() && batch.posts_in() == 0 && batch.next_offsets().is_empty() {
            self.busy = Duration::ZERO;
            return Ok(());
        }
        let next_offsets = batch.next_offsets();
        let processing = self.busy + closed.elapsed();
        let report = batch.into_report(
            &self.filter.replica,
            config.batch_interval_ms,
            self.rule_ids.iter().map(String::as_str),
            &assigned,
            processing.as_secs_f64() * 1000.0,
        );
        let payload = serde_json::to_vec(&report).context("encoding the batch report")?;
        let record = FutureRecord::to(&config.topics.reports)
            .key(self.filter.replica.as_str())
            .payload(&payload);
        kafka::await_deliveries(vec![kafka::enqueue(self.producer, record).await?]).await?;

        let mut commit = TopicPartitionList::new();
        for (partition, next) in next_offsets {
            if assigned.contains(&partition) {
                commit.add_partition_offset(&config.topics.raw, partition, Offset::Offset(next))?;
            }
        }
        if commit.count() > 0 {
            let mode = if final_batch {
                CommitMode::Sync
            } else {
                CommitMode::Async
            };
            if let Err(error) = consumer.commit(&commit, mode) {
                tracing::warn!(%error, "offset commit failed; the batch may be redelivered");
            }
        }
        let interval = Duration::from_millis(config.batch_interval_ms);
        if processing > interval {
            tracing::warn!(batch_time = %report.batch_time, processing_ms = report.processing_ms,
                interval_ms = config.batch_interval_ms, "batch processing took longer than the batch interval: input is faster than this replica");
        }
        tracing::debug!(batch_time = %report.batch_time, posts_in = report.posts_in,
            matched = report.matched_posts, partitions = ?assigned, "batch closed");
        self.busy = Duration::ZERO;
        Ok(())
    }
}
