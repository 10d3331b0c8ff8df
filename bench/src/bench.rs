//! One benchmark run, step by step, on one fresh broker.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use crate::broker::Broker;
use crate::filter_run::{FilterPlan, run_filter};
use crate::latency::{LatencyPlan, run_latency};
use crate::load::load;
use crate::pairs::{Pair, run_pairs};
use crate::quix::{QuixPlan, check_matches, run_quix, venv_python};
use crate::report::Results;
use crate::services::Services;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Posts to load.
    pub posts: u64,
    /// Filter replica counts to measure.
    pub replicas: Vec<usize>,
    /// Rounds of null consumer + filter ×1 (the main run is the first);
    /// the ratios' median is reported.
    pub pairs: usize,
    /// Classifier model for the text runs; `None` skips them.
    pub model: Option<PathBuf>,
    /// Quix Streams virtualenv; `None` skips the peer.
    pub quix_venv: Option<PathBuf>,
    /// Quix Streams instance counts to measure.
    pub quix_instances: Vec<usize>,
    /// End-to-end input rate, posts/s.
    pub e2e_rate: u64,
    /// End-to-end duration, s (0 skips it).
    pub e2e_seconds: u64,
    /// The filters' batch interval in the end-to-end run, ms.
    pub e2e_interval_ms: u64,
    /// The filters' batch interval in the throughput runs, ms.
    pub batch_interval_ms: u64,
    /// Directory of the release binaries.
    pub bin_dir: PathBuf,
    /// The tansu binary.
    pub tansu: PathBuf,
    /// The 20-rule file.
    pub rules: PathBuf,
    /// `bench/quix/app.py`.
    pub quix_app: PathBuf,
    /// Logs and scratch files.
    pub work_dir: PathBuf,
}

/// The raw topic the throughput steps share.
const RAW: &str = "bench.raw";

/// Runs every step; the first failure ends the run.
pub fn run(options: &Options) -> anyhow::Result<Results> {
    std::fs::create_dir_all(&options.work_dir)?;
    let load_start = load_average();
    let broker = Broker::start(&options.tansu, &options.work_dir.join("broker.log"))?;
    let services = Services::new(
        &options.bin_dir,
        &broker.address,
        broker.process.pid(),
        &options.work_dir,
    );
    let say = |what: &str| eprintln!("[bench] {what}");
    say(&format!(
        "broker on {}; logs in {}",
        broker.address,
        options.work_dir.display()
    ));

    say(&format!(
        "1-2. loading {} posts with the collector, reading them with the null consumer",
        options.posts
    ));
    let loaded = load(&services, RAW, options.posts, 42)?;
    let limit = Duration::from_secs(120 + options.posts / 5_000);
    let base_plan = FilterPlan {
        raw_topic: RAW,
        ends: &loaded.ends,
        rules: &options.rules,
        replicas: 1,
        model: None,
        batch_interval_ms: options.batch_interval_ms,
        limit,
        round: 1,
    };
    let mut filters = Vec::new();
    let models: Vec<Option<&PathBuf>> = std::iter::once(None)
        .chain(options.model.as_ref().map(Some))
        .collect();
    for model in models {
        for &replicas in &options.replicas {
            let text = if model.is_some() {
                " with text features"
            } else {
                ""
            };
            say(&format!("3. filter, {replicas} replica(s){text}"));
            let plan = FilterPlan {
                model: model.map(PathBuf::as_path),
                replicas,
                ..base_plan
            };
            filters.push(run_filter(&services, &plan)?);
        }
    }
    let mut pairs = Vec::new();
    if let Some(first) = Pair::from_main(loaded.null.posts_per_s(), &filters) {
        pairs.push(first);
        let model = options.model.as_deref();
        pairs.extend(run_pairs(
            &services,
            &base_plan,
            options.posts,
            model,
            options.pairs,
        )?);
    }
    let mut quix = Vec::new();
    if let Some(venv) = &options.quix_venv {
        let python = venv_python(venv)?;
        for &instances in &options.quix_instances {
            say(&format!("4. Quix Streams peer, {instances} instance(s)"));
            let plan = QuixPlan {
                python: &python,
                app: &options.quix_app,
                brokers: &broker.address,
                topic: RAW,
                posts: options.posts,
                instances,
                logs: &options.work_dir,
                limit: Duration::from_secs(120 + options.posts / 2_000),
            };
            let run = run_quix(&plan)?;
            if instances == 1 {
                let ours = filters
                    .iter()
                    .find(|r| !r.text)
                    .and_then(|r| r.matched_per_rule.get("ccb-rise").copied())
                    .context("no rules-only filter run to compare the peer with")?;
                check_matches(&run, ours)?;
                say(&format!("   matched counts agree: {ours}"));
            }
            quix.push(run);
        }
    }
    let latency = if options.e2e_seconds > 0 {
        say(&format!(
            "5. end to end: {} posts/s for {} s through collector -> 3 filters -> sink",
            options.e2e_rate, options.e2e_seconds
        ));
        let plan = LatencyPlan {
            rules: &options.rules,
            rate_per_s: options.e2e_rate,
            seconds: options.e2e_seconds,
            replicas: 3,
            batch_interval_ms: options.e2e_interval_ms,
        };
        Some(run_latency(&services, &plan)?)
    } else {
        None
    };
    let broker_usage = broker.process.stop(Duration::from_secs(10)).ok();
    let mut machine = machine();
    machine["load_avg_1m_start"] = json!(load_start);
    machine["load_avg_1m_end"] = json!(load_average());
    machine["broker_peak_rss_mb"] = json!(broker_usage.map(|u| u.peak_rss_mb));
    Ok(Results {
        loaded,
        filters,
        pairs,
        quix,
        latency,
        batch_interval_ms: options.batch_interval_ms,
        machine,
        date: chrono::Local::now()
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
    })
}

/// Cores, memory and CPU model of this machine.
pub fn machine() -> Value {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown");
    json!({
        "cores": cores,
        "memory_gb": (memory_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "cpu": model,
    })
}

/// The 1-minute load average.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}
