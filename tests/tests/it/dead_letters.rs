//! 1,000 malformed records of 6 kinds among 50,000 good ones: every bad one
//! lands in the dead-letter topic with the right reason and origin, the
//! filter keeps going, and every good match reaches the output.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use weibostream_tests::pipeline::{
    assert_output_equals, oracle, start_filter_with, start_sink, start_synthetic,
    wait_for_assignments, write_rules,
};
use weibostream_tests::{Broker, unique, unique_topics};

const GOOD: u64 = 50_000;
const BAD: usize = 1_000;
const MAX_RECORD_BYTES: usize = 4096;

/// The i-th malformed record and the reason the filter must give.
fn malformed(i: usize) -> (Option<Vec<u8>>, &'static str) {
    match i % 6 {
        0 => (None, "empty_payload"),
        1 => (Some(format!("{{\"id\":\"weibo:{i}\",\"pad\":\"{}\"}}", "x".repeat(MAX_RECORD_BYTES)).into_bytes()), "too_large"),
        2 => (Some(b"{\"id\":\"weibo:1\",\"text\":\"\xff\xfe\"}".to_vec()), "invalid_utf8"),
        3 => (Some(format!("{{\"id\":\"weibo:{i}\",\"text\":").into_bytes()), "invalid_json"),
        4 => (Some(format!("{{\"id\":\"weibo:{i}\",\"text\":\"建设银行 涨\"}}").into_bytes()), "not_a_post"),
        _ => (
            Some(
                format!(
                    r#"{{"id":"{i}","source":"weibo","text":"建设银行 涨","created_at":"2015-01-21T10:50:05Z","author":{{"id":"1","name":"n"}},"collected_at":"2015-01-21T10:50:05Z"}}"#
                )
                .into_bytes(),
            ),
            "invalid_post",
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_records_go_to_the_dead_letter_topic_and_the_stream_goes_on() {
    let broker = Broker::start();
    let kafka = broker.kafka();
    let topics = unique_topics();
    let group = unique("filter");
    let dir = tempfile::tempdir().unwrap();
    let rules = write_rules(dir.path(), &[("ccb-rise", "建设银行 AND 涨")]);
    let jsonl = dir.path().join("matched.jsonl");
    let sink = start_sink(&kafka, &topics, &jsonl);
    let names = ["r0", "r1", "r2"];
    let filters: Vec<_> = names
        .iter()
        .map(|n| {
            start_filter_with(&kafka, &topics, &group, &rules, n, |c| {
                c.max_record_bytes = MAX_RECORD_BYTES
            })
        })
        .collect();
    wait_for_assignments(&kafka, &topics.reports, &names, Duration::from_secs(60)).await;

    let collector = start_synthetic(&kafka, &topics, GOOD, 10_000, 3);
    let (producer_kafka, raw) = (kafka.clone(), topics.raw.clone());
    let expected_reasons = tokio::task::spawn_blocking(move || {
        let producer: ThreadedProducer<DefaultProducerContext> =
            producer_kafka.producer_config("test").create().unwrap();
        let mut reasons = BTreeMap::new();
        for i in 0..BAD {
            let (payload, reason) = malformed(i);
            let key = format!("bad-{i}");
            let mut record = BaseRecord::to(&raw).key(&key).partition((i % 6) as i32);
            if let Some(payload) = payload.as_ref() {
                record = record.payload(payload);
            }
            producer.send(record).map_err(|(e, _)| e).unwrap();
            *reasons.entry(reason).or_insert(0usize) += 1;
            if i % 100 == 99 {
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        producer.flush(Duration::from_secs(30)).unwrap();
        reasons
    })
    .await
    .unwrap();
    assert_eq!(collector.stop_when_done().await.published, GOOD);

    let expected = oracle(&kafka, &topics.raw, GOOD + BAD as u64).await;
    assert_output_equals(&jsonl, &expected).await;

    let (reader_kafka, dlq) = (kafka.clone(), topics.dlq.clone());
    let (reasons, origins) =
        tokio::task::spawn_blocking(move || read_dead_letters(&reader_kafka, &dlq))
            .await
            .unwrap();
    assert_eq!(reasons, expected_reasons, "dead-letter reasons");
    assert_eq!(
        origins, BAD,
        "every dead letter names its source topic, partition and offset"
    );
    for filter in filters {
        filter.stop().await;
    }
    sink.stop().await;
}

/// Counts of `dlq.reason` headers, and how many records name a source offset.
fn read_dead_letters(
    kafka: &weibostream_shared::kafka::KafkaSettings,
    topic: &str,
) -> (BTreeMap<&'static str, usize>, usize) {
    let consumer: BaseConsumer = kafka
        .admin_config("dlq-reader")
        .set("group.id", unique("dlq"))
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&list).unwrap();
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut origins = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut total = 0;
    while total < BAD && std::time::Instant::now() < deadline {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        total += 1;
        let headers = message.headers().unwrap();
        let get = |key: &str| {
            headers
                .iter()
                .find(|h| h.key == key)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        let reason = get("dlq.reason").unwrap();
        let known = [
            "empty_payload",
            "too_large",
            "invalid_utf8",
            "invalid_json",
            "not_a_post",
            "invalid_post",
        ];
        let reason = known
            .into_iter()
            .find(|k| *k == reason)
            .unwrap_or_else(|| panic!("unknown reason {reason}"));
        *reasons.entry(reason).or_default() += 1;
        if get("dlq.source.topic").is_some()
            && get("dlq.source.offset").is_some()
            && get("dlq.error").is_some()
        {
            origins += 1;
        }
    }
    // Nothing beyond the 1,000: a good post must never be dead-lettered.
    assert!(
        consumer.poll(Duration::from_secs(2)).is_none(),
        "more dead letters than malformed records"
    );
    (reasons, origins)
}
