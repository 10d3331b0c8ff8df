//! How busy the whole machine was over a step: the share of all cores in
//! use (from `/proc/stat`), the hypervisor's steal and the broker's CPU
//! seconds. The broker and every client share the same cores here, so a
//! step's speed depends on what else it left room for. `/proc` is read with
//! `procfs`; its cost is in [`crate::process`]'s header.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use procfs::{CpuTime, CurrentSI, KernelStats};
use serde::Serialize;

use crate::process::{SAMPLE_EVERY, process_cpu_ticks};

/// Machine-wide CPU use over one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CpuShare {
    /// Share of all cores' time spent busy (not idle or waiting on I/O), 0–1.
    pub machine_busy: f64,
    /// Share of all cores' time the hypervisor gave to other guests, 0–1.
    pub steal: f64,
    /// The broker's CPU seconds (user + system) over the step.
    pub broker_cpu_s: f64,
}

/// Reads the machine's and the broker's counters every [`SAMPLE_EVERY`]
/// while a step runs, so the share can be taken over the step's own
/// first-to-last window afterwards (not its start-up or final commit wait).
pub struct CpuSampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Counters at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Wall clock, ms since the epoch.
    at_ms: f64,
    machine: MachineTicks,
    broker: u64,
}

impl CpuSampler {
    /// Starts sampling; `broker_pid` is the broker's process.
    pub fn start(broker_pid: u32) -> CpuSampler {
        let samples = Arc::new(Mutex::new(vec![Sample::now(broker_pid)]));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (samples, stop) = (samples.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(SAMPLE_EVERY);
                    let sample = Sample::now(broker_pid);
                    samples
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(sample);
                }
            })
        };
        CpuSampler {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    /// Machine-wide use between the wall-clock times `from_ms` and `to_ms`
    /// (ms since the epoch), from the samples nearest inside them (over all
    /// samples if fewer than two fall inside); stops sampling.
    pub fn share(mut self, from_ms: f64, to_ms: f64) -> CpuShare {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let inside: Vec<&Sample> = samples
            .iter()
            .filter(|s| (from_ms..=to_ms).contains(&s.at_ms))
            .collect();
        let (first, last) = match (inside.first(), inside.last()) {
            (Some(first), Some(last)) if inside.len() >= 2 => (**first, **last),
            _ => match (samples.first(), samples.last()) {
                (Some(first), Some(last)) => (*first, *last),
                _ => return CpuShare::default(),
            },
        };
        between(&first, &last)
    }
}

impl Drop for CpuSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Sample {
    fn now(broker_pid: u32) -> Sample {
        Sample {
            at_ms: crate::null_consumer::now_ms(),
            machine: MachineTicks::read(),
            broker: process_cpu_ticks(broker_pid).unwrap_or(0),
        }
    }
}

/// Use between two samples.
fn between(first: &Sample, last: &Sample) -> CpuShare {
    let (a, b) = (first.machine, last.machine);
    let total = b.total.saturating_sub(a.total).max(1) as f64;
    CpuShare {
        machine_busy: b.busy.saturating_sub(a.busy) as f64 / total,
        steal: b.steal.saturating_sub(a.steal) as f64 / total,
        broker_cpu_s: last.broker.saturating_sub(first.broker) as f64
            / crate::process::clock_ticks_per_s(),
    }
}

/// The `cpu` line of `/proc/stat`, in clock ticks summed over all cores.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct MachineTicks {
    busy: u64,
    steal: u64,
    total: u64,
}

impl MachineTicks {
    /// Zero when `/proc/stat` cannot be read (then every share is zero).
    fn read() -> MachineTicks {
        KernelStats::current()
            .map(|stats| MachineTicks::from(&stats.total))
            .unwrap_or_default()
    }
}

impl From<&CpuTime> for MachineTicks {
    /// Total is user, nice, system, idle, iowait, irq, softirq and steal
    /// (guest time is already counted in user); iowait counts as idle.
    fn from(cpu: &CpuTime) -> MachineTicks {
        let (iowait, steal) = (cpu.iowait.unwrap_or(0), cpu.steal.unwrap_or(0));
        let total = cpu.user
            + cpu.nice
            + cpu.system
            + cpu.idle
            + iowait
            + cpu.irq.unwrap_or(0)
            + cpu.softirq.unwrap_or(0)
            + steal;
        MachineTicks {
            busy: total - cpu.idle - iowait - steal,
            steal,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use procfs::FromReadSI;

    use super::*;

    #[test]
    fn machine_ticks_from_the_cpu_line() {
        let stat = "cpu  700 30 100 1000 50 0 20 100 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n\
                    ctxt 1\nbtime 1\nprocesses 1\n";
        let stats = KernelStats::from_read(stat.as_bytes(), procfs::current_system_info()).unwrap();
        let ticks = MachineTicks::from(&stats.total);
        assert_eq!(ticks.total, 2000);
        assert_eq!(ticks.steal, 100);
        assert_eq!(ticks.busy, 850);
        assert!(MachineTicks::read().total > 0);
    }

    /// This process's CPU time so far.
    fn cpu_used() -> Duration {
        let ticks = crate::process::process_cpu_ticks(std::process::id()).unwrap();
        Duration::from_secs_f64(ticks as f64 / crate::process::clock_ticks_per_s())
    }

    /// Keeps this thread busy until the process has used `ms` more
    /// milliseconds of CPU time (not wall time: on a loaded machine the
    /// spin may get a fraction of a core), for at most 20 s of wall time.
    fn spin(ms: u64) {
        let target = cpu_used() + Duration::from_millis(ms);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut x = 0u64;
        while cpu_used() < target && std::time::Instant::now() < deadline {
            for _ in 0..100_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            std::hint::black_box(x);
        }
    }

    #[test]
    fn a_busy_window_counts_this_process() {
        let sampler = CpuSampler::start(std::process::id());
        std::thread::sleep(Duration::from_millis(200));
        let from = crate::null_consumer::now_ms();
        spin(400);
        // Room for a sample after the spin inside the window, even if the
        // sampling thread waits for a core.
        std::thread::sleep(Duration::from_millis(300));
        let to = crate::null_consumer::now_ms();
        let share = sampler.share(from, to);
        assert!(share.machine_busy > 0.0, "{share:?}");
        assert!(share.broker_cpu_s > 0.2, "{share:?}");
    }

    #[test]
    fn only_the_window_counts() {
        let sampler = CpuSampler::start(std::process::id());
        spin(300);
        let from = crate::null_consumer::now_ms();
        std::thread::sleep(Duration::from_millis(400));
        let to = crate::null_consumer::now_ms();
        spin(300);
        let share = sampler.share(from, to);
        assert!(share.broker_cpu_s < 0.1, "{share:?}");
    }
}
