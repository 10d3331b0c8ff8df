use std::collections::BTreeMap;

use chrono::DateTime;
use weibostream_shared::{Author, BatchReport, MatchedPost, PartitionRange, Post, Source};

use super::*;
use crate::merge::Completion;

fn matched(i: usize, text: &str) -> MatchedPost {
    let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    MatchedPost {
        batch_time: t,
        replica: "r1".into(),
        rules: vec!["ccb-rise".into()],
        partition: 0,
        offset: i as i64,
        post: Post {
            id: format!("weibo:{i}"),
            source: Source::Weibo,
            text: text.into(),
            lang: None,
            created_at: t,
            author: Author {
                id: "1".into(),
                name: "a\u{202e}b".into(),
                followers: None,
                verified: true,
            },
            url: Some("javascript:alert(1)".into()),
            reposts: 0,
            comments: 0,
            likes: 0,
            repost_of: None,
            client: None,
            collected_at: t,
        },
        label: None,
        probability: None,
    }
}

fn block(posts: usize, completion: Completion) -> Block {
    let report = BatchReport {
        batch_time: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        interval_ms: 2000,
        replica: "r1".into(),
        partitions: vec![PartitionRange {
            partition: 0,
            first_offset: None,
            last_offset: None,
            records: 0,
        }],
        posts_in: 500,
        dead_lettered: 2,
        matched_posts: posts as u64,
        matched_per_rule: BTreeMap::from([("ccb-rise".to_string(), posts as u64)]),
        processing_ms: 12.5,
        top_terms: Vec::new(),
        top_terms_per_rule: BTreeMap::new(),
        lag: Some(42),
    };
    Block {
        batch_time: report.batch_time,
        posts: (0..posts)
            .map(|i| matched(i, "建设银行 涨 <b>x</b>"))
            .collect(),
        raw: vec![],
        duplicates_dropped: 1,
        reports: vec![report],
        partition_count: 1,
        completion,
        receipts: vec![],
    }
}

#[test]
fn a_block_becomes_post_and_batch_updates_and_a_bounded_snapshot() {
    let dashboard = Dashboard::new(3000);
    let (snapshot, mut updates, _slot) = dashboard.subscribe().unwrap();
    assert!(snapshot.posts.is_empty());
    dashboard.block_output(&block(POSTS_KEPT + 5, Completion::Complete));
    let mut kinds = Vec::new();
    while let Ok(update) = updates.try_recv() {
        kinds.push(update.kind);
    }
    assert_eq!(
        kinds.len(),
        POSTS_KEPT + 1,
        "the newest posts, then the batch"
    );
    assert_eq!(kinds.last(), Some(&"batch"));
    let snapshot = dashboard.snapshot();
    assert_eq!(snapshot.posts.len(), POSTS_KEPT);
    assert_eq!(snapshot.posts_output, (POSTS_KEPT + 5) as u64);
    assert_eq!(
        snapshot.posts.last().unwrap().id,
        format!("weibo:{}", POSTS_KEPT + 4)
    );
    let batch = &snapshot.batches[0];
    assert_eq!(batch.posts_per_s, 250.0);
    assert_eq!(batch.replicas[0].lag, Some(42));
    assert_eq!(batch.completion, "complete");
    let post = &snapshot.posts[0];
    assert_eq!(post.author, "a\\u{202e}b", "bidi overrides are escaped");
    assert_eq!(
        post.text, "建设银行 涨 <b>x</b>",
        "text is kept as text, escaped by the page"
    );
    assert_eq!(post.url, None, "only http(s) links");
}

#[test]
fn stragglers_add_posts_but_no_batch() {
    let dashboard = Dashboard::new(3000);
    dashboard.block_output(&block(2, Completion::Straggler));
    let snapshot = dashboard.snapshot();
    assert_eq!(snapshot.posts.len(), 2);
    assert!(snapshot.batches.is_empty());
}

#[test]
fn a_slow_client_falls_behind_without_blocking_the_feed() {
    let dashboard = Dashboard::new(3000);
    let (_, mut updates, _slot) = dashboard.subscribe().unwrap();
    for _ in 0..(CLIENT_BUFFER / 10 + 5) {
        dashboard.block_output(&block(10, Completion::Complete));
    }
    assert!(matches!(
        updates.try_recv(),
        Err(broadcast::error::TryRecvError::Lagged(_))
    ));
}

#[test]
fn clients_are_bounded() {
    let dashboard = Dashboard::new(3000);
    let slots: Vec<_> = (0..MAX_CLIENTS)
        .map(|_| dashboard.subscribe().unwrap())
        .collect();
    assert!(dashboard.subscribe().is_none());
    drop(slots);
    assert!(dashboard.subscribe().is_some());
}
