//! Keeping each partition's records contiguous when the local broker skips
//! some (faults 1 and 2 of [`quirks`](super)).
//!
//! A correct broker never skips records, but a partition's offsets are not
//! always contiguous: a transaction's commit or abort marker takes an offset
//! that no consumer sees, aborted records are not delivered, and compaction
//! removes records and leaves their offsets unused. Those gaps are the log as
//! it is; nothing is missing. The local broker (Tansu, memory engine) skips
//! records that are there, in two ways read from its code:
//!
//! 1. A fetch returns only record batches that *start* at or after the
//!    requested offset. A consumer resuming inside a batch (from an offset
//!    committed mid-batch, after a restart or a rebalance) gets the next
//!    batch, and the rest of its own is skipped (Tansu 0.6.0; fixed on its
//!    main branch by 87db6ea).
//! 2. A produce advances the partition's end before it stores the batch, so
//!    with overlapping produces a fetch can return a later batch before an
//!    earlier one is stored (not fixed upstream as of 510f3e2).
//!
//! [`Continuity`] tracks the offset each partition must deliver next (from
//! the committed offset at assignment, then from each record) and says what
//! to do with each record. At a jump it asks the consumer to seek back, first
//! to the missing offset itself (which fetches the batch that starts there:
//! fault 2), then further and further back (fault 1: the batch holding the
//! missing offset starts earlier), skipping what was already delivered.
//!
//! How a gap in the log is told from a skip: a read after a seek back to an
//! offset *before* the gap that delivers records from before the gap and
//! then, next, the record after it, without the records in between, is the
//! broker serving that stretch of its log, and the gap is in it. Fault 1
//! cannot produce such a read: the batch holding the last record before the
//! gap starts at or after the seek's target, so it is served, and so is every
//! later batch, the one holding the first missing offset included. Fault 2
//! can, for as long as the earlier batch is not stored (microseconds), so it
//! takes two such reads, a fetch round trip or more apart: then the gap is
//! [`Verdict::Absent`], its records do not exist, and nothing is reported
//! lost. Seeking to the missing offset itself proves nothing on the local
//! broker (fault 1 answers it with the later record too), and a read after a
//! seek to offset 0 counts even when nothing comes before the gap (fault 1
//! serves every batch from there). Only a gap that the broker never serves
//! across, after [`MAX_SEEKS`] seeks, is reported as lost.
//!
//! Fault 1 can also leave a partition silent: resumed inside its last batch,
//! the consumer gets nothing until more is produced. [`Continuity::check_stalled`],
//! called now and then with the partition's end (the high watermark of the
//! last fetch), seeks back when records exist that did not come; a
//! partition whose log is served up to the gap and no further (a transaction
//! marker at its end) gets the same two-read test.

/// Offsets of one partition that were not delivered: `first..next` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The first offset not delivered.
    pub first: i64,
    /// The offset delivered after the gap (or the partition's end).
    pub next: i64,
}

impl Gap {
    /// Number of offsets in the gap.
    pub fn records(&self) -> i64 {
        self.next - self.first
    }
}

/// What to do with a record just consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The record its partition must deliver next: process it.
    Take,
    /// Delivered before (read again after a seek back): leave it.
    Skip,
    /// Records before this one are missing: leave it and seek its partition
    /// to this offset, from where the broker delivers them.
    SeekBack(i64),
    /// The broker twice served its log across the gap without records in
    /// it: the offsets hold none (transaction markers, aborted or compacted
    /// records). Process this record; nothing is missing.
    Absent(Gap),
    /// Records before this one are missing and seeking back did not bring
    /// them, nor show the gap in the broker's log: process it; the gap is lost.
    Lost(Gap),
    /// (From a stall check only.) The broker holds these records and did
    /// not deliver them although the consumer sought back: nothing more is
    /// tried until records come, and they are taken if they do.
    Stuck(Gap),
}

/// How far back the second seek goes; each later one goes twice as far.
/// A producer batch holds at most librdkafka's `batch.num.messages`
/// (10,000 by default), reached by the sixth seek.
const FIRST_STEP: i64 = 1024;

/// Seeks per gap before it is given up (lost, or stuck).
pub const MAX_SEEKS: u32 = 8;

/// Reads across a gap, after seeks back, that make it a gap in the log.
const ABSENT_READS: u32 = 2;

#[derive(Debug, Clone, Copy)]
struct Track {
    /// The offset the partition must deliver next.
    next: i64,
    /// Seeks made for the current gap (0: none open).
    seeks: u32,
    /// Where the last seek went.
    target: i64,
    /// Since the last seek, a record from `target` on and before `next`
    /// came: the broker is serving its log from before the gap.
    bridged: bool,
    /// Reads after a seek that went from before the gap straight past it
    /// (or, from a stall check, stopped before it).
    across: u32,
    /// `next` at the last stall check that found records missing (`-1`:
    /// none since the last progress).
    checked: i64,
    /// A stall check gave up on this partition (until records come).
    stuck: bool,
}

impl Track {
    fn at(next: i64) -> Track {
        Track {
            next,
            seeks: 0,
            target: next,
            bridged: false,
            across: 0,
            checked: -1,
            stuck: false,
        }
    }

    /// Whether seeking back has been tried enough for the current gap.
    fn exhausted(&self) -> bool {
        self.seeks >= MAX_SEEKS
    }

    /// Whether the read since the last seek served the log from before the
    /// gap and then came to the gap's far side without its records
    /// (`beyond`: a record after the gap came; a read from offset 0 then
    /// counts without records before the gap, and a stall check's read
    /// never does, as a broker that answers nothing looks the same): counts
    /// it, and says whether that makes the gap absent.
    fn read_across(&mut self, beyond: bool) -> bool {
        let from_start = beyond && self.target == 0;
        if self.seeks > 0 && (from_start || (self.target < self.next && self.bridged)) {
            self.across += 1;
        }
        self.across >= ABSENT_READS
    }

    /// Records from `next` to `upto` (exclusive) did not come: the next
    /// seek back, or the gap once seeking has not helped.
    fn escalate(&mut self, upto: i64) -> Verdict {
        if self.exhausted() {
            let gap = Gap {
                first: self.next,
                next: upto,
            };
            *self = Track::at(upto);
            return Verdict::Lost(gap);
        }
        let back = match self.seeks {
            0 => 0,
            n => FIRST_STEP << (n - 1).min(16),
        };
        self.seeks += 1;
        self.target = (self.next - back).max(0);
        self.bridged = false;
        Verdict::SeekBack(self.target)
    }
}

/// The offset each partition must deliver next, per topic.
#[derive(Debug, Default)]
pub struct Continuity {
    /// Per topic (the sink reads two), per partition; `None` until the
    /// partition's start is known.
    topics: Vec<(String, Vec<Option<Track>>)>,
}

impl Continuity {
    /// Forgets every partition.
    pub fn clear(&mut self) {
        self.topics.clear();
    }

    /// Forgets one partition (revoked: whoever gets it next resumes from
    /// the committed offset, which is no gap).
    pub fn forget(&mut self, topic: &str, partition: i32) {
        if let Some(slot) = self.slot(topic, partition) {
            *slot = None;
        }
    }

    /// The consumer starts `partition` at `next` (its committed offset).
    pub fn expect(&mut self, topic: &str, partition: i32, next: i64) {
        if let Some(slot) = self.slot(topic, partition) {
            *slot = Some(Track::at(next));
        }
    }

    /// Says what to do with the record at `offset`. A partition whose
    /// start is unknown starts at its first record.
    pub fn observe(&mut self, topic: &str, partition: i32, offset: i64) -> Verdict {
        let Some(slot) = self.slot(topic, partition) else {
            return Verdict::Take;
        };
        let Some(track) = slot else {
            *slot = Some(Track::at(offset + 1));
            return Verdict::Take;
        };
        if offset < track.next {
            if track.seeks > 0 && offset >= track.target {
                track.bridged = true;
            }
            return Verdict::Skip;
        }
        if offset == track.next {
            *track = Track::at(offset + 1);
            return Verdict::Take;
        }
        if track.read_across(true) {
            let gap = Gap {
                first: track.next,
                next: offset,
            };
            *track = Track::at(offset + 1);
            return Verdict::Absent(gap);
        }
        match track.escalate(offset) {
            // The record after the gap is processed: it is there.
            Verdict::Lost(gap) => {
                track.next = offset + 1;
                Verdict::Lost(gap)
            }
            verdict => verdict,
        }
    }

    /// Checks a partition whose end (high watermark) is `end` and of which
    /// the client holds no undelivered records: when records from the
    /// expected offset on exist and none came since the last check, returns
    /// a [`Verdict::SeekBack`]; once seeking has not helped, once
    /// [`Verdict::Absent`] when the broker served its log up to the gap
    /// and no further (twice), else once [`Verdict::Stuck`]. Call it at an
    /// interval long enough for a fetch to arrive (a second).
    pub fn check_stalled(&mut self, topic: &str, partition: i32, end: i64) -> Option<Verdict> {
        let track = self.slot(topic, partition)?.as_mut()?;
        if end <= track.next {
            track.checked = -1;
            return None;
        }
        if track.checked != track.next || track.stuck {
            track.checked = track.next;
            return None;
        }
        let gap = Gap {
            first: track.next,
            next: end,
        };
        if track.read_across(false) {
            // Not moved past: records in the gap that do come are taken.
            track.stuck = true;
            return Some(Verdict::Absent(gap));
        }
        if track.exhausted() {
            // Not lost: the records are there and may still come.
            track.stuck = true;
            return Some(Verdict::Stuck(gap));
        }
        Some(track.escalate(end))
    }

    /// The seek [`observe`](Self::observe) asked for failed: the record at
    /// `offset` is processed after all. Returns the gap before it.
    pub fn give_up(&mut self, topic: &str, partition: i32, offset: i64) -> Option<Gap> {
        let slot = self.slot(topic, partition)?;
        let gap = slot.filter(|t| offset > t.next).map(|t| Gap {
            first: t.next,
            next: offset,
        });
        *slot = Some(Track::at(offset + 1));
        gap
    }

    fn slot(&mut self, topic: &str, partition: i32) -> Option<&mut Option<Track>> {
        let index = usize::try_from(partition).ok()?;
        let position = match self.topics.iter().position(|(name, _)| name == topic) {
            Some(position) => position,
            None => {
                self.topics.push((topic.to_string(), Vec::new()));
                self.topics.len() - 1
            }
        };
        let partitions = &mut self.topics[position].1;
        if partitions.len() <= index {
            partitions.resize(index + 1, None);
        }
        Some(&mut partitions[index])
    }
}

#[cfg(test)]
mod tests;
