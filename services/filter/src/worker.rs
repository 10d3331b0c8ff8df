//! The replica's run loop: consume, micro-batch on clock-aligned intervals,
//! publish matches and a report per batch, then commit (at-least-once).
//! Between batches it swaps in reloaded rules.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::{FutureExt as _, StreamExt as _};
use rdkafka::consumer::{Consumer, MessageStream, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseRecord, Producer};
use std::sync::Arc;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use weibostream_shared::quirks::resume::{GroupResumer, PendingStarts};
use weibostream_shared::quirks::{self, JoinWatch};

use crate::FilterConfig;
use crate::acks::{self, AckProducer, BatchAcks};
use crate::batch::{OpenBatch, batch_end};
use crate::classify::Classifier;
use crate::closing::{CloseTargets, ClosedBatch, ClosingBatch};
use crate::context::FilterContext;
use crate::metrics::{FilterMetrics, LagTrend};
use crate::output::dead_letter_headers;
use crate::reload::{ActiveRules, ReloadHandle, RulesWatcher};
use crate::step::{Outcome, PostStep};

/// Records handled per trip through the run loop at most, so a full
/// consumer queue cannot hold off the batch deadline, a reload or shutdown
/// for long (a few milliseconds of work).
const DRAIN_MAX: usize = 512;

/// What the loop runs with, taken from the built [`Filter`](crate::Filter).
pub(crate) struct Replica {
    pub config: FilterConfig,
    /// The rules in force and the per-record step that applies them.
    pub step: PostStep,
    pub watcher: RulesWatcher,
    pub classifier: Option<Arc<Classifier>>,
    /// The replica's name in logs.
    pub name: String,
    pub reload: ReloadHandle,
}

/// State of the loop: the replica, reusable buffers and the producer.
pub(crate) struct Worker<'a> {
    replica: Replica,
    producer: &'a AckProducer,
    rule_ids: Vec<String>,
    /// Reloaded rules waiting for the next batch boundary.
    staged: Option<ActiveRules>,
    /// Acknowledgements of the open batch's records.
    acks: Arc<BatchAcks>,
    busy: Duration,
    metrics: FilterMetrics,
    lag_trend: LagTrend,
    /// The local broker's workarounds (`kafka.local_broker_quirks`), `None`
    /// when off.
    quirks: Option<Quirks>,
}

/// What the filter does about the local broker's faults (see
/// `weibostream_shared::quirks`).
struct Quirks {
    /// Gets back records of `posts.raw` the broker skipped.
    guard: GroupResumer,
    /// Subscribes again when the group never answers the join.
    join: JoinWatch,
}

impl<'a> Worker<'a> {
    pub(crate) fn new(
        replica: Replica,
        producer: &'a AckProducer,
        metrics: FilterMetrics,
        starts: Option<Arc<PendingStarts>>,
    ) -> Self {
        Worker {
            rule_ids: replica
                .step
                .rules()
                .rules
                .ids()
                .map(str::to_string)
                .collect(),
            replica,
            producer,
            staged: None,
            acks: BatchAcks::new(),
            busy: Duration::ZERO,
            metrics: metrics.clone(),
            lag_trend: LagTrend::default(),
            quirks: starts.map(|starts| Quirks {
                guard: GroupResumer::new(metrics.resumer(), starts),
                join: JoinWatch::new(),
            }),
        }
    }

    pub(crate) async fn run_batches(
        &mut self,
        consumer: &StreamConsumer<FilterContext>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let interval_ms = self.replica.config.batch_interval_ms;
        let poll_ms = self.replica.config.rules_poll_ms;
        let mut poll = tokio::time::interval(Duration::from_millis(poll_ms.max(1)));
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let reload = self.replica.reload.clone();
        let mut stream = consumer.stream();
        let checks_stalls = self.quirks.is_some();
        let mut stalls = tokio::time::interval(quirks::STALL_CHECK);
        stalls.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The previous batch's close, still waiting for the broker.
        let mut closing: Option<
            Pin<Box<dyn Future<Output = anyhow::Result<ClosedBatch>> + Send + '_>>,
        > = None;
        loop {
            self.install_staged_rules();
            let now = Utc::now();
            let end = batch_end(now, interval_ms);
            let wait = (end - now).to_std().unwrap_or(Duration::ZERO);
            let deadline = tokio::time::Instant::now() + wait;
            let mut batch = OpenBatch::new(end, self.rule_ids.len());
            self.replica.step.start_batch(&end, &self.replica.name);
            let batch_over = tokio::time::sleep_until(deadline);
            tokio::pin!(batch_over);
            let stopping = loop {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => break true,
                    _ = &mut batch_over => break false,
                    closed = async {
                        match closing.as_mut() {
                            Some(close) => close.await,
                            None => std::future::pending().await,
                        }
                    }, if closing.is_some() => {
                        closing = None;
                        self.after_close(&closed?);
                    }
                    _ = reload.requested() => self.check_rules(true),
                    _ = stalls.tick(), if checks_stalls => self.check_stalls(consumer),
                    _ = poll.tick(), if poll_ms > 0 => {
                        self.metrics.producer_queue(self.producer.in_flight_count());
                        self.check_rules(false);
                    }
                    message = stream.next() => {
                        let started = Instant::now();
                        match message {
                            Some(Ok(message)) => self.handle(consumer, &message, &mut batch).await?,
                            Some(Err(error)) => tracing::warn!(%error, "consumer error; retrying"),
                            None => anyhow::bail!("the consumer's message stream ended"),
                        }
                        self.drain(consumer, &mut stream, &mut batch).await?;
                        self.busy += started.elapsed();
                    }
                }
            };
            let limit = Duration::from_millis(self.replica.config.shutdown_timeout_ms);
            if stopping {
                let previous = closing.take();
                let last = self.end_batch(consumer, batch, true);
                let close_all = async {
                    if let Some(previous) = previous {
                        self.after_close(&previous.await?);
                    }
                    if let Some(last) = last {
                        self.after_close(&last.finish(self.close_targets(consumer)).await?);
                    }
                    anyhow::Ok(())
                };
                match tokio::time::timeout(limit, close_all).await {
                    Ok(result) => result?,
                    Err(_) => tracing::warn!(
                        "open batch not acknowledged in time; its posts will be redelivered"
                    ),
                }
                return Ok(());
            }
            // Closes finish in batch order: a report never overtakes the
            // report (and commit) of an earlier batch.
            if let Some(previous) = closing.take() {
                self.after_close(&previous.await?);
            }
            if let Some(ending) = self.end_batch(consumer, batch, false) {
                closing = Some(Box::pin(ending.finish(self.close_targets(consumer))));
            }
        }
    }

    /// Re-reads the rules file if it changed (or if `forced`) and stages
    /// the new rules; a bad file is logged and the current rules stay.
    fn check_rules(&mut self, forced: bool) {
        let path = self.replica.watcher.path().display().to_string();
        match self.replica.watcher.check(forced) {
            Ok(None) => {
                if forced {
                    tracing::info!(path = %path, "reload requested; rules file unchanged");
                }
            }
            Ok(Some(text)) => {
                let classifier = self.replica.classifier.as_deref();
                let options = self.replica.config.match_options();
                match ActiveRules::compile_with(&text, &path, classifier, options) {
                    Ok(active) => {
                        tracing::info!(path = %path, rules = active.rules.len(),
                            "rules file changed; new rules apply from the next batch");
                        self.staged = Some(active);
                    }
                    Err(error) => {
                        tracing::error!(path = %path, error = %error,
                            "rules file is invalid; keeping the current rules");
                        self.staged = None;
                    }
                }
            }
            Err(error) => tracing::warn!(path = %path, %error,
                "cannot read the rules file; keeping the current rules"),
        }
    }

    fn install_staged_rules(&mut self) {
        if let Some(active) = self.staged.take() {
            self.rule_ids = active.rules.ids().map(str::to_string).collect();
            self.replica.step.set_rules(active);
            self.metrics.rules(&self.rule_ids);
            tracing::info!(replica = %self.replica.name, rules = ?self.rule_ids, "rules reloaded");
        }
    }

    /// Handles the records the consumer already holds, up to [`DRAIN_MAX`],
    /// without a trip through the run loop's `select!` per record (it
    /// polls five futures and cost more than matching a post).
    async fn drain(
        &mut self,
        consumer: &StreamConsumer<FilterContext>,
        stream: &mut MessageStream<'_, FilterContext>,
        batch: &mut OpenBatch,
    ) -> anyhow::Result<()> {
        for _ in 0..DRAIN_MAX {
            // Polled with a no-op waker: when this finds nothing, the run
            // loop polls the stream again with its own waker before it waits.
            match stream.next().now_or_never() {
                Some(Some(Ok(message))) => self.handle(consumer, &message, batch).await?,
                Some(Some(Err(error))) => {
                    tracing::warn!(%error, "consumer error; retrying");
                    break;
                }
                Some(None) | None => break,
            }
        }
        Ok(())
    }

    async fn handle(
        &mut self,
        consumer: &StreamConsumer<FilterContext>,
        message: &BorrowedMessage<'_>,
        batch: &mut OpenBatch,
    ) -> anyhow::Result<()> {
        let (partition, offset) = (message.partition(), message.offset());
        if let Some(quirks) = &mut self.quirks
            && !quirks
                .guard
                .admit(consumer, message.topic(), partition, offset)
        {
            return Ok(());
        }
        let config = &self.replica.config;
        batch.record_read(partition, offset);
        match self
            .replica
            .step
            .process(message.payload(), partition, offset)
        {
            Outcome::Unmatched => batch.post_processed(&[]),
            Outcome::Matched { rules, key, record } => {
                batch.post_processed(rules);
                let record = BaseRecord::with_opaque_to(&config.topics.matched, self.acks.clone())
                    .key(&*key)
                    .payload(record);
                acks::send(self.producer, record).await?;
            }
            Outcome::Rejected(rejected) => {
                tracing::warn!(partition, offset, reason = %rejected.reason, error = %rejected.detail,
                    "undecodable record sent to the dead-letter topic");
                batch.dead_lettered();
                self.metrics.dead_lettered(rejected.reason.as_str());
                let headers = dead_letter_headers(
                    &rejected,
                    message.topic(),
                    partition,
                    offset,
                    &self.replica.name,
                );
                let mut record = BaseRecord::with_opaque_to(&config.topics.dlq, self.acks.clone())
                    .headers(headers);
                if let Some(payload) = message.payload() {
                    record = record.payload(payload);
                }
                if let Some(key) = message.key() {
                    record = record.key(key);
                }
                acks::send(self.producer, record).await?;
            }
        }
        Ok(())
    }

    /// Seeks back partitions of `posts.raw` that went silent although the
    /// broker holds records this replica did not get.
    fn check_stalls(&mut self, consumer: &StreamConsumer<FilterContext>) {
        if let Some(quirks) = &mut self.quirks {
            let ends = consumer.context().stats.drained_ends();
            quirks.guard.check_stalls(consumer, ends);
        }
    }

    /// Ends `batch`: counts it in the metrics and builds its report (lag
    /// and trending terms included) and what its close needs. `None` for an
    /// empty batch of a replica without partitions: there is nothing to
    /// report, and a replica that never joined its group subscribes again.
    fn end_batch(
        &mut self,
        consumer: &StreamConsumer<FilterContext>,
        batch: OpenBatch,
        final_batch: bool,
    ) -> Option<ClosingBatch> {
        let ended = Instant::now();
        let config = &self.replica.config;
        let assigned: Vec<i32> = match consumer.assignment() {
            Ok(assignment) => assignment
                .elements()
                .iter()
                .map(|e| e.partition())
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "cannot read the assignment; the report lists only the partitions read");
                Vec::new()
            }
        };
        let trending = self.replica.step.close_batch();
        self.metrics.producer_queue(self.producer.in_flight_count());
        if assigned.is_empty() && batch.posts_in() == 0 && batch.next_offsets().is_empty() {
            self.rejoin_if_never_joined(consumer);
            self.metrics.partitions(&assigned, &Default::default());
            self.busy = Duration::ZERO;
            return None;
        }
        self.metrics.batch_posts(
            &batch.posts_per_partition(),
            batch.matched_posts(),
            self.rule_ids
                .iter()
                .map(String::as_str)
                .zip(batch.matches_per_rule().iter().copied()),
        );
        let records_read = batch.records_read();
        let next_offsets = batch.next_offsets();
        let mut report = batch.into_report(
            &self.replica.name,
            config.batch_interval_ms,
            self.rule_ids.iter().map(String::as_str),
            &assigned,
            0.0,
        );
        if let Some(trending) = trending {
            report.top_terms = trending.overall;
            report.top_terms_per_rule = trending
                .per_rule
                .into_iter()
                .filter_map(|(rule, terms)| self.rule_ids.get(rule).map(|id| (id.clone(), terms)))
                .collect();
        }
        report.lag = self.lag_at_close(consumer, &assigned, &next_offsets);
        let busy = std::mem::take(&mut self.busy);
        Some(ClosingBatch {
            report,
            acks: std::mem::replace(&mut self.acks, BatchAcks::new()),
            next_offsets,
            records_read,
            busy,
            ended,
            final_batch,
        })
    }

    fn close_targets<'c>(&self, consumer: &'c StreamConsumer<FilterContext>) -> CloseTargets<'c>
    where
        'a: 'c,
    {
        let topics = &self.replica.config.topics;
        CloseTargets {
            consumer,
            producer: self.producer,
            reports_topic: topics.reports.clone(),
            raw_topic: topics.raw.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// Warnings and the debug log of a batch whose close finished.
    fn after_close(&mut self, closed: &ClosedBatch) {
        let report = &closed.report;
        let interval_ms = self.replica.config.batch_interval_ms;
        let processing_ms = closed.processing.as_secs_f64() * 1000.0;
        let partitions: Vec<i32> = report.covered_partitions().collect();
        if closed.processing > Duration::from_millis(interval_ms) {
            tracing::warn!(replica = %self.replica.name, batch_time = %report.batch_time,
                processing_ms, interval_ms,
                "batch processing took longer than the batch interval: the input is faster than this replica can process it; add replicas (up to the partition count) or lengthen the interval");
        }
        if let Some(batches) = self.lag_trend.observe(report.lag, closed.records_read) {
            tracing::warn!(replica = %self.replica.name, batch_time = %report.batch_time,
                lag = report.lag, batches, partitions = ?partitions,
                "consumer lag has grown {batches} batches in a row: the input is faster than this replica processes it, so it falls further behind; add replicas (up to the partition count)");
        }
        tracing::debug!(batch_time = %report.batch_time, posts_in = report.posts_in,
            matched = report.matched_posts, partitions = ?partitions,
            committed_after_ms = (Utc::now() - report.batch_time).num_milliseconds(),
            "batch closed");
    }

    /// Re-subscribes, with a warning, when the group has not given this
    /// replica its share (not even an empty one) a while after it
    /// subscribed: it reads nothing meanwhile (a local broker's fault, see
    /// `weibostream_shared::quirks`). A fresh subscription starts the join
    /// over (it holds no partitions, so nothing is lost).
    fn rejoin_if_never_joined(&mut self, consumer: &StreamConsumer<FilterContext>) {
        let Some(quirks) = &mut self.quirks else {
            return;
        };
        let Some(waited) = quirks.join.resubscribe_due(consumer.context().has_joined()) else {
            return;
        };
        let topic = self.replica.config.topics.raw.as_str();
        tracing::warn!(replica = %self.replica.name, group = %self.replica.config.group,
            waited_s = waited.as_secs(),
            "this replica has not joined its consumer group, so it reads nothing; subscribing again (FILTER__KAFKA__LIBRDKAFKA__DEBUG=cgrp shows the join)");
        consumer.unsubscribe();
        if let Err(error) = consumer.subscribe(&[topic]) {
            tracing::error!(%error, "cannot subscribe again");
        }
    }

    /// The total lag of the assigned partitions now: high watermarks from
    /// the consumer's latest statistics, counted from what this batch read
    /// (about to be committed) or the committed offset / position; the
    /// per-partition gauges are updated too.
    fn lag_at_close(
        &self,
        consumer: &StreamConsumer<FilterContext>,
        assigned: &[i32],
        next_offsets: &[(i32, i64)],
    ) -> Option<u64> {
        let mut offsets = consumer.context().stats.partitions();
        for (partition, next) in next_offsets {
            if let Some(o) = offsets.get_mut(partition) {
                o.position = Some(o.position.map_or(*next, |p| p.max(*next)));
            }
        }
        self.metrics.partitions(assigned, &offsets)
    }
}
