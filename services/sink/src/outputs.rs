//! Writing finished blocks to every configured output: stdout and the JSON
//! lines first (the JSON lines synced before a block counts as output),
//! then the dashboard, then the store's queue (see [`crate::store::writer`]).
//! A block's records become committable when every output took it and,
//! with a store, when the store has it.

use std::collections::VecDeque;
use std::io::Write;

use anyhow::Context;
use tokio::time::Instant;

use crate::SinkConfig;
use crate::dashboard::Dashboard;
use crate::jsonl::JsonLinesOutput;
use crate::merge::{Block, Completion, Ready};
use crate::metrics::SinkMetrics;
use crate::offsets::OffsetTracker;
use crate::print::{PrintOptions, render};
use crate::store::writer::{StoreEvent, StoreJob, StoreWriter};

/// The sink's outputs.
pub struct Outputs {
    print: Option<PrintOptions>,
    jsonl: Option<JsonLinesOutput>,
    store: Option<StoreWriter>,
    dashboard: Dashboard,
    metrics: SinkMetrics,
}

impl Outputs {
    /// Outputs as configured; files are opened and the store's writer
    /// started by the caller.
    pub fn new(
        config: &SinkConfig,
        jsonl: Option<JsonLinesOutput>,
        store: Option<StoreWriter>,
        dashboard: Dashboard,
        metrics: SinkMetrics,
    ) -> Outputs {
        let print = config.print.then_some(PrintOptions {
            max_posts: config.print_max_posts,
            utc: config.print_utc,
        });
        Outputs {
            print,
            jsonl,
            store,
            dashboard,
            metrics,
        }
    }

    /// Outputs blocks from the front of `backlog` until it is empty, a
    /// write fails, or the store's queue is full. A block leaves the
    /// backlog only when stdout and the JSON lines took it; then it goes
    /// to the dashboard and, if it has posts, to the store's queue, which
    /// hands its records back once stored ([`Outputs::store_event`]);
    /// without posts or a store its records are done at once.
    pub fn drain(
        &mut self,
        backlog: &mut VecDeque<Ready>,
        tracker: &mut OffsetTracker,
    ) -> anyhow::Result<()> {
        while let Some(front) = backlog.front() {
            let permit = match &self.store {
                Some(store) if StoreJob::needed(front) => match store.try_reserve() {
                    Some(permit) => Some(permit),
                    None => break,
                },
                _ => None,
            };
            let started = chrono::Utc::now();
            write_block(self.print, self.jsonl.as_mut(), &self.metrics, &front.block)?;
            let Some(ready) = backlog.pop_front() else {
                break;
            };
            let block = &ready.block;
            let after_close =
                |at: chrono::DateTime<chrono::Utc>| (at - block.batch_time).num_milliseconds();
            tracing::debug!(batch_time = %block.batch_time, posts = block.posts.len(),
                output_from_ms = after_close(started), output_until_ms = after_close(chrono::Utc::now()),
                "block output (ms after the batch closed)");
            self.metrics.block_output(block);
            self.dashboard.block_output(block);
            match permit {
                Some(permit) => permit.send(StoreJob::of(ready)),
                None => {
                    for receipt in &ready.block.receipts {
                        tracker.done(receipt);
                    }
                }
            }
        }
        Ok(())
    }

    /// The store writer's next event; pending forever without a store.
    pub async fn store_event(&mut self) -> Option<StoreEvent> {
        match self.store.as_mut() {
            Some(store) => store.event().await,
            None => std::future::pending().await,
        }
    }

    /// Waits until the store took what was queued, or `deadline`, marking
    /// what it stored done in `tracker`. Returns whether all was stored.
    pub async fn wait_stored(&mut self, deadline: Instant, tracker: &mut OffsetTracker) -> bool {
        let Some(store) = self.store.as_mut() else {
            return true;
        };
        store
            .drain(deadline, |receipts| {
                for receipt in &receipts {
                    tracker.done(receipt);
                }
            })
            .await
    }

    /// Ends the store writer and lets queued alert deliveries finish, by
    /// `deadline`; returns the rows the store inserted (not counting
    /// redeliveries it ignored).
    pub async fn finish(self, deadline: Instant) -> u64 {
        match self.store {
            Some(store) => store.finish(deadline).await,
            None => 0,
        }
    }
}

/// Writes one block to stdout and the JSON lines.
fn write_block(
    print: Option<PrintOptions>,
    jsonl: Option<&mut JsonLinesOutput>,
    metrics: &SinkMetrics,
    block: &Block,
) -> anyhow::Result<()> {
    if let Some(jsonl) = jsonl {
        jsonl.write(&block.posts, &block.raw)?;
        metrics.posts_written("jsonl", block.posts.len());
    }
    // A straggler block whose posts were all duplicates has nothing to show.
    let empty_straggler = block.completion == Completion::Straggler && block.posts.is_empty();
    if let Some(options) = print
        && !empty_straggler
    {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(render(block, options).as_bytes())
            .context("writing to stdout")?;
        stdout.flush().context("writing to stdout")?;
        metrics.posts_written("stdout", block.posts.len());
        metrics.blocks_printed.inc();
    }
    Ok(())
}
