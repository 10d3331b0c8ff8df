//! The normalized post every source produces and every service reads.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a post was collected from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Sina Weibo open API statuses.
    Weibo,
    /// A Mastodon instance.
    Mastodon,
    /// Bluesky, through Jetstream.
    Bluesky,
    /// A line-oriented TCP feeder.
    Socket,
    /// The collector's seeded generator.
    Synthetic,
}

impl Source {
    /// The prefix of post ids from this source, e.g. `weibo` in `weibo:3800000000000000`.
    pub fn prefix(self) -> &'static str {
        match self {
            Source::Weibo => "weibo",
            Source::Mastodon => "mastodon",
            Source::Bluesky => "bluesky",
            Source::Socket => "socket",
            Source::Synthetic => "synthetic",
        }
    }

    /// The stable post id for a source-local id: `weibo` + `123` gives `weibo:123`.
    pub fn post_id(self, local_id: &str) -> String {
        format!("{}:{local_id}", self.prefix())
    }
}

/// The author of a post, as far as the source tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// Source-local user id (also the Kafka key of the post in `posts.raw`).
    pub id: String,
    /// Display name (Weibo `screen_name`, Mastodon `display_name` or `acct`).
    pub name: String,
    /// Follower count, when the source reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<u64>,
    /// Whether the source marks the account as verified.
    #[serde(default)]
    pub verified: bool,
}

/// The post this one reposts (Weibo `retweeted_status`, Mastodon `reblog`), kept as a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepostRef {
    /// Stable id of the original post, e.g. `weibo:3799999999999999`.
    pub id: String,
    /// Name of the original post's author, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    /// Plain text of the original post, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A post in the normalized form published to `posts.raw`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// Stable id prefixed by its source: `weibo:3800000000000000`.
    pub id: String,
    /// The source the post came from.
    pub source: Source,
    /// Plain text (no HTML).
    pub text: String,
    /// Language (ISO 639-1) when the source knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// When the author posted it (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// Who posted it.
    pub author: Author,
    /// Web address of the post, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Repost (retweet/boost) count.
    #[serde(default)]
    pub reposts: u64,
    /// Comment (reply) count.
    #[serde(default)]
    pub comments: u64,
    /// Like (attitude/favourite) count.
    #[serde(default)]
    pub likes: u64,
    /// The reposted post, if this is a repost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repost_of: Option<RepostRef>,
    /// Client the post was sent from (Weibo's `source`, stripped of HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// When the collector received it (RFC 3339, UTC).
    pub collected_at: DateTime<Utc>,
}

impl Post {
    /// Required fields a decoded post must carry to be processed.
    pub fn validate(&self) -> Result<(), &'static str> {
        validate_required(&self.id, self.source, &self.author.id)
    }
}

/// The checks of [`Post::validate`] on the fields they read, for decoders
/// that do not build a `Post`: the id is non-empty and prefixed by its
/// source (`weibo:`), the author id is non-empty.
pub fn validate_required(id: &str, source: Source, author_id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("empty id");
    }
    if !id.starts_with(source.prefix()) || id.as_bytes().get(source.prefix().len()) != Some(&b':') {
        return Err("id is not prefixed by its source");
    }
    if author_id.is_empty() {
        return Err("empty author id");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Post {
        Post {
            id: Source::Weibo.post_id("3800000000000000"),
            source: Source::Weibo,
            text: "建设银行 涨了".into(),
            lang: Some("zh".into()),
            created_at: "2015-01-21T10:50:05Z".parse().unwrap(),
            author: Author {
                id: "1".into(),
                name: "张三".into(),
                followers: Some(10),
                verified: false,
            },
            url: None,
            reposts: 1,
            comments: 2,
            likes: 3,
            repost_of: None,
            client: Some("微博 weibo.com".into()),
            collected_at: "2015-01-21T10:50:06Z".parse().unwrap(),
        }
    }

    #[test]
    fn round_trips_and_uses_rfc3339_utc() {
        let post = sample();
        let json = serde_json::to_string(&post).unwrap();
        assert!(
            json.contains(r#""created_at":"2015-01-21T10:50:05Z""#),
            "{json}"
        );
        assert!(json.contains(r#""source":"weibo""#));
        assert_eq!(serde_json::from_str::<Post>(&json).unwrap(), post);
        assert!(post.validate().is_ok());
    }

    #[test]
    fn validate_rejects_unprefixed_ids() {
        let mut post = sample();
        post.id = "3800000000000000".into();
        assert!(post.validate().is_err());
        post.id = "weibox:1".into();
        assert!(post.validate().is_err());
    }
}
