//! What every service binary does around its library: exit codes and how
//! startup and runtime errors are shown.

use std::fmt::Display;
use std::process::ExitCode;

use crate::config::EXIT_CONFIG;
use crate::kafka::{BrokerUnreachable, ConnectFailed};

/// Prints a config, rules or startup error the user must fix; exit code 2.
pub fn config_error(service: &str, error: impl Display) -> ExitCode {
    eprintln!("{service}: {error}");
    ExitCode::from(EXIT_CONFIG as u8)
}

/// Prints the effective config (defaults, then the file, then the
/// environment) as TOML with every secret shown as `***`, for
/// `--print-config`; exit code 0, or 2 when it cannot be shown.
pub fn print_config<T: serde::Serialize>(service: &str, config: &T) -> ExitCode {
    match crate::secret::redacted(|| toml::to_string_pretty(config)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => config_error(service, format!("cannot show the config: {error}")),
    }
}

/// Maps a service run's outcome to an exit code, logging a failure; a
/// broker that cannot be reached or connected to at start (unreachable, a
/// refused login or certificate, a wrong security protocol) exits 2 like a
/// config error, with one message.
pub fn finish<T>(service: &str, result: anyhow::Result<T>) -> ExitCode {
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(error)
            if error.downcast_ref::<BrokerUnreachable>().is_some()
                || error.downcast_ref::<ConnectFailed>().is_some() =>
        {
            config_error(service, format!("{error:#}"))
        }
        Err(error) => {
            tracing::error!("{service} failed: {error:#}");
            ExitCode::FAILURE
        }
    }
}
