//! Which consumed offsets may be committed: a record is done when the block
//! holding it was output (or it was dropped), and a partition's commit point
//! is its lowest offset not yet done.

use std::collections::{BTreeMap, BTreeSet};

/// A consumed record's place: topic, partition, offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Receipt {
    /// Topic it came from.
    pub topic: String,
    /// Partition it came from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// Tracks pending records per topic-partition.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    pending: BTreeMap<(String, i32), BTreeSet<i64>>,
    next: BTreeMap<(String, i32), i64>,
    committed: BTreeMap<(String, i32), i64>,
}

impl OffsetTracker {
    /// Notes a record as consumed but not yet output.
    pub fn consumed(&mut self, receipt: &Receipt) {
        let key = (receipt.topic.clone(), receipt.partition);
        self.pending
            .entry(key.clone())
            .or_default()
            .insert(receipt.offset);
        let next = self.next.entry(key).or_insert(receipt.offset + 1);
        *next = (*next).max(receipt.offset + 1);
    }

    /// Notes a record as output (or deliberately dropped).
    pub fn done(&mut self, receipt: &Receipt) {
        if let Some(set) = self
            .pending
            .get_mut(&(receipt.topic.clone(), receipt.partition))
        {
            set.remove(&receipt.offset);
        }
    }

    /// Commit points that moved since the last call: `(topic, partition, next offset)`.
    pub fn take_commits(&mut self) -> Vec<(String, i32, i64)> {
        let mut out = Vec::new();
        for (key, next) in &self.next {
            let point = self
                .pending
                .get(key)
                .and_then(|set| set.first().copied())
                .unwrap_or(*next);
            if self.committed.get(key) != Some(&point) {
                out.push((key.0.clone(), key.1, point));
            }
        }
        for (topic, partition, point) in &out {
            self.committed.insert((topic.clone(), *partition), *point);
        }
        out
    }

    /// Forgets a partition this sink no longer owns (its records will be
    /// redelivered to the new owner, which de-duplicates them).
    pub fn forget(&mut self, topic: &str, partition: i32) {
        let key = (topic.to_string(), partition);
        self.pending.remove(&key);
        self.next.remove(&key);
        self.committed.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(partition: i32, offset: i64) -> Receipt {
        Receipt {
            topic: "t".into(),
            partition,
            offset,
        }
    }

    #[test]
    fn commits_up_to_the_lowest_pending_offset() {
        let mut tracker = OffsetTracker::default();
        for offset in 0..4 {
            tracker.consumed(&r(0, offset));
        }
        tracker.done(&r(0, 0));
        tracker.done(&r(0, 2));
        assert_eq!(tracker.take_commits(), vec![("t".into(), 0, 1)]);
        assert_eq!(tracker.take_commits(), vec![]);
        tracker.done(&r(0, 1));
        tracker.done(&r(0, 3));
        assert_eq!(tracker.take_commits(), vec![("t".into(), 0, 4)]);
    }
}
