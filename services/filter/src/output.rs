//! Encoding what the filter publishes: matched posts (with the original post
//! JSON spliced in unchanged) and dead-letter headers.

use chrono::{DateTime, SecondsFormat, Utc};
use rdkafka::message::{Header, OwnedHeaders};
use serde::Serialize;

use crate::decode::Rejected;

#[derive(Serialize)]
struct MatchedHeader<'a> {
    batch_time: &'a DateTime<Utc>,
    replica: &'a str,
    rules: &'a [&'a str],
    partition: i32,
    offset: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    probability: Option<f64>,
}

/// Where a matched post came from and what it matched.
#[derive(Debug, Clone, Copy)]
pub struct MatchInfo<'a> {
    /// End of the batch.
    pub batch_time: &'a DateTime<Utc>,
    /// The replica id.
    pub replica: &'a str,
    /// Ids of the rules matched.
    pub rules: &'a [&'a str],
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
    /// The classifier's label and its probability, if the post was classified.
    pub label: Option<(&'a str, f64)>,
}

/// A `posts.matched` record: the fields of `MatchedPost` with `post` set to the
/// raw JSON the collector wrote, so the post is not re-encoded.
pub fn matched_record(info: &MatchInfo<'_>, raw_post: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let header = MatchedHeader {
        batch_time: info.batch_time,
        replica: info.replica,
        rules: info.rules,
        partition: info.partition,
        offset: info.offset,
        label: info.label.map(|(label, _)| label),
        // Rounded: six decimals are plenty and keep records short.
        probability: info.label.map(|(_, p)| (p * 1e6).round() / 1e6),
    };
    // Serializing plain strings and numbers into a Vec cannot fail.
    if serde_json::to_writer(&mut *out, &header).is_ok() {
        out.pop();
    }
    out.extend_from_slice(br#","post":"#);
    out.extend_from_slice(raw_post);
    out.push(b'}');
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
    fn matched_record_decodes_as_matched_post() {
        let raw = br#"{"id":"weibo:1","source":"weibo","text":"t","created_at":"2015-01-21T10:50:05Z","author":{"id":"7","name":"n"},"collected_at":"2015-01-21T10:50:06Z"}"#;
        let time = "2015-01-21T10:50:10Z".parse().unwrap();
        let mut out = Vec::new();
        let mut info = MatchInfo {
            batch_time: &time,
            replica: "r\"1",
            rules: &["a", "b"],
            partition: 2,
            offset: 99,
            label: None,
        };
        matched_record(&info, raw, &mut out);
        assert!(!String::from_utf8_lossy(&out).contains("label"));
        let matched: MatchedPost = serde_json::from_slice(&out).unwrap();
        assert_eq!((matched.label, matched.probability), (None, None));
        info.label = Some(("negative", 0.912_345_678));
        matched_record(&info, raw, &mut out);
        let labelled: MatchedPost = serde_json::from_slice(&out).unwrap();
        assert_eq!(labelled.label.as_deref(), Some("negative"));
        assert_eq!(labelled.probability, Some(0.912_346));
        assert_eq!(matched.rules, vec!["a", "b"]);
        assert_eq!(matched.replica, "r\"1");
        assert_eq!((matched.partition, matched.offset), (2, 99));
        assert_eq!(matched.post.id, "weibo:1");
        assert_eq!(matched.batch_time, time);
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
