//! Layered config loading, the same for every service: defaults in code, then
//! an optional TOML file (`--config`), then environment variables
//! `<SERVICE>__<KEY>` with `__` between nested keys (`FILTER__KAFKA__BROKERS`),
//! and `KAFKA_BROKERS` for the broker list of every service. Unknown keys are
//! errors that name the key.
//!
//! `KAFKA_LOCAL_BROKER_QUIRKS` sets `kafka.local_broker_quirks` of every
//! service the same way. With that switch on (from any layer), the local
//! broker's tuning ([`quirks::LOCAL_BROKER_TUNING`]) is a layer between the
//! defaults and the file: it replaces the defaults of its keys, and a value
//! set in the file or the environment still wins.

use std::path::Path;

use serde::{Serialize, de::DeserializeOwned};

use crate::quirks;

/// Exit code for bad config, bad rules and other startup errors the user must fix.
pub const EXIT_CONFIG: i32 = 2;

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `--config` file does not exist or cannot be read.
    #[error("config file {path}: {reason}")]
    File {
        /// Path given by the user.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A key is unknown, has the wrong type, or fails validation.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// A config key whose value cannot be used, found by a `validate` before
/// any I/O: the key to fix and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct InvalidKey {
    /// The key, in the file's dotted form (`kafka.brokers`,
    /// `mastodon.instances[1].base_url`).
    pub key: String,
    /// What is wrong with its value.
    pub problem: String,
}

impl InvalidKey {
    /// The error of `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> InvalidKey {
        InvalidKey {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Loads a service config. `env_prefix` is the service name in capitals
/// (`FILTER`), `file` the optional `--config` path.
pub fn load<T>(env_prefix: &str, file: Option<&Path>) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    load_from(env_prefix, file, std::env::vars())
}

/// [`load`] with the environment passed in, for tests.
pub fn load_from<T, I>(env_prefix: &str, file: Option<&Path>, env: I) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
    I: IntoIterator<Item = (String, String)>,
{
    let defaults = config::Config::try_from(&T::default())
        .map_err(|e| ConfigError::Invalid(format!("defaults: {e}")))?;
    if let Some(path) = file
        && !path.is_file()
    {
        return Err(ConfigError::File {
            path: path.display().to_string(),
            reason: "no such file".into(),
        });
    }
    let prefix = format!("{env_prefix}__");
    let mut env_map = config::Map::new();
    let mut overrides = Vec::new();
    for (key, value) in env {
        if key == "KAFKA_BROKERS" {
            overrides.push(("kafka.brokers", value));
        } else if key == "KAFKA_LOCAL_BROKER_QUIRKS" {
            overrides.push(("kafka.local_broker_quirks", value));
        } else if let Some(rest) = key.strip_prefix(&prefix) {
            env_map.insert(rest.to_ascii_lowercase(), value);
        }
    }
    let layers = |tuning: Option<&quirks::Tuning>| -> Result<config::Config, ConfigError> {
        let mut builder = config::Config::builder().add_source(defaults.clone());
        if let Some(tuning) = tuning {
            let mut tuned = config::Config::builder();
            for (key, value) in tuning.keys() {
                tuned = tuned
                    .set_override(format!("kafka.{key}"), value)
                    .map_err(|e| ConfigError::Invalid(e.to_string()))?;
            }
            builder = builder.add_source(tuned.build().map_err(|e| describe(e, file))?);
        }
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::default()
                .separator("__")
                .try_parsing(true)
                .source(Some(env_map.clone())),
        );
        for (key, value) in &overrides {
            builder = builder
                .set_override(*key, value.as_str())
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        builder.build().map_err(|e| describe(e, file))
    };
    let mut built = layers(None)?;
    // A value that is not a boolean is left for deserializing to name.
    if built.get_bool("kafka.local_broker_quirks").unwrap_or(false) {
        built = layers(Some(&quirks::LOCAL_BROKER_TUNING))?;
    }
    built.try_deserialize().map_err(|e| describe(e, file))
}

fn describe(error: config::ConfigError, file: Option<&Path>) -> ConfigError {
    match (&error, file) {
        (config::ConfigError::Foreign(_), Some(path))
        | (config::ConfigError::FileParse { .. }, Some(path)) => ConfigError::File {
            path: path.display().to_string(),
            reason: error.to_string(),
        },
        _ => ConfigError::Invalid(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Inner {
        brokers: String,
        timeout_ms: u64,
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Demo {
        interval_ms: u64,
        name: String,
        kafka: Inner,
    }

    impl Default for Demo {
        fn default() -> Self {
            Demo {
                interval_ms: 5000,
                name: "a".into(),
                kafka: Inner {
                    brokers: "127.0.0.1:9092".into(),
                    timeout_ms: 10,
                },
            }
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_defaults_file_env() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "interval_ms = 1000\n[kafka]\ntimeout_ms = 20").unwrap();
        let demo: Demo = load_from(
            "DEMO",
            Some(file.path()),
            env(&[
                ("DEMO__NAME", "b"),
                ("KAFKA_BROKERS", "h:1"),
                ("OTHER__NAME", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(demo.interval_ms, 1000);
        assert_eq!(demo.name, "b");
        assert_eq!(
            demo.kafka,
            Inner {
                brokers: "h:1".into(),
                timeout_ms: 20
            }
        );
    }

    #[test]
    fn env_nested_and_numbers() {
        let demo: Demo = load_from(
            "DEMO",
            None,
            env(&[
                ("DEMO__KAFKA__TIMEOUT_MS", "77"),
                ("DEMO__INTERVAL_MS", "5"),
            ]),
        )
        .unwrap();
        assert_eq!(demo.kafka.timeout_ms, 77);
        assert_eq!(demo.interval_ms, 5);
    }

    #[test]
    fn unknown_keys_are_named() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "intervall_ms = 1000").unwrap();
        let err = load_from::<Demo, _>("DEMO", Some(file.path()), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("intervall_ms"), "{err}");

        let err = load_from::<Demo, _>("DEMO", None, env(&[("DEMO__KAFKA__BROKER", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("broker"), "{err}");
    }

    #[test]
    fn wrong_type_and_missing_file() {
        let err = load_from::<Demo, _>("DEMO", None, env(&[("DEMO__INTERVAL_MS", "soon")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("interval_ms"), "{err}");
        let err = load_from::<Demo, _>("DEMO", Some(Path::new("/nonexistent.toml")), env(&[]))
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent.toml"), "{err}");
    }

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct WithKafka {
        kafka: crate::kafka::KafkaSettings,
    }

    #[test]
    fn the_local_broker_switch_is_off_by_default_and_brings_its_tuning() {
        let plain: WithKafka = load_from("DEMO", None, env(&[])).unwrap();
        assert!(!plain.kafka.local_broker_quirks);
        assert_eq!(plain.kafka.session_timeout_ms, 45_000);
        assert_eq!(plain.kafka.fetch_wait_max_ms, 500);

        let tuning = quirks::LOCAL_BROKER_TUNING;
        for variable in [
            "KAFKA_LOCAL_BROKER_QUIRKS",
            "DEMO__KAFKA__LOCAL_BROKER_QUIRKS",
        ] {
            let local: WithKafka = load_from("DEMO", None, env(&[(variable, "true")])).unwrap();
            assert!(local.kafka.local_broker_quirks, "{variable}");
            assert_eq!(local.kafka.session_timeout_ms, tuning.session_timeout_ms);
            assert_eq!(
                local.kafka.heartbeat_interval_ms,
                tuning.heartbeat_interval_ms
            );
            assert_eq!(local.kafka.fetch_wait_max_ms, tuning.fetch_wait_max_ms);
            assert_eq!(
                local.kafka,
                crate::kafka::KafkaSettings::default().with_local_broker_quirks()
            );
        }
    }

    #[test]
    fn a_tuned_key_set_by_the_user_wins_over_the_switch() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "[kafka]\nlocal_broker_quirks = true\nsession_timeout_ms = 9000"
        )
        .unwrap();
        let local: WithKafka = load_from(
            "DEMO",
            Some(file.path()),
            env(&[("DEMO__KAFKA__FETCH_WAIT_MAX_MS", "7")]),
        )
        .unwrap();
        assert!(local.kafka.local_broker_quirks);
        assert_eq!(local.kafka.session_timeout_ms, 9000);
        assert_eq!(local.kafka.fetch_wait_max_ms, 7);
        assert_eq!(
            local.kafka.heartbeat_interval_ms,
            quirks::LOCAL_BROKER_TUNING.heartbeat_interval_ms
        );
    }

    #[test]
    fn a_switch_that_is_not_a_boolean_is_named() {
        let err =
            load_from::<WithKafka, _>("DEMO", None, env(&[("KAFKA_LOCAL_BROKER_QUIRKS", "maybe")]))
                .unwrap_err()
                .to_string();
        assert!(err.contains("local_broker_quirks"), "{err}");
    }
}
