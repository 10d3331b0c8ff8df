//! A seeded generator of realistic Weibo-like posts, for load tests and demos.
//!
//! About 70% Chinese and 30% English posts from a fixed pool of authors, built
//! from the templates in [`crate::synthetic_words`] with Weibo flavour: `#话题#`
//! hashtags, `@` mentions, `[哈哈]` emoji codes, `http://t.cn/` links and
//! `//@name:` repost chains. Everything expensive (authors, parsed templates)
//! is prepared in [`SyntheticPosts::new`], so one core makes millions of posts
//! per second in release builds.

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use weibostream_shared::{Author, Post, RepostRef, Source};

use crate::synthetic_words::{self as words, Category};

/// Authors in the pool.
const AUTHOR_COUNT: usize = 4000;
/// Share of Chinese posts.
const ZH_SHARE: f64 = 0.7;
/// First post id; ids grow from here like Weibo's 16-digit ids.
const FIRST_ID: u64 = 4_980_000_000_000_000;
const BASE62: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Seeded source of synthetic posts; the same seed and the same sequence of
/// `now` values give the same posts.
pub struct SyntheticPosts {
    rng: StdRng,
    authors: Vec<Profile>,
    /// Indices of authors with English handles.
    english_authors: Vec<usize>,
    zh: Vec<CompiledCategory>,
    en: Vec<CompiledCategory>,
    emoji: Vec<&'static str>,
    repost_comments: Vec<&'static str>,
    last_id: u64,
}

/// An author of the pool, with the strings every post of theirs reuses.
struct Profile {
    author: Author,
    /// `https://weibo.com/<uid>/`.
    url_prefix: String,
}

struct CompiledCategory {
    weight: u32,
    topics: Vec<&'static str>,
    templates: Vec<Vec<Part>>,
}

enum Part {
    Text(&'static str),
    Slot(Vec<&'static str>),
}

impl SyntheticPosts {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut authors = Vec::with_capacity(AUTHOR_COUNT);
        let mut english_authors = Vec::new();
        let zh_names = words::ZH_NAME_PARTS.map(list);
        let en_names = words::EN_NAME_PARTS.map(list);
        for index in 0..AUTHOR_COUNT {
            let english = rng.random_bool(0.3);
            if english {
                english_authors.push(index);
            }
            let name_parts = if english { &en_names } else { &zh_names };
            authors.push(profile(&mut rng, name_parts));
        }
        let last_id = FIRST_ID + rng.random_range(0..1_000_000);
        SyntheticPosts {
            rng,
            authors,
            english_authors,
            zh: words::ZH_CATEGORIES.iter().map(compile).collect(),
            en: words::EN_CATEGORIES.iter().map(compile).collect(),
            emoji: list(words::EMOJI),
            repost_comments: list(words::REPOST_COMMENTS),
            last_id,
        }
    }

    /// The next post, created up to 2 s before `now` and collected at `now`.
    pub fn next_post(&mut self, now: DateTime<Utc>) -> Post {
        self.last_id += self.rng.random_range(1..5_000);
        let english = !self.rng.random_bool(ZH_SHARE);
        let author = if english && !self.english_authors.is_empty() && self.rng.random_bool(0.7) {
            let index = self.rng.random_range(0..self.english_authors.len());
            self.english_authors[index]
        } else {
            // Squaring skews activity: a few authors post much more than the rest.
            let u: f64 = self.rng.random();
            ((u * u) * self.authors.len() as f64) as usize
        };
        let (text, repost_of) = self.text(english);
        let profile = &self.authors[author.min(self.authors.len() - 1)];

        let mut digits = [0u8; 20];
        let digits = decimal(self.last_id, &mut digits);
        let mut id = String::with_capacity(10 + digits.len());
        id.push_str("synthetic:");
        id.push_str(digits);
        let mut url = String::with_capacity(profile.url_prefix.len() + digits.len());
        url.push_str(&profile.url_prefix);
        url.push_str(digits);

        let reach = (profile.author.followers.unwrap_or(0) as f64).sqrt() / 10.0 + 1.0;
        let rng = &mut self.rng;
        let likes = heavy_tail(rng, 0.3, reach * 3.0, 1.2);
        let comments = heavy_tail(rng, 0.5, reach / 2.0 + 1.0, 1.5);
        let reposts = heavy_tail(rng, 0.6, reach / 3.0 + 1.0, 1.3);
        let delay = TimeDelta::milliseconds(rng.random_range(0..=2_000));
        Post {
            id,
            source: Source::Synthetic,
            text,
            lang: Some(if english { "en" } else { "zh" }.to_owned()),
            created_at: now - delay,
            author: profile.author.clone(),
            url: Some(url),
            reposts,
            comments,
            likes,
            repost_of,
            client: Some(weighted_client(rng).to_owned()),
            collected_at: now,
        }
    }

    /// A post text, and the reference of the reposted post when it is a repost.
    fn text(&mut self, english: bool) -> (String, Option<RepostRef>) {
        let rng = &mut self.rng;
        let categories = if english { &self.en } else { &self.zh };
        let mut text = String::with_capacity(256);
        let mut repost_of = None;
        if rng.random_bool(0.1) {
            let original = &self.authors[rng.random_range(0..self.authors.len())];
            text.push_str(pick(rng, &self.repost_comments));
            text.push_str("//@");
            text.push_str(&original.author.name);
            text.push(':');
            let mut digits = [0u8; 20];
            let original_id = self.last_id.saturating_sub(rng.random_range(1..10_000_000));
            repost_of = Some(RepostRef {
                id: Source::Synthetic.post_id(decimal(original_id, &mut digits)),
                author_name: Some(original.author.name.clone()),
                text: None,
            });
        }
        let (topics, templates) = match pick_category(rng, categories) {
            Some(category) => (&category.topics[..], &category.templates[..]),
            None => (&[][..], &[][..]),
        };
        if rng.random_bool(if english { 0.2 } else { 0.4 }) {
            text.push('#');
            text.push_str(pick(rng, topics));
            text.push_str(if english { "# " } else { "#" });
        }
        if !templates.is_empty() {
            for part in &templates[rng.random_range(0..templates.len())] {
                match part {
                    Part::Text(literal) => text.push_str(literal),
                    Part::Slot(list) => text.push_str(pick(rng, list)),
                }
            }
        }
        if rng.random_bool(if english { 0.15 } else { 0.45 }) {
            for _ in 0..rng.random_range(1..=2) {
                text.push_str(pick(rng, &self.emoji));
            }
        }
        if rng.random_bool(0.12) {
            let mentioned = &self.authors[rng.random_range(0..self.authors.len())];
            text.push_str(" @");
            text.push_str(&mentioned.author.name);
        }
        if rng.random_bool(0.15) {
            text.push_str(" http://t.cn/");
            for _ in 0..7 {
                text.push(char::from(BASE62[rng.random_range(0..BASE62.len())]));
            }
        }
        (text, repost_of)
    }
}

fn profile(rng: &mut StdRng, name_parts: &[Vec<&'static str>; 3]) -> Profile {
    let mut name = String::new();
    for part in name_parts {
        name.push_str(pick(rng, part));
    }
    let uid = rng
        .random_range(1_000_000_000u64..8_000_000_000)
        .to_string();
    let verified = rng.random_bool(0.05);
    let followers = heavy_tail(rng, 0.0, 100.0, 0.9) * if verified { 50 } else { 1 };
    Profile {
        url_prefix: format!("https://weibo.com/{uid}/"),
        author: Author {
            id: uid,
            name,
            followers: Some(followers.min(150_000_000)),
            verified,
        },
    }
}

/// Splits `{slot}` placeholders out of a template once, up front.
fn compile(category: &Category) -> CompiledCategory {
    let compile_template = |template: &&'static str| {
        let mut parts = Vec::new();
        let mut rest: &'static str = template;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|close| open + close) else {
                break;
            };
            match words::slot(&rest[open + 1..close]) {
                Some(words) => {
                    parts.push(Part::Text(&rest[..open]));
                    parts.push(Part::Slot(list(words)));
                }
                // An unknown slot stays as literal text rather than vanishing.
                None => parts.push(Part::Text(&rest[..=close])),
            }
            rest = &rest[close + 1..];
        }
        parts.push(Part::Text(rest));
        parts
    };
    CompiledCategory {
        weight: category.weight,
        topics: list(category.topics),
        templates: category.templates.iter().map(compile_template).collect(),
    }
}

/// Splits a `|`-separated word list.
fn list(words: &'static str) -> Vec<&'static str> {
    words.split('|').collect()
}

fn pick(rng: &mut StdRng, list: &[&'static str]) -> &'static str {
    if list.is_empty() {
        return "";
    }
    list[rng.random_range(0..list.len())]
}

fn pick_category<'a>(
    rng: &mut StdRng,
    categories: &'a [CompiledCategory],
) -> Option<&'a CompiledCategory> {
    let total: u32 = categories.iter().map(|category| category.weight).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for category in categories {
        if ticket < category.weight {
            return Some(category);
        }
        ticket -= category.weight;
    }
    categories.last()
}

fn weighted_client(rng: &mut StdRng) -> &'static str {
    let total: u32 = words::CLIENTS.iter().map(|(_, weight)| weight).sum();
    let mut ticket = rng.random_range(0..total.max(1));
    for (client, weight) in words::CLIENTS {
        if ticket < *weight {
            return client;
        }
        ticket -= weight;
    }
    "Android"
}

/// A Lomax (Pareto II) draw: mostly small, occasionally huge; `zero` is the share of zeros.
fn heavy_tail(rng: &mut StdRng, zero: f64, scale: f64, alpha: f64) -> u64 {
    if zero > 0.0 && rng.random_bool(zero) {
        return 0;
    }
    let u: f64 = rng.random();
    let draw = scale * ((1.0 - u).powf(-1.0 / alpha) - 1.0);
    // `as` saturates, and the cap keeps counts believable.
    (draw as u64).min(10_000_000)
}

/// Writes `value` in decimal into `buffer` and returns the digits, without allocating.
fn decimal(mut value: u64, buffer: &mut [u8; 20]) -> &str {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    std::str::from_utf8(&buffer[start..]).unwrap_or("0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(i: i64) -> DateTime<Utc> {
        "2026-05-25T14:23:28Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::milliseconds(i * 7)
    }

    fn posts(seed: u64, count: i64) -> Vec<Post> {
        let mut generator = SyntheticPosts::new(seed);
        (0..count).map(|i| generator.next_post(now(i))).collect()
    }

    #[test]
    fn same_seed_same_posts() {
        assert_eq!(posts(7, 500), posts(7, 500));
        assert_ne!(posts(7, 50), posts(8, 50));
    }

    #[test]
    fn posts_are_valid_and_weibo_like() {
        let posts = posts(1, 2_000);
        let mut last_id = 0;
        for (i, post) in posts.iter().enumerate() {
            assert!(post.validate().is_ok(), "{post:?}");
            let digits = post.id.strip_prefix("synthetic:").unwrap();
            assert_eq!(digits.len(), 16);
            let id: u64 = digits.parse().unwrap();
            assert!(id > last_id);
            last_id = id;
            let url = format!("https://weibo.com/{}/{digits}", post.author.id);
            assert_eq!(post.url.as_deref(), Some(url.as_str()));
            assert!(post.author.id.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(post.collected_at, now(i as i64));
            let delay = post.collected_at - post.created_at;
            assert!((TimeDelta::zero()..=TimeDelta::seconds(2)).contains(&delay));
            assert!(
                post.client.is_some() && !post.text.contains('{'),
                "{post:?}"
            );
        }
        let share = |predicate: fn(&Post) -> bool| {
            posts.iter().filter(|post| predicate(post)).count() as f64 / posts.len() as f64
        };
        assert!((0.01..0.1).contains(&share(|post| post.author.verified)));
        assert!(share(|post| post.text.contains('#')) > 0.2);
        assert!(share(|post| post.text.contains("http://t.cn/")) > 0.05);
        assert!(share(|post| post.text.contains("//@") && post.repost_of.is_some()) > 0.05);
        assert!(share(|post| post.likes == 0) > 0.1);
        assert!(posts.iter().any(|post| post.likes > 1_000));
    }

    #[test]
    fn sizes_languages_and_bank_mentions_are_realistic() {
        let posts = posts(42, 10_000);
        let sizes: Vec<usize> = posts
            .iter()
            .map(|p| serde_json::to_string(p).unwrap().len())
            .collect();
        let in_range = sizes
            .iter()
            .filter(|size| (250..=700).contains(*size))
            .count();
        assert!(
            in_range >= 9_500,
            "only {in_range} of 10000 within 250-700 bytes"
        );
        let typical = sizes
            .iter()
            .filter(|size| (300..=600).contains(*size))
            .count();
        assert!(
            typical >= 8_000,
            "only {typical} of 10000 within 300-600 bytes"
        );

        let zh = posts
            .iter()
            .filter(|p| p.lang.as_deref() == Some("zh"))
            .count();
        let en = posts
            .iter()
            .filter(|p| p.lang.as_deref() == Some("en"))
            .count();
        assert_eq!(zh + en, posts.len());
        assert!((6_500..7_500).contains(&zh), "{zh} Chinese posts");

        let ccb_up = posts
            .iter()
            .filter(|p| p.text.contains("建设银行") && p.text.contains('涨'));
        let rate = ccb_up.count() as f64 / posts.len() as f64;
        assert!(
            (0.005..0.05).contains(&rate),
            "建设银行 AND 涨 matches {rate}"
        );
        let english_banks = ["China Construction Bank", "ICBC", "HSBC", "Bank of China"];
        let english_bank_posts = posts.iter().filter(|p| {
            p.lang.as_deref() == Some("en")
                && english_banks.iter().any(|bank| p.text.contains(bank))
        });
        assert!(english_bank_posts.count() > 100);
    }

    #[test]
    fn every_template_slot_is_known() {
        for category in words::ZH_CATEGORIES.iter().chain(words::EN_CATEGORIES) {
            assert!(!category.topics.is_empty() && !category.templates.is_empty());
            for template in category.templates {
                for part in template.split('{').skip(1) {
                    let name = part.split('}').next().unwrap();
                    assert!(
                        words::slot(name).is_some_and(|list| !list.is_empty()),
                        "{name}"
                    );
                }
            }
        }
    }

    #[test]
    fn decimal_digits() {
        let mut buffer = [0u8; 20];
        assert_eq!(decimal(0, &mut buffer), "0");
        assert_eq!(decimal(u64::MAX, &mut buffer), u64::MAX.to_string());
        assert_eq!(
            decimal(4_980_000_000_000_123, &mut buffer),
            "4980000000000123"
        );
    }
}
