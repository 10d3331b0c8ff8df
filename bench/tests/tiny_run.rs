//! The benchmark's Rust parts end to end with a tiny N, so a change that
//! breaks the harness (or a service's config keys it sets) fails CI. Covers:
//! the collector load, the null consumer, one filter replica (no text
//! features) and a short end-to-end run; NOT the Quix Streams peer (it needs
//! the bench virtualenv, which `bench/run.sh` installs) nor the text runs.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn tansu() -> String {
    if let Ok(path) = std::env::var("TANSU_BIN") {
        return path;
    }
    let output = Command::new(root().join("deploy/local/install-tansu.sh"))
        .output()
        .unwrap();
    assert!(output.status.success(), "install-tansu.sh failed");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[test]
fn a_tiny_benchmark_run_measures_every_rust_step() {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_weibostream-bench"))
        .parent()
        .unwrap()
        .to_path_buf();
    for service in ["collector", "filter", "sink", "null-consumer"] {
        assert!(
            bin_dir.join(service).is_file(),
            "{service} not built in {}: run `cargo build --release --bins` first",
            bin_dir.display()
        );
    }
    let work = std::env::temp_dir().join(format!("bench-tiny-{}", std::process::id()));
    let out = work.join("latest.json");
    let started = std::time::Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_weibostream-bench"))
        .current_dir(root())
        .args(["--posts", "2000", "--replicas", "1"])
        .args([
            "--e2e-rate",
            "1000",
            "--e2e-seconds",
            "3",
            "--e2e-interval-ms",
            "1000",
        ])
        .args(["--batch-interval-ms", "500", "--tansu", &tansu()])
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--work-dir")
        .arg(&work)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the benchmark failed; logs in {}",
        work.display()
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(results["posts"], 2000);
    let positive = |key: &str| {
        let value = &results[key];
        assert!(value.as_f64().is_some_and(|v| v > 0.0), "{key} = {value}");
    };
    for key in [
        "collector_posts_per_s",
        "null_consumer_posts_per_s",
        "filter_peak_rss_mb",
        "filter_matched_ccb_rise",
        "e2e_p50_ms_after_close",
        "e2e_p99_ms_after_close",
    ] {
        positive(key);
    }
    assert!(results["filter_posts_per_s"]["1"].as_f64().unwrap() > 0.0);
    assert!(results["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(results["date"].is_string());
    // The raw latency includes the wait for the batch to close; after-close does not.
    assert!(results["e2e_p50_ms_raw"].as_f64() > results["e2e_p50_ms_after_close"].as_f64());
    eprintln!("tiny benchmark took {:?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&work);
}
