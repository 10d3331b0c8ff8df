//! The collector's run loop: take posts from the configured source, publish
//! them, and on a finite source's end or on shutdown wait for every ack.
//! Live sources (`sources = [...]`) run through [`crate::live`].

use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use weibostream_shared::TopicRole;
use weibostream_shared::http::{self, Readiness};
use weibostream_shared::kafka;
use weibostream_shared::stats::BrokerReadiness;

use crate::config::{CollectorConfig, Progress, SourceKind};
use crate::file_input::{FileRecord, FileRecords};
use crate::live::LivePlan;
use crate::metrics::{CollectorMetrics, ErrorKind, SourceMetrics};
use crate::ops::CollectorOps;
use crate::publish::Publisher;
use crate::synthetic::SyntheticPosts;

const SERVICE: &str = "collector";

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Posts acknowledged by the broker.
    pub published: u64,
    /// Deleted statuses skipped.
    pub skipped: u64,
    /// Input records that could not be turned into posts (logged).
    pub bad_records: u64,
}

/// The collector, built and ready to run.
pub struct Collector {
    config: CollectorConfig,
    live: Option<LivePlan>,
    /// Counters of the synthetic or file source.
    source: Arc<SourceMetrics>,
}

impl Collector {
    /// Validates the config (and that a file source's file exists, and
    /// reads the live sources' tokens).
    pub fn build(config: CollectorConfig) -> Result<Collector, String> {
        config.validate()?;
        let finite = match config.sources.as_slice() {
            [kind] if !kind.is_live() => Some(*kind),
            _ => None,
        };
        let source = Arc::new(SourceMetrics::new(
            finite.map_or("synthetic", SourceKind::name),
        ));
        if finite.is_none() {
            let live = Some(LivePlan::build(&config)?);
            return Ok(Collector {
                config,
                live,
                source,
            });
        }
        if finite == Some(SourceKind::File) && !config.file.path.is_file() {
            return Err(format!(
                "file.path: {} is not a readable file",
                config.file.path.display()
            ));
        }
        Ok(Collector {
            config,
            live: None,
            source,
        })
    }

    /// Counters of the sources (the live ones, or the one synthetic or file
    /// source), readable while [`Collector::run`] runs.
    pub fn metrics(&self) -> CollectorMetrics {
        self.live.as_ref().map_or_else(
            || CollectorMetrics::new(vec![self.source.clone()]),
            |live| live.metrics().clone(),
        )
    }

    /// Runs until the source ends or `shutdown` is cancelled, serving
    /// `/metrics`, `/healthz` and `/readyz` on `http.bind` meanwhile.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<RunSummary> {
        let mut registry = Registry::with_prefix("weibostream");
        let ops = CollectorOps::register(&mut registry, self.metrics());
        let readiness = Readiness::new();
        readiness.not_ready("waiting for the broker");
        // Not a child of `shutdown`: metrics stay up while the last posts drain.
        let stop_http = CancellationToken::new();
        let router = http::ops_router(Arc::new(registry), readiness.clone());
        let server = http::serve(SERVICE, &self.config.http, router, stop_http.clone()).await?;
        let result = self.collect(ops, readiness, shutdown).await;
        stop_http.cancel();
        if let Some(server) = server {
            let _ = tokio::time::timeout(Duration::from_secs(2), server.task).await;
        }
        result
    }

    async fn collect(
        self,
        ops: CollectorOps,
        readiness: Readiness,
        shutdown: CancellationToken,
    ) -> anyhow::Result<RunSummary> {
        let config = &self.config;
        kafka::wait_for_broker(&config.kafka, SERVICE).await?;
        let specs = config.topics.specs(&[TopicRole::Raw]);
        kafka::ensure_topics(&config.kafka, SERVICE, &specs).await?;
        readiness.ready();
        if let Some(live) = self.live {
            tracing::info!(sources = ?config.sources, topic = %config.topics.raw, "collector started");
            let broker_side = Readiness::new();
            broker_side.ready();
            let stop_following = CancellationToken::new();
            let follower = tokio::spawn(follow_sources(
                readiness,
                broker_side.clone(),
                live.metrics().clone(),
                stop_following.clone(),
            ));
            let broker = BrokerReadiness {
                readiness: broker_side,
            };
            let result = live.run(&self.config, ops, broker, shutdown).await;
            stop_following.cancel();
            let _ = follower.await;
            return result;
        }
        let broker = BrokerReadiness { readiness };
        let mut publisher = Publisher::new(
            &config.kafka,
            &config.topics.raw,
            self.source.clone(),
            ops,
            broker,
        )?;
        tracing::info!(sources = ?config.sources, topic = %config.topics.raw, "collector started");
        let mut summary = if config.sources == [SourceKind::File] {
            self.run_file(&mut publisher, &shutdown).await?
        } else {
            self.run_synthetic(&mut publisher, &shutdown).await?
        };
        // A source that ended by itself waits for every ack (librdkafka retries
        // until message.timeout.ms, e.g. through a broker stall); a shutdown
        // request bounds the wait by shutdown_timeout_ms.
        while !shutdown.is_cancelled() && publisher.in_flight() > 0 {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        let timeout = Duration::from_millis(config.shutdown_timeout_ms);
        let finish = tokio::task::block_in_place(|| publisher.finish(timeout));
        summary.published = finish?;
        tracing::info!(
            published = summary.published,
            skipped = summary.skipped,
            bad_records = summary.bad_records,
            "collector stopped"
        );
        Ok(summary)
    }

    async fn run_synthetic(
        &self,
        publisher: &mut Publisher,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<RunSummary> {
        let settings = &self.config.synthetic;
        let mut posts = SyntheticPosts::new(settings.seed);
        let mut pace = Pace::new(settings.rate_per_s);
        let bar = progress_bar(
            Progress::Auto,
            (settings.count > 0).then_some(settings.count),
            "posts",
        );
        while !shutdown.is_cancelled() && (settings.count == 0 || publisher.sent() < settings.count)
        {
            let post = posts.next_post(Utc::now());
            self.source.add_fetched(1);
            publisher.publish(&post).await?;
            bar.inc(1);
            pace.tick().await;
        }
        bar.finish_and_clear();
        Ok(RunSummary::default())
    }

    async fn run_file(
        &self,
        publisher: &mut Publisher,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<RunSummary> {
        let settings = &self.config.file;
        let file = File::open(&settings.path)?;
        let size = file.metadata().map(|m| m.len()).ok();
        let bar = progress_bar(settings.progress, size, "bytes");
        let mut records = FileRecords::new(BufReader::new(bar.wrap_read(file)), Utc::now);
        let mut pace = Pace::new(settings.rate_per_s);
        let mut summary = RunSummary::default();
        while !shutdown.is_cancelled() {
            // Reading is blocking file I/O, but a buffered local file read is
            // short; the pace and publish awaits keep the runtime responsive.
            let Some(record) = records.next() else { break };
            match record {
                Ok(FileRecord::Post(post)) => {
                    self.source.add_fetched(1);
                    publisher.publish(&post).await?;
                    pace.tick().await;
                }
                Ok(FileRecord::Deleted { id }) => {
                    self.source.add_skipped(1);
                    tracing::debug!(%id, "skipping a deleted status");
                    summary.skipped += 1;
                }
                Err(error) => {
                    tracing::warn!(file = %settings.path.display(), %error, "skipping a bad input record");
                    self.source.add_error(ErrorKind::InvalidRecord);
                    summary.bad_records += 1;
                }
            }
        }
        bar.finish_and_clear();
        Ok(summary)
    }
}

/// How often `/readyz` follows the broker and the sources.
const READINESS_INTERVAL: Duration = Duration::from_millis(200);

/// Keeps `served` (what `/readyz` answers) ready only while the broker is
/// up and no source is paused, saying which one is and why.
async fn follow_sources(
    served: Readiness,
    broker: Readiness,
    sources: CollectorMetrics,
    stop: CancellationToken,
) {
    loop {
        let paused = sources
            .sources()
            .iter()
            .find_map(|source| Some((source.name().to_owned(), source.paused()?)));
        if !broker.is_ready() {
            served.not_ready("broker unreachable: no broker connection is up");
        } else if let Some((name, why)) = paused {
            served.not_ready(&format!("source {name} is {why}"));
        } else {
            served.ready();
        }
        if !weibostream_shared::retry::sleep(READINESS_INTERVAL, &stop).await {
            return;
        }
    }
}

fn progress_bar(mode: Progress, total: Option<u64>, unit: &str) -> ProgressBar {
    let show = match mode {
        Progress::Always => true,
        Progress::Never => false,
        Progress::Auto => std::io::stderr().is_terminal(),
    };
    if !show {
        return ProgressBar::hidden();
    }
    let bar = total.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
    let template = if unit == "bytes" {
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})"
    } else {
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} posts ({per_sec}, eta {eta})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Paces a loop to a target rate; yields now and then when unpaced so a
/// shutdown can be noticed.
struct Pace {
    rate_per_s: u64,
    start: tokio::time::Instant,
    count: u64,
}

impl Pace {
    fn new(rate_per_s: u64) -> Self {
        Pace {
            rate_per_s,
            start: tokio::time::Instant::now(),
            count: 0,
        }
    }

    async fn tick(&mut self) {
        self.count += 1;
        if self.rate_per_s == 0 {
            if self.count.is_multiple_of(1024) {
                tokio::task::yield_now().await;
            }
            return;
        }
        let due = self.start + Duration::from_secs_f64(self.count as f64 / self.rate_per_s as f64);
        // Sleeping costs ~1 ms at best; only sleep once ahead by more than that.
        if due > tokio::time::Instant::now() + Duration::from_millis(2) {
            tokio::time::sleep_until(due).await;
        } else if self.count.is_multiple_of(1024) {
            tokio::task::yield_now().await;
        }
    }
}
