//! Error types of the rule engine.
//!
//! Messages are written for the person editing the rules file: every error
//! names the file, the rule (id and 1-based position) and, for query syntax
//! errors, the 1-based character column inside the query.

use std::fmt;
use std::path::PathBuf;

/// A query syntax error: where (1-based column, counted in characters) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {kind}")]
pub struct ParseError {
    /// 1-based column, in characters (not bytes), of the offending token.
    /// End-of-query errors point one past the last character.
    pub column: usize,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

/// The kinds of query syntax error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The query has no tokens at all.
    #[error("empty query")]
    EmptyQuery,
    /// A `(` without its `)`; the column points at the `(`.
    #[error("\"(\" is never closed")]
    UnclosedParen,
    /// A `)` without a preceding `(`.
    #[error("unmatched \")\"")]
    UnmatchedParen,
    /// A `"` without its closing `"`; the column points at the opening quote.
    #[error("unterminated quote")]
    UnterminatedQuote,
    /// `""`, or a phrase of whitespace only.
    #[error("empty phrase")]
    EmptyPhrase,
    /// A term that normalizes to nothing matchable.
    #[error("term has no matchable characters")]
    EmptyTerm,
    /// A `*` standing alone.
    #[error("\"*\" alone is not a term; use it at the end of a word, e.g. bank*")]
    LoneStar,
    /// A `*` that is not the last character of its term.
    #[error("\"*\" is only allowed at the end of a term")]
    StarInsideTerm,
    /// An operator or the end of the query where an operand was required.
    #[error("expected a term or \"(\" {after}, found {found}")]
    ExpectedOperand {
        /// What precedes the missing operand.
        after: After,
        /// What was found instead.
        found: Found,
    },
    /// `label:` without a label name.
    #[error("label: needs a label name, e.g. label:negative")]
    EmptyLabel,
    /// A character that cannot be part of a label name.
    #[error("{0:?} is not allowed in a label name (letters, digits, '-', '_' and '.' are)")]
    InvalidLabelChar(char),
    /// A label's threshold is not `>=` and a number between 0 and 1.
    #[error("expected \">=\" and a probability between 0 and 1, e.g. label:negative>=0.8")]
    BadThreshold,
    /// Parentheses or `NOT`s nested deeper than the parser allows.
    #[error("query nested deeper than {0} levels")]
    TooDeep(usize),
}

/// What precedes a missing operand, for [`ParseErrorKind::ExpectedOperand`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// The start of the query.
    Start,
    /// An `AND`.
    And,
    /// An `OR`.
    Or,
    /// A `NOT`.
    Not,
    /// An opening parenthesis.
    OpenParen,
}

impl fmt::Display for After {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            After::Start => "at start of query",
            After::And => "after AND",
            After::Or => "after OR",
            After::Not => "after NOT",
            After::OpenParen => "after \"(\"",
        })
    }
}

/// What was found instead of an operand, for [`ParseErrorKind::ExpectedOperand`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The end of the query.
    End,
    /// An `AND`.
    And,
    /// An `OR`.
    Or,
    /// A closing parenthesis.
    CloseParen,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Found::End => "end of query",
            Found::And => "AND",
            Found::Or => "OR",
            Found::CloseParen => "\")\"",
        })
    }
}

/// Where a rule sits: its 1-based position and, when loaded from a file, the
/// file's name. Displays as `rule 2 in rules.toml` (or `rule 2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLocation {
    /// 1-based position of the rule in the file or in the list given to
    /// [`RuleSet::compile`](super::RuleSet::compile).
    pub index: usize,
    /// Name of the rules file, if the rules came from one.
    pub file: Option<String>,
}

impl fmt::Display for RuleLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "rule {} in {file}", self.index),
            None => write!(f, "rule {}", self.index),
        }
    }
}

/// Any error from loading or compiling a rule set.
///
/// Each message is self-contained (it already includes the underlying I/O or
/// TOML message), so no `source()` chain is exposed; printing the chain as
/// well would repeat it.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The rules file could not be read.
    #[error("cannot read rules file {}: {error}", path.display())]
    Io {
        /// The file that was being read.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The rules file is not valid TOML or does not have the expected shape
    /// (unknown keys, missing `id`/`query`, wrong types).
    #[error("{file}: {}", error.to_string().trim_end())]
    Toml {
        /// Name of the rules file.
        file: String,
        /// The deserializer's error, which names the offending key and line.
        error: Box<toml::de::Error>,
    },
    /// A rule's `[rule.alert]` section has a bad value.
    #[error("{file}: {message}")]
    Alert {
        /// Name of the rules file.
        file: String,
        /// Which rule and key, and what is wrong.
        message: String,
    },
    /// The rule list is empty.
    #[error("{}", no_rules_message(file.as_deref()))]
    NoRules {
        /// Name of the rules file, if any.
        file: Option<String>,
    },
    /// A rule has an empty id.
    #[error("{location}: id must not be empty")]
    EmptyId {
        /// Which rule.
        location: RuleLocation,
    },
    /// A rule id contains a character outside letters, digits, `-`, `_`, `.`.
    #[error(
        "rule {id:?} ({location}): invalid id: {bad:?} is not allowed, use only ASCII letters, digits, '-', '_' and '.'"
    )]
    InvalidId {
        /// The offending id.
        id: String,
        /// The first disallowed character.
        bad: char,
        /// Which rule.
        location: RuleLocation,
    },
    /// Two rules share an id.
    #[error("rule {id:?} ({location}): duplicate id, already used by rule {first_index}")]
    DuplicateId {
        /// The duplicated id.
        id: String,
        /// 1-based position of the first rule with this id.
        first_index: usize,
        /// Which rule (the later one).
        location: RuleLocation,
    },
    /// A rule's query does not parse.
    #[error("rule {id:?} ({location}): {error}")]
    Query {
        /// The rule's id.
        id: String,
        /// Which rule.
        location: RuleLocation,
        /// The syntax error, with its column.
        error: ParseError,
    },
    /// The combined automaton could not be built (far beyond any realistic
    /// rule set size).
    #[error("cannot build the keyword automaton: {0}")]
    Automaton(aho_corasick::BuildError),
}

fn no_rules_message(file: Option<&str>) -> String {
    match file {
        Some(file) => {
            format!("{file}: no rules defined (expected at least one [[rule]] with id and query)")
        }
        None => "no rules given".to_owned(),
    }
}
