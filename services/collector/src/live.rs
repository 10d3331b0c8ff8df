//! Running the sources, the collector's one publish path: one task per
//! source (live, or the finite `synthetic` and `file`) sends [`Batch`]es
//! over a bounded channel; the publisher enqueues each batch's posts, and an
//! in-order ack task waits for the broker to acknowledge every post of a
//! batch before it saves that batch's cursor. A cursor on disk therefore
//! never points past an unacknowledged post, and a restart resumes exactly
//! after the last acknowledged batch. A run whose sources all ended by
//! themselves waits for every acknowledgement.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Statistics};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use weibostream_shared::kafka::acks::{self, BatchAcks};
use weibostream_shared::stats::{BrokerReadiness, STATS_INTERVAL_MS};

use crate::config::{CollectorConfig, SourceKind};
use crate::cursor::CursorFile;
use crate::metrics::{CollectorMetrics, ErrorKind, SourceMetrics};
use crate::ops::CollectorOps;
use crate::sources::finite::{FileSource, SyntheticSource};
use crate::sources::jetstream::JetstreamSource;
use crate::sources::mastodon::MastodonSource;
use crate::sources::mastodon_stream;
use crate::sources::socket::SocketSource;
use crate::sources::weibo::WeiboSource;
use crate::sources::weibo_feeds::MobileSource;
use crate::sources::weibo_mobile::MobileClient;
use crate::sources::{Batch, CursorUpdate, SourceContext, SourceError};
use weibostream_shared::config::InvalidKey;
use weibostream_shared::secret::{SecretError, load_secret, load_token};

/// Batches queued between the sources and the publisher. Few: the
/// producer's own queue is the buffer, and the synthetic source at full
/// speed fills these with 500-post batches (64 of them held ~45 MiB more
/// peak RSS than the old per-post publish; 8 hold ~8 MiB more).
const BATCH_QUEUE: usize = 8;
/// Published batches waiting for their acknowledgements.
const ACK_QUEUE: usize = 256;

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

/// Why a collector could not be built (all are the user's to fix: exit
/// code 2).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A config key is invalid.
    #[error("{0}")]
    Config(#[from] InvalidKey),
    /// A token or cookie cannot be read.
    #[error("{0}")]
    Secret(#[from] SecretError),
    /// A source cannot be set up (its HTTP client, its query file).
    #[error("{source_name}: {problem}")]
    Source {
        /// The source, as in `sources`.
        source_name: String,
        /// What went wrong.
        problem: String,
    },
}

impl BuildError {
    /// The error of a source that cannot be set up.
    pub(crate) fn source(source_name: &str, problem: impl Into<String>) -> Self {
        BuildError::Source {
            source_name: source_name.to_owned(),
            problem: problem.into(),
        }
    }
}

/// A configured source, ready to run.
enum Runner {
    Synthetic(SyntheticSource),
    File(FileSource),
    Weibo(WeiboSource),
    WeiboMobile(MobileSource),
    Mastodon(MastodonSource),
    Jetstream(JetstreamSource),
    Socket(SocketSource),
}

impl Runner {
    async fn run(self, context: SourceContext) -> Result<(), SourceError> {
        match self {
            Runner::Synthetic(source) => source.run(context).await,
            Runner::File(source) => source.run(context).await,
            Runner::Weibo(source) => source.run(context).await,
            Runner::WeiboMobile(source) => source.run(context).await,
            Runner::Mastodon(source) if source.streams() => {
                mastodon_stream::run(source, context).await
            }
            Runner::Mastodon(source) => source.run(context).await,
            Runner::Jetstream(source) => source.run(context).await,
            Runner::Socket(source) => source.run(context).await,
        }
    }
}

struct Planned {
    runner: Runner,
    metrics: Arc<SourceMetrics>,
    cursor: Option<CursorFile>,
}

/// The sources of a config, with their tokens loaded and clients built.
pub struct SourcePlan {
    sources: Vec<Planned>,
    metrics: CollectorMetrics,
}

impl SourcePlan {
    /// Builds every configured source; reads tokens (the only I/O). Errors
    /// name the config key to fix.
    pub fn build(config: &CollectorConfig) -> Result<SourcePlan, BuildError> {
        let mut sources = Vec::new();
        let mut mobile: Option<Arc<MobileClient>> = None;
        let mut add = |name: String, runner: Runner, resumable: bool| {
            let cursor = resumable.then(|| CursorFile::in_dir(&config.cursor_dir, &name));
            sources.push(Planned {
                runner,
                metrics: Arc::new(SourceMetrics::new(name)),
                cursor,
            });
        };
        for kind in &config.sources {
            match kind {
                SourceKind::Synthetic => {
                    let source = SyntheticSource::new(config.synthetic.clone());
                    add("synthetic".into(), Runner::Synthetic(source), false);
                }
                SourceKind::File => {
                    let source = FileSource::new(config.file.clone());
                    add("file".into(), Runner::File(source), false);
                }
                SourceKind::Weibo => {
                    let settings = &config.weibo;
                    let token = load_token("weibo", &settings.access_token_env, &settings.access_token_file)?
                        .ok_or_else(|| {
                            InvalidKey::new(
                                "weibo.access_token_env",
                                format!(
                                    "the environment variable {} is not set; put a Weibo OAuth2 access token in it (or set weibo.access_token_file)",
                                    settings.access_token_env
                                ),
                            )
                        })?;
                    add(
                        "weibo".into(),
                        Runner::Weibo(
                            WeiboSource::new(settings.clone(), token)
                                .map_err(|e| BuildError::source("weibo", e))?,
                        ),
                        true,
                    );
                }
                SourceKind::WeiboSearch => {
                    let client = mobile_client(config, &mut mobile)?;
                    let source = MobileSource::search(client, config.weibo_search.clone())
                        .map_err(|e| BuildError::source("weibo_search", e))?;
                    add("weibo_search".into(), Runner::WeiboMobile(source), true);
                }
                SourceKind::WeiboUser => {
                    let client = mobile_client(config, &mut mobile)?;
                    let source = MobileSource::user(client, config.weibo_user.clone());
                    add("weibo_user".into(), Runner::WeiboMobile(source), true);
                }
                SourceKind::Mastodon => {
                    for (index, instance) in config.mastodon.instances.iter().enumerate() {
                        let key = format!("mastodon.instances[{index}]");
                        let token = load_token(
                            &key,
                            &instance.access_token_env,
                            &instance.access_token_file,
                        )?;
                        let source = MastodonSource::new(&config.mastodon, index, token)
                            .map_err(|e| BuildError::source("mastodon", e))?;
                        add(source.name(), Runner::Mastodon(source), true);
                    }
                }
                SourceKind::Jetstream => {
                    let source = JetstreamSource::new(config.jetstream.clone());
                    add("jetstream".into(), Runner::Jetstream(source), true);
                }
                SourceKind::Socket => {
                    for address in &config.socket.addresses {
                        let source = SocketSource::new(address.clone(), config.socket.clone());
                        add(format!("socket:{address}"), Runner::Socket(source), false);
                    }
                }
            }
        }
        if let Some(client) = &mobile {
            for planned in &sources {
                if matches!(planned.runner, Runner::WeiboMobile(_)) {
                    client.add_user(planned.metrics.clone());
                }
            }
        }
        let metrics = CollectorMetrics::new(sources.iter().map(|s| s.metrics.clone()).collect());
        Ok(SourcePlan { sources, metrics })
    }

    /// The counters of every source, readable while the collector runs.
    pub fn metrics(&self) -> &CollectorMetrics {
        &self.metrics
    }

    /// Runs every source until `shutdown`, or until one fails fatally;
    /// counts into `ops`, and `broker` follows the broker connection.
    pub async fn run(
        self,
        config: &CollectorConfig,
        ops: CollectorOps,
        broker: BrokerReadiness,
        shutdown: CancellationToken,
    ) -> anyhow::Result<RunSummary> {
        let producer: PostProducer = config
            .kafka
            .producer_config("collector")
            .set("statistics.interval.ms", STATS_INTERVAL_MS.to_string())
            .create_with_context(PublishContext { broker })
            .context("creating the producer")?;
        let producer = Arc::new(producer);
        let stop = shutdown.child_token();
        let (batch_tx, batch_rx) = mpsc::channel(BATCH_QUEUE);
        let mut tasks = JoinSet::new();
        for planned in self.sources {
            let context = SourceContext {
                name: planned.metrics.name().to_owned(),
                batches: batch_tx.clone(),
                metrics: planned.metrics,
                cursor: planned.cursor,
                retry: config.retry.clone(),
                batch_max_posts: config.batch_max_posts,
                batch_max_wait: Duration::from_millis(config.batch_max_wait_ms),
                shutdown: stop.clone(),
            };
            tasks.spawn(async move {
                let name = context.name.clone();
                (name, planned.runner.run(context).await)
            });
        }
        drop(batch_tx);
        let (ack_tx, ack_rx) = mpsc::channel(ACK_QUEUE);
        let acks = tokio::spawn(acknowledge(
            ack_rx,
            producer.clone(),
            ops.clone(),
            stop.clone(),
        ));
        let logger = tokio::spawn(log_metrics(
            self.metrics.clone(),
            Duration::from_millis(config.metrics_log_interval_ms),
            stop.clone(),
        ));
        let timeout = Duration::from_millis(config.shutdown_timeout_ms);
        let give_up = async {
            stop.cancelled().await;
            tokio::time::sleep(timeout).await;
        };
        let publishing = publish(
            &producer,
            &config.topics.raw,
            batch_rx,
            ack_tx,
            &ops,
            &stop,
            give_up,
        );
        let (fatal, published) = tokio::join!(supervise(tasks, &stop), publishing);
        // Bounded only once the run is stopping (shutdown, a fatal error):
        // sources that ended by themselves wait for every ack, as
        // librdkafka retries until `message.timeout.ms` (through a broker
        // stall, say).
        let bound = async {
            stop.cancelled().await;
            tokio::time::sleep(timeout).await;
        };
        let acked = tokio::select! {
            joined = acks => joined.unwrap_or_else(|join_error| {
                Err(anyhow!("the acknowledgement task failed: {join_error}"))
            }),
            () = bound => Err(anyhow!(
                "posts still unacknowledged after shutdown_timeout_ms = {} ms; their cursors were not saved, so the next run fetches them again",
                timeout.as_millis()
            )),
        };
        stop.cancel();
        let _ = logger.await;
        self.metrics.log("at shutdown");
        if let Some(message) = fatal {
            bail!(message);
        }
        published?;
        let published = acked?;
        let snapshot = self.metrics.sources();
        Ok(RunSummary {
            published,
            skipped: snapshot.iter().map(|m| m.skipped()).sum(),
            bad_records: snapshot
                .iter()
                .map(|m| m.errors(ErrorKind::InvalidJson) + m.errors(ErrorKind::InvalidRecord))
                .sum(),
        })
    }
}

/// The one mobile API client of `weibo_search` and `weibo_user`, built on
/// first use: reads the cookie.
fn mobile_client(
    config: &CollectorConfig,
    built: &mut Option<Arc<MobileClient>>,
) -> Result<Arc<MobileClient>, BuildError> {
    if let Some(client) = built {
        return Ok(client.clone());
    }
    let settings = &config.weibo_mobile;
    let cookie = load_secret(
        "weibo_mobile.cookie_env",
        "weibo_mobile.cookie_file",
        &settings.cookie_env,
        &settings.cookie_file,
    )?
    .ok_or_else(|| {
        InvalidKey::new(
            "weibo_mobile.cookie_env",
            format!(
                "the environment variable {} is not set; log in at https://m.weibo.cn in a browser and put the request's Cookie header (with SUB=...) in it (or set weibo_mobile.cookie_file)",
                settings.cookie_env
            ),
        )
    })?;
    let client = Arc::new(
        MobileClient::new(settings.clone(), cookie)
            .map_err(|e| BuildError::source("weibo_mobile", e))?,
    );
    *built = Some(client.clone());
    Ok(client)
}

/// Waits for every source task; the first fatal error stops the others.
async fn supervise(
    mut tasks: JoinSet<(String, Result<(), SourceError>)>,
    stop: &CancellationToken,
) -> Option<String> {
    let mut fatal = None;
    while let Some(joined) = tasks.join_next().await {
        let message = match joined {
            Ok((_, Ok(()))) => continue,
            Ok((name, Err(SourceError::Fatal(message)))) => {
                tracing::error!(source = %name, "{message}");
                message
            }
            Err(join_error) => format!("a source task failed: {join_error}"),
        };
        fatal.get_or_insert(message);
        stop.cancel();
    }
    fatal
}

/// The collector's producer.
type PostProducer = ThreadedProducer<PublishContext>;

/// Settles each post's [`BatchAcks`] and follows the broker connection.
struct PublishContext {
    broker: BrokerReadiness,
}

impl ClientContext for PublishContext {
    fn stats(&self, statistics: Statistics) {
        self.broker.observe(&statistics);
    }
}

impl ProducerContext for PublishContext {
    type DeliveryOpaque = Arc<BatchAcks>;

    fn delivery(&self, result: &DeliveryResult<'_>, acks: Arc<BatchAcks>) {
        match result {
            Ok(_) => acks.settle(None),
            Err((error, _)) => {
                tracing::error!(%error, "post not delivered to the broker");
                acks.settle(Some(error));
            }
        }
    }
}

/// A published batch waiting for its acknowledgements.
struct Published {
    acks: Arc<BatchAcks>,
    posts: u64,
    cursor: Option<CursorUpdate>,
    metrics: Arc<SourceMetrics>,
}

/// Enqueues every batch's posts, then hands the batch to the ack task.
/// `give_up` ends a wait for room in a full producer queue (a broker down at
/// shutdown): those posts stay unpublished and their cursors unsaved.
async fn publish(
    producer: &PostProducer,
    topic: &str,
    mut batches: mpsc::Receiver<Batch>,
    to_ack: mpsc::Sender<Published>,
    ops: &CollectorOps,
    stop: &CancellationToken,
    give_up: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut give_up = std::pin::pin!(give_up);
    let mut payload = Vec::with_capacity(1024);
    while let Some(batch) = batches.recv().await {
        let batch_acks = BatchAcks::new();
        for post in &batch.posts {
            payload.clear();
            serde_json::to_writer(&mut payload, post).context("encoding a post")?;
            let record = BaseRecord::with_opaque_to(topic, batch_acks.clone())
                .key(post.author.id.as_str())
                .payload(&payload);
            let enqueued = tokio::select! {
                enqueued = acks::send(producer, record) => enqueued,
                () = &mut give_up => bail!(
                    "the producer queue stayed full past shutdown_timeout_ms; unpublished posts are fetched again on the next run"
                ),
            };
            if let Err(error) = enqueued {
                ops.publish_errors.inc();
                stop.cancel();
                bail!("cannot enqueue a post: {error}");
            }
        }
        ops.queue(producer.in_flight_count());
        let published = Published {
            acks: batch_acks,
            posts: batch.posts.len() as u64,
            cursor: batch.cursor,
            metrics: batch.metrics,
        };
        if to_ack.send(published).await.is_err() {
            // The ack task failed and said why; nothing more can be saved.
            break;
        }
    }
    Ok(())
}

/// Awaits each batch's acknowledgements in order, then saves its cursor.
async fn acknowledge(
    mut published: mpsc::Receiver<Published>,
    producer: Arc<PostProducer>,
    ops: CollectorOps,
    stop: CancellationToken,
) -> anyhow::Result<u64> {
    let mut total = 0;
    while let Some(batch) = published.recv().await {
        let count = batch.posts;
        let delivered = batch.acks.settled().await;
        ops.queue(producer.in_flight_count());
        if let Err(error) = delivered {
            // Which posts of the batch failed is not told; the batch is not published.
            ops.publish_errors.inc_by(count);
            stop.cancel();
            return Err(error.context(format!(
                "publishing posts of {}; its cursor was not advanced",
                batch.metrics.name()
            )));
        }
        batch.metrics.add_published(count);
        total += count;
        if let Some(cursor) = batch.cursor {
            let path = cursor.file.path().display().to_string();
            let saved = tokio::task::spawn_blocking(move || cursor.file.save(&cursor.bytes)).await;
            if let Err(error) = saved.map_err(std::io::Error::other).and_then(|r| r) {
                stop.cancel();
                bail!("cannot save the cursor {path}: {error}");
            }
            ops.cursor_saved(batch.metrics.name());
        }
    }
    Ok(total)
}

async fn log_metrics(metrics: CollectorMetrics, interval: Duration, stop: CancellationToken) {
    loop {
        if !weibostream_shared::retry::sleep(interval, &stop).await {
            return;
        }
        metrics.log("periodic");
    }
}
