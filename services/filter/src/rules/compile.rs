//! The compiled matcher: every literal of every rule in one Aho-Corasick
//! automaton, plus each rule's query rewritten over literal ids.
//!
//! Matching a post is one overlapping scan of the normalized text that sets a
//! bit per literal found (after the word-boundary checks), followed by a
//! boolean evaluation of each rule against that bitset. Nothing is allocated
//! per post once the caller's buffers have grown to size.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, BuildError, MatchKind};

use super::normalize::{is_cjk, is_word_char};
use super::parse::Query;

/// A rule's query with literals replaced by their bit index.
#[derive(Debug, Clone)]
enum Expr {
    Lit(usize),
    Not(Box<Expr>),
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
}

impl Expr {
    fn eval(&self, bits: &[u64]) -> bool {
        match self {
            Expr::Lit(id) => test_bit(bits, *id),
            Expr::Not(inner) => !inner.eval(bits),
            Expr::And(parts) => parts.iter().all(|p| p.eval(bits)),
            Expr::Or(parts) => parts.iter().any(|p| p.eval(bits)),
        }
    }
}

/// One automaton pattern. The same text can back two literals, `bank` and
/// `bank*`, which differ only in whether the end edge is checked.
#[derive(Debug, Clone)]
struct Pattern {
    /// The first character is a word character, so the text character before
    /// the match must not be one.
    check_start: bool,
    /// Same for the last character and the text character after the match.
    check_end: bool,
    /// Bit of the whole-word literal, if some rule uses it.
    exact: Option<usize>,
    /// Bit of the prefix literal, if some rule uses it.
    prefix: Option<usize>,
}

/// Literals of all rules compiled into one automaton, and the rules' queries.
#[derive(Debug, Clone)]
pub(super) struct Matcher {
    automaton: AhoCorasick,
    /// Indexed by automaton pattern id.
    patterns: Vec<Pattern>,
    /// One per rule, in rule order.
    exprs: Vec<Expr>,
    literal_count: usize,
}

impl Matcher {
    /// Compiles the queries (one per rule, in order), deduplicating literals.
    pub(super) fn build<'a>(
        queries: impl IntoIterator<Item = &'a Query>,
    ) -> Result<Matcher, BuildError> {
        let mut builder = Builder::default();
        let exprs = queries.into_iter().map(|q| builder.expr(q)).collect();
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&builder.texts)?;
        Ok(Matcher {
            automaton,
            patterns: builder.patterns,
            exprs,
            literal_count: builder.literal_count,
        })
    }

    /// Number of distinct literals (bits per post).
    pub(super) fn literal_count(&self) -> usize {
        self.literal_count
    }

    /// Number of distinct automaton patterns.
    pub(super) fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Finds the literals present in `text` (already normalized), then pushes
    /// the index of every rule that matches onto `matched` (cleared first).
    pub(super) fn run(&self, text: &str, bits: &mut Vec<u64>, matched: &mut Vec<usize>) {
        self.find_literals(text, bits);
        matched.clear();
        for (index, expr) in self.exprs.iter().enumerate() {
            if expr.eval(bits) {
                matched.push(index);
            }
        }
    }

    /// Sets the bit of every literal with at least one occurrence in `text`
    /// that passes its boundary checks. The scan is overlapping, so every
    /// occurrence of every pattern is reported: an occurrence failing its
    /// boundary check cannot hide a later one that passes.
    fn find_literals(&self, text: &str, bits: &mut Vec<u64>) {
        bits.clear();
        bits.resize(self.literal_count.div_ceil(64), 0);
        for found in self.automaton.find_overlapping_iter(text) {
            let Some(pattern) = self.patterns.get(found.pattern().as_usize()) else {
                continue;
            };
            let prefix = pattern.prefix.filter(|&id| !test_bit(bits, id));
            let exact = pattern.exact.filter(|&id| !test_bit(bits, id));
            if prefix.is_none() && exact.is_none() {
                continue;
            }
            if pattern.check_start && !boundary_before(text, found.start()) {
                continue;
            }
            if let Some(id) = prefix {
                set_bit(bits, id);
            }
            if let Some(id) = exact
                && (!pattern.check_end || boundary_after(text, found.end()))
            {
                set_bit(bits, id);
            }
        }
    }
}

/// Assigns literal ids and automaton patterns while rewriting queries.
#[derive(Default)]
struct Builder {
    /// Pattern id by normalized text.
    by_text: HashMap<String, usize>,
    /// Pattern texts, indexed by pattern id.
    texts: Vec<String>,
    patterns: Vec<Pattern>,
    literal_count: usize,
}

impl Builder {
    fn expr(&mut self, query: &Query) -> Expr {
        match query {
            Query::Term { text, prefix } => Expr::Lit(self.literal(text, *prefix)),
            Query::Phrase(text) => Expr::Lit(self.literal(text, false)),
            Query::Not(inner) => Expr::Not(Box::new(self.expr(inner))),
            Query::And(parts) => Expr::And(parts.iter().map(|p| self.expr(p)).collect()),
            Query::Or(parts) => Expr::Or(parts.iter().map(|p| self.expr(p)).collect()),
        }
    }

    /// Returns the bit id of `text` (whole word, or prefix), creating the
    /// pattern and the id on first use.
    fn literal(&mut self, text: &str, prefix: bool) -> usize {
        let pattern_id = match self.by_text.get(text) {
            Some(&id) => id,
            None => {
                let id = self.patterns.len();
                self.by_text.insert(text.to_owned(), id);
                self.texts.push(text.to_owned());
                self.patterns.push(new_pattern(text));
                id
            }
        };
        let next_id = &mut self.literal_count;
        let pattern = &mut self.patterns[pattern_id];
        let slot = if prefix {
            &mut pattern.prefix
        } else {
            &mut pattern.exact
        };
        *slot.get_or_insert_with(|| {
            *next_id += 1;
            *next_id - 1
        })
    }
}

/// Literals containing CJK match as plain substrings, since those scripts do
/// not separate words; other literals get a boundary check on each edge that
/// is a word character.
fn new_pattern(text: &str) -> Pattern {
    let substring = text.chars().any(is_cjk);
    let edge = |c: Option<char>| !substring && c.is_some_and(is_word_char);
    Pattern {
        check_start: edge(text.chars().next()),
        check_end: edge(text.chars().next_back()),
        exact: None,
        prefix: None,
    }
}

fn boundary_before(text: &str, start: usize) -> bool {
    let before = text.get(..start).and_then(|s| s.chars().next_back());
    !before.is_some_and(is_word_char)
}

fn boundary_after(text: &str, end: usize) -> bool {
    let after = text.get(end..).and_then(|s| s.chars().next());
    !after.is_some_and(is_word_char)
}

fn test_bit(bits: &[u64], id: usize) -> bool {
    bits.get(id / 64).is_some_and(|word| word >> (id % 64) & 1 == 1)
}

fn set_bit(bits: &mut [u64], id: usize) {
    if let Some(word) = bits.get_mut(id / 64) {
        *word |= 1 << (id % 64);
    }
}

#[cfg(test)]
mod tests;
