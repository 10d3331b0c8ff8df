//! Reading the broker from outside the services: a group's committed
//! offsets, and every record of a topic.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Offset, TopicPartitionList};
use weibostream_shared::kafka::KafkaSettings;

/// Kafka settings for `brokers`, with the local broker's workarounds and
/// tuning (its joins wait half the session timeout).
pub fn settings(brokers: &str) -> KafkaSettings {
    KafkaSettings {
        brokers: brokers.to_string(),
        ..KafkaSettings::default()
    }
    .with_local_broker_quirks()
}

/// Reads a consumer group's committed offsets without joining the group.
pub struct CommittedOffsets {
    consumer: BaseConsumer,
    list: TopicPartitionList,
}

impl CommittedOffsets {
    /// A reader for `group`'s offsets on partitions `0..partitions` of `topic`.
    pub fn new(
        kafka: &KafkaSettings,
        group: &str,
        topic: &str,
        partitions: i32,
    ) -> anyhow::Result<Self> {
        let consumer: BaseConsumer = kafka
            .admin_config("bench-offsets")
            .set("group.id", group)
            .create()
            .context("creating the offsets reader")?;
        let mut list = TopicPartitionList::new();
        for partition in 0..partitions {
            list.add_partition(topic, partition);
        }
        Ok(CommittedOffsets { consumer, list })
    }

    /// The committed offset of each partition (0 where nothing is committed).
    pub fn read(&self) -> anyhow::Result<Vec<i64>> {
        let committed = self
            .consumer
            .committed_offsets(self.list.clone(), Duration::from_secs(5))
            .context("reading committed offsets")?;
        Ok(committed
            .elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(offset) => offset,
                _ => 0,
            })
            .collect())
    }

    /// Polls every 20 ms until every partition's committed offset reaches
    /// `ends`; returns when that was seen.
    pub fn wait_for(&self, ends: &[i64], limit: Duration) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            let committed = self.read()?;
            if committed.len() == ends.len() && committed.iter().zip(ends).all(|(c, e)| c >= e) {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                bail!("committed offsets {committed:?} did not reach {ends:?} within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads every record of `topic` (all `partitions`) from the beginning,
/// handing each to `visit`, until `expected` records were read, or, when
/// `expected` is `None`, until no record arrived for `idle`. Errors after `limit`.
pub fn read_topic(
    kafka: &KafkaSettings,
    topic: &str,
    partitions: i32,
    expected: Option<u64>,
    idle: Duration,
    limit: Duration,
    mut visit: impl FnMut(&BorrowedMessage<'_>),
) -> anyhow::Result<u64> {
    let consumer: BaseConsumer = kafka
        .admin_config("bench-reader")
        .set("group.id", "bench-reader")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating a topic reader")?;
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition_offset(topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&list)?;
    let started = Instant::now();
    let mut last_record = Instant::now();
    let mut count = 0u64;
    loop {
        if expected.is_some_and(|e| count >= e) {
            return Ok(count);
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                visit(&message);
                count += 1;
                last_record = Instant::now();
            }
            Some(Err(error)) => bail!("reading {topic}: {error}"),
            None if expected.is_none() && last_record.elapsed() > idle => return Ok(count),
            None => {}
        }
        if started.elapsed() > limit {
            bail!("read {count} records of {topic} in {limit:?}, expected {expected:?}");
        }
    }
}
