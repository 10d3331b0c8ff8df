//! `filter inspect` against a real broker: high watermarks equal what was
//! produced per partition (also on Tansu, whose ListOffsets under-reports),
//! two replicas show as two members splitting the partitions, and the lag is
//! zero once they committed and equals the records produced after they stopped.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;
use rdkafka::producer::{FutureProducer, FutureRecord};
use weibostream_filter::inspect::{Inspection, inspect};
use weibostream_shared::kafka::{self, KafkaSettings};
use weibostream_shared::{TopicRole, Topics};

/// Produces `n` posts with varied keys (several record batches per
/// partition); returns the records per partition.
async fn produce(
    kafka: &KafkaSettings,
    topics: &Topics,
    n: usize,
    from: usize,
) -> BTreeMap<i32, i64> {
    let producer: FutureProducer = kafka.producer_config("inspect-test").create().unwrap();
    let mut deliveries = Vec::new();
    for i in from..from + n {
        let post = serde_json::json!({
            "id": format!("weibo:{i}"), "source": "weibo", "text": format!("post {i}"),
            "created_at": "2015-01-21T10:50:05Z", "author": {"id": format!("{}", i % 97), "name": "n"},
            "collected_at": "2015-01-21T10:50:06Z"
        })
        .to_string();
        let key = format!("{}", i % 97);
        let record = FutureRecord::to(&topics.raw).key(&key).payload(&post);
        deliveries.push(kafka::enqueue(&producer, record).await.unwrap());
        if i % 50 == 0 {
            // Several batches per partition, so the last batch's base offset
            // (what Tansu's ListOffsets answers) is not the end.
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    let mut counts = BTreeMap::new();
    for delivery in deliveries {
        let delivered = delivery.await.unwrap().unwrap();
        *counts.entry(delivered.partition).or_insert(0) += 1;
    }
    counts
}

async fn inspect_now(kafka: &KafkaSettings, topics: &Topics, group: &str) -> Inspection {
    let (kafka, topics, group) = (kafka.clone(), topics.clone(), group.to_string());
    tokio::task::spawn_blocking(move || {
        inspect(
            &kafka,
            &topics.raw,
            &group,
            Some(&topics.reports),
            Duration::from_secs(5),
        )
    })
    .await
    .unwrap()
    .unwrap()
}

/// Partitions per owner: from the members' assignments where the broker
/// gives them (Redpanda, Kafka), else from the replicas' batch reports
/// (Tansu's DescribeGroups carries no assignments).
fn owners(seen: &Inspection) -> Vec<Vec<i32>> {
    if seen.members.iter().any(|m| !m.partitions.is_empty()) {
        seen.members.iter().map(|m| m.partitions.clone()).collect()
    } else {
        seen.replicas.iter().map(|r| r.partitions.clone()).collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_shows_watermarks_members_and_lag() {
    let broker = Broker::start();
    let kafka = broker.kafka();
    let topics = unique_topics();
    kafka::ensure_topics(&kafka, "inspect-test", &topics.specs(&[TopicRole::Raw]))
        .await
        .unwrap();
    let produced = produce(&kafka, &topics, 600, 0).await;
    assert_eq!(produced.len(), 6, "every partition got posts: {produced:?}");

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    write_rules(&rules, &[("post", "post")]);
    let base = config(&kafka, &topics, &rules);
    let group = base.group.clone();
    let replicas: Vec<Running> = ["r1", "r2"]
        .into_iter()
        .map(|id| {
            let mut config = base.clone();
            config.replica_id = id.into();
            start_filter(config)
        })
        .collect();

    // Both replicas members with partitions, everything committed.
    let start = Instant::now();
    let seen = loop {
        let seen = inspect_now(&kafka, &topics, &group).await;
        let owned: Vec<usize> = owners(&seen).iter().map(Vec::len).collect();
        let covered: usize = owned.iter().sum();
        if seen.total_lag() == 0
            && seen.members.len() == 2
            && owned.len() == 2
            && owned.iter().all(|n| *n > 0)
            && covered == 6
        {
            break seen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(45),
            "replicas did not join and commit within 45 s: {seen:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(seen.fetched_watermarks, "{seen:#?}");
    let highs: BTreeMap<i32, i64> = seen
        .partitions
        .iter()
        .map(|p| (p.partition, p.high))
        .collect();
    assert_eq!(
        highs, produced,
        "high watermarks = records produced per partition"
    );
    let commits: BTreeMap<i32, i64> = seen
        .partitions
        .iter()
        .map(|p| (p.partition, p.committed.unwrap_or(-1)))
        .collect();
    assert_eq!(commits, produced);
    let mut all = BTreeSet::new();
    for partitions in owners(&seen) {
        for p in partitions {
            assert!(all.insert(p), "partition {p} owned twice: {seen:#?}");
        }
    }
    assert_eq!(all, (0..6).collect());
    assert!(seen.partitions.iter().all(|p| p.member.is_some()));
    let mut names: Vec<&str> = seen.replicas.iter().map(|r| r.replica.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["r1", "r2"]);

    // The binary prints the same, like rpk group describe.
    let output = Command::new(env!("CARGO_BIN_EXE_filter"))
        .args(["inspect", "--group", &group, "--topic", &topics.raw])
        .env("KAFKA_BROKERS", &kafka.brokers)
        .env("KAFKA_LOCAL_BROKER_QUIRKS", "true")
        .env("FILTER__TOPICS__REPORTS", &topics.reports)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("2 member(s)") && text.contains("total lag 0"),
        "{text}"
    );
    for member in &seen.members {
        assert!(text.contains(&member.id), "{text}");
    }
    assert!(text.contains("r1") && text.contains("r2"), "{text}");

    // Stopped replicas leave the group; what comes after is lag.
    for replica in replicas {
        replica.stop().await;
    }
    let more = produce(&kafka, &topics, 300, 600).await;
    let after = inspect_now(&kafka, &topics, &group).await;
    let lags: BTreeMap<i32, i64> = after
        .partitions
        .iter()
        .map(|p| (p.partition, p.lag))
        .collect();
    let expected: BTreeMap<i32, i64> = (0..6)
        .map(|p| (p, more.get(&p).copied().unwrap_or(0)))
        .collect();
    assert_eq!(lags, expected, "{after:#?}");
    assert_eq!(after.total_lag(), 300);
    assert!(after.members.is_empty(), "{after:#?}");
}
