//! Which partitions the sink reads: every partition of the matched and
//! reports topics, assigned by the sink itself rather than by a consumer
//! group. One sink must see every replica's batches to merge them, so a group
//! could only ever hand it everything; and group membership is what a broker
//! stall breaks: after the local broker (Tansu 0.6) was frozen for 30 s it
//! kept the sink's dead member as the group leader, so the live member
//! waited for an assignment forever. The sink's `group` still names where its
//! offsets are committed, and a restart resumes from them.

use std::collections::BTreeMap;

use anyhow::Context as _;
use rdkafka::consumer::Consumer;
use rdkafka::{Offset, TopicPartitionList};
use weibostream_shared::kafka::{self, KafkaSettings};

/// Partitions assigned so far, per topic (partitions `0..count`).
#[derive(Debug, Default)]
pub struct Assignment {
    assigned: BTreeMap<String, i32>,
}

impl Assignment {
    /// Adds every partition of `topics` not yet assigned, starting each from
    /// the group's committed offset (the earliest offset when none). Returns
    /// the added partitions; topics only grow, so nothing is removed.
    pub async fn extend<C: Consumer<X>, X: rdkafka::consumer::ConsumerContext>(
        &mut self,
        consumer: &C,
        settings: &KafkaSettings,
        service: &str,
        topics: &[&str],
    ) -> anyhow::Result<TopicPartitionList> {
        let mut counts = BTreeMap::new();
        for &topic in topics {
            let count = kafka::partition_count(settings, service, topic).await?;
            counts.insert(topic.to_string(), count);
        }
        self.extend_to(consumer, &counts)
    }

    /// [`Assignment::extend`] with counts already looked up: adds the
    /// partitions of each topic in `counts` beyond those assigned, and
    /// returns them (no I/O).
    pub fn extend_to<C: Consumer<X>, X: rdkafka::consumer::ConsumerContext>(
        &mut self,
        consumer: &C,
        counts: &BTreeMap<String, i32>,
    ) -> anyhow::Result<TopicPartitionList> {
        let mut added = TopicPartitionList::new();
        for (topic, &count) in counts {
            let from = self.assigned.get(topic).copied().unwrap_or(0);
            for partition in from..count {
                added
                    .add_partition_offset(topic, partition, Offset::Stored)
                    .with_context(|| format!("adding {topic}/{partition}"))?;
            }
        }
        if added.count() == 0 {
            return Ok(added);
        }
        consumer
            .incremental_assign(&added)
            .context("assigning partitions")?;
        for (topic, &count) in counts {
            let assigned = self.assigned.entry(topic.clone()).or_insert(0);
            *assigned = (*assigned).max(count);
        }
        let names: Vec<String> = added
            .elements()
            .iter()
            .map(|e| format!("{}/{}", e.topic(), e.partition()))
            .collect();
        tracing::info!(partitions = ?names, "sink reading partitions");
        Ok(added)
    }
}
