//! A string that never shows itself in logs or debug output.

use std::cell::Cell;
use std::fmt;

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
    fn serializes_redacted_only_when_asked() {
        let secret = Secret::new("hunter2");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"hunter2\"");
        let shown = redacted(|| serde_json::to_string(&secret).unwrap());
        assert_eq!(shown, "\"***\"");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"hunter2\"");
    }
}
