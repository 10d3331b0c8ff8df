//! `null-consumer`: reads N posts of a topic in a consumer group and does
//! nothing with them; prints what it measured as one JSON line on stdout.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use weibostream_bench::null_consumer;
use weibostream_bench::topics::settings;

/// Reads N posts in a group, does nothing else, prints a JSON summary.
#[derive(Parser)]
struct Args {
    /// Bootstrap brokers.
    #[arg(long)]
    brokers: String,
    /// Topic to read.
    #[arg(long, default_value = "posts.raw")]
    topic: String,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 6)]
    partitions: usize,
    /// Consumer group.
    #[arg(long, default_value = "bench-null")]
    group: String,
    /// Posts to read before stopping.
    #[arg(long)]
    posts: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let kafka = settings(&args.brokers);
    let limit = Duration::from_secs(args.timeout_s);
    match null_consumer::run(
        &kafka,
        &args.group,
        &args.topic,
        args.partitions,
        args.posts,
        limit,
    )
    .and_then(|run| Ok(serde_json::to_string(&run)?))
    {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("null-consumer: {error:#}");
            ExitCode::FAILURE
        }
    }
}
