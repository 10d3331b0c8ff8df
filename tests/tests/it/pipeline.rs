//! End to end on a real broker: 3 filter replicas in one group share a
//! 6-partition topic, and the sink's output equals an independent oracle.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use weibostream_tests::pipeline::{
    Pipeline, assert_output_equals, oracle, partitions_by_replica, reports, start_synthetic,
};

const POSTS: u64 = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_partitions_and_output_equals_the_oracle() {
    let names = ["r0", "r1", "r2"];
    let pipeline = Pipeline::start(&names).await;
    let (kafka, topics) = (&pipeline.kafka, &pipeline.topics);

    let summary = start_synthetic(kafka, topics, POSTS, 0, 7)
        .stop_when_done()
        .await;
    assert_eq!(summary.published, POSTS);
    let expected = oracle(kafka, &topics.raw, POSTS).await;
    assert!(
        expected.len() > 100,
        "the synthetic source should give the rule something to match: {}",
        expected.len()
    );
    assert_output_equals(&pipeline.jsonl, &expected).await;

    let all = reports(kafka, &topics.reports, Duration::from_secs(2)).await;
    let by_replica = partitions_by_replica(&all);
    for name in names {
        assert!(!by_replica[name].is_empty(), "{name} got no partitions");
        let posts_in: u64 = all
            .iter()
            .filter(|r| r.replica == name)
            .map(|r| r.posts_in)
            .sum();
        assert!(
            posts_in > 0,
            "{name} processed nothing: the work was not shared"
        );
    }
    let total_in: u64 = all.iter().map(|r| r.posts_in).sum();
    assert!(
        total_in >= POSTS,
        "reports account for {total_in} of {POSTS} posts"
    );
    pipeline.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stopping_one_replica_mid_stream_loses_and_doubles_nothing() {
    let names = ["r0", "r1", "r2"];
    let mut pipeline = Pipeline::start(&names).await;
    let (kafka, topics) = (pipeline.kafka.clone(), pipeline.topics.clone());

    // 20,000 posts over ~5 s; one replica stops after ~2 s.
    let collector = start_synthetic(&kafka, &topics, POSTS, 4000, 11);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped_at = chrono::Utc::now();
    pipeline.stop_replica("r1").await;

    let summary = collector.stop_when_done().await;
    assert_eq!(summary.published, POSTS);
    let expected = oracle(&kafka, &topics.raw, POSTS).await;
    assert_output_equals(&pipeline.jsonl, &expected).await;

    // After the stop (and the rebalance it causes) the two others cover all 6 partitions.
    let all = reports(&kafka, &topics.reports, Duration::from_secs(2)).await;
    let settled = stopped_at + chrono::Duration::seconds(8);
    let by_replica = partitions_by_replica(all.iter().filter(|r| r.batch_time > settled));
    assert!(
        !by_replica.contains_key("r1"),
        "the stopped replica kept reporting"
    );
    let covered: BTreeSet<i32> = by_replica.values().flatten().copied().collect();
    assert_eq!(
        covered,
        (0..6).collect(),
        "the remaining replicas did not take over: {by_replica:?}"
    );
    pipeline.stop().await;
}
