//! `weibostream-bench`: runs the whole benchmark on a fresh local broker,
//! prints a table and writes the results as JSON (see README, "Benchmark").

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use weibostream_bench::bench::{Options, run};

/// The weibostream benchmark (normally started by bench/run.sh).
#[derive(Parser)]
#[command(about)]
struct Args {
    /// Posts to load and process.
    #[arg(long, default_value_t = 1_000_000)]
    posts: u64,
    /// Filter replica counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    replicas: Vec<usize>,
    /// Rounds of the null consumer and the filter x1 (with and without text
    /// features), alternated; the first is the main run. The median of the
    /// paired ratios is reported, as one reading on a shared machine can be
    /// off by a third (1 measures each once).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=9))]
    pairs: u64,
    /// Classifier model for the text-feature runs (omit to skip them).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Quix Streams virtualenv (omit to skip the peer).
    #[arg(long)]
    quix_venv: Option<PathBuf>,
    /// Quix Streams instance counts, comma-separated. Default 1: with 2
    /// instances on the local broker, Quix Streams 3.28 crashes after the
    /// rebalance (`InvalidStoredOffset`: a reassigned partition restarts
    /// below the offset its checkpoint already stored).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    quix_instances: Vec<usize>,
    /// End-to-end input rate, posts/s.
    #[arg(long, default_value_t = 20_000)]
    e2e_rate: u64,
    /// End-to-end duration in seconds (0 skips it).
    #[arg(long, default_value_t = 60)]
    e2e_seconds: u64,
    /// Filter batch interval in the end-to-end run, ms (the service default).
    #[arg(long, default_value_t = 5_000)]
    e2e_interval_ms: u64,
    /// Filter batch interval in the throughput runs, ms (short, so the
    /// final commit is not held back by a long batch).
    #[arg(long, default_value_t = 1_000)]
    batch_interval_ms: u64,
    /// Directory of the release binaries.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The tansu binary (deploy/local/install-tansu.sh prints it).
    #[arg(long, env = "TANSU_BIN")]
    tansu: PathBuf,
    /// Rules file of the filter runs.
    #[arg(long, default_value = "bench/rules20.toml")]
    rules: PathBuf,
    /// The Quix Streams application.
    #[arg(long, default_value = "bench/quix/app.py")]
    quix_app: PathBuf,
    /// Logs and scratch files.
    #[arg(long, default_value = "target/bench")]
    work_dir: PathBuf,
    /// Write the results here.
    #[arg(long, default_value = "bench/results/latest.json")]
    out: PathBuf,
    /// Also write a dated copy `<dir of out>/<date>-<desc>.json`.
    #[arg(long)]
    desc: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = Options {
        posts: args.posts,
        replicas: args.replicas,
        pairs: args.pairs as usize,
        model: args.model,
        quix_venv: args.quix_venv,
        quix_instances: args.quix_instances,
        e2e_rate: args.e2e_rate,
        e2e_seconds: args.e2e_seconds,
        e2e_interval_ms: args.e2e_interval_ms,
        batch_interval_ms: args.batch_interval_ms,
        bin_dir: args.bin_dir,
        tansu: args.tansu,
        rules: args.rules,
        quix_app: args.quix_app,
        work_dir: args.work_dir,
    };
    let results = match run(&options) {
        Ok(results) => results,
        Err(error) => {
            eprintln!("benchmark FAILED: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", results.table());
    match write(&results.to_json(), &args.out, args.desc.as_deref()) {
        Ok(paths) => {
            println!("results: {paths}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("benchmark: cannot write results: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `latest.json` and, with a description, a dated copy.
fn write(
    json: &serde_json::Value,
    out: &std::path::Path,
    desc: Option<&str>,
) -> anyhow::Result<String> {
    let text = serde_json::to_string_pretty(json)? + "\n";
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, &text)?;
    let mut written = out.display().to_string();
    if let Some(desc) = desc {
        let date = chrono::Local::now().format("%Y-%m-%d");
        let dated = out.with_file_name(format!("{date}-{desc}.json"));
        std::fs::write(&dated, &text)?;
        written = format!("{written}, {}", dated.display());
    }
    Ok(written)
}
