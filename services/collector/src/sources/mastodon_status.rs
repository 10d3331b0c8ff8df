//! A Mastodon status as a normalized post of its instance.

use chrono::{DateTime, Utc};
use serde_json::Value;
use weibostream_shared::{Author, Post, RepostRef, Source};

use super::html::html_to_text;
use crate::weibo::primary_language;

/// Turns a Mastodon status into a post of the instance `host`.
pub fn normalize_status(
    status: &Value,
    host: &str,
    collected_at: DateTime<Utc>,
) -> Result<Post, String> {
    let text_of = |key: &str| status.get(key).and_then(Value::as_str);
    let id = text_of("id")
        .filter(|id| !id.is_empty())
        .ok_or("missing field \"id\"")?;
    let created = text_of("created_at").ok_or("missing field \"created_at\"")?;
    let created_at = DateTime::parse_from_rfc3339(created)
        .map_err(|error| format!("bad created_at {created:?}: {error}"))?
        .with_timezone(&Utc);
    let account = status
        .get("account")
        .filter(|a| a.is_object())
        .ok_or("missing field \"account\"")?;
    let account_id = account
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or("missing field \"account.id\"")?;
    let name = ["display_name", "acct", "username"]
        .iter()
        .filter_map(|key| account.get(*key)?.as_str())
        .map(str::trim)
        .find(|name| !name.is_empty())
        .unwrap_or(account_id);
    let count = |key: &str| status.get(key).and_then(Value::as_u64).unwrap_or(0);
    let repost_of = status
        .get("reblog")
        .filter(|r| r.is_object())
        .and_then(|reblog| {
            let id = reblog.get("id")?.as_str()?;
            Some(RepostRef {
                id: Source::Mastodon.post_id(&format!("{host}/{id}")),
                author_name: reblog
                    .pointer("/account/acct")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                text: reblog
                    .get("content")
                    .and_then(Value::as_str)
                    .map(html_to_text),
            })
        });
    Ok(Post {
        id: Source::Mastodon.post_id(&format!("{host}/{id}")),
        source: Source::Mastodon,
        text: text_of("content").map(html_to_text).unwrap_or_default(),
        lang: text_of("language")
            .map(primary_language)
            .filter(|lang| !lang.is_empty()),
        created_at,
        author: Author {
            id: format!("{host}/{account_id}"),
            name: name.to_owned(),
            followers: account.get("followers_count").and_then(Value::as_u64),
            verified: false,
        },
        url: text_of("url").or_else(|| text_of("uri")).map(str::to_owned),
        reposts: count("reblogs_count"),
        comments: count("replies_count"),
        likes: count("favourites_count"),
        repost_of,
        client: status
            .pointer("/application/name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        collected_at,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn normalizes_a_status_and_its_reblog() {
        let status = json!({
            "id": "109", "created_at": "2022-08-30T23:12:47.000Z", "language": "en-GB",
            "content": "<p>Hi &amp; <a href=\"x\">#rust</a></p>", "url": "https://m.example/@a/109",
            "reblogs_count": 2, "replies_count": 3, "favourites_count": 4,
            "account": {"id": "7", "acct": "a@m.example", "display_name": "", "followers_count": 10},
            "reblog": {"id": "100", "content": "<p>orig</p>", "account": {"acct": "b"}},
            "application": {"name": "Tusky"}
        });
        let now = Utc::now();
        let post = normalize_status(&status, "m.example", now).unwrap();
        assert_eq!(post.id, "mastodon:m.example/109");
        assert_eq!(post.text, "Hi & #rust");
        assert_eq!(post.lang.as_deref(), Some("en"));
        assert_eq!(
            post.created_at,
            "2022-08-30T23:12:47Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            (post.author.id.as_str(), post.author.name.as_str()),
            ("m.example/7", "a@m.example")
        );
        assert_eq!((post.reposts, post.comments, post.likes), (2, 3, 4));
        assert_eq!(post.url.as_deref(), Some("https://m.example/@a/109"));
        let repost = post.repost_of.clone().unwrap();
        assert_eq!(
            (repost.id.as_str(), repost.text.as_deref()),
            ("mastodon:m.example/100", Some("orig"))
        );
        assert_eq!(post.client.as_deref(), Some("Tusky"));
        assert!(post.validate().is_ok());
        assert!(
            normalize_status(&json!({"id": "1"}), "h", now)
                .unwrap_err()
                .contains("created_at")
        );
    }
}
