//! `filter inspect`: prints a topic's partitions with their high watermarks,
//! the consumer group's members and partitions, and the committed offset and
//! lag of every partition — like `rpk group describe`, for the local broker.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use crate::FilterConfig;
use crate::inspect::{inspect, render};

/// Arguments of `filter inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The filter's TOML config (for the brokers, the group and the topic);
    /// env `FILTER__<KEY>` and `KAFKA_BROKERS` override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Consumer group; default the config's `group` (`filter`).
    #[arg(long)]
    pub group: Option<String>,
    /// Topic; default the config's `topics.raw` (`posts.raw`).
    #[arg(long)]
    pub topic: Option<String>,
    /// Do not read the filters' latest batch reports (`topics.reports`) to
    /// show which replica works on which partitions.
    #[arg(long)]
    pub no_reports: bool,
    /// Bound of each broker request, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
}

/// Runs `filter inspect` and prints the result on stdout.
pub fn run(args: &InspectArgs) -> anyhow::Result<()> {
    let config: FilterConfig = weibostream_shared::config::load("FILTER", args.config.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    config.kafka.validate().map_err(anyhow::Error::msg)?;
    let group = args.group.as_deref().unwrap_or(&config.group);
    let topic = args.topic.as_deref().unwrap_or(&config.topics.raw);
    let timeout = Duration::from_millis(args.timeout_ms.max(100));
    let reports = (!args.no_reports).then_some(config.topics.reports.as_str());
    let inspection = inspect(&config.kafka, topic, group, reports, timeout)
        .with_context(|| format!("inspecting group {group} on {topic}"))?;
    print!("{}", render(&inspection));
    Ok(())
}
