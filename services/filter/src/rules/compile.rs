//! Compilation of parsed rules into a [`Matcher`]: every literal of every rule
//! goes into one Aho-Corasick automaton, and each query is rewritten over
//! literal ids. The per-post work lives in [`matcher`](super::matcher).

use std::collections::HashMap;

use aho_corasick::BuildError;

use super::normalize::{is_cjk, is_word_char};
use super::parse::Query;
use super::scanner::{DFA_MAX_PATTERNS, Scanner};
use super::script;

/// How a rule set matches text, beyond what its rules say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchOptions {
    /// Fold traditional Chinese characters to simplified ones, in the
    /// rules' literals when compiling and in each post when matching, so a
    /// rule matches posts in either script (see [`script`]).
    pub fold_chinese_scripts: bool,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            fold_chinese_scripts: true,
        }
    }
}

/// The classifier's verdict on one label, as rule evaluation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LabelScore {
    /// Probability of the label.
    pub probability: f64,
    /// Whether it is the most probable label.
    pub top: bool,
}

/// A rule's query with literals replaced by their bit index and labels by
/// their index in the rule set's label list.
#[derive(Debug, Clone)]
pub(super) enum Expr {
    Lit(usize),
    Label { label: usize, min: Option<f64> },
    Not(Box<Expr>),
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
}

impl Expr {
    /// Evaluates a rule without labels against the bitset of literals found
    /// (a label reads as false; rules with labels use [`Expr::eval3`]).
    pub(super) fn eval(&self, literals: &[u64]) -> bool {
        match self {
            Expr::Lit(id) => test_bit(literals, *id),
            Expr::Label { .. } => false,
            Expr::Not(inner) => !inner.eval(literals),
            Expr::And(parts) => parts.iter().all(|p| p.eval(literals)),
            Expr::Or(parts) => parts.iter().any(|p| p.eval(literals)),
        }
    }

    /// Three-valued (Kleene) evaluation: `None` when the result depends on
    /// labels and `labels` is `None` (the post is not classified yet). So a
    /// rule whose keyword part already decides it never needs the classifier.
    pub(super) fn eval3(&self, literals: &[u64], labels: Option<&[LabelScore]>) -> Option<bool> {
        match self {
            Expr::Lit(id) => Some(test_bit(literals, *id)),
            Expr::Label { label, min } => labels.map(|scores| {
                scores.get(*label).is_some_and(|score| match min {
                    Some(min) => score.probability >= *min,
                    None => score.top,
                })
            }),
            Expr::Not(inner) => inner.eval3(literals, labels).map(|b| !b),
            Expr::And(parts) => {
                let mut unknown = false;
                for part in parts.iter() {
                    match part.eval3(literals, labels) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                (!unknown).then_some(true)
            }
            Expr::Or(parts) => {
                let mut unknown = false;
                for part in parts.iter() {
                    match part.eval3(literals, labels) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                (!unknown).then_some(false)
            }
        }
    }

    fn uses_label(&self) -> bool {
        match self {
            Expr::Lit(_) => false,
            Expr::Label { .. } => true,
            Expr::Not(inner) => inner.uses_label(),
            Expr::And(parts) | Expr::Or(parts) => parts.iter().any(Expr::uses_label),
        }
    }

    fn collect_literals(&self, out: &mut Vec<usize>) {
        match self {
            Expr::Lit(id) => out.push(*id),
            Expr::Label { .. } => {}
            Expr::Not(inner) => inner.collect_literals(out),
            Expr::And(parts) | Expr::Or(parts) => {
                parts.iter().for_each(|p| p.collect_literals(out));
            }
        }
    }
}

/// One automaton pattern. The same text can back two literals, `bank` and
/// `bank*`, which differ only in whether the end edge is checked.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    /// The first character is a word character, so the text character before
    /// the match must not be one.
    pub check_start: bool,
    /// Same for the last character and the text character after the match.
    pub check_end: bool,
    /// Bit of the whole-word literal, if some rule uses it.
    pub exact: Option<usize>,
    /// Bit of the prefix literal, if some rule uses it.
    pub prefix: Option<usize>,
}

/// Literals of all rules compiled into one automaton, and the rules' queries.
#[derive(Debug, Clone)]
pub(super) struct Matcher {
    pub automaton: Scanner,
    /// Indexed by automaton pattern id.
    pub patterns: Vec<Pattern>,
    /// One per rule, in rule order.
    pub exprs: Vec<Expr>,
    pub literal_count: usize,
    /// Rules using each literal: those of literal `l` are
    /// `rules_of[rules_of_start[l]..rules_of_start[l + 1]]`.
    pub rules_of_start: Vec<usize>,
    pub rules_of: Vec<usize>,
    /// Bitset of the rules that can match a text in which no literal of
    /// theirs occurs (`NOT x`, `label:negative`); together with the rules
    /// touched by a found literal, these are the only rules whose result can
    /// be true.
    pub match_without_literals: Vec<u64>,
    /// Bitset of the rules that use a label.
    pub label_rules: Vec<u64>,
    /// Label names, indexed by `Expr::Label::label`.
    pub labels: Vec<String>,
}

impl Matcher {
    /// Compiles the queries (one per rule, in order), deduplicating literals
    /// (after folding scripts, if the options say so: 銀行 and 银行 are one).
    pub(super) fn build<'a>(
        queries: impl IntoIterator<Item = &'a Query>,
        options: MatchOptions,
    ) -> Result<Matcher, BuildError> {
        let mut builder = Builder {
            fold_scripts: options.fold_chinese_scripts,
            ..Builder::default()
        };
        let exprs: Vec<Expr> = queries.into_iter().map(|q| builder.expr(q)).collect();
        let automaton = Scanner::build(&builder.texts, DFA_MAX_PATTERNS)?;

        let mut by_literal: Vec<Vec<usize>> = vec![Vec::new(); builder.literal_count];
        let mut match_without_literals = vec![0; exprs.len().div_ceil(64)];
        let mut label_rules = vec![0; exprs.len().div_ceil(64)];
        let mut literals = Vec::new();
        for (rule, expr) in exprs.iter().enumerate() {
            literals.clear();
            expr.collect_literals(&mut literals);
            literals.sort_unstable();
            literals.dedup();
            for &literal in &literals {
                if let Some(rules) = by_literal.get_mut(literal) {
                    rules.push(rule);
                }
            }
            if expr.eval3(&[], None) != Some(false) {
                set_bit(&mut match_without_literals, rule);
            }
            if expr.uses_label() {
                set_bit(&mut label_rules, rule);
            }
        }
        let mut rules_of_start = Vec::with_capacity(by_literal.len() + 1);
        let mut end = 0;
        rules_of_start.push(end);
        for rules in &by_literal {
            end += rules.len();
            rules_of_start.push(end);
        }
        Ok(Matcher {
            automaton,
            patterns: builder.patterns,
            exprs,
            literal_count: builder.literal_count,
            rules_of_start,
            rules_of: by_literal.concat(),
            match_without_literals,
            label_rules,
            labels: builder.labels,
        })
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
    labels: Vec<String>,
    /// Fold literals to simplified characters, as posts will be.
    fold_scripts: bool,
}

impl Builder {
    fn expr(&mut self, query: &Query) -> Expr {
        match query {
            Query::Term { text, prefix } => Expr::Lit(self.literal(text, *prefix)),
            Query::Phrase(text) => Expr::Lit(self.literal(text, false)),
            Query::Label {
                label,
                min_probability,
            } => {
                let index = match self.labels.iter().position(|l| l == label) {
                    Some(index) => index,
                    None => {
                        self.labels.push(label.clone());
                        self.labels.len() - 1
                    }
                };
                Expr::Label {
                    label: index,
                    min: min_probability.map(|p| p.get()),
                }
            }
            Query::Not(inner) => Expr::Not(Box::new(self.expr(inner))),
            Query::And(parts) => Expr::And(parts.iter().map(|p| self.expr(p)).collect()),
            Query::Or(parts) => Expr::Or(parts.iter().map(|p| self.expr(p)).collect()),
        }
    }

    /// Returns the bit id of `text` (whole word, or prefix), creating the
    /// pattern and the id on first use.
    fn literal(&mut self, text: &str, prefix: bool) -> usize {
        let folded;
        let text = if self.fold_scripts {
            folded = script::folded(text);
            folded.as_ref()
        } else {
            text
        };
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

/// Reads bit `id`; bits past the end read as 0.
pub(super) fn test_bit(bits: &[u64], id: usize) -> bool {
    bits.get(id / 64)
        .is_some_and(|word| word >> (id % 64) & 1 == 1)
}

/// Sets bit `id`; bits past the end are ignored (buffers are sized first).
pub(super) fn set_bit(bits: &mut [u64], id: usize) {
    if let Some(word) = bits.get_mut(id / 64) {
        *word |= 1 << (id % 64);
    }
}
