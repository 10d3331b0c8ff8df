//! A string that never shows itself in logs or debug output, and the ways
//! a service reads one at startup: an `env:`/`file:` [`SecretSource`], or a
//! pair of config keys naming an environment variable and a file
//! ([`load_secret`], [`load_token`]). The one secret type of every service.

use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret value (password, token, connection string with a password).
/// `Debug` and `Display` print `***`; only [`Secret::expose`] gives the value.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

const SOURCE_FORM: &str =
    "must be env:NAME or file:/path (secrets are not written in config files)";

/// Where a secret is read from: `env:NAME` (an environment variable) or
/// `file:/path` (a file, trailing line break removed), so that config files
/// name secrets without holding them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretSource(String);

impl SecretSource {
    /// A source from its `env:`/`file:` text.
    pub fn new(source: impl Into<String>) -> SecretSource {
        SecretSource(source.into())
    }

    /// Checks the form without reading anything.
    pub fn validate(&self) -> Result<(), String> {
        match self.0.split_once(':') {
            Some(("env", name)) if !name.is_empty() => Ok(()),
            Some(("file", path)) if !path.is_empty() => Ok(()),
            _ => Err(SOURCE_FORM.into()),
        }
    }

    /// Reads the secret; the error names the variable or file, never a value.
    pub fn read(&self) -> Result<Secret, String> {
        let value = match self.0.split_once(':') {
            Some(("env", name)) if !name.is_empty() => std::env::var(name)
                .map_err(|_| format!("environment variable {name} is not set"))?,
            Some(("file", path)) if !path.is_empty() => std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read {path}: {error}"))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            _ => return Err(SOURCE_FORM.into()),
        };
        if value.is_empty() {
            return Err(format!("{} is empty", self.0));
        }
        Ok(Secret(value))
    }
}

/// Why a secret named by config keys could not be read. The messages name
/// the config key and the variable or file, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file cannot be read.
    #[error("{key}: cannot read {}: {error}", path.display())]
    Unreadable {
        /// The config key naming the file.
        key: String,
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file holds only white space.
    #[error("{key}: {} is empty", path.display())]
    EmptyFile {
        /// The config key naming the file.
        key: String,
        /// The file.
        path: PathBuf,
    },
    /// The environment variable is set but empty.
    #[error("{key}: the environment variable {variable} is empty")]
    EmptyVariable {
        /// The config key naming the variable.
        key: String,
        /// The variable.
        variable: String,
    },
}

/// Reads a token from the file `file` if set, else from the environment
/// variable `env`, else `None`. `key` is the config key prefix for messages
/// (`weibo` for `weibo.access_token_env` / `weibo.access_token_file`). An
/// empty token is an error: it can only be a mistake.
pub fn load_token(key: &str, env: &str, file: &Path) -> Result<Option<Secret>, SecretError> {
    load_secret(
        &format!("{key}.access_token_env"),
        &format!("{key}.access_token_file"),
        env,
        file,
    )
}

/// As [`load_token`], with the config keys of the variable and the file
/// given in full (`weibo_mobile.cookie_env`, `weibo_mobile.cookie_file`).
/// Surrounding white space is trimmed.
pub fn load_secret(
    env_key: &str,
    file_key: &str,
    env: &str,
    file: &Path,
) -> Result<Option<Secret>, SecretError> {
    if !file.as_os_str().is_empty() {
        let text = std::fs::read_to_string(file).map_err(|error| SecretError::Unreadable {
            key: file_key.to_owned(),
            path: file.to_owned(),
            error,
        })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(SecretError::EmptyFile {
                key: file_key.to_owned(),
                path: file.to_owned(),
            });
        }
        return Ok(Some(Secret::new(token)));
    }
    if env.is_empty() {
        return Ok(None);
    }
    match std::env::var(env) {
        Ok(token) if !token.trim().is_empty() => Ok(Some(Secret::new(token.trim()))),
        Ok(_) => Err(SecretError::EmptyVariable {
            key: env_key.to_owned(),
            variable: env.to_owned(),
        }),
        Err(_) => Ok(None),
    }
}

thread_local! {
    static REDACT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every [`Secret`] serialized as `***` (on this thread), for
/// showing a config to a person. Outside it a secret serializes as its value,
/// which config loading needs to layer defaults, file and environment.
pub fn redacted<T>(f: impl FnOnce() -> T) -> T {
    let before = REDACT.with(|r| r.replace(true));
    let result = f();
    REDACT.with(|r| r.set(before));
    result
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if REDACT.with(Cell::get) && !self.0.is_empty() {
            serializer.serialize_str("***")
        } else {
            serializer.serialize_str(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "\"***\" ***");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn sources_read_env_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let source = SecretSource::new(format!("file:{}", path.display()));
        assert_eq!(source.read().unwrap().expose(), "s3cret");
        assert!(SecretSource::new("plain-token").validate().is_err());
        let missing = SecretSource::new("env:WEIBOSTREAM_TEST_SURELY_UNSET");
        assert_eq!(
            missing.read().unwrap_err(),
            "environment variable WEIBOSTREAM_TEST_SURELY_UNSET is not set"
        );
    }

    #[test]
    fn loads_from_a_file_and_names_the_key_on_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  tok\n").unwrap();
        let token = load_token("weibo", "", &path).unwrap();
        assert_eq!(token.map(|t| t.expose().to_owned()).as_deref(), Some("tok"));
        std::fs::write(&path, "\n").unwrap();
        let error = load_token("weibo", "", &path).unwrap_err().to_string();
        assert!(error.starts_with("weibo.access_token_file:"), "{error}");
        let error = load_token("weibo", "", &dir.path().join("none"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot read"), "{error}");
        assert!(
            load_token("weibo", "WEIBOSTREAM_TEST_SURELY_UNSET", Path::new(""))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn serializes_redacted_only_when_asked() {
        let secret = Secret::new("hunter2");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"hunter2\"");
        let shown = redacted(|| serde_json::to_string(&secret).unwrap());
        assert_eq!(shown, "\"***\"");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"hunter2\"");
    }
}
