use super::*;

/// One partition of a broker: record batches as `(base offset, records)`,
/// contiguous from 0.
struct Partition {
    batches: Vec<(i64, i64)>,
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
        Partition { batches }
    }

    fn end(&self) -> i64 {
        self.batches.last().map_or(0, |&(base, n)| base + n)
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

/// What a consumer that obeys `continuity` processes when it starts the
/// partition at `start` (its committed offset); the batch at `hidden` is
/// not yet stored for the first `hidden_fetches` fetches (fault 2).
fn consume(
    partition: &Partition,
    start: i64,
    tansu: bool,
    hidden: Option<(i64, u32)>,
) -> (Vec<i64>, Vec<Gap>, u32) {
    let mut continuity = Continuity::default();
    continuity.expect("t", 0, start);
    let (mut processed, mut lost, mut seeks) = (Vec::new(), Vec::new(), 0);
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
                    seeks += 1;
                    position = target;
                }
                Some(Verdict::Stuck(gap)) => lost.push(gap),
                Some(verdict) => panic!("{verdict:?} from a stall check"),
                None => {}
            }
            continue;
        };
        let from = position;
        position = base + n;
        // A client drops the records of a batch before its fetch position.
        for offset in base.max(from)..base + n {
            match continuity.observe("t", 0, offset) {
                Verdict::Take => processed.push(offset),
                Verdict::Skip => {}
                Verdict::Lost(gap) => {
                    lost.push(gap);
                    processed.push(offset);
                }
                Verdict::SeekBack(target) => {
                    seeks += 1;
                    position = target;
                    break;
                }
                Verdict::Stuck(gap) => panic!("stuck {gap:?} from a record"),
            }
        }
    }
    (processed, lost, seeks)
}

#[test]
fn resuming_inside_a_batch_on_tansu_gets_the_rest_of_it_back() {
    let partition = Partition::of_sizes(&[10, 5, 3000, 7, 1, 9000, 4]);
    for start in [
        0, 3, 10, 12, 15, 1000, 3014, 3015, 3020, 3022, 3023, 9000, 12023, 12024,
    ] {
        let (processed, lost, _) = consume(&partition, start, true, None);
        let expected: Vec<i64> = (start..partition.end()).collect();
        assert_eq!(processed, expected, "start {start}");
        assert!(lost.is_empty(), "start {start}: {lost:?}");
    }
}

#[test]
fn a_correct_broker_never_makes_it_seek() {
    let partition = Partition::of_sizes(&[10, 5, 3000, 7, 1]);
    for start in [0, 3, 12, 2000] {
        let (processed, lost, seeks) = consume(&partition, start, false, None);
        assert_eq!(processed, (start..partition.end()).collect::<Vec<_>>());
        assert_eq!((lost.len(), seeks), (0, 0));
    }
}

#[test]
fn a_batch_stored_late_is_read_when_it_is_there() {
    let partition = Partition::of_sizes(&[10, 5, 20, 7]);
    // The batch at 15 is missing from the first three fetches.
    let (processed, lost, seeks) = consume(&partition, 0, true, Some((15, 3)));
    assert_eq!(processed, (0..partition.end()).collect::<Vec<_>>());
    assert!(lost.is_empty());
    assert_eq!(seeks, 1, "one seek to the missing offset itself");
}

#[test]
fn records_that_never_come_back_are_reported_lost_after_bounded_seeks() {
    let partition = Partition::of_sizes(&[10, 5, 20, 7]);
    let (processed, lost, seeks) = consume(&partition, 0, true, Some((15, u32::MAX)));
    let expected: Vec<i64> = (0..15).chain(35..42).collect();
    assert_eq!(processed, expected);
    assert_eq!(
        lost,
        vec![Gap {
            first: 15,
            next: 35
        }]
    );
    assert_eq!(lost[0].records(), 20);
    assert!(seeks <= MAX_SEEKS, "{seeks} seeks");
}

#[test]
fn seeks_stop_at_offset_zero() {
    let mut continuity = Continuity::default();
    continuity.expect("t", 0, 100);
    assert_eq!(continuity.observe("t", 0, 130), Verdict::SeekBack(100));
    assert_eq!(continuity.observe("t", 0, 130), Verdict::SeekBack(0));
    assert_eq!(
        continuity.observe("t", 0, 130),
        Verdict::Lost(Gap {
            first: 100,
            next: 130
        })
    );
    assert_eq!(continuity.observe("t", 0, 131), Verdict::Take);
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
    let (processed, lost, seeks) = consume(&partition, 22, true, None);
    assert_eq!(processed, (22..35).collect::<Vec<_>>());
    assert!(lost.is_empty());
    assert_eq!(
        seeks, 2,
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
