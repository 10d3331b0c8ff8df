//! Weibo statuses turned into normalized [`Post`]s: the open API v2's
//! statuses ([`normalize_status`]) and the mobile web API's `mblog`s
//! ([`normalize_mblog`]: HTML text, relative times in Beijing time).
//!
//! Works on `serde_json::Value` rather than typed structs: Weibo sends ids and
//! counts as numbers or strings and drops or nulls fields freely, and one odd
//! optional field must not cost the whole status.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
};
use serde_json::{Map, Value};
use weibostream_shared::{Author, Post, RepostRef, Source};

use crate::sources::html::{decode_entities, html_to_text};

/// `created_at` format of Weibo statuses: `Wed Jan 21 18:50:05 +0800 2015`.
pub const WEIBO_TIME_FORMAT: &str = "%a %b %d %H:%M:%S %z %Y";

/// What one status becomes.
// Almost every value is a `Post`, so boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalized {
    /// A usable post.
    Post(Post),
    /// A status Weibo reports as deleted; nothing to publish.
    Deleted {
        /// The post id it would have had, e.g. `weibo:3800000000000000`.
        id: String,
    },
}

/// Why a status could not be normalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The status is not a JSON object.
    #[error("status is not a JSON object but {0}")]
    NotAnObject(&'static str),
    /// A required field is absent or null.
    #[error("missing field \"{0}\"")]
    MissingField(&'static str),
    /// A field is present but unusable.
    #[error("bad field \"{field}\": {reason}")]
    BadField {
        /// The field, e.g. `user.id`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// `created_at` is not in Weibo's format.
    #[error("bad created_at \"{value}\": {source}")]
    BadCreatedAt {
        /// The text as received.
        value: String,
        /// Why chrono rejected it.
        source: chrono::ParseError,
    },
}

/// Parses a Weibo `created_at` (`Wed Jan 21 18:50:05 +0800 2015`) into UTC.
///
/// RFC 3339 is accepted too, for statuses re-saved by other tools.
pub fn parse_weibo_time(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    let s = s.trim();
    DateTime::parse_from_str(s, WEIBO_TIME_FORMAT)
        .or_else(|err| DateTime::parse_from_rfc3339(s).map_err(|_| err))
        .map(|time| time.with_timezone(&Utc))
}

/// Turns one Weibo status into a [`Post`], or reports it as deleted.
///
/// Needs an id, a text, a parsable `created_at` and a `user.id`; every other
/// field is optional and counts default to 0. Never panics.
pub fn normalize_status(
    value: &Value,
    collected_at: DateTime<Utc>,
) -> Result<Normalized, StatusError> {
    normalize(value, collected_at, Flavor::OpenApi)
}

/// Turns one mobile web API `mblog` (m.weibo.cn) into a [`Post`].
///
/// As [`normalize_status`], but `text` is HTML (emoticons become their
/// `[alt]` text, links their text, `<br />` a line break) and `created_at`
/// may be relative (`刚刚`, `5分钟前`, `今天 12:30`, `12-01`...), read in
/// Beijing time against `collected_at`. A long text must already be in
/// `text` (the caller fetches it from `/statuses/extend`).
pub fn normalize_mblog(
    value: &Value,
    collected_at: DateTime<Utc>,
) -> Result<Normalized, StatusError> {
    normalize(value, collected_at, Flavor::Mobile)
}

/// Which API a status comes from: how its text and time are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    OpenApi,
    Mobile,
}

impl Flavor {
    fn text(self, raw: &str) -> String {
        match self {
            Flavor::OpenApi => clean_text(raw),
            Flavor::Mobile => html_to_text(raw),
        }
    }

    fn time(self, raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, chrono::ParseError> {
        match self {
            Flavor::OpenApi => parse_weibo_time(raw),
            Flavor::Mobile => parse_mobile_time(raw, now),
        }
    }
}

fn normalize(
    value: &Value,
    collected_at: DateTime<Utc>,
    flavor: Flavor,
) -> Result<Normalized, StatusError> {
    let status = value
        .as_object()
        .ok_or(StatusError::NotAnObject(json_kind(value)))?;
    let local_id = required_id(status, &["id", "idstr"], "id")?;
    if flag(status.get("deleted")) {
        return Ok(Normalized::Deleted {
            id: Source::Weibo.post_id(&local_id),
        });
    }
    let text = flavor.text(required_str(status, "text")?);
    let raw_time = required_str(status, "created_at")?;
    let created_at =
        flavor
            .time(raw_time, collected_at)
            .map_err(|source| StatusError::BadCreatedAt {
                value: raw_time.to_owned(),
                source,
            })?;
    let author = author(status)?;
    let lang = match field(status, "lang")
        .and_then(Value::as_str)
        .map(primary_language)
    {
        Some(lang) if !lang.is_empty() => Some(lang),
        _ => text.chars().any(is_han).then(|| "zh".to_owned()),
    };
    let url_id = ["mid", "idstr"]
        .iter()
        .find_map(|key| field(status, key).and_then(id_string))
        .unwrap_or_else(|| local_id.clone());
    let url = format!("https://weibo.com/{}/{url_id}", author.id);
    Ok(Normalized::Post(Post {
        id: Source::Weibo.post_id(&local_id),
        source: Source::Weibo,
        text,
        lang,
        created_at,
        author,
        url: Some(url),
        reposts: count(field(status, "reposts_count")).unwrap_or(0),
        comments: count(field(status, "comments_count")).unwrap_or(0),
        likes: count(field(status, "attitudes_count")).unwrap_or(0),
        repost_of: field(status, "retweeted_status")
            .and_then(Value::as_object)
            .and_then(|original| repost_ref(original, flavor)),
        client: field(status, "source")
            .and_then(Value::as_str)
            .map(html_to_text)
            .filter(|client| !client.is_empty()),
        collected_at,
    }))
}

/// The JSON type of a value, for error messages.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A field, with JSON `null` treated as absent.
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

fn required_str<'a>(
    object: &'a Map<String, Value>,
    key: &'static str,
) -> Result<&'a str, StatusError> {
    match field(object, key) {
        None => Err(StatusError::MissingField(key)),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(StatusError::BadField {
            field: key,
            reason: format!("expected a string, got {}", json_kind(other)),
        }),
    }
}

/// The first usable id among `keys`; `name` is the field reported on failure.
fn required_id(
    object: &Map<String, Value>,
    keys: &[&str],
    name: &'static str,
) -> Result<String, StatusError> {
    let mut present = None;
    for key in keys {
        if let Some(value) = field(object, key) {
            match id_string(value) {
                Some(id) => return Ok(id),
                None => present = present.or(Some(value)),
            }
        }
    }
    match present {
        None => Err(StatusError::MissingField(name)),
        Some(value) => Err(StatusError::BadField {
            field: name,
            reason: format!("not an id: {value}"),
        }),
    }
}

/// An id given as a non-negative integer or an alphanumeric string.
fn id_string(value: &Value) -> Option<String> {
    match value {
        Value::Number(number) => number.as_u64().map(|id| id.to_string()).or_else(|| {
            // Some exporters write ids as floats; only exact integers are kept.
            number
                .as_f64()
                .filter(|id| id.fract() == 0.0 && (0.0..9.0e15).contains(id))
                .map(|id| format!("{id:.0}"))
        }),
        Value::String(text) => {
            let text = text.trim();
            let valid = !text.is_empty()
                && text.len() <= 64
                && text.bytes().all(|byte| byte.is_ascii_alphanumeric());
            valid.then(|| text.to_owned())
        }
        _ => None,
    }
}

/// A count given as a number or a string (`"12"`, or `"1.2万"` as the mobile API shows).
fn count(value: Option<&Value>) -> Option<u64> {
    // `f as u64` saturates and maps NaN and negatives to 0, which is what a count wants.
    match value? {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_f64().map(|f| f as u64)),
        Value::String(text) => {
            let text = text.trim().trim_end_matches('+');
            let (digits, unit) = if let Some(digits) = text.strip_suffix('万') {
                (digits, 1e4)
            } else if let Some(digits) = text.strip_suffix('亿') {
                (digits, 1e8)
            } else {
                (text, 1.0)
            };
            text.parse::<u64>().ok().or_else(|| {
                // `12.3万` is 123000, not 122999: round away the float error.
                digits
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .map(|f| (f * unit).round() as u64)
            })
        }
        _ => None,
    }
}

/// Weibo flags come as `true`, `1` or `"1"`.
fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(flag)) => *flag,
        Some(Value::Number(number)) => number.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(text)) => matches!(text.trim(), "1" | "true" | "True"),
        _ => false,
    }
}

fn author(status: &Map<String, Value>) -> Result<Author, StatusError> {
    let user = match field(status, "user") {
        None => return Err(StatusError::MissingField("user.id")),
        Some(Value::Object(user)) => user,
        Some(other) => {
            return Err(StatusError::BadField {
                field: "user",
                reason: format!("expected an object, got {}", json_kind(other)),
            });
        }
    };
    let id = required_id(user, &["id", "idstr"], "user.id")?;
    Ok(Author {
        name: user_name(user).unwrap_or_else(|| id.clone()),
        id,
        followers: count(field(user, "followers_count")),
        verified: flag(user.get("verified")),
    })
}

fn user_name(user: &Map<String, Value>) -> Option<String> {
    ["screen_name", "name"].iter().find_map(|key| {
        let name = field(user, key)?.as_str()?.trim();
        (!name.is_empty()).then(|| name.to_owned())
    })
}

/// A reference to the reposted status; `None` when it carries no usable id.
fn repost_ref(original: &Map<String, Value>, flavor: Flavor) -> Option<RepostRef> {
    let id = required_id(original, &["id", "idstr"], "id").ok()?;
    Some(RepostRef {
        id: Source::Weibo.post_id(&id),
        author_name: field(original, "user")
            .and_then(Value::as_object)
            .and_then(user_name),
        text: field(original, "text")
            .and_then(Value::as_str)
            .map(|text| flavor.text(text)),
    })
}

/// `zh-cn` → `zh`: posts carry ISO 639-1 codes.
pub(crate) fn primary_language(tag: &str) -> String {
    let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
    primary.to_ascii_lowercase()
}

/// CJK ideographs, including the extension and compatibility blocks.
pub(crate) fn is_han(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}')
}

fn clean_text(text: &str) -> String {
    decode_entities(text).trim().to_owned()
}

/// Beijing time, in which the mobile API writes its times.
fn beijing() -> FixedOffset {
    // 8 hours is within FixedOffset's range: `east_opt` cannot fail here.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// Parses a mobile API `created_at` into UTC: Weibo's full format, RFC 3339,
/// or the relative forms `刚刚`, `N秒前`, `N分钟前`, `N小时前`, `今天 HH:MM`,
/// `昨天 HH:MM`, `MM-DD` (this year, or last year if that is in the future),
/// `MM-DD HH:MM` and `YYYY-MM-DD`, all in Beijing time relative to `now`.
pub fn parse_mobile_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, chrono::ParseError> {
    let s = s.trim();
    match relative_time(s, now) {
        Some(time) => Ok(time),
        None => parse_weibo_time(s),
    }
}

fn relative_time(s: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if s == "刚刚" {
        return Some(now);
    }
    for (suffix, unit) in [("秒前", 1), ("分钟前", 60), ("小时前", 3600)] {
        if let Some(number) = s.strip_suffix(suffix) {
            let number: i64 = number.trim().parse().ok()?;
            return now.checked_sub_signed(TimeDelta::try_seconds(number.checked_mul(unit)?)?);
        }
    }
    let local_now = now.with_timezone(&beijing());
    let today = local_now.date_naive();
    let at = |date: NaiveDate, time: NaiveTime| {
        beijing()
            .from_local_datetime(&date.and_time(time))
            .single()
            .map(|time| time.with_timezone(&Utc))
    };
    let clock = |text: &str| NaiveTime::parse_from_str(text.trim(), "%H:%M").ok();
    if let Some(time) = s.strip_prefix("今天") {
        return at(today, clock(time)?);
    }
    if let Some(time) = s.strip_prefix("昨天") {
        return at(today.pred_opt()?, clock(time)?);
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return at(date, NaiveTime::MIN);
    }
    let (day, time) = match s.split_once(' ') {
        Some((day, time)) => (day, clock(time)?),
        None => (s, NaiveTime::MIN),
    };
    let (month, day) = day.split_once('-')?;
    let (month, day): (u32, u32) = (month.parse().ok()?, day.parse().ok()?);
    let this_year = NaiveDate::from_ymd_opt(today.year(), month, day);
    let date = match this_year {
        Some(date) if date <= today => date,
        // A date later than today is last year's (`12-31` read on January 1st).
        _ => NaiveDate::from_ymd_opt(today.year() - 1, month, day)?,
    };
    at(date, time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn utc(rfc3339: &str) -> DateTime<Utc> {
        rfc3339.parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        utc("2015-01-21T11:00:00Z")
    }

    fn status() -> Value {
        json!({
            "created_at": "Wed Jan 21 18:50:05 +0800 2015",
            "id": 3800000000000001u64, "idstr": "3800000000000001", "mid": "3800000000000001",
            "text": "  建设银行 今天涨了 &amp; 5% &lt;真的&gt; &quot;好&quot; &#39;ok&#39;  ",
            "source": "<a href=\"http://app.weibo.com/t/feed/1\" rel=\"nofollow\">iPhone客户端</a>",
            "reposts_count": 3, "comments_count": "12", "attitudes_count": null, "geo": null,
            "user": {"id": 1234567890u64, "idstr": "1234567890", "screen_name": "张三",
                     "name": "张三name", "followers_count": "1.2万", "verified": true}
        })
    }

    fn post(value: &Value) -> Post {
        match normalize_status(value, now()) {
            Ok(Normalized::Post(post)) => post,
            other => panic!("expected a post, got {other:?}"),
        }
    }

    /// The error message for `status()` with `key` set to `replacement`.
    fn error_with(key: &str, replacement: Value) -> String {
        let mut value = status();
        value[key] = replacement;
        normalize_status(&value, now()).unwrap_err().to_string()
    }

    #[test]
    fn normalizes_a_full_status() {
        let post = post(&status());
        assert_eq!(post.id, "weibo:3800000000000001");
        assert_eq!(post.source, Source::Weibo);
        assert_eq!(post.text, "建设银行 今天涨了 & 5% <真的> \"好\" 'ok'");
        assert_eq!(post.created_at, utc("2015-01-21T10:50:05Z"));
        assert_eq!(post.collected_at, now());
        assert_eq!(post.client.as_deref(), Some("iPhone客户端"));
        assert_eq!((post.reposts, post.comments, post.likes), (3, 12, 0));
        let author = Author {
            id: "1234567890".into(),
            name: "张三".into(),
            followers: Some(12_000),
            verified: true,
        };
        assert_eq!(post.author, author);
        assert_eq!(post.lang.as_deref(), Some("zh"));
        let url = "https://weibo.com/1234567890/3800000000000001";
        assert_eq!(post.url.as_deref(), Some(url));
        assert!(post.repost_of.is_none());
        assert!(post.validate().is_ok());
    }

    #[test]
    fn parses_weibo_time_to_utc() {
        for (text, expected) in [
            ("Wed Jan 21 18:50:05 +0800 2015", "2015-01-21T10:50:05Z"),
            ("Thu Jan 01 07:59:59 +0800 2015", "2014-12-31T23:59:59Z"),
            (" Sun Mar 01 00:00:00 -0500 2015 ", "2015-03-01T05:00:00Z"),
            ("2015-01-21T18:50:05+08:00", "2015-01-21T10:50:05Z"),
        ] {
            assert_eq!(parse_weibo_time(text).unwrap(), utc(expected), "{text}");
        }
        assert!(parse_weibo_time("xyz").is_err());
        let err = error_with("created_at", json!("xyz"));
        assert!(err.starts_with("bad created_at \"xyz\": "), "{err}");
    }

    #[test]
    fn ids_and_counts_may_be_numbers_or_strings() {
        let mut value = status();
        value["id"] = json!("3800000000000002");
        value["reposts_count"] = json!(" 7 ");
        value["attitudes_count"] = json!(-1);
        value["user"]["id"] = json!("42");
        value
            .as_object_mut()
            .unwrap()
            .retain(|key, _| key != "mid" && key != "idstr");
        let normalized = post(&value);
        assert_eq!(normalized.id, "weibo:3800000000000002");
        assert_eq!((normalized.reposts, normalized.likes), (7, 0));
        assert_eq!(normalized.author.id, "42");
        let url = "https://weibo.com/42/3800000000000002";
        assert_eq!(normalized.url.as_deref(), Some(url));

        value["id"] = json!(null);
        value["idstr"] = json!("3800000000000003");
        assert_eq!(post(&value).id, "weibo:3800000000000003");
        value["id"] = json!(3.8e15);
        assert_eq!(post(&value).id, "weibo:3800000000000000");
    }

    #[test]
    fn keeps_the_reposted_status_as_a_reference() {
        let mut value = status();
        value["retweeted_status"] = json!({
            "id": "3799999999999999", "text": "原文 &amp; 图",
            "user": {"id": 7, "screen_name": "李四"}, "retweeted_status": null
        });
        let repost = post(&value).repost_of.unwrap();
        assert_eq!(repost.id, "weibo:3799999999999999");
        assert_eq!(repost.author_name.as_deref(), Some("李四"));
        assert_eq!(repost.text.as_deref(), Some("原文 & 图"));

        value["retweeted_status"] = json!({"deleted": "1", "text": "抱歉，此微博已被作者删除。"});
        assert!(post(&value).repost_of.is_none());
    }

    #[test]
    fn deleted_statuses_are_skipped() {
        for deleted in [json!("1"), json!(1), json!(true)] {
            let value = json!({"id": 3800000000000009u64, "deleted": deleted});
            let id = "weibo:3800000000000009".to_owned();
            assert_eq!(
                normalize_status(&value, now()),
                Ok(Normalized::Deleted { id })
            );
        }
        let no_id = normalize_status(&json!({"deleted": "1"}), now());
        assert_eq!(no_id, Err(StatusError::MissingField("id")));
        let mut value = status();
        value["deleted"] = json!("0");
        assert_eq!(post(&value).id, "weibo:3800000000000001");
    }

    #[test]
    fn missing_or_null_required_fields_are_named() {
        let mut no_id = status();
        no_id
            .as_object_mut()
            .unwrap()
            .retain(|key, _| key != "id" && key != "idstr");
        let err = normalize_status(&no_id, now()).unwrap_err();
        assert_eq!(err.to_string(), "missing field \"id\"");
        no_id["id"] = json!("12 34");
        let err = normalize_status(&no_id, now()).unwrap_err();
        assert_eq!(err.to_string(), "bad field \"id\": not an id: \"12 34\"");
        for (key, value, expected) in [
            ("text", json!(null), "missing field \"text\""),
            (
                "text",
                json!(5),
                "bad field \"text\": expected a string, got a number",
            ),
            ("created_at", json!(null), "missing field \"created_at\""),
            ("user", json!(null), "missing field \"user.id\""),
            (
                "user",
                json!({"screen_name": "x"}),
                "missing field \"user.id\"",
            ),
            (
                "user",
                json!("x"),
                "bad field \"user\": expected an object, got a string",
            ),
        ] {
            assert_eq!(error_with(key, value), expected);
        }
        let err = normalize_status(&json!([1]), now()).unwrap_err();
        assert_eq!(err.to_string(), "status is not a JSON object but an array");
    }

    #[test]
    fn optional_fields_may_be_missing() {
        let value = json!({
            "id": 1, "text": "hello world", "created_at": "Wed Jan 21 18:50:05 +0800 2015",
            "source": null, "user": {"idstr": "9", "followers_count": "many"}
        });
        let post = post(&value);
        let author = Author {
            id: "9".into(),
            name: "9".into(),
            followers: None,
            verified: false,
        };
        assert_eq!(post.author, author);
        assert_eq!((post.reposts, post.comments, post.likes), (0, 0, 0));
        assert_eq!((post.client, post.lang, post.repost_of), (None, None, None));
        assert_eq!(post.url.as_deref(), Some("https://weibo.com/9/1"));
    }

    #[test]
    fn lang_is_kept_or_guessed() {
        let mut value = status();
        for (lang, text, expected) in [
            (json!("zh-CN"), "你好", Some("zh")),
            (json!("en"), "你好", Some("en")),
            (json!(""), "你好", Some("zh")),
            (json!(null), "just english", None),
        ] {
            value["lang"] = lang;
            value["text"] = json!(text);
            assert_eq!(post(&value).lang.as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn mobile_times_absolute_and_relative_in_beijing_time() {
        // 2026-12-02 09:30 in Beijing.
        let now = utc("2026-12-02T01:30:00Z");
        for (text, expected) in [
            ("刚刚", "2026-12-02T01:30:00Z"),
            ("30秒前", "2026-12-02T01:29:30Z"),
            ("5分钟前", "2026-12-02T01:25:00Z"),
            ("3小时前", "2026-12-01T22:30:00Z"),
            ("今天 12:30", "2026-12-02T04:30:00Z"),
            ("今天 00:05", "2026-12-01T16:05:00Z"),
            ("昨天 12:30", "2026-12-01T04:30:00Z"),
            ("昨天 23:59", "2026-12-01T15:59:00Z"),
            ("12-01", "2026-11-30T16:00:00Z"),
            ("11-30 08:15", "2026-11-30T00:15:00Z"),
            // Later in the year than today: last year's.
            ("12-25", "2025-12-24T16:00:00Z"),
            ("2023-12-01", "2023-11-30T16:00:00Z"),
            ("Wed Jan 21 18:50:05 +0800 2015", "2015-01-21T10:50:05Z"),
        ] {
            assert_eq!(
                parse_mobile_time(text, now).unwrap(),
                utc(expected),
                "{text}"
            );
        }
        // Just after midnight in Beijing, still the previous day in UTC.
        let now = utc("2026-01-01T16:10:00Z");
        assert_eq!(
            parse_mobile_time("昨天 10:00", now).unwrap(),
            utc("2026-01-01T02:00:00Z")
        );
        assert_eq!(
            parse_mobile_time("12-31", now).unwrap(),
            utc("2025-12-30T16:00:00Z")
        );
        for bad in ["", "x分钟前", "今天", "13-45", "昨天 25:00", "some time"] {
            assert!(parse_mobile_time(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn normalizes_an_mblog() {
        let now = utc("2026-12-02T01:30:00Z");
        let mblog = json!({
            "id": "4900000000000001", "mid": "4900000000000001", "bid": "Nabc",
            "created_at": "5分钟前",
            "text": "建设银行<span class=\"url-icon\"><img alt=\"[哈哈]\" src=\"x\"></span><br />涨",
            "source": "iPhone 15 Pro", "region_name": "发布于 北京",
            "reposts_count": "100万+", "comments_count": "1.2万", "attitudes_count": 7,
            "user": {"id": 1234, "screen_name": "张三", "followers_count": "12.3万", "verified": true},
            "retweeted_status": {
                "id": "4899999999999999", "created_at": "昨天 12:30",
                "text": "原文<br />第二行", "user": {"id": 5, "screen_name": "李四"}
            }
        });
        let Ok(Normalized::Post(post)) = normalize_mblog(&mblog, now) else {
            panic!("not a post");
        };
        assert_eq!(post.id, "weibo:4900000000000001");
        assert_eq!(post.text, "建设银行[哈哈]\n涨");
        assert_eq!(post.created_at, utc("2026-12-02T01:25:00Z"));
        assert_eq!(
            (post.reposts, post.comments, post.likes),
            (1_000_000, 12_000, 7)
        );
        assert_eq!(post.author.followers, Some(123_000));
        assert_eq!(post.client.as_deref(), Some("iPhone 15 Pro"));
        let original = post.repost_of.unwrap();
        assert_eq!(original.id, "weibo:4899999999999999");
        assert_eq!(original.text.as_deref(), Some("原文\n第二行"));
        let mut bad = mblog.clone();
        bad["created_at"] = json!("前天");
        let err = normalize_mblog(&bad, now).unwrap_err().to_string();
        assert!(err.starts_with("bad created_at \"前天\""), "{err}");
    }

    #[test]
    fn never_panics_on_odd_values() {
        let odd: Vec<Value> =
            serde_json::from_str(r#"[null, [], "x", {}, -1, 1e300, {"a": 1}]"#).unwrap();
        let keys =
            "id idstr text created_at user source lang retweeted_status reposts_count deleted mid";
        for key in keys.split(' ') {
            for value in &odd {
                let mut status = status();
                status[key] = value.clone();
                let _ = normalize_status(&status, now());
                status["user"] = json!({"id": value.clone(), "screen_name": value.clone()});
                let _ = normalize_status(&status, now());
            }
        }
    }
}
