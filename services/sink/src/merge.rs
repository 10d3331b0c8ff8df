//! Merging the replicas' batches into one block per batch time for the whole
//! group. Pure: records and the current time in, finished blocks out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use weibostream_shared::{BatchReport, MatchedPost};

use crate::dedupe::Dedupe;
use crate::offsets::Receipt;

/// Why a block was output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// Reports covered every partition and every reported match arrived.
    Complete,
    /// The grace period ran out; these partitions had not reported.
    Late {
        /// Partitions of `posts.raw` no report covered.
        missing_partitions: Vec<i32>,
    },
    /// Matches that arrived after their batch's block was already output.
    Straggler,
}

/// One batch time's output for the whole group.
#[derive(Debug, Clone)]
pub struct Block {
    /// The batch time.
    pub batch_time: DateTime<Utc>,
    /// New matched posts (never output before), in arrival order.
    pub posts: Vec<MatchedPost>,
    /// The records of `posts` as read (index for index), when the sink
    /// keeps them for the JSON-lines output; empty otherwise.
    pub raw: Vec<RawRecord>,
    /// Redelivered posts dropped from this block because they were output before.
    pub duplicates_dropped: u64,
    /// The replicas' reports for this batch.
    pub reports: Vec<BatchReport>,
    /// Partition count of `posts.raw` when the block was made.
    pub partition_count: i32,
    /// Why the block was output now.
    pub completion: Completion,
    /// The consumed records this block accounts for, to commit once output.
    pub receipts: Vec<Receipt>,
}

impl Block {
    /// Partitions covered by the block's reports.
    pub fn covered_partitions(&self) -> BTreeSet<i32> {
        self.reports
            .iter()
            .flat_map(|r| r.covered_partitions())
            .collect()
    }
}

/// A block as the merger finishes it, with the posts de-duplication took
/// out of it when the merger keeps them (see [`Merger::keep_redelivered`]).
#[derive(Debug)]
pub struct Ready {
    /// The block to output.
    pub block: Block,
    /// Posts dropped from the block as output before. The outputs skip
    /// them; a store gets them again, because "output" does not mean
    /// "stored": the sink may have stopped between the two, and the store
    /// ignores the ones it has.
    pub redelivered: Vec<MatchedPost>,
}

/// A matched record's value as read from the topic, fit to be written as
/// one JSON line (`None`: it holds a line break, and is re-encoded).
pub type RawRecord = Option<Box<[u8]>>;

#[derive(Debug, Default)]
struct Pending {
    posts: Vec<MatchedPost>,
    raw: Vec<RawRecord>,
    reports: BTreeMap<String, BatchReport>,
    received: HashMap<String, u64>,
    receipts: Vec<Receipt>,
}

/// Collects matched posts and reports until a batch can be output.
#[derive(Debug)]
pub struct Merger {
    partition_count: i32,
    grace: Duration,
    pending: BTreeMap<DateTime<Utc>, Pending>,
    last_output: Option<DateTime<Utc>>,
    stragglers: BTreeMap<DateTime<Utc>, Pending>,
    seen: Dedupe,
    keep_redelivered: bool,
}

impl Merger {
    /// A merger for a `posts.raw` of `partition_count` partitions.
    pub fn new(partition_count: i32, grace: std::time::Duration, seen: Dedupe) -> Self {
        Merger {
            partition_count,
            grace: Duration::from_std(grace).unwrap_or(Duration::seconds(10)),
            pending: BTreeMap::new(),
            last_output: None,
            stragglers: BTreeMap::new(),
            seen,
            keep_redelivered: false,
        }
    }

    /// Keeps the posts de-duplication drops, in [`Ready::redelivered`]
    /// (for a store; without one they are dropped at once).
    pub fn keep_redelivered(mut self) -> Self {
        self.keep_redelivered = true;
        self
    }

    /// Updates the partition count (the topic may have grown).
    pub fn set_partition_count(&mut self, partition_count: i32) {
        self.partition_count = partition_count;
    }

    fn slot(&mut self, batch_time: DateTime<Utc>) -> &mut Pending {
        if self.last_output.is_some_and(|last| batch_time <= last) {
            self.stragglers.entry(batch_time).or_default()
        } else {
            self.pending.entry(batch_time).or_default()
        }
    }

    /// Adds a matched post read from `receipt`; `raw` is the record's value
    /// when it is kept for output (then it must be given for every post).
    pub fn add_post(&mut self, post: MatchedPost, raw: Option<&[u8]>, receipt: Receipt) {
        let slot = self.slot(post.batch_time);
        *slot.received.entry(post.replica.clone()).or_default() += 1;
        slot.posts.push(post);
        if let Some(raw) = raw {
            let one_line = !raw.iter().any(|&b| b == b'\n' || b == b'\r');
            slot.raw.push(one_line.then(|| raw.into()));
        }
        slot.receipts.push(receipt);
    }

    /// Adds a batch report read from `receipt`.
    pub fn add_report(&mut self, report: BatchReport, receipt: Receipt) {
        let slot = self.slot(report.batch_time);
        slot.receipts.push(receipt);
        slot.reports.insert(report.replica.clone(), report);
    }

    /// Batches waiting for reports or matches.
    pub fn pending_batches(&self) -> usize {
        self.pending.len()
    }

    /// Outputs, in batch-time order, every batch that is complete or past its
    /// grace period, then any stragglers. A batch waits for earlier ones.
    pub fn ready(&mut self, now: DateTime<Utc>) -> Vec<Ready> {
        let mut blocks = Vec::new();
        while let Some((&batch_time, pending)) = self.pending.first_key_value() {
            let missing = self.missing_partitions(pending);
            let complete = missing.is_empty() && self.all_matches_arrived(pending);
            let expired = now >= batch_time + self.grace;
            if !complete && !expired {
                break;
            }
            let Some((_, pending)) = self.pending.pop_first() else {
                break;
            };
            let completion = if complete {
                Completion::Complete
            } else {
                Completion::Late {
                    missing_partitions: missing,
                }
            };
            self.last_output = Some(batch_time);
            blocks.push(self.block(batch_time, pending, completion));
        }
        for (batch_time, pending) in std::mem::take(&mut self.stragglers) {
            blocks.push(self.block(batch_time, pending, Completion::Straggler));
        }
        blocks
    }

    /// Outputs everything pending now (used on shutdown).
    pub fn flush_all(&mut self) -> Vec<Ready> {
        let far_future = self
            .pending
            .last_key_value()
            .map(|(t, _)| *t + self.grace)
            .unwrap_or_else(Utc::now);
        self.ready(far_future)
    }

    fn missing_partitions(&self, pending: &Pending) -> Vec<i32> {
        let covered: BTreeSet<i32> = pending
            .reports
            .values()
            .flat_map(|r| r.covered_partitions())
            .collect();
        (0..self.partition_count)
            .filter(|p| !covered.contains(p))
            .collect()
    }

    fn all_matches_arrived(&self, pending: &Pending) -> bool {
        pending.reports.values().all(|report| {
            pending.received.get(&report.replica).copied().unwrap_or(0) >= report.matched_posts
        })
    }

    fn block(
        &mut self,
        batch_time: DateTime<Utc>,
        pending: Pending,
        completion: Completion,
    ) -> Ready {
        let mut duplicates_dropped = 0;
        let mut posts = Vec::with_capacity(pending.posts.len());
        let mut raw = Vec::with_capacity(pending.raw.len());
        let mut redelivered = Vec::new();
        let mut raw_records = pending.raw.into_iter();
        for post in pending.posts {
            let record = raw_records.next();
            if self.seen.insert(&post.post.id) {
                posts.push(post);
                raw.extend(record);
            } else {
                duplicates_dropped += 1;
                if self.keep_redelivered {
                    redelivered.push(post);
                }
            }
        }
        let block = Block {
            batch_time,
            posts,
            raw,
            duplicates_dropped,
            reports: pending.reports.into_values().collect(),
            partition_count: self.partition_count,
            completion,
            receipts: pending.receipts,
        };
        Ready { block, redelivered }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use weibostream_shared::{Author, PartitionRange, Post, Source};

    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    fn receipt(offset: i64) -> Receipt {
        Receipt {
            topic: "m".into(),
            partition: 0,
            offset,
        }
    }

    /// A matched post `weibo:<id>` of the batch ending at second `batch`.
    pub(crate) fn matched(id: &str, batch: i64, replica: &str) -> MatchedPost {
        MatchedPost {
            batch_time: t(batch),
            replica: replica.into(),
            rules: vec!["r".into()],
            partition: 0,
            offset: 0,
            post: Post {
                id: format!("weibo:{id}"),
                source: Source::Weibo,
                text: "x".into(),
                lang: None,
                created_at: t(0),
                author: Author {
                    id: "1".into(),
                    name: "a".into(),
                    followers: None,
                    verified: false,
                },
                url: None,
                reposts: 0,
                comments: 0,
                likes: 0,
                repost_of: None,
                client: None,
                collected_at: t(0),
            },
            label: None,
            probability: None,
        }
    }

    fn report(batch: i64, replica: &str, partitions: &[i32], matched: u64) -> BatchReport {
        BatchReport {
            batch_time: t(batch),
            interval_ms: 5000,
            replica: replica.into(),
            partitions: partitions
                .iter()
                .map(|&partition| PartitionRange {
                    partition,
                    first_offset: None,
                    last_offset: None,
                    records: 0,
                })
                .collect(),
            posts_in: 10,
            dead_lettered: 0,
            matched_posts: matched,
            matched_per_rule: BTreeMap::new(),
            processing_ms: 1.0,
            top_terms: Vec::new(),
            top_terms_per_rule: BTreeMap::new(),
            lag: None,
        }
    }

    fn blocks_of(m: &mut Merger, now: DateTime<Utc>) -> Vec<Block> {
        m.ready(now).into_iter().map(|ready| ready.block).collect()
    }

    fn merger() -> Merger {
        Merger::new(4, std::time::Duration::from_secs(10), Dedupe::new(100))
    }

    #[test]
    fn waits_for_every_partition_and_every_match() {
        let mut m = merger();
        m.add_report(report(5, "a", &[0, 1], 1), receipt(0));
        assert!(blocks_of(&mut m, t(6)).is_empty());
        m.add_report(report(5, "b", &[2, 3], 0), receipt(1));
        assert!(
            blocks_of(&mut m, t(6)).is_empty(),
            "replica a's match has not arrived"
        );
        m.add_post(matched("1", 5, "a"), None, receipt(2));
        let blocks = blocks_of(&mut m, t(6));
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].completion, Completion::Complete);
        assert_eq!(blocks[0].posts.len(), 1);
        assert_eq!(blocks[0].receipts.len(), 3);
    }

    #[test]
    fn grace_expiry_names_missing_partitions_and_keeps_order() {
        let mut m = merger();
        m.add_report(report(5, "a", &[0, 1, 2], 0), receipt(0));
        m.add_report(report(10, "a", &[0, 1, 2, 3], 0), receipt(1));
        assert!(
            blocks_of(&mut m, t(14)).is_empty(),
            "batch 10 is complete but waits for batch 5"
        );
        let blocks = blocks_of(&mut m, t(15));
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            blocks[0].completion,
            Completion::Late {
                missing_partitions: vec![3]
            }
        );
        assert_eq!(blocks[1].completion, Completion::Complete);
    }

    #[test]
    fn kept_records_follow_their_posts_through_dedupe() {
        let mut m = merger();
        m.add_post(matched("1", 5, "a"), Some(b"{\"one\":1}"), receipt(0));
        m.add_post(matched("1", 5, "a"), Some(b"{\"dup\":1}"), receipt(1));
        m.add_post(matched("2", 5, "a"), Some(b"{\n}"), receipt(2));
        m.add_report(report(5, "a", &[0, 1, 2, 3], 3), receipt(3));
        let blocks = blocks_of(&mut m, t(5));
        assert_eq!(blocks[0].posts.len(), 2);
        let first: Option<&[u8]> = blocks[0].raw[0].as_deref();
        assert_eq!(first, Some(&b"{\"one\":1}"[..]));
        assert_eq!(
            blocks[0].raw[1], None,
            "a record with a line break is re-encoded"
        );
    }

    #[test]
    fn duplicates_are_dropped_across_batches_and_stragglers_output() {
        let mut m = merger();
        m.add_post(matched("1", 5, "a"), None, receipt(0));
        m.add_post(matched("1", 5, "a"), None, receipt(1));
        m.add_report(report(5, "a", &[0, 1, 2, 3], 2), receipt(2));
        let blocks = blocks_of(&mut m, t(5));
        assert_eq!(blocks[0].posts.len(), 1);
        assert_eq!(blocks[0].duplicates_dropped, 1);
        m.add_post(matched("1", 10, "b"), None, receipt(3));
        m.add_post(matched("2", 5, "c"), None, receipt(4));
        m.add_report(report(10, "b", &[0, 1, 2, 3], 1), receipt(5));
        let blocks = blocks_of(&mut m, t(10));
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].posts.len(), 0);
        assert_eq!(blocks[0].duplicates_dropped, 1);
        assert_eq!(blocks[1].completion, Completion::Straggler);
        assert_eq!(blocks[1].posts[0].post.id, "weibo:2");
    }

    #[test]
    fn redelivered_posts_are_kept_for_a_store_when_asked() {
        let mut m = merger().keep_redelivered();
        m.add_post(matched("1", 5, "a"), None, receipt(0));
        m.add_report(report(5, "a", &[0, 1, 2, 3], 1), receipt(1));
        assert!(m.ready(t(5))[0].redelivered.is_empty());
        m.add_post(matched("1", 10, "a"), None, receipt(2));
        m.add_report(report(10, "a", &[0, 1, 2, 3], 1), receipt(3));
        let ready = m.ready(t(10));
        assert!(ready[0].block.posts.is_empty());
        assert_eq!(ready[0].block.duplicates_dropped, 1);
        assert_eq!(ready[0].redelivered.len(), 1);
        assert_eq!(ready[0].redelivered[0].post.id, "weibo:1");

        let mut plain = merger();
        plain.add_post(matched("1", 5, "a"), None, receipt(0));
        plain.add_post(matched("1", 5, "a"), None, receipt(1));
        plain.add_report(report(5, "a", &[0, 1, 2, 3], 2), receipt(2));
        assert!(plain.ready(t(5))[0].redelivered.is_empty());
    }
}
