//! Decoding a `posts.raw` record into a post, or saying why it cannot be one.

use std::fmt;

use crate::post_view::{PostView, fast};

/// Why a record went to the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadLetterReason {
    /// The record had no value.
    EmptyPayload,
    /// The value exceeded `max_record_bytes`.
    TooLarge,
    /// The value is not UTF-8.
    InvalidUtf8,
    /// The value is not JSON.
    InvalidJson,
    /// JSON, but not a post (missing or mistyped fields).
    NotAPost,
    /// A post whose fields fail validation (empty id, id without its source prefix...).
    InvalidPost,
}

impl DeadLetterReason {
    /// Short machine-readable name, sent in the `dlq.reason` header.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::EmptyPayload => "empty_payload",
            DeadLetterReason::TooLarge => "too_large",
            DeadLetterReason::InvalidUtf8 => "invalid_utf8",
            DeadLetterReason::InvalidJson => "invalid_json",
            DeadLetterReason::NotAPost => "not_a_post",
            DeadLetterReason::InvalidPost => "invalid_post",
        }
    }
}

impl fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record that could not be decoded: the reason and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Category, for the `dlq.reason` header and counters.
    pub reason: DeadLetterReason,
    /// What exactly was wrong, for the `dlq.error` header.
    pub detail: String,
}

/// Decodes a record value; never panics, whatever the bytes. The post
/// borrows from `payload`.
pub fn decode_post(payload: Option<&[u8]>, max_bytes: usize) -> Result<PostView<'_>, Rejected> {
    let bytes = payload.filter(|b| !b.is_empty()).ok_or(Rejected {
        reason: DeadLetterReason::EmptyPayload,
        detail: "record has no value".into(),
    })?;
    if bytes.len() > max_bytes {
        return Err(Rejected {
            reason: DeadLetterReason::TooLarge,
            detail: format!("{} bytes is over the {max_bytes} byte limit", bytes.len()),
        });
    }
    // The SIMD check is several times faster on valid input; only a
    // rejected record pays for the standard library's detailed error.
    let text = match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            let detail = std::str::from_utf8(bytes)
                .err()
                .map_or_else(|| "invalid UTF-8".to_string(), |e| e.to_string());
            return Err(Rejected {
                reason: DeadLetterReason::InvalidUtf8,
                detail,
            });
        }
    };
    // The compact form every collector writes has a fast path; it never
    // rejects, serde decides everything else (and words the errors).
    let post = match fast::parse(text) {
        Some(post) => post,
        None => serde_json::from_str::<PostView>(text).map_err(|e| {
            let reason = if e.is_data() {
                DeadLetterReason::NotAPost
            } else {
                DeadLetterReason::InvalidJson
            };
            Rejected {
                reason,
                detail: e.to_string(),
            }
        })?,
    };
    post.validate().map_err(|detail| Rejected {
        reason: DeadLetterReason::InvalidPost,
        detail: detail.into(),
    })?;
    Ok(post)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id":"weibo:1","source":"weibo","text":"建设银行 涨","created_at":"2015-01-21T10:50:05Z",
        "author":{"id":"7","name":"n"},"collected_at":"2015-01-21T10:50:06Z"}"#;

    fn reason(payload: Option<&[u8]>) -> DeadLetterReason {
        decode_post(payload, 1024).unwrap_err().reason
    }

    #[test]
    fn decodes_good_posts() {
        let post = decode_post(Some(GOOD.as_bytes()), 1024).unwrap();
        assert_eq!(post.id, "weibo:1");
    }

    #[test]
    fn classifies_every_bad_kind() {
        assert_eq!(reason(None), DeadLetterReason::EmptyPayload);
        assert_eq!(reason(Some(b"")), DeadLetterReason::EmptyPayload);
        assert_eq!(reason(Some(&vec![b' '; 2000])), DeadLetterReason::TooLarge);
        assert_eq!(
            reason(Some(b"{\"id\":\"\xff\"}")),
            DeadLetterReason::InvalidUtf8
        );
        assert_eq!(reason(Some(b"{\"id\": ")), DeadLetterReason::InvalidJson);
        assert_eq!(reason(Some(b"[1,2]")), DeadLetterReason::NotAPost);
        assert_eq!(
            reason(Some(br#"{"id":"weibo:1"}"#)),
            DeadLetterReason::NotAPost
        );
        let unprefixed = GOOD.replace("weibo:1", "1");
        assert_eq!(
            reason(Some(unprefixed.as_bytes())),
            DeadLetterReason::InvalidPost
        );
    }
}
