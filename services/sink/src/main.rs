//! `sink` binary: loads config, builds the sink, runs it until a signal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use weibostream_shared::{cli, config, shutdown, telemetry};
use weibostream_sink::{Sink, SinkConfig};

mod malloc;

/// The weibostream sink: prints matched posts per batch, or saves them.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML config file (keys as in the README); env `SINK__<KEY>` overrides it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Also append matched posts to this JSON-lines file; overrides `jsonl_path`.
    #[arg(long)]
    jsonl: Option<PathBuf>,
    /// Print the effective config (defaults, file, environment, flags) as
    /// TOML with secrets shown as `***`, then exit.
    #[arg(long)]
    print_config: bool,
}

fn main() -> ExitCode {
    // Before any thread starts: the restart replaces the process.
    let not_restarted = malloc::restart_tuned();
    telemetry::init("sink");
    if let Some(error) = not_restarted {
        tracing::warn!(%error, tunables = malloc::TUNABLES,
            "cannot restart with the malloc settings; running with glibc's defaults");
    }
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => cli::finish::<()>(
            "sink",
            Err(anyhow::Error::new(error).context("starting the runtime")),
        ),
    }
}

async fn run() -> ExitCode {
    let args = Args::parse();
    let mut config: SinkConfig = match config::load("SINK", args.config.as_deref()) {
        Ok(config) => config,
        Err(error) => return cli::config_error("sink", error),
    };
    if let Some(path) = args.jsonl {
        config.jsonl_path = Some(path);
    }
    if args.print_config {
        return cli::print_config("sink", &config);
    }
    let sink = match Sink::build(config) {
        Ok(sink) => sink,
        Err(error) => return cli::config_error("sink", format!("invalid config: {error}")),
    };
    cli::finish("sink", sink.run(shutdown::on_signals()).await)
}
