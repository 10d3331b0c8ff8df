//! Training on small synthetic data; the real-data targets live in
//! `tests/classifier_targets.rs`.

use super::*;
use crate::classify::model::ClassifyScratch;
use crate::text::Tokenizer;

fn tokenized(rows: &[(&str, &str)]) -> Vec<(Vec<String>, String)> {
    rows.iter()
        .map(|(text, label)| (Tokenizer::shared().tokens(text), (*label).to_owned()))
        .collect()
}

fn fit(rows: &[(Vec<String>, String)], options: TrainOptions) -> anyhow::Result<Classifier> {
    let examples: Vec<TokenizedExample<'_>> = rows
        .iter()
        .map(|(t, l)| (t.as_slice(), l.as_str()))
        .collect();
    train(&examples, options)
}

const ROWS: &[(&str, &str)] = &[
    ("服务很好，非常满意", "positive"),
    ("质量很好，推荐购买", "positive"),
    ("物流快，很满意", "positive"),
    ("great phone, love it", "positive"),
    ("love the screen, great", "positive"),
    ("服务太差，非常失望", "negative"),
    ("质量差，不推荐", "negative"),
    ("物流慢，很失望", "negative"),
    ("terrible phone, hate it", "negative"),
    ("hate the screen, terrible", "negative"),
];

#[test]
fn learns_separable_data_and_reports_probabilities() {
    let model = fit(
        &tokenized(ROWS),
        TrainOptions {
            min_df: 1,
            ..TrainOptions::default()
        },
    )
    .unwrap();
    assert_eq!(model.labels(), ["negative", "positive"]);
    let mut scratch = ClassifyScratch::default();
    for (text, label) in [
        ("很满意，很好", "positive"),
        ("非常失望，太差", "negative"),
        ("love it", "positive"),
        ("hate it", "negative"),
    ] {
        let prediction = model.classify_text(text, &mut scratch);
        assert_eq!(model.labels()[prediction.label], label, "{text}");
        assert!(prediction.probability > 0.5 && prediction.probability <= 1.0);
        let sum: f64 = scratch.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-9);
    }
    assert!(model.file().training.iterations > 0);
}

#[test]
fn min_df_prunes_the_vocabulary() {
    let rows = tokenized(ROWS);
    let all = fit(
        &rows,
        TrainOptions {
            min_df: 1,
            ..TrainOptions::default()
        },
    )
    .unwrap();
    let pruned = fit(
        &rows,
        TrainOptions {
            min_df: 2,
            ..TrainOptions::default()
        },
    )
    .unwrap();
    assert!(pruned.file().vocabulary.len() < all.file().vocabulary.len());
    assert!(pruned.file().vocabulary.iter().any(|t| t == "很"));
    let error = fit(
        &rows,
        TrainOptions {
            min_df: 100,
            ..TrainOptions::default()
        },
    )
    .unwrap_err();
    assert!(error.to_string().contains("100"), "{error}");
}

#[test]
fn one_label_is_an_error() {
    let rows = tokenized(&[("好", "positive"), ("很好", "positive")]);
    assert!(fit(&rows, TrainOptions::default()).is_err());
}

#[test]
fn three_labels_train_a_softmax() {
    let mut rows: Vec<(&str, &str)> = ROWS.to_vec();
    rows.extend([
        ("今天天气一般", "neutral"),
        ("天气一般般", "neutral"),
        ("一般的天气", "neutral"),
    ]);
    let model = fit(
        &tokenized(&rows),
        TrainOptions {
            min_df: 1,
            ..TrainOptions::default()
        },
    )
    .unwrap();
    assert_eq!(model.labels().len(), 3);
    let mut scratch = ClassifyScratch::default();
    let prediction = model.classify_text("天气一般", &mut scratch);
    assert_eq!(model.labels()[prediction.label], "neutral");
}

#[test]
fn save_load_round_trip_predicts_identically() {
    let model = fit(
        &tokenized(ROWS),
        TrainOptions {
            min_df: 1,
            ..TrainOptions::default()
        },
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    model.save(&path).unwrap();
    let loaded = Classifier::load(&path).unwrap();
    assert_eq!(loaded.file(), model.file());
    let (mut a, mut b) = (ClassifyScratch::default(), ClassifyScratch::default());
    for (text, _) in ROWS.iter().chain(&[("完全没见过的词", ""), ("", "")]) {
        assert_eq!(
            model.classify_text(text, &mut a),
            loaded.classify_text(text, &mut b)
        );
        assert_eq!(a.probabilities, b.probabilities);
    }
}

#[test]
fn bad_model_files_are_rejected_with_reasons() {
    let model = fit(
        &tokenized(ROWS),
        TrainOptions {
            min_df: 1,
            ..TrainOptions::default()
        },
    )
    .unwrap();
    let mut file = model.file().clone();
    file.version = 99;
    let error = Classifier::from_file(file).unwrap_err().to_string();
    assert!(error.contains("version 99"), "{error}");
    let mut file = model.file().clone();
    file.weights[0].pop();
    assert!(Classifier::from_file(file).is_err());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, "{}").unwrap();
    let error = format!("{:#}", Classifier::load(&path).unwrap_err());
    assert!(error.contains("bad.json"), "{error}");
}
