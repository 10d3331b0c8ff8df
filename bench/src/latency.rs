//! Step 5: end-to-end latency at a fixed input rate through collector →
//! 3 filter replicas → sink, measured from outside: the sink's JSON-lines
//! file (written and synced once per block) is read every 5 ms and each new
//! line is stamped with the time it was read. For each post:
//! raw = read time − the post's `collected_at` (set just before the
//! collector publishes it); after close = read time − its `batch_time`
//! (the end of its batch: the wait for the batch to close is by design).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;
use weibostream_shared::{BatchReport, MatchedPost};

use crate::load::PARTITIONS;
use crate::null_consumer::now_ms;
use crate::process::Usage;
use crate::services::{Services, topic_env};
use crate::topics::{CommittedOffsets, read_topic, settings};

/// Latency percentiles, ms.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (sorted here).
    pub fn of(values: &mut [f64]) -> Percentiles {
        values.sort_by(f64::total_cmp);
        let at = |q: f64| {
            if values.is_empty() {
                return 0.0;
            }
            let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
            values[rank - 1]
        };
        Percentiles {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// What the latency run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyRun {
    /// Input rate, posts/s.
    pub rate_per_s: u64,
    /// Posts published.
    pub posts: u64,
    /// Matched posts the sink output.
    pub outputs: u64,
    /// The filters' batch interval, ms.
    pub batch_interval_ms: u64,
    /// Publish → output.
    pub raw_ms: Percentiles,
    /// Batch close → output.
    pub after_close_ms: Percentiles,
    /// Batch close → the filter's report created (its producer
    /// timestamp): the filter's share of the after-close latency.
    pub report_after_close_ms: Percentiles,
    /// Collector's peak RSS and CPU.
    pub collector: Usage,
    /// Filters: the largest peak RSS of a replica, CPU summed.
    pub filter: Usage,
    /// Sink's peak RSS and CPU.
    pub sink: Usage,
}

/// What the latency run needs.
pub struct LatencyPlan<'a> {
    /// Rules file.
    pub rules: &'a Path,
    /// Input rate, posts/s.
    pub rate_per_s: u64,
    /// How long the input runs, s.
    pub seconds: u64,
    /// Filter replicas.
    pub replicas: usize,
    /// The filters' batch interval, ms.
    pub batch_interval_ms: u64,
}

/// Runs the pipeline at a fixed rate and measures output latency.
pub fn run_latency(services: &Services, plan: &LatencyPlan<'_>) -> anyhow::Result<LatencyRun> {
    let prefix = "bench-e2e";
    let raw = format!("{prefix}.raw");
    let jsonl = services.logs.join("e2e-matched.jsonl");
    let _ = std::fs::remove_file(&jsonl);
    let mut sink = services.command("sink");
    sink.env("SINK__GROUP", format!("{prefix}-sink"))
        .env("SINK__PRINT", "false")
        .env("SINK__JSONL_PATH", &jsonl);
    topic_env(&mut sink, "sink", &raw, prefix);
    let sink = services.spawn("e2e-sink", sink)?;
    let group = format!("{prefix}-filter");
    let mut filters = Vec::new();
    for i in 1..=plan.replicas {
        let mut filter = services.command("filter");
        filter
            .arg("--rules")
            .arg(plan.rules)
            .args(["--replica-id", &format!("{prefix}-{i}")])
            .env("FILTER__GROUP", &group)
            .env(
                "FILTER__BATCH_INTERVAL_MS",
                plan.batch_interval_ms.to_string(),
            )
            .env("FILTER__RULES_POLL_MS", "0");
        topic_env(&mut filter, "filter", &raw, prefix);
        filters.push(services.spawn(&format!("e2e-filter-{i}"), filter)?);
    }
    let kafka = settings(&services.brokers);
    wait_for_assignment(
        &services.brokers,
        &format!("{prefix}.reports"),
        plan.replicas,
    )?;

    let tail = Tail::start(jsonl.clone());
    let count = plan.rate_per_s * plan.seconds;
    let mut collector = services.command("collector");
    collector
        .args(["--synthetic", "--rate", &plan.rate_per_s.to_string()])
        .args(["--count", &count.to_string(), "--seed", "7"])
        .env("COLLECTOR__TOPICS__RAW", &raw);
    let collector = services.spawn("e2e-collector", collector)?;
    let (status, collector_usage) = collector.wait(Duration::from_secs(plan.seconds * 3 + 60))?;
    if !status.success() {
        bail!("the e2e collector exited with {status}");
    }
    let offsets = CommittedOffsets::new(&kafka, &group, &raw, PARTITIONS)?;
    let deadline = Instant::now() + Duration::from_secs(60) + 3 * interval(plan);
    while offsets.read()?.iter().sum::<i64>() < count as i64 {
        if Instant::now() > deadline {
            bail!("the e2e filters did not commit all {count} posts in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Stopped filters close their open batch and publish its report, so the
    // reports topic then holds every match announced.
    let mut filter_usage = Usage::default();
    for filter in filters {
        filter_usage = filter_usage.combine(filter.stop(Duration::from_secs(15))?);
    }
    let mut announced = 0u64;
    let mut report_delays = Vec::new();
    let reports = format!("{prefix}.reports");
    let (idle, limit) = (Duration::from_millis(1500), Duration::from_secs(60));
    read_topic(&kafka, &reports, 1, None, idle, limit, |m| {
        if let Some(Ok(report)) = m.payload().map(serde_json::from_slice::<BatchReport>) {
            announced += report.matched_posts;
            if let Some(created) = m.timestamp().to_millis() {
                report_delays.push(created as f64 - report.batch_time.timestamp_millis() as f64);
            }
        }
    })?;
    let deadline = Instant::now() + Duration::from_secs(30) + 2 * interval(plan);
    while tail.lines() < announced && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let samples = tail.stop()?;
    if (samples.len() as u64) < announced {
        eprintln!(
            "[bench] warning: the sink output {} of the {announced} matches the filters announced",
            samples.len()
        );
        // Where were they lost: not in the broker's log, or not read by the sink?
        let matched = format!("{prefix}.matched");
        let mut seen = Vec::new();
        let stored = read_topic(&kafka, &matched, PARTITIONS, None, idle, limit, |m| {
            seen.push((m.partition(), m.offset()));
        })?;
        eprintln!(
            "[bench]   {matched} holds {stored} records read back from the start; offset gaps (partition, first missing, next present): {:?}",
            offset_gaps(&mut seen)
        );
    }

    let sink_usage = sink.stop(Duration::from_secs(15))?;
    let (mut raw_ms, mut after_ms): (Vec<f64>, Vec<f64>) = samples.into_iter().unzip();
    if raw_ms.is_empty() {
        bail!("the sink output no matched post");
    }
    Ok(LatencyRun {
        rate_per_s: plan.rate_per_s,
        posts: count,
        outputs: raw_ms.len() as u64,
        batch_interval_ms: plan.batch_interval_ms,
        raw_ms: Percentiles::of(&mut raw_ms),
        after_close_ms: Percentiles::of(&mut after_ms),
        report_after_close_ms: Percentiles::of(&mut report_delays),
        collector: collector_usage,
        filter: filter_usage,
        sink: sink_usage,
    })
}

fn interval(plan: &LatencyPlan<'_>) -> Duration {
    Duration::from_millis(plan.batch_interval_ms)
}

/// Waits until reports show `replicas` replicas that together own every
/// partition (the group has settled), up to 90 s.
fn wait_for_assignment(brokers: &str, reports: &str, replicas: usize) -> anyhow::Result<()> {
    let consumer: BaseConsumer = settings(brokers)
        .admin_config("bench-reader")
        .set("group.id", "bench-reader")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating a reports reader")?;
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(reports, 0, Offset::Beginning)?;
    consumer.assign(&list)?;
    let started = Instant::now();
    let mut latest: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    loop {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.context("reading the reports")?;
            if let Some(Ok(report)) = message.payload().map(serde_json::from_slice::<BatchReport>) {
                let owned = report.covered_partitions().collect();
                latest.insert(report.replica, owned);
            }
        }
        let mut covered: Vec<i32> = latest.values().flatten().copied().collect();
        covered.sort_unstable();
        covered.dedup();
        let working = latest.values().filter(|p| !p.is_empty()).count();
        if working >= replicas && covered.len() == PARTITIONS as usize {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(90) {
            bail!("{reports}: {working} of {replicas} replicas reported partitions {covered:?}");
        }
    }
}

/// Two threads: one reads what the sink appended to its JSON-lines file
/// every 5 ms and stamps it with the time it was read, one parses it. A
/// single thread parsing between reads (~25,000 lines a block) stamped the
/// rest of a block read in two parts up to tens of ms late.
struct Tail {
    stop: Arc<AtomicBool>,
    lines: Arc<Samples>,
    reader: JoinHandle<anyhow::Result<()>>,
    parser: JoinHandle<anyhow::Result<()>>,
}

impl Tail {
    fn start(path: PathBuf) -> Tail {
        let stop = Arc::new(AtomicBool::new(false));
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let reader = {
            let stop = stop.clone();
            std::thread::spawn(move || read_appended(&path, &stop, &sender))
        };
        let parser = {
            let lines = lines.clone();
            std::thread::spawn(move || parse_lines(&receiver, &lines))
        };
        Tail {
            stop,
            lines,
            reader,
            parser,
        }
    }

    /// Lines read so far.
    fn lines(&self) -> u64 {
        self.lines.lock().map(|l| l.len()).unwrap_or(0) as u64
    }

    /// (raw, after close) latency of every line, ms.
    fn stop(self) -> anyhow::Result<Vec<(f64, f64)>> {
        self.stop.store(true, Ordering::Relaxed);
        // The reader drops its sender when it ends, which ends the parser.
        for thread in [self.reader, self.parser] {
            match thread.join() {
                Ok(result) => result?,
                Err(_) => bail!("a tail thread panicked"),
            }
        }
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        Ok(std::mem::take(&mut *lines))
    }
}

type Samples = std::sync::Mutex<Vec<(f64, f64)>>;

/// Holes in the offsets read per partition, as (partition, first missing
/// offset, next offset present). Offsets of a topic written only by
/// idempotent producers have no control records, so a hole is a record the
/// reader did not get.
fn offset_gaps(seen: &mut [(i32, i64)]) -> Vec<(i32, i64, i64)> {
    seen.sort_unstable();
    seen.windows(2)
        .filter(|w| w[0].0 == w[1].0 && w[1].1 > w[0].1 + 1)
        .map(|w| (w[0].0, w[0].1 + 1, w[1].1))
        .collect()
}

/// Reads what was appended to `path` every 5 ms and sends it with the time
/// it was read (ms since the epoch).
fn read_appended(
    path: &Path,
    stop: &AtomicBool,
    chunks: &std::sync::mpsc::Sender<(f64, Vec<u8>)>,
) -> anyhow::Result<()> {
    let mut position = 0u64;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(5));
        let Ok(mut file) = File::open(path) else {
            continue;
        };
        file.seek(SeekFrom::Start(position))?;
        let mut chunk = Vec::new();
        let read = file
            .read_to_end(&mut chunk)
            .context("reading the sink's output")?;
        if read == 0 {
            continue;
        }
        let read_ms = now_ms();
        position += read as u64;
        if chunks.send((read_ms, chunk)).is_err() {
            bail!("the parser thread ended early");
        }
    }
    Ok(())
}

/// Parses the chunks into (raw, after close) latencies: a line's latency
/// counts to the time the chunk holding its end was read.
fn parse_lines(
    chunks: &std::sync::mpsc::Receiver<(f64, Vec<u8>)>,
    samples: &Samples,
) -> anyhow::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    for (read_ms, chunk) in chunks {
        pending.extend_from_slice(&chunk);
        let Some(end) = pending.iter().rposition(|&b| b == b'\n') else {
            continue;
        };
        let mut new = Vec::new();
        for line in pending[..end]
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let matched: MatchedPost =
                serde_json::from_slice(line).context("parsing a line of the sink's output")?;
            let published = matched.post.collected_at.timestamp_micros() as f64 / 1000.0;
            let closed = matched.batch_time.timestamp_micros() as f64 / 1000.0;
            new.push((read_ms - published, read_ms - closed));
        }
        pending.drain(..=end);
        let mut samples = samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.extend(new);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_gaps_name_each_hole_per_partition() {
        let mut seen = vec![
            (1, 0),
            (0, 2),
            (0, 0),
            (0, 1),
            (0, 5),
            (1, 1),
            (1, 9),
            (0, 6),
        ];
        assert_eq!(offset_gaps(&mut seen), vec![(0, 3, 5), (1, 2, 9)]);
        assert!(offset_gaps(&mut [(3, 7), (3, 8)]).is_empty());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let p = Percentiles::of(&mut values);
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&mut []).p99, 0.0);
    }
}
