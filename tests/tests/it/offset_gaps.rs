//! Legitimate offset gaps on a real broker: a transaction's commit or abort
//! marker takes an offset that no consumer gets, and an aborted
//! transaction's records are not delivered (librdkafka reads committed
//! records only). With `kafka.local_broker_quirks` off the filter has no
//! gap guard; with it on, the guard must tell these gaps from the local
//! broker's skips. Either way every committed post is filtered once, no
//! aborted one is, and nothing is reported lost.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use weibostream_shared::kafka::{self, KafkaSettings};
use weibostream_shared::{MatchedPost, Topics};
use weibostream_tests::process::ServiceProcess;
use weibostream_tests::{read_records, read_topic, unique};

use crate::common::Setup;

/// Committed transactions, and the posts in each.
const COMMITTED: i64 = 3;
const PER_TRANSACTION: i64 = 10;
/// Posts of the one aborted transaction (between the first two committed).
const ABORTED: i64 = 5;
const TIMEOUT: Duration = Duration::from_secs(10);

fn post(id: i64) -> String {
    format!(
        r#"{{"id":"weibo:{id}","source":"weibo","text":"建设银行 涨 {id}","created_at":"2015-01-21T10:50:05Z","author":{{"id":"1","name":"n"}},"collected_at":"2015-01-21T10:50:05Z"}}"#
    )
}

/// Writes the transactions to partition 0 of the raw topic and returns the
/// offsets of the committed posts, checking that the broker left gaps
/// between them (its markers, the aborted posts).
fn write_transactions(settings: &KafkaSettings, topics: &Topics) -> BTreeSet<i64> {
    let producer: ThreadedProducer<DefaultProducerContext> = settings
        .producer_config("test")
        .set("transactional.id", unique("txn"))
        .set("message.timeout.ms", "30000")
        .create()
        .unwrap();
    producer
        .init_transactions(TIMEOUT)
        .expect("the broker serves transactions (InitProducerId with a transactional id)");
    let send = |id: i64| {
        let text = post(id);
        producer
            .send(
                BaseRecord::<(), _>::to(&topics.raw)
                    .partition(0)
                    .payload(&text),
            )
            .unwrap();
    };
    for transaction in 0..COMMITTED {
        producer.begin_transaction().unwrap();
        for i in 0..PER_TRANSACTION {
            send(transaction * PER_TRANSACTION + i);
        }
        producer.commit_transaction(TIMEOUT).unwrap();
        if transaction == 0 {
            producer.begin_transaction().unwrap();
            for i in 0..ABORTED {
                send(1000 + i);
            }
            producer.abort_transaction(TIMEOUT).unwrap();
        }
    }

    let want = (COMMITTED * PER_TRANSACTION) as usize;
    let records = read_records(settings, &topics.raw, want + 1, TIMEOUT);
    let ids: BTreeSet<String> = records
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.value).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let expected: BTreeSet<String> = (0..COMMITTED * PER_TRANSACTION)
        .map(|i| format!("weibo:{i}"))
        .collect();
    assert_eq!(ids, expected, "a reader gets the committed posts only");
    let offsets: BTreeSet<i64> = records.iter().map(|r| r.offset).collect();
    eprintln!("committed posts at offsets {offsets:?}");
    let last = *offsets.last().unwrap();
    assert!(
        last + 1 > offsets.len() as i64,
        "no offset gap: the broker wrote no transaction markers ({offsets:?})"
    );
    offsets
}

/// Starts one filter replica process with the guard on or off, waits until
/// it has filtered every committed post, and checks its log.
async fn every_committed_post_is_filtered_once(quirks: bool) {
    let setup = Setup::new();
    let settings = KafkaSettings {
        local_broker_quirks: quirks,
        ..setup.kafka.clone()
    };
    let specs = setup.topics.specs(&[
        weibostream_shared::TopicRole::Raw,
        weibostream_shared::TopicRole::Matched,
        weibostream_shared::TopicRole::Reports,
        weibostream_shared::TopicRole::DeadLetter,
    ]);
    kafka::ensure_topics(&settings, "test", &specs)
        .await
        .unwrap();
    let offsets = tokio::task::spawn_blocking({
        let (settings, topics) = (settings.clone(), setup.topics.clone());
        move || write_transactions(&settings, &topics)
    })
    .await
    .unwrap();

    let tuning = weibostream_shared::quirks::LOCAL_BROKER_TUNING;
    // With the switch off only the guard is off: the local broker's tuning
    // is set by hand, or each join takes half of Kafka's 45 s session.
    let env = [
        ("FILTER__GROUP", setup.group.clone()),
        ("FILTER__BATCH_INTERVAL_MS", "1000".to_string()),
        (
            "FILTER__KAFKA__SESSION_TIMEOUT_MS",
            tuning.session_timeout_ms.to_string(),
        ),
        (
            "FILTER__KAFKA__HEARTBEAT_INTERVAL_MS",
            tuning.heartbeat_interval_ms.to_string(),
        ),
        (
            "FILTER__KAFKA__FETCH_WAIT_MAX_MS",
            tuning.fetch_wait_max_ms.to_string(),
        ),
    ];
    let rules = setup.rules();
    let args = ["--rules", rules.to_str().unwrap(), "--replica-id", "r0"];
    let mut filter = ServiceProcess::spawn(
        "filter",
        &settings,
        &setup.topics,
        &env,
        &args,
        setup.dir.path(),
        "r0",
    );

    let want = offsets.len();
    let matched = tokio::task::spawn_blocking({
        let (settings, topic) = (settings.clone(), setup.topics.matched.clone());
        move || {
            read_topic(&settings, &topic, want, Duration::from_secs(60));
            // Three more batch intervals: a post twice would show now.
            std::thread::sleep(Duration::from_secs(3));
            read_topic(&settings, &topic, want + 1, Duration::from_secs(3))
        }
    })
    .await
    .unwrap();
    filter.signal("TERM");
    filter.wait(Duration::from_secs(20));

    let filtered: Vec<i64> = matched
        .iter()
        .map(|v| serde_json::from_slice::<MatchedPost>(v).unwrap().offset)
        .collect();
    assert_eq!(
        filtered.iter().copied().collect::<BTreeSet<_>>(),
        offsets,
        "exactly the committed posts"
    );
    assert_eq!(filtered.len(), want, "no post twice");

    let log = std::fs::read_to_string(&filter.log).unwrap();
    for reported in ["missing from the output", "does not deliver"] {
        assert!(!log.contains(reported), "reported: {reported}\n{log}");
    }
    let classified = log.contains("hold no records in the broker's log");
    let sought = log.contains("reading it again from an earlier offset");
    if quirks {
        assert!(classified, "the guard saw no gap\n{log}");
    } else {
        assert!(
            !classified && !sought,
            "a guard ran with the switch off\n{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transaction_gaps_are_not_lost_without_the_local_broker_quirks() {
    every_committed_post_is_filtered_once(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transaction_gaps_are_told_from_skips_with_the_local_broker_quirks() {
    every_committed_post_is_filtered_once(true).await;
}
