//! The collector: built from config (all checks before any I/O), then run
//! until its sources end or shutdown. Every source, the finite `synthetic`
//! and `file` as well as the live ones, publishes through one path,
//! [`SourcePlan::run`](crate::live::SourcePlan::run).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;
use weibostream_shared::TopicRole;
use weibostream_shared::config::InvalidKey;
use weibostream_shared::http::{self, Readiness};
use weibostream_shared::kafka;
use weibostream_shared::stats::BrokerReadiness;

use crate::config::{CollectorConfig, SourceKind};
use crate::live::SourcePlan;
pub use crate::live::{BuildError, RunSummary};
use crate::metrics::CollectorMetrics;
use crate::ops::CollectorOps;

const SERVICE: &str = "collector";

/// The collector, built and ready to run.
pub struct Collector {
    config: CollectorConfig,
    sources: SourcePlan,
}

impl Collector {
    /// Validates the config (and that a file source's file exists, and
    /// reads the live sources' tokens).
    pub fn build(config: CollectorConfig) -> Result<Collector, BuildError> {
        config.validate()?;
        if config.sources == [SourceKind::File] && !config.file.path.is_file() {
            return Err(InvalidKey::new(
                "file.path",
                format!("{} is not a readable file", config.file.path.display()),
            )
            .into());
        }
        let sources = SourcePlan::build(&config)?;
        Ok(Collector { config, sources })
    }

    /// Counters of the sources, readable while [`Collector::run`] runs.
    pub fn metrics(&self) -> CollectorMetrics {
        self.sources.metrics().clone()
    }

    /// Runs until the source ends or `shutdown` is cancelled, serving
    /// `/metrics`, `/healthz` and `/readyz` on `http.bind` meanwhile.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<RunSummary> {
        let mut registry = Registry::with_prefix("weibostream");
        let ops = CollectorOps::register(&mut registry, self.metrics());
        let readiness = Readiness::new();
        readiness.not_ready("waiting for the broker");
        // Not a child of `shutdown`: metrics stay up while the last posts drain.
        let router = http::ops_router(Arc::new(registry), readiness.clone());
        let server =
            http::serve(SERVICE, &self.config.http, router, CancellationToken::new()).await?;
        let result = self.collect(ops, readiness, shutdown).await;
        if let Some(server) = server {
            server.stop().await;
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
        tracing::info!(sources = ?config.sources, topic = %config.topics.raw, "collector started");
        let broker_side = Readiness::new();
        broker_side.ready();
        let stop_following = CancellationToken::new();
        let follower = tokio::spawn(follow_sources(
            readiness,
            broker_side.clone(),
            self.sources.metrics().clone(),
            stop_following.clone(),
        ));
        let broker = BrokerReadiness {
            readiness: broker_side,
        };
        let result = self.sources.run(&self.config, ops, broker, shutdown).await;
        stop_following.cancel();
        let _ = follower.await;
        if let Ok(summary) = &result {
            tracing::info!(
                published = summary.published,
                skipped = summary.skipped,
                bad_records = summary.bad_records,
                "collector stopped"
            );
        }
        result
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
