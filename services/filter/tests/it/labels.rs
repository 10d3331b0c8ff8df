//! `label:` rules end to end: a model trained and saved by the library,
//! loaded by the filter from `classifier.model_path`, filters matched posts
//! against a real broker; matched records carry label and probability and
//! reports carry trending terms. And the startup checks of the binary.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::*;
use serde_json::Value;
use weibostream_filter::classify::{TrainOptions, train};
use weibostream_filter::text::Tokenizer;

const LIMIT: Duration = Duration::from_secs(40);

/// Trains a small sentiment model and saves it to `path`.
fn save_model(path: &Path) {
    let rows = [
        ("服务很好，非常满意", "positive"),
        ("质量很好，推荐购买", "positive"),
        ("很满意，很好", "positive"),
        ("服务太差，非常失望", "negative"),
        ("质量差，不推荐", "negative"),
        ("很失望，太差", "negative"),
    ];
    let tokens: Vec<Vec<String>> = rows
        .iter()
        .map(|(text, _)| Tokenizer::shared().tokens(text))
        .collect();
    let examples: Vec<_> = tokens
        .iter()
        .zip(rows)
        .map(|(t, (_, label))| (t.as_slice(), label))
        .collect();
    let options = TrainOptions {
        min_df: 1,
        ..TrainOptions::default()
    };
    train(&examples, options).unwrap().save(path).unwrap();
}

fn find<'a>(matched: &'a [Value], post: &str) -> Option<&'a Value> {
    matched
        .iter()
        .find(|m| m["post"]["id"] == format!("weibo:{post}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_label_rule_keeps_only_negative_posts_about_the_bank() {
    let broker = Broker::start();
    let kafka = broker.kafka();
    let topics = unique_topics();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json");
    save_model(&model);
    let rules = dir.path().join("rules.toml");
    write_rules(
        &rules,
        &[
            ("bank-negative", "银行 AND label:negative>=0.5"),
            ("bank", "银行"),
        ],
    );
    let mut config = config(&kafka, &topics, &rules);
    config.classifier.model_path = Some(model);
    config.trending.enabled = true;
    config.trending.min_posts = 1;
    let filter = start_filter(config);
    let read = |topic: &str| read_all(&kafka, topic, Duration::from_secs(3));
    eventually(LIMIT, || read(&topics.reports), |r| !r.is_empty()).await;

    publish(&kafka, &topics.raw, "neg", "这家银行服务太差，非常失望").await;
    publish(&kafka, &topics.raw, "pos", "这家银行服务很好，很满意").await;
    publish(&kafka, &topics.raw, "other", "快递服务太差，很失望").await;
    let matched = eventually(
        LIMIT,
        || read(&topics.matched),
        |m| find(m, "neg").is_some() && find(m, "pos").is_some(),
    )
    .await;
    let negative = find(&matched, "neg").unwrap();
    assert_eq!(
        negative["rules"],
        serde_json::json!(["bank-negative", "bank"])
    );
    assert_eq!(negative["label"], "negative");
    assert!(
        negative["probability"].as_f64().unwrap() >= 0.5,
        "{negative}"
    );
    let positive = find(&matched, "pos").unwrap();
    assert_eq!(positive["rules"], serde_json::json!(["bank"]));
    assert_eq!(positive["label"], "positive");
    assert!(find(&matched, "other").is_none(), "no keyword, no match");

    // The posts may fall into one batch or several: look at all reports.
    let has_term = |report: &Value, term: &str| {
        report["top_terms"]
            .as_array()
            .is_some_and(|terms| terms.iter().any(|t| t["term"] == term))
    };
    let reports = eventually(
        LIMIT,
        || read(&topics.reports),
        |r| r.iter().any(|r| has_term(r, "服务")),
    )
    .await;
    assert!(
        reports
            .iter()
            .any(|r| r["top_terms_per_rule"]["bank"].is_array()),
        "{reports:?}"
    );
    filter.stop().await;
}

fn filter_binary(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_filter"))
        .args(args)
        .envs(env.iter().copied())
        .env("KAFKA_BROKERS", "127.0.0.1:1")
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_label_rule_without_a_usable_model_is_a_startup_error_naming_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    write_rules(
        &rules,
        &[("plain", "x"), ("ccb-neg", "建设银行 AND label:negative")],
    );
    let rules = rules.to_str().unwrap();

    let (code, message) = filter_binary(&["--rules", rules], &[]);
    assert_eq!(code, Some(2), "{message}");
    assert!(message.contains(r#"rule "ccb-neg" (rule 2"#), "{message}");
    assert!(message.contains("column 10"), "{message}");
    assert!(message.contains("classifier.model_path"), "{message}");

    let model = dir.path().join("model.json");
    save_model(&model);
    let bad = dir.path().join("bad.toml");
    write_rules(&bad, &[("ccb-angry", "建设银行 AND label:angry")]);
    let env = [("FILTER__CLASSIFIER__MODEL_PATH", model.to_str().unwrap())];
    let (code, message) = filter_binary(&["--rules", bad.to_str().unwrap()], &env);
    assert_eq!(code, Some(2), "{message}");
    assert!(
        message.contains(r#"label "angry" is not a label of the model"#),
        "{message}"
    );

    let missing = [("FILTER__CLASSIFIER__MODEL_PATH", "/nonexistent/model.json")];
    let (code, message) = filter_binary(&["--rules", rules], &missing);
    assert_eq!(code, Some(2), "{message}");
    assert!(message.contains("/nonexistent/model.json"), "{message}");
}
