//! `filter` binary: loads config, builds the replica, runs it until a signal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use weibostream_filter::{Filter, FilterConfig};
use weibostream_shared::{cli, config, shutdown, telemetry};

/// A weibostream filter replica (several may run in one group).
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML config file (keys as in the README); env `FILTER__<KEY>` overrides it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rules file; overrides `rules_path`.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Replica id; overrides `replica_id`.
    #[arg(long)]
    replica_id: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init("filter");
    let args = Args::parse();
    let mut config: FilterConfig = match config::load("FILTER", args.config.as_deref()) {
        Ok(config) => config,
        Err(error) => return cli::config_error("filter", error),
    };
    if let Some(rules) = args.rules {
        config.rules_path = rules;
    }
    if let Some(id) = args.replica_id {
        config.replica_id = id;
    }
    let filter = match Filter::build(config) {
        Ok(filter) => filter,
        Err(error) => return cli::config_error("filter", error),
    };
    cli::finish("filter", filter.run(shutdown::on_signals()).await)
}
