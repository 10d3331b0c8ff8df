//! Alert conditions on a rule's counts per window. Pure: counts in, a
//! decision out.

use chrono::{DateTime, Utc};
use weibostream_shared::rules_file::AlertSpec;

/// Which condition fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    /// The window holds at least `min_matches`.
    Threshold,
    /// The window holds at least `spike_factor` times the baseline (and at
    /// least `spike_min_count`).
    Spike,
}

impl AlertKind {
    /// The kind's name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Threshold => "threshold",
            AlertKind::Spike => "spike",
        }
    }
}

/// A condition met by the latest window.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// Which condition.
    pub kind: AlertKind,
    /// Matches in the latest window.
    pub matches: u64,
    /// The median of the previous windows, when the rule has a spike condition.
    pub baseline: Option<f64>,
}

/// The start of the window holding `time`: windows are `[start, start + window_s)`,
/// aligned to multiples of `window_s` since the Unix epoch.
pub fn window_start(time: DateTime<Utc>, window_s: u64) -> DateTime<Utc> {
    let window_ms = (window_s as i64).saturating_mul(1000).max(1);
    let start_ms = time.timestamp_millis().div_euclid(window_ms) * window_ms;
    DateTime::from_timestamp_millis(start_ms).unwrap_or(time)
}

/// Sums `series` (matches per batch time) into the `previous + 1` windows
/// ending with the one that starts at `latest`, oldest first; windows with
/// no batch count 0.
pub fn window_counts(
    series: &[(DateTime<Utc>, u64)],
    latest: DateTime<Utc>,
    window_s: u64,
    previous: usize,
) -> Vec<u64> {
    let mut counts = vec![0; previous + 1];
    let window = chrono::Duration::seconds(window_s as i64);
    for &(time, matches) in series {
        if time >= latest + window {
            continue;
        }
        let back = (latest - window_start(time, window_s)).num_seconds() / window_s as i64;
        if let Ok(back) = usize::try_from(back)
            && back <= previous
        {
            counts[previous - back] += matches;
        }
    }
    counts
}

/// Whether the last of `windows` (oldest first; the ones before it are the
/// baseline) meets `spec`'s conditions. A threshold is checked first.
pub fn detect(spec: &AlertSpec, windows: &[u64]) -> Option<Trigger> {
    let (&latest, previous) = windows.split_last()?;
    let baseline = spec.spike_factor.map(|_| median(previous));
    if spec.min_matches.is_some_and(|min| latest >= min) {
        return Some(Trigger {
            kind: AlertKind::Threshold,
            matches: latest,
            baseline,
        });
    }
    let (Some(factor), Some(baseline)) = (spec.spike_factor, baseline) else {
        return None;
    };
    (latest >= spec.spike_min_count && latest as f64 >= factor * baseline).then_some(Trigger {
        kind: AlertKind::Spike,
        matches: latest,
        baseline: Some(baseline),
    })
}

/// The median (0 for no values): robust to one earlier burst in the baseline.
fn median(values: &[u64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid] as f64
    } else {
        (sorted[mid - 1] + sorted[mid]) as f64 / 2.0
    }
}

#[cfg(test)]
mod tests;
