//! The sink binary restarts itself once with fixed glibc malloc settings
//! (`services/sink/src/malloc.rs`), keeps its name and process id, and
//! leaves an operator's own `glibc.malloc.` tunables alone.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use weibostream_tests::service_binary;

/// A sink that keeps waiting for a broker nobody listens on.
fn spawn_sink(env: &[(&str, &str)]) -> Child {
    Command::new(service_binary("sink"))
        .env("KAFKA_BROKERS", "127.0.0.1:1")
        .env("SINK__HTTP__BIND", "off")
        .env_remove("GLIBC_TUNABLES")
        .env_remove("WEIBOSTREAM_SINK_MALLOC_TUNED")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn environ(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        // Only what these tests look at, so a failure prints a short list.
        .filter(|v| v.starts_with("GLIBC_") || v.starts_with("WEIBOSTREAM_"))
        .collect()
}

/// The process's environment once it holds `wanted`, or after `limit`.
fn environ_once(pid: u32, wanted: &str, limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let vars = environ(pid);
        if vars.iter().any(|v| v.starts_with(wanted)) || start.elapsed() > limit {
            return vars;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_sink_restarts_with_a_fixed_mmap_threshold_and_keeps_its_name() {
    let mut sink = spawn_sink(&[]);
    let pid = sink.id();
    let vars = environ_once(
        pid,
        "WEIBOSTREAM_SINK_MALLOC_TUNED=",
        Duration::from_secs(10),
    );
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    let running = sink.try_wait().unwrap().is_none();
    sink.kill().unwrap();
    sink.wait().unwrap();
    assert!(running, "the sink exited");
    assert!(
        vars.iter().any(|v| v == "WEIBOSTREAM_SINK_MALLOC_TUNED=1"),
        "not restarted: {vars:?}"
    );
    // glibc may cut the variable at the first tunable once it has read it.
    assert!(
        vars.iter()
            .any(|v| v.starts_with("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072")),
        "{vars:?}"
    );
    assert_eq!(comm.trim(), "sink");
}

#[test]
fn an_operators_malloc_tunables_are_left_alone() {
    let mut sink = spawn_sink(&[("GLIBC_TUNABLES", "glibc.malloc.arena_max=4")]);
    let pid = sink.id();
    let vars = environ_once(
        pid,
        "WEIBOSTREAM_SINK_MALLOC_TUNED=",
        Duration::from_secs(2),
    );
    let running = sink.try_wait().unwrap().is_none();
    sink.kill().unwrap();
    sink.wait().unwrap();
    assert!(running, "the sink exited");
    assert!(
        !vars
            .iter()
            .any(|v| v.starts_with("WEIBOSTREAM_SINK_MALLOC_TUNED=")),
        "restarted although GLIBC_TUNABLES set a malloc tunable: {vars:?}"
    );
    assert!(
        vars.iter()
            .any(|v| v == "GLIBC_TUNABLES=glibc.malloc.arena_max=4")
    );
}
