//! `collector` binary: loads config, builds the collector, runs it until the
//! source ends or a signal arrives.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use weibostream_collector::config::SourceKind;
use weibostream_collector::{Collector, CollectorConfig};
use weibostream_shared::{cli, config, shutdown, telemetry};

/// The weibostream collector: publishes normalized posts to posts.raw.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML config file (keys as in the README); env `COLLECTOR__<KEY>` overrides it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Read this file (Weibo statuses, a saved response body, or posts) instead of the configured source.
    #[arg(long, conflicts_with = "synthetic")]
    file: Option<PathBuf>,
    /// Use the synthetic source.
    #[arg(long)]
    synthetic: bool,
    /// Posts per second for the chosen source (0 = as fast as possible).
    #[arg(long)]
    rate: Option<u64>,
    /// Synthetic posts to publish before exiting (0 = forever).
    #[arg(long)]
    count: Option<u64>,
    /// Synthetic source seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Print the effective config (defaults, file, environment, flags) as
    /// TOML with secrets shown as `***`, then exit.
    #[arg(long)]
    print_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init("collector");
    let args = Args::parse();
    let mut config: CollectorConfig = match config::load("COLLECTOR", args.config.as_deref()) {
        Ok(config) => config,
        Err(error) => return cli::config_error("collector", error),
    };
    let print_config = args.print_config;
    apply_args(&mut config, args);
    if print_config {
        return cli::print_config("collector", &config);
    }
    let collector = match Collector::build(config) {
        Ok(collector) => collector,
        Err(error) => return cli::config_error("collector", format!("invalid config: {error}")),
    };
    cli::finish("collector", collector.run(shutdown::on_signals()).await)
}

fn apply_args(config: &mut CollectorConfig, args: Args) {
    if let Some(path) = args.file {
        config.sources = vec![SourceKind::File];
        config.file.path = path;
    }
    if args.synthetic {
        config.sources = vec![SourceKind::Synthetic];
    }
    if let Some(rate) = args.rate {
        config.synthetic.rate_per_s = rate;
        config.file.rate_per_s = rate;
    }
    if let Some(count) = args.count {
        config.synthetic.count = count;
    }
    if let Some(seed) = args.seed {
        config.synthetic.seed = seed;
    }
}
