//! Rules match across Chinese scripts end to end: a rule written in
//! simplified characters matches a post written in traditional ones and the
//! reverse, through a real broker, and `fold_chinese_scripts = false` keeps
//! each rule to its own script. Two filters run side by side on one broker,
//! one per setting, over the same posts.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::support::*;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(40);

/// The posts, as a Hong Kong and a mainland account would write them.
const POSTS: [(&str, &str); 3] = [
    (
        "traditional",
        "【港股】建設銀行(00939)今日股價漲3.2%，成交額創近一個月新高，內銀股普遍造好 #港股#",
    ),
    (
        "simplified",
        "建设银行今天又涨了，持仓的朋友们恭喜[哈哈] //@财经观察:银行股集体走强",
    ),
    ("unrelated", "招商銀行股價今日下跌，與大市走勢相反"),
];

fn rules_of(matched: &[Value], post: &str) -> Option<Vec<String>> {
    matched
        .iter()
        .find(|m| m["post"]["id"] == format!("weibo:{post}"))
        .map(|m| serde_json::from_value(m["rules"].clone()).unwrap())
}

fn text_of(matched: &[Value], post: &str) -> Option<String> {
    matched
        .iter()
        .find(|m| m["post"]["id"] == format!("weibo:{post}"))
        .and_then(|m| m["post"]["text"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread")]
async fn simplified_and_traditional_rules_match_both_scripts_unless_switched_off() {
    let broker = Broker::start();
    let kafka = broker.kafka();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    write_rules(
        &rules,
        &[
            ("ccb-simplified", "建设银行 AND 涨"),
            ("ccb-traditional", "建設銀行 AND 漲"),
        ],
    );
    let folding = unique_topics();
    let plain = unique_topics();
    let on = start_filter(config(&kafka, &folding, &rules));
    let mut off_config = config(&kafka, &plain, &rules);
    off_config.fold_chinese_scripts = false;
    let off = start_filter(off_config);
    let read = |topic: &str| read_all(&kafka, topic, Duration::from_secs(3));
    // Both replicas are consuming once they report a batch.
    eventually(LIMIT, || read(&folding.reports), |r| !r.is_empty()).await;
    eventually(LIMIT, || read(&plain.reports), |r| !r.is_empty()).await;

    for topics in [&folding, &plain] {
        for (id, text) in POSTS {
            publish(&kafka, &topics.raw, id, text).await;
        }
    }
    let both_seen = |m: &Vec<Value>| {
        rules_of(m, "traditional").is_some() && rules_of(m, "simplified").is_some()
    };

    let matched = eventually(LIMIT, || read(&folding.matched), both_seen).await;
    let both = ["ccb-simplified", "ccb-traditional"];
    assert_eq!(rules_of(&matched, "traditional").unwrap(), both);
    assert_eq!(rules_of(&matched, "simplified").unwrap(), both);
    assert_eq!(rules_of(&matched, "unrelated"), None);
    // The post is published as written, not folded.
    assert_eq!(
        text_of(&matched, "traditional").as_deref(),
        Some(POSTS[0].1)
    );

    let matched = eventually(LIMIT, || read(&plain.matched), both_seen).await;
    assert_eq!(
        rules_of(&matched, "traditional").unwrap(),
        ["ccb-traditional"]
    );
    assert_eq!(
        rules_of(&matched, "simplified").unwrap(),
        ["ccb-simplified"]
    );
    assert_eq!(rules_of(&matched, "unrelated"), None);

    on.stop().await;
    off.stop().await;
}
