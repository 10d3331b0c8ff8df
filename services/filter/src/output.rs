//! Encoding what the filter publishes: matched posts (with the original post
//! JSON spliced in unchanged) and dead-letter headers.

use chrono::{DateTime, SecondsFormat, Utc};
use rdkafka::message::{Header, OwnedHeaders};

use crate::decode::Rejected;

/// Encodes `posts.matched` records: the fields of `MatchedPost` with `post`
/// set to the raw JSON the collector wrote, so the post is not re-encoded.
///
/// What is the same for a whole batch (its time, the replica, each rule's
/// id as a JSON string) is encoded once when the batch starts: formatting
/// the batch time per record was most of the cost of encoding one.
#[derive(Debug, Clone)]
pub struct MatchedEncoder {
    /// `{"batch_time":"…","replica":"…"`.
    prefix: Vec<u8>,
    /// Each rule's id, JSON-encoded, by rule index.
    rule_ids: Vec<String>,
}

impl MatchedEncoder {
    /// The encoder of one batch's matched records.
    pub fn new<'r>(
        batch_time: &DateTime<Utc>,
        replica: &str,
        rule_ids: impl IntoIterator<Item = &'r str>,
    ) -> Self {
        let mut prefix = br#"{"batch_time":"#.to_vec();
        // Strings and a timestamp always serialize into a Vec.
        let _ = serde_json::to_writer(&mut prefix, batch_time);
        prefix.extend_from_slice(br#","replica":"#);
        let _ = serde_json::to_writer(&mut prefix, replica);
        let rule_ids = rule_ids
            .into_iter()
            .map(|id| serde_json::to_string(id).unwrap_or_default())
            .collect();
        MatchedEncoder { prefix, rule_ids }
    }

    /// Writes into `out` (cleared first) the record of a post read at
    /// `partition`/`offset` that matched the rules at the indexes in
    /// `matched`; `label` is the classifier's label and its probability.
    pub fn encode(
        &self,
        matched: &[usize],
        partition: i32,
        offset: i64,
        label: Option<(&str, f64)>,
        raw_post: &[u8],
        out: &mut Vec<u8>,
    ) {
        out.clear();
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(br#","rules":["#);
        let ids = matched.iter().filter_map(|&i| self.rule_ids.get(i));
        for (n, id) in ids.enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(id.as_bytes());
        }
        let mut number = itoa::Buffer::new();
        out.extend_from_slice(br#"],"partition":"#);
        out.extend_from_slice(number.format(partition).as_bytes());
        out.extend_from_slice(br#","offset":"#);
        out.extend_from_slice(number.format(offset).as_bytes());
        if let Some((label, probability)) = label {
            out.extend_from_slice(br#","label":"#);
            let _ = serde_json::to_writer(&mut *out, label);
            out.extend_from_slice(br#","probability":"#);
            // Rounded: six decimals are plenty and keep records short.
            let _ = serde_json::to_writer(&mut *out, &((probability * 1e6).round() / 1e6));
        }
        out.extend_from_slice(br#","post":"#);
        out.extend_from_slice(raw_post);
        out.push(b'}');
    }
}

/// Headers of a dead-letter record: why, where from, and when.
pub fn dead_letter_headers(
    rejected: &Rejected,
    topic: &str,
    partition: i32,
    offset: i64,
    replica: &str,
) -> OwnedHeaders {
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let partition = partition.to_string();
    let offset = offset.to_string();
    OwnedHeaders::new()
        .insert(Header {
            key: "dlq.reason",
            value: Some(rejected.reason.as_str()),
        })
        .insert(Header {
            key: "dlq.error",
            value: Some(rejected.detail.as_str()),
        })
        .insert(Header {
            key: "dlq.source.topic",
            value: Some(topic),
        })
        .insert(Header {
            key: "dlq.source.partition",
            value: Some(partition.as_str()),
        })
        .insert(Header {
            key: "dlq.source.offset",
            value: Some(offset.as_str()),
        })
        .insert(Header {
            key: "dlq.at",
            value: Some(at.as_str()),
        })
        .insert(Header {
            key: "dlq.replica",
            value: Some(replica),
        })
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers;
    use weibostream_shared::MatchedPost;

    use super::*;
    use crate::decode::DeadLetterReason;

    #[test]
    fn matched_records_decode_as_matched_posts() {
        let raw = br#"{"id":"weibo:1","source":"weibo","text":"t","created_at":"2015-01-21T10:50:05Z","author":{"id":"7","name":"n"},"collected_at":"2015-01-21T10:50:06Z"}"#;
        let time = "2015-01-21T10:50:10Z".parse().unwrap();
        let encoder = MatchedEncoder::new(&time, "r\"1", ["a", "b\\", "c"]);
        let mut out = Vec::new();
        encoder.encode(&[0, 1], 2, 99, None, raw, &mut out);
        assert!(!String::from_utf8_lossy(&out).contains("label"));
        let matched: MatchedPost = serde_json::from_slice(&out).unwrap();
        assert_eq!((matched.label, matched.probability), (None, None));
        assert_eq!(matched.rules, vec!["a", "b\\"]);
        assert_eq!(matched.replica, "r\"1");
        assert_eq!((matched.partition, matched.offset), (2, 99));
        assert_eq!(matched.post.id, "weibo:1");
        assert_eq!(matched.batch_time, time);

        encoder.encode(
            &[2],
            -1,
            i64::MAX,
            Some(("negative", 0.912_345_678)),
            raw,
            &mut out,
        );
        let labelled: MatchedPost = serde_json::from_slice(&out).unwrap();
        assert_eq!(labelled.rules, vec!["c"]);
        assert_eq!((labelled.partition, labelled.offset), (-1, i64::MAX));
        assert_eq!(labelled.label.as_deref(), Some("negative"));
        assert_eq!(labelled.probability, Some(0.912_346));
    }

    #[test]
    fn a_batch_time_with_a_fraction_keeps_it() {
        let time: DateTime<Utc> = "2015-01-21T10:50:10.250Z".parse().unwrap();
        let mut out = Vec::new();
        MatchedEncoder::new(&time, "r", ["a"]).encode(&[0], 0, 0, None, b"{}", &mut out);
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            value["batch_time"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap(),
            time
        );
    }

    #[test]
    fn dead_letter_headers_say_why_and_where() {
        let rejected = Rejected {
            reason: DeadLetterReason::InvalidJson,
            detail: "eof".into(),
        };
        let headers = dead_letter_headers(&rejected, "posts.raw", 4, 17, "r1");
        let get = |key: &str| {
            headers
                .iter()
                .find(|h| h.key == key)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(get("dlq.reason").as_deref(), Some("invalid_json"));
        assert_eq!(get("dlq.source.partition").as_deref(), Some("4"));
        assert_eq!(get("dlq.source.offset").as_deref(), Some("17"));
        assert!(get("dlq.at").is_some());
    }
}
