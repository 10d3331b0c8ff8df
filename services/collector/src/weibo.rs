//! Weibo open API v2 statuses turned into normalized [`Post`]s.
//!
//! Works on `serde_json::Value` rather than typed structs: Weibo sends ids and
//! counts as numbers or strings and drops or nulls fields freely, and one odd
//! optional field must not cost the whole status.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use weibostream_shared::{Author, Post, RepostRef, Source};

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
    let status = value
        .as_object()
        .ok_or(StatusError::NotAnObject(json_kind(value)))?;
    let local_id = required_id(status, &["id", "idstr"], "id")?;
    if flag(status.get("deleted")) {
        return Ok(Normalized::Deleted {
            id: Source::Weibo.post_id(&local_id),
        });
    }
    let text = clean_text(required_str(status, "text")?);
    let raw_time = required_str(status, "created_at")?;
    let created_at = parse_weibo_time(raw_time).map_err(|source| StatusError::BadCreatedAt {
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
            .and_then(repost_ref),
        client: field(status, "source")
            .and_then(Value::as_str)
            .map(|html| clean_text(&strip_tags(html)))
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
            text.parse::<u64>()
                .ok()
                .or_else(|| digits.trim().parse::<f64>().ok().map(|f| (f * unit) as u64))
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
fn repost_ref(original: &Map<String, Value>) -> Option<RepostRef> {
    let id = required_id(original, &["id", "idstr"], "id").ok()?;
    Some(RepostRef {
        id: Source::Weibo.post_id(&id),
        author_name: field(original, "user")
            .and_then(Value::as_object)
            .and_then(user_name),
        text: field(original, "text")
            .and_then(Value::as_str)
            .map(clean_text),
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

/// Drops everything between `<` and `>`.
fn strip_tags(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// Decodes HTML character references in one pass, so `&amp;lt;` stays `&lt;`.
pub(crate) fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after
            .bytes()
            .take(12)
            .position(|byte| byte == b';')
            .and_then(|end| Some((decode_entity(&after[..end])?, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).filter(|c| *c != '\0')
        }
    }
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
    fn decodes_entities_and_strips_tags() {
        assert_eq!(decode_entities("a &amp;lt; b"), "a &lt; b");
        let decoded = decode_entities("&#x4E2D;&#25991; &bogus; & &#0; &");
        assert_eq!(decoded, "中文 &bogus; & &#0; &");
        assert_eq!(
            strip_tags("<a href=\"x\">微博 weibo.com</a>"),
            "微博 weibo.com"
        );
        assert_eq!(strip_tags("Android"), "Android");
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
