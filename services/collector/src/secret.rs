//! Access tokens and cookies: read from an environment variable or a file at startup,
//! kept out of `Debug` output and logs.

use std::fmt;
use std::path::Path;

/// A token that never shows in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Secret(token.into())
    }

    /// The token itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Reads a token from the file `file` if set, else from the environment
/// variable `env`, else `None`. `key` is the config key prefix for messages
/// (`weibo`). An empty token is an error: it can only be a mistake.
pub fn load_token(key: &str, env: &str, file: &Path) -> Result<Option<Secret>, String> {
    load_secret(
        &format!("{key}.access_token_env"),
        &format!("{key}.access_token_file"),
        env,
        file,
    )
}

/// As [`load_token`], with the config keys of the variable and the file
/// given in full (`weibo_mobile.cookie_env`, `weibo_mobile.cookie_file`).
pub fn load_secret(
    env_key: &str,
    file_key: &str,
    env: &str,
    file: &Path,
) -> Result<Option<Secret>, String> {
    if !file.as_os_str().is_empty() {
        let text = std::fs::read_to_string(file)
            .map_err(|error| format!("{file_key}: cannot read {}: {error}", file.display()))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(format!("{file_key}: {} is empty", file.display()));
        }
        return Ok(Some(Secret::new(token)));
    }
    if env.is_empty() {
        return Ok(None);
    }
    match std::env::var(env) {
        Ok(token) if !token.trim().is_empty() => Ok(Some(Secret::new(token.trim()))),
        Ok(_) => Err(format!(
            "{env_key}: the environment variable {env} is empty"
        )),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let secret = Secret::new("2.00abcdef");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(secret.expose(), "2.00abcdef");
    }

    #[test]
    fn reads_a_file_and_names_the_key_on_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  tok\n").unwrap();
        let token = load_token("weibo", "", &path).unwrap();
        assert_eq!(token.map(|t| t.expose().to_owned()).as_deref(), Some("tok"));
        std::fs::write(&path, "\n").unwrap();
        let error = load_token("weibo", "", &path).unwrap_err();
        assert!(error.starts_with("weibo.access_token_file:"), "{error}");
        let error = load_token("weibo", "", &dir.path().join("none")).unwrap_err();
        assert!(error.contains("cannot read"), "{error}");
        assert_eq!(
            load_token("weibo", "WEIBOSTREAM_TEST_SURELY_UNSET", Path::new("")),
            Ok(None)
        );
    }
}
