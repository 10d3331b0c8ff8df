//! The sink's run loop: read matches and reports, merge them into blocks,
//! output each block, then commit what it accounted for.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use weibostream_shared::kafka;
use weibostream_shared::{BatchReport, MatchedPost, TopicRole};

use crate::SinkConfig;
use crate::dedupe::Dedupe;
use crate::jsonl::JsonLinesOutput;
use crate::merge::Merger;
use crate::offsets::{OffsetTracker, Receipt};
use crate::outputs::Outputs;
use crate::store::{PostgresStore, SqliteStore, Store};

const SERVICE: &str = "sink";
const TICK: Duration = Duration::from_millis(100);
const METADATA_REFRESH: Duration = Duration::from_secs(30);

/// The sink, built and ready to run.
pub struct Sink {
    config: SinkConfig,
}

impl Sink {
    /// Validates the config; no I/O.
    pub fn build(config: SinkConfig) -> Result<Sink, String> {
        config.validate()?;
        Ok(Sink { config })
    }

    /// Runs until `shutdown` is cancelled; then outputs what is complete,
    /// commits and leaves the group.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let config = &self.config;
        let topics = &config.topics;
        let mut seen = Dedupe::new(config.dedupe_capacity);
        let jsonl = match &config.jsonl_path {
            Some(path) => Some(JsonLinesOutput::open(path, &mut seen)?),
            None => None,
        };
        let store = match (&config.sqlite_path, &config.postgres_url) {
            (Some(path), _) => Some(Store::Sqlite(SqliteStore::open(path)?)),
            (None, Some(url)) => Some(Store::Postgres(PostgresStore::open(url.expose()).await?)),
            (None, None) => None,
        };
        kafka::wait_for_broker(&config.kafka, SERVICE).await?;
        let specs = topics.specs(&[TopicRole::Raw, TopicRole::Matched, TopicRole::Reports]);
        kafka::ensure_topics(&config.kafka, SERVICE, &specs).await?;
        let mut partition_count =
            kafka::partition_count(&config.kafka, SERVICE, &topics.raw).await?;
        let consumer: StreamConsumer<SinkContext> = config
            .kafka
            .consumer_config(SERVICE, &config.group)
            .create_with_context(SinkContext)
            .context("creating the consumer")?;
        consumer
            .subscribe(&[&topics.matched, &topics.reports])
            .context("subscribing")?;
        tracing::info!(group = %config.group, partitions = partition_count, "sink started");

        let mut merger = Merger::new(
            partition_count,
            Duration::from_millis(config.grace_ms),
            seen,
        );
        let mut tracker = OffsetTracker::default();
        let mut outputs = Outputs::new(config, jsonl, store);
        let mut backlog = VecDeque::new();
        let mut retry = Retry::new(config.store_retry_initial_ms, config.store_retry_max_ms);
        let mut tick = tokio::time::interval(TICK);
        let mut last_refresh = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
                message = consumer.recv() => match message {
                    Ok(message) => accept(config, &message, &mut merger, &mut tracker),
                    Err(error) => tracing::warn!(%error, "consumer error; retrying"),
                },
            }
            backlog.extend(merger.ready(Utc::now()));
            if !backlog.is_empty() && retry.due() {
                match outputs.drain(&mut backlog, &mut tracker).await {
                    Ok(()) => {
                        if retry.succeeded() {
                            tracing::info!("outputs writable again; resuming consumption");
                            set_paused(&consumer, false);
                        }
                        commit(&consumer, &mut tracker, CommitMode::Async);
                    }
                    Err(error) => {
                        let wait = retry.failed();
                        tracing::error!(
                            error = format!("{error:#}"),
                            retry_in_ms = wait.as_millis() as u64,
                            blocks_waiting = backlog.len(),
                            "cannot write output; consumption paused, nothing committed past it"
                        );
                        set_paused(&consumer, true);
                    }
                }
            }
            if last_refresh.elapsed() >= METADATA_REFRESH {
                last_refresh = tokio::time::Instant::now();
                match kafka::partition_count(&config.kafka, SERVICE, &topics.raw).await {
                    Ok(n) if n != partition_count => {
                        tracing::info!(partitions = n, "posts.raw partition count changed");
                        partition_count = n;
                        merger.set_partition_count(n);
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "cannot refresh the partition count"),
                }
            }
        }
        // Complete blocks only: an incomplete batch is left uncommitted and
        // will be merged again by the next sink run.
        backlog.extend(merger.ready(Utc::now()));
        if let Err(error) = outputs.drain(&mut backlog, &mut tracker).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "final output failed; those batches will be redelivered"
            );
        }
        commit(&consumer, &mut tracker, CommitMode::Sync);
        consumer.unsubscribe();
        tracing::info!(
            pending_batches = merger.pending_batches(),
            stored = outputs.stored,
            "sink stopped"
        );
        Ok(())
    }
}

/// Logs partition assignment changes.
struct SinkContext;

impl ClientContext for SinkContext {}

impl ConsumerContext for SinkContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let list = |tpl: &TopicPartitionList| {
            tpl.elements()
                .iter()
                .map(|e| format!("{}/{}", e.topic(), e.partition()))
                .collect::<Vec<_>>()
        };
        match rebalance {
            Rebalance::Assign(tpl) => {
                tracing::info!(partitions = ?list(tpl), "sink partitions assigned")
            }
            Rebalance::Revoke(tpl) => {
                tracing::info!(partitions = ?list(tpl), "sink partitions revoked")
            }
            Rebalance::Error(error) => tracing::warn!(%error, "sink rebalance error"),
        }
    }
}

/// Exponential backoff for output retries.
struct Retry {
    initial: Duration,
    max: Duration,
    wait: Option<Duration>,
    next: tokio::time::Instant,
}

impl Retry {
    fn new(initial_ms: u64, max_ms: u64) -> Self {
        Retry {
            initial: Duration::from_millis(initial_ms),
            max: Duration::from_millis(max_ms),
            wait: None,
            next: tokio::time::Instant::now(),
        }
    }

    fn due(&self) -> bool {
        tokio::time::Instant::now() >= self.next
    }

    /// Records a failure; returns the wait before the next try.
    fn failed(&mut self) -> Duration {
        let wait = self.wait.map_or(self.initial, |w| (w * 2).min(self.max));
        self.wait = Some(wait);
        self.next = tokio::time::Instant::now() + wait;
        wait
    }

    /// Records a success; true if it ends a run of failures.
    fn succeeded(&mut self) -> bool {
        self.wait.take().is_some()
    }
}

/// Pauses or resumes every assigned partition, so a sink that cannot write
/// keeps its group membership without reading further.
fn set_paused(consumer: &StreamConsumer<SinkContext>, paused: bool) {
    let Ok(assignment) = consumer.assignment() else {
        return;
    };
    let result = if paused {
        consumer.pause(&assignment)
    } else {
        consumer.resume(&assignment)
    };
    if let Err(error) = result {
        tracing::warn!(%error, paused, "cannot pause/resume partitions");
    }
}

fn accept(
    config: &SinkConfig,
    message: &BorrowedMessage<'_>,
    merger: &mut Merger,
    tracker: &mut OffsetTracker,
) {
    let receipt = Receipt {
        topic: message.topic().to_string(),
        partition: message.partition(),
        offset: message.offset(),
    };
    tracker.consumed(&receipt);
    let payload = message.payload().unwrap_or_default();
    let result = if message.topic() == config.topics.reports {
        tracing::debug!(offset = receipt.offset, "report received");
        serde_json::from_slice::<BatchReport>(payload)
            .map(|report| merger.add_report(report, receipt.clone()))
    } else {
        serde_json::from_slice::<MatchedPost>(payload)
            .map(|post| merger.add_post(post, receipt.clone()))
    };
    if let Err(error) = result {
        tracing::warn!(topic = %receipt.topic, partition = receipt.partition, offset = receipt.offset, %error,
            "skipping a record that is not a matched post or batch report");
        tracker.done(&receipt);
    }
}

fn commit(consumer: &StreamConsumer<SinkContext>, tracker: &mut OffsetTracker, mode: CommitMode) {
    let assigned = match consumer.assignment() {
        Ok(assignment) => assignment,
        Err(error) => {
            tracing::warn!(%error, "cannot read the assignment; commit skipped");
            return;
        }
    };
    let mut list = TopicPartitionList::new();
    for (topic, partition, offset) in tracker.take_commits() {
        let owned = assigned
            .elements()
            .iter()
            .any(|e| e.topic() == topic && e.partition() == partition);
        if owned
            && list
                .add_partition_offset(&topic, partition, Offset::Offset(offset))
                .is_err()
        {
            tracing::warn!(%topic, partition, "cannot add offset to commit");
        }
    }
    if list.count() > 0
        && let Err(error) = consumer.commit(&list, mode)
    {
        tracing::warn!(%error, "offset commit failed; records may be redelivered (and de-duplicated)");
    }
}
