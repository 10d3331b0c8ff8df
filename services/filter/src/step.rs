//! The filter's per-record step: decode a `posts.raw` record, match it
//! against the rules, analyze it (classifier, trending terms) and encode the
//! `posts.matched` record. Pure and synchronous: the run loop
//! ([`worker`](crate::worker)) does the I/O around it, and the replay
//! benchmark (`bench/src/bin/replay.rs`) calls the same step without a
//! broker, so what it measures is what the service runs.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::analysis::PostAnalyzer;
use crate::classify::Classifier;
use crate::config::TrendingConfig;
use crate::decode::{Rejected, decode_post};
use crate::output::MatchedEncoder;
use crate::reload::ActiveRules;
use crate::rules::MatchScratch;
use crate::text::Trending;

/// The rules in force and the reusable state of the per-record step, one
/// per worker.
pub struct PostStep {
    rules: ActiveRules,
    scratch: MatchScratch,
    matched: Vec<usize>,
    analyzer: PostAnalyzer,
    /// Encodes the open batch's matched records.
    encoder: MatchedEncoder,
    out: Vec<u8>,
    max_record_bytes: usize,
}

/// What the step made of one record.
#[derive(Debug)]
pub enum Outcome<'s, 'p> {
    /// A post that no rule matched.
    Unmatched,
    /// A post that matched: publish `record` to `posts.matched` under `key`.
    Matched {
        /// Indexes (into the rules' ids) of the rules it matched, ascending.
        rules: &'s [usize],
        /// The post's id, the key of the matched record.
        key: Cow<'p, str>,
        /// The encoded `posts.matched` record.
        record: &'s [u8],
    },
    /// Not a post: the record goes to the dead-letter topic.
    Rejected(Rejected),
}

impl PostStep {
    /// A step matching with `rules`, labelling matched posts with
    /// `classifier` (if any) and counting trending terms if
    /// `trending.enabled`; records over `max_record_bytes` are rejected.
    pub fn new(
        rules: ActiveRules,
        trending: &TrendingConfig,
        classifier: Option<Arc<Classifier>>,
        max_record_bytes: usize,
    ) -> PostStep {
        PostStep {
            scratch: rules.rules.scratch(),
            encoder: MatchedEncoder::new(&Utc::now(), "", rules.rules.ids()),
            rules,
            matched: Vec::new(),
            analyzer: PostAnalyzer::new(trending, classifier),
            out: Vec::with_capacity(4096),
            max_record_bytes,
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> &ActiveRules {
        &self.rules
    }

    /// Replaces the rules; call it between batches (before
    /// [`start_batch`](Self::start_batch)) so each batch is matched by one
    /// rule set.
    pub fn set_rules(&mut self, rules: ActiveRules) {
        self.scratch = rules.rules.scratch();
        self.rules = rules;
    }

    /// Starts the batch ending at `batch_time`, written by `replica` in the
    /// matched records.
    pub fn start_batch(&mut self, batch_time: &DateTime<Utc>, replica: &str) {
        self.encoder = MatchedEncoder::new(batch_time, replica, self.rules.rules.ids());
        self.analyzer.start_batch(self.rules.rules.len());
    }

    /// Trending terms of the batch just closed (`None` when trending is
    /// off).
    pub fn close_batch(&mut self) -> Option<Trending> {
        self.analyzer.close_batch()
    }

    /// Decodes, matches, analyzes and encodes the record read at
    /// `partition`/`offset` whose value is `payload`.
    // Inlined into its two callers (the run loop, the replay benchmark):
    // as a call it cost ~40 instructions a post more than the loop it
    // replaced (callgrind, `replay 5000`).
    #[inline]
    pub fn process<'s, 'p>(
        &'s mut self,
        payload: Option<&'p [u8]>,
        partition: i32,
        offset: i64,
    ) -> Outcome<'s, 'p> {
        let post = match decode_post(payload, self.max_record_bytes) {
            Ok(post) => post,
            Err(rejected) => return Outcome::Rejected(rejected),
        };
        let verdict = self.analyzer.analyze(
            &self.rules,
            &post.text,
            &mut self.scratch,
            &mut self.matched,
        );
        if self.matched.is_empty() {
            return Outcome::Unmatched;
        }
        let label = verdict.and_then(|v| {
            self.analyzer
                .label_name(&v)
                .map(|name| (name, v.probability))
        });
        self.encoder.encode(
            &self.matched,
            partition,
            offset,
            label,
            payload.unwrap_or_default(),
            &mut self.out,
        );
        Outcome::Matched {
            rules: &self.matched,
            key: post.id,
            record: &self.out,
        }
    }
}

#[cfg(test)]
mod tests {
    use weibostream_shared::MatchedPost;

    use super::*;
    use crate::decode::DeadLetterReason;

    const RULES: &str = r#"
[[rule]]
id = "bank"
query = "银行"

[[rule]]
id = "rise"
query = "涨"
"#;

    fn post(text: &str) -> Vec<u8> {
        format!(
            r#"{{"id":"weibo:1","source":"weibo","text":"{text}","created_at":"2015-01-21T10:50:05Z","author":{{"id":"7","name":"n"}},"collected_at":"2015-01-21T10:50:06Z"}}"#
        )
        .into_bytes()
    }

    fn step() -> PostStep {
        let rules = ActiveRules::compile(RULES, "rules.toml", None).unwrap();
        PostStep::new(rules, &TrendingConfig::default(), None, 1024)
    }

    #[test]
    fn a_matching_post_becomes_a_matched_record() {
        let mut step = step();
        let time = "2015-01-21T10:50:10Z".parse().unwrap();
        step.start_batch(&time, "r1");
        let raw = post("建设银行 涨");
        let Outcome::Matched { rules, key, record } = step.process(Some(&raw), 3, 42) else {
            panic!("the post matches both rules");
        };
        assert_eq!(rules, &[0, 1]);
        assert_eq!(key, "weibo:1");
        let matched: MatchedPost = serde_json::from_slice(record).unwrap();
        assert_eq!(matched.rules, vec!["bank", "rise"]);
        assert_eq!((matched.partition, matched.offset), (3, 42));
        assert_eq!((matched.replica.as_str(), matched.batch_time), ("r1", time));
    }

    #[test]
    fn other_posts_and_bad_records_are_told_apart() {
        let mut step = step();
        assert!(matches!(
            step.process(Some(&post("天气")), 0, 0),
            Outcome::Unmatched
        ));
        match step.process(Some(b"{\"id\": "), 0, 1) {
            Outcome::Rejected(rejected) => {
                assert_eq!(rejected.reason, DeadLetterReason::InvalidJson);
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        let too_large = post(&"涨".repeat(400));
        assert!(matches!(
            step.process(Some(&too_large), 0, 2),
            Outcome::Rejected(Rejected {
                reason: DeadLetterReason::TooLarge,
                ..
            })
        ));
    }

    #[test]
    fn new_rules_apply_from_the_next_batch() {
        let mut step = step();
        let only_rise = ActiveRules::compile(
            "[[rule]]\nid = \"rise\"\nquery = \"涨\"\n",
            "rules.toml",
            None,
        )
        .unwrap();
        step.set_rules(only_rise);
        step.start_batch(&Utc::now(), "r1");
        let raw = post("建设银行 涨");
        let Outcome::Matched { rules, record, .. } = step.process(Some(&raw), 0, 0) else {
            panic!("the post matches rise");
        };
        assert_eq!(rules, &[0]);
        let matched: MatchedPost = serde_json::from_slice(record).unwrap();
        assert_eq!(matched.rules, vec!["rise"]);
    }
}
