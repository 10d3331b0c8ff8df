//! The README's run command as real processes: it shows Spark-style blocks
//! with matches within ~20 s, every replica gets partitions, and SIGTERM
//! stops every process cleanly.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weibostream_tests::workspace_root;

fn collect(stream: impl std::io::Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let mut text = into.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
}

fn alive(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills whatever the run left behind if the test fails half-way.
struct Cleanup(std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for pid in std::fs::read_to_string(self.0.join("pids"))
            .unwrap_or_default()
            .lines()
        {
            let _ = Command::new("kill")
                .args(["-KILL", pid])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The variables cargo sets for a crate's test (not the user's own cargo
/// settings such as `CARGO_HOME` or `CARGO_TARGET_DIR`).
fn set_by_cargo_for_this_test(key: &str) -> bool {
    const PREFIXES: [&str; 3] = ["CARGO_PKG_", "CARGO_BIN_EXE_", "CARGO_MANIFEST_"];
    const NAMES: [&str; 5] = [
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || NAMES.contains(&key)
}

#[test]
fn the_readme_run_command_prints_blocks_and_stops_cleanly_on_sigterm() {
    let run_dir = tempfile::tempdir().unwrap();
    let _cleanup = Cleanup(run_dir.path().to_path_buf());
    let mut command = Command::new(workspace_root().join("deploy/local/run.sh"));
    // run.sh runs `cargo build`: the variables cargo set for this test
    // (CARGO_MANIFEST_DIR, CARGO_PKG_*...) would reach that build, change
    // ring's fingerprint and make the user's next plain build recompile
    // ring, rustls and every service (~1 minute after each test run).
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(set_by_cargo_for_this_test) {
            command.env_remove(key);
        }
    }
    let mut child = command
        .env("RUN_DIR", run_dir.path())
        // Any free port: a developer's own run may hold the default one.
        .env("SINK__HTTP__BIND", "127.0.0.1:0")
        .env("COLLECTOR__HTTP__BIND", "127.0.0.1:0")
        .env("FILTER__HTTP__BIND", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = (
        Arc::new(Mutex::new(String::new())),
        Arc::new(Mutex::new(String::new())),
    );
    collect(child.stdout.take().unwrap(), stdout.clone());
    collect(child.stderr.take().unwrap(), stderr.clone());
    // run.sh first builds the services, which takes minutes when anything
    // changed; the waits below count from when the broker is up.
    let deadline = Instant::now() + Duration::from_secs(900);
    while !stderr.lock().unwrap().contains("[run] broker (Tansu) on ") {
        assert!(
            Instant::now() < deadline && child.try_wait().unwrap().is_none(),
            "run.sh did not start the broker:\n{}",
            stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let started = Instant::now();

    // A block header, and a matched post of the sample rule under it.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = stdout.lock().unwrap().clone();
        if out.contains("\nTime: ") && out.contains("[ccb-rise") && out.contains(" posts in, ") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no block with a ccb-rise match within 90 s of the broker start\nstdout:\n{out}\nstderr:\n{}",
            stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed();
    if elapsed < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_secs(20) - elapsed);
    }
    let out = stdout.lock().unwrap().clone();
    let header = out.lines().position(|l| l.starts_with("Time: ")).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[header - 1].starts_with("-----") && lines[header + 1].starts_with("-----"),
        "{out}"
    );

    // The first block can come before the later replicas finished joining
    // (~3 s), so their assignment is waited for.
    let assigned = |log: &str, replica: &str| {
        log.lines().any(|l| {
            l.contains("partitions assigned")
                && l.contains(&format!("replica={replica} "))
                && !l.ends_with("partitions=[]")
        })
    };
    let replicas = ["filter-1", "filter-2", "filter-3"];
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline
        && !replicas
            .iter()
            .all(|r| assigned(&stderr.lock().unwrap(), r))
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = stderr.lock().unwrap().clone();
    for replica in replicas {
        assert!(
            assigned(&log, replica),
            "{replica} never got partitions:\n{log}"
        );
    }

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "run.sh did not stop within 60 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = stderr.lock().unwrap().clone();
    assert!(status.success(), "run.sh exited with {status}:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        !log.contains("killing it"),
        "a service had to be killed:\n{log}"
    );
    assert_eq!(log.matches("filter stopped").count(), 3, "{log}");
    assert!(
        log.contains("sink stopped") && log.contains("collector stopped"),
        "{log}"
    );
    let pids = std::fs::read_to_string(run_dir.path().join("pids")).unwrap();
    assert_eq!(
        pids.lines().count(),
        6,
        "broker, sink, 3 filters, collector: {pids}"
    );
    for pid in pids.lines() {
        assert!(
            !alive(pid),
            "process {pid} still running after run.sh exited"
        );
    }
}
