//! Steps 1 and 2: the collector loads N synthetic posts at full speed, then
//! the null consumer reads them all. What the null consumer read gives each
//! partition's end offset (checked: contiguous from 0 and summing to the N
//! posts the collector had acknowledged before exiting successfully).

use std::time::Duration;

use anyhow::{Context, bail};
use rdkafka::Message;
use weibostream_shared::Post;

use crate::cpu::{CpuSampler, CpuShare};
use crate::null_consumer::{NullRun, now_ms, rate};
use crate::process::{Measured, Usage};
use crate::services::Services;
use crate::topics::{read_topic, settings};

/// Partitions of the loaded topic.
pub const PARTITIONS: i32 = 6;

/// What the load and the null consumer measured.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Posts loaded (every one acknowledged).
    pub posts: u64,
    /// Each partition's end offset.
    pub ends: Vec<i64>,
    /// Posts/s from the first post's create time to the collector's exit
    /// (which waits for the last acknowledgement).
    pub collector_posts_per_s: f64,
    /// The collector's peak RSS and CPU time.
    pub collector: Usage,
    /// The null consumer's run.
    pub null: NullRun,
    /// The null consumer process's peak RSS and CPU time.
    pub null_usage: Usage,
    /// From spawning the null consumer to its first record (group join).
    pub null_join_s: f64,
    /// The whole machine over the null consumer's first-to-last window.
    pub null_machine: CpuShare,
    /// What a sample of the posts looks like.
    pub sample: PostSample,
}

/// Sizes and language mix of a sample of the loaded posts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PostSample {
    /// Posts sampled.
    pub posts: u64,
    /// Mean record value (the post's JSON) in bytes.
    pub mean_record_bytes: f64,
    /// Mean post text in bytes (UTF-8).
    pub mean_text_bytes: f64,
    /// Share of posts with `lang = "zh"`.
    pub zh_share: f64,
}

/// Loads `posts` posts into `topic` and reads them back with the null consumer.
pub fn load(services: &Services, topic: &str, posts: u64, seed: u64) -> anyhow::Result<Loaded> {
    let mut collector = services.command("collector");
    collector
        .args(["--synthetic", "--rate", "0", "--count", &posts.to_string()])
        .args(["--seed", &seed.to_string()])
        .env("COLLECTOR__TOPICS__RAW", topic)
        .env("COLLECTOR__FILE__PROGRESS", "never");
    let collector = services.spawn("collector-load", collector)?;
    let (status, collector_usage) = collector.wait(Duration::from_secs(600))?;
    let exited_ms = now_ms();
    if !status.success() {
        bail!("the collector exited with {status} while loading; see collector-load.log");
    }

    let NullPass {
        run,
        usage: null_usage,
        join_s: null_join_s,
        machine: null_machine,
    } = run_null(services, topic, posts, "bench-null", "null-consumer.log")?;

    let ends = run.next_offsets.clone();
    let contiguous = run
        .records
        .iter()
        .zip(&ends)
        .all(|(&n, &end)| n as i64 == end);
    if !contiguous || ends.iter().sum::<i64>() != posts as i64 {
        bail!(
            "partition ends {ends:?} (records read {:?}) do not add up to the {posts} posts loaded",
            run.records
        );
    }
    Ok(Loaded {
        posts,
        collector_posts_per_s: rate(posts as f64, run.min_timestamp_ms as f64, exited_ms),
        collector: collector_usage,
        null_join_s,
        null_machine,
        ends,
        null: run,
        null_usage,
        sample: sample_posts(&services.brokers, topic, posts.min(5_000))?,
    })
}

/// One pass of the null consumer.
#[derive(Debug, Clone)]
pub struct NullPass {
    /// What it read and when.
    pub run: NullRun,
    /// Its process's peak RSS and CPU time.
    pub usage: Usage,
    /// From spawning it to its first record (group join), s.
    pub join_s: f64,
    /// The whole machine over its first-to-last window.
    pub machine: CpuShare,
}

/// Reads the `posts` posts of `topic` with the null consumer in a new
/// `group`, logging to `log_name` in the logs folder.
pub fn run_null(
    services: &Services,
    topic: &str,
    posts: u64,
    group: &str,
    log_name: &str,
) -> anyhow::Result<NullPass> {
    let mut null = services.command("null-consumer");
    null.args(["--brokers", &services.brokers, "--topic", topic])
        .args(["--group", group, "--posts", &posts.to_string()])
        .args(["--partitions", &PARTITIONS.to_string()]);
    let log = services.logs.join(log_name);
    let _ = std::fs::remove_file(&log);
    let sampler = CpuSampler::start(services.broker_pid);
    let process = Measured::spawn("null-consumer", null, &log)?;
    let spawned_ms = now_ms_of(&process);
    let (status, usage) = process.wait(Duration::from_secs(600))?;
    let output = std::fs::read_to_string(&log)?;
    if !status.success() {
        bail!("the null consumer failed ({status}): {output}");
    }
    let line = output
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the null consumer printed no result")?;
    let run: NullRun = serde_json::from_str(line).context("parsing the null consumer's result")?;
    let machine = sampler.share(run.first_ms, run.last_ms);
    Ok(NullPass {
        join_s: (run.first_ms - spawned_ms) / 1000.0,
        run,
        usage,
        machine,
    })
}

/// Wall clock (ms) when `process` was spawned.
pub fn now_ms_of(process: &Measured) -> f64 {
    process
        .started
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Reads `count` posts of `topic` and measures their sizes and languages.
fn sample_posts(brokers: &str, topic: &str, count: u64) -> anyhow::Result<PostSample> {
    let mut sample = PostSample::default();
    let (mut record_bytes, mut text_bytes, mut zh) = (0u64, 0u64, 0u64);
    let limit = Duration::from_secs(60);
    read_topic(
        &settings(brokers),
        topic,
        PARTITIONS,
        Some(count),
        limit,
        limit,
        |m| {
            let payload = m.payload().unwrap_or_default();
            record_bytes += payload.len() as u64;
            if let Ok(post) = serde_json::from_slice::<Post>(payload) {
                sample.posts += 1;
                text_bytes += post.text.len() as u64;
                zh += u64::from(post.lang.as_deref() == Some("zh"));
            }
        },
    )?;
    let n = sample.posts.max(1) as f64;
    sample.mean_record_bytes = record_bytes as f64 / n;
    sample.mean_text_bytes = text_bytes as f64 / n;
    sample.zh_share = zh as f64 / n;
    Ok(sample)
}
