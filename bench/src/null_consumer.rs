//! The limit: a plain rdkafka consumer in a group that reads every post and
//! does nothing else with it. What it saw of the topic (records and bytes
//! per partition, message timestamps) also gives the benchmark each
//! partition's end offset and the collector's publish window.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::{Deserialize, Serialize};
use weibostream_shared::kafka::KafkaSettings;

/// What the null consumer measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NullRun {
    /// Records read.
    pub posts: u64,
    /// Payload bytes read.
    pub bytes: u64,
    /// Wall clock (ms since the epoch) when the consumer was created.
    pub started_ms: f64,
    /// Wall clock (ms) when the first record was returned.
    pub first_ms: f64,
    /// Wall clock (ms) when the last record was returned.
    pub last_ms: f64,
    /// Per partition: the last offset read + 1 (its end, once all are read).
    pub next_offsets: Vec<i64>,
    /// Per partition: records read (equal to `next_offsets` when the
    /// partition's offsets are contiguous from 0).
    pub records: Vec<u64>,
    /// Smallest and largest message timestamp (the producer's create time), ms.
    pub min_timestamp_ms: i64,
    /// See `min_timestamp_ms`.
    pub max_timestamp_ms: i64,
}

impl NullRun {
    /// Posts per second over the first-to-last window.
    pub fn posts_per_s(&self) -> f64 {
        rate(self.posts as f64, self.first_ms, self.last_ms)
    }

    /// MB (10^6 bytes) of payload per second over the same window.
    pub fn mb_per_s(&self) -> f64 {
        rate(self.bytes as f64 / 1e6, self.first_ms, self.last_ms)
    }
}

/// `amount` per second between two wall-clock times in ms (0 for an empty window).
pub fn rate(amount: f64, from_ms: f64, to_ms: f64) -> f64 {
    let seconds = (to_ms - from_ms) / 1000.0;
    if seconds > 0.0 { amount / seconds } else { 0.0 }
}

/// Wall clock now, ms since the epoch.
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Joins `group`, reads `topic` (with `partitions` partitions) until
/// `expected` records were read, commits nothing; errors after `limit`.
pub fn run(
    kafka: &KafkaSettings,
    group: &str,
    topic: &str,
    partitions: usize,
    expected: u64,
    limit: Duration,
) -> anyhow::Result<NullRun> {
    let mut run = NullRun {
        started_ms: now_ms(),
        next_offsets: vec![0; partitions],
        records: vec![0; partitions],
        min_timestamp_ms: i64::MAX,
        max_timestamp_ms: i64::MIN,
        ..NullRun::default()
    };
    // The limit reads with librdkafka's own fetch and prefetch sizes, which
    // read fastest; the services' smaller defaults trade some of that
    // speed for memory.
    let consumer: BaseConsumer = kafka
        .consumer_config("bench-null", group)
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "1048576")
        .set("queued.max.messages.kbytes", "65536")
        .create()
        .context("creating the consumer")?;
    consumer.subscribe(&[topic])?;
    let started = Instant::now();
    while run.posts < expected {
        if started.elapsed() > limit {
            bail!("read {} of {expected} posts in {limit:?}", run.posts);
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.context("consuming")?;
        if run.posts == 0 {
            run.first_ms = now_ms();
        }
        run.posts += 1;
        run.bytes += message.payload_len() as u64;
        let partition = usize::try_from(message.partition()).unwrap_or(usize::MAX);
        if let (Some(next), Some(records)) = (
            run.next_offsets.get_mut(partition),
            run.records.get_mut(partition),
        ) {
            *next = (*next).max(message.offset() + 1);
            *records += 1;
        }
        if let Some(ts) = message.timestamp().to_millis() {
            run.min_timestamp_ms = run.min_timestamp_ms.min(ts);
            run.max_timestamp_ms = run.max_timestamp_ms.max(ts);
        }
    }
    run.last_ms = now_ms();
    consumer.unsubscribe();
    Ok(run)
}
