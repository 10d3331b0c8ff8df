//! The open batch: what one replica read, matched and dead-lettered between
//! two clock-aligned batch times. Pure bookkeeping, no I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use weibostream_shared::{BatchReport, PartitionRange};

/// End of the batch that contains `now`: the next multiple of the interval
/// since the Unix epoch, strictly after `now` (Spark labels batches the same way).
pub fn batch_end(now: DateTime<Utc>, interval_ms: u64) -> DateTime<Utc> {
    let interval = interval_ms.max(1) as i64;
    let now_ms = now.timestamp_millis();
    let end_ms = (now_ms.div_euclid(interval) + 1) * interval;
    Utc.timestamp_millis_opt(end_ms).single().unwrap_or(now)
}

/// Counters and offset ranges of the batch being filled.
#[derive(Debug, Clone)]
pub struct OpenBatch {
    batch_time: DateTime<Utc>,
    /// The partitions read, in first-read order (a replica has a few).
    partitions: Vec<PartitionCounts>,
    /// Index in `partitions` of the partition of the last record read:
    /// records come in runs from one partition, so this is nearly always
    /// the one the next record needs.
    current: usize,
    posts_in: u64,
    dead_lettered: u64,
    matched_posts: u64,
    per_rule: Vec<u64>,
}

#[derive(Debug, Clone)]
struct PartitionCounts {
    range: PartitionRange,
    /// Good posts (records read minus those dead-lettered).
    posts: u64,
}

impl OpenBatch {
    /// An empty batch ending at `batch_time`, for a rule set of `rule_count` rules.
    pub fn new(batch_time: DateTime<Utc>, rule_count: usize) -> Self {
        OpenBatch {
            batch_time,
            partitions: Vec::new(),
            current: 0,
            posts_in: 0,
            dead_lettered: 0,
            matched_posts: 0,
            per_rule: vec![0; rule_count],
        }
    }

    /// When the batch ends.
    pub fn batch_time(&self) -> DateTime<Utc> {
        self.batch_time
    }

    /// Notes that the record at `offset` of `partition` was read.
    pub fn record_read(&mut self, partition: i32, offset: i64) {
        if self
            .partitions
            .get(self.current)
            .is_none_or(|p| p.range.partition != partition)
        {
            self.current = match self
                .partitions
                .iter()
                .position(|p| p.range.partition == partition)
            {
                Some(index) => index,
                None => {
                    self.partitions.push(PartitionCounts {
                        range: empty_range(partition),
                        posts: 0,
                    });
                    self.partitions.len() - 1
                }
            };
        }
        let Some(counts) = self.partitions.get_mut(self.current) else {
            return;
        };
        let range = &mut counts.range;
        range.first_offset = Some(range.first_offset.map_or(offset, |o| o.min(offset)));
        range.last_offset = Some(range.last_offset.map_or(offset, |o| o.max(offset)));
        range.records += 1;
    }

    /// Counts a decoded post of the partition last read and the rules (by
    /// index) it matched.
    pub fn post_processed(&mut self, matched_rules: &[usize]) {
        self.posts_in += 1;
        if let Some(counts) = self.partitions.get_mut(self.current) {
            counts.posts += 1;
        }
        if !matched_rules.is_empty() {
            self.matched_posts += 1;
        }
        for &rule in matched_rules {
            if let Some(count) = self.per_rule.get_mut(rule) {
                *count += 1;
            }
        }
    }

    /// Counts a record sent to the dead-letter topic.
    pub fn dead_lettered(&mut self) {
        self.dead_lettered += 1;
    }

    /// Good posts read so far.
    pub fn posts_in(&self) -> u64 {
        self.posts_in
    }

    /// Posts that matched at least one rule so far.
    pub fn matched_posts(&self) -> u64 {
        self.matched_posts
    }

    /// Matches per rule so far, in rule order.
    pub fn matches_per_rule(&self) -> &[u64] {
        &self.per_rule
    }

    /// Good posts read so far per partition, by partition.
    pub fn posts_per_partition(&self) -> Vec<(i32, u64)> {
        let mut posts: Vec<(i32, u64)> = self
            .partitions
            .iter()
            .map(|p| (p.range.partition, p.posts))
            .collect();
        posts.sort_unstable();
        posts
    }

    /// Records read so far (good and dead-lettered).
    pub fn records_read(&self) -> u64 {
        self.partitions.iter().map(|p| p.range.records).sum()
    }

    /// The offsets to commit once the batch is acknowledged: for each
    /// partition read, the offset after the last record read, by partition.
    pub fn next_offsets(&self) -> Vec<(i32, i64)> {
        let mut next: Vec<(i32, i64)> = self
            .partitions
            .iter()
            .filter_map(|p| {
                p.range
                    .last_offset
                    .map(|last| (p.range.partition, last + 1))
            })
            .collect();
        next.sort_unstable();
        next
    }

    /// The report of the batch. `assigned` partitions with nothing read are
    /// listed too, so the sink can close quiet batches.
    pub fn into_report<'a>(
        self,
        replica: &str,
        interval_ms: u64,
        rule_ids: impl Iterator<Item = &'a str>,
        assigned: &[i32],
        processing_ms: f64,
    ) -> BatchReport {
        let mut partitions: BTreeMap<i32, PartitionRange> = self
            .partitions
            .into_iter()
            .map(|p| (p.range.partition, p.range))
            .collect();
        for &partition in assigned {
            partitions
                .entry(partition)
                .or_insert_with(|| empty_range(partition));
        }
        let matched_per_rule = rule_ids
            .map(str::to_string)
            .zip(self.per_rule.iter().copied())
            .collect();
        BatchReport {
            batch_time: self.batch_time,
            interval_ms,
            replica: replica.to_string(),
            partitions: partitions.into_values().collect(),
            posts_in: self.posts_in,
            dead_lettered: self.dead_lettered,
            matched_posts: self.matched_posts,
            matched_per_rule,
            processing_ms,
            top_terms: Vec::new(),
            top_terms_per_rule: BTreeMap::new(),
            lag: None,
        }
    }
}

fn empty_range(partition: i32) -> PartitionRange {
    PartitionRange {
        partition,
        first_offset: None,
        last_offset: None,
        records: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    #[test]
    fn batch_end_is_the_next_interval_multiple() {
        assert_eq!(batch_end(at(0), 5000), at(5000));
        assert_eq!(batch_end(at(4999), 5000), at(5000));
        assert_eq!(batch_end(at(5000), 5000), at(10_000));
        assert_eq!(
            batch_end(at(1_421_837_403_123), 5000),
            at(1_421_837_405_000)
        );
    }

    #[test]
    fn report_lists_assigned_partitions_and_offsets() {
        let mut batch = OpenBatch::new(at(5000), 2);
        batch.record_read(3, 10);
        batch.post_processed(&[0, 1]);
        batch.record_read(3, 11);
        batch.post_processed(&[]);
        batch.record_read(1, 7);
        batch.dead_lettered();
        assert_eq!(batch.next_offsets(), vec![(1, 8), (3, 12)]);
        assert_eq!(batch.records_read(), 3);
        assert_eq!(batch.posts_per_partition(), vec![(1, 0), (3, 2)]);
        assert_eq!(batch.matches_per_rule(), &[1, 1]);
        let report = batch.into_report("r1", 5000, ["a", "b"].into_iter(), &[0, 1, 3], 1.5);
        assert_eq!(report.posts_in, 2);
        assert_eq!(report.matched_posts, 1);
        assert_eq!(report.dead_lettered, 1);
        assert_eq!(report.matched_per_rule.get("a"), Some(&1));
        assert_eq!(
            report.covered_partitions().collect::<Vec<_>>(),
            vec![0, 1, 3]
        );
        assert_eq!(report.partitions[2].first_offset, Some(10));
        assert_eq!(report.partitions[2].last_offset, Some(11));
        assert_eq!(report.partitions[0].records, 0);
    }
}
