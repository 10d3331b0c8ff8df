//! Step 3b: the filter ×1 against the null consumer again, alternated, a
//! few times. On a shared machine one reading of either can be off by a
//! third; the median of paired ratios (each filter run next to its own
//! null-consumer run) is the figure to compare with a target.

use std::path::Path;

use serde::Serialize;

use crate::filter_run::{FilterPlan, FilterRun, run_filter};
use crate::load::run_null;
use crate::services::Services;

/// One round: a null-consumer pass and the filter ×1 right after it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Pair {
    /// The null consumer's posts/s.
    pub null_posts_per_s: f64,
    /// The filter ×1 (rules only) posts/s.
    pub filter_posts_per_s: f64,
    /// The filter ×1 with text features, posts/s, when measured.
    pub text_posts_per_s: Option<f64>,
}

impl Pair {
    /// The first pair, from the main runs: the load step's null consumer and
    /// the first ×1 runs (`None` without a rules-only ×1 run).
    pub fn from_main(null_posts_per_s: f64, filters: &[FilterRun]) -> Option<Pair> {
        let one = |text: bool| {
            filters
                .iter()
                .find(|r| r.replicas == 1 && r.text == text)
                .map(|r| r.posts_per_s)
        };
        Some(Pair {
            null_posts_per_s,
            filter_posts_per_s: one(false)?,
            text_posts_per_s: one(true),
        })
    }

    /// Filter ×1 / null consumer.
    pub fn ratio(&self) -> f64 {
        self.filter_posts_per_s / self.null_posts_per_s
    }

    /// Filter ×1 with text features / null consumer.
    pub fn text_ratio(&self) -> Option<f64> {
        self.text_posts_per_s.map(|t| t / self.null_posts_per_s)
    }
}

/// Rounds 2..=`rounds`: the null consumer, then the filter ×1 rules only,
/// then (with a `model`) with text features; each with new groups.
pub fn run_pairs(
    services: &Services,
    base: &FilterPlan<'_>,
    posts: u64,
    model: Option<&Path>,
    rounds: usize,
) -> anyhow::Result<Vec<Pair>> {
    let mut pairs = Vec::new();
    for round in 2..=rounds {
        eprintln!("[bench] 3b. repeat {round} of {rounds}: null consumer, filter x1");
        let null = run_null(
            services,
            base.raw_topic,
            posts,
            &format!("bench-null-r{round}"),
            &format!("null-consumer-r{round}.log"),
        )?;
        let plan = |model| FilterPlan {
            replicas: 1,
            model,
            round,
            ..*base
        };
        let filter = run_filter(services, &plan(None))?;
        let text = match model {
            Some(model) => Some(run_filter(services, &plan(Some(model)))?.posts_per_s),
            None => None,
        };
        pairs.push(Pair {
            null_posts_per_s: null.run.posts_per_s(),
            filter_posts_per_s: filter.posts_per_s,
            text_posts_per_s: text,
        });
    }
    Ok(pairs)
}

/// The median of `values` (the mean of the middle two for an even count);
/// `None` when empty.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_none() {
        assert_eq!(median(vec![0.6, 0.4, 0.5]), Some(0.5));
        assert_eq!(median(vec![0.7, 0.4, 0.5, 0.6]), Some(0.55));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn ratios_divide_by_the_pairs_own_null_consumer() {
        let pair = Pair {
            null_posts_per_s: 500.0,
            filter_posts_per_s: 250.0,
            text_posts_per_s: Some(100.0),
        };
        assert_eq!(pair.ratio(), 0.5);
        assert_eq!(pair.text_ratio(), Some(0.2));
    }
}
