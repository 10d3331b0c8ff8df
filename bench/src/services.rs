//! Starting the real service binaries (release builds) against the bench
//! broker, each with its own topics and group, logs in the work directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::Measured;

/// Where the binaries are and what every service gets.
#[derive(Debug, Clone)]
pub struct Services {
    /// Directory of `collector`, `filter`, `sink` (target/release).
    pub bin_dir: PathBuf,
    /// Bootstrap broker.
    pub brokers: String,
    /// Log directory.
    pub logs: PathBuf,
    /// The broker's process id, for its CPU time per step.
    pub broker_pid: u32,
    /// Per service prefix (`COLLECTOR`...): whether its config has an
    /// `http` section (newer builds serve /metrics on a default port,
    /// which several replicas would fight over).
    http_keys: Vec<(String, bool)>,
}

impl Services {
    /// Probes each binary once for the `http` config key.
    pub fn new(bin_dir: &Path, brokers: &str, broker_pid: u32, logs: &Path) -> Services {
        let http_keys = ["collector", "filter", "sink"]
            .iter()
            .map(|name| {
                let prefix = name.to_uppercase();
                let accepted = accepts_http_key(&bin_dir.join(name), &prefix);
                (prefix, accepted)
            })
            .collect();
        Services {
            bin_dir: bin_dir.to_path_buf(),
            brokers: brokers.to_string(),
            logs: logs.to_path_buf(),
            broker_pid,
            http_keys,
        }
    }

    /// A command for service `name` with the broker, its workarounds
    /// (`kafka.local_broker_quirks`: the bench runs the local broker), quiet
    /// logs and HTTP off.
    pub fn command(&self, name: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(name));
        command
            .env("KAFKA_BROKERS", &self.brokers)
            .env("KAFKA_LOCAL_BROKER_QUIRKS", "true")
            .env("RUST_LOG", log_filter());
        let prefix = name.to_uppercase();
        if self.http_keys.iter().any(|(p, on)| *p == prefix && *on) {
            command.env(format!("{prefix}__HTTP__BIND"), "off");
        }
        command
    }

    /// Spawns `command` as `label`, logging to `<logs>/<label>.log`.
    pub fn spawn(&self, label: &str, command: Command) -> anyhow::Result<Measured> {
        Measured::spawn(label, command, &self.logs.join(format!("{label}.log")))
    }
}

/// The services' log filter: `BENCH_RUST_LOG`, else warnings only.
fn log_filter() -> String {
    std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "warn,rdkafka=warn,librdkafka=warn".into())
}

/// Topic names of one measured run (`<prefix>.matched`...), passed to a
/// service as `<SERVICE>__TOPICS__*`.
pub fn topic_env(command: &mut Command, service: &str, raw: &str, prefix: &str) {
    let service = service.to_uppercase();
    command
        .env(format!("{service}__TOPICS__RAW"), raw)
        .env(
            format!("{service}__TOPICS__MATCHED"),
            format!("{prefix}.matched"),
        )
        .env(
            format!("{service}__TOPICS__REPORTS"),
            format!("{prefix}.reports"),
        )
        .env(format!("{service}__TOPICS__DLQ"), format!("{prefix}.dlq"));
}

/// Runs `binary` with `<PREFIX>__HTTP__BIND=off` and an invalid broker list
/// (so it stops at config validation either way) and reports whether the
/// `http` key was accepted.
fn accepts_http_key(binary: &Path, prefix: &str) -> bool {
    let Ok(mut child) = Command::new(binary)
        .env(format!("{prefix}__HTTP__BIND"), "off")
        .env(format!("{prefix}__KAFKA__BROKERS"), "")
        .env_remove("KAFKA_BROKERS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    else {
        return false;
    };
    for _ in 0..100 {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    match child.wait_with_output() {
        Ok(output) => !String::from_utf8_lossy(&output.stderr).contains("unknown field `http`"),
        Err(_) => false,
    }
}
