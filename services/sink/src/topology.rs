//! Watching the partition counts of the sink's topics off its run loop.
//!
//! The loop used to look them up itself every 30 s, with a new client and a
//! blocking metadata request per topic: ~70 ms without output on the local
//! broker (and up to 5 s a request on a slow one), which showed as a block
//! output late by that much in the end-to-end benchmark. A task now asks
//! through one client of its own on a blocking thread and publishes the
//! counts; the loop only applies them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::consumer::BaseConsumer;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use weibostream_shared::kafka::{self, KafkaSettings};

/// Partition counts by topic; empty until the first lookup succeeded.
pub type PartitionCounts = BTreeMap<String, i32>;

/// Starts the task that looks up the partition counts of `topics` every
/// `every` until `stop`; the receiver sees each new set of counts.
pub fn watch_partition_counts(
    settings: &KafkaSettings,
    service: &str,
    topics: Vec<String>,
    every: Duration,
    stop: CancellationToken,
) -> anyhow::Result<watch::Receiver<PartitionCounts>> {
    let client: BaseConsumer = settings
        .admin_config(service)
        .create()
        .context("creating the metadata client")?;
    let client = Arc::new(client);
    let (sender, receiver) = watch::channel(PartitionCounts::new());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let (client, topics) = (client.clone(), topics.clone());
            let lookup = tokio::task::spawn_blocking(move || {
                kafka::current_partition_counts(&client, &topics)
            });
            match lookup.await {
                Ok(Ok(counts)) => {
                    sender.send_if_modified(|current| {
                        let changed = *current != counts;
                        *current = counts;
                        changed
                    });
                }
                Ok(Err(error)) => tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot refresh the partition counts"
                ),
                Err(error) => tracing::warn!(%error, "partition count lookup failed"),
            }
            if sender.is_closed() {
                return;
            }
        }
    });
    Ok(receiver)
}
