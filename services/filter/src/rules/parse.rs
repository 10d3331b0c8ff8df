//! Query parser: tokens to [`Query`] AST.
//!
//! Grammar, loosest first (NOT binds tightest, adjacency is AND):
//!
//! ```text
//! or      := and ("OR" and)*
//! and     := operand ("AND"? operand)*
//! operand := "NOT" operand | "(" or ")" | term | "phrase"
//! ```

use std::fmt;

use super::error::{After, Found, ParseError, ParseErrorKind};
use super::lexer::{Probability, Token, TokenKind, tokenize};

/// Deepest nesting of parentheses and `NOT`s accepted; bounds the recursion
/// of both the parser and the matcher.
pub const MAX_DEPTH: usize = 100;

/// A parsed query. Literal text is normalized (see
/// [`normalize`](super::normalize())), so `ＣＣＢ` is stored as `ccb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// A bare word; `prefix` when written with a trailing `*`.
    Term {
        /// The normalized word, without the `*`.
        text: String,
        /// Whether any word starting with `text` matches.
        prefix: bool,
    },
    /// A quoted phrase, matched as a literal sequence.
    Phrase(String),
    /// The classifier's verdict: without a threshold, `label` is the most
    /// probable label; with one, its probability is at least the threshold.
    Label {
        /// The label name, as in the model file.
        label: String,
        /// `>=` threshold, if written.
        min_probability: Option<Probability>,
    },
    /// Matches when the inner query does not.
    Not(Box<Query>),
    /// Matches when all parts match (at least two; nested ANDs are flattened).
    And(Vec<Query>),
    /// Matches when any part matches (at least two; nested ORs are flattened).
    Or(Vec<Query>),
}

impl fmt::Display for Query {
    /// Renders the query as an S-expression, e.g. `(OR a (AND b* (NOT "c d")))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (op, parts) = match self {
            Query::Term { text, prefix } => {
                return write!(f, "{text}{}", if *prefix { "*" } else { "" });
            }
            Query::Phrase(text) => return write!(f, "\"{text}\""),
            Query::Label {
                label,
                min_probability,
            } => {
                write!(f, "label:{label}")?;
                if let Some(min) = min_probability {
                    write!(f, ">={}", min.get())?;
                }
                return Ok(());
            }
            Query::Not(inner) => return write!(f, "(NOT {inner})"),
            Query::And(parts) => ("AND", parts),
            Query::Or(parts) => ("OR", parts),
        };
        write!(f, "({op}")?;
        for part in parts {
            write!(f, " {part}")?;
        }
        f.write_str(")")
    }
}

impl Query {
    /// Whether the query contains a `label:` predicate anywhere.
    pub fn uses_labels(&self) -> bool {
        self.labels().next().is_some()
    }

    /// The label names the query uses, in order of appearance.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        let mut stack = vec![self];
        std::iter::from_fn(move || {
            while let Some(query) = stack.pop() {
                match query {
                    Query::Label { label, .. } => return Some(label.as_str()),
                    Query::Not(inner) => stack.push(inner),
                    Query::And(parts) | Query::Or(parts) => stack.extend(parts.iter().rev()),
                    Query::Term { .. } | Query::Phrase(_) => {}
                }
            }
            None
        })
    }
}

impl std::str::FromStr for Query {
    type Err = ParseError;

    fn from_str(query: &str) -> Result<Self, Self::Err> {
        parse_query(query)
    }
}

/// Parses a query string (see the [module docs](super) for the syntax).
///
/// # Errors
///
/// The leftmost syntax error, with its 1-based character column.
pub fn parse_query(query: &str) -> Result<Query, ParseError> {
    let mut parser = Parser {
        tokens: tokenize(query),
        pos: 0,
        depth: 0,
        open_parens: 0,
    };
    if parser.peek().kind == TokenKind::End {
        return Err(ParseError {
            column: 1,
            kind: ParseErrorKind::EmptyQuery,
        });
    }
    let parsed = parser.parse_or(After::Start)?;
    let next = parser.peek();
    match next.kind {
        TokenKind::End => Ok(parsed),
        // Only `)` can stop the loops at top level; see `parse_and`.
        _ => Err(ParseError {
            column: next.column,
            kind: ParseErrorKind::UnmatchedParen,
        }),
    }
}

struct Parser {
    /// Never empty: ends with `End` or `Error`, neither of which is consumed.
    tokens: Vec<Token>,
    pos: usize,
    /// Current nesting of parentheses and `NOT`s.
    depth: usize,
    /// Currently open parentheses, to tell a stray `)` from an empty group.
    open_parens: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.pos.min(last)]
    }

    fn advance(&mut self) {
        self.pos += 1;
    }

    fn parse_or(&mut self, after: After) -> Result<Query, ParseError> {
        let mut parts = vec![self.parse_and(after)?];
        while self.peek().kind == TokenKind::Or {
            self.advance();
            parts.push(self.parse_and(After::Or)?);
        }
        Ok(join(Op::Or, parts))
    }

    fn parse_and(&mut self, after: After) -> Result<Query, ParseError> {
        let mut parts = vec![self.parse_operand(after)?];
        loop {
            match self.peek().kind {
                TokenKind::And => {
                    self.advance();
                    parts.push(self.parse_operand(After::And)?);
                }
                // Adjacency is an implicit AND. `Error` is included so a
                // lexical error is reported rather than stopping the loop.
                TokenKind::Term { .. }
                | TokenKind::Phrase(_)
                | TokenKind::Label { .. }
                | TokenKind::Not
                | TokenKind::LParen
                | TokenKind::Error(_) => parts.push(self.parse_operand(After::And)?),
                TokenKind::Or | TokenKind::RParen | TokenKind::End => break,
            }
        }
        Ok(join(Op::And, parts))
    }

    fn parse_operand(&mut self, after: After) -> Result<Query, ParseError> {
        let Token { kind, column } = self.peek().clone();
        let found = match kind {
            TokenKind::Term { text, prefix } => {
                self.advance();
                return Ok(Query::Term { text, prefix });
            }
            TokenKind::Phrase(text) => {
                self.advance();
                return Ok(Query::Phrase(text));
            }
            TokenKind::Label {
                name,
                min_probability,
            } => {
                self.advance();
                return Ok(Query::Label {
                    label: name,
                    min_probability,
                });
            }
            TokenKind::Not => {
                self.enter(column)?;
                self.advance();
                let inner = self.parse_operand(After::Not)?;
                self.depth -= 1;
                return Ok(Query::Not(Box::new(inner)));
            }
            TokenKind::LParen => {
                self.enter(column)?;
                self.advance();
                self.open_parens += 1;
                let inner = self.parse_or(After::OpenParen)?;
                if self.peek().kind != TokenKind::RParen {
                    return Err(ParseError {
                        column,
                        kind: ParseErrorKind::UnclosedParen,
                    });
                }
                self.advance();
                self.open_parens -= 1;
                self.depth -= 1;
                return Ok(inner);
            }
            TokenKind::Error(error) => return Err(error),
            TokenKind::And => Found::And,
            TokenKind::Or => Found::Or,
            TokenKind::RParen if self.open_parens == 0 => {
                return Err(ParseError {
                    column,
                    kind: ParseErrorKind::UnmatchedParen,
                });
            }
            TokenKind::RParen => Found::CloseParen,
            TokenKind::End => Found::End,
        };
        Err(ParseError {
            column,
            kind: ParseErrorKind::ExpectedOperand { after, found },
        })
    }

    fn enter(&mut self, column: usize) -> Result<(), ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError {
                column,
                kind: ParseErrorKind::TooDeep(MAX_DEPTH),
            });
        }
        self.depth += 1;
        Ok(())
    }
}

/// The n-ary operators, for [`join`].
#[derive(Clone, Copy)]
enum Op {
    And,
    Or,
}

/// Builds an n-ary node, flattening children of the same operator; a single
/// part is returned as is.
fn join(op: Op, mut parts: Vec<Query>) -> Query {
    if parts.len() == 1
        && let Some(only) = parts.pop()
    {
        return only;
    }
    let mut flat = Vec::with_capacity(parts.len());
    for part in parts {
        match (op, part) {
            (Op::And, Query::And(inner)) | (Op::Or, Query::Or(inner)) => flat.extend(inner),
            (_, part) => flat.push(part),
        }
    }
    match op {
        Op::And => Query::And(flat),
        Op::Or => Query::Or(flat),
    }
}

#[cfg(test)]
mod tests;
