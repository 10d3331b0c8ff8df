use super::*;

fn spike(factor: f64, min_count: u64, baseline_windows: usize) -> AlertSpec {
    AlertSpec {
        window_s: 60,
        min_matches: None,
        spike_factor: Some(factor),
        spike_min_count: min_count,
        baseline_windows,
        cooldown_s: None,
        channels: None,
    }
}

fn threshold(min: u64) -> AlertSpec {
    AlertSpec {
        min_matches: Some(min),
        spike_factor: None,
        ..spike(2.0, 1, 6)
    }
}

/// Runs `spec` over `series` (one count per window) as the sink does, one
/// window at a time with the `baseline_windows` before it as baseline;
/// returns the indices of the windows that fired. The first windows of a
/// series are history: a spike is looked for only once a full baseline
/// precedes it.
fn fired(spec: &AlertSpec, series: &[u64]) -> Vec<usize> {
    let start = if spec.spike_factor.is_some() {
        spec.baseline_windows
    } else {
        0
    };
    (start..series.len())
        .filter(|&i| detect(spec, &series[i.saturating_sub(spec.baseline_windows)..=i]).is_some())
        .collect()
}

#[test]
fn steady_series_never_spikes() {
    let steady = [20, 22, 19, 21, 20, 23, 18, 20, 22, 21, 19, 20];
    assert_eq!(fired(&spike(2.0, 10, 6), &steady), Vec::<usize>::new());
}

#[test]
fn ramp_spikes_only_where_it_outgrows_the_median() {
    // After six quiet windows, doubling each window: every window from the
    // first that reaches spike_min_count is at least twice its median.
    let ramp = [0, 0, 0, 0, 0, 0, 5, 10, 20, 40, 80, 160];
    assert_eq!(fired(&spike(2.0, 10, 6), &ramp), vec![7, 8, 9, 10, 11]);
    // A gentle ramp (+10% a window) never doubles its median.
    let gentle: Vec<u64> = [100; 6]
        .into_iter()
        .chain((0..12).map(|i| (100.0 * 1.1f64.powi(i)) as u64))
        .collect();
    assert_eq!(fired(&spike(2.0, 10, 6), &gentle), Vec::<usize>::new());
}

#[test]
fn single_burst_fires_once_and_does_not_raise_the_baseline() {
    let series = [10, 12, 9, 11, 10, 10, 60, 11, 10, 12, 45, 10];
    assert_eq!(fired(&spike(3.0, 10, 6), &series), vec![6, 10]);
    let trigger = detect(&spike(3.0, 10, 6), &[10, 12, 9, 11, 10, 60, 45]).unwrap();
    assert_eq!(trigger.kind, AlertKind::Spike);
    assert_eq!(trigger.matches, 45);
    assert_eq!(
        trigger.baseline,
        Some(10.5),
        "the median ignores the burst of 60"
    );
}

#[test]
fn quiet_rule_needs_the_minimum_count() {
    // 1 -> 3 is a tripling, but below spike_min_count.
    let quiet = [0, 0, 1, 0, 0, 1, 3, 0, 2, 1, 0];
    assert_eq!(fired(&spike(2.0, 10, 6), &quiet), Vec::<usize>::new());
    assert_eq!(fired(&threshold(5), &quiet), Vec::<usize>::new());
    assert_eq!(
        detect(&spike(2.0, 10, 6), &[0, 0, 0, 10]).map(|t| t.kind),
        Some(AlertKind::Spike)
    );
}

#[test]
fn threshold_fires_at_and_above_the_minimum() {
    assert_eq!(fired(&threshold(20), &[5, 19, 20, 35, 3]), vec![2, 3]);
    let trigger = detect(&threshold(20), &[1, 2, 20]).unwrap();
    assert_eq!(
        (trigger.kind, trigger.matches, trigger.baseline),
        (AlertKind::Threshold, 20, None)
    );
}

#[test]
fn windows_are_aligned_and_summed_from_batches() {
    let t = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
    assert_eq!(window_start(t(3_725), 60), t(3_720));
    assert_eq!(window_start(t(3_720), 60), t(3_720));
    let series = [
        (t(3_545), 1),
        (t(3_600), 2),
        (t(3_655), 3),
        (t(3_725), 4),
        (t(3_779), 5),
        (t(3_780), 9),
    ];
    // Windows starting 3540, 3600, 3660, 3720 (latest); 3780 is after it.
    assert_eq!(window_counts(&series, t(3_720), 60, 3), vec![1, 5, 0, 9]);
    assert_eq!(window_counts(&series, t(3_720), 60, 1), vec![0, 9]);
}
