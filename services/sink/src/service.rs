//! The sink's run loop: read matches and reports, merge them into blocks,
//! output each block, hand it to the store's writer, then commit what it
//! accounted for once it is stored.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use prometheus_client::registry::Registry;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientContext, Offset, Statistics, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use weibostream_shared::config::InvalidKey;
use weibostream_shared::http::{self, HttpServer, Readiness};
use weibostream_shared::kafka;
use weibostream_shared::retry::RetryGate;
use weibostream_shared::{BatchReport, MatchedPost, TopicRole};

use crate::SinkConfig;
use crate::alerts::{self, Alerts, Dispatcher, deliver::Channel};
use crate::assignment::Assignment;
use crate::dashboard::{self, Dashboard};
use crate::dedupe::Dedupe;
use crate::history::History;
use crate::jsonl::JsonLinesOutput;
use crate::lag::ConsumerLag;
use crate::merge::Merger;
use crate::metrics::SinkMetrics;
use crate::offsets::{OffsetTracker, Receipt};
use crate::outputs::Outputs;
use crate::store::writer::{QUEUE_BLOCKS, StoreEvent, StoreWriter};
use crate::store::{PostgresStore, SqliteStore, Store};
use crate::topology::{self, PartitionCounts};
use weibostream_shared::quirks::resume::{self, Resumer};

const SERVICE: &str = "sink";
const TICK: Duration = Duration::from_millis(100);
const METADATA_REFRESH: Duration = Duration::from_secs(30);
const LAG_REFRESH: Duration = Duration::from_secs(1);

/// The sink, built and ready to run.
pub struct Sink {
    config: SinkConfig,
    registry: Arc<Registry>,
    metrics: SinkMetrics,
    readiness: Readiness,
    dashboard: Dashboard,
    http: Option<HttpServer>,
    http_started: bool,
    alert_specs: std::collections::BTreeMap<String, weibostream_shared::rules_file::AlertSpec>,
    channels: Vec<Channel>,
    history: Option<History>,
}

/// Why a sink could not be built (all are the user's to fix: exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A config key is invalid.
    #[error("{0}")]
    Config(#[from] InvalidKey),
    /// The rules file's alerts cannot be read, or name a channel that is
    /// not configured.
    #[error("{0}")]
    Alerts(InvalidKey),
    /// An alert channel's URL or signing secret cannot be read.
    #[error("{0}")]
    Secret(InvalidKey),
}

impl Sink {
    /// Validates the config, then reads the rules file's alerts and the
    /// alert channels' secrets; the error names the key.
    pub fn build(config: SinkConfig) -> Result<Sink, BuildError> {
        config.validate()?;
        let alert_specs = match &config.alerts.rules_path {
            Some(path) => alerts::load_specs(path).map_err(BuildError::Alerts)?,
            None => Default::default(),
        };
        for (rule, spec) in &alert_specs {
            for name in spec.channels.iter().flatten() {
                if !config.alerts.channels.iter().any(|c| &c.name == name) {
                    return Err(BuildError::Alerts(InvalidKey::new(
                        "alerts.rules_path",
                        format!(
                            "rule {rule:?}: alert.channels names {name:?}, which is not in alerts.channels"
                        ),
                    )));
                }
            }
        }
        let channels = config
            .alerts
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| Channel::read(i, c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(BuildError::Secret)?;
        let history = match (&config.sqlite_path, &config.postgres_url) {
            (Some(path), _) => Some(History::Sqlite(path.clone())),
            (None, Some(url)) => Some(History::Postgres(url.clone())),
            (None, None) => None,
        };
        let mut registry = Registry::with_prefix("weibostream");
        let metrics = SinkMetrics::register(&mut registry);
        // Every configured output shows in the metrics from the start, at 0.
        let outputs = [
            config.print.then_some("stdout"),
            config.jsonl_path.as_ref().map(|_| "jsonl"),
            config.sqlite_path.as_ref().map(|_| "sqlite"),
            (config.sqlite_path.is_none() && config.postgres_url.is_some()).then_some("postgres"),
        ];
        for output in outputs.into_iter().flatten() {
            metrics.posts_written(output, 0);
        }
        let dashboard = Dashboard::new(config.grace_ms);
        Ok(Sink {
            config,
            registry: Arc::new(registry),
            metrics,
            readiness: Readiness::new(),
            dashboard,
            http: None,
            http_started: false,
            alert_specs,
            channels,
            history,
        })
    }

    /// Starts serving the dashboard, `/metrics`, `/healthz` and `/readyz`
    /// on `http.bind` (if not started yet; `run` starts it otherwise) and
    /// returns the address, `None` when `http.bind` is `off`.
    pub async fn serve_http(&mut self) -> anyhow::Result<Option<SocketAddr>> {
        if !self.http_started {
            // Open event streams end when the server stops.
            let stop = CancellationToken::new();
            let router = http::ops_router(self.registry.clone(), self.readiness.clone()).merge(
                dashboard::router(self.dashboard.clone(), stop.clone(), self.history.clone()),
            );
            self.http = http::serve(SERVICE, &self.config.http, router, stop).await?;
            self.http_started = true;
            if let Some(server) = &self.http {
                tracing::info!(url = %format!("http://{}/", server.address), "dashboard");
            }
        }
        Ok(self.http.as_ref().map(|server| server.address))
    }

    /// Runs until `shutdown` is cancelled; then outputs what is complete,
    /// commits and leaves the group.
    pub async fn run(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // The server stops when `self` is dropped, however `consume` ends.
        self.serve_http().await?;
        let result = self.consume(shutdown).await;
        if let Some(server) = self.http.take() {
            server.stop().await;
        }
        result
    }

    async fn consume(&self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let config = &self.config;
        let metrics = &self.metrics;
        self.readiness.not_ready("connecting to the broker");
        let topics = &config.topics;
        let mut seen = Dedupe::new(config.dedupe_capacity);
        let jsonl = match &config.jsonl_path {
            Some(path) => Some(JsonLinesOutput::open(path, &mut seen)?),
            None => None,
        };
        let store = match (&config.sqlite_path, &config.postgres_url) {
            (Some(path), _) => Some(Store::Sqlite(SqliteStore::open(path)?)),
            (None, Some(url)) => Some(Store::Postgres(PostgresStore::open(url.expose()).await?)),
            (None, None) => None,
        };
        let alerts = if self.alert_specs.is_empty() {
            None
        } else {
            let dispatcher =
                Dispatcher::start(self.channels.clone(), &config.alerts, metrics.clone())
                    .map_err(anyhow::Error::msg)?;
            Some(Alerts::new(
                self.alert_specs.clone(),
                dispatcher,
                metrics.clone(),
            ))
        };
        let stop_retention = CancellationToken::new();
        let _stop_retention = stop_retention.clone().drop_guard();
        if let (Some(history), days @ 1..) = (&self.history, config.retention_days) {
            tokio::spawn(history.clone().keep(days, metrics.clone(), stop_retention));
        }
        kafka::wait_for_broker(&config.kafka, SERVICE).await?;
        let specs = topics.specs(&[TopicRole::Raw, TopicRole::Matched, TopicRole::Reports]);
        kafka::ensure_topics(&config.kafka, SERVICE, &specs).await?;
        let mut partition_count =
            kafka::partition_count(&config.kafka, SERVICE, &topics.raw).await?;
        let read_topics = [topics.matched.as_str(), topics.reports.as_str()];
        let context = SinkContext {
            lag: ConsumerLag::new(&[&topics.matched, &topics.reports]),
        };
        let mut consumer_config = config.kafka.consumer_config(SERVICE, &config.group);
        ConsumerLag::enable(&mut consumer_config);
        let consumer: StreamConsumer<SinkContext> = consumer_config
            .create_with_context(context.clone())
            .context("creating the consumer")?;
        self.readiness.not_ready("assigning partitions");
        let mut assignment = Assignment::default();
        // The gap guard (`kafka.local_broker_quirks` only).
        let mut resumer = config
            .kafka
            .local_broker_quirks
            .then(|| Resumer::new(metrics.rewinds.clone(), metrics.skipped_records.clone()));
        let added = assignment
            .extend(&consumer, &config.kafka, SERVICE, &read_topics)
            .await?;
        if let Some(resumer) = &mut resumer {
            resumer.apply(resume::committed_starts(&consumer, &added));
        }
        tracing::info!(group = %config.group, partitions = partition_count, "sink started");
        let stop_watch = CancellationToken::new();
        let _stop_watch = stop_watch.clone().drop_guard();
        let mut counts = topology::watch_partition_counts(
            &config.kafka,
            SERVICE,
            [
                topics.raw.as_str(),
                topics.matched.as_str(),
                topics.reports.as_str(),
            ]
            .map(str::to_string)
            .to_vec(),
            METADATA_REFRESH,
            stop_watch,
        )?;
        let mut watching_counts = true;

        let mut merger = Merger::new(
            partition_count,
            Duration::from_millis(config.grace_ms),
            seen,
        );
        if store.is_some() {
            merger = merger.keep_redelivered();
        }
        let backoff = || {
            RetryGate::new(
                Duration::from_millis(config.store_retry_initial_ms),
                Duration::from_millis(config.store_retry_max_ms),
            )
        };
        let writer =
            store.map(|store| StoreWriter::start(store, alerts, backoff(), metrics.clone()));
        let mut tracker = OffsetTracker::default();
        let mut outputs = Outputs::new(
            config,
            jsonl,
            writer,
            self.dashboard.clone(),
            metrics.clone(),
        );
        let mut backlog = VecDeque::new();
        let mut retry = backoff();
        // The store's last error while its writes fail.
        let mut store_failing: Option<String> = None;
        let mut paused = false;
        let mut tick = tokio::time::interval(TICK);
        let mut last_lag = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
                changed = counts.changed(), if watching_counts => match changed {
                    Ok(()) => {
                        let latest = counts.borrow_and_update().clone();
                        partition_count = apply_counts(&consumer, &latest, &topics.raw,
                            partition_count, &mut merger, &mut assignment, &mut resumer);
                    }
                    Err(_) => watching_counts = false,
                },
                event = outputs.store_event() => match event {
                    Some(StoreEvent::Stored(receipts)) => {
                        for receipt in &receipts {
                            tracker.done(receipt);
                        }
                        store_failing = None;
                        commit(&consumer, &mut tracker, CommitMode::Async);
                    }
                    Some(StoreEvent::Failed { error, .. }) => {
                        store_failing = Some(error);
                        // Partitions assigned since the last pause pause too.
                        set_paused(&consumer, true);
                    }
                    None => anyhow::bail!("the store writer ended unexpectedly"),
                },
                message = consumer.recv() => match message {
                    Ok(message) => {
                        let admitted = match &mut resumer {
                            Some(resumer) => resumer.admit(&consumer, message.topic(), message.partition(), message.offset()),
                            None => true,
                        };
                        if admitted {
                            accept(config, metrics, &message, &mut merger, &mut tracker);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "consumer error; retrying"),
                },
            }
            backlog.extend(merger.ready(Utc::now()));
            metrics.pending_batches.set(merger.pending_batches() as i64);
            let mut output_failing = None;
            if !backlog.is_empty() && retry.due() {
                if retry.failing() {
                    metrics.output_write_retries.inc();
                }
                match outputs.drain(&mut backlog, &mut tracker) {
                    Ok(()) => {
                        if retry.succeeded() {
                            tracing::info!("outputs writable again");
                        }
                        commit(&consumer, &mut tracker, CommitMode::Async);
                    }
                    Err(error) => {
                        let wait = retry.failed();
                        metrics.output_write_failures.inc();
                        tracing::error!(
                            error = format!("{error:#}"),
                            retry_in_ms = wait.as_millis() as u64,
                            blocks_waiting = backlog.len(),
                            "cannot write output; consumption paused, nothing committed past it"
                        );
                        set_paused(&consumer, true);
                        output_failing = Some(format!("{error:#}"));
                    }
                }
            }
            let failing = output_failing.as_ref().or(store_failing.as_ref());
            if let Some(error) = failing {
                self.readiness
                    .not_ready(&format!("cannot write output, consumption paused: {error}"));
            }
            let failing = retry.failing() || store_failing.is_some();
            // A store that is merely slow holds consumption back too, so
            // blocks do not pile up in memory behind its queue.
            let store_behind = backlog.len() > QUEUE_BLOCKS;
            let pause = failing || store_behind;
            if pause != paused {
                paused = pause;
                metrics.consumption_paused.set(i64::from(pause));
                set_paused(&consumer, pause);
                match (pause, failing) {
                    (false, _) => tracing::info!("resuming consumption"),
                    (true, false) => tracing::info!(
                        blocks_waiting = backlog.len(),
                        "the store is behind; consumption paused until it catches up"
                    ),
                    (true, true) => {}
                }
            }
            if !failing && !self.readiness.is_ready() {
                self.readiness.ready();
            }
            if last_lag.elapsed() >= LAG_REFRESH {
                last_lag = tokio::time::Instant::now();
                // Paused partitions get nothing by design.
                if let Some(resumer) = &mut resumer
                    && !paused
                {
                    resumer.check_stalls(&consumer, context.lag.ends());
                }
                if let Ok(assignment) = consumer.assignment() {
                    context.lag.export(&assignment, metrics);
                }
            }
        }
        // Complete blocks only: an incomplete batch is left uncommitted and
        // will be merged again by the next sink run.
        self.readiness.not_ready("stopping");
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(config.shutdown_timeout_ms);
        backlog.extend(merger.ready(Utc::now()));
        loop {
            if let Err(error) = outputs.drain(&mut backlog, &mut tracker) {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "final output failed; those batches will be redelivered"
                );
                break;
            }
            if backlog.is_empty() {
                break;
            }
            // The store's queue is full: wait for it to take a block.
            match tokio::time::timeout_at(deadline, outputs.store_event()).await {
                Ok(Some(StoreEvent::Stored(receipts))) => {
                    for receipt in &receipts {
                        tracker.done(receipt);
                    }
                }
                Ok(Some(StoreEvent::Failed { .. })) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if !outputs.wait_stored(deadline, &mut tracker).await {
            tracing::warn!(
                shutdown_timeout_ms = config.shutdown_timeout_ms,
                "blocks not stored in time; their records stay uncommitted and will be redelivered"
            );
        }
        commit(&consumer, &mut tracker, CommitMode::Sync);
        let stored = outputs.finish(deadline).await;
        if let Err(error) = consumer.unassign() {
            tracing::warn!(%error, "cannot release the partitions");
        }
        tracing::info!(
            pending_batches = merger.pending_batches(),
            blocks_not_output = backlog.len(),
            stored,
            "sink stopped"
        );
        Ok(())
    }
}

/// Applies looked-up partition counts: a grown `posts.raw` changes what a
/// complete batch must cover, and new partitions of the read topics are
/// assigned. Returns the `posts.raw` partition count now in force.
fn apply_counts(
    consumer: &StreamConsumer<SinkContext>,
    counts: &PartitionCounts,
    raw_topic: &str,
    partition_count: i32,
    merger: &mut Merger,
    assignment: &mut Assignment,
    resumer: &mut Option<Resumer>,
) -> i32 {
    let mut in_force = partition_count;
    if let Some(&n) = counts.get(raw_topic)
        && n != partition_count
    {
        tracing::info!(partitions = n, "posts.raw partition count changed");
        merger.set_partition_count(n);
        in_force = n;
    }
    let read: PartitionCounts = counts
        .iter()
        .filter(|(topic, _)| topic.as_str() != raw_topic)
        .map(|(topic, &n)| (topic.clone(), n))
        .collect();
    match assignment.extend_to(consumer, &read) {
        Ok(added) => {
            if let Some(resumer) = resumer {
                resumer.apply(resume::committed_starts(consumer, &added));
            }
        }
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "cannot assign new partitions")
        }
    }
    in_force
}

/// Keeps the consumer's statistics (for lag). No rebalance callbacks: the
/// sink assigns its partitions itself (see [`Assignment`]).
#[derive(Clone)]
struct SinkContext {
    lag: ConsumerLag,
}

impl ClientContext for SinkContext {
    fn stats(&self, statistics: Statistics) {
        self.lag.update(&statistics);
    }
}

impl ConsumerContext for SinkContext {}

/// Pauses or resumes every assigned partition, so a sink that cannot write
/// stops reading without losing its place.
fn set_paused(consumer: &StreamConsumer<SinkContext>, paused: bool) {
    let Ok(assignment) = consumer.assignment() else {
        return;
    };
    let result = if paused {
        consumer.pause(&assignment)
    } else {
        consumer.resume(&assignment)
    };
    if let Err(error) = result {
        tracing::warn!(%error, paused, "cannot pause/resume partitions");
    }
}

fn accept(
    config: &SinkConfig,
    metrics: &SinkMetrics,
    message: &BorrowedMessage<'_>,
    merger: &mut Merger,
    tracker: &mut OffsetTracker,
) {
    let receipt = Receipt {
        topic: message.topic().to_string(),
        partition: message.partition(),
        offset: message.offset(),
    };
    tracker.consumed(&receipt);
    let payload = message.payload().unwrap_or_default();
    let result = if message.topic() == config.topics.reports {
        tracing::debug!(offset = receipt.offset, "report received");
        metrics.reports_received.inc();
        serde_json::from_slice::<BatchReport>(payload)
            .map(|report| merger.add_report(report, receipt.clone()))
    } else {
        metrics.matched_posts_received.inc();
        serde_json::from_slice::<MatchedPost>(payload).map(|post| {
            let raw = config.jsonl_path.is_some().then_some(payload);
            merger.add_post(post, raw, receipt.clone());
        })
    };
    if let Err(error) = result {
        tracing::warn!(topic = %receipt.topic, partition = receipt.partition, offset = receipt.offset, %error,
            "skipping a record that is not a matched post or batch report");
        tracker.done(&receipt);
    }
}

fn commit(consumer: &StreamConsumer<SinkContext>, tracker: &mut OffsetTracker, mode: CommitMode) {
    let assigned = match consumer.assignment() {
        Ok(assignment) => assignment,
        Err(error) => {
            tracing::warn!(%error, "cannot read the assignment; commit skipped");
            return;
        }
    };
    let mut list = TopicPartitionList::new();
    for (topic, partition, offset) in tracker.take_commits() {
        let owned = assigned
            .elements()
            .iter()
            .any(|e| e.topic() == topic && e.partition() == partition);
        if owned
            && list
                .add_partition_offset(&topic, partition, Offset::Offset(offset))
                .is_err()
        {
            tracing::warn!(%topic, partition, "cannot add offset to commit");
        }
    }
    if list.count() > 0
        && let Err(error) = consumer.commit(&list, mode)
    {
        tracing::warn!(%error, "offset commit failed; records may be redelivered (and de-duplicated)");
    }
}
