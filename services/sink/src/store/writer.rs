//! The store writer: stores each output block's posts and checks the alert
//! conditions on a task of its own, so stdout, the JSON lines and the
//! dashboard never wait for the database.
//!
//! A block is output first, then queued here ([`QUEUE_BLOCKS`] at most, one
//! more being written), and its records are committed only once it is
//! stored: the writer hands its receipts back. A sink that stops between
//! output and store has those records redelivered; the outputs drop them as
//! duplicates, the store gets them again ([`crate::merge::Ready::redelivered`])
//! and ignores the posts it already has. A write that fails is tried again
//! with the store's backoff (`store_retry_*_ms`), and the sink pauses
//! consumption meanwhile, so the outputs run at most `QUEUE_BLOCKS + 1`
//! blocks ahead of the store. A store that is only slow pauses consumption
//! too, once more blocks wait than the queue holds (see `service.rs`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use weibostream_shared::MatchedPost;

use super::Store;
use crate::alerts::Alerts;
use crate::merge::Ready;
use crate::metrics::SinkMetrics;
use crate::offsets::Receipt;
use weibostream_shared::retry::RetryGate;

/// Blocks waiting for the store. A block's write took ~0.4 s for 6 300
/// posts in SQLite on the shared 2-core machine, against a batch every 5 s
/// by default, so two leave room for a slow write or two without holding
/// up the outputs, and a failing store is at most three blocks behind them.
pub const QUEUE_BLOCKS: usize = 2;

/// One block's work for the store.
#[derive(Debug)]
pub struct StoreJob {
    batch_time: DateTime<Utc>,
    /// The block's new posts, then the redelivered ones.
    posts: Vec<MatchedPost>,
    /// How many of `posts` are new.
    new_posts: usize,
    /// The records the block accounts for.
    receipts: Vec<Receipt>,
}

impl StoreJob {
    /// Whether `ready` has posts for the store (without, its records can
    /// be committed once it is output).
    pub fn needed(ready: &Ready) -> bool {
        !ready.block.posts.is_empty() || !ready.redelivered.is_empty()
    }

    /// What the store needs of an output block; the rest of it (the kept
    /// records, the reports) is dropped here.
    pub fn of(ready: Ready) -> StoreJob {
        let Ready { block, redelivered } = ready;
        let new_posts = block.posts.len();
        let mut posts = block.posts;
        posts.extend(redelivered);
        StoreJob {
            batch_time: block.batch_time,
            posts,
            new_posts,
            receipts: block.receipts,
        }
    }
}

/// What the writer reports back to the run loop.
#[derive(Debug)]
pub enum StoreEvent {
    /// A block is stored: its records may be committed.
    Stored(Vec<Receipt>),
    /// A write failed; the same block is tried again after `retry_in`.
    Failed {
        /// What went wrong.
        error: String,
        /// The wait before the next try.
        retry_in: Duration,
    },
}

/// The task that owns the store (and the alerts, which read it).
pub struct StoreWriter {
    kind: &'static str,
    jobs: Option<mpsc::Sender<StoreJob>>,
    events: mpsc::Receiver<StoreEvent>,
    stop: CancellationToken,
    task: JoinHandle<Finished>,
}

/// What the writer task leaves behind.
struct Finished {
    inserted: u64,
    alerts: Option<Alerts>,
}

impl StoreWriter {
    /// Starts the writer task; `retry` is the backoff for failed writes.
    pub fn start(
        store: Store,
        alerts: Option<Alerts>,
        retry: RetryGate,
        metrics: SinkMetrics,
    ) -> StoreWriter {
        let (jobs, job_queue) = mpsc::channel(QUEUE_BLOCKS);
        // Room for every queued block's event and a failure, so the writer
        // rarely waits on the run loop.
        let (event_sender, events) = mpsc::channel(QUEUE_BLOCKS + 2);
        let stop = CancellationToken::new();
        let kind = store.kind();
        let task = tokio::spawn(write_blocks(
            store,
            alerts,
            job_queue,
            event_sender,
            retry,
            metrics,
            stop.clone(),
        ));
        StoreWriter {
            kind,
            jobs: Some(jobs),
            events,
            stop,
            task,
        }
    }

    /// The store's name in metrics: `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// A place in the queue, or `None` when it is full (or closed).
    pub fn try_reserve(&self) -> Option<mpsc::Permit<'_, StoreJob>> {
        self.jobs.as_ref()?.try_reserve().ok()
    }

    /// The next event; `None` once the writer has ended.
    pub async fn event(&mut self) -> Option<StoreEvent> {
        self.events.recv().await
    }

    /// Closes the queue and hands the receipts of what gets stored until
    /// `deadline` to `stored`; then the writer is told to stop (a write
    /// in progress may still finish; its records stay uncommitted).
    /// Returns whether everything queued was stored.
    pub async fn drain(&mut self, deadline: Instant, mut stored: impl FnMut(Vec<Receipt>)) -> bool {
        self.jobs = None;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(StoreEvent::Stored(receipts))) => stored(receipts),
                Ok(Some(StoreEvent::Failed { .. })) => {}
                Ok(None) => return true,
                Err(_) => {
                    self.stop.cancel();
                    return false;
                }
            }
        }
    }

    /// Ends the writer (after [`StoreWriter::drain`]) and lets queued alert
    /// deliveries finish, all by `deadline`. Returns the rows inserted.
    pub async fn finish(self, deadline: Instant) -> u64 {
        self.stop.cancel();
        match tokio::time::timeout_at(deadline, self.task).await {
            Ok(Ok(finished)) => {
                if let Some(alerts) = finished.alerts {
                    alerts
                        .finish(deadline.saturating_duration_since(Instant::now()))
                        .await;
                }
                finished.inserted
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "the store writer failed");
                0
            }
            Err(_) => {
                tracing::warn!("the store writer did not stop in time");
                0
            }
        }
    }
}

async fn write_blocks(
    mut store: Store,
    alerts: Option<Alerts>,
    mut jobs: mpsc::Receiver<StoreJob>,
    events: mpsc::Sender<StoreEvent>,
    mut retry: RetryGate,
    metrics: SinkMetrics,
    stop: CancellationToken,
) -> Finished {
    let mut inserted = 0;
    'jobs: while let Some(job) = jobs.recv().await {
        let written = loop {
            let attempt = tokio::select! {
                biased;
                _ = stop.cancelled() => break 'jobs,
                attempt = store.write(&job.posts) => attempt,
            };
            let error = match attempt {
                Ok(written) => break written,
                Err(error) => format!("{error:#}"),
            };
            let wait = retry.failed();
            metrics.output_write_failures.inc();
            tracing::error!(store = store.kind(), batch_time = %job.batch_time, error,
                retry_in_ms = wait.as_millis() as u64, blocks_waiting = jobs.len() + 1,
                "cannot store a block; consumption paused, nothing committed past it");
            let failed = StoreEvent::Failed {
                error,
                retry_in: wait,
            };
            if events.send(failed).await.is_err() {
                break 'jobs;
            }
            tokio::select! {
                _ = stop.cancelled() => break 'jobs,
                _ = tokio::time::sleep(wait) => {
                    metrics.output_write_retries.inc();
                }
            }
        };
        if retry.succeeded() {
            tracing::info!(store = store.kind(), "store writable again");
        }
        inserted += written.inserted;
        metrics.posts_written(store.kind(), job.new_posts);
        let StoreJob {
            posts, receipts, ..
        } = job;
        // Committing first: the alert checks read only what is stored.
        if events.send(StoreEvent::Stored(receipts)).await.is_err() {
            break;
        }
        if let Some(alerts) = &alerts {
            alerts.check(&mut store, &written, &posts).await;
        }
    }
    Finished { inserted, alerts }
}
