//! Child processes under measurement: spawned with their output in log
//! files, sampled from `/proc` for peak RSS (`VmHWM`) and CPU time
//! (`utime + stime`) until they are reaped, stopped with SIGTERM.
//!
//! `/proc` is read with the `procfs` crate. It costs more than the
//! hand-written readers it replaced, and little: one sample of the machine
//! and one process took 108–111 µs against 86–88 µs (1.26–1.27x), 0.22% of
//! one core at one sample per 50 ms (2026-12-03, three runs of the ignored
//! test `proc_timing::proc_sample_timing`; docs/benchmarks.md).

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};

/// How often `/proc` is read.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// Peak memory and CPU time of one process.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Usage {
    /// Peak resident set size (`VmHWM`), MiB.
    pub peak_rss_mb: f64,
    /// User + system CPU time, seconds.
    pub cpu_s: f64,
}

impl Usage {
    /// The larger peak and the summed CPU time of two processes.
    pub fn combine(self, other: Usage) -> Usage {
        Usage {
            peak_rss_mb: self.peak_rss_mb.max(other.peak_rss_mb),
            cpu_s: self.cpu_s + other.cpu_s,
        }
    }
}

/// A running, sampled child process.
pub struct Measured {
    /// Short name for messages (`filter-2`).
    pub name: String,
    child: Child,
    /// When it was spawned.
    pub started: SystemTime,
    usage: Arc<Mutex<Usage>>,
    stop: Arc<AtomicBool>,
    sampler: Option<JoinHandle<()>>,
}

impl Measured {
    /// Spawns `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> anyhow::Result<Measured> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone()?;
        let started = SystemTime::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {name}: {command:?}"))?;
        let usage = Arc::new(Mutex::new(Usage::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let pid = child.id();
        let sampler = {
            let (usage, stop) = (usage.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    sample(pid, &usage);
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })
        };
        Ok(Measured {
            name: name.to_string(),
            child,
            started,
            usage,
            stop,
            sampler: Some(sampler),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if it has exited (reaping it; sampling stops).
    pub fn try_finished(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        sample(self.pid(), &self.usage);
        Ok(self.child.try_wait()?)
    }

    /// Sends SIGTERM (through `kill`, as the workspace forbids `unsafe`).
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
    }

    /// Waits up to `limit` for the process to exit, then SIGKILLs it;
    /// returns its exit status and usage.
    pub fn wait(mut self, limit: Duration) -> anyhow::Result<(ExitStatus, Usage)> {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.try_finished()? {
                break status;
            }
            if Instant::now() > deadline {
                eprintln!(
                    "[bench] {} did not exit in {limit:?}; killing it",
                    self.name
                );
                let _ = self.child.kill();
                break self.child.wait()?;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.stop.store(true, Ordering::Relaxed);
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.join();
        }
        let usage = *self.usage.lock().unwrap_or_else(|e| e.into_inner());
        Ok((status, usage))
    }

    /// SIGTERM, then [`Measured::wait`]; errors if it exited unsuccessfully.
    pub fn stop(self, limit: Duration) -> anyhow::Result<Usage> {
        self.terminate();
        let name = self.name.clone();
        let (status, usage) = self.wait(limit)?;
        if !status.success() {
            bail!("{name} exited with {status} after SIGTERM");
        }
        Ok(usage)
    }
}

impl Drop for Measured {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads `/proc/<pid>` once and raises the recorded peak and CPU time.
/// A zombie has no `VmHWM` but still has its CPU times, so the values only
/// ever grow and the last reading before reaping counts.
fn sample(pid: u32, usage: &Mutex<Usage>) {
    let Some(process) = proc_process(pid) else {
        return;
    };
    let rss = process.status().ok().and_then(|status| status.vmhwm);
    let cpu = process.stat().ok().map(|stat| stat.utime + stat.stime);
    let mut usage = usage.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(kb) = rss {
        usage.peak_rss_mb = usage.peak_rss_mb.max(kb as f64 / 1024.0);
    }
    if let Some(ticks) = cpu {
        usage.cpu_s = usage.cpu_s.max(ticks as f64 / clock_ticks_per_s());
    }
}

/// `/proc/<pid>`, `None` once the process is gone.
fn proc_process(pid: u32) -> Option<procfs::process::Process> {
    procfs::process::Process::new(i32::try_from(pid).ok()?).ok()
}

/// `utime + stime` of process `pid` in clock ticks, `None` once it is gone.
pub fn process_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = proc_process(pid)?.stat().ok()?;
    Some(stat.utime + stat.stime)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux unless
/// the kernel says otherwise).
pub fn clock_ticks_per_s() -> f64 {
    procfs::ticks_per_second() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let usage = Mutex::new(Usage::default());
        sample(std::process::id(), &usage);
        let usage = *usage.lock().unwrap_or_else(|e| e.into_inner());
        assert!(usage.peak_rss_mb > 1.0, "{usage:?}");
        assert!(process_cpu_ticks(std::process::id()).is_some());
        assert_eq!(process_cpu_ticks(u32::MAX), None);
    }
}
