//! `filter inspect`: a topic's partitions with their watermarks, a consumer
//! group's members with their partitions, and the group's committed offsets
//! and lag per partition — what `rpk group describe` shows, for users of the
//! local broker, which has no rpk.
//!
//! High watermarks come from Fetch responses (a short-lived consumer reads
//! from near each partition's end and keeps librdkafka's statistics), not
//! from ListOffsets alone: Tansu answers ListOffsets "latest" with the base
//! offset of the partition's last record batch, which under-reports. The
//! ListOffsets answer is kept as a fallback and shown when it differs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{ClientContext, Message, Offset, Statistics, TopicPartitionList};
use weibostream_shared::BatchReport;
use weibostream_shared::kafka::KafkaSettings;
use weibostream_shared::stats::ClientStats;

/// One partition of the topic, with the group's position in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// Partition number.
    pub partition: i32,
    /// Low watermark (first stored offset).
    pub low: i64,
    /// High watermark (offset after the last record).
    pub high: i64,
    /// What ListOffsets "latest" answered, when it differs from `high`.
    pub listed_high: Option<i64>,
    /// The group's committed offset, if any.
    pub committed: Option<i64>,
    /// Records the group has not committed: `high` minus the committed
    /// offset, or minus `low` when nothing is committed.
    pub lag: i64,
    /// The member the partition is assigned to, if any.
    pub member: Option<String>,
}

/// One member of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    /// The member id the coordinator gave it.
    pub id: String,
    /// Its client id.
    pub client_id: String,
    /// Its host, as the broker saw it.
    pub host: String,
    /// Its partitions of the inspected topic.
    pub partitions: Vec<i32>,
}

/// A filter replica, as its latest batch report in `filter.reports` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    /// The replica id.
    pub replica: String,
    /// End of its latest reported batch.
    pub batch_time: String,
    /// The partitions that report covered.
    pub partitions: Vec<i32>,
    /// The lag it reported, if any.
    pub lag: Option<u64>,
}

/// Everything `filter inspect` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The topic.
    pub topic: String,
    /// The group.
    pub group: String,
    /// The group's state (`Stable`, `Empty`, `PreparingRebalance`...), or
    /// `Dead`/`unknown` when the broker does not know it.
    pub state: String,
    /// The assignment protocol (`cooperative-sticky`...).
    pub protocol: String,
    /// The group's members.
    pub members: Vec<MemberState>,
    /// Every partition of the topic.
    pub partitions: Vec<PartitionState>,
    /// The replicas of the latest batch in the reports topic (the brokers
    /// that do not give member assignments, like Tansu, leave `members`'
    /// partitions empty; this says who works on what).
    pub replicas: Vec<ReplicaState>,
    /// Whether every high watermark came from a Fetch response.
    pub fetched_watermarks: bool,
}

impl Inspection {
    /// Total lag over the partitions.
    pub fn total_lag(&self) -> i64 {
        self.partitions.iter().map(|p| p.lag).sum()
    }
}

/// A group member's assignment, decoded from the consumer protocol's
/// `MemberAssignment` bytes: partitions by topic.
pub fn decode_assignment(bytes: &[u8]) -> Result<BTreeMap<String, Vec<i32>>, String> {
    let mut reader = Reader { bytes, at: 0 };
    let _version = reader.i16()?;
    let topics = reader.i32()?;
    let mut out = BTreeMap::new();
    for _ in 0..topics.max(0) {
        let name_len = reader.i16()?;
        let name = reader.take(usize::try_from(name_len).map_err(|_| "negative topic length")?)?;
        let name = String::from_utf8_lossy(name).into_owned();
        let count = reader.i32()?;
        let mut partitions = Vec::new();
        for _ in 0..count.max(0) {
            partitions.push(reader.i32()?);
        }
        partitions.sort_unstable();
        out.entry(name).or_insert_with(Vec::new).extend(partitions);
    }
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("assignment cut short at byte {}", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn i16(&mut self) -> Result<i16, String> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

struct StatsContext(ClientStats);

impl ClientContext for StatsContext {
    fn stats(&self, statistics: Statistics) {
        self.0.update(&statistics);
    }
}

impl ConsumerContext for StatsContext {}

/// Reads the topic's partitions, the group's members and committed offsets,
/// each request bounded by `timeout`. Blocking.
pub fn inspect(
    kafka: &KafkaSettings,
    topic: &str,
    group: &str,
    reports_topic: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<Inspection> {
    let group_client: BaseConsumer = kafka
        .admin_config("filter-inspect")
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .context("creating a Kafka client")?;
    let metadata = group_client
        .fetch_metadata(Some(topic), timeout)
        .with_context(|| format!("metadata of {topic} (is {} reachable?)", kafka.brokers))?;
    let Some(meta) = metadata
        .topics()
        .first()
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
    else {
        bail!("topic {topic} does not exist");
    };
    let mut numbers: Vec<i32> = meta.partitions().iter().map(|p| p.id()).collect();
    numbers.sort_unstable();

    let mut listed = BTreeMap::new();
    for &partition in &numbers {
        let (low, high) = group_client
            .fetch_watermarks(topic, partition, timeout)
            .with_context(|| format!("watermarks of {topic}/{partition}"))?;
        listed.insert(partition, (low, high));
    }
    let fetched = fetched_high_watermarks(kafka, topic, &listed, timeout)?;

    let mut wanted = TopicPartitionList::new();
    for &partition in &numbers {
        wanted.add_partition(topic, partition);
    }
    let committed = group_client
        .committed_offsets(wanted, timeout)
        .context("committed offsets")?;
    let committed: BTreeMap<i32, i64> = committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect();

    let groups = group_client
        .fetch_group_list(Some(group), timeout)
        .context("describing the group")?;
    let (state, protocol, members) = match groups.groups().first() {
        Some(info) => {
            let members = info
                .members()
                .iter()
                .map(|m| MemberState {
                    id: m.id().to_string(),
                    client_id: m.client_id().to_string(),
                    host: m.client_host().to_string(),
                    partitions: m
                        .assignment()
                        .and_then(|a| decode_assignment(a).ok())
                        .and_then(|mut a| a.remove(topic))
                        .unwrap_or_default(),
                })
                .collect();
            (
                info.state().to_string(),
                info.protocol().to_string(),
                members,
            )
        }
        None => ("unknown".to_string(), String::new(), Vec::new()),
    };

    let replicas = match reports_topic {
        Some(reports) => latest_replicas(kafka, reports, timeout)?,
        None => Vec::new(),
    };
    let mut owner = BTreeMap::new();
    for replica in &replicas {
        for &p in &replica.partitions {
            owner.insert(p, format!("replica {}", replica.replica));
        }
    }
    for member in &members {
        for &p in &member.partitions {
            owner.insert(p, member.id.clone());
        }
    }
    let fetched_watermarks = numbers.iter().all(|p| fetched.contains_key(p));
    let partitions = numbers
        .iter()
        .map(|&partition| {
            let (low, listed_high) = listed.get(&partition).copied().unwrap_or((0, 0));
            let high = fetched
                .get(&partition)
                .copied()
                .unwrap_or(listed_high)
                .max(listed_high);
            let committed = committed.get(&partition).copied();
            PartitionState {
                partition,
                low,
                high,
                listed_high: (listed_high != high).then_some(listed_high),
                committed,
                lag: (high - committed.unwrap_or(low)).max(0),
                member: owner.get(&partition).cloned(),
            }
        })
        .collect();
    Ok(Inspection {
        topic: topic.to_string(),
        group: group.to_string(),
        state,
        protocol,
        members,
        partitions,
        replicas,
        fetched_watermarks,
    })
}

/// Records read back from the end of the reports topic.
const RECENT_REPORTS: i64 = 500;

/// The replicas of the newest batch time in the last reports (each
/// replica's latest report, if it is within three intervals of the newest).
fn latest_replicas(
    kafka: &KafkaSettings,
    topic: &str,
    timeout: Duration,
) -> anyhow::Result<Vec<ReplicaState>> {
    let client: BaseConsumer = kafka
        .admin_config("filter-inspect")
        .create()
        .context("creating a Kafka client")?;
    let metadata = client.fetch_metadata(Some(topic), timeout)?;
    let Some(meta) = metadata.topics().first().filter(|t| t.error().is_none()) else {
        return Ok(Vec::new());
    };
    let mut listed = BTreeMap::new();
    for p in meta.partitions() {
        listed.insert(p.id(), client.fetch_watermarks(topic, p.id(), timeout)?);
    }
    let highs = fetched_high_watermarks(kafka, topic, &listed, timeout)?;
    let consumer: BaseConsumer = kafka
        .admin_config("filter-inspect")
        .set("group.id", "weibostream-inspect")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating a Kafka consumer")?;
    let mut assignment = TopicPartitionList::new();
    let mut remaining = 0i64;
    for (&partition, &(low, _)) in &listed {
        let high = highs.get(&partition).copied().unwrap_or(low);
        let from = (high - RECENT_REPORTS).max(low);
        remaining += high - from;
        assignment.add_partition_offset(topic, partition, Offset::Offset(from))?;
    }
    consumer.assign(&assignment)?;
    let mut latest: BTreeMap<String, BatchReport> = BTreeMap::new();
    let started = Instant::now();
    while remaining > 0 && started.elapsed() < timeout {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        remaining -= 1;
        let Some(report) = message
            .payload()
            .and_then(|p| serde_json::from_slice::<BatchReport>(p).ok())
        else {
            continue;
        };
        let newer = latest
            .get(&report.replica)
            .is_none_or(|r| r.batch_time <= report.batch_time);
        if newer {
            latest.insert(report.replica.clone(), report);
        }
    }
    let Some(newest) = latest.values().map(|r| r.batch_time).max() else {
        return Ok(Vec::new());
    };
    Ok(latest
        .into_values()
        .filter(|r| {
            let window = chrono::Duration::milliseconds(3 * r.interval_ms as i64);
            r.batch_time + window >= newest
        })
        .map(|r| ReplicaState {
            replica: r.replica.clone(),
            batch_time: r.batch_time.to_rfc3339(),
            partitions: r.covered_partitions().collect(),
            lag: r.lag,
        })
        .collect())
}

/// High watermarks from Fetch responses: a consumer outside any group
/// assigned to every partition from its listed end (which on Tansu is the
/// last batch's start), polled until each partition's statistics carry a
/// high watermark or `timeout` passes.
fn fetched_high_watermarks(
    kafka: &KafkaSettings,
    topic: &str,
    listed: &BTreeMap<i32, (i64, i64)>,
    timeout: Duration,
) -> anyhow::Result<BTreeMap<i32, i64>> {
    let stats = ClientStats::new(topic);
    let consumer: BaseConsumer<StatsContext> = kafka
        .admin_config("filter-inspect")
        .set("group.id", "weibostream-inspect")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("statistics.interval.ms", "100")
        .create_with_context(StatsContext(stats.clone()))
        .context("creating a Kafka consumer")?;
    let mut assignment = TopicPartitionList::new();
    for (&partition, &(low, high)) in listed {
        let start = if high > low { high - 1 } else { high };
        assignment.add_partition_offset(topic, partition, Offset::Offset(start))?;
    }
    consumer
        .assign(&assignment)
        .context("assigning partitions")?;
    let started = Instant::now();
    loop {
        // Messages are only read for their fetch responses' watermarks.
        let _ = consumer.poll(Duration::from_millis(100));
        let seen: BTreeMap<i32, i64> = stats
            .partitions()
            .into_iter()
            .filter_map(|(p, o)| o.high.map(|h| (p, h)))
            .collect();
        if listed.keys().all(|p| seen.contains_key(p)) || started.elapsed() >= timeout {
            return Ok(seen);
        }
    }
}

/// The inspection as text, in the manner of `rpk group describe`.
pub fn render(inspection: &Inspection) -> String {
    let mut out = String::new();
    let i = inspection;
    let _ = writeln!(
        out,
        "TOPIC {}  ({} partitions)",
        i.topic,
        i.partitions.len()
    );
    let _ = writeln!(
        out,
        "GROUP {}  state {}  protocol {}  {} member(s)  total lag {}",
        i.group,
        i.state,
        if i.protocol.is_empty() {
            "-"
        } else {
            &i.protocol
        },
        i.members.len(),
        i.total_lag()
    );
    if !i.fetched_watermarks {
        let _ = writeln!(
            out,
            "note: some high watermarks come from ListOffsets only; on Tansu these can be too low (the last batch's start)"
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<44} {:<24} {:<16} PARTITIONS",
        "MEMBER", "CLIENT-ID", "HOST"
    );
    for m in &i.members {
        let parts: Vec<String> = m.partitions.iter().map(i32::to_string).collect();
        let _ = writeln!(
            out,
            "{:<44} {:<24} {:<16} {}",
            m.id,
            m.client_id,
            m.host,
            if parts.is_empty() {
                "-".into()
            } else {
                parts.join(",")
            }
        );
    }
    if !i.replicas.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<28} {:<28} {:>10}  PARTITIONS (latest batch reports)",
            "REPLICA", "LAST BATCH", "LAG"
        );
        for r in &i.replicas {
            let parts: Vec<String> = r.partitions.iter().map(i32::to_string).collect();
            let lag = r.lag.map_or("-".to_string(), |l| l.to_string());
            let _ = writeln!(
                out,
                "{:<28} {:<28} {:>10}  {}",
                r.replica,
                r.batch_time,
                lag,
                parts.join(",")
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<10} {:>12} {:>12} {:>12} {:>10}  MEMBER",
        "PARTITION", "LOW", "HIGH", "COMMITTED", "LAG"
    );
    for p in &i.partitions {
        let committed = p.committed.map_or("-".to_string(), |c| c.to_string());
        let high = match p.listed_high {
            Some(listed) => format!("{} ({listed})", p.high),
            None => p.high.to_string(),
        };
        let _ = writeln!(
            out,
            "{:<10} {:>12} {:>12} {:>12} {:>10}  {}",
            p.partition,
            p.low,
            high,
            committed,
            p.lag,
            p.member.as_deref().unwrap_or("-")
        );
    }
    if i.partitions.iter().any(|p| p.listed_high.is_some()) {
        let _ = writeln!(
            out,
            "(n): the broker's ListOffsets answer, lower than the high watermark its Fetch responses carry"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&1i16.to_be_bytes());
        out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
        for (name, partitions) in topics {
            out.extend_from_slice(&(name.len() as i16).to_be_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&(partitions.len() as i32).to_be_bytes());
            for p in *partitions {
                out.extend_from_slice(&p.to_be_bytes());
            }
        }
        out.extend_from_slice(&(-1i32).to_be_bytes());
        out
    }

    #[test]
    fn assignments_decode_by_topic() {
        let bytes = assignment(&[("posts.raw", &[4, 1]), ("other", &[0])]);
        let decoded = decode_assignment(&bytes).unwrap();
        assert_eq!(decoded["posts.raw"], vec![1, 4]);
        assert_eq!(decoded["other"], vec![0]);
        assert!(decode_assignment(&bytes[..9]).is_err());
        assert!(decode_assignment(&[]).is_err());
    }

    #[test]
    fn render_shows_members_lag_and_listed_watermarks() {
        let inspection = Inspection {
            topic: "posts.raw".into(),
            group: "filter".into(),
            state: "Stable".into(),
            protocol: "cooperative-sticky".into(),
            members: vec![MemberState {
                id: "m-1".into(),
                client_id: "weibostream-filter".into(),
                host: "/127.0.0.1".into(),
                partitions: vec![0, 1],
            }],
            partitions: vec![
                PartitionState {
                    partition: 0,
                    low: 0,
                    high: 120,
                    listed_high: Some(100),
                    committed: Some(110),
                    lag: 10,
                    member: Some("m-1".into()),
                },
                PartitionState {
                    partition: 1,
                    low: 0,
                    high: 5,
                    listed_high: None,
                    committed: None,
                    lag: 5,
                    member: Some("m-1".into()),
                },
            ],
            replicas: vec![ReplicaState {
                replica: "filter-1".into(),
                batch_time: "2026-11-25T00:55:55+00:00".into(),
                partitions: vec![0, 1],
                lag: Some(3),
            }],
            fetched_watermarks: true,
        };
        let text = render(&inspection);
        assert!(text.contains("total lag 15"), "{text}");
        assert!(text.contains("120 (100)"), "{text}");
        assert!(text.contains("0,1"), "{text}");
        assert!(text.contains("filter-1"), "{text}");
        assert!(!text.contains("note:"), "{text}");
    }
}
