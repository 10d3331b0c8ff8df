//! Keyword rule engine: which rules does a post match?
//!
//! A rule is an id plus a query. Rules come from a TOML file (see
//! [`RuleSet::load`]):
//!
//! ```toml
//! [[rule]]
//! id = "ccb-rise"
//! query = "建设银行 AND 涨"
//!
//! [[rule]]
//! id = "banks-en"
//! query = '"bank of china" OR (bank* AND NOT "food bank")'
//! ```
//!
//! # Query language
//!
//! - `term`: a run of characters other than whitespace, `(`, `)` and `"`.
//!   A trailing `*` makes a prefix term (`bank*`).
//! - `"quoted phrase"`: a literal sequence of words.
//! - `AND`, `OR`, `NOT` (uppercase only; `and` is a plain term) and
//!   parentheses. Adjacent operands are joined by `AND`. `NOT` binds tightest, then
//!   `AND`, then `OR`: `a OR b c` is `a OR (b AND c)`, `NOT a b` is
//!   `(NOT a) AND b`. A query may be just `NOT x`.
//!
//! - `label:NAME` asks the classifier (`classifier.model_path`): true when
//!   `NAME` is the most probable label of the post; `label:NAME>=0.8` when
//!   its probability is at least 0.8. `label:` is reserved: to search for
//!   the text `label:x`, quote it (`"label:x"`). Names use letters, digits,
//!   `-`, `_` and `.`.
//!
//! # Matching
//!
//! Posts and literals are normalized alike ([`normalize`]: NFKC, lowercase,
//! whitespace runs collapsed), so matching ignores case and full-width vs
//! half-width forms. With [`MatchOptions::fold_chinese_scripts`] (the
//! default) both are then folded to simplified Chinese characters
//! ([`script`]), so `建设银行` matches `建設銀行` and the reverse. A literal containing Han, Hiragana, Katakana or Hangul
//! matches as a substring, because those scripts do not separate words. Any
//! other literal matches whole words: where the literal starts (or ends) with
//! a word character (alphanumeric, not CJK), the text character next to it on
//! that side must not be one. Prefix terms only check their start. So `bank`
//! matches `bank,` and `去bank了` but not `banking`; `bank*` matches `banking`
//! but not `embankment`.
//!
//! All literals of all rules are compiled into one Aho-Corasick automaton, so
//! a post is scanned once however many rules there are. Rules with labels
//! are first evaluated on their keywords alone (three-valued: a label is
//! unknown); the post is classified only if some rule is still undecided, so
//! `建设银行 AND label:negative` classifies only posts that mention 建设银行. Reuse one
//! [`MatchScratch`] per thread to avoid allocating per post.

mod compile;
mod error;
mod file;
mod lexer;
mod matcher;
mod normalize;
mod parse;
mod scanner;
pub mod script;

use std::collections::HashMap;
use std::path::Path;

pub use compile::{LabelScore, MatchOptions};
pub use error::{After, Found, ParseError, ParseErrorKind, RuleError, RuleLocation};
pub use lexer::Probability;
pub use normalize::normalize;
pub use parse::{MAX_DEPTH, Query, parse_query};

use compile::Matcher;
use matcher::Bitsets;

/// One rule: an id and its query, as written and as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique id: ASCII letters, digits, `-`, `_` and `.`.
    pub id: String,
    /// The query as written in the rules file.
    pub query: String,
    /// The parsed query, with normalized literals.
    pub ast: Query,
}

impl Rule {
    /// 1-based character column of `label:NAME` in the query (1 if absent),
    /// for messages about the label.
    pub fn label_column(&self, label: &str) -> usize {
        let needle = format!("{}{label}", lexer::LABEL_PREFIX);
        self.query
            .find(&needle)
            .map_or(1, |at| self.query[..at].chars().count() + 1)
    }
}

/// A compiled, immutable set of rules. `Send + Sync`: share one behind an
/// `Arc` and give each thread its own [`MatchScratch`].
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    matcher: Matcher,
    options: MatchOptions,
}

/// Reusable per-thread buffers for [`RuleSet::match_text`]: the normalized
/// text and the bitsets of literals found and of candidate rules. Works with
/// any rule set; it resizes itself as needed.
#[derive(Debug, Clone, Default)]
pub struct MatchScratch {
    text: String,
    /// The folded text, when folding changed anything.
    folded: String,
    bits: Bitsets,
    pending: Vec<usize>,
    label_scores: Vec<LabelScore>,
}

impl MatchScratch {
    /// Creates empty buffers; they grow on first use.
    pub fn new() -> MatchScratch {
        MatchScratch::default()
    }

    /// The normalized form of the text last passed to
    /// [`RuleSet::match_text`], e.g. for logging why a post matched (not
    /// folded across Chinese scripts: the classifier and trending terms see
    /// the text as written).
    pub fn normalized_text(&self) -> &str {
        &self.text
    }
}

impl RuleSet {
    /// Parses and compiles a rules file's contents. `file_name` is only used
    /// in error messages (`rule "x" (rule 2 in rules.toml): ...`).
    ///
    /// # Errors
    ///
    /// [`RuleError::Toml`] for invalid TOML, unknown keys or missing fields;
    /// otherwise as [`RuleSet::compile`], naming `file_name`.
    pub fn from_toml_str(toml: &str, file_name: &str) -> Result<RuleSet, RuleError> {
        RuleSet::from_toml_str_with(toml, file_name, MatchOptions::default())
    }

    /// [`RuleSet::from_toml_str`] with explicit [`MatchOptions`].
    ///
    /// # Errors
    ///
    /// As [`RuleSet::from_toml_str`].
    pub fn from_toml_str_with(
        toml: &str,
        file_name: &str,
        options: MatchOptions,
    ) -> Result<RuleSet, RuleError> {
        let rules = file::parse_rules_file(toml, file_name)?;
        build(rules, Some(file_name), options)
    }

    /// Reads, parses and compiles the rules file at `path`.
    ///
    /// # Errors
    ///
    /// [`RuleError::Io`] if the file cannot be read; otherwise as
    /// [`RuleSet::from_toml_str`], with the path as the file name.
    pub fn load(path: &Path) -> Result<RuleSet, RuleError> {
        let toml = std::fs::read_to_string(path).map_err(|error| RuleError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        RuleSet::from_toml_str(&toml, &path.display().to_string())
    }

    /// Compiles `(id, query)` pairs, in order.
    ///
    /// # Errors
    ///
    /// The first problem in list order: an empty list, an empty, invalid
    /// (only ASCII letters, digits, `-`, `_` and `.` are allowed) or duplicate
    /// id, or a query syntax error. Rules are located by 1-based position.
    pub fn compile(rules: Vec<(String, String)>) -> Result<RuleSet, RuleError> {
        RuleSet::compile_with(rules, MatchOptions::default())
    }

    /// [`RuleSet::compile`] with explicit [`MatchOptions`].
    ///
    /// # Errors
    ///
    /// As [`RuleSet::compile`].
    pub fn compile_with(
        rules: Vec<(String, String)>,
        options: MatchOptions,
    ) -> Result<RuleSet, RuleError> {
        build(rules, None, options)
    }

    /// The options the set was compiled with.
    pub fn options(&self) -> MatchOptions {
        self.options
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the set has no rules (never true for a successfully built set).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Rule ids in rule order; [`RuleSet::match_text`] reports indices into
    /// this sequence.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|rule| rule.id.as_str())
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Number of distinct literals across all rules (after normalization and
    /// deduplication; `bank` and `bank*` count as two).
    pub fn literal_count(&self) -> usize {
        self.matcher.literal_count
    }

    /// Number of distinct strings in the automaton (`bank` and `bank*` share one).
    pub fn pattern_count(&self) -> usize {
        self.matcher.patterns.len()
    }

    /// Buffers sized for this rule set, to pass to [`RuleSet::match_text`].
    pub fn scratch(&self) -> MatchScratch {
        MatchScratch {
            text: String::with_capacity(1024),
            folded: String::new(),
            bits: Bitsets::for_matcher(&self.matcher),
            pending: Vec::new(),
            label_scores: Vec::with_capacity(self.matcher.labels.len()),
        }
    }

    /// Indices (into [`RuleSet::ids`]) of the rules the text matches, in
    /// ascending order, written into `matched` (cleared first).
    /// Rules with `label:` predicates never match here (there is no
    /// classifier); use [`RuleSet::match_text_with`].
    pub fn match_text(&self, text: &str, scratch: &mut MatchScratch, matched: &mut Vec<usize>) {
        self.match_text_with(text, scratch, matched, |_, _| false);
    }

    /// [`RuleSet::match_text`] with a classifier for `label:` predicates.
    /// `classify` is called at most once, and only when some rule's keyword
    /// part could match but its labels decide: with the normalized text, it
    /// fills one [`LabelScore`] per name of [`RuleSet::labels`], in order,
    /// and returns true (false: no verdict, label rules do not match).
    pub fn match_text_with(
        &self,
        text: &str,
        scratch: &mut MatchScratch,
        matched: &mut Vec<usize>,
        classify: impl FnOnce(&str, &mut Vec<LabelScore>) -> bool,
    ) {
        normalize(text, &mut scratch.text);
        let MatchScratch {
            text,
            folded,
            bits,
            pending,
            label_scores,
        } = scratch;
        let scanned = if self.options.fold_chinese_scripts && script::fold(text, folded) {
            folded.as_str()
        } else {
            text.as_str()
        };
        self.matcher.run(scanned, bits, matched, pending);
        if pending.is_empty() {
            return;
        }
        label_scores.clear();
        let known = classify(text, label_scores);
        let labels = known.then_some(label_scores.as_slice());
        self.matcher.resolve(pending, bits, labels, matched);
    }

    /// Label names used by `label:` predicates, in order of first use; the
    /// order [`RuleSet::match_text_with`]'s `classify` fills scores in.
    pub fn labels(&self) -> &[String] {
        &self.matcher.labels
    }

    /// Whether any rule uses a `label:` predicate.
    pub fn uses_labels(&self) -> bool {
        !self.matcher.labels.is_empty()
    }
}

/// Validates ids and parses queries in order, so the first error in the file
/// is the one reported, then compiles the automaton.
fn build(
    rules: Vec<(String, String)>,
    file: Option<&str>,
    options: MatchOptions,
) -> Result<RuleSet, RuleError> {
    if rules.is_empty() {
        return Err(RuleError::NoRules {
            file: file.map(str::to_owned),
        });
    }
    let mut first_index: HashMap<String, usize> = HashMap::with_capacity(rules.len());
    let mut parsed = Vec::with_capacity(rules.len());
    for (position, (id, query)) in rules.into_iter().enumerate() {
        let index = position + 1;
        let location = || RuleLocation {
            index,
            file: file.map(str::to_owned),
        };
        if id.is_empty() {
            return Err(RuleError::EmptyId {
                location: location(),
            });
        }
        if let Some(bad) = id.chars().find(|&c| !is_id_char(c)) {
            return Err(RuleError::InvalidId {
                id,
                bad,
                location: location(),
            });
        }
        if let Some(&first_index) = first_index.get(&id) {
            return Err(RuleError::DuplicateId {
                id,
                first_index,
                location: location(),
            });
        }
        let ast = match parse_query(&query) {
            Ok(ast) => ast,
            Err(error) => {
                return Err(RuleError::Query {
                    id,
                    location: location(),
                    error,
                });
            }
        };
        first_index.insert(id.clone(), index);
        parsed.push(Rule { id, query, ast });
    }
    if options.fold_chinese_scripts {
        script::prepare();
    }
    let matcher = Matcher::build(parsed.iter().map(|rule| &rule.ast), options)
        .map_err(RuleError::Automaton)?;
    Ok(RuleSet {
        rules: parsed,
        matcher,
        options,
    })
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}
