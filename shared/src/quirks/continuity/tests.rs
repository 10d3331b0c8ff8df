use super::*;

/// One partition of a broker: record batches as `(base offset, records)`,
/// contiguous from 0, and offsets that hold no record a consumer gets
/// (transaction markers, aborted or compacted records: `holes`).
struct Partition {
    batches: Vec<(i64, i64)>,
    holes: Vec<i64>,
}

impl Partition {
    fn of_sizes(sizes: &[i64]) -> Partition {
        let mut base = 0;
        let batches = sizes
            .iter()
            .map(|&n| {
                let batch = (base, n);
                base += n;
                batch
            })
            .collect();
        Partition {
            batches,
            holes: Vec::new(),
        }
    }

    fn with_holes(mut self, holes: impl IntoIterator<Item = i64>) -> Partition {
        self.holes.extend(holes);
        self
    }

    fn end(&self) -> i64 {
        self.batches.last().map_or(0, |&(base, n)| base + n)
    }

    /// Every offset holding a record.
    fn records(&self, from: i64) -> Vec<i64> {
        (from..self.end())
            .filter(|o| !self.holes.contains(o))
            .collect()
    }

    /// The batch a fetch from `position` returns. Tansu 0.6.0: the first
    /// batch starting at or after it. A correct broker: the batch holding it.
    fn fetch(&self, position: i64, tansu: bool, hidden: Option<i64>) -> Option<(i64, i64)> {
        self.batches
            .iter()
            .copied()
            .filter(|&(base, _)| Some(base) != hidden)
            .find(|&(base, n)| {
                if tansu {
                    base >= position
                } else {
                    base + n > position
                }
            })
    }
}

/// What a consumer obeying `continuity` made of one partition.
#[derive(Debug, Default)]
struct Outcome {
    processed: Vec<i64>,
    lost: Vec<Gap>,
    absent: Vec<Gap>,
    stuck: Vec<Gap>,
    seeks: u32,
}

/// What a consumer that obeys `continuity` processes when it starts the
/// partition at `start` (its committed offset); the batch at `hidden` is
/// not yet stored for the first `hidden_fetches` fetches (fault 2).
fn consume(partition: &Partition, start: i64, tansu: bool, hidden: Option<(i64, u32)>) -> Outcome {
    let mut continuity = Continuity::default();
    continuity.expect("t", 0, start);
    let mut out = Outcome::default();
    let mut position = start;
    let mut fetches = 0;
    let mut silent = 0;
    while position < partition.end() && silent < 20 {
        let hide = hidden.filter(|&(_, n)| fetches < n).map(|(base, _)| base);
        fetches += 1;
        let Some((base, n)) = partition.fetch(position, tansu, hide) else {
            // Nothing came: the periodic check with the partition's end.
            silent += 1;
            match continuity.check_stalled("t", 0, partition.end()) {
                Some(Verdict::SeekBack(target)) => {
                    out.seeks += 1;
                    position = target;
                }
                Some(Verdict::Stuck(gap)) => out.stuck.push(gap),
                Some(Verdict::Absent(gap)) => out.absent.push(gap),
                Some(verdict) => panic!("{verdict:?} from a stall check"),
                None => {}
            }
            continue;
        };
        let from = position;
        position = base + n;
        // A client drops the records of a batch before its fetch position.
        for offset in base.max(from)..base + n {
            if partition.holes.contains(&offset) {
                continue;
            }
            match continuity.observe("t", 0, offset) {
                Verdict::Take => out.processed.push(offset),
                Verdict::Skip => {}
                Verdict::Lost(gap) => {
                    out.lost.push(gap);
                    out.processed.push(offset);
                }
                Verdict::Absent(gap) => {
                    out.absent.push(gap);
                    out.processed.push(offset);
                }
                Verdict::SeekBack(target) => {
                    out.seeks += 1;
                    position = target;
                    break;
                }
                Verdict::Stuck(gap) => panic!("stuck {gap:?} from a record"),
            }
        }
    }
    out
}

#[test]
fn resuming_inside_a_batch_on_tansu_gets_the_rest_of_it_back() {
    let partition = Partition::of_sizes(&[10, 5, 3000, 7, 1, 9000, 4]);
    for start in [
        0, 3, 10, 12, 15, 1000, 3014, 3015, 3020, 3022, 3023, 9000, 12023, 12024,
    ] {
        let out = consume(&partition, start, true, None);
        assert_eq!(out.processed, partition.records(start), "start {start}");
        assert!(out.lost.is_empty(), "start {start}: {:?}", out.lost);
        assert!(out.absent.is_empty(), "start {start}: {:?}", out.absent);
    }
}

#[test]
fn a_correct_broker_never_makes_it_seek() {
    let partition = Partition::of_sizes(&[10, 5, 3000, 7, 1]);
    for start in [0, 3, 12, 2000] {
        let out = consume(&partition, start, false, None);
        assert_eq!(out.processed, partition.records(start));
        assert_eq!((out.lost.len(), out.absent.len(), out.seeks), (0, 0, 0));
    }
}

#[test]
fn a_batch_stored_late_is_read_when_it_is_there() {
    let partition = Partition::of_sizes(&[10, 5, 20, 7]);
    // The batch at 15 is missing from the first three fetches.
    let out = consume(&partition, 0, true, Some((15, 3)));
    assert_eq!(out.processed, partition.records(0));
    assert!(out.lost.is_empty() && out.absent.is_empty());
    assert_eq!(out.seeks, 1, "one seek to the missing offset itself");
}

#[test]
fn a_batch_stored_late_after_one_read_across_it_is_still_read() {
    let partition = Partition::of_sizes(&[10, 5, 20, 7]);
    // Hidden from the first read, the seek to 15 and the seek before it:
    // one read across the gap is not enough to call it absent.
    let out = consume(&partition, 0, true, Some((15, 3 + 1)));
    assert_eq!(out.processed, partition.records(0));
    assert!(out.lost.is_empty() && out.absent.is_empty(), "{out:?}");
}

#[test]
fn transaction_markers_are_gaps_in_the_log_never_lost() {
    // Three transactions of 10 records, each followed by its commit
    // marker (one offset no consumer gets), on a correct broker and on
    // the local broker's faulty fetch.
    let partition = Partition::of_sizes(&[10, 1, 10, 1, 10, 1, 4]).with_holes([10, 21, 32]);
    for tansu in [false, true] {
        for start in [0, 5, 10, 11, 25, 32] {
            let out = consume(&partition, start, tansu, None);
            assert_eq!(out.processed, partition.records(start), "{tansu} {start}");
            assert!(out.lost.is_empty(), "{tansu} {start}: {:?}", out.lost);
            assert!(out.stuck.is_empty(), "{tansu} {start}: {:?}", out.stuck);
            for gap in &out.absent {
                assert!(partition.holes.contains(&gap.first), "{gap:?}");
                assert_eq!(gap.records(), 1, "{gap:?}");
            }
            // Three seeks per marker, and two to undo fault 1 at the start.
            assert!(
                out.seeks <= 3 * 3 + 2,
                "{tansu} {start}: {} seeks",
                out.seeks
            );
        }
    }
}

#[test]
fn compacted_and_aborted_records_are_gaps_in_the_log_never_lost() {
    // Compaction keeps a batch's offsets and drops records inside it; an
    // aborted transaction leaves a run of offsets with no record for a
    // read_committed consumer; one gap spans two batches, one starts the
    // partition, one ends it.
    let holes = [0, 1, 2]
        .into_iter()
        .chain(40..45)
        .chain(1990..2100)
        .chain(3000..3100)
        .chain([4999]);
    let partition = Partition::of_sizes(&[100, 1900, 1000, 2000]).with_holes(holes);
    for tansu in [false, true] {
        for start in [0, 2, 3, 40, 1990, 2000, 2500, 3050] {
            let out = consume(&partition, start, tansu, None);
            assert_eq!(out.processed, partition.records(start), "{tansu} {start}");
            assert!(out.lost.is_empty(), "{tansu} {start}: {:?}", out.lost);
            assert!(out.stuck.is_empty(), "{tansu} {start}: {:?}", out.stuck);
            for gap in &out.absent {
                assert!(
                    (gap.first..gap.next).all(|o| partition.holes.contains(&o)),
                    "{tansu} {start}: {gap:?} holds records"
                );
            }
        }
    }
}

#[test]
fn a_batch_the_broker_never_serves_but_serves_around_is_a_gap_in_its_log() {
    // Indistinguishable from compaction to a client: the broker serves the
    // log before and after, twice, without those offsets.
    let partition = Partition::of_sizes(&[10, 5, 20, 7]);
    let out = consume(&partition, 0, true, Some((15, u32::MAX)));
    let expected: Vec<i64> = (0..15).chain(35..42).collect();
    assert_eq!(out.processed, expected);
    assert!(out.lost.is_empty());
    assert_eq!(
        out.absent,
        vec![Gap {
            first: 15,
            next: 35
        }]
    );
    assert_eq!(out.seeks, 3, "to 15, then twice from before it");
}

#[test]
fn records_the_broker_never_serves_across_are_reported_lost_after_bounded_seeks() {
    // Resumed inside a batch larger than the furthest seek back goes: the
    // local broker's fetch never serves that batch again.
    let partition = Partition::of_sizes(&[10, 200_000, 7]);
    let out = consume(&partition, 150_000, true, None);
    assert_eq!(out.processed, (200_010..200_017).collect::<Vec<_>>());
    assert_eq!(
        out.lost,
        vec![Gap {
            first: 150_000,
            next: 200_010
        }]
    );
    assert!(out.absent.is_empty());
    assert_eq!(out.seeks, MAX_SEEKS);
}

#[test]
fn made_up_reads_a_skip_brought_back_and_a_gap_in_the_log() {
    // The local broker's skip: the records come after a seek back.
    let mut skip = Continuity::default();
    skip.expect("t", 0, 100);
    assert_eq!(skip.observe("t", 0, 130), Verdict::SeekBack(100));
    assert_eq!(skip.observe("t", 0, 130), Verdict::SeekBack(0));
    for offset in 0..100 {
        assert_eq!(skip.observe("t", 0, offset), Verdict::Skip);
    }
    for offset in 100..131 {
        assert_eq!(skip.observe("t", 0, offset), Verdict::Take);
    }

    // A gap in the log: seeking to it gives the same later record; twice
    // the read from before it goes straight from 99 to 130.
    let mut gap = Continuity::default();
    gap.expect("t", 0, 100);
    assert_eq!(gap.observe("t", 0, 130), Verdict::SeekBack(100));
    assert_eq!(gap.observe("t", 0, 130), Verdict::SeekBack(0));
    for offset in 0..100 {
        assert_eq!(gap.observe("t", 0, offset), Verdict::Skip);
    }
    assert_eq!(gap.observe("t", 0, 130), Verdict::SeekBack(0));
    assert_eq!(gap.observe("t", 0, 99), Verdict::Skip);
    assert_eq!(
        gap.observe("t", 0, 130),
        Verdict::Absent(Gap {
            first: 100,
            next: 130
        })
    );
    assert_eq!(gap.observe("t", 0, 131), Verdict::Take);

    // Nothing before the gap at all: reads from offset 0 count.
    let mut start = Continuity::default();
    start.expect("t", 0, 0);
    assert_eq!(start.observe("t", 0, 7), Verdict::SeekBack(0));
    assert_eq!(start.observe("t", 0, 7), Verdict::SeekBack(0));
    assert_eq!(
        start.observe("t", 0, 7),
        Verdict::Absent(Gap { first: 0, next: 7 })
    );
}

#[test]
fn a_read_that_skips_the_records_before_the_gap_proves_nothing() {
    // Fault 1 with a batch starting before every seek target: no record
    // before the gap ever comes, so the gap is never taken for absent.
    let mut continuity = Continuity::default();
    continuity.expect("t", 0, 100_000);
    let mut verdicts = Vec::new();
    loop {
        match continuity.observe("t", 0, 100_500) {
            Verdict::SeekBack(target) => verdicts.push(target),
            verdict => {
                assert_eq!(
                    verdict,
                    Verdict::Lost(Gap {
                        first: 100_000,
                        next: 100_500
                    })
                );
                break;
            }
        }
    }
    assert_eq!(verdicts.len(), MAX_SEEKS as usize);
    assert_eq!(verdicts[..3], [100_000, 100_000 - 1024, 100_000 - 2048]);
}

#[test]
fn partitions_and_topics_are_apart_and_start_at_their_first_record() {
    let mut continuity = Continuity::default();
    assert_eq!(continuity.observe("m", 3, 5), Verdict::Take);
    assert_eq!(continuity.observe("m", 3, 6), Verdict::Take);
    assert_eq!(continuity.observe("r", 3, 100), Verdict::Take);
    assert_eq!(continuity.observe("m", 0, 40), Verdict::Take);
    assert_eq!(continuity.observe("m", 3, 6), Verdict::Skip, "a redelivery");
    assert_eq!(continuity.observe("m", 3, 9), Verdict::SeekBack(7));
    assert_eq!(continuity.observe("r", 3, 101), Verdict::Take);
    assert_eq!(continuity.observe("m", -1, 4), Verdict::Take);
}

#[test]
fn a_forgotten_partition_starts_afresh() {
    let mut continuity = Continuity::default();
    continuity.expect("t", 2, 50);
    continuity.forget("t", 2);
    assert_eq!(continuity.observe("t", 2, 70), Verdict::Take);
    continuity.expect("t", 2, 10);
    continuity.clear();
    assert_eq!(continuity.observe("t", 2, 3), Verdict::Take);
}

#[test]
fn giving_up_a_seek_takes_the_record_and_names_the_gap() {
    let mut continuity = Continuity::default();
    continuity.expect("t", 1, 20);
    assert_eq!(continuity.observe("t", 1, 25), Verdict::SeekBack(20));
    assert_eq!(
        continuity.give_up("t", 1, 25),
        Some(Gap {
            first: 20,
            next: 25
        })
    );
    assert_eq!(continuity.observe("t", 1, 26), Verdict::Take);
    assert_eq!(continuity.give_up("t", 1, 27), None);
}

#[test]
fn a_partition_silent_after_resuming_inside_its_last_batch_is_read_again() {
    let partition = Partition::of_sizes(&[10, 5, 20]);
    let out = consume(&partition, 22, true, None);
    assert_eq!(out.processed, (22..35).collect::<Vec<_>>());
    assert!(out.lost.is_empty() && out.absent.is_empty());
    assert_eq!(
        out.seeks, 2,
        "to the missing offset, then back past the batch start"
    );
}

#[test]
fn a_stall_check_waits_one_round_and_never_fires_without_missing_records() {
    let mut continuity = Continuity::default();
    assert_eq!(continuity.check_stalled("t", 0, 50), None, "start unknown");
    continuity.expect("t", 0, 30);
    assert_eq!(
        continuity.check_stalled("t", 0, 30),
        None,
        "nothing missing"
    );
    assert_eq!(
        continuity.check_stalled("t", 0, 30),
        None,
        "nothing missing"
    );
    assert_eq!(continuity.check_stalled("t", 0, 40), None, "just arrived");
    assert_eq!(continuity.observe("t", 0, 30), Verdict::Take);
    assert_eq!(continuity.check_stalled("t", 0, 40), None, "progress");
    assert_eq!(
        continuity.check_stalled("t", 0, 40),
        Some(Verdict::SeekBack(31))
    );
    for _ in 0..20 {
        if let Some(Verdict::Stuck(gap)) = continuity.check_stalled("t", 0, 40) {
            assert_eq!(
                gap,
                Gap {
                    first: 31,
                    next: 40
                }
            );
            for _ in 0..3 {
                assert_eq!(continuity.check_stalled("t", 0, 40), None, "said once");
            }
            assert_eq!(
                continuity.observe("t", 0, 31),
                Verdict::Take,
                "the records are taken if they come"
            );
            assert_eq!(continuity.check_stalled("t", 0, 40), None);
            assert_eq!(
                continuity.check_stalled("t", 0, 40),
                Some(Verdict::SeekBack(32)),
                "a new gap starts over"
            );
            return;
        }
    }
    panic!("never reported stuck");
}
