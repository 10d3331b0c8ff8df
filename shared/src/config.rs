//! Layered config loading, the same for every service: defaults in code, then
//! an optional TOML file (`--config`), then environment variables
//! `<SERVICE>__<KEY>` with `__` between nested keys (`FILTER__KAFKA__BROKERS`),
//! and `KAFKA_BROKERS` for the broker list of every service. Unknown keys are
//! errors that name the key.

use std::path::Path;

use serde::{Serialize, de::DeserializeOwned};

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
    let mut builder = config::Config::builder().add_source(defaults);
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::File {
                path: path.display().to_string(),
                reason: "no such file".into(),
            });
        }
        builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
    }
    let prefix = format!("{env_prefix}__");
    let mut env_map = config::Map::new();
    let mut brokers = None;
    for (key, value) in env {
        if key == "KAFKA_BROKERS" {
            brokers = Some(value);
        } else if let Some(rest) = key.strip_prefix(&prefix) {
            env_map.insert(rest.to_ascii_lowercase(), value);
        }
    }
    builder = builder.add_source(
        config::Environment::default()
            .separator("__")
            .try_parsing(true)
            .source(Some(env_map)),
    );
    if let Some(brokers) = brokers {
        builder = builder
            .set_override("kafka.brokers", brokers)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
    }
    let built = builder.build().map_err(|e| describe(e, file))?;
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
}
