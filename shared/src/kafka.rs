//! The one Kafka client factory: typed settings plus a raw librdkafka
//! passthrough, used by every service for producers, consumers and admin.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::ToBytes;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use serde::{Deserialize, Serialize};

use crate::config::InvalidKey;

pub mod acks;
mod startup;

pub use startup::{ConnectFailed, wait_for_broker};

/// Kafka client settings (config section `[kafka]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// Bootstrap brokers, comma-separated `host:port` (env `KAFKA_BROKERS` overrides).
    pub brokers: String,
    /// `client.id` prefix; the service name is appended.
    pub client_id: String,
    /// Turns on the workarounds for the local test broker's faults (Tansu:
    /// the gap guard, the stall check, the re-subscribe) and its tuning as
    /// the defaults of `session_timeout_ms`, `heartbeat_interval_ms` and
    /// `fetch_wait_max_ms` (see `weibostream_shared::quirks`). Off: for
    /// Redpanda and Kafka. Env `KAFKA_LOCAL_BROKER_QUIRKS=true` turns it on
    /// for every service.
    pub local_broker_quirks: bool,
    /// Consumer group session timeout: how long the group waits for a member
    /// that stopped heartbeating before it hands its partitions to others.
    /// librdkafka's and Kafka's default, 45 s; the local broker's tuning: 6 s
    /// (it makes every join wait half of it).
    pub session_timeout_ms: u32,
    /// Consumer heartbeat interval; at most a third of the session timeout
    /// (librdkafka's default, 3 s; the local broker's tuning: 1 s).
    pub heartbeat_interval_ms: u32,
    /// Consumer `max.poll.interval.ms`, which is also the group's rebalance
    /// timeout: how long a rebalance waits for members that do not rejoin
    /// (after a broker stall, the old member of a restarted session).
    pub max_poll_interval_ms: u32,
    /// Consumer `fetch.wait.max.ms`: the longest a fetch waits for new
    /// records. Redpanda and Kafka answer as soon as records arrive, so it
    /// only spaces out idle fetches: librdkafka's default, 500 ms. The local
    /// broker holds every fetch about this long even when records are
    /// waiting, so its tuning is 20 ms (3.6 times the read speed of 500 ms).
    pub fetch_wait_max_ms: u32,
    /// Consumer `queued.max.messages.kbytes`: how much a consumer prefetches
    /// ahead of processing. librdkafka's 64 MiB was most of a filter's peak
    /// memory (about 170 MB); 16 MiB with the fetch sizes below holds it near
    /// 100 MB at the same speed (see the README's benchmark).
    pub consumer_queue_max_kb: u32,
    /// Consumer `fetch.max.bytes` in KiB: the most one fetch response may
    /// carry. librdkafka's 50 MiB let one response from the local broker
    /// overshoot the prefetch queue several times over.
    pub fetch_max_kb: u32,
    /// Consumer `max.partition.fetch.bytes` in KiB: the most one partition
    /// contributes to a fetch response (librdkafka's default, 1 MiB).
    pub partition_fetch_max_kb: u32,
    /// Consumer `fetch.queue.backoff.ms`: how long librdkafka stops fetching
    /// a partition once the prefetch queue is full. Its default (1000 ms)
    /// left a filter idle for a second after every full queue, so it read
    /// at 0.3 times the speed of a consumer that keeps up; 10 ms resumes
    /// fetching as soon as processing has made room.
    pub fetch_queue_backoff_ms: u32,
    /// `topic.metadata.refresh.interval.ms` of consumers: partitions added
    /// to a topic are read within this long, and a consumer whose first
    /// metadata lacks its topic (just created, not yet known to every broker;
    /// the local broker can list it without partitions) joins its group at
    /// the next refresh. librdkafka refreshes every 5 minutes; a metadata
    /// request every 5 s is cheap on any broker.
    pub metadata_refresh_ms: u32,
    /// How long a service waits for the broker at start before giving up.
    pub startup_timeout_ms: u64,
    /// Producer compression: `lz4`, `zstd`, `snappy`, `gzip` or `none`.
    pub compression: String,
    /// Producer `linger.ms`: how long to wait to fill a batch.
    pub linger_ms: u32,
    /// Producer `queue.buffering.max.kbytes`: the most a producer holds
    /// before the broker acknowledged it; when it is full the service waits
    /// (backpressure) instead of buffering more (librdkafka's default is
    /// 1 GiB). On the local broker 16 MiB held a filter near 100 MB peak RSS
    /// but cut its speed and the collector's by 15-30 %; 64 MiB does not.
    pub producer_queue_max_kb: u32,
    /// Static group membership (`group.instance.id`): a stable id per
    /// replica (e.g. its pod name) lets it restart within the session timeout
    /// without a rebalance. Unset: dynamic membership.
    pub group_instance_id: Option<String>,
    /// `security.protocol`: `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub security_protocol: String,
    /// SASL mechanism with a `sasl_*` protocol: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub sasl_mechanism: Option<String>,
    /// SASL user name.
    pub sasl_username: Option<String>,
    /// Name of the environment variable holding the SASL password (secrets
    /// never go in config files; the value is never logged).
    pub sasl_password_env: Option<String>,
    /// File holding the SASL password (e.g. a mounted secret).
    pub sasl_password_file: Option<PathBuf>,
    /// PEM file of the CA certificates that verify the brokers (TLS).
    pub ssl_ca_location: Option<PathBuf>,
    /// PEM client certificate for mutual TLS.
    pub ssl_certificate_location: Option<PathBuf>,
    /// PEM client key for mutual TLS.
    pub ssl_key_location: Option<PathBuf>,
    /// Name of the environment variable holding the client key's password.
    pub ssl_key_password_env: Option<String>,
    /// Raw librdkafka properties applied last (no secrets: use the `*_env`/`*_file` keys).
    pub librdkafka: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: "127.0.0.1:9092".into(),
            client_id: "weibostream".into(),
            local_broker_quirks: false,
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3_000,
            max_poll_interval_ms: 300_000,
            startup_timeout_ms: 30_000,
            compression: "lz4".into(),
            linger_ms: 5,
            producer_queue_max_kb: 65_536,
            fetch_wait_max_ms: 500,
            consumer_queue_max_kb: 16_384,
            fetch_max_kb: 4_096,
            partition_fetch_max_kb: 1_024,
            fetch_queue_backoff_ms: 10,
            metadata_refresh_ms: 5_000,
            group_instance_id: None,
            security_protocol: "plaintext".into(),
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password_env: None,
            sasl_password_file: None,
            ssl_ca_location: None,
            ssl_certificate_location: None,
            ssl_key_location: None,
            ssl_key_password_env: None,
            librdkafka: BTreeMap::new(),
        }
    }
}

impl KafkaSettings {
    /// These settings with `local_broker_quirks` on and the local broker's
    /// tuning, as the config loader gives them with the switch on and no
    /// tuned key set (for settings built in code: tests, the benchmark).
    pub fn with_local_broker_quirks(self) -> KafkaSettings {
        let tuning = crate::quirks::LOCAL_BROKER_TUNING;
        KafkaSettings {
            local_broker_quirks: true,
            session_timeout_ms: tuning.session_timeout_ms,
            heartbeat_interval_ms: tuning.heartbeat_interval_ms,
            fetch_wait_max_ms: tuning.fetch_wait_max_ms,
            ..self
        }
    }

    /// Checks the settings without any I/O; errors name the key.
    pub fn validate(&self) -> Result<(), InvalidKey> {
        if self.brokers.split(',').any(|b| b.trim().is_empty()) {
            return Err(InvalidKey::new(
                "kafka.brokers",
                format!("{:?} is not a comma-separated host:port list", self.brokers),
            ));
        }
        if !matches!(
            self.compression.as_str(),
            "lz4" | "zstd" | "snappy" | "gzip" | "none"
        ) {
            return Err(InvalidKey::new(
                "kafka.compression",
                format!(
                    "{:?} is not one of lz4, zstd, snappy, gzip, none",
                    self.compression
                ),
            ));
        }
        if self.heartbeat_interval_ms.saturating_mul(3) > self.session_timeout_ms {
            return Err(InvalidKey::new(
                "kafka.heartbeat_interval_ms",
                format!(
                    "{} must be at most a third of kafka.session_timeout_ms ({})",
                    self.heartbeat_interval_ms, self.session_timeout_ms
                ),
            ));
        }
        for (key, value, min, max) in [
            (
                "consumer_queue_max_kb",
                self.consumer_queue_max_kb,
                1,
                2_097_151,
            ),
            ("fetch_max_kb", self.fetch_max_kb, 1_024, 2_097_151),
            (
                "producer_queue_max_kb",
                self.producer_queue_max_kb,
                1_024,
                2_097_151,
            ),
            (
                "partition_fetch_max_kb",
                self.partition_fetch_max_kb,
                1,
                2_097_151,
            ),
            (
                "fetch_queue_backoff_ms",
                self.fetch_queue_backoff_ms,
                0,
                300_000,
            ),
            (
                "metadata_refresh_ms",
                self.metadata_refresh_ms,
                1_000,
                3_600_000,
            ),
        ] {
            if !(min..=max).contains(&value) {
                return Err(InvalidKey::new(
                    format!("kafka.{key}"),
                    format!("{value} must be between {min} and {max}"),
                ));
            }
        }
        if self.fetch_wait_max_ms > 300_000 {
            return Err(InvalidKey::new(
                "kafka.fetch_wait_max_ms",
                format!("{} must be at most 300000", self.fetch_wait_max_ms),
            ));
        }
        if self.max_poll_interval_ms < self.session_timeout_ms {
            return Err(InvalidKey::new(
                "kafka.max_poll_interval_ms",
                format!(
                    "{} must be at least kafka.session_timeout_ms ({})",
                    self.max_poll_interval_ms, self.session_timeout_ms
                ),
            ));
        }
        self.validate_security()?;
        if self.startup_timeout_ms == 0 {
            return Err(InvalidKey::new(
                "kafka.startup_timeout_ms",
                "must be above 0",
            ));
        }
        Ok(())
    }

    fn validate_security(&self) -> Result<(), InvalidKey> {
        let protocol = self.security_protocol.to_ascii_lowercase();
        if !matches!(
            protocol.as_str(),
            "plaintext" | "ssl" | "sasl_plaintext" | "sasl_ssl"
        ) {
            return Err(InvalidKey::new(
                "kafka.security_protocol",
                format!(
                    "{:?} is not one of plaintext, ssl, sasl_plaintext, sasl_ssl",
                    self.security_protocol
                ),
            ));
        }
        if protocol.starts_with("sasl") {
            match self.sasl_mechanism.as_deref() {
                Some("PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512") => {}
                other => {
                    return Err(InvalidKey::new(
                        "kafka.sasl_mechanism",
                        format!(
                            "{other:?} must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with {protocol}"
                        ),
                    ));
                }
            }
            if self.sasl_username.as_deref().is_none_or(str::is_empty) {
                return Err(InvalidKey::new(
                    "kafka.sasl_username",
                    format!("required with {protocol}"),
                ));
            }
            match (&self.sasl_password_env, &self.sasl_password_file) {
                (Some(var), None) if std::env::var_os(var).is_none() => {
                    return Err(InvalidKey::new(
                        "kafka.sasl_password_env",
                        format!("environment variable {var} is not set"),
                    ));
                }
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(InvalidKey::new(
                        "kafka.sasl_password_env",
                        "set exactly one of kafka.sasl_password_env and kafka.sasl_password_file",
                    ));
                }
            }
        }
        // TLS or SASL keys under a protocol that does not use them would be
        // ignored by librdkafka: the user believes the connection is secured.
        let tls_keys = [
            ("ssl_ca_location", self.ssl_ca_location.is_some()),
            (
                "ssl_certificate_location",
                self.ssl_certificate_location.is_some(),
            ),
            ("ssl_key_location", self.ssl_key_location.is_some()),
            ("ssl_key_password_env", self.ssl_key_password_env.is_some()),
        ];
        if !protocol.ends_with("ssl")
            && let Some((key, _)) = tls_keys.iter().find(|(_, set)| *set)
        {
            return Err(InvalidKey::new(
                format!("kafka.{key}"),
                format!(
                    "set, but kafka.security_protocol is {protocol:?}: TLS settings need ssl or sasl_ssl"
                ),
            ));
        }
        if !protocol.starts_with("sasl")
            && let Some(key) = [
                ("sasl_mechanism", self.sasl_mechanism.is_some()),
                ("sasl_username", self.sasl_username.is_some()),
            ]
            .iter()
            .find_map(|(key, set)| set.then_some(key))
        {
            return Err(InvalidKey::new(
                format!("kafka.{key}"),
                format!(
                    "set, but kafka.security_protocol is {protocol:?}: SASL settings need sasl_plaintext or sasl_ssl"
                ),
            ));
        }
        if self.ssl_certificate_location.is_some() != self.ssl_key_location.is_some() {
            return Err(InvalidKey::new(
                "kafka.ssl_certificate_location",
                "kafka.ssl_certificate_location and kafka.ssl_key_location go together (mutual TLS): set both or neither",
            ));
        }
        if let Some(var) = &self.ssl_key_password_env
            && std::env::var_os(var).is_none()
        {
            return Err(InvalidKey::new(
                "kafka.ssl_key_password_env",
                format!("environment variable {var} is not set"),
            ));
        }
        if let Some(key) = self
            .librdkafka
            .keys()
            .find(|k| k.contains("password") || k.contains("secret") || k.contains("jaas"))
        {
            return Err(InvalidKey::new(
                format!("kafka.librdkafka.{key}"),
                "secrets do not belong in config; use kafka.sasl_password_env or kafka.sasl_password_file",
            ));
        }
        Ok(())
    }

    /// Security properties, reading the secrets from their variables or files.
    fn security(&self, config: &mut ClientConfig) {
        config.set(
            "security.protocol",
            self.security_protocol.to_ascii_lowercase(),
        );
        let optional = [
            ("sasl.mechanism", self.sasl_mechanism.clone()),
            ("sasl.username", self.sasl_username.clone()),
            (
                "ssl.ca.location",
                self.ssl_ca_location
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
            (
                "ssl.certificate.location",
                self.ssl_certificate_location
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
            (
                "ssl.key.location",
                self.ssl_key_location
                    .as_ref()
                    .map(|p| p.display().to_string()),
            ),
            (
                "ssl.key.password",
                self.ssl_key_password_env
                    .as_ref()
                    .and_then(|v| std::env::var(v).ok()),
            ),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                config.set(key, value);
            }
        }
        let password = match (&self.sasl_password_env, &self.sasl_password_file) {
            (Some(var), _) => std::env::var(var).ok(),
            (None, Some(path)) => match std::fs::read_to_string(path) {
                Ok(text) => Some(text.trim_end_matches(['\r', '\n']).to_string()),
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "cannot read kafka.sasl_password_file");
                    None
                }
            },
            (None, None) => None,
        };
        if let Some(password) = password {
            config.set("sasl.password", password);
        }
    }

    /// Properties common to every client.
    pub fn base(&self, service: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", format!("{}-{service}", self.client_id))
            // librdkafka may resolve a name to ::1 while a broker listens on IPv4 only.
            .set("broker.address.family", "v4");
        self.security(&mut config);
        config
    }

    fn passthrough(&self, mut config: ClientConfig) -> ClientConfig {
        for (key, value) in &self.librdkafka {
            config.set(key, value);
        }
        config
    }

    /// An idempotent, compressing producer configuration.
    pub fn producer_config(&self, service: &str) -> ClientConfig {
        let mut config = self.base(service);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", &self.compression)
            .set("linger.ms", self.linger_ms.to_string())
            .set(
                "queue.buffering.max.kbytes",
                self.producer_queue_max_kb.to_string(),
            )
            .set("message.timeout.ms", "300000");
        self.passthrough(config)
    }

    /// A group consumer that stores and commits offsets only when told to.
    pub fn consumer_config(&self, service: &str, group: &str) -> ClientConfig {
        let mut config = self.base(service);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set("session.timeout.ms", self.session_timeout_ms.to_string())
            .set(
                "heartbeat.interval.ms",
                self.heartbeat_interval_ms.to_string(),
            )
            .set(
                "max.poll.interval.ms",
                self.max_poll_interval_ms.to_string(),
            )
            .set("fetch.wait.max.ms", self.fetch_wait_max_ms.to_string())
            .set(
                "queued.max.messages.kbytes",
                self.consumer_queue_max_kb.to_string(),
            )
            .set("fetch.max.bytes", (self.fetch_max_kb * 1024).to_string())
            .set(
                "max.partition.fetch.bytes",
                (self.partition_fetch_max_kb * 1024).to_string(),
            )
            .set(
                "fetch.queue.backoff.ms",
                self.fetch_queue_backoff_ms.to_string(),
            )
            .set(
                "topic.metadata.refresh.interval.ms",
                self.metadata_refresh_ms.to_string(),
            );
        if let Some(id) = self
            .group_instance_id
            .as_deref()
            .filter(|id| !id.is_empty())
        {
            config.set("group.instance.id", id);
        }
        self.passthrough(config)
    }

    /// Admin client configuration.
    pub fn admin_config(&self, service: &str) -> ClientConfig {
        self.passthrough(self.base(service))
    }
}

/// A topic a service needs, created when missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Partitions to create it with.
    pub partitions: i32,
    /// Replication factor to create it with.
    pub replication_factor: i32,
}

/// The broker did not answer within `kafka.startup_timeout_ms` at start: a
/// setup problem for the user (exit code 2), not a runtime failure.
#[derive(Debug, thiserror::Error)]
#[error(
    "broker {brokers} unreachable after {waited_ms} ms ({reason}); check kafka.brokers / KAFKA_BROKERS"
)]
pub struct BrokerUnreachable {
    /// The brokers tried.
    pub brokers: String,
    /// How long the service waited.
    pub waited_ms: u64,
    /// librdkafka's last error.
    pub reason: String,
}

/// Creates the topics that do not exist yet; existing ones are left alone
/// (a warning is logged when their partition count differs).
pub async fn ensure_topics(
    settings: &KafkaSettings,
    service: &str,
    topics: &[TopicSpec],
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = settings
        .admin_config(service)
        .create()
        .context("creating a Kafka admin client")?;
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| {
            NewTopic::new(
                &t.name,
                t.partitions,
                TopicReplication::Fixed(t.replication_factor),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(&new, &options)
        .await
        .context("creating topics")?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(topic = %name, "created topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => bail!("cannot create topic {name}: {code}"),
        }
    }
    for spec in topics {
        let partitions = partition_count_with(admin.inner(), &spec.name).await?;
        if partitions != spec.partitions {
            tracing::warn!(topic = %spec.name, partitions, configured = spec.partitions,
                "topic exists with a different partition count; using it as it is");
        }
    }
    Ok(())
}

/// The number of partitions of `topic`, from a metadata request.
pub async fn partition_count(
    settings: &KafkaSettings,
    service: &str,
    topic: &str,
) -> anyhow::Result<i32> {
    let consumer: BaseConsumer = settings
        .admin_config(service)
        .create()
        .context("creating a Kafka client")?;
    partition_count_with(&consumer, topic).await
}

/// The partition count of each of `topics`, one metadata request each
/// through an existing `client`. Blocking (up to 5 s a request): call it
/// from a blocking thread. A topic listed without partitions is left out.
pub fn current_partition_counts(
    client: &BaseConsumer,
    topics: &[String],
) -> anyhow::Result<BTreeMap<String, i32>> {
    let mut counts = BTreeMap::new();
    for topic in topics {
        if let Some(n) = client.partitions_of(topic)? {
            counts.insert(topic.clone(), n);
        }
    }
    Ok(counts)
}

async fn partition_count_with<C>(client: &C, topic: &str) -> anyhow::Result<i32>
where
    C: MetadataSource,
{
    // Tansu may answer a metadata request for a just-created topic before it
    // has its partitions; retry briefly.
    for _ in 0..50 {
        if let Some(n) = client.partitions_of(topic)? {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("topic {topic} does not exist")
}

/// How long a client may take to learn one topic in [`learn_topics`].
const LEARN_TOPIC_TIMEOUT: Duration = Duration::from_secs(5);

/// Has `client` (a producer's, typically) learn `topics`' partitions and
/// connect to their leaders now, so the first records sent to them do not
/// wait for a metadata request. Blocks up to 5 s per topic; a failure only
/// logs, and the first records then wait as they would have.
pub fn learn_topics<C: rdkafka::client::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topics: &[&str],
) {
    for topic in topics {
        if let Err(error) = client.fetch_metadata(Some(topic), LEARN_TOPIC_TIMEOUT) {
            tracing::warn!(%error, topic, "cannot read the topic's metadata yet");
        }
    }
}

/// Anything that can answer a metadata request.
trait MetadataSource {
    fn partitions_of(&self, topic: &str) -> anyhow::Result<Option<i32>>;
}

impl<C: rdkafka::client::ClientContext> MetadataSource for rdkafka::client::Client<C> {
    fn partitions_of(&self, topic: &str) -> anyhow::Result<Option<i32>> {
        let metadata = self
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .context("metadata request")?;
        Ok(metadata
            .topics()
            .first()
            .filter(|t| t.error().is_none())
            .map(|t| t.partitions().len() as i32)
            .filter(|n| *n > 0))
    }
}

impl MetadataSource for BaseConsumer {
    fn partitions_of(&self, topic: &str) -> anyhow::Result<Option<i32>> {
        self.client().partitions_of(topic)
    }
}

/// Enqueues a record, waiting while librdkafka's local queue is full (the
/// producer's own thread drains it), so a fast source gets backpressure
/// instead of an error.
pub async fn enqueue<K, P, C>(
    producer: &FutureProducer<C>,
    mut record: FutureRecord<'_, K, P>,
) -> KafkaResult<DeliveryFuture>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
    C: rdkafka::ClientContext + 'static,
{
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((error, _)) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_settings_read_the_password_from_a_file_and_never_show_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "s3cret\n").unwrap();
        let settings = KafkaSettings {
            security_protocol: "SASL_SSL".into(),
            sasl_mechanism: Some("SCRAM-SHA-512".into()),
            sasl_username: Some("weibo".into()),
            sasl_password_file: Some(file),
            ..KafkaSettings::default()
        };
        settings.validate().unwrap();
        let config = settings.consumer_config("filter", "g");
        assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(config.get("sasl.password"), Some("s3cret"));
        assert_eq!(config.get("max.poll.interval.ms"), Some("300000"));
        assert!(!format!("{settings:?}").contains("s3cret"));
    }

    #[test]
    fn bad_security_settings_name_the_key() {
        let mut settings = KafkaSettings {
            security_protocol: "sasl_plaintext".into(),
            ..KafkaSettings::default()
        };
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("kafka.sasl_mechanism")
        );
        settings.sasl_mechanism = Some("PLAIN".into());
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("kafka.sasl_username")
        );
        settings.sasl_username = Some("u".into());
        settings.sasl_password_env = Some("WEIBOSTREAM_TEST_SURELY_UNSET".into());
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("WEIBOSTREAM_TEST_SURELY_UNSET")
        );
        let mut settings = KafkaSettings::default();
        settings
            .librdkafka
            .insert("sasl.password".into(), "x".into());
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("kafka.librdkafka.sasl.password")
        );
    }

    #[test]
    fn tls_and_sasl_keys_must_match_the_protocol() {
        let settings = KafkaSettings {
            ssl_ca_location: Some("/etc/ca.pem".into()),
            ..KafkaSettings::default()
        };
        let error = settings.validate().unwrap_err();
        assert_eq!(error.key, "kafka.ssl_ca_location");
        assert!(
            error.to_string().starts_with(
                "kafka.ssl_ca_location: set, but kafka.security_protocol is \"plaintext\""
            ),
            "{error}"
        );
        let settings = KafkaSettings {
            security_protocol: "ssl".into(),
            sasl_username: Some("alice".into()),
            ..KafkaSettings::default()
        };
        assert_eq!(settings.validate().unwrap_err().key, "kafka.sasl_username");
        let settings = KafkaSettings {
            security_protocol: "ssl".into(),
            ssl_certificate_location: Some("/etc/client.pem".into()),
            ..KafkaSettings::default()
        };
        assert!(
            settings
                .validate()
                .unwrap_err()
                .problem
                .contains("go together")
        );
        let settings = KafkaSettings {
            security_protocol: "ssl".into(),
            ssl_certificate_location: Some("/etc/client.pem".into()),
            ssl_key_location: Some("/etc/client.key".into()),
            ssl_key_password_env: Some("WEIBOSTREAM_TEST_SURELY_UNSET".into()),
            ..KafkaSettings::default()
        };
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("WEIBOSTREAM_TEST_SURELY_UNSET")
        );
    }

    #[test]
    fn passthrough_wins_and_validation_names_keys() {
        let mut settings = KafkaSettings::default();
        settings.librdkafka.insert("linger.ms".into(), "50".into());
        let config = settings.producer_config("collector");
        assert_eq!(config.get("linger.ms"), Some("50"));
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert!(settings.validate().is_ok());
        settings.compression = "brotli".into();
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("kafka.compression")
        );
        settings.compression = "zstd".into();
        settings.heartbeat_interval_ms = 20_000;
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("kafka.heartbeat_interval_ms")
        );
    }
}
