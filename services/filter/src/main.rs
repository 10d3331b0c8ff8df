//! `filter` binary: without a subcommand, loads config, builds the replica and
//! runs it until a signal (SIGHUP reloads the rules); `train`, `eval` and
//! `tokenize` are the offline classifier tools; `inspect` shows a topic's
//! partitions, the group's members and the lag.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use weibostream_filter::cli::{self as tools, EvalArgs, InspectArgs, TokenizeArgs, TrainArgs};
use weibostream_filter::{Filter, FilterConfig, ReloadHandle};
use weibostream_shared::{cli, config, shutdown, telemetry};

/// A weibostream filter replica (several may run in one group).
#[derive(Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// TOML config file (keys as in the README); env `FILTER__<KEY>` overrides it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rules file; overrides `rules_path`.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Replica id; overrides `replica_id`.
    #[arg(long)]
    replica_id: Option<String>,
    /// Print the effective config (defaults, file, environment, flags) as
    /// TOML with secrets shown as `***`, then exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Train a classifier on labelled JSON lines and save it as a model file.
    Train(TrainArgs),
    /// Print accuracy, per-class precision/recall and a confusion matrix.
    Eval(EvalArgs),
    /// Print the shared tokenizer's tokens for labelled JSON lines.
    Tokenize(TokenizeArgs),
    /// Print a topic's partitions with high watermarks, the group's members
    /// with their partitions, and committed offsets and lag per partition.
    Inspect(InspectArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init("filter");
    let args = Args::parse();
    let tool = match &args.command {
        None => None,
        Some(Command::Train(train)) => Some(tools::train::run(train)),
        Some(Command::Eval(eval)) => Some(tools::eval::run(eval)),
        Some(Command::Tokenize(tokenize)) => Some(tools::tokenize::run(tokenize)),
        Some(Command::Inspect(inspect)) => {
            Some(tokio::task::block_in_place(|| tools::inspect::run(inspect)))
        }
    };
    if let Some(result) = tool {
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => cli::config_error("filter", format!("{error:#}")),
        };
    }
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
    if args.print_config {
        return cli::print_config("filter", &config);
    }
    let filter = match Filter::build(config) {
        Ok(filter) => filter.exits_after_run(),
        Err(error) => return cli::config_error("filter", error),
    };
    reload_on_hangup(filter.reload_handle());
    cli::finish("filter", filter.run(shutdown::on_signals()).await)
}

/// Turns each SIGHUP into a rules reload request.
#[cfg(unix)]
fn reload_on_hangup(handle: ReloadHandle) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(mut hangup) => {
            tokio::spawn(async move {
                while hangup.recv().await.is_some() {
                    tracing::info!("SIGHUP: reloading the rules file");
                    handle.request();
                }
            });
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; rules reload by file polling only")
        }
    }
}

#[cfg(not(unix))]
fn reload_on_hangup(_handle: ReloadHandle) {}
