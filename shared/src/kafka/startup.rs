//! The start-up check every service runs before it builds its Kafka clients:
//! metadata requests until `kafka.startup_timeout_ms`, while librdkafka's
//! errors and log lines are read and classified. A setup mistake that
//! retrying cannot fix (a wrong password, an untrusted certificate, TLS
//! against a plaintext port or the reverse) stops the service at once with
//! one message naming the cause and the keys to check, where librdkafka
//! alone would retry forever; a broker that is only down or still starting
//! is waited for, as before.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::{BrokerUnreachable, KafkaSettings};

/// A Kafka connection problem at start that waiting will not fix: a wrong
/// password or mechanism, a certificate the other side does not trust, a
/// security protocol the broker's port does not speak, or a client that
/// cannot be created from the settings. A setup problem for the user:
/// exit code 2, like a config error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kafka: {message}")]
pub struct ConnectFailed {
    /// What went wrong and which keys to check.
    pub message: String,
}

/// How long the start-up client may take to set up one connection (TCP, TLS
/// and SASL) before librdkafka gives up on it (its own default is 30 s). A
/// TLS client on a plaintext port gets no answer to its handshake and would
/// otherwise wait that long each time.
const SETUP_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a cause that librdkafka only suspects (a connection closed at
/// the first request) must go on without any metadata arriving before the
/// service gives up on it.
const SUSPECT_GRACE: Duration = Duration::from_secs(2);

/// How many connections closed the same way make a suspicion: one can be a
/// broker restarting.
const REPEATS: usize = 3;

/// Something the start-up client reported: an error event or a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    /// The error code of an error event; `None` for a log line.
    pub code: Option<RDKafkaErrorCode>,
    /// librdkafka's text.
    pub text: String,
}

impl Seen {
    fn log(text: &str) -> Seen {
        Seen {
            code: None,
            text: text.to_string(),
        }
    }
}

/// Collects what the start-up client reports instead of logging it: the
/// service prints one message when it gives up, not librdkafka's retries.
#[derive(Default)]
struct StartupContext {
    seen: Mutex<Vec<Seen>>,
}

/// The most reports kept (librdkafka suppresses repeats for 30 s anyway).
const MAX_SEEN: usize = 1000;

impl StartupContext {
    fn push(&self, seen: Seen) {
        // Shown with RUST_LOG=librdkafka=debug; hidden otherwise, so a
        // failed start prints one message, not librdkafka's retries.
        tracing::debug!(target: "librdkafka", code = ?seen.code, "start-up: {}", seen.text);
        let mut all = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if all.len() < MAX_SEEN {
            all.push(seen);
        }
    }

    fn snapshot(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl ClientContext for StartupContext {
    fn log(&self, level: RDKafkaLogLevel, _fac: &str, message: &str) {
        if !matches!(level, RDKafkaLogLevel::Debug) {
            self.push(Seen::log(message));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.push(Seen {
            code: error.rdkafka_error_code(),
            text: reason.to_string(),
        });
    }
}

impl ConsumerContext for StartupContext {}

/// How sure a classification is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Retrying cannot help: stop now.
    Certain(ConnectFailed),
    /// librdkafka's own guess (e.g. a connection closed at the first
    /// request): stop if no metadata arrives within [`SUSPECT_GRACE`].
    Suspected(ConnectFailed),
}

/// Waits (bounded by `startup_timeout_ms`) until the broker answers a
/// metadata request. Stops early with [`ConnectFailed`] when what librdkafka
/// reports shows a cause that waiting cannot fix; gives up with
/// [`BrokerUnreachable`] at the deadline otherwise.
pub async fn wait_for_broker(settings: &KafkaSettings, service: &str) -> anyhow::Result<()> {
    if let (None, Some(path)) = (&settings.sasl_password_env, &settings.sasl_password_file)
        && let Err(error) = std::fs::read(path)
    {
        return Err(ConnectFailed {
            message: format!(
                "cannot read the SASL password file {} (kafka.sasl_password_file): {error}",
                path.display()
            ),
        }
        .into());
    }
    let mut config = settings.admin_config(service);
    config.set_log_level(RDKafkaLogLevel::Info);
    if !settings
        .librdkafka
        .contains_key("socket.connection.setup.timeout.ms")
    {
        let limit = Duration::from_millis(settings.startup_timeout_ms);
        let setup = SETUP_TIMEOUT.min(limit).max(Duration::from_secs(1));
        config.set(
            "socket.connection.setup.timeout.ms",
            setup.as_millis().to_string(),
        );
    }
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer<StartupContext> = config
            .create_with_context(StartupContext::default())
            .map_err(|error| creation_failed(&settings, &error))?;
        probe(&settings, &client)
    })
    .await
    .context("broker wait task")?
}

fn probe(settings: &KafkaSettings, client: &BaseConsumer<StartupContext>) -> anyhow::Result<()> {
    let limit = Duration::from_millis(settings.startup_timeout_ms);
    let start = Instant::now();
    let mut suspected_since: Option<Instant> = None;
    loop {
        let left = limit.saturating_sub(start.elapsed());
        let answer = client.fetch_metadata(None, left.min(Duration::from_millis(500)));
        if answer.is_ok() {
            return Ok(());
        }
        // Serves the error and log events queued meanwhile into the context.
        while client.poll(Duration::ZERO).is_some() {}
        let seen = client.context().snapshot();
        match classify(settings, &seen) {
            Some(Verdict::Certain(failure)) => return Err(failure.into()),
            Some(Verdict::Suspected(failure)) => {
                let since = *suspected_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= SUSPECT_GRACE {
                    return Err(failure.into());
                }
            }
            None => {}
        }
        if start.elapsed() >= limit {
            let reason = seen
                .iter()
                .rev()
                .find(|s| s.code != Some(RDKafkaErrorCode::AllBrokersDown))
                .map(|s| strip(&s.text))
                .or_else(|| answer.err().map(|e| e.to_string()))
                .unwrap_or_else(|| "no answer".into());
            return Err(BrokerUnreachable {
                brokers: settings.brokers.clone(),
                waited_ms: settings.startup_timeout_ms,
                reason,
            }
            .into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// librdkafka refused to create a client from the settings (e.g. a
/// certificate file that does not exist or does not parse).
fn creation_failed(settings: &KafkaSettings, error: &KafkaError) -> ConnectFailed {
    let text = match error {
        KafkaError::ClientCreation(text) => text.clone(),
        other => other.to_string(),
    };
    let mut message = format!("cannot create a client: {}", our_keys(&text));
    let files = tls_files(settings);
    if text.contains("ssl") && !files.is_empty() {
        message.push_str(&format!(" ({files})"));
    }
    ConnectFailed { message }
}

/// Names librdkafka's properties by this project's keys.
fn our_keys(text: &str) -> String {
    [
        ("ssl.ca.location", "kafka.ssl_ca_location"),
        ("ssl.certificate.location", "kafka.ssl_certificate_location"),
        ("ssl.key.location", "kafka.ssl_key_location"),
        ("ssl.key.password", "kafka.ssl_key_password_env"),
        ("sasl.mechanisms", "kafka.sasl_mechanism"),
        ("security.protocol", "kafka.security_protocol"),
    ]
    .iter()
    .fold(text.to_string(), |text, (theirs, ours)| {
        text.replace(theirs, ours)
    })
}

/// `kafka.ssl_ca_location=...` and the client certificate keys, as set.
fn tls_files(settings: &KafkaSettings) -> String {
    [
        ("kafka.ssl_ca_location", &settings.ssl_ca_location),
        (
            "kafka.ssl_certificate_location",
            &settings.ssl_certificate_location,
        ),
        ("kafka.ssl_key_location", &settings.ssl_key_location),
    ]
    .iter()
    .filter_map(|(key, path)| path.as_ref().map(|p| format!("{key}={}", p.display())))
    .collect::<Vec<_>>()
    .join(", ")
}

/// Splits librdkafka's `ssl://host:port/bootstrap: message` (or
/// `host:port/1: message` for a plaintext broker known by id) into the
/// broker's `host:port` and the message.
fn split_broker(text: &str) -> (Option<&str>, &str) {
    // A log line starts with the thread's name: `[thrd:ssl://host:port/bootstrap]: `.
    let text = match text
        .strip_prefix("[thrd:")
        .and_then(|t| t.split_once("]: "))
    {
        Some((_, rest)) => rest,
        None => text,
    };
    if let Some(colon) = text.find(": ") {
        let prefix = &text[..colon];
        if !prefix.contains(' ')
            && let Some(slash) = prefix.rfind('/')
        {
            let name = &prefix[..slash];
            let name = name.rsplit("://").next().unwrap_or(name);
            if name.contains(':') {
                return (Some(name), &text[colon + 2..]);
            }
        }
    }
    (None, text)
}

/// librdkafka's text without the broker's name in front and the
/// `(after 12ms in state X)` at the end.
fn strip(text: &str) -> String {
    let (_, text) = split_broker(text);
    let text = match text.rfind(" (after ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => text,
    };
    text.trim().to_string()
}

/// The broker a librdkafka message is about (`127.0.0.1:9093`), if it says.
fn broker_of(text: &str) -> Option<String> {
    split_broker(text).0.map(str::to_string)
}

/// The `N` of librdkafka's `N identical error(s) suppressed`, else 0.
fn suppressed(text: &str) -> usize {
    text.find(" identical error(s) suppressed")
        .and_then(|end| {
            let start = text[..end].rfind(' ')? + 1;
            text[start..end].parse().ok()
        })
        .unwrap_or(0)
}

/// What the reports show, if they show a cause that waiting cannot fix.
pub(crate) fn classify(settings: &KafkaSettings, seen: &[Seen]) -> Option<Verdict> {
    let protocol = settings.security_protocol.to_ascii_lowercase();
    let tls = protocol.ends_with("ssl");
    let sasl = protocol.starts_with("sasl");
    let at = |s: &Seen| {
        broker_of(&s.text)
            .map(|b| format!(" with {b}"))
            .unwrap_or_default()
    };

    // A certificate the client does not trust.
    if let Some(s) = seen
        .iter()
        .find(|s| s.text.contains("certificate verify failed"))
    {
        let ca = match &settings.ssl_ca_location {
            Some(path) => format!("kafka.ssl_ca_location={}", path.display()),
            None => "kafka.ssl_ca_location is not set: the system's CA certificates were used"
                .to_string(),
        };
        return Some(Verdict::Certain(ConnectFailed {
            message: format!(
                "TLS handshake{} failed: certificate verify failed: the broker's certificate is not trusted or does not name the broker ({ca})",
                at(s)
            ),
        }));
    }

    // The broker's TLS side refused the handshake (typically our client
    // certificate, or none where one is required), or any other TLS error
    // (OpenSSL's errors read `error:0A00045C:SSL routines::...`).
    if let Some(s) = seen.iter().find(|s| {
        s.code == Some(RDKafkaErrorCode::SSL)
            || s.text.contains("SSL handshake failed")
            || s.text.contains("SSL transport error")
            || s.text.contains("SSL routines::")
    }) {
        let detail = strip(&s.text);
        let detail = detail
            .strip_prefix("SSL handshake failed: ")
            .unwrap_or(&detail);
        let about_cert = ["certificate", "unknown ca", "bad cert"]
            .iter()
            .any(|word| detail.contains(word));
        let hint = match (&settings.ssl_certificate_location, about_cert) {
            (None, true) => {
                "; the broker may require a client certificate: set kafka.ssl_certificate_location and kafka.ssl_key_location".to_string()
            }
            (Some(_), true) => format!(
                "; the broker did not accept the client certificate ({})",
                tls_files(settings)
            ),
            _ if !tls_files(settings).is_empty() => format!(" ({})", tls_files(settings)),
            _ => String::new(),
        };
        if !detail.contains("Disconnected") || about_cert {
            return Some(Verdict::Certain(ConnectFailed {
                message: format!("TLS handshake{} failed: {detail}{hint}", at(s)),
            }));
        }
    }

    // A TLS client on a port that does not answer TLS (a plaintext port):
    // the handshake gets no answer, or one that is not TLS.
    if tls
        && let Some(s) = seen.iter().find(|s| {
            (s.text.contains("timed out") && s.text.contains("SSL_HANDSHAKE"))
                || s.text.contains("wrong version number")
                || s.text.contains("packet length too long")
                || (s.text.contains("Disconnected") && s.text.contains("SSL_HANDSHAKE"))
        })
    {
        return Some(Verdict::Certain(ConnectFailed {
            message: format!(
                "TLS handshake{} failed: {}: the broker's port does not speak TLS; is it a plaintext listener? (kafka.security_protocol={protocol})",
                at(s),
                strip(&s.text)
            ),
        }));
    }

    // SASL: a mechanism the broker does not offer.
    if let Some(s) = seen
        .iter()
        .find(|s| s.text.contains("mechanism handshake failed"))
    {
        let mechanism = settings.sasl_mechanism.as_deref().unwrap_or("?");
        return Some(Verdict::Certain(ConnectFailed {
            message: format!(
                "SASL handshake{} failed: the broker did not accept mechanism {mechanism} (kafka.sasl_mechanism): {}",
                at(s),
                strip(&s.text)
            ),
        }));
    }

    // SASL: user or password refused.
    if let Some(s) = seen.iter().find(|s| {
        s.code == Some(RDKafkaErrorCode::Authentication)
            || s.text.contains("SASL authentication error")
            || s.text.contains("authentication failed")
    }) {
        let user = settings.sasl_username.as_deref().unwrap_or("?");
        let mechanism = settings.sasl_mechanism.as_deref().unwrap_or("?");
        let password = match (&settings.sasl_password_env, &settings.sasl_password_file) {
            (Some(var), _) => format!("the password in ${var} (kafka.sasl_password_env)"),
            (None, Some(path)) => format!(
                "the password in {} (kafka.sasl_password_file)",
                path.display()
            ),
            (None, None) => "the password".to_string(),
        };
        return Some(Verdict::Certain(ConnectFailed {
            message: format!(
                "SASL authentication failed for user {user} ({mechanism}){}: {}; check kafka.sasl_username and {password}",
                at(s),
                strip(&s.text)
            ),
        }));
    }

    // A plaintext client on a TLS port: the TLS server closes every
    // connection at the first request (ApiVersion), which it cannot read.
    let closed_in = |state: &str| {
        let hinted: Vec<&Seen> = seen
            .iter()
            .filter(|s| s.text.contains("Disconnected") && s.text.contains(state))
            .collect();
        // librdkafka reports a repeated error again only with a count of
        // the repeats it held back: `..., 3 identical error(s) suppressed)`.
        let times: usize = hinted.iter().map(|s| 1 + suppressed(&s.text)).sum();
        (times >= REPEATS).then(|| hinted[0])
    };
    if !tls {
        let hint = seen
            .iter()
            .find(|s| s.text.contains("connecting to a SSL listener?"))
            .or_else(|| closed_in("in state APIVERSION_QUERY"));
        if let Some(s) = hint {
            return Some(Verdict::Suspected(ConnectFailed {
                message: format!(
                    "the broker{} closes every connection at the first request (ApiVersion): is it a TLS listener? (kafka.security_protocol={protocol}; use ssl or sasl_ssl for TLS)",
                    at(s).replace(" with", " at")
                ),
            }));
        }
    }

    // A client without SASL on a port that requires it: the broker answers
    // the first request, then closes the connection.
    if !sasl {
        let hint = seen
            .iter()
            .find(|s| s.text.contains("broker might require SASL authentication"))
            .or_else(|| closed_in("in state UP)"));
        if let Some(s) = hint {
            return Some(Verdict::Suspected(ConnectFailed {
                message: format!(
                    "the broker{} closes every connection right after it is set up: it may require SASL authentication (kafka.security_protocol={protocol}; use sasl_plaintext or sasl_ssl with kafka.sasl_mechanism)",
                    at(s).replace(" with", " at")
                ),
            }));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &str) -> Seen {
        Seen::log(text)
    }

    fn message(verdict: Option<Verdict>) -> (bool, String) {
        match verdict {
            Some(Verdict::Certain(f)) => (true, f.to_string()),
            Some(Verdict::Suspected(f)) => (false, f.to_string()),
            None => panic!("not classified"),
        }
    }

    #[test]
    fn an_untrusted_certificate_names_the_ca_key() {
        let settings = KafkaSettings {
            security_protocol: "ssl".into(),
            ssl_ca_location: Some("/etc/ca.pem".into()),
            ..KafkaSettings::default()
        };
        let seen = [
            Seen {
                code: Some(RDKafkaErrorCode::SSL),
                text: "ssl://127.0.0.1:19096/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root CA certificates are installed (install ca-certificates package) (after 28ms in state SSL_HANDSHAKE)".into(),
            },
        ];
        let (certain, text) = message(classify(&settings, &seen));
        assert!(certain);
        assert_eq!(
            text,
            "kafka: TLS handshake with 127.0.0.1:19096 failed: certificate verify failed: the broker's certificate is not trusted or does not name the broker (kafka.ssl_ca_location=/etc/ca.pem)"
        );
    }

    #[test]
    fn a_refused_scram_login_names_the_user_mechanism_and_password_source() {
        let settings = KafkaSettings {
            security_protocol: "sasl_plaintext".into(),
            sasl_mechanism: Some("SCRAM-SHA-256".into()),
            sasl_username: Some("alice".into()),
            sasl_password_env: Some("KAFKA_PASSWORD".into()),
            ..KafkaSettings::default()
        };
        let seen = [log(
            "sasl_plaintext://127.0.0.1:19094/bootstrap: SASL authentication error: SASL SCRAM authentication failed: broker responded with unknown-user (after 37ms in state AUTH_REQ)",
        )];
        let (certain, text) = message(classify(&settings, &seen));
        assert!(certain);
        assert_eq!(
            text,
            "kafka: SASL authentication failed for user alice (SCRAM-SHA-256) with 127.0.0.1:19094: SASL authentication error: SASL SCRAM authentication failed: broker responded with unknown-user; check kafka.sasl_username and the password in $KAFKA_PASSWORD (kafka.sasl_password_env)"
        );
    }

    #[test]
    fn a_mechanism_the_broker_refuses_is_named() {
        let settings = KafkaSettings {
            security_protocol: "sasl_plaintext".into(),
            sasl_mechanism: Some("PLAIN".into()),
            ..KafkaSettings::default()
        };
        let seen = [log(
            "sasl_plaintext://127.0.0.1:19094/bootstrap: SASL PLAIN mechanism handshake failed: Local: Broker transport failure: broker's supported mechanisms: (n/a) (after 0ms in state DOWN)",
        )];
        let (certain, text) = message(classify(&settings, &seen));
        assert!(certain);
        assert!(text.contains("did not accept mechanism PLAIN"), "{text}");
    }

    #[test]
    fn protocol_mismatches_are_suspected_or_certain() {
        let plaintext = KafkaSettings::default();
        let seen = [log(
            "127.0.0.1:19096/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?) or broker version is < 0.10 (see api.version.request) (after 1ms in state APIVERSION_QUERY)",
        )];
        let (certain, text) = message(classify(&plaintext, &seen));
        assert!(!certain);
        assert!(text.contains("is it a TLS listener?"), "{text}");
        assert!(text.contains("kafka.security_protocol=plaintext"), "{text}");

        let seen = [log(
            "127.0.0.1:19094/bootstrap: Disconnected: verify that security.protocol is correctly configured, broker might require SASL authentication (after 1ms in state UP)",
        )];
        let (certain, text) = message(classify(&plaintext, &seen));
        assert!(!certain);
        assert!(text.contains("may require SASL authentication"), "{text}");

        let ssl = KafkaSettings {
            security_protocol: "ssl".into(),
            ..KafkaSettings::default()
        };
        let seen = [log(
            "ssl://127.0.0.1:19095/bootstrap: Connection setup timed out in state SSL_HANDSHAKE (after 5003ms in state SSL_HANDSHAKE)",
        )];
        let (certain, text) = message(classify(&ssl, &seen));
        assert!(certain);
        assert!(text.contains("is it a plaintext listener?"), "{text}");
    }

    #[test]
    fn repeated_closes_in_one_state_are_suspected_and_log_prefixes_go() {
        let closed = |state: &str| {
            (0..3)
                .map(|n| {
                    log(&format!(
                        "[thrd:127.0.0.1:19096/bootstrap]: 127.0.0.1:19096/bootstrap: Disconnected: connection reset by peer (after {n}ms in state {state})"
                    ))
                })
                .collect::<Vec<_>>()
        };
        let plaintext = KafkaSettings::default();
        let (certain, text) = message(classify(&plaintext, &closed("APIVERSION_QUERY")));
        assert!(!certain);
        assert_eq!(
            text,
            "kafka: the broker at 127.0.0.1:19096 closes every connection at the first request (ApiVersion): is it a TLS listener? (kafka.security_protocol=plaintext; use ssl or sasl_ssl for TLS)"
        );
        let (certain, text) = message(classify(&plaintext, &closed("UP")));
        assert!(!certain);
        assert!(text.contains("may require SASL authentication"), "{text}");
        // Twice could be a broker restarting.
        assert_eq!(classify(&plaintext, &closed("UP")[..2]), None);
        // librdkafka holds back repeats and counts them in the next report.
        let seen = [
            log(
                "[thrd:127.0.0.1:19096/bootstrap]: 127.0.0.1:19096/bootstrap: Disconnected: connection reset by peer (after 24ms in state APIVERSION_QUERY)",
            ),
            log(
                "[thrd:127.0.0.1:19096/bootstrap]: 127.0.0.1:19096/bootstrap: Disconnected: connection reset by peer (after 12ms in state APIVERSION_QUERY, 1 identical error(s) suppressed)",
            ),
        ];
        let (certain, text) = message(classify(&plaintext, &seen));
        assert!(!certain);
        assert!(text.contains("is it a TLS listener?"), "{text}");
    }

    #[test]
    fn a_client_certificate_the_broker_requires_is_asked_for() {
        let ssl = KafkaSettings {
            security_protocol: "ssl".into(),
            ..KafkaSettings::default()
        };
        let seen = [log(
            "[thrd:ssl://127.0.0.1:19097/bootstrap]: ssl://127.0.0.1:19097/bootstrap: Receive failed: error:0A00045C:SSL routines::tlsv13 alert certificate required: SSL alert number 116 (after 0ms in state APIVERSION_QUERY)",
        )];
        let (certain, text) = message(classify(&ssl, &seen));
        assert!(certain);
        assert_eq!(
            text,
            "kafka: TLS handshake with 127.0.0.1:19097 failed: Receive failed: error:0A00045C:SSL routines::tlsv13 alert certificate required: SSL alert number 116; the broker may require a client certificate: set kafka.ssl_certificate_location and kafka.ssl_key_location"
        );
    }

    #[test]
    fn a_refused_connection_is_not_classified() {
        let seen = [
            log(
                "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)",
            ),
            Seen {
                code: Some(RDKafkaErrorCode::AllBrokersDown),
                text: "1/1 brokers are down".into(),
            },
        ];
        assert_eq!(classify(&KafkaSettings::default(), &seen), None);
    }

    #[test]
    fn strip_keeps_librdkafkas_message_only() {
        assert_eq!(
            strip(
                "ssl://127.0.0.1:1/bootstrap: SSL handshake failed: x (after 3ms in state SSL_HANDSHAKE)"
            ),
            "SSL handshake failed: x"
        );
        assert_eq!(strip("1/1 brokers are down"), "1/1 brokers are down");
        assert_eq!(
            broker_of("127.0.0.1:9092/bootstrap: Disconnected").as_deref(),
            Some("127.0.0.1:9092")
        );
        assert_eq!(
            strip("127.0.0.1:9092/1: Disconnected (after 1ms in state UP)"),
            "Disconnected"
        );
        assert_eq!(
            broker_of("sasl_ssl://broker-1:9093/1: x").as_deref(),
            Some("broker-1:9093")
        );
    }
}
