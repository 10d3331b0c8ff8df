//! What the analyzer does per post, depending on what is configured.

use super::*;
use crate::classify::{TrainOptions, train};

fn model() -> Arc<Classifier> {
    let rows = [
        ("服务很好，满意", "positive"),
        ("质量很好，推荐", "positive"),
        ("服务太差，失望", "negative"),
        ("质量差，垃圾", "negative"),
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
    Arc::new(
        train(
            &examples,
            TrainOptions {
                min_df: 1,
                ..TrainOptions::default()
            },
        )
        .unwrap(),
    )
}

fn rules(toml_rules: &[(&str, &str)], model: Option<&Classifier>) -> ActiveRules {
    let toml: String = toml_rules
        .iter()
        .map(|(id, q)| format!("[[rule]]\nid = {id:?}\nquery = {q:?}\n"))
        .collect();
    ActiveRules::compile(&toml, "rules.toml", model).unwrap()
}

#[test]
fn no_text_features_means_no_tokenization() {
    let active = rules(&[("a", "银行")], None);
    let mut analyzer = PostAnalyzer::new(&TrendingConfig::default(), None);
    let (mut scratch, mut matched) = (active.rules.scratch(), Vec::new());
    assert_eq!(
        analyzer.analyze(&active, "建设银行很差", &mut scratch, &mut matched),
        None
    );
    assert_eq!(matched, [0]);
    assert!(analyzer.tokens.is_empty(), "nothing tokenized");
    assert_eq!(analyzer.close_batch(), None);
}

#[test]
fn label_rules_classify_only_keyword_candidates() {
    let model = model();
    let active = rules(
        &[
            ("neg", "银行 AND label:negative"),
            ("pos", "银行 AND label:positive"),
        ],
        Some(&model),
    );
    let mut analyzer = PostAnalyzer::new(&TrendingConfig::default(), Some(model.clone()));
    let (mut scratch, mut matched) = (active.rules.scratch(), Vec::new());

    let verdict = analyzer.analyze(
        &active,
        "这家银行服务太差，失望",
        &mut scratch,
        &mut matched,
    );
    assert_eq!(matched, [0]);
    let verdict = verdict.unwrap();
    assert_eq!(analyzer.label_name(&verdict), Some("negative"));
    assert!(verdict.probability > 0.5);

    let verdict = analyzer.analyze(&active, "银行质量很好，推荐", &mut scratch, &mut matched);
    assert_eq!(matched, [1]);
    assert_eq!(analyzer.label_name(&verdict.unwrap()), Some("positive"));

    analyzer.tokens = TokenScratch::new();
    let verdict = analyzer.analyze(&active, "服务太差，失望", &mut scratch, &mut matched);
    assert!(matched.is_empty());
    assert_eq!(verdict, None, "no keyword: not classified");
    assert!(analyzer.tokens.is_empty(), "and not even tokenized");
}

#[test]
fn matched_posts_are_labelled_when_a_model_is_loaded() {
    let model = model();
    let active = rules(&[("a", "银行")], Some(&model));
    let mut analyzer = PostAnalyzer::new(&TrendingConfig::default(), Some(model));
    let (mut scratch, mut matched) = (active.rules.scratch(), Vec::new());
    let verdict = analyzer.analyze(&active, "银行服务很好", &mut scratch, &mut matched);
    assert_eq!(analyzer.label_name(&verdict.unwrap()), Some("positive"));
    assert_eq!(
        analyzer.analyze(&active, "天气很好", &mut scratch, &mut matched),
        None
    );
}

#[test]
fn trending_counts_every_post_and_per_rule() {
    let active = rules(&[("bank", "银行"), ("none", "股票")], None);
    let config = TrendingConfig {
        enabled: true,
        min_posts: 1,
        ..TrendingConfig::default()
    };
    let mut analyzer = PostAnalyzer::new(&config, None);
    analyzer.start_batch(active.rules.len());
    let (mut scratch, mut matched) = (active.rules.scratch(), Vec::new());
    for text in ["建设银行 地震", "地震 天气", "天气 很好"] {
        analyzer.analyze(&active, text, &mut scratch, &mut matched);
    }
    let trending = analyzer.close_batch().unwrap();
    let overall: Vec<&str> = trending.overall.iter().map(|t| t.term.as_str()).collect();
    assert_eq!(&overall[..2], ["地震", "天气"]);
    let bank: Vec<&str> = trending.per_rule[&0]
        .iter()
        .map(|t| t.term.as_str())
        .collect();
    assert_eq!(bank, ["地震", "建设银行"]);
    assert!(!trending.per_rule.contains_key(&1));
    analyzer.start_batch(2);
    assert_eq!(analyzer.close_batch().unwrap(), Trending::default());
}

#[test]
fn rule_label_order_need_not_match_the_model() {
    let model = model();
    // Rule-set labels come out as [positive, negative]; the model's are sorted.
    let active = rules(
        &[
            ("pos", "银行 AND label:positive>=0.5"),
            ("neg", "银行 AND label:negative>=0.5"),
        ],
        Some(&model),
    );
    assert_eq!(active.rules.labels(), ["positive", "negative"]);
    let mut analyzer = PostAnalyzer::new(&TrendingConfig::default(), Some(model));
    let (mut scratch, mut matched) = (active.rules.scratch(), Vec::new());
    analyzer.analyze(&active, "银行服务太差，失望", &mut scratch, &mut matched);
    assert_eq!(matched, [1]);
    analyzer.analyze(&active, "银行质量很好，推荐", &mut scratch, &mut matched);
    assert_eq!(matched, [0]);
}
