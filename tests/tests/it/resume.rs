//! A replica resuming inside a record batch gets the rest of that batch.
//! Tansu 0.6.0 answers a fetch with the batches that start at or after the
//! requested offset, so a consumer resuming from an offset committed
//! mid-batch silently misses the batch's tail, and the services seek back
//! for it (`weibostream_shared::quirks`, with `kafka.local_broker_quirks`
//! on); later Tansu builds (the prebuilt one the tests use) deliver the tail
//! themselves.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use weibostream_shared::kafka;
use weibostream_shared::{MatchedPost, TopicRole};
use weibostream_tests::pipeline::{start_filter, write_rules};
use weibostream_tests::{Broker, read_records, read_topic, unique, unique_topics};

/// Posts in the one batch.
const POSTS: i64 = 120;
/// Where the group's committed offset points: inside the batch.
const COMMITTED: i64 = 45;

fn post(i: i64) -> String {
    format!(
        r#"{{"id":"weibo:{i}","source":"weibo","text":"建设银行 涨 {i}","created_at":"2015-01-21T10:50:05Z","author":{{"id":"1","name":"n"}},"collected_at":"2015-01-21T10:50:05Z"}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_resuming_inside_a_batch_filters_the_rest_of_it() {
    let broker = Broker::start();
    let settings = broker.kafka();
    let topics = unique_topics();
    let group = unique("filter");
    let specs = topics.specs(&[
        TopicRole::Raw,
        TopicRole::Matched,
        TopicRole::Reports,
        TopicRole::DeadLetter,
    ]);
    kafka::ensure_topics(&settings, "test", &specs)
        .await
        .unwrap();

    // One producer batch in partition 0: a long linger, one flush.
    let producer: ThreadedProducer<DefaultProducerContext> = settings
        .producer_config("test")
        .set("linger.ms", "1000")
        .create()
        .unwrap();
    let texts: Vec<String> = (0..POSTS).map(post).collect();
    for text in &texts {
        producer
            .send(
                BaseRecord::<(), _>::to(&topics.raw)
                    .partition(0)
                    .payload(text),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    let stored = read_records(
        &settings,
        &topics.raw,
        POSTS as usize,
        Duration::from_secs(20),
    );
    assert_eq!(stored.len() as i64, POSTS, "the posts are in the topic");

    // The group has processed up to COMMITTED, as if a replica stopped there.
    let committer: BaseConsumer = settings.consumer_config("test", &group).create().unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset(&topics.raw, 0, Offset::Offset(COMMITTED))
        .unwrap();
    committer.commit(&offsets, CommitMode::Sync).unwrap();

    // What the broker does that this is about: Tansu 0.6.0 gives a plain
    // consumer starting at COMMITTED nothing (it fetches only batches that
    // start at or after the offset); builds after upstream's 87db6ea (the
    // prebuilt one) give it the batch's tail. The replica must get exactly
    // the rest either way.
    let plain: BaseConsumer = settings
        .admin_config("test")
        .set("group.id", unique("plain"))
        .create()
        .unwrap();
    plain.assign(&offsets).unwrap();
    let mut plain_got = 0;
    for _ in 0..15 {
        if let Some(Ok(_)) = plain.poll(Duration::from_millis(200)) {
            plain_got += 1;
        }
    }
    eprintln!(
        "a plain consumer resuming inside the batch got {plain_got} records: the broker {} the batch's tail",
        if plain_got == 0 { "skips" } else { "delivers" }
    );

    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(dir.path(), &[("ccb-rise", "建设银行 AND 涨")]);
    let filter = start_filter(&settings, &topics, &group, &rules, "r0");
    let want = (POSTS - COMMITTED) as usize;
    let (read_settings, matched_topic) = (settings.clone(), topics.matched.clone());
    let matched = tokio::task::spawn_blocking(move || {
        read_topic(
            &read_settings,
            &matched_topic,
            want,
            Duration::from_secs(60),
        )
    })
    .await
    .unwrap();
    // Two more batch intervals: anything before COMMITTED would show now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (read_settings, matched_topic) = (settings.clone(), topics.matched.clone());
    let all = tokio::task::spawn_blocking(move || {
        read_topic(
            &read_settings,
            &matched_topic,
            want + 1,
            Duration::from_secs(3),
        )
    })
    .await
    .unwrap();
    filter.stop().await;

    let offsets: BTreeSet<i64> = all
        .iter()
        .map(|v| serde_json::from_slice::<MatchedPost>(v).unwrap().offset)
        .collect();
    assert_eq!(matched.len(), want, "the rest of the batch was filtered");
    assert_eq!(
        offsets,
        (COMMITTED..POSTS).collect::<BTreeSet<_>>(),
        "exactly the posts from the committed offset on, each once"
    );
    assert_eq!(all.len(), want, "no post twice");
}
