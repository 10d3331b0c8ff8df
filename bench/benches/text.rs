//! Per-post cost of the filter's text work: tokenize, TF-IDF (trending)
//! update, classify, rule match, and the whole per-post analysis with text
//! features off and on.
//!
//! `cargo bench -p weibostream-bench --bench text`
//!
//! The classifier is trained on the real sentiment data when
//! `data/sentiment/` exists (run `deploy/data/fetch-sentiment-data.sh`),
//! otherwise on the sample posts below.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weibostream_filter::analysis::PostAnalyzer;
use weibostream_filter::classify::data::read_examples;
use weibostream_filter::classify::{Classifier, ClassifyScratch, TrainOptions, train};
use weibostream_filter::config::TrendingConfig;
use weibostream_filter::reload::ActiveRules;
use weibostream_filter::text::{BatchTerms, TokenScratch, Tokenizer};

/// Weibo-like posts: Chinese, some English, emoticons, URLs, mentions.
const POSTS: &[&str] = &[
    "建设银行今天股价大涨，涨幅超过5%，散户都在讨论[哈哈] http://t.cn/RZabc12",
    "工商银行的服务太差了，排队两个小时还没办完业务，非常失望[怒]",
    "//@财经小明: 招商银行下跌，市场情绪低迷，大家怎么看？#银行股#",
    "今天天气不错，和朋友去公园散步，心情很好😊",
    "China Construction Bank shares surge after strong earnings report",
    "刚买的手机质量很差，用了三天就坏了，不推荐购买",
    "这部电影太好看了！强烈推荐给大家 [赞][赞]",
    "央行宣布降准0.5个百分点，释放长期资金约1万亿元",
    "I hate waiting in line at the bank, worst service ever",
    "周末加班，好累啊，什么时候才能放假 [泪]",
    "建设银行手机银行又崩溃了，转账一直失败，客服电话打不通",
    "新年快乐！祝大家身体健康，万事如意🎉🎉",
    "The new phone is great, love the camera and the battery life",
    "股市今天全线飘红，银行板块领涨，建设银行涨停",
    "物流速度很快，包装也很好，五星好评",
    "@小红 你看了昨天的新闻吗？地震了，大家注意安全",
];

const RULES: &str = r#"
[[rule]]
id = "ccb-rise"
query = "建设银行 AND 涨"

[[rule]]
id = "bank-fall"
query = "(建设银行 OR 工商银行 OR 招商银行) AND (跌 OR 下跌)"

[[rule]]
id = "banks-en"
query = '"construction bank" OR (bank* AND (rise* OR surge*))'

[[rule]]
id = "bank-negative"
query = "银行 AND label:negative>=0.7"
"#;

fn model() -> Classifier {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sentiment");
    let mut rows: Vec<(String, String)> = Vec::new();
    for (file, limit) in [("zh.jsonl", 10_000), ("en.jsonl", 5_000)] {
        if let Ok(examples) = read_examples(&data.join(file)) {
            rows.extend(examples.into_iter().take(limit).map(|e| (e.text, e.label)));
        }
    }
    if rows.is_empty() {
        eprintln!(
            "bench: {} not found; training on the sample posts",
            data.display()
        );
        rows = POSTS
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    p.to_string(),
                    if i % 2 == 0 { "positive" } else { "negative" }.into(),
                )
            })
            .collect();
    }
    let tokens: Vec<Vec<String>> = rows
        .iter()
        .map(|(t, _)| Tokenizer::shared().tokens(t))
        .collect();
    let examples: Vec<_> = tokens
        .iter()
        .zip(&rows)
        .map(|(t, (_, l))| (t.as_slice(), l.as_str()))
        .collect();
    let options = TrainOptions {
        min_df: 1,
        ..TrainOptions::default()
    };
    let model = train(&examples, options).unwrap();
    eprintln!(
        "bench: classifier trained on {} examples, {} features",
        rows.len(),
        model.file().vocabulary.len()
    );
    model
}

fn bench(c: &mut Criterion) {
    let tokenizer = Tokenizer::shared();
    let tokens: Vec<Vec<String>> = POSTS.iter().map(|p| tokenizer.tokens(p)).collect();
    let model = Arc::new(model());
    let active = ActiveRules::compile(RULES, "bench", Some(&model)).unwrap();
    let keywords_only = ActiveRules::compile(
        &RULES.replace("银行 AND label:negative>=0.7", "银行"),
        "bench",
        None,
    )
    .unwrap();

    let mut group = c.benchmark_group("per_post");
    group.throughput(Throughput::Elements(POSTS.len() as u64));
    group.bench_function("tokenize", |b| {
        let mut scratch = TokenScratch::new();
        b.iter(|| {
            for post in POSTS {
                tokenizer.tokenize(black_box(post), &mut scratch);
            }
        })
    });
    group.bench_function("tfidf_update", |b| {
        let mut batch = BatchTerms::new(4);
        b.iter(|| {
            for (i, post) in tokens.iter().enumerate() {
                batch.add_post(post.iter().map(String::as_str), &[i % 4]);
            }
        })
    });
    group.bench_function("classify_tokens", |b| {
        let mut scratch = ClassifyScratch::default();
        b.iter(|| {
            for post in &tokens {
                black_box(model.classify_tokens(post.iter().map(String::as_str), &mut scratch));
            }
        })
    });
    group.bench_function("rule_match", |b| {
        let mut scratch = keywords_only.rules.scratch();
        let mut matched = Vec::new();
        b.iter(|| {
            for post in POSTS {
                keywords_only
                    .rules
                    .match_text(black_box(post), &mut scratch, &mut matched);
            }
        })
    });
    let features = [
        (
            "analyze_text_off",
            TrendingConfig::default(),
            None,
            &keywords_only,
        ),
        (
            "analyze_labels_and_trending",
            TrendingConfig {
                enabled: true,
                ..TrendingConfig::default()
            },
            Some(model.clone()),
            &active,
        ),
    ];
    for (name, trending, classifier, rules) in features {
        group.bench_function(name, |b| {
            let mut analyzer = PostAnalyzer::new(&trending, classifier.clone());
            analyzer.start_batch(rules.rules.len());
            let mut scratch = rules.rules.scratch();
            let mut matched = Vec::new();
            b.iter(|| {
                for post in POSTS {
                    black_box(analyzer.analyze(rules, post, &mut scratch, &mut matched));
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
