//! Replays the filter's per-post step (`weibostream_filter::step::PostStep`:
//! decode, match the 20 benchmark rules, analyze, encode the matched record),
//! the same function the filter's run loop calls, over synthetic posts and
//! without a broker: for instruction counts that do not depend on how busy
//! the machine is.
//!
//! `valgrind --tool=callgrind target/release/replay 20000` (or without
//! valgrind for ns/post on a quiet machine); `replay 20000 MODEL` adds the
//! text features the benchmark's text runs use (trending terms, and the
//! classifier in MODEL labelling matched posts). The posts come from the
//! collector's synthetic source with a fixed seed and are all encoded
//! before the measured loop, so the counts cover the filter's work only
//! (the loop starts at `replay_posts` in callgrind's output).
//!
//! `FILTER__FOLD_CHINESE_SCRIPTS=false` turns off matching across Chinese
//! scripts, as in the filter's config; `REPLAY_TRADITIONAL=1` rewrites every
//! synthetic post into traditional characters first (OpenCC's `s2t`), the
//! case where every Chinese post is folded back.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use weibostream_collector::synthetic::SyntheticPosts;
use weibostream_filter::classify::Classifier;
use weibostream_filter::config::TrendingConfig;
use weibostream_filter::reload::ActiveRules;
use weibostream_filter::rules::MatchOptions;
use weibostream_filter::step::{Outcome, PostStep};

const RULES: &str = include_str!("../../rules20.toml");

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |n| n.parse().expect("a post count"));
    let model = std::env::args()
        .nth(2)
        .map(|path| Arc::new(Classifier::load(&PathBuf::from(path)).expect("a classifier model")));
    let options = MatchOptions {
        fold_chinese_scripts: std::env::var("FILTER__FOLD_CHINESE_SCRIPTS").as_deref()
            != Ok("false"),
    };
    let traditional = std::env::var("REPLAY_TRADITIONAL").as_deref() == Ok("1");
    let mut source = SyntheticPosts::new(7);
    let now = chrono::Utc::now();
    let records: Vec<Vec<u8>> = (0..count)
        .map(|_| {
            let mut post = source.next_post(now);
            if traditional {
                post.text = hanconv::s2t(&post.text);
            }
            serde_json::to_vec(&post).unwrap()
        })
        .collect();
    if model.is_some() {
        // Loading the dictionary (~0.3 s) is not per-post work.
        weibostream_filter::text::Tokenizer::shared();
    }
    let started = Instant::now();
    // A clone outlives the loop: dropping the model is not per-post work.
    let matched = replay_posts(&records, model.clone(), options);
    let elapsed = started.elapsed();
    println!(
        "{count} posts, {matched} matched, {:.0} ns/post",
        elapsed.as_nanos() as f64 / count as f64
    );
}

/// The measured loop: what the filter does per record, minus the broker.
#[inline(never)]
fn replay_posts(
    records: &[Vec<u8>],
    model: Option<Arc<Classifier>>,
    options: MatchOptions,
) -> usize {
    let active =
        ActiveRules::compile_with(RULES, "rules20.toml", model.as_deref(), options).unwrap();
    let trending = TrendingConfig {
        enabled: model.is_some(),
        ..TrendingConfig::default()
    };
    let mut step = PostStep::new(active, &trending, model, 1 << 20);
    step.start_batch(&chrono::Utc::now(), "replay");
    let mut matched_posts = 0;
    for (offset, record) in records.iter().enumerate() {
        match step.process(Some(record), 0, offset as i64) {
            Outcome::Matched { record, .. } => {
                black_box(record);
                matched_posts += 1;
            }
            Outcome::Unmatched => {}
            Outcome::Rejected(rejected) => panic!("a synthetic post was rejected: {rejected:?}"),
        }
    }
    matched_posts
}
