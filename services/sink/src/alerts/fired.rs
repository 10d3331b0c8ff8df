//! An alert that fired, as the store records it and the channels send it,
//! with the posts it quotes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use weibostream_shared::MatchedPost;
use weibostream_shared::sanitize::for_terminal;

use super::detect::AlertKind;

/// Characters of an example post's text an alert carries.
const EXAMPLE_CHARS: usize = 140;

/// A post quoted in an alert.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Example {
    /// Post id.
    pub id: String,
    /// Author display name.
    pub author: String,
    /// The start of the post's text.
    pub text: String,
    /// Link to the post, when it has an `http(s)` one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Example {
    /// The example of `matched`: its text shortened, its link if safe.
    pub(super) fn of(matched: &MatchedPost) -> Example {
        let post = &matched.post;
        let text = for_terminal(&post.text);
        let mut short: String = text.chars().take(EXAMPLE_CHARS).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        Example {
            id: for_terminal(&post.id),
            author: for_terminal(&post.author.name),
            text: short,
            url: post
                .url
                .as_deref()
                .filter(|u| {
                    let lower = u.to_ascii_lowercase();
                    (lower.starts_with("https://") || lower.starts_with("http://"))
                        && !u.chars().any(|c| c.is_control() || c.is_whitespace())
                })
                .map(str::to_string),
        }
    }
}

/// An alert that fired: what the store records and the channels are sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fired {
    /// The rule id.
    pub rule: String,
    /// Which condition.
    pub kind: AlertKind,
    /// Start of the window (batch time).
    pub window_start: DateTime<Utc>,
    /// End of the window (exclusive).
    pub window_end: DateTime<Utc>,
    /// Window length in seconds.
    pub window_s: u64,
    /// Matches in the window when it fired.
    pub matches: u64,
    /// The median of the previous windows, for spike conditions.
    pub baseline: Option<f64>,
    /// The rule's `min_matches`, if it has one.
    pub min_matches: Option<u64>,
    /// The rule's `spike_factor`, if it has one.
    pub spike_factor: Option<f64>,
    /// When this sink decided it fired.
    pub fired_at: DateTime<Utc>,
    /// A few of the window's posts.
    pub examples: Vec<Example>,
}

impl Fired {
    /// What the store keeps besides the columns: the examples and conditions.
    pub fn detail_json(&self) -> String {
        serde_json::json!({
            "examples": self.examples,
            "min_matches": self.min_matches,
            "spike_factor": self.spike_factor,
        })
        .to_string()
    }
}
