//! The compose file against the code: every service's build/image, command,
//! env, mounted config and depends_on compared with the code's real config
//! keys, binaries and topic names. (tests/containers.sh runs the stack for
//! real; this catches a renamed key in seconds.)
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use weibostream_collector::CollectorConfig;
use weibostream_filter::FilterConfig;
use weibostream_filter::rules::RuleSet;
use weibostream_shared::Topics;
use weibostream_shared::config::load_from;
use weibostream_sink::SinkConfig;
use weibostream_tests::workspace_root;
use yaml_rust2::{Yaml, YamlLoader};

fn compose() -> Yaml {
    let text = std::fs::read_to_string(workspace_root().join("docker-compose.yml")).unwrap();
    YamlLoader::load_from_str(&text).unwrap().remove(0)
}

/// A service's mapping with `<<: *anchor` merge keys applied (yaml-rust2 does not).
fn service(doc: &Yaml, name: &str) -> BTreeMap<String, Yaml> {
    let node = &doc["services"][name];
    let hash = node
        .as_hash()
        .unwrap_or_else(|| panic!("service {name} missing"));
    let mut merged = BTreeMap::new();
    if let Some(base) = hash.get(&Yaml::String("<<".into())).and_then(Yaml::as_hash) {
        for (k, v) in base {
            merged.insert(k.as_str().unwrap().to_string(), v.clone());
        }
    }
    for (k, v) in hash {
        let key = k.as_str().unwrap();
        if key != "<<" {
            merged.insert(key.to_string(), v.clone());
        }
    }
    merged
}

fn strings(node: &Yaml) -> Vec<String> {
    node.as_vec()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn environment(svc: &BTreeMap<String, Yaml>) -> Vec<(String, String)> {
    svc.get("environment")
        .and_then(Yaml::as_hash)
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    let value = match v {
                        Yaml::Integer(i) => i.to_string(),
                        other => interpolate(other.as_str().unwrap()),
                    };
                    (k.as_str().unwrap().to_string(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The value compose gives `${NAME:-default}` when NAME is unset.
fn interpolate(value: &str) -> String {
    match value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .and_then(|v| v.split_once(":-"))
    {
        Some((_, default)) => default.to_string(),
        None => value.to_string(),
    }
}

/// Maps a container path to the host file through the service's bind mounts.
fn host_path(svc: &BTreeMap<String, Yaml>, container: &str) -> PathBuf {
    let mut best: Option<(usize, PathBuf)> = None;
    for mount in strings(&svc["volumes"]) {
        let parts: Vec<&str> = mount.split(':').collect();
        let (host, target) = (parts[0], parts[1]);
        if let Some(rest) = container.strip_prefix(target) {
            let candidate = workspace_root()
                .join(host.trim_start_matches("./"))
                .join(rest.trim_start_matches('/'));
            let path = if rest.is_empty() {
                workspace_root().join(host.trim_start_matches("./"))
            } else {
                candidate
            };
            if best.as_ref().is_none_or(|(len, _)| target.len() > *len) {
                best = Some((target.len(), path));
            }
        }
    }
    best.unwrap_or_else(|| panic!("{container} is not mounted"))
        .1
}

/// Checks build, command binary, `--config` file and env, and returns the config file.
fn check_service(
    doc: &Yaml,
    name: &str,
) -> (BTreeMap<String, Yaml>, PathBuf, Vec<(String, String)>) {
    let svc = service(doc, name);
    assert_eq!(
        svc["build"].as_str(),
        Some("."),
        "{name}: built from the repo's Dockerfile"
    );
    assert!(workspace_root().join("Dockerfile").is_file());
    let command = strings(&svc["command"]);
    assert_eq!(command[0], name, "{name}: runs its own binary");
    let manifest = std::fs::read_to_string(
        workspace_root()
            .join("services")
            .join(name)
            .join("Cargo.toml"),
    )
    .unwrap();
    assert!(
        manifest.contains(&format!("name = \"{name}\"")),
        "{name} is not a binary of services/{name}"
    );
    assert_eq!(command[1], "--config");
    let config = host_path(&svc, &command[2]);
    assert!(
        config.is_file(),
        "{name}: {} does not exist",
        config.display()
    );
    let env = environment(&svc);
    let prefix = format!("{}__", name.to_uppercase());
    for (key, _) in &env {
        assert!(
            key == "KAFKA_BROKERS" || key == "RUST_LOG" || key.starts_with(&prefix),
            "{name}: environment variable {key} is read by nothing"
        );
    }
    assert!(
        !svc.contains_key("container_name"),
        "{name}: a container_name would prevent --scale"
    );
    let depends = svc["depends_on"].as_hash().unwrap();
    let init = depends
        .get(&Yaml::String("init-topics".into()))
        .expect("waits for the topics");
    assert_eq!(
        init["condition"].as_str(),
        Some("service_completed_successfully")
    );
    (svc, config, env)
}

fn load<T>(prefix: &str, file: &Path, env: Vec<(String, String)>) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
{
    load_from(prefix, Some(file), env).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[test]
fn services_configs_and_env_match_the_code() {
    let doc = compose();
    let (_, file, env) = check_service(&doc, "collector");
    let collector: CollectorConfig = load("COLLECTOR", &file, env);
    collector.validate().unwrap();
    assert_eq!(
        collector.topics,
        Topics {
            raw_partitions: collector.topics.raw_partitions,
            ..Topics::default()
        }
    );

    let (svc, file, env) = check_service(&doc, "filter");
    let filter: FilterConfig = load("FILTER", &file, env.clone());
    filter.validate().unwrap();
    assert!(
        filter.replica_id.is_empty(),
        "a fixed replica_id would give every scaled replica the same name"
    );
    let rules = host_path(&svc, filter.rules_path.to_str().unwrap());
    RuleSet::load(&rules).unwrap();
    assert!(
        !svc.contains_key("ports"),
        "fixed host ports would prevent --scale filter=3"
    );

    let (svc, file, env) = check_service(&doc, "sink");
    let sink: SinkConfig = load("SINK", &file, env.clone());
    sink.validate().unwrap();
    assert!(
        env.iter()
            .any(|(k, v)| k == "KAFKA_BROKERS" && v == "redpanda:9092"),
        "sink: its own environment map replaces the shared one, so it must repeat KAFKA_BROKERS"
    );
    let bind = sink.http.address().unwrap().expect("sink dashboard on");
    assert!(
        bind.ip().is_unspecified(),
        "sink: http.bind {bind} is not reachable from outside the container"
    );
    assert!(
        strings(&svc["ports"]).contains(&format!("{0}:{0}", bind.port())),
        "sink: dashboard port {} not published",
        bind.port()
    );
    for (_, brokers) in environment(&service(&doc, "filter"))
        .iter()
        .filter(|(k, _)| k == "KAFKA_BROKERS")
    {
        assert_eq!(brokers, "redpanda:9092");
    }
}

#[test]
fn redpanda_is_pinned_healthchecked_and_advertises_the_brokers_the_services_use() {
    let doc = compose();
    for name in ["redpanda", "console", "init-topics"] {
        let image = doc["services"][name]["image"].as_str().unwrap();
        let tag = image.rsplit(':').next().unwrap();
        assert!(
            tag.starts_with('v') && tag != "latest",
            "{name}: image {image} is not pinned"
        );
    }
    let redpanda = service(&doc, "redpanda");
    let command = strings(&redpanda["command"]).join(" ");
    assert!(
        command.contains("--advertise-kafka-addr=internal://redpanda:9092"),
        "{command}"
    );
    assert!(redpanda["healthcheck"]["test"].as_vec().is_some());
    let console = environment(&service(&doc, "console"));
    assert!(console.contains(&("KAFKA_BROKERS".into(), "redpanda:9092".into())));
}

#[test]
fn init_topics_creates_every_topic_the_services_use() {
    let doc = compose();
    let init = service(&doc, "init-topics");
    let script = strings(&init["command"]).join("\n");
    let topics = Topics::default();
    for (topic, partitions) in [
        (&topics.raw, "\"$$RAW_PARTITIONS\""),
        (&topics.matched, "\"$$RAW_PARTITIONS\""),
        (&topics.reports, "1"),
        (&topics.dlq, "1"),
    ] {
        let line = format!("create {topic} {partitions}");
        assert!(
            script.contains(&line),
            "init-topics does not run `{line}`:\n{script}"
        );
    }
    let env = environment(&init);
    assert!(
        env.iter().any(|(k, v)| k == "RAW_PARTITIONS" && v == "6"),
        "{env:?}"
    );
    for svc in ["collector", "filter", "sink"] {
        let depends = service(&doc, svc)["depends_on"].clone();
        for (dep, _) in depends.as_hash().unwrap() {
            assert!(
                doc["services"][dep.as_str().unwrap()].as_hash().is_some(),
                "{svc} depends on a missing service"
            );
        }
    }
}

#[test]
fn the_dockerfile_dependency_layer_copies_every_workspace_member() {
    let manifest: toml::Table = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let dockerfile = std::fs::read_to_string(workspace_root().join("Dockerfile")).unwrap();
    for member in manifest["workspace"]["members"].as_array().unwrap() {
        let member = member.as_str().unwrap();
        assert!(
            dockerfile.contains(&format!("COPY {member}/Cargo.toml {member}/")),
            "the Dockerfile's dependency layer misses {member}/Cargo.toml, so `docker compose build` would fail"
        );
    }
}
