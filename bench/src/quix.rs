//! Step 4: the Quix Streams peer (`bench/quix/app.py`) in K instances (one
//! group) over the same topic, applying the rule `建设银行 AND 涨`. Each
//! instance writes its counts to a status file; the run ends when together
//! they consumed every post.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::load::now_ms_of;
use crate::process::{Measured, Usage};

/// One instance's status file.
#[derive(Debug, Clone, Default, Deserialize)]
struct Status {
    consumed: u64,
    matched: u64,
    first_s: Option<f64>,
    last_s: Option<f64>,
}

/// One Quix Streams run.
#[derive(Debug, Clone, Serialize)]
pub struct QuixRun {
    /// Instances in the group.
    pub instances: usize,
    /// Posts/s from the first post any instance processed to the last.
    pub posts_per_s: f64,
    /// From spawning to the first processed post, s.
    pub join_s: f64,
    /// Posts processed (more than N if a rebalance redelivered some).
    pub consumed: u64,
    /// Posts matching the rule.
    pub matched: u64,
    /// Largest peak RSS of an instance, MiB.
    pub peak_rss_mb: f64,
    /// CPU seconds of all instances together.
    pub cpu_s: f64,
}

/// What a Quix run needs.
pub struct QuixPlan<'a> {
    /// The virtualenv's python.
    pub python: &'a Path,
    /// `bench/quix/app.py`.
    pub app: &'a Path,
    /// Bootstrap broker.
    pub brokers: &'a str,
    /// Topic holding the loaded posts.
    pub topic: &'a str,
    /// Posts in the topic.
    pub posts: u64,
    /// Instances.
    pub instances: usize,
    /// Status files and logs go here.
    pub logs: &'a Path,
    /// Bound for the whole run.
    pub limit: Duration,
}

/// Runs the peer and measures it.
pub fn run_quix(plan: &QuixPlan<'_>) -> anyhow::Result<QuixRun> {
    let group = format!("bench-quix-{}", plan.instances);
    let mut instances = Vec::new();
    let mut status_files: Vec<PathBuf> = Vec::new();
    for i in 1..=plan.instances {
        let status = plan.logs.join(format!("{group}-{i}.status.json"));
        let _ = std::fs::remove_file(&status);
        let mut command = Command::new(plan.python);
        command
            .arg(plan.app)
            .args(["--broker", plan.brokers, "--topic", plan.topic])
            .args(["--group", &group])
            .arg("--status")
            .arg(&status)
            .arg("--state-dir")
            .arg(plan.logs.join(format!("{group}-{i}.state")));
        let log = plan.logs.join(format!("{group}-{i}.log"));
        instances.push(Measured::spawn(&format!("{group}-{i}"), command, &log)?);
        status_files.push(status);
    }
    let spawned_ms = instances.first().map(now_ms_of).unwrap_or(0.0);
    let started = Instant::now();
    loop {
        let consumed: u64 = status_files.iter().map(|f| read_status(f).consumed).sum();
        if consumed >= plan.posts {
            break;
        }
        for instance in &mut instances {
            if let Some(status) = instance.try_finished()? {
                bail!("{} exited with {status}; see its log", instance.name);
            }
        }
        if started.elapsed() > plan.limit {
            bail!(
                "{group}: {consumed} of {} posts in {:?}",
                plan.posts,
                plan.limit
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut usage = Usage::default();
    let mut peak = 0f64;
    for instance in instances {
        let one = instance.stop(Duration::from_secs(30))?;
        peak = peak.max(one.peak_rss_mb);
        usage = usage.combine(one);
    }
    let statuses: Vec<Status> = status_files.iter().map(|f| read_status(f)).collect();
    let first = statuses.iter().filter_map(|s| s.first_s).reduce(f64::min);
    let last = statuses.iter().filter_map(|s| s.last_s).reduce(f64::max);
    let (Some(first), Some(last)) = (first, last) else {
        bail!("{group}: no instance processed a post");
    };
    let window = (last - first).max(f64::MIN_POSITIVE);
    Ok(QuixRun {
        instances: plan.instances,
        posts_per_s: plan.posts as f64 / window,
        join_s: (first * 1000.0 - spawned_ms) / 1000.0,
        consumed: statuses.iter().map(|s| s.consumed).sum(),
        matched: statuses.iter().map(|s| s.matched).sum(),
        peak_rss_mb: peak,
        cpu_s: usage.cpu_s,
    })
}

/// The last status an instance wrote (zeros before its first).
fn read_status(path: &Path) -> Status {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Checks the peer found exactly the posts the filter found for the same rule.
pub fn check_matches(quix: &QuixRun, filter_matched: u64) -> anyhow::Result<()> {
    if quix.consumed < quix.matched {
        bail!("quix counted more matches than posts");
    }
    if quix.matched != filter_matched {
        bail!(
            "MISMATCH: Quix Streams matched {} posts with `建设银行 AND 涨`, the filter {filter_matched}",
            quix.matched
        );
    }
    Ok(())
}

/// The python of the virtualenv at `venv`, if quixstreams is installed in it.
pub fn venv_python(venv: &Path) -> anyhow::Result<PathBuf> {
    let python = venv.join("bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import quixstreams"])
        .status()
        .with_context(|| format!("running {}", python.display()))?
        .success();
    if !ok {
        bail!("quixstreams is not installed in {}", venv.display());
    }
    Ok(python)
}
