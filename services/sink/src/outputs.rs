//! Writing finished blocks to every configured output, durable ones first,
//! so nothing is printed or committed that was not stored.

use std::collections::VecDeque;
use std::io::Write;

use anyhow::Context;

use crate::SinkConfig;
use crate::alerts::Alerts;
use crate::jsonl::JsonLinesOutput;
use crate::merge::{Block, Completion};
use crate::metrics::SinkMetrics;
use crate::offsets::OffsetTracker;
use crate::print::{PrintOptions, render};
use crate::store::Store;

/// The sink's outputs.
pub struct Outputs {
    print: Option<PrintOptions>,
    jsonl: Option<JsonLinesOutput>,
    store: Option<Store>,
    alerts: Option<Alerts>,
    metrics: SinkMetrics,
    /// Rows the store inserted (not counting redeliveries it ignored).
    pub stored: u64,
}

impl Outputs {
    /// Outputs as configured; files and databases are opened by the caller.
    pub fn new(
        config: &SinkConfig,
        jsonl: Option<JsonLinesOutput>,
        store: Option<Store>,
        alerts: Option<Alerts>,
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
            alerts,
            metrics,
            stored: 0,
        }
    }

    /// Outputs blocks from the front of `backlog` until it is empty or a
    /// write fails; a block leaves the backlog (and its records become
    /// committable) only when every output took it, and is then moved to
    /// `done`.
    pub async fn drain(
        &mut self,
        backlog: &mut VecDeque<Block>,
        tracker: &mut OffsetTracker,
        done: &mut Vec<Block>,
    ) -> anyhow::Result<()> {
        while let Some(block) = backlog.front() {
            let started = chrono::Utc::now();
            if let Some(store) = self.store.as_mut() {
                let written = store.write(&block.posts).await?;
                self.stored += written.inserted;
                self.metrics.posts_written(store.kind(), block.posts.len());
                if let Some(alerts) = &self.alerts {
                    alerts.check(store, &written, &block.posts).await;
                }
            }
            if let Some(jsonl) = self.jsonl.as_mut() {
                jsonl.write(&block.posts, &block.raw)?;
                self.metrics.posts_written("jsonl", block.posts.len());
            }
            // A straggler block whose posts were all duplicates has nothing to show.
            let empty_straggler =
                block.completion == Completion::Straggler && block.posts.is_empty();
            if let Some(options) = self.print
                && !empty_straggler
            {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(render(block, options).as_bytes())
                    .context("writing to stdout")?;
                stdout.flush().context("writing to stdout")?;
                self.metrics.posts_written("stdout", block.posts.len());
                self.metrics.blocks_printed.inc();
            }
            for receipt in &block.receipts {
                tracker.done(receipt);
            }
            let after_close =
                |at: chrono::DateTime<chrono::Utc>| (at - block.batch_time).num_milliseconds();
            tracing::debug!(batch_time = %block.batch_time, posts = block.posts.len(),
                output_from_ms = after_close(started), output_until_ms = after_close(chrono::Utc::now()),
                "block output (ms after the batch closed)");
            if let Some(block) = backlog.pop_front() {
                self.metrics.block_output(&block);
                done.push(block);
            }
        }
        Ok(())
    }

    /// Lets queued alert deliveries finish, for at most `deadline`.
    pub async fn finish(&mut self, deadline: std::time::Duration) {
        if let Some(alerts) = self.alerts.take() {
            alerts.finish(deadline).await;
        }
    }
}
