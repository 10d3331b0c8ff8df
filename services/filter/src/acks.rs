//! The replica's producer: records carry their batch's
//! [`BatchAcks`](weibostream_shared::kafka::acks::BatchAcks), settled by
//! this context's delivery callback.

use std::sync::Arc;

use rdkafka::message::DeliveryResult;
use rdkafka::producer::{ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Message as _};
pub(crate) use weibostream_shared::kafka::acks::{BatchAcks, send};

/// The replica's producer.
pub(crate) type AckProducer = ThreadedProducer<AckContext>;

/// Producer context settling each record's [`BatchAcks`].
pub(crate) struct AckContext;

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = Arc<BatchAcks>;

    fn delivery(&self, result: &DeliveryResult<'_>, acks: Arc<BatchAcks>) {
        match result {
            Ok(_) => acks.settle(None),
            Err((error, message)) => {
                tracing::error!(%error, topic = message.topic(), "record not delivered to the broker");
                acks.settle(Some(error));
            }
        }
    }
}
