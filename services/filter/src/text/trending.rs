//! Trending terms: which tokens are specific to this batch.
//!
//! Each post is a document. For the closing batch, a term's score is
//!
//! ```text
//! (1 + ln posts_with_term_in_batch) * (ln((1 + P) / (1 + df)) + 1)
//! ```
//!
//! where `P` is the number of posts in the history (the previous
//! `history_batches` batches of this replica) and `df` the number of those
//! posts containing the term. A term that was rare until this batch gets a
//! large IDF and ranks high; one that is everywhere all the time gets an IDF
//! near 1 and sinks. Counting posts rather than occurrences keeps one post
//! repeating a word fifty times from trending on its own. The batch is
//! scored against the history *before* it joins it, so a spike is not
//! diluted by itself. Pure bookkeeping, no I/O.

use std::collections::{BTreeMap, VecDeque};

use foldhash::{HashMap, HashMapExt as _};

use weibostream_shared::records::TermScore;

/// Term counts of the batch being filled, overall and per rule.
#[derive(Debug, Clone, Default)]
pub struct BatchTerms {
    posts: u32,
    /// Posts containing each term.
    terms: HashMap<Box<str>, PostCount>,
    /// Per rule (by index): matched posts, and those containing each term.
    per_rule: Vec<(u32, HashMap<Box<str>, PostCount>)>,
}

/// Posts containing a term, and the last post counted (a term appearing
/// twice in a post counts once, without sorting the post's tokens).
#[derive(Debug, Clone, Copy)]
struct PostCount {
    posts: u32,
    last_post: u32,
}

impl BatchTerms {
    /// Empty counts for a rule set of `rule_count` rules.
    pub fn new(rule_count: usize) -> BatchTerms {
        BatchTerms {
            per_rule: vec![(0, HashMap::new()); rule_count],
            ..BatchTerms::default()
        }
    }

    /// Counts one post: its tokens and the rules (by index) it matched.
    pub fn add_post<'t>(&mut self, tokens: impl Iterator<Item = &'t str>, matched_rules: &[usize]) {
        self.posts += 1;
        let post = self.posts;
        for &rule in matched_rules {
            if let Some((posts, _)) = self.per_rule.get_mut(rule) {
                *posts += 1;
            }
        }
        for term in tokens {
            count(&mut self.terms, term, post);
            for &rule in matched_rules {
                if let Some((_, terms)) = self.per_rule.get_mut(rule) {
                    count(terms, term, post);
                }
            }
        }
    }

    /// Posts counted.
    pub fn posts(&self) -> u32 {
        self.posts
    }
}

/// Counts post number `post` (1-based) as containing `term`, once however
/// often the term appears in it; the key is allocated only for a term new
/// to `counts` (a batch sees the same terms over and over).
fn count(counts: &mut HashMap<Box<str>, PostCount>, term: &str, post: u32) {
    match counts.get_mut(term) {
        Some(count) => {
            if count.last_post != post {
                count.posts += 1;
                count.last_post = post;
            }
        }
        None => {
            counts.insert(
                Box::from(term),
                PostCount {
                    posts: 1,
                    last_post: post,
                },
            );
        }
    }
}

/// Posts per term, without the bookkeeping of [`PostCount`].
fn post_counts(counts: HashMap<Box<str>, PostCount>) -> HashMap<Box<str>, u32> {
    counts
        .into_iter()
        .map(|(term, c)| (term, c.posts))
        .collect()
}

/// The sliding history IDF is learned from: per-term post counts of the last
/// `capacity` batches, and their running totals.
#[derive(Debug, Clone)]
pub struct TermHistory {
    capacity: usize,
    batches: VecDeque<(u32, HashMap<Box<str>, u32>)>,
    totals: HashMap<Box<str>, u64>,
    total_posts: u64,
}

/// What one batch reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trending {
    /// Best terms over all posts of the batch.
    pub overall: Vec<TermScore>,
    /// Best terms over each rule's matched posts (rules that matched nothing
    /// are left out), by rule index.
    pub per_rule: BTreeMap<usize, Vec<TermScore>>,
}

impl TermHistory {
    /// An empty history remembering `capacity` batches (at least one).
    pub fn new(capacity: usize) -> TermHistory {
        TermHistory {
            capacity: capacity.max(1),
            batches: VecDeque::new(),
            totals: HashMap::new(),
            total_posts: 0,
        }
    }

    /// Batches remembered.
    pub fn len(&self) -> usize {
        self.batches.len()
    }

    /// Whether no batch is remembered yet.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// Smoothed IDF of `term` over the history.
    pub fn idf(&self, term: &str) -> f64 {
        let df = self.totals.get(term).copied().unwrap_or(0);
        ((1 + self.total_posts) as f64 / (1 + df) as f64).ln() + 1.0
    }

    /// Scores the closing batch against the history, then adds it to the
    /// history (dropping the oldest batch when full). Keeps the `top_n` best
    /// terms found in at least `min_posts` posts (or in all of them, for a
    /// scope with fewer posts).
    pub fn close(&mut self, batch: BatchTerms, top_n: usize, min_posts: u32) -> Trending {
        let overall = self.top(&batch.terms, batch.posts, top_n, min_posts);
        let per_rule = batch
            .per_rule
            .iter()
            .enumerate()
            .filter(|(_, (posts, _))| *posts > 0)
            .map(|(rule, (posts, terms))| (rule, self.top(terms, *posts, top_n, min_posts)))
            .collect();
        if batch.posts > 0 {
            self.remember(batch.posts, post_counts(batch.terms));
        }
        Trending { overall, per_rule }
    }

    fn top(
        &self,
        terms: &HashMap<Box<str>, PostCount>,
        posts: u32,
        n: usize,
        min_posts: u32,
    ) -> Vec<TermScore> {
        let threshold = min_posts.min(posts).max(1);
        let mut scored: Vec<TermScore> = terms
            .iter()
            .map(|(term, count)| (term, count.posts))
            .filter(|&(_, count)| count >= threshold)
            .map(|(term, count)| TermScore {
                term: term.to_string(),
                score: (1.0 + f64::from(count).ln()) * self.idf(term),
            })
            .collect();
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.term.cmp(&b.term))
        });
        scored.truncate(n);
        for term in &mut scored {
            term.score = (term.score * 1000.0).round() / 1000.0;
        }
        scored
    }

    fn remember(&mut self, posts: u32, terms: HashMap<Box<str>, u32>) {
        if self.batches.len() == self.capacity
            && let Some((old_posts, old_terms)) = self.batches.pop_front()
        {
            self.total_posts -= u64::from(old_posts);
            for (term, count) in old_terms {
                if let Some(total) = self.totals.get_mut(&term) {
                    *total -= u64::from(count);
                    if *total == 0 {
                        self.totals.remove(&term);
                    }
                }
            }
        }
        self.total_posts += u64::from(posts);
        for (term, &count) in &terms {
            *self.totals.entry(term.clone()).or_default() += u64::from(count);
        }
        self.batches.push_back((posts, terms));
    }
}

#[cfg(test)]
mod tests;
