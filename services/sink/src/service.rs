//! The sink's run loop: read matches and reports, merge them into blocks,
//! output each block, then commit what it accounted for.

use std::io::Write;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use weibostream_shared::kafka;
use weibostream_shared::{BatchReport, MatchedPost, TopicRole};

use crate::SinkConfig;
use crate::dedupe::Dedupe;
use crate::jsonl::JsonLinesOutput;
use crate::merge::{Block, Completion, Merger};
use crate::offsets::{OffsetTracker, Receipt};
use crate::print::{PrintOptions, render};

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
        let mut jsonl = match &config.jsonl_path {
            Some(path) => Some(JsonLinesOutput::open(path, &mut seen)?),
            None => None,
        };
        kafka::wait_for_broker(&config.kafka, SERVICE).await?;
        let specs = topics.specs(&[TopicRole::Raw, TopicRole::Matched, TopicRole::Reports]);
        kafka::ensure_topics(&config.kafka, SERVICE, &specs).await?;
        let mut partition_count =
            kafka::partition_count(&config.kafka, SERVICE, &topics.raw).await?;
        let consumer: StreamConsumer = config
            .kafka
            .consumer_config(SERVICE, &config.group)
            .create()
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
        let mut outputs = Outputs {
            config,
            jsonl: jsonl.as_mut(),
        };
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
            let blocks = merger.ready(Utc::now());
            if !blocks.is_empty() {
                outputs.emit(&blocks, &mut tracker)?;
                commit(&consumer, &mut tracker, CommitMode::Async);
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
        let blocks = merger.ready(Utc::now());
        outputs.emit(&blocks, &mut tracker)?;
        commit(&consumer, &mut tracker, CommitMode::Sync);
        consumer.unsubscribe();
        tracing::info!(pending_batches = merger.pending_batches(), "sink stopped");
        Ok(())
    }
}

struct Outputs<'a> {
    config: &'a SinkConfig,
    jsonl: Option<&'a mut JsonLinesOutput>,
}

impl Outputs<'_> {
    fn emit(&mut self, blocks: &[Block], tracker: &mut OffsetTracker) -> anyhow::Result<()> {
        let options = PrintOptions {
            max_posts: self.config.print_max_posts,
            utc: self.config.print_utc,
        };
        for block in blocks {
            if let Some(jsonl) = self.jsonl.as_deref_mut() {
                jsonl.write(&block.posts)?;
            }
            // A straggler block whose posts were all duplicates has nothing to show.
            let empty_straggler =
                block.completion == Completion::Straggler && block.posts.is_empty();
            if self.config.print && !empty_straggler {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(render(block, options).as_bytes())
                    .context("writing to stdout")?;
                stdout.flush().context("writing to stdout")?;
            }
            for receipt in &block.receipts {
                tracker.done(receipt);
            }
        }
        Ok(())
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

fn commit(consumer: &StreamConsumer, tracker: &mut OffsetTracker, mode: CommitMode) {
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
