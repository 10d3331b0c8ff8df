//! Step 3: the real filter binary in R replicas (one group) over the loaded
//! topic, until the group's committed offsets reach every partition's end.
//!
//! Throughput is taken over the window from the first matched record the
//! group produced to the last one (their producer timestamps, ms), which is
//! the first-to-last consumed window up to the few posts before the first
//! match and after the last; the time from spawning to the first match
//! (start-up and group join) is reported separately.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::Message;
use serde::Serialize;
use weibostream_shared::{BatchReport, MatchedPost};

use crate::cpu::{CpuSampler, CpuShare};
use crate::load::{PARTITIONS, now_ms_of};
use crate::null_consumer::rate;
use crate::process::Usage;
use crate::services::{Services, topic_env};
use crate::topics::{CommittedOffsets, read_topic, settings};

/// One filter run.
#[derive(Debug, Clone, Serialize)]
pub struct FilterRun {
    /// Replicas in the group.
    pub replicas: usize,
    /// Text features on (trending terms and the classifier).
    pub text: bool,
    /// Posts/s over the first-to-last match window.
    pub posts_per_s: f64,
    /// From spawning the replicas to the group's first matched record, s.
    pub join_s: f64,
    /// From spawning the replicas until their commits reached the end, s.
    pub until_committed_s: f64,
    /// Posts the replicas' reports counted (more than N if a rebalance
    /// redelivered some).
    pub posts_in: u64,
    /// Distinct matched posts per rule.
    pub matched_per_rule: BTreeMap<String, u64>,
    /// Distinct matched posts.
    pub matched_posts: u64,
    /// Largest peak RSS of a replica, MiB.
    pub peak_rss_mb: f64,
    /// CPU seconds of all replicas together.
    pub cpu_s: f64,
    /// The whole machine over the throughput window.
    pub machine: CpuShare,
}

/// What a filter run needs.
pub struct FilterPlan<'a> {
    /// Topic holding the loaded posts.
    pub raw_topic: &'a str,
    /// Each partition's end offset.
    pub ends: &'a [i64],
    /// Rules file.
    pub rules: &'a Path,
    /// Replicas.
    pub replicas: usize,
    /// Classifier model: `Some` turns the text features on.
    pub model: Option<&'a Path>,
    /// Batch interval, ms.
    pub batch_interval_ms: u64,
    /// Bound for the whole run.
    pub limit: Duration,
    /// Which repeat of this configuration (1 for the first); each has its
    /// own group and output topics.
    pub round: usize,
}

/// Runs the filter replicas over the loaded posts and measures them.
pub fn run_filter(services: &Services, plan: &FilterPlan<'_>) -> anyhow::Result<FilterRun> {
    let text = plan.model.is_some();
    let mut tag = format!(
        "bench-filter-{}{}",
        if text { "text-" } else { "" },
        plan.replicas
    );
    if plan.round > 1 {
        tag = format!("{tag}-r{}", plan.round);
    }
    let group = format!("{tag}-group");
    let kafka = settings(&services.brokers);
    let offsets = CommittedOffsets::new(&kafka, &group, plan.raw_topic, PARTITIONS)?;
    let sampler = CpuSampler::start(services.broker_pid);
    let mut replicas = Vec::new();
    for i in 1..=plan.replicas {
        let mut command = services.command("filter");
        command
            .arg("--rules")
            .arg(plan.rules)
            .args(["--replica-id", &format!("{tag}-{i}")])
            .env("FILTER__GROUP", &group)
            .env(
                "FILTER__BATCH_INTERVAL_MS",
                plan.batch_interval_ms.to_string(),
            )
            .env("FILTER__RULES_POLL_MS", "0");
        topic_env(&mut command, "filter", plan.raw_topic, &tag);
        if let Some(model) = plan.model {
            command
                .env("FILTER__TRENDING__ENABLED", "true")
                .env("FILTER__CLASSIFIER__MODEL_PATH", model);
        }
        replicas.push(services.spawn(&format!("{tag}-{i}"), command)?);
    }
    let spawned_ms = replicas.first().map(now_ms_of).unwrap_or(0.0);
    let started = Instant::now();
    let deadline = started + plan.limit;
    loop {
        let committed = offsets.read()?;
        if committed.iter().zip(plan.ends).all(|(c, e)| c >= e) {
            break;
        }
        for replica in &mut replicas {
            if let Some(status) = replica.try_finished()? {
                bail!("{} exited with {status}; see its log", replica.name);
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{tag}: committed {committed:?} did not reach {:?} in {:?}",
                plan.ends,
                plan.limit
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let until_committed_s = started.elapsed().as_secs_f64();
    let mut usage = Usage::default();
    let mut peak = 0f64;
    for replica in replicas {
        let one = replica.stop(Duration::from_secs(15))?;
        peak = peak.max(one.peak_rss_mb);
        usage = usage.combine(one);
    }

    let mut posts_in = 0u64;
    let mut announced = 0u64;
    let idle = Duration::from_millis(1500);
    let limit = Duration::from_secs(60);
    read_topic(
        &kafka,
        &format!("{tag}.reports"),
        1,
        None,
        idle,
        limit,
        |m| {
            if let Some(Ok(report)) = m.payload().map(serde_json::from_slice::<BatchReport>) {
                posts_in += report.posts_in;
                announced += report.matched_posts;
            }
        },
    )
    .context("reading the batch reports")?;
    let matched = read_matches(&kafka, &format!("{tag}.matched"), announced)?;
    let machine = sampler.share(matched.first_ms, matched.last_ms);
    Ok(FilterRun {
        replicas: plan.replicas,
        text,
        posts_per_s: rate(
            plan.ends.iter().sum::<i64>() as f64,
            matched.first_ms,
            matched.last_ms,
        ),
        join_s: (matched.first_ms - spawned_ms) / 1000.0,
        until_committed_s,
        posts_in,
        matched_posts: matched.ids.len() as u64,
        matched_per_rule: matched.per_rule,
        peak_rss_mb: peak,
        cpu_s: usage.cpu_s,
        machine,
    })
}

/// The matched topic of a run, read back.
struct Matches {
    ids: HashSet<String>,
    per_rule: BTreeMap<String, u64>,
    first_ms: f64,
    last_ms: f64,
}

/// Reads `expected` matched records; counts distinct posts per rule and the
/// producer timestamps' range.
fn read_matches(
    kafka: &weibostream_shared::kafka::KafkaSettings,
    topic: &str,
    expected: u64,
) -> anyhow::Result<Matches> {
    let mut matches = Matches {
        ids: HashSet::new(),
        per_rule: BTreeMap::new(),
        first_ms: f64::MAX,
        last_ms: f64::MIN,
    };
    let limit = Duration::from_secs(120);
    let partitions = kafka_partitions();
    read_topic(
        kafka,
        topic,
        partitions,
        Some(expected),
        limit,
        limit,
        |m| {
            if let Some(ts) = m.timestamp().to_millis() {
                matches.first_ms = matches.first_ms.min(ts as f64);
                matches.last_ms = matches.last_ms.max(ts as f64);
            }
            if let Some(Ok(record)) = m.payload().map(serde_json::from_slice::<MatchedPost>)
                && matches.ids.insert(record.post.id.clone())
            {
                for rule in record.rules {
                    *matches.per_rule.entry(rule).or_default() += 1;
                }
            }
        },
    )
    .with_context(|| format!("reading {topic}"))?;
    if matches.ids.is_empty() {
        bail!("{topic}: no matched posts, so no throughput window");
    }
    Ok(matches)
}

/// Partitions the filter creates its matched topic with (the reports
/// topic has 1).
fn kafka_partitions() -> i32 {
    weibostream_shared::Topics::default().matched_partitions
}
