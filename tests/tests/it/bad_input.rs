//! Bad rules and bad config stop a service before any I/O, with exit code 2
//! and a message naming the rule and position, or the key.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use weibostream_tests::service_binary;

/// Runs a service binary against a broker address where nothing listens, so
/// any attempt to consume would hang in the broker wait instead of exiting.
fn run(service: &str, args: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
    let start = Instant::now();
    let mut command = Command::new(service_binary(service));
    if service == "sink" {
        // Parallel sinks must not share the default dashboard port.
        command.env("SINK__HTTP__BIND", "127.0.0.1:0");
    }
    let output = command
        .args(args)
        .envs(env.iter().copied())
        .env("KAFKA_BROKERS", "127.0.0.1:1")
        .output()
        .unwrap();
    (output, start.elapsed())
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_rule_syntax_error_names_the_rule_and_column_and_exits_2_before_consuming() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "[[rule]]\nid = \"ok\"\nquery = \"涨\"\n\n[[rule]]\nid = \"ccb-rise\"\nquery = \"建设银行 AND (涨\"\n")
        .unwrap();
    let (output, took) = run("filter", &["--rules", rules.to_str().unwrap()], &[]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains(r#"rule "ccb-rise""#), "{message}");
    assert!(message.contains("rule 2"), "{message}");
    assert!(message.contains("column 10"), "{message}");
    assert!(
        took < Duration::from_secs(5),
        "the filter waited for the broker before checking its rules ({took:?})"
    );
}

#[test]
fn a_missing_rules_file_is_named() {
    let (output, _) = run("filter", &["--rules", "/nonexistent/rules.toml"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("/nonexistent/rules.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unknown_config_keys_are_reported_by_name_in_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, "[kafka]\nbrokerz = \"x\"\n").unwrap();
    for service in ["collector", "filter", "sink"] {
        let (output, _) = run(service, &["--config", file.to_str().unwrap()], &[]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{service}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("brokerz"),
            "{service}: {}",
            stderr(&output)
        );
    }
    let (output, _) = run("filter", &[], &[("FILTER__BATCH_INTERVALL_MS", "10")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("batch_intervall_ms"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_values_name_the_key() {
    let (output, _) = run("filter", &[], &[("FILTER__BATCH_INTERVAL_MS", "10")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("batch_interval_ms"),
        "{}",
        stderr(&output)
    );
    let (output, _) = run("sink", &[], &[("SINK__KAFKA__SESSION_TIMEOUT_MS", "soon")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("kafka.session_timeout_ms"),
        "{}",
        stderr(&output)
    );
    let (output, _) = run("sink", &[], &[("KAFKA_LOCAL_BROKER_QUIRKS", "maybe")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("local_broker_quirks"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_collector_names_the_replaced_source_key_and_a_bad_sources_list() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("collector.toml");
    std::fs::write(&file, "source = \"file\"\n").unwrap();
    let (output, _) = run("collector", &["--config", file.to_str().unwrap()], &[]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains(r#"source: this key was replaced by sources; write sources = ["file"]"#),
        "{message}"
    );
    for (sources, expected) in [
        ("", "sources: list at least one source"),
        (
            "synthetic,jetstream",
            "synthetic cannot be listed with other sources",
        ),
    ] {
        let (output, _) = run("collector", &[], &[("COLLECTOR__SOURCES", sources)]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{sources}: {message}");
        assert!(message.contains(expected), "{sources}: {message}");
    }
}

#[test]
fn an_unreachable_broker_is_reported_after_a_bounded_wait_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "[[rule]]\nid = \"ok\"\nquery = \"涨\"\n").unwrap();
    for (service, args) in [
        ("filter", vec!["--rules", rules.to_str().unwrap()]),
        ("sink", vec![]),
    ] {
        let prefix = service.to_uppercase();
        let timeout = format!("{prefix}__KAFKA__STARTUP_TIMEOUT_MS");
        let (output, took) = run(service, &args, &[(&timeout, "1500")]);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{service}: {message}");
        assert!(
            message.contains("127.0.0.1:1") && message.contains("unreachable"),
            "{service}: {message}"
        );
        assert!(took < Duration::from_secs(15), "{service} waited {took:?}");
    }
}
