//! The test build must reuse the release build of `tests/run.sh`: when a
//! dev-dependency adds a feature to a shared dependency (tokio's
//! `test-util`, serde's `alloc` through criterion), cargo compiles that
//! dependency and everything above it a second time, ~5 minutes on 2 cores.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Every package of the workspace's dependency graph with its features.
fn packages_with_features(edges: &str) -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&root)
        .args(["tree", "--workspace", "--offline", "--prefix", "none"])
        .args(["-e", edges, "-f", "{p} [{f}]"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.trim_end_matches(" (*)").to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn dev_dependencies_change_no_features_of_the_release_build() {
    let release = packages_with_features("normal,build");
    let test = packages_with_features("normal,build,dev");
    let name = |line: &String| line.split(" [").next().unwrap_or_default().to_string();
    let release_names: BTreeSet<String> = release.iter().map(name).collect();
    // Dev-only packages may come and go; a package in both builds must be
    // built with the same features.
    let changed: Vec<&String> = test
        .iter()
        .filter(|line| release_names.contains(&name(line)) && !release.contains(*line))
        .collect();
    assert!(
        changed.is_empty(),
        "dev-dependencies change the features of {changed:#?}: tests/run.sh would build them twice; give the normal dependency the same features or move the dev-dependency"
    );
}
