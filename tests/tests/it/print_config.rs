//! `--print-config` shows each service's effective config (defaults, file,
//! environment) as TOML, with secrets shown as `***`, and exits 0.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use weibostream_tests::service_binary;

fn print_config(service: &str, env: &[(&str, &str)]) -> toml::Table {
    let output = Command::new(service_binary(service))
        .arg("--print-config")
        .env_remove("KAFKA_LOCAL_BROKER_QUIRKS")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{service}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !stdout.contains("hunter2"),
        "{service} printed a secret:\n{stdout}"
    );
    stdout.parse().unwrap()
}

#[test]
fn the_sink_shows_its_postgres_url_as_stars_and_the_rest_as_set() {
    let config = print_config(
        "sink",
        &[
            ("SINK__POSTGRES_URL", "postgres://app:hunter2@db/weibo"),
            ("SINK__GRACE_MS", "1234"),
            ("KAFKA_BROKERS", "broker-a:9092"),
        ],
    );
    assert_eq!(config["postgres_url"].as_str(), Some("***"));
    assert_eq!(config["grace_ms"].as_integer(), Some(1234));
    assert_eq!(config["kafka"]["brokers"].as_str(), Some("broker-a:9092"));
}

#[test]
fn the_filter_and_collector_show_their_effective_settings() {
    let filter = print_config(
        "filter",
        &[
            ("FILTER__BATCH_INTERVAL_MS", "2000"),
            ("FILTER__KAFKA__SASL_PASSWORD_ENV", "MY_PASSWORD"),
            ("MY_PASSWORD", "hunter2"),
        ],
    );
    assert_eq!(filter["batch_interval_ms"].as_integer(), Some(2000));
    // Only the variable's name is config; its value never is.
    assert_eq!(
        filter["kafka"]["sasl_password_env"].as_str(),
        Some("MY_PASSWORD")
    );
    let collector = print_config("collector", &[("COLLECTOR__SYNTHETIC__RATE_PER_S", "7")]);
    assert_eq!(collector["synthetic"]["rate_per_s"].as_integer(), Some(7));
}

#[test]
fn the_local_broker_switch_is_off_by_default_and_one_variable_turns_it_on_with_its_tuning() {
    for service in ["collector", "filter", "sink"] {
        let plain = print_config(service, &[]);
        assert_eq!(
            plain["kafka"]["local_broker_quirks"].as_bool(),
            Some(false),
            "{service}"
        );
        assert_eq!(
            plain["kafka"]["session_timeout_ms"].as_integer(),
            Some(45_000)
        );
        assert_eq!(plain["kafka"]["fetch_wait_max_ms"].as_integer(), Some(500));
        let local = print_config(service, &[("KAFKA_LOCAL_BROKER_QUIRKS", "true")]);
        assert_eq!(
            local["kafka"]["local_broker_quirks"].as_bool(),
            Some(true),
            "{service}"
        );
        assert_eq!(
            local["kafka"]["session_timeout_ms"].as_integer(),
            Some(6000)
        );
        assert_eq!(
            local["kafka"]["heartbeat_interval_ms"].as_integer(),
            Some(1000)
        );
        assert_eq!(local["kafka"]["fetch_wait_max_ms"].as_integer(), Some(20));
    }
}
