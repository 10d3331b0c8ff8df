//! TLS and SASL against real endpoints: stunnel (a real TLS server) in front
//! of a local Tansu broker that advertises the TLS port, and Tansu brokers
//! that require SASL. The services run as real processes (the release
//! binaries), and what they wrote is read back through the shared client
//! builder with the same security settings. A setup mistake (untrusted
//! certificate, missing client certificate, wrong password or mechanism,
//! the wrong security protocol for the port) stops a service at start with
//! exit code 2 and one message naming the cause, within 15 s.
//!
//! What can and cannot be proven here is in docs/kafka-security.md.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use weibostream_shared::Topics;
use weibostream_shared::kafka::KafkaSettings;
use weibostream_tests::pipeline::{
    assert_output_equals, oracle, wait_for_assignments, write_rules,
};
use weibostream_tests::process::ServiceProcess;
use weibostream_tests::security::{CLIENT_KEY_PASSWORD, ScramBroker, ScramUser, TlsBroker};
use weibostream_tests::{Broker, free_port, read_topic, unique, unique_topics};

/// The longest a service may take to give up on a broker it cannot use.
const FAIL_FAST: Duration = Duration::from_secs(15);

/// How a run of a service process ended.
struct Ended {
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

/// Runs `service` against `kafka` until it exits (killed and failed after
/// 60 s: a service must never hang on a broker it cannot use).
fn run_until_exit(
    service: &str,
    kafka: &KafkaSettings,
    env: &[(&str, String)],
    dir: &Path,
    name: &str,
) -> Ended {
    let rules = write_rules(dir, &[("ccb-rise", "建设银行 AND 涨")]);
    let args: Vec<&str> = match service {
        "collector" => vec!["--synthetic", "--count", "10"],
        "filter" => vec!["--rules", rules.to_str().unwrap()],
        _ => vec![],
    };
    let start = Instant::now();
    let mut process =
        ServiceProcess::spawn(service, kafka, &unique_topics(), env, &args, dir, name);
    let status = process.wait(Duration::from_secs(60));
    Ended {
        code: status.code(),
        stderr: std::fs::read_to_string(&process.log).unwrap(),
        took: start.elapsed(),
    }
}

/// Each of `services` stops with exit code 2 within [`FAIL_FAST`], and its
/// stderr has exactly one `kafka:` message, containing every `expected`
/// piece, and nothing from librdkafka's retries.
fn assert_stops(
    services: &[&str],
    kafka: &KafkaSettings,
    env: &[(&str, String)],
    expected: &[&str],
) {
    let dir = tempfile::tempdir().unwrap();
    for service in services {
        let ended = run_until_exit(service, kafka, env, dir.path(), &unique(service));
        let stderr = &ended.stderr;
        println!("{service} ({:?}): {}", ended.took, stderr.trim_end());
        assert_eq!(ended.code, Some(2), "{service}: {stderr}");
        let messages: Vec<&str> = stderr.lines().filter(|l| l.contains("kafka: ")).collect();
        assert_eq!(messages.len(), 1, "{service}: one message: {stderr}");
        assert!(
            messages[0].starts_with(&format!("{service}: kafka: ")),
            "{service}: {stderr}"
        );
        for piece in expected {
            assert!(
                messages[0].contains(piece),
                "{service}: no {piece:?} in {stderr}"
            );
        }
        assert!(
            !stderr.contains("librdkafka"),
            "{service}: librdkafka's own logs leaked: {stderr}"
        );
        assert!(
            ended.took < FAIL_FAST,
            "{service} took {:?} to give up",
            ended.took
        );
    }
}

/// `--synthetic --count N` through a collector process; returns its log.
fn publish(kafka: &KafkaSettings, topics: &Topics, env: &[(&str, String)], count: u64, dir: &Path) {
    let count = count.to_string();
    let args = [
        "--synthetic",
        "--count",
        &count,
        "--rate",
        "0",
        "--seed",
        "3",
    ];
    let mut collector = ServiceProcess::spawn(
        "collector",
        kafka,
        topics,
        env,
        &args,
        dir,
        &unique("collector"),
    );
    let status = collector.wait(Duration::from_secs(60));
    assert!(
        status.success(),
        "collector: {status}: {}",
        std::fs::read_to_string(&collector.log).unwrap()
    );
}

// ---------------------------------------------------------------- TLS

/// The whole pipeline over TLS with a CA bundle: collector, three filter
/// replicas and the sink as processes, every connection through stunnel;
/// the output equals the oracle (read back over TLS) with no duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_with_a_ca_bundle_carries_the_whole_pipeline() {
    let tls = TlsBroker::start(false);
    let kafka = tls.kafka(false);
    let topics = unique_topics();
    let dir = tls.dir.path();
    let group = unique("filter");
    let rules = write_rules(dir, &[("ccb-rise", "建设银行 AND 涨")]);
    let sink_env = [
        ("SINK__GROUP", unique("sink")),
        ("SINK__PRINT", "false".to_string()),
        ("SINK__GRACE_MS", "3000".to_string()),
        (
            "SINK__JSONL_PATH",
            dir.join("matched.jsonl").display().to_string(),
        ),
    ];
    let mut sink = ServiceProcess::spawn("sink", &kafka, &topics, &sink_env, &[], dir, "sink");
    let filter_env = [
        ("FILTER__GROUP", group.clone()),
        ("FILTER__BATCH_INTERVAL_MS", "1000".to_string()),
    ];
    let mut filters: Vec<ServiceProcess> = ["r0", "r1", "r2"]
        .iter()
        .map(|replica| {
            let args = ["--rules", rules.to_str().unwrap(), "--replica-id", replica];
            ServiceProcess::spawn("filter", &kafka, &topics, &filter_env, &args, dir, replica)
        })
        .collect();
    wait_for_assignments(
        &kafka,
        &topics.reports,
        &["r0", "r1", "r2"],
        Duration::from_secs(60),
    )
    .await;
    publish(&kafka, &topics, &[], 3000, dir);
    let expected = oracle(&kafka, &topics.raw, 3000).await;
    assert!(expected.len() > 10, "too few matching posts to tell");
    assert_output_equals(&dir.join("matched.jsonl"), &expected).await;
    sink.signal("TERM");
    assert!(sink.wait(Duration::from_secs(20)).success());
    for filter in &mut filters {
        filter.signal("TERM");
        assert!(filter.wait(Duration::from_secs(20)).success());
    }
    // Every byte went through stunnel: the broker's own port was never
    // given to the services, and it advertises only the TLS port.
    let log = tls.stunnel.log_text();
    assert!(log.contains("connected remote server"), "{log}");
}

/// Mutual TLS: stunnel requires a client certificate signed by the CA. A
/// collector process with the certificate and its encrypted key (password
/// from `kafka.ssl_key_password_env`) publishes; the posts are read back
/// with the same certificate through the shared client builder.
#[test]
fn mutual_tls_with_an_encrypted_client_key_produces_and_consumes() {
    let tls = TlsBroker::start(true);
    let topics = unique_topics();
    let mut kafka = tls.kafka(true);
    kafka.ssl_key_location = Some(tls.certs.client_key_encrypted.clone());
    kafka.ssl_key_password_env = Some("WEIBOSTREAM_TEST_KEY_PASSWORD".into());
    let env = [(
        "WEIBOSTREAM_TEST_KEY_PASSWORD",
        CLIENT_KEY_PASSWORD.to_string(),
    )];
    publish(&kafka, &topics, &env, 500, tls.dir.path());
    let read = read_topic(&tls.kafka(true), &topics.raw, 500, Duration::from_secs(30));
    assert_eq!(read.len(), 500);
    let log = tls.stunnel.log_text();
    assert!(
        log.contains("Certificate accepted at depth=0: CN=weibostream client"),
        "stunnel did not check the client certificate: {log}"
    );
}

/// A broker certificate from a CA the client does not trust stops every
/// service.
#[test]
fn an_untrusted_broker_certificate_stops_every_service_with_exit_2() {
    let tls = TlsBroker::start(false);
    let mut kafka = tls.kafka(false);
    kafka.ssl_ca_location = Some(tls.certs.other_ca.clone());
    let ca = format!("kafka.ssl_ca_location={}", tls.certs.other_ca.display());
    let expected = [
        &format!("TLS handshake with {} failed", tls.stunnel.address),
        "certificate verify failed",
        ca.as_str(),
    ];
    assert_stops(&["collector", "filter", "sink"], &kafka, &[], &expected);
}

/// Mutual TLS without a client certificate, and with one from another CA.
#[test]
fn a_missing_or_foreign_client_certificate_stops_the_service_with_exit_2() {
    let tls = TlsBroker::start(true);
    assert_stops(
        &["collector"],
        &tls.kafka(false),
        &[],
        &[
            "TLS handshake with",
            "the broker may require a client certificate",
            "kafka.ssl_certificate_location",
        ],
    );
    let mut kafka = tls.kafka(true);
    kafka.ssl_certificate_location = Some(tls.certs.other_client_cert.clone());
    kafka.ssl_key_location = Some(tls.certs.other_client_key.clone());
    assert_stops(
        &["sink"],
        &kafka,
        &[],
        &[
            "TLS handshake with",
            "did not accept the client certificate",
        ],
    );
}

/// `ssl` against the broker's plaintext port, and `plaintext` against the
/// TLS port.
#[test]
fn the_wrong_security_protocol_for_the_port_stops_the_service_with_exit_2() {
    let tls = TlsBroker::start(false);
    let mut kafka = tls.kafka(false);
    kafka.brokers = tls.broker.address.clone();
    assert_stops(
        &["filter"],
        &kafka,
        &[],
        &["is it a plaintext listener?", "kafka.security_protocol=ssl"],
    );
    let kafka = KafkaSettings {
        brokers: tls.stunnel.address.clone(),
        startup_timeout_ms: 20_000,
        ..KafkaSettings::default()
    };
    assert_stops(
        &["collector"],
        &kafka,
        &[],
        &["is it a TLS listener?", "kafka.security_protocol=plaintext"],
    );
}

/// A CA file that does not exist is named.
#[test]
fn a_missing_ca_file_stops_the_service_with_exit_2() {
    let kafka = KafkaSettings {
        brokers: format!("127.0.0.1:{}", free_port()),
        security_protocol: "ssl".into(),
        ssl_ca_location: Some("/nonexistent/ca.pem".into()),
        ..KafkaSettings::default()
    };
    assert_stops(
        &["sink"],
        &kafka,
        &[],
        &[
            "cannot create a client",
            "kafka.ssl_ca_location",
            "/nonexistent/ca.pem",
        ],
    );
}

// ---------------------------------------------------------------- SASL

/// The prebuilt local broker with `--authentication` (memory storage, which
/// keeps no SCRAM users, and no PLAIN mechanism).
fn sasl_broker() -> Broker {
    let port = free_port();
    Broker::start_with(
        port,
        &format!("tcp://127.0.0.1:{port}"),
        &["--storage-engine", "memory://tansu/", "--authentication"],
    )
}

fn sasl(broker: &Broker, mechanism: &str, user: &str, password_env: &str) -> KafkaSettings {
    KafkaSettings {
        brokers: broker.address.clone(),
        security_protocol: "sasl_plaintext".into(),
        sasl_mechanism: Some(mechanism.into()),
        sasl_username: Some(user.into()),
        sasl_password_env: Some(password_env.into()),
        startup_timeout_ms: 20_000,
        ..KafkaSettings::default()
    }
}

const ALICE: ScramUser = ScramUser {
    name: "alice",
    password: "alice-secret",
    mechanism: "SCRAM-SHA-256",
};
const BOB: ScramUser = ScramUser {
    name: "bob",
    password: "bob-secret",
    mechanism: "SCRAM-SHA-512",
};

/// SCRAM-SHA-256 and SCRAM-SHA-512 against a broker that checks them: a
/// collector process logs in as alice (SHA-256, password from an
/// environment variable) and publishes; the posts are read back as bob
/// (SHA-512, password from a file) through the shared client builder.
#[test]
fn scram_sha_256_and_512_logins_produce_and_consume() {
    let scram = ScramBroker::start(&[ALICE, BOB], false);
    let topics = unique_topics();
    let env = [("WEIBOSTREAM_TEST_PASSWORD", ALICE.password.to_string())];
    publish(
        &scram.kafka(&ALICE, "WEIBOSTREAM_TEST_PASSWORD"),
        &topics,
        &env,
        500,
        scram.dir.path(),
    );
    let read = read_topic(
        &scram.kafka_with_file(&BOB),
        &topics.raw,
        500,
        Duration::from_secs(30),
    );
    assert_eq!(read.len(), 500);
}

/// SASL over TLS (`sasl_ssl`): stunnel in front of the SCRAM broker.
#[test]
fn sasl_ssl_with_scram_produces_and_consumes() {
    let scram = ScramBroker::start(&[BOB], true);
    let topics = unique_topics();
    let env = [("WEIBOSTREAM_TEST_PASSWORD", BOB.password.to_string())];
    let kafka = scram.kafka(&BOB, "WEIBOSTREAM_TEST_PASSWORD");
    assert_eq!(kafka.security_protocol, "sasl_ssl");
    publish(&kafka, &topics, &env, 500, scram.dir.path());
    let read = read_topic(
        &scram.kafka_with_file(&BOB),
        &topics.raw,
        500,
        Duration::from_secs(30),
    );
    assert_eq!(read.len(), 500);
    let log = scram.stunnel.as_ref().unwrap().log_text();
    assert!(log.contains("connected remote server"), "{log}");
}

/// A wrong password, and a user the broker does not know, with either
/// mechanism, stop every service and name the user and the mechanism.
#[test]
fn a_wrong_scram_password_or_user_stops_every_service_with_exit_2() {
    let scram = ScramBroker::start(&[ALICE, BOB], false);
    let env = [("WEIBOSTREAM_TEST_PASSWORD", "not-the-password".to_string())];
    for user in [&ALICE, &BOB] {
        let kafka = scram.kafka(user, "WEIBOSTREAM_TEST_PASSWORD");
        let expected = format!(
            "SASL authentication failed for user {} ({})",
            user.name, user.mechanism
        );
        assert_stops(
            &["collector", "filter", "sink"],
            &kafka,
            &env,
            &[&expected, "$WEIBOSTREAM_TEST_PASSWORD"],
        );
    }
    let mut kafka = scram.kafka(&ALICE, "WEIBOSTREAM_TEST_PASSWORD");
    kafka.sasl_username = Some("mallory".into());
    assert_stops(
        &["filter"],
        &kafka,
        &env,
        &["SASL authentication failed for user mallory (SCRAM-SHA-256)"],
    );
}

/// A mechanism the broker does not offer (this broker has no PLAIN).
#[test]
fn a_sasl_mechanism_the_broker_refuses_stops_the_service_with_exit_2() {
    let broker = sasl_broker();
    let env = [("WEIBOSTREAM_TEST_PASSWORD", "secret".to_string())];
    let kafka = sasl(&broker, "PLAIN", "alice", "WEIBOSTREAM_TEST_PASSWORD");
    assert_stops(
        &["filter"],
        &kafka,
        &env,
        &["did not accept mechanism PLAIN", "kafka.sasl_mechanism"],
    );
}

/// `plaintext` against a broker that requires SASL.
#[test]
fn plaintext_against_a_sasl_port_stops_the_service_with_exit_2() {
    let broker = sasl_broker();
    let kafka = KafkaSettings {
        brokers: broker.address.clone(),
        startup_timeout_ms: 20_000,
        ..KafkaSettings::default()
    };
    assert_stops(
        &["sink"],
        &kafka,
        &[],
        &[
            "may require SASL authentication",
            "kafka.security_protocol=plaintext",
        ],
    );
}

/// A password file that cannot be read is named, before any connection.
#[test]
fn an_unreadable_password_file_stops_the_service_with_exit_2() {
    let broker = sasl_broker();
    let mut kafka = sasl(&broker, "SCRAM-SHA-256", "alice", "UNUSED");
    kafka.sasl_password_env = None;
    kafka.sasl_password_file = Some("/nonexistent/password".into());
    assert_stops(
        &["collector"],
        &kafka,
        &[],
        &["cannot read the SASL password file /nonexistent/password"],
    );
}
