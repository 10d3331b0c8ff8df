//! The per-post hot path.
//!
//! One overlapping Aho-Corasick scan of the normalized text sets a bit per
//! literal found (after the word-boundary checks) and marks the rules using
//! that literal as candidates. Only candidates are evaluated; a rule none of
//! whose literals occur has a fixed result, precomputed at compile time (true
//! only for rules like `NOT x`). Nothing is allocated once the buffers have
//! grown to size.

use super::compile::{LabelScore, Matcher, set_bit, test_bit};
use super::normalize::is_word_char;

/// Reusable per-post bitsets.
#[derive(Debug, Clone, Default)]
pub(super) struct Bitsets {
    /// One bit per literal: found in the current text.
    literals: Vec<u64>,
    /// One bit per rule: uses a literal found in the current text.
    candidates: Vec<u64>,
}

impl Bitsets {
    /// Bitsets already sized for `matcher`.
    pub(super) fn for_matcher(matcher: &Matcher) -> Bitsets {
        Bitsets {
            literals: vec![0; matcher.literal_count.div_ceil(64)],
            candidates: vec![0; matcher.exprs.len().div_ceil(64)],
        }
    }
}

impl Matcher {
    /// Finds the literals present in `text` (already normalized), then pushes
    /// the index of every rule that matches onto `matched` (cleared first), in
    /// ascending order. Rules with labels whose keyword part leaves the
    /// result open go to `pending` (cleared first) for [`Matcher::resolve`].
    pub(super) fn run(
        &self,
        text: &str,
        bits: &mut Bitsets,
        matched: &mut Vec<usize>,
        pending: &mut Vec<usize>,
    ) {
        pending.clear();
        reset(&mut bits.literals, self.literal_count);
        reset(&mut bits.candidates, self.exprs.len());
        self.find_literals(text, bits);
        matched.clear();
        let words = bits.candidates.iter().zip(&self.match_without_literals);
        for (word_index, (&candidates, &fixed)) in words.enumerate() {
            let mut todo = candidates | fixed;
            while todo != 0 {
                let bit = todo.trailing_zeros() as usize;
                todo &= todo - 1;
                let rule = word_index * 64 + bit;
                if test_bit(&self.label_rules, rule) {
                    let expr = self.exprs.get(rule);
                    match expr.and_then(|e| e.eval3(&bits.literals, None)) {
                        Some(true) => matched.push(rule),
                        Some(false) => {}
                        None => pending.push(rule),
                    }
                    continue;
                }
                let hit = if candidates >> bit & 1 == 1 {
                    self.exprs
                        .get(rule)
                        .is_some_and(|expr| expr.eval(&bits.literals))
                } else {
                    true
                };
                if hit {
                    matched.push(rule);
                }
            }
        }
    }

    /// Decides the `pending` rules of the text [`Matcher::run`] last saw, now
    /// that its labels are known (`None`: no classification, labels read as
    /// unknown and such rules do not match), adding hits to `matched` and
    /// keeping it ascending.
    pub(super) fn resolve(
        &self,
        pending: &[usize],
        bits: &Bitsets,
        labels: Option<&[LabelScore]>,
        matched: &mut Vec<usize>,
    ) {
        let before = matched.len();
        for &rule in pending {
            let expr = self.exprs.get(rule);
            if expr.and_then(|e| e.eval3(&bits.literals, labels)) == Some(true) {
                matched.push(rule);
            }
        }
        if matched.len() > before {
            matched.sort_unstable();
        }
    }

    /// Sets the bit of every literal with at least one occurrence in `text`
    /// that passes its boundary checks, and marks the rules using it. The scan
    /// is overlapping, so every occurrence of every pattern is reported: an
    /// occurrence failing its boundary check cannot hide a later one.
    fn find_literals(&self, text: &str, bits: &mut Bitsets) {
        self.automaton.for_each_match(text, |pattern, start, end| {
            let Some(pattern) = self.patterns.get(pattern) else {
                return;
            };
            let prefix = pattern.prefix.filter(|&id| !test_bit(&bits.literals, id));
            let exact = pattern.exact.filter(|&id| !test_bit(&bits.literals, id));
            if prefix.is_none() && exact.is_none() {
                return;
            }
            if pattern.check_start && !boundary_before(text, start) {
                return;
            }
            if let Some(id) = prefix {
                self.mark(id, bits);
            }
            if let Some(id) = exact
                && (!pattern.check_end || boundary_after(text, end))
            {
                self.mark(id, bits);
            }
        });
    }

    fn mark(&self, literal: usize, bits: &mut Bitsets) {
        set_bit(&mut bits.literals, literal);
        let start = self.rules_of_start.get(literal).copied().unwrap_or(0);
        let end = self.rules_of_start.get(literal + 1).copied().unwrap_or(0);
        for &rule in self.rules_of.get(start..end).unwrap_or_default() {
            set_bit(&mut bits.candidates, rule);
        }
    }
}

/// Zeroes `bits` and sizes it for `len` bits, reusing its allocation.
fn reset(bits: &mut Vec<u64>, len: usize) {
    bits.clear();
    bits.resize(len.div_ceil(64), 0);
}

fn boundary_before(text: &str, start: usize) -> bool {
    let before = text.get(..start).and_then(|s| s.chars().next_back());
    !before.is_some_and(is_word_char)
}

fn boundary_after(text: &str, end: usize) -> bool {
    let after = text.get(end..).and_then(|s| s.chars().next());
    !after.is_some_and(is_word_char)
}

#[cfg(test)]
mod tests;
