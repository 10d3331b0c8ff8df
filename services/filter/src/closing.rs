//! The second half of a batch: once its records are acknowledged, publish
//! its report, then commit its offsets. This runs while the replica already
//! reads the next batch, so waiting for the broker's acknowledgements does
//! not stall consumption; closes still finish one at a time, in batch order.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use std::sync::Arc;

use rdkafka::producer::BaseRecord;
use rdkafka::{Offset, TopicPartitionList};
use weibostream_shared::BatchReport;

use crate::acks::{self, AckProducer, BatchAcks};
use crate::context::FilterContext;
use crate::metrics::FilterMetrics;

/// A batch that ended and waits for its records' acknowledgements.
pub(crate) struct ClosingBatch {
    /// The report, complete but for `processing_ms`.
    pub report: BatchReport,
    /// Acknowledgements of the batch's matched and dead-lettered records.
    pub acks: Arc<BatchAcks>,
    /// Offsets to commit: per partition read, the offset after the last record.
    pub next_offsets: Vec<(i32, i64)>,
    /// Records the batch read (good and dead-lettered).
    pub records_read: u64,
    /// Time spent handling the batch's records.
    pub busy: Duration,
    /// When the batch ended.
    pub ended: Instant,
    /// The replica's last batch: commit synchronously before leaving.
    pub final_batch: bool,
}

/// What a finished close tells the run loop.
#[derive(Debug)]
pub(crate) struct ClosedBatch {
    /// The report published.
    pub report: BatchReport,
    /// Handling plus closing time.
    pub processing: Duration,
    /// Records the batch read (good and dead-lettered).
    pub records_read: u64,
}

/// Where a close publishes and commits.
pub(crate) struct CloseTargets<'a> {
    /// The replica's consumer (for the assignment and the commit).
    pub consumer: &'a StreamConsumer<FilterContext>,
    /// The replica's producer.
    pub producer: &'a AckProducer,
    /// The reports topic.
    pub reports_topic: String,
    /// The raw topic, whose offsets are committed.
    pub raw_topic: String,
    /// The replica's metrics.
    pub metrics: FilterMetrics,
}

impl ClosingBatch {
    /// Waits for the batch's records to be acknowledged, publishes the report
    /// and waits for its acknowledgement, then commits what the batch read
    /// from partitions this replica still owns. An unacknowledged record is
    /// an error: nothing is committed and the service stops, so the batch is
    /// read again by whoever takes the partitions.
    pub async fn finish(mut self, to: CloseTargets<'_>) -> anyhow::Result<ClosedBatch> {
        self.acks.settled().await?;
        let processing = self.busy + self.ended.elapsed();
        self.report.processing_ms = processing.as_secs_f64() * 1000.0;
        let payload = serde_json::to_vec(&self.report).context("encoding the batch report")?;
        let report_acks = BatchAcks::new();
        let record = BaseRecord::with_opaque_to(&to.reports_topic, report_acks.clone())
            .key(self.report.replica.as_str())
            .payload(&payload);
        acks::send(to.producer, record).await?;
        report_acks.settled().await?;
        self.commit(&to)?;
        to.metrics.batch_closed(processing.as_secs_f64());
        Ok(ClosedBatch {
            report: self.report,
            processing,
            records_read: self.records_read,
        })
    }

    fn commit(&self, to: &CloseTargets<'_>) -> anyhow::Result<()> {
        // Read now, not at the batch end: a partition revoked meanwhile
        // belongs to another replica, which commits it itself.
        let assignment = to.consumer.assignment().context("reading the assignment")?;
        let owned = |partition: i32| {
            assignment
                .elements()
                .iter()
                .any(|e| e.partition() == partition)
        };
        let mut commit = TopicPartitionList::new();
        for &(partition, next) in &self.next_offsets {
            if owned(partition) {
                commit.add_partition_offset(&to.raw_topic, partition, Offset::Offset(next))?;
            }
        }
        if commit.count() > 0 {
            let mode = if self.final_batch {
                CommitMode::Sync
            } else {
                CommitMode::Async
            };
            if let Err(error) = to.consumer.commit(&commit, mode) {
                tracing::warn!(%error, "offset commit failed; the batch may be redelivered");
            }
        }
        Ok(())
    }
}
