//! No cluster runs on the build machines, so `deploy/k8s/` is checked here:
//! every manifest parses and is namespace-neutral; every service's env vars
//! are real config keys (loaded and validated by the service's own config
//! code), its image, binary, ports, probes and Service agree; the HPA scales
//! the filter Deployment on CPU up to the partition count; the rules
//! ConfigMap is a valid rules file mounted where the filter reads it.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use weibostream_collector::CollectorConfig;
use weibostream_filter::FilterConfig;
use weibostream_filter::rules::RuleSet;
use weibostream_shared::Topics;
use weibostream_shared::config::load_from;
use weibostream_sink::SinkConfig;
use weibostream_tests::workspace_root;
use yaml_rust2::{Yaml, YamlLoader};

fn dir() -> PathBuf {
    workspace_root().join("deploy/k8s")
}

/// Every document of every manifest, with its file name.
fn documents() -> Vec<(String, Yaml)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for doc in YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}")) {
            docs.push((name.clone(), doc));
        }
    }
    docs
}

fn find<'a>(docs: &'a [(String, Yaml)], kind: &str, name: &str) -> &'a Yaml {
    docs.iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn list(node: &Yaml) -> &Vec<Yaml> {
    node.as_vec()
        .unwrap_or_else(|| panic!("not a list: {node:?}"))
}

fn configmap_value(docs: &[(String, Yaml)], name: &str, key: &str) -> String {
    find(docs, "ConfigMap", name)["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("ConfigMap {name} has no key {key}"))
        .to_string()
}

/// A container's env, with `configMapKeyRef`s resolved from the manifests.
fn environment(docs: &[(String, Yaml)], container: &Yaml) -> Vec<(String, String)> {
    list(&container["env"])
        .iter()
        .map(|var| {
            let name = var["name"].as_str().unwrap().to_string();
            let value = match var["value"].as_str() {
                Some(value) => value.to_string(),
                None => {
                    let reference = &var["valueFrom"]["configMapKeyRef"];
                    configmap_value(
                        docs,
                        reference["name"].as_str().unwrap(),
                        reference["key"].as_str().unwrap(),
                    )
                }
            };
            (name, value)
        })
        .collect()
}

/// Checks one service's Deployment and Service; returns its container's
/// env and the Deployment.
fn check_service<'a>(docs: &'a [(String, Yaml)], name: &str) -> (Vec<(String, String)>, &'a Yaml) {
    let deployment = find(docs, "Deployment", name);
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    for (key, value) in selector.as_hash().unwrap() {
        assert_eq!(
            &labels[key.as_str().unwrap()],
            value,
            "{name}: selector matches the pods"
        );
    }
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["securityContext"]["runAsUser"].as_i64(),
        Some(10001),
        "{name}: the image's non-root user"
    );
    let container = &list(&pod["containers"])[0];
    assert_eq!(
        container["image"].as_str(),
        Some("weibostream"),
        "{name}: the one image (set by kustomization)"
    );
    assert_eq!(
        list(&container["command"])[0].as_str(),
        Some(name),
        "{name}: runs its own binary"
    );
    let env = environment(docs, container);
    let prefix = format!("{}__", name.to_uppercase());
    for (key, _) in &env {
        assert!(
            key == "KAFKA_BROKERS" || key == "RUST_LOG" || key.starts_with(&prefix),
            "{name}: environment variable {key} is read by nothing"
        );
    }
    let bind = env
        .iter()
        .find(|(k, _)| *k == format!("{prefix}HTTP__BIND"))
        .unwrap_or_else(|| panic!("{name}: no http.bind"))
        .1
        .clone();
    let (host, port) = bind.rsplit_once(':').unwrap();
    assert_eq!(host, "0.0.0.0", "{name}: reachable from outside the pod");
    let port: i64 = port.parse().unwrap();
    let ports = list(&container["ports"]);
    assert_eq!(ports[0]["name"].as_str(), Some("metrics"));
    assert_eq!(
        ports[0]["containerPort"].as_i64(),
        Some(port),
        "{name}: containerPort = http.bind"
    );
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(
        annotations["prometheus.io/port"].as_str(),
        Some(port.to_string().as_str())
    );
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(
            container[probe]["httpGet"]["port"].as_str(),
            Some("metrics")
        );
    }
    let service = find(docs, "Service", name);
    for (key, value) in service["spec"]["selector"].as_hash().unwrap() {
        assert_eq!(
            &labels[key.as_str().unwrap()],
            value,
            "{name}: Service selects the pods"
        );
    }
    let service_port = &list(&service["spec"]["ports"])[0];
    assert_eq!(service_port["port"].as_i64(), Some(port));
    assert_eq!(service_port["targetPort"].as_str(), Some("metrics"));
    (env, deployment)
}

fn load<T>(prefix: &str, env: Vec<(String, String)>) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
{
    load_from(prefix, None, env).unwrap_or_else(|e| panic!("{prefix}: {e}"))
}

#[test]
fn every_manifest_parses_and_is_namespace_neutral() {
    let docs = documents();
    assert!(docs.len() >= 10, "{} documents", docs.len());
    let kustomization = std::fs::read_to_string(dir().join("kustomization.yaml")).unwrap();
    let kustomization = &YamlLoader::load_from_str(&kustomization).unwrap()[0];
    let resources: Vec<&str> = list(&kustomization["resources"])
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let mut files: Vec<&str> = docs
        .iter()
        .map(|(f, _)| f.as_str())
        .filter(|f| *f != "kustomization.yaml")
        .collect();
    files.dedup();
    let mut listed = resources.clone();
    listed.sort_unstable();
    assert_eq!(listed, files, "kustomization.yaml lists every manifest");
    for (file, doc) in docs.iter().filter(|(f, _)| f != "kustomization.yaml") {
        assert!(doc["apiVersion"].as_str().is_some(), "{file}: apiVersion");
        assert!(doc["kind"].as_str().is_some(), "{file}: kind");
        assert!(
            doc["metadata"]["name"].as_str().is_some(),
            "{file}: metadata.name"
        );
        assert!(
            doc["metadata"]["namespace"].is_badvalue(),
            "{file}: a fixed namespace"
        );
    }
}

#[test]
fn services_env_ports_and_probes_match_the_code() {
    let docs = documents();
    let (env, _) = check_service(&docs, "collector");
    let collector: CollectorConfig = load("COLLECTOR", env);
    collector.validate().unwrap();

    let (env, filter_deployment) = check_service(&docs, "filter");
    let filter: FilterConfig = load("FILTER", env);
    filter.validate().unwrap();
    assert!(
        filter.replica_id.is_empty(),
        "a fixed replica_id would name every pod the same"
    );
    assert_eq!(
        filter.kafka.brokers,
        configmap_value(&docs, "weibostream-kafka", "brokers")
    );
    // The rules file is the mounted ConfigMap, and it is valid.
    let pod = &filter_deployment["spec"]["template"]["spec"];
    let mount = &list(&list(&pod["containers"])[0]["volumeMounts"])[0];
    let mount_path = mount["mountPath"].as_str().unwrap();
    let file = filter
        .rules_path
        .strip_prefix(mount_path)
        .unwrap_or_else(|_| {
            panic!(
                "rules_path {} is not under {mount_path}",
                filter.rules_path.display()
            )
        });
    let volume = list(&pod["volumes"])
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let configmap = volume["configMap"]["name"].as_str().unwrap();
    let rules = configmap_value(&docs, configmap, file.to_str().unwrap());
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("rules.toml");
    std::fs::write(&path, rules).unwrap();
    assert!(!RuleSet::load(&path).unwrap().is_empty());

    let (env, _) = check_service(&docs, "sink");
    let sink: SinkConfig = load("SINK", env);
    sink.validate().unwrap();
    // The filter Service is headless so Prometheus sees every replica.
    assert_eq!(
        find(&docs, "Service", "filter")["spec"]["clusterIP"].as_str(),
        Some("None")
    );
}

#[test]
fn the_hpa_scales_the_filter_deployment_on_cpu_up_to_the_partition_count() {
    let docs = documents();
    let hpa = docs
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"].as_str() == Some("HorizontalPodAutoscaler"))
        .expect("an HPA");
    assert_eq!(hpa["apiVersion"].as_str(), Some("autoscaling/v2"));
    let target = &hpa["spec"]["scaleTargetRef"];
    assert_eq!(target["kind"].as_str(), Some("Deployment"));
    let deployment = find(&docs, "Deployment", target["name"].as_str().unwrap());
    let container = &list(&deployment["spec"]["template"]["spec"]["containers"])[0];
    assert_eq!(
        list(&container["command"])[0].as_str(),
        Some("filter"),
        "the HPA scales the filter"
    );
    assert!(
        deployment["spec"]["replicas"].is_badvalue(),
        "a fixed replica count fights the HPA"
    );
    assert!(
        container["resources"]["requests"]["cpu"].as_str().is_some(),
        "CPU utilization needs a CPU request"
    );
    let metric = &list(&hpa["spec"]["metrics"])[0];
    assert_eq!(metric["type"].as_str(), Some("Resource"));
    assert_eq!(metric["resource"]["name"].as_str(), Some("cpu"));
    let partitions: i64 = configmap_value(&docs, "weibostream-kafka", "raw_partitions")
        .parse()
        .unwrap();
    let (min, max) = (
        hpa["spec"]["minReplicas"].as_i64().unwrap(),
        hpa["spec"]["maxReplicas"].as_i64().unwrap(),
    );
    assert!(
        1 <= min && min <= max && max <= partitions,
        "{min}..{max} replicas for {partitions} partitions"
    );
}

#[test]
fn the_topics_job_creates_every_topic_the_services_use() {
    let docs = documents();
    let job = find(&docs, "Job", "weibostream-topics");
    let container = &list(&job["spec"]["template"]["spec"]["containers"])[0];
    let script: String = list(&container["args"])
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let topics = Topics::default();
    for (topic, partitions) in [
        (&topics.raw, "\"$RAW_PARTITIONS\""),
        (&topics.matched, "\"$RAW_PARTITIONS\""),
        (&topics.reports, "1"),
        (&topics.dlq, "1"),
    ] {
        let line = format!("create {topic} {partitions}");
        assert!(
            script.contains(&line),
            "the Job does not run `{line}`:\n{script}"
        );
    }
    let env: BTreeMap<String, String> = environment(&docs, container).into_iter().collect();
    assert_eq!(
        env["BROKERS"],
        configmap_value(&docs, "weibostream-kafka", "brokers")
    );
    let image = container["image"].as_str().unwrap();
    assert!(
        !image.ends_with(":latest") && image.contains(":v"),
        "pinned: {image}"
    );
}

/// Every metric family name the collector and the filter register.
fn metric_names() -> Vec<String> {
    use prometheus_client::registry::Registry;
    let mut registry = Registry::with_prefix("weibostream");
    let filter = weibostream_filter::metrics::FilterMetrics::register(&mut registry, 1000);
    filter.batch_posts(&[(0, 1)], 1, [("r", 1)].into_iter());
    filter.dead_lettered("invalid_json");
    let offsets = weibostream_shared::stats::PartitionOffsets {
        high: Some(1),
        ..Default::default()
    };
    filter.partitions(&[0], &BTreeMap::from([(0, offsets)]));
    weibostream_collector::ops::CollectorOps::register(
        &mut registry,
        weibostream_collector::metrics::CollectorMetrics::new(vec![std::sync::Arc::new(
            weibostream_collector::metrics::SourceMetrics::new("synthetic"),
        )]),
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    // Sample names, plus declared families (a gauge family has no samples
    // until its first label set).
    text.lines()
        .filter_map(|l| match l.strip_prefix("# TYPE ") {
            Some(declared) => declared.split(' ').next(),
            None if !l.starts_with('#') => l.split(['{', ' ']).next(),
            None => None,
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn the_grafana_dashboard_and_prometheus_config_use_real_metric_names_and_ports() {
    let names = metric_names();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("deploy/grafana/weibostream.json")).unwrap(),
    )
    .unwrap();
    let mut used = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("weibostream_collector_")
                    || word.starts_with("weibostream_filter_")
                {
                    assert!(
                        names.iter().any(|n| n == word),
                        "{:?}: {word} is not a metric the services serve",
                        panel["title"]
                    );
                    used += 1;
                }
            }
        }
    }
    assert!(used >= 8, "{used} metric references");
    let prometheus =
        std::fs::read_to_string(workspace_root().join("deploy/prometheus/prometheus.yml")).unwrap();
    let prometheus = &YamlLoader::load_from_str(&prometheus).unwrap()[0];
    let jobs = list(&prometheus["scrape_configs"]);
    let job = |name: &str| {
        jobs.iter()
            .find(|j| j["job_name"].as_str() == Some(name))
            .unwrap()
    };
    assert_eq!(
        list(&job("collector")["static_configs"][0]["targets"])[0].as_str(),
        Some(
            format!(
                "collector:{}",
                CollectorConfig::default()
                    .http
                    .address()
                    .unwrap()
                    .unwrap()
                    .port()
            )
            .as_str()
        )
    );
    let dns = &list(&job("filter")["dns_sd_configs"])[0];
    assert_eq!(list(&dns["names"])[0].as_str(), Some("filter"));
    let compose = std::fs::read_to_string(workspace_root().join("docker-compose.yml")).unwrap();
    let compose = &YamlLoader::load_from_str(&compose).unwrap()[0];
    let bind = compose["services"]["filter"]["environment"]["FILTER__HTTP__BIND"]
        .as_str()
        .unwrap();
    assert_eq!(
        bind,
        format!("0.0.0.0:{}", dns["port"].as_i64().unwrap()),
        "Prometheus scrapes the port the filters listen on"
    );
    let bind = compose["services"]["collector"]["environment"]["COLLECTOR__HTTP__BIND"]
        .as_str()
        .unwrap();
    assert_eq!(bind, "0.0.0.0:9101");
}
