//! A consumer's side of [`continuity`](super::continuity): where each
//! assigned partition starts (its committed offset), seeking back when the
//! broker skipped records, and the log lines and counters that say so.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

use super::continuity::{Continuity, Gap, Verdict};

/// How long looking up committed offsets may take.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a partition starts: its committed offset, `None` when it has none
/// (or it was revoked), so it starts at its first record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The committed offset the consumer resumes at.
    pub offset: Option<i64>,
}

/// The committed offsets of `partitions` (a bounded broker round trip).
/// On failure every partition starts unknown, and a skip at the start is
/// caught only once later records show it.
pub fn committed_starts<C, X>(consumer: &C, partitions: &TopicPartitionList) -> Vec<Start>
where
    C: Consumer<X>,
    X: ConsumerContext,
{
    match consumer.committed_offsets(partitions.clone(), COMMITTED_TIMEOUT) {
        Ok(committed) => committed
            .elements()
            .iter()
            .map(|e| Start {
                topic: e.topic().to_string(),
                partition: e.partition(),
                offset: match e.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                },
            })
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "cannot read the committed offsets of newly assigned partitions");
            forgotten(partitions)
        }
    }
}

/// The partitions of `list`, each starting unknown (revoked, or their
/// committed offsets could not be read).
pub fn forgotten(list: &TopicPartitionList) -> Vec<Start> {
    list.elements()
        .iter()
        .map(|e| Start {
            topic: e.topic().to_string(),
            partition: e.partition(),
            offset: None,
        })
        .collect()
}

/// Applies [`Continuity`] to a consumer's records.
pub struct Resumer {
    continuity: Continuity,
    /// Seeks back made.
    rewinds: Counter,
    /// Records skipped for good.
    lost: Counter,
}

impl Resumer {
    /// Counts seeks back in `rewinds` and records lost for good in `lost`.
    pub fn new(rewinds: Counter, lost: Counter) -> Resumer {
        Resumer {
            continuity: Continuity::default(),
            rewinds,
            lost,
        }
    }

    /// Notes where partitions start (assigned) or that they were revoked.
    pub fn apply(&mut self, starts: impl IntoIterator<Item = Start>) {
        for start in starts {
            match start.offset {
                Some(offset) => self
                    .continuity
                    .expect(&start.topic, start.partition, offset),
                None => self.continuity.forget(&start.topic, start.partition),
            }
        }
    }

    /// Whether to process the record at `offset`; when the broker skipped
    /// records before it, seeks `consumer` back instead (and returns false).
    pub fn admit<C, X>(&mut self, consumer: &C, topic: &str, partition: i32, offset: i64) -> bool
    where
        C: Consumer<X>,
        X: ConsumerContext,
    {
        match self.continuity.observe(topic, partition, offset) {
            Verdict::Take | Verdict::Stuck(_) => true,
            Verdict::Skip => false,
            Verdict::Absent(gap) => {
                report_absent(topic, partition, gap);
                true
            }
            Verdict::Lost(gap) => {
                self.report_lost(topic, partition, gap);
                true
            }
            Verdict::SeekBack(target) => {
                if self.seek(consumer, topic, partition, target, offset) {
                    false
                } else {
                    if let Some(gap) = self.continuity.give_up(topic, partition, offset) {
                        self.report_lost(topic, partition, gap);
                    }
                    true
                }
            }
        }
    }

    /// Seeks back every partition whose records from the expected offset
    /// on exist but did not come since the last call. `ends`: topic,
    /// partition and high watermark, from the client's statistics, of the
    /// partitions whose fetched records the client has all handed over.
    /// Call it about once a second.
    pub fn check_stalls<C, X>(
        &mut self,
        consumer: &C,
        ends: impl IntoIterator<Item = (String, i32, i64)>,
    ) where
        C: Consumer<X>,
        X: ConsumerContext,
    {
        for (topic, partition, end) in ends {
            match self.continuity.check_stalled(&topic, partition, end) {
                Some(Verdict::SeekBack(target)) => {
                    self.seek(consumer, &topic, partition, target, end);
                }
                Some(Verdict::Absent(gap)) => report_absent(&topic, partition, gap),
                Some(Verdict::Stuck(gap)) => {
                    tracing::error!(%topic, partition, first_missing = gap.first, end = gap.next,
                        "the broker reported records of this partition that it does not deliver, even after seeking back (records it skips, or a broker that stopped answering fetches); waiting for them")
                }
                _ => {}
            }
        }
    }

    fn seek<C, X>(
        &mut self,
        consumer: &C,
        topic: &str,
        partition: i32,
        target: i64,
        seen: i64,
    ) -> bool
    where
        C: Consumer<X>,
        X: ConsumerContext,
    {
        self.rewinds.inc();
        // Zero timeout: the seek happens in the background; librdkafka
        // drops what it fetched from the partition before it.
        match consumer.seek(topic, partition, Offset::Offset(target), Duration::ZERO) {
            Ok(()) => {
                tracing::warn!(%topic, partition, delivered_or_end = seen, seek_to = target,
                    "the broker skipped records of this partition; reading it again from an earlier offset");
                true
            }
            Err(error) => {
                tracing::error!(%topic, partition, seek_to = target, %error,
                    "cannot seek back to read records the broker skipped");
                false
            }
        }
    }

    fn report_lost(&self, topic: &str, partition: i32, gap: Gap) {
        self.lost.inc_by(gap.records().unsigned_abs());
        tracing::error!(%topic, partition, first_missing = gap.first, next_delivered = gap.next,
            records = gap.records(),
            "the broker skipped records and reading again did not bring them back: they are missing from the output");
    }
}

/// A gap that is the broker's log as it is: said, not counted as lost.
fn report_absent(topic: &str, partition: i32, gap: Gap) {
    tracing::info!(%topic, partition, first = gap.first, next = gap.next, offsets = gap.records(),
        "these offsets hold no records in the broker's log (transaction markers, aborted or compacted records): nothing is missing");
}

/// Starts noted by a rebalance callback, for the consumer's loop to apply
/// before its next record (the callback cannot reach the loop's state).
#[derive(Debug, Default)]
pub struct PendingStarts {
    pending: std::sync::atomic::AtomicBool,
    starts: std::sync::Mutex<Vec<Start>>,
}

impl PendingStarts {
    /// Adds starts (in order: a revoke before the assignment after it).
    pub fn push(&self, starts: Vec<Start>) {
        let mut queue = self.starts.lock().unwrap_or_else(|e| e.into_inner());
        queue.extend(starts);
        self.pending
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// The starts pushed since the last call; a single atomic load when
    /// there are none (it runs once per record).
    pub fn take(&self) -> Option<Vec<Start>> {
        if !self.pending.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        let mut queue = self.starts.lock().unwrap_or_else(|e| e.into_inner());
        self.pending
            .store(false, std::sync::atomic::Ordering::Release);
        Some(std::mem::take(&mut *queue))
    }
}

/// A group consumer's [`Resumer`] with the starts its rebalance callback
/// notes ([`PendingStarts`]), applied before each record and stall check.
pub struct GroupResumer {
    resumer: Resumer,
    starts: Arc<PendingStarts>,
}

impl GroupResumer {
    /// `starts` is shared with the consumer's rebalance callback.
    pub fn new(resumer: Resumer, starts: Arc<PendingStarts>) -> GroupResumer {
        GroupResumer { resumer, starts }
    }

    /// [`Resumer::admit`], after the starts noted since the last call.
    pub fn admit<C, X>(&mut self, consumer: &C, topic: &str, partition: i32, offset: i64) -> bool
    where
        C: Consumer<X>,
        X: ConsumerContext,
    {
        self.apply_starts();
        self.resumer.admit(consumer, topic, partition, offset)
    }

    /// [`Resumer::check_stalls`], after the starts noted since the last call.
    pub fn check_stalls<C, X>(
        &mut self,
        consumer: &C,
        ends: impl IntoIterator<Item = (String, i32, i64)>,
    ) where
        C: Consumer<X>,
        X: ConsumerContext,
    {
        self.apply_starts();
        self.resumer.check_stalls(consumer, ends);
    }

    fn apply_starts(&mut self) {
        if let Some(starts) = self.starts.take() {
            self.resumer.apply(starts);
        }
    }
}
