//! A post as the filter reads it: the id and text borrowed out of the record,
//! every other field type-checked and dropped.
//!
//! Decoding into an owned [`Post`](weibostream_shared::Post) allocated a
//! string per field and parsed both timestamps into `DateTime`s only to throw
//! them away: about a fifth of the filter's CPU per post. The filter forwards
//! the record's own bytes, so it needs only the id (the key of the matched
//! record) and the text. A record is accepted here exactly when it decodes as
//! a `Post`: the same fields are required, with the same types, and the
//! timestamps go through the same parser, so what the filter lets through the
//! sink can always read.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use weibostream_shared::Source;
use weibostream_shared::post::validate_required;

/// The fields of a `posts.raw` record the filter uses.
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "the unread fields are there to be type-checked")]
pub struct PostView<'a> {
    /// Stable id prefixed by its source (`weibo:3800000000000000`).
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    /// The source the post came from.
    pub source: Source,
    /// Plain text, borrowed unless it holds JSON escapes.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    #[serde(default)]
    lang: Option<CheckedStr>,
    created_at: Timestamp,
    #[serde(borrow)]
    author: AuthorView<'a>,
    #[serde(default)]
    url: Option<CheckedStr>,
    #[serde(default)]
    reposts: u64,
    #[serde(default)]
    comments: u64,
    #[serde(default)]
    likes: u64,
    #[serde(default)]
    repost_of: Option<RepostView>,
    #[serde(default)]
    client: Option<CheckedStr>,
    collected_at: Timestamp,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "the unread fields are there to be type-checked")]
struct AuthorView<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    name: CheckedStr,
    #[serde(default)]
    followers: Option<u64>,
    #[serde(default)]
    verified: bool,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "the fields are there to be type-checked")]
struct RepostView {
    id: CheckedStr,
    #[serde(default)]
    author_name: Option<CheckedStr>,
    #[serde(default)]
    text: Option<CheckedStr>,
}

impl PostView<'_> {
    /// The checks of `Post::validate`.
    pub fn validate(&self) -> Result<(), &'static str> {
        validate_required(&self.id, self.source, &self.author.id)
    }
}

/// A JSON string, checked to be one and not kept (no copy, escaped or not).
#[derive(Debug)]
struct CheckedStr;

impl<'de> Deserialize<'de> for CheckedStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl Visitor<'_> for StrVisitor {
            type Value = CheckedStr;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<CheckedStr, E> {
                Ok(CheckedStr)
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

/// A timestamp string that parses as `DateTime<Utc>` (the parser `Post`
/// uses), checked and not kept.
#[derive(Debug)]
struct Timestamp;

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;
        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Timestamp, E> {
                if is_plain_utc_timestamp(value) {
                    return Ok(Timestamp);
                }
                value
                    .parse::<DateTime<Utc>>()
                    .map(|_| Timestamp)
                    .map_err(E::custom)
            }
        }
        deserializer.deserialize_str(TimestampVisitor)
    }
}

/// True for the form every collector writes, `2015-01-21T10:50:05Z` with
/// optional fraction digits, holding a real date and time. Checking that by
/// hand costs a tenth of chrono's general parser, which the remaining forms
/// (offsets, leap seconds, ...) still go to; everything accepted here chrono
/// accepts too (the tests compare both).
fn is_plain_utc_timestamp(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return false;
    }
    if b[13] != b':' || b[16] != b':' || b[b.len() - 1] != b'Z' {
        return false;
    }
    let fraction = &b[19..b.len() - 1];
    let fraction_ok = match fraction.split_first() {
        None => true,
        Some((b'.', digits)) => {
            (1..=9).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
        }
        Some(_) => false,
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(&b[0..4]),
        digits(&b[5..7]),
        digits(&b[8..10]),
        digits(&b[11..13]),
        digits(&b[14..16]),
        digits(&b[17..19]),
    ) else {
        return false;
    };
    fraction_ok
        && (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
}

fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

pub(crate) mod fast;

#[cfg(test)]
mod tests;
