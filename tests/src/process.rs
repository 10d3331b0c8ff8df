//! Services as real OS processes (the release binaries), for tests that kill
//! them with signals.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use weibostream_shared::Topics;
use weibostream_shared::kafka::KafkaSettings;

use crate::service_binary;

/// A running service process; killed when dropped.
pub struct ServiceProcess {
    child: Child,
    /// Its stderr log file.
    pub log: PathBuf,
}

/// `<SERVICE>__HTTP__BIND=127.0.0.1:0` for the services known to have
/// `http.bind`.
fn http_bind(service: &str) -> Vec<(String, String)> {
    match service {
        "collector" | "filter" => vec![(
            format!("{}__HTTP__BIND", service.to_uppercase()),
            "127.0.0.1:0".to_string(),
        )],
        _ => Vec::new(),
    }
}

impl ServiceProcess {
    /// Starts `service` with `KAFKA_BROKERS`, `KAFKA_LOCAL_BROKER_QUIRKS` as
    /// in `kafka`, topic names as env overrides, and `args`.
    pub fn spawn(
        service: &str,
        kafka: &KafkaSettings,
        topics: &Topics,
        env: &[(&str, String)],
        args: &[&str],
        log_dir: &Path,
        name: &str,
    ) -> ServiceProcess {
        let prefix = service.to_uppercase();
        // A restarted service gets a log of its own: the first run's log
        // is what explains a failure after a kill.
        let log = (1..)
            .map(|run| match run {
                1 => log_dir.join(format!("{name}.log")),
                n => log_dir.join(format!("{name}.{n}.log")),
            })
            .find(|path| !path.exists())
            .unwrap();
        let mut command = Command::new(service_binary(service));
        command
            .args(args)
            .env("KAFKA_BROKERS", &kafka.brokers)
            .env(
                "KAFKA_LOCAL_BROKER_QUIRKS",
                kafka.local_broker_quirks.to_string(),
            )
            .env("RUST_LOG", "info,rdkafka=warn,librdkafka=warn")
            .env(format!("{prefix}__TOPICS__RAW"), &topics.raw)
            .env(format!("{prefix}__TOPICS__MATCHED"), &topics.matched)
            .env(format!("{prefix}__TOPICS__REPORTS"), &topics.reports)
            .env(format!("{prefix}__TOPICS__DLQ"), &topics.dlq)
            // Tests run many services at once: a free port instead of the
            // fixed defaults (the sink is handled below).
            .envs(http_bind(service))
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        if service == "sink" {
            // Parallel sinks must not share the default dashboard port.
            command.env("SINK__HTTP__BIND", "127.0.0.1:0");
        }
        command.envs(security_env(service, kafka));
        for (key, value) in env {
            command.env(key, value);
        }
        ServiceProcess {
            child: command.spawn().unwrap(),
            log,
        }
    }

    /// Sends a signal (`KILL`, `TERM`, `STOP`, `CONT`...).
    pub fn signal(&self, name: &str) {
        signal(self.child.id(), name);
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "process did not exit within {limit:?}; log {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

/// `<SERVICE>__KAFKA__<KEY>` for each TLS and SASL setting of `kafka` that
/// is set, so a service process connects the way `kafka` says. (The SASL
/// password itself travels in the variable `sasl_password_env` names: the
/// caller passes it.)
pub fn security_env(service: &str, kafka: &KafkaSettings) -> Vec<(String, String)> {
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let protocol =
        (kafka.security_protocol != "plaintext").then(|| kafka.security_protocol.clone());
    [
        ("SECURITY_PROTOCOL", protocol),
        ("SASL_MECHANISM", kafka.sasl_mechanism.clone()),
        ("SASL_USERNAME", kafka.sasl_username.clone()),
        ("SASL_PASSWORD_ENV", kafka.sasl_password_env.clone()),
        ("SASL_PASSWORD_FILE", path(&kafka.sasl_password_file)),
        ("SSL_CA_LOCATION", path(&kafka.ssl_ca_location)),
        (
            "SSL_CERTIFICATE_LOCATION",
            path(&kafka.ssl_certificate_location),
        ),
        ("SSL_KEY_LOCATION", path(&kafka.ssl_key_location)),
        ("SSL_KEY_PASSWORD_ENV", kafka.ssl_key_password_env.clone()),
    ]
    .into_iter()
    .filter_map(|(key, value)| {
        value.map(|v| (format!("{}__KAFKA__{key}", service.to_uppercase()), v))
    })
    .collect()
}

/// Lines of a service's log a failing test prints.
const LOG_TAIL_LINES: usize = 80;

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The log lives in the test's temporary directory, gone once the
        // test ends: a failure (often a flaky one) must carry it.
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            eprintln!(
                "---- last {} lines of {} ----\n{}",
                tail.len(),
                self.log.display(),
                tail.join("\n")
            );
        }
    }
}

/// Sends signal `name` to process `pid` with kill(1).
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Starts a filter replica process with a 1 s batch interval.
pub fn spawn_filter(
    kafka: &KafkaSettings,
    topics: &Topics,
    group: &str,
    rules: &Path,
    replica: &str,
    log_dir: &Path,
) -> ServiceProcess {
    let env = [
        ("FILTER__GROUP", group.to_string()),
        ("FILTER__BATCH_INTERVAL_MS", "1000".to_string()),
    ];
    let args = ["--rules", rules.to_str().unwrap(), "--replica-id", replica];
    ServiceProcess::spawn("filter", kafka, topics, &env, &args, log_dir, replica)
}
