use serde_json::{Value, json};
use weibostream_shared::Post;

use super::*;

fn full() -> Value {
    json!({
        "id": "weibo:3800000000000000",
        "source": "weibo",
        "text": "建设银行 \"涨\"\n了 \u{1F600}",
        "lang": "zh",
        "created_at": "2015-01-21T10:50:05Z",
        "author": {"id": "7", "name": "张\\三", "followers": 10, "verified": true},
        "url": "https://weibo.com/7/1",
        "reposts": 1,
        "comments": 2,
        "likes": 3,
        "repost_of": {"id": "weibo:1", "author_name": "李四", "text": "原文"},
        "client": "微博 weibo.com",
        "collected_at": "2015-01-21T10:50:06+08:00",
        "unknown": {"nested": [1, 2]}
    })
}

fn accepts_view(json: &str) -> bool {
    serde_json::from_str::<PostView>(json).is_ok_and(|v| v.validate().is_ok())
}

fn accepts_post(json: &str) -> bool {
    serde_json::from_str::<Post>(json).is_ok_and(|p| p.validate().is_ok())
}

#[test]
fn borrows_plain_strings_and_unescapes_the_rest() {
    let json = serde_json::to_string(&full()).unwrap();
    let view: PostView = serde_json::from_str(&json).unwrap();
    assert!(matches!(view.id, Cow::Borrowed("weibo:3800000000000000")));
    assert_eq!(view.text, "建设银行 \"涨\"\n了 \u{1F600}");
    assert_eq!(view.source, Source::Weibo);
    assert!(view.validate().is_ok());
}

/// Every field of the full post removed, and replaced by a value of every
/// JSON type: the view accepts exactly what `Post` accepts.
#[test]
fn accepts_exactly_what_post_accepts() {
    let replacements = [
        json!(null),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(""),
        json!("x"),
        json!("weibo:2"),
        json!("2015-01-21T10:50:05Z"),
        json!("2015-01-21 10:50:05"),
        json!("2015-13-21T10:50:05Z"),
        json!("synthetic"),
        json!(true),
        json!([]),
        json!({}),
        json!({"id": "weibo:1"}),
        json!({"id": "1", "name": "n"}),
    ];
    let mut cases = vec![full()];
    let base = full();
    let paths: Vec<Vec<&str>> = base
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(key, value)| {
            let mut paths = vec![vec![key.as_str()]];
            if let Some(inner) = value.as_object() {
                paths.extend(inner.keys().map(|k| vec![key.as_str(), k.as_str()]));
            }
            paths
        })
        .collect();
    for path in &paths {
        let mut removed = full();
        parent(&mut removed, path).remove(*path.last().unwrap());
        cases.push(removed);
        for replacement in &replacements {
            let mut replaced = full();
            parent(&mut replaced, path)
                .insert(path.last().unwrap().to_string(), replacement.clone());
            cases.push(replaced);
        }
    }
    let mut accepted = 0;
    for case in &cases {
        let json = serde_json::to_string(case).unwrap();
        assert_eq!(accepts_view(&json), accepts_post(&json), "{json}");
        accepted += usize::from(accepts_post(&json));
    }
    // Both outcomes occur, so the comparison means something.
    assert!(
        accepted > 20 && accepted < cases.len() - 20,
        "{accepted} of {}",
        cases.len()
    );
}

fn parent<'a>(value: &'a mut Value, path: &[&str]) -> &'a mut serde_json::Map<String, Value> {
    let mut object = value.as_object_mut().unwrap();
    for key in &path[..path.len() - 1] {
        object = object.get_mut(*key).unwrap().as_object_mut().unwrap();
    }
    object
}

#[test]
fn the_timestamp_shortcut_accepts_only_what_chrono_accepts() {
    let mut cases = vec![
        "2015-01-21T10:50:05Z".to_string(),
        "2015-01-21T10:50:05.123Z".into(),
        "2015-01-21T10:50:05.123456789Z".into(),
        "2015-01-21T10:50:05.1234567890Z".into(),
        "2015-01-21T10:50:05.Z".into(),
        "2016-02-29T00:00:00Z".into(),
        "2015-02-29T00:00:00Z".into(),
        "2000-02-29T00:00:00Z".into(),
        "1900-02-29T00:00:00Z".into(),
        "2015-04-31T00:00:00Z".into(),
        "2015-00-10T00:00:00Z".into(),
        "2015-01-00T00:00:00Z".into(),
        "2015-01-21T24:00:00Z".into(),
        "2015-01-21T23:60:00Z".into(),
        "2015-12-31T23:59:60Z".into(),
        "0000-01-01T00:00:00Z".into(),
        "9999-12-31T23:59:59Z".into(),
        "2015-01-21t10:50:05z".into(),
        "2015-01-21 10:50:05Z".into(),
        "2015-01-21T10:50:05+08:00".into(),
        "2015-01-21T10:50:05".into(),
        "２015-01-21T10:50:05Z".into(),
        "+2015-01-21T10:50:05Z".into(),
        "2015-1-21T10:50:05Z".into(),
    ];
    // Every one-byte change of a good timestamp.
    let good = "2016-02-29T23:59:59.5Z";
    for i in 0..good.len() {
        for replacement in ["0", "9", "3", "-", ":", "T", "Z", ".", " ", "a", ""] {
            cases.push(format!("{}{replacement}{}", &good[..i], &good[i + 1..]));
        }
    }
    let mut shortcut = 0;
    for case in &cases {
        if is_plain_utc_timestamp(case) {
            shortcut += 1;
            assert!(case.parse::<DateTime<Utc>>().is_ok(), "{case}");
        }
    }
    assert!(shortcut > 10, "{shortcut}");
    assert!(is_plain_utc_timestamp("2015-01-21T10:50:05Z"));
    assert!(!is_plain_utc_timestamp("2015-02-29T00:00:00Z"));
}
