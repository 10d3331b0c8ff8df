//! The keyword automaton and the loop that walks it over a post.
//!
//! `AhoCorasick::find_overlapping_iter` cost ~20 instructions per byte of
//! text (its search keeps its position in a state struct and re-checks the
//! haystack bounds per byte); this loop over the same automaton is a table
//! lookup and one comparison per byte. Every occurrence of every pattern is
//! reported, as by an overlapping search.

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::{contiguous, noncontiguous};
use aho_corasick::{Anchored, BuildError, MatchKind, dfa};

/// Up to this many patterns a DFA is tried first (the aho-corasick crate's
/// own choice too): one table lookup per byte, but memory grows with
/// states × byte classes, so larger sets take the contiguous NFA.
pub(super) const DFA_MAX_PATTERNS: usize = 100;

/// The automaton of all literal texts of a rule set.
#[derive(Debug, Clone)]
pub(super) enum Scanner {
    /// For small pattern sets.
    Dfa(dfa::DFA),
    /// For the rest.
    Nfa(contiguous::NFA),
    /// For sets too large for the contiguous NFA's state ids.
    BigNfa(noncontiguous::NFA),
}

impl Scanner {
    /// Builds the automaton of `texts` (pattern ids are their indices); a
    /// DFA if there are at most `dfa_max` of them and it can be built.
    pub(super) fn build(texts: &[String], dfa_max: usize) -> Result<Scanner, BuildError> {
        if texts.len() <= dfa_max
            && let Ok(dfa) = dfa::Builder::new()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(texts)
        {
            return Ok(Scanner::Dfa(dfa));
        }
        let contiguous = contiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(texts);
        match contiguous {
            Ok(nfa) => Ok(Scanner::Nfa(nfa)),
            Err(_) => noncontiguous::Builder::new()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(texts)
                .map(Scanner::BigNfa),
        }
    }

    /// Calls `found(pattern, start, end)` for every occurrence of every
    /// pattern in `text`, in order of `end`.
    #[inline]
    pub(super) fn for_each_match(&self, text: &str, found: impl FnMut(usize, usize, usize)) {
        match self {
            Scanner::Dfa(dfa) => scan(dfa, text.as_bytes(), found),
            Scanner::Nfa(nfa) => scan(nfa, text.as_bytes(), found),
            Scanner::BigNfa(nfa) => scan(nfa, text.as_bytes(), found),
        }
    }
}

/// The overlapping search of `automaton` (built unanchored, without a
/// prefilter) over `haystack`. Not inlined: in the caller's body the
/// loop lost registers and reloaded the DFA's tables per byte.
#[inline(never)]
fn scan<A: Automaton>(automaton: &A, haystack: &[u8], mut found: impl FnMut(usize, usize, usize)) {
    let Ok(mut state) = automaton.start_state(Anchored::No) else {
        return;
    };
    for (at, &byte) in haystack.iter().enumerate() {
        state = automaton.next_state(Anchored::No, state, byte);
        if !automaton.is_special(state) {
            continue;
        }
        if automaton.is_dead(state) {
            return;
        }
        if !automaton.is_match(state) {
            continue;
        }
        let end = at + 1;
        for index in 0..automaton.match_len(state) {
            let pattern = automaton.match_pattern(state, index);
            found(
                pattern.as_usize(),
                end - automaton.pattern_len(pattern),
                end,
            );
        }
    }
}

#[cfg(test)]
mod tests;
