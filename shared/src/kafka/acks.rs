//! Acknowledgements counted per batch of records, the one way the services
//! wait for the broker to take what they produced.
//!
//! Each record carries its batch's [`BatchAcks`] (an `Arc`, no allocation)
//! as delivery opaque, and the producer context's delivery callback settles
//! it there ([`BatchAcks::settle`]). A future per record (`FutureProducer`)
//! allocated a channel per record and kept a vector of them per batch: at
//! full speed a quarter of a million futures a second in the filter, a few
//! megabytes held per batch; in the collector, ~25% more CPU per post.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseRecord, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::Notify;

/// Outcomes of one batch's records (or of one report).
#[derive(Debug, Default)]
pub struct BatchAcks {
    /// Records sent and not yet settled.
    pending: AtomicU64,
    /// Records the broker did not take (after librdkafka's retries).
    failed: AtomicU64,
    /// Why the first failed record failed.
    first_error: Mutex<Option<String>>,
    settled: Notify,
}

impl BatchAcks {
    /// Acknowledgements of a new batch, none pending.
    pub fn new() -> Arc<BatchAcks> {
        Arc::new(BatchAcks::default())
    }

    /// Settles one record: acknowledged, or failed with `error`. The
    /// producer context's delivery callback calls it.
    pub fn settle(&self, error: Option<&KafkaError>) {
        if let Some(error) = error {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut first = self
                .first_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            first.get_or_insert_with(|| error.to_string());
        }
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.settled.notify_waiters();
        }
    }

    /// Records sent and not settled yet.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Acquire)
    }

    /// Waits until every record sent so far is settled; an error says how
    /// many the broker did not take, and why the first one failed. Call it
    /// once nothing more is sent with these acks.
    pub async fn settled(&self) -> anyhow::Result<()> {
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            // Registered before the check, so a settle in between still wakes us.
            notified.as_mut().enable();
            if self.pending() == 0 {
                break;
            }
            notified.await;
        }
        match self.failed.load(Ordering::Acquire) {
            0 => Ok(()),
            failed => {
                let reason = self
                    .first_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
                    .unwrap_or_default();
                anyhow::bail!("{failed} record(s) not acknowledged by the broker: {reason}")
            }
        }
    }
}

/// Enqueues `record` (its opaque is the batch's acks), waiting while the
/// producer's queue is full.
pub async fn send<C, K, P>(
    producer: &ThreadedProducer<C>,
    mut record: BaseRecord<'_, K, P, Arc<BatchAcks>>,
) -> KafkaResult<()>
where
    C: ProducerContext<DeliveryOpaque = Arc<BatchAcks>>,
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        // Counted before the send: the callback may run before `send` returns.
        let acks = record.delivery_opaque.clone();
        acks.pending.fetch_add(1, Ordering::AcqRel);
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((error, back)) => {
                acks.pending.fetch_sub(1, Ordering::AcqRel);
                if !matches!(
                    error,
                    KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
                ) {
                    return Err(error);
                }
                record = back;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settled_waits_for_every_pending_record_and_names_the_failure() {
        let acks = BatchAcks::new();
        acks.settled().await.unwrap();
        acks.pending.fetch_add(3, Ordering::AcqRel);
        let waiter = tokio::spawn({
            let acks = acks.clone();
            async move { acks.settled().await }
        });
        acks.settle(None);
        acks.settle(Some(&KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageTimedOut,
        )));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "one record is still pending");
        acks.settle(None);
        let error = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("settled once nothing is pending")
            .unwrap()
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("1 record(s) not acknowledged"), "{error}");
        assert!(error.contains("timed out"), "{error}");
    }
}
