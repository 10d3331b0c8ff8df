//! Times one `/proc` sample through `procfs` against the hand-written
//! readers it replaced (kept here, test-only, as the reference). Run with
//! `cargo test --release -p weibostream-bench --lib proc_timing -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use crate::process::SAMPLE_EVERY;

/// The readers the benchmark used before `procfs`, as they were.
mod hand_written {
    pub fn machine_busy() -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        let fields: Vec<u64> = line
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let total: u64 = fields.iter().take(8).sum();
        Some(total - fields.get(3)? - fields.get(4)? - fields.get(7)?)
    }

    pub fn cpu_ticks(pid: u32) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    pub fn peak_rss_kb(pid: u32) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

mod with_procfs {
    use procfs::{CurrentSI, KernelStats};

    pub fn machine_busy() -> Option<u64> {
        let cpu = KernelStats::current().ok()?.total;
        Some(cpu.user + cpu.nice + cpu.system + cpu.irq? + cpu.softirq?)
    }

    pub fn cpu_and_peak(pid: u32) -> Option<(u64, u64)> {
        let process = procfs::process::Process::new(pid as i32).ok()?;
        let stat = process.stat().ok()?;
        Some((stat.utime + stat.stime, process.status().ok()?.vmhwm?))
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// The mean time of one of `reads` calls of `read`.
fn time_of(reads: u32, mut read: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..reads {
        read();
    }
    started.elapsed() / reads
}

#[test]
#[ignore = "a timing, not a check: run it by hand"]
fn proc_sample_timing() {
    const READS: u32 = 2_000;
    let pid = std::process::id();
    let (mut old, mut new) = (Vec::new(), Vec::new());
    // One sample as the sampler takes it every SAMPLE_EVERY: the machine's
    // line (cpu.rs) plus one process's CPU time and peak (process.rs).
    // Interleaved rounds, so a noisy neighbour hits both alike.
    for _ in 0..9 {
        old.push(time_of(READS, || {
            std::hint::black_box((
                hand_written::machine_busy(),
                hand_written::cpu_ticks(pid),
                hand_written::peak_rss_kb(pid),
            ));
        }));
        new.push(time_of(READS, || {
            std::hint::black_box((with_procfs::machine_busy(), with_procfs::cpu_and_peak(pid)));
        }));
    }
    let (old, new) = (median(old), median(new));
    let share = |t: Duration| 100.0 * t.as_secs_f64() / SAMPLE_EVERY.as_secs_f64();
    println!(
        "one sample (machine + one process), median of 9 × {READS}: hand-written {:.1} µs \
         ({:.3}% of a core at one sample per {} ms), procfs {:.1} µs ({:.3}%), ratio {:.2}x",
        old.as_secs_f64() * 1e6,
        share(old),
        SAMPLE_EVERY.as_millis(),
        new.as_secs_f64() * 1e6,
        share(new),
        new.as_secs_f64() / old.as_secs_f64(),
    );
}
