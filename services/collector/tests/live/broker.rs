//! A real local Kafka broker (Tansu) on a free port, as the workspace's
//! end-to-end tests start it, and reading a topic back.

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

/// The tansu binary: `$TANSU_BIN`, or what the install script prints.
fn tansu_binary() -> PathBuf {
    if let Ok(path) = std::env::var("TANSU_BIN") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("deploy/local/install-tansu.sh");
    let output = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "{} failed", script.display());
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// A broker process, killed when dropped.
pub struct Broker {
    child: Child,
    address: String,
}

impl Broker {
    /// Starts Tansu with the in-memory engine on a free port and waits until it accepts connections.
    pub fn start() -> Broker {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let child = Command::new(tansu_binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let broker = Broker { child, address };
        let start = Instant::now();
        while TcpStream::connect(&broker.address).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "broker did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        broker
    }

    /// Kafka settings pointing at this broker.
    pub fn kafka(&self) -> KafkaSettings {
        KafkaSettings {
            brokers: self.address.clone(),
            startup_timeout_ms: 20_000,
            linger_ms: 1,
            ..KafkaSettings::default()
        }
    }

    /// Sends `signal` (`STOP`, `CONT`) to the broker process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.signal("CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Topic names unique to one test.
pub fn unique_topics() -> Topics {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = format!(
        "collector-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Topics {
        raw: format!("{base}.raw"),
        matched: format!("{base}.matched"),
        reports: format!("{base}.reports"),
        dlq: format!("{base}.dlq"),
        ..Topics::default()
    }
}

/// Reads every partition of `topic` from the start until `expected` records
/// came or `limit` passed (blocking); returns the values.
pub fn read_topic(
    kafka: &KafkaSettings,
    topic: &str,
    expected: usize,
    limit: Duration,
) -> Vec<Vec<u8>> {
    let consumer: BaseConsumer = kafka
        .admin_config("collector-test-reader")
        .set("group.id", format!("reader-{}", std::process::id()))
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
    let mut values = Vec::new();
    while values.len() < expected && start.elapsed() < limit {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            values.push(message.payload().unwrap_or_default().to_vec());
        }
    }
    values
}
