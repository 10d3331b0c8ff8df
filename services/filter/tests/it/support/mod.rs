//! Helpers for the filter's broker tests, following `tests/src/lib.rs`: a
//! real Tansu broker on a free port (`$TANSU_BIN`, else the install script),
//! unique topic and group names, producing posts and reading topics back,
//! polling with a timeout instead of sleeping.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weibostream_filter::{Filter, FilterConfig, ReloadHandle};
use weibostream_shared::Topics;
use weibostream_shared::http::HttpSettings;
use weibostream_shared::kafka::KafkaSettings;

pub use weibostream_testkit::{Broker, unique, unique_topics};

/// Writes a rules file with one rule per `(id, query)`.
pub fn write_rules(path: &Path, rules: &[(&str, &str)]) {
    let text: String = rules
        .iter()
        .map(|(id, query)| format!("[[rule]]\nid = {id:?}\nquery = {query:?}\n\n"))
        .collect();
    std::fs::write(path, text).unwrap();
}

/// A filter config for one test: 500 ms batches, unique group.
pub fn config(kafka: &KafkaSettings, topics: &Topics, rules: &Path) -> FilterConfig {
    FilterConfig {
        kafka: kafka.clone(),
        topics: topics.clone(),
        group: unique("group"),
        replica_id: "r1".into(),
        rules_path: rules.to_path_buf(),
        batch_interval_ms: 500,
        // Tests run in parallel: no fixed metrics port.
        http: HttpSettings::on("off"),
        ..FilterConfig::default()
    }
}

/// A running filter.
pub struct Running {
    pub token: CancellationToken,
    pub reload: ReloadHandle,
    pub handle: JoinHandle<anyhow::Result<()>>,
}

/// Builds and starts a filter in-process.
pub fn start_filter(config: FilterConfig) -> Running {
    let filter = Filter::build(config).unwrap();
    let reload = filter.reload_handle();
    let token = CancellationToken::new();
    let handle = tokio::spawn(filter.run(token.clone()));
    Running {
        token,
        reload,
        handle,
    }
}

impl Running {
    /// Cancels the filter and waits (bounded) for a clean return.
    pub async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// Publishes one post with `text` to the raw topic.
pub async fn publish(kafka: &KafkaSettings, topic: &str, id: &str, text: &str) {
    let producer: FutureProducer = kafka.producer_config("filter-test").create().unwrap();
    let post = serde_json::json!({
        "id": format!("weibo:{id}"), "source": "weibo", "text": text,
        "created_at": "2015-01-21T10:50:05Z", "author": {"id": "7", "name": "n"},
        "collected_at": "2015-01-21T10:50:06Z"
    })
    .to_string();
    producer
        .send(
            FutureRecord::to(topic).key(id).payload(&post),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(error, _)| error)
        .unwrap();
}

/// Every record value of `topic` so far (reads each partition to its end,
/// for at most `limit`).
pub fn read_all(kafka: &KafkaSettings, topic: &str, limit: Duration) -> Vec<serde_json::Value> {
    let consumer: BaseConsumer = kafka
        .admin_config("filter-test-reader")
        .set("group.id", unique("reader"))
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .unwrap();
    let partitions = metadata.topics()[0].partitions().len() as i32;
    let mut list = TopicPartitionList::new();
    let mut ends = Vec::new();
    for partition in 0..partitions {
        list.add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
        let (_, high) = consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(5))
            .unwrap();
        ends.push(high);
    }
    let expected: i64 = ends.iter().sum();
    consumer.assign(&list).unwrap();
    let start = Instant::now();
    let mut values = Vec::new();
    while (values.len() as i64) < expected && start.elapsed() < limit {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            values.push(serde_json::from_slice(message.payload().unwrap_or_default()).unwrap());
        }
    }
    values
}

/// Polls `read` every 200 ms until `condition` holds on its result; panics
/// after `limit` with the last result.
pub async fn eventually<T: std::fmt::Debug>(
    limit: Duration,
    mut read: impl FnMut() -> T,
    condition: impl Fn(&T) -> bool,
) -> T {
    let start = Instant::now();
    loop {
        let value = read();
        if condition(&value) {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
