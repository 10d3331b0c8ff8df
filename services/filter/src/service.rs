//! The replica: built from config (rules, classifier, all checks before any
//! I/O), then run until shutdown. The loop itself is in [`worker`](crate::worker).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use prometheus_client::registry::Registry;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::Producer;
use tokio_util::sync::CancellationToken;
use weibostream_shared::TopicRole;
use weibostream_shared::config::InvalidKey;
use weibostream_shared::http::{self, Readiness};
use weibostream_shared::kafka;
use weibostream_shared::quirks;
use weibostream_shared::stats::STATS_INTERVAL_MS;

use crate::FilterConfig;
use crate::acks::{AckContext, AckProducer};
use crate::classify::Classifier;
use crate::context::FilterContext;
use crate::metrics::FilterMetrics;
use crate::reload::{ActiveRules, ReloadHandle, RulesError, RulesWatcher};
use crate::rules::RuleError;
use crate::step::PostStep;
use crate::worker::{Replica, Worker};

pub(crate) const SERVICE: &str = "filter";

/// A filter replica, built and ready to run.
pub struct Filter {
    pub(crate) config: FilterConfig,
    /// The rules in force and the per-record step that applies them.
    pub(crate) step: PostStep,
    pub(crate) watcher: RulesWatcher,
    pub(crate) classifier: Option<Arc<Classifier>>,
    pub(crate) replica: String,
    pub(crate) reload: ReloadHandle,
    exits_after_run: bool,
}

/// Why a filter could not be built (all are the user's to fix: exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A config key is invalid.
    #[error("invalid config: {0}")]
    Config(#[from] InvalidKey),
    /// The rules file cannot be read or has an error.
    #[error("{0}")]
    Rules(#[from] RuleError),
    /// A rule uses a label the classifier cannot give.
    #[error("{0}")]
    Labels(RulesError),
    /// The classifier model cannot be loaded.
    #[error("classifier.model_path: {0:#}")]
    Classifier(anyhow::Error),
}

impl From<RulesError> for BuildError {
    fn from(error: RulesError) -> Self {
        match error {
            RulesError::Rules(error) => BuildError::Rules(error),
            labels => BuildError::Labels(labels),
        }
    }
}

impl Filter {
    /// Validates the config, loads the classifier (if configured) and
    /// compiles the rules; no network I/O.
    pub fn build(config: FilterConfig) -> Result<Filter, BuildError> {
        config.validate()?;
        let classifier = match &config.classifier.model_path {
            Some(path) => Some(Arc::new(
                Classifier::load(path).map_err(BuildError::Classifier)?,
            )),
            None => None,
        };
        let path = &config.rules_path;
        let text = std::fs::read_to_string(path).map_err(|error| RuleError::Io {
            path: path.clone(),
            error,
        })?;
        let rules = ActiveRules::compile_with(
            &text,
            &path.display().to_string(),
            classifier.as_deref(),
            config.match_options(),
        )?;
        let watcher = RulesWatcher::new(path, text);
        let replica = config.effective_replica_id();
        let step = PostStep::new(
            rules,
            &config.trending,
            classifier.clone(),
            config.max_record_bytes,
        );
        Ok(Filter {
            config,
            step,
            watcher,
            classifier,
            replica,
            reload: ReloadHandle::default(),
            exits_after_run: false,
        })
    }

    /// Tells the replica that its process exits when [`run`](Self::run)
    /// returns. With `kafka.local_broker_quirks` it then leaves its group by
    /// session timeout instead of LeaveGroup (the local broker can lose the
    /// group's leader on a LeaveGroup: see `weibostream_shared::quirks`).
    pub fn exits_after_run(mut self) -> Self {
        self.exits_after_run = true;
        self
    }

    /// This replica's id, as written in its reports.
    pub fn replica_id(&self) -> &str {
        &self.replica
    }

    /// A handle to make the running filter re-read its rules file (the
    /// binary calls it on SIGHUP).
    pub fn reload_handle(&self) -> ReloadHandle {
        self.reload.clone()
    }

    /// Runs until `shutdown` is cancelled, then closes the open batch,
    /// commits and leaves the group, bounded by `shutdown_timeout_ms`.
    /// Serves `/metrics`, `/healthz` and `/readyz` on `http.bind` meanwhile.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let config = &self.config;
        let mut registry = Registry::with_prefix("weibostream");
        let metrics = FilterMetrics::register(&mut registry, config.batch_interval_ms);
        metrics.rules(
            &self
                .step
                .rules()
                .rules
                .ids()
                .map(str::to_string)
                .collect::<Vec<_>>(),
        );
        let readiness = Readiness::new();
        readiness.not_ready("waiting for the broker");
        // Not a child of `shutdown`: metrics stay up while the open batch drains.
        let router = http::ops_router(Arc::new(registry), readiness.clone());
        let server = http::serve(SERVICE, &config.http, router, CancellationToken::new()).await?;
        let result = self.consume(metrics, readiness, shutdown).await;
        if let Some(server) = server {
            server.stop().await;
        }
        result
    }

    async fn consume(
        self,
        metrics: FilterMetrics,
        readiness: Readiness,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let config = &self.config;
        kafka::wait_for_broker(&config.kafka, SERVICE).await?;
        let topics = &config.topics;
        let specs = topics.specs(&[
            TopicRole::Raw,
            TopicRole::Matched,
            TopicRole::Reports,
            TopicRole::DeadLetter,
        ]);
        kafka::ensure_topics(&config.kafka, SERVICE, &specs).await?;

        readiness.not_ready(&format!("joining consumer group {}", config.group));
        let context = FilterContext::new(
            self.replica.clone(),
            &topics.raw,
            readiness,
            config.kafka.local_broker_quirks.then(Arc::default),
        );
        let stats_ms = STATS_INTERVAL_MS.min(config.batch_interval_ms / 2).max(100);
        let consumer: StreamConsumer<FilterContext> = config
            .kafka
            .consumer_config(SERVICE, &config.group)
            .set("statistics.interval.ms", stats_ms.to_string())
            .create_with_context(context)
            .context("creating the consumer")?;
        consumer.subscribe(&[&topics.raw]).context("subscribing")?;
        let producer: AckProducer = config
            .kafka
            .producer_config(SERVICE)
            .create_with_context(AckContext)
            .context("creating the producer")?;
        // Otherwise the first matches wait in librdkafka for the matched
        // topic's metadata: the first close took most of a second on the
        // local broker, and a replica at full speed filled its producer
        // queue meanwhile and stopped reading.
        kafka::learn_topics(
            producer.client(),
            &[&topics.matched, &topics.reports, &topics.dlq],
        );
        tracing::info!(replica = %self.replica, group = %config.group, topic = %topics.raw,
            rules = self.step.rules().rules.len(), interval_ms = config.batch_interval_ms,
            trending = config.trending.enabled, classifier = self.classifier.is_some(),
            "filter started");

        let timeout = Duration::from_millis(config.shutdown_timeout_ms);
        let replica = self.replica.clone();
        let group = config.group.clone();
        let without_leave_group = self.exits_after_run && config.kafka.local_broker_quirks;
        let starts = consumer.context().starts.clone();
        let parts = Replica {
            config: self.config,
            step: self.step,
            watcher: self.watcher,
            classifier: self.classifier,
            name: self.replica,
            reload: self.reload,
        };
        let mut worker = Worker::new(parts, &producer, metrics, starts);
        let result = worker.run_batches(&consumer, &shutdown).await;
        let _ = producer.flush(timeout);
        if without_leave_group {
            quirks::stop_without_leave_group(consumer, &group);
        } else {
            consumer.unsubscribe();
        }
        tracing::info!(replica = %replica, "filter stopped");
        result
    }
}
