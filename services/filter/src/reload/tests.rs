//! Rules compilation with labels, and change detection.

use super::*;
use crate::classify::{TrainOptions, train};
use crate::text::Tokenizer;

fn model() -> Classifier {
    let rows = [
        ("很好", "positive"),
        ("很差", "negative"),
        ("好", "positive"),
        ("差", "negative"),
    ];
    let tokens: Vec<Vec<String>> = rows
        .iter()
        .map(|(t, _)| Tokenizer::shared().tokens(t))
        .collect();
    let examples: Vec<_> = tokens
        .iter()
        .zip(rows)
        .map(|(t, (_, l))| (t.as_slice(), l))
        .collect();
    train(
        &examples,
        TrainOptions {
            min_df: 1,
            ..TrainOptions::default()
        },
    )
    .unwrap()
}

const LABELLED: &str = "[[rule]]\nid = \"plain\"\nquery = \"x\"\n\n\
                        [[rule]]\nid = \"neg\"\nquery = \"建设银行 AND label:negative>=0.8\"\n";

#[test]
fn label_rules_need_a_classifier() {
    let error = ActiveRules::compile(LABELLED, "rules.toml", None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "rule \"neg\" (rule 2 in rules.toml): column 10: label:negative needs a classifier, \
         but classifier.model_path is not set"
    );
    let plain = ActiveRules::compile("[[rule]]\nid = \"a\"\nquery = \"x\"\n", "r", None).unwrap();
    assert!(plain.label_map.is_empty());
}

#[test]
fn labels_are_mapped_to_the_model_and_unknown_ones_rejected() {
    let model = model();
    let active = ActiveRules::compile(LABELLED, "rules.toml", Some(&model)).unwrap();
    assert_eq!(active.rules.labels(), ["negative"]);
    assert_eq!(active.label_map, [model.label_index("negative").unwrap()]);
    let bad = LABELLED.replace("label:negative", "label:angry");
    let error = ActiveRules::compile(&bad, "rules.toml", Some(&model)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "rule \"neg\" (rule 2 in rules.toml): column 10: label \"angry\" is not a label of the \
         model (it has: negative, positive)"
    );
}

#[test]
fn syntax_errors_keep_their_rule_and_column() {
    let bad = LABELLED.replace(">=0.8", ">=8");
    let error = ActiveRules::compile(&bad, "rules.toml", Some(&model())).unwrap_err();
    assert!(matches!(error, RulesError::Rules(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("rule \"neg\" (rule 2 in rules.toml): column 26:"),
        "{error}"
    );
}

#[test]
fn watcher_reports_changed_contents_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, "one").unwrap();
    let mut watcher = RulesWatcher::new(&path, "one".into());
    assert_eq!(watcher.path(), path);
    assert_eq!(watcher.check(false).unwrap(), None);
    assert_eq!(watcher.check(true).unwrap(), None, "same text, nothing new");
    std::fs::write(&path, "two!").unwrap();
    assert_eq!(watcher.check(false).unwrap().as_deref(), Some("two!"));
    assert_eq!(watcher.check(false).unwrap(), None);
    std::fs::write(&path, "two!").unwrap();
    assert_eq!(watcher.check(false).unwrap(), None, "rewritten unchanged");
    std::fs::remove_file(&path).unwrap();
    assert!(watcher.check(false).is_err());
}

#[tokio::test]
async fn reload_requests_are_remembered() {
    let handle = ReloadHandle::default();
    handle.clone().request();
    tokio::time::timeout(std::time::Duration::from_secs(1), handle.requested())
        .await
        .unwrap();
}
