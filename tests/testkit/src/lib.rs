//! Test plumbing shared by every crate's broker tests: a real Tansu broker on
//! a free port, unique topic and group names, reading topics back, polling
//! with a timeout instead of sleeping, and a PostgreSQL server. Depends on no
//! service crate, so the services' own tests can use it too.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use weibostream_shared::Topics;
use weibostream_shared::kafka::KafkaSettings;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// Path of a service binary built by `cargo build --release --bins`
/// (the test command does that first): beside the running test's own
/// profile directory (`<target>/release/deps/it-…` → `<target>/release/`,
/// whatever `CARGO_TARGET_DIR` is), else under the workspace's `target/`,
/// falling back to the debug build.
pub fn service_binary(name: &str) -> PathBuf {
    let beside_tests = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join(name)));
    let root = workspace_root();
    let candidates = beside_tests.into_iter().chain(
        ["release", "debug"]
            .into_iter()
            .map(|profile| root.join("target").join(profile).join(name)),
    );
    for path in candidates {
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "{name} binary not found beside the tests or under target/: run `cargo build --release --bins` (tests/run.sh does)"
    );
}

/// What an outside program the tests need is: the value of the environment
/// variable `env` when set (a path, a URL), else the last line the
/// `deploy/local` script `script` prints after installing or starting it.
pub fn provided(env: &str, script: &str) -> String {
    if let Ok(value) = std::env::var(env) {
        return value;
    }
    let script = workspace_root().join("deploy/local").join(script);
    let output = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "{} failed; or set {env}",
        script.display()
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout.lines().last().unwrap_or_default().trim().to_owned()
}

/// The tansu binary: `$TANSU_BIN`, or what `install-tansu.sh` provides.
pub fn tansu_binary() -> PathBuf {
    PathBuf::from(provided("TANSU_BIN", "install-tansu.sh"))
}

/// Waits until something accepts TCP connections on `address`; panics
/// after `limit`.
pub fn wait_for_port(address: &str, limit: Duration) {
    let start = Instant::now();
    while TcpStream::connect(address).is_err() {
        assert!(
            start.elapsed() < limit,
            "nothing listens on {address} after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real local broker process, killed when dropped.
pub struct Broker {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub address: String,
}

impl Broker {
    /// Starts Tansu with the in-memory engine on a free port and waits until it accepts connections.
    pub fn start() -> Broker {
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        Broker::start_with(port, &url, &["--storage-engine", "memory://tansu/"])
    }

    /// Starts Tansu listening on 127.0.0.1:`port`, advertising
    /// `advertised_url` to clients (e.g. the port of a TLS proxy in front of
    /// it), with more broker arguments (`--storage-engine`,
    /// `--authentication`...), and waits until it accepts connections.
    pub fn start_with(port: u16, advertised_url: &str, args: &[&str]) -> Broker {
        Broker::start_program(&tansu_binary(), None, port, advertised_url, args)
    }

    /// [`Broker::start_with`] with another tansu binary (e.g. one with the
    /// SQLite engine), run in `dir` when given (where a `sqlite://FILE`
    /// store lives).
    pub fn start_program(
        program: &Path,
        dir: Option<&Path>,
        port: u16,
        advertised_url: &str,
        args: &[&str],
    ) -> Broker {
        init_logs();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let mut command = Command::new(program);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let child = command
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                advertised_url,
            ])
            .args(args)
            .stdout(broker_log())
            .stderr(broker_log())
            .spawn()
            .unwrap();
        let broker = Broker { child, address };
        wait_for_port(&broker.address, Duration::from_secs(20));
        broker
    }

    /// Sends `signal` (`STOP`, `CONT`...) to the broker process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kafka settings pointing at this broker, with the local broker's
    /// workarounds and tuning (`kafka.local_broker_quirks`).
    pub fn kafka(&self) -> KafkaSettings {
        KafkaSettings {
            brokers: self.address.clone(),
            startup_timeout_ms: 20_000,
            ..KafkaSettings::default()
        }
        .with_local_broker_quirks()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A name unique within the test run: `prefix-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Topic names unique to one test.
pub fn unique_topics() -> Topics {
    let base = unique("t");
    Topics {
        raw: format!("{base}.raw"),
        matched: format!("{base}.matched"),
        reports: format!("{base}.reports"),
        dlq: format!("{base}.dlq"),
        ..Topics::default()
    }
}

/// Polls `condition` every 100 ms until it holds; panics after `limit`.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Async [`wait_until`].
pub async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads every record of every partition of `topic` from the beginning until
/// `expected` records were read or `limit` passes; returns the values.
pub fn read_topic(
    kafka: &KafkaSettings,
    topic: &str,
    expected: usize,
    limit: Duration,
) -> Vec<Vec<u8>> {
    read_records(kafka, topic, expected, limit)
        .into_iter()
        .map(|record| record.value)
        .collect()
}

/// A record read back from a topic, with where it is.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its value (empty for a null value).
    pub value: Vec<u8>,
}

/// [`read_topic`] keeping each record's partition and offset.
pub fn read_records(
    kafka: &KafkaSettings,
    topic: &str,
    expected: usize,
    limit: Duration,
) -> Vec<ReadRecord> {
    let consumer: BaseConsumer = kafka
        .admin_config("test-reader")
        .set("group.id", unique("reader"))
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .unwrap();
    let partitions = metadata.topics()[0].partitions().len() as i32;
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let start = Instant::now();
    let mut records = Vec::new();
    while records.len() < expected && start.elapsed() < limit {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            records.push(ReadRecord {
                partition: message.partition(),
                offset: message.offset(),
                value: message.payload().unwrap_or_default().to_vec(),
            });
        }
    }
    records
}

/// Reads `topic` for `duration` (for topics whose final size is unknown).
pub fn read_topic_for(kafka: &KafkaSettings, topic: &str, duration: Duration) -> Vec<Vec<u8>> {
    read_topic(kafka, topic, usize::MAX, duration)
}

/// Counts occurrences of each item.
pub fn counts<T: Ord + Clone>(items: &[T]) -> BTreeMap<T, usize> {
    let mut map = BTreeMap::new();
    for item in items {
        *map.entry(item.clone()).or_default() += 1;
    }
    map
}

/// A PostgreSQL server URL: `$WEIBOSTREAM_PG_URL`, or the one
/// `deploy/local/ensure-postgres.sh` installs/starts and prints.
pub fn postgres_url() -> String {
    provided("WEIBOSTREAM_PG_URL", "ensure-postgres.sh")
}

/// A pseudo-random number in `0..n` (tests need no reproducible randomness,
/// only a point that differs between runs; it is printed by the caller).
pub fn random_below(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) % n.max(1)
}

/// Sends the in-process services' logs to the test output (shown when a
/// test fails): warnings and errors, or what `RUST_LOG` selects
/// (`RUST_LOG=info cargo test -- --nocapture` to watch a test).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,librdkafka=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Where the broker's own log goes: the file named by
/// `WEIBOSTREAM_BROKER_LOG` (appended to, for debugging a failing test;
/// set `RUST_LOG` for Tansu's level), else nowhere.
fn broker_log() -> Stdio {
    std::env::var_os("WEIBOSTREAM_BROKER_LOG")
        .and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
        })
        .map_or_else(Stdio::null, Stdio::from)
}
