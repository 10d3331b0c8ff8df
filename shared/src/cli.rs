//! What every service binary does around its library: exit codes and how
//! startup and runtime errors are shown.

use std::fmt::Display;
use std::process::ExitCode;

use crate::config::EXIT_CONFIG;

/// Prints a config, rules or startup error the user must fix; exit code 2.
pub fn config_error(service: &str, error: impl Display) -> ExitCode {
    eprintln!("{service}: {error}");
    ExitCode::from(EXIT_CONFIG as u8)
}

/// Maps a service run's outcome to an exit code, logging a failure.
pub fn finish<T>(service: &str, result: anyhow::Result<T>) -> ExitCode {
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{service} failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}
