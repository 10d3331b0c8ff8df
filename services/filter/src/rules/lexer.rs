//! Tokenizer for the query language.
//!
//! Columns are 1-based character positions (not bytes), because queries are
//! mostly Chinese and editors count characters. Lexing stops at the first
//! lexical error, which becomes the last token: the parser reports it only if
//! everything before it parsed, so errors surface in left-to-right order.

use super::error::{ParseError, ParseErrorKind};
use super::normalize::normalize;

/// Prefix of a classifier label predicate (`label:negative>=0.8`).
pub(super) const LABEL_PREFIX: &str = "label:";

/// A probability threshold in [0, 1]; never NaN, hence `Eq`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Probability(f64);

impl Eq for Probability {}

impl Probability {
    /// `Some` for a value in [0, 1].
    pub fn new(value: f64) -> Option<Probability> {
        (0.0..=1.0).contains(&value).then_some(Probability(value))
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// A token and the column of its first character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: TokenKind,
    pub column: usize,
}

/// Token kinds. Literal text is already normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// A bare term; `prefix` when it ended in `*` (which is stripped).
    Term {
        text: String,
        prefix: bool,
    },
    /// The contents of a `"quoted phrase"`.
    Phrase(String),
    /// `label:NAME` or `label:NAME>=P`: the classifier's verdict on the post.
    Label {
        name: String,
        min_probability: Option<Probability>,
    },
    And,
    Or,
    Not,
    LParen,
    RParen,
    /// End of the query; its column is one past the last character.
    End,
    /// A lexical error; always the last token.
    Error(ParseError),
}

/// Splits `query` into tokens. The result always ends with `End` or `Error`.
pub(super) fn tokenize(query: &str) -> Vec<Token> {
    let chars: Vec<char> = query.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let kind = match c {
            '(' => {
                i += 1;
                TokenKind::LParen
            }
            ')' => {
                i += 1;
                TokenKind::RParen
            }
            '"' => {
                let body = &chars[i + 1..];
                match body.iter().position(|&c| c == '"') {
                    None => error(ParseErrorKind::UnterminatedQuote, column),
                    Some(len) => {
                        i += len + 2;
                        match literal(&body[..len]) {
                            Some(text) => TokenKind::Phrase(text),
                            None => error(ParseErrorKind::EmptyPhrase, column),
                        }
                    }
                }
            }
            _ => {
                let start = i;
                while chars.get(i).is_some_and(|&c| !is_delimiter(c)) {
                    i += 1;
                }
                word(&chars[start..i], column)
            }
        };
        let stop = matches!(kind, TokenKind::Error(_));
        tokens.push(Token { kind, column });
        if stop {
            return tokens;
        }
    }
    tokens.push(Token {
        kind: TokenKind::End,
        column: chars.len() + 1,
    });
    tokens
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

fn error(kind: ParseErrorKind, column: usize) -> TokenKind {
    TokenKind::Error(ParseError { column, kind })
}

/// Classifies a run of non-delimiter characters starting at `column`.
fn word(chars: &[char], column: usize) -> TokenKind {
    let raw: String = chars.iter().collect();
    match raw.as_str() {
        "AND" => return TokenKind::And,
        "OR" => return TokenKind::Or,
        "NOT" => return TokenKind::Not,
        "*" => return error(ParseErrorKind::LoneStar, column),
        _ => {}
    }
    if let Some(body) = raw.strip_prefix(LABEL_PREFIX) {
        return label(body, column + LABEL_PREFIX.len());
    }
    let (body, prefix) = match chars.split_last() {
        Some(('*', body)) => (body, true),
        _ => (chars, false),
    };
    if let Some(pos) = body.iter().position(|&c| c == '*') {
        return error(ParseErrorKind::StarInsideTerm, column + pos);
    }
    match literal(body) {
        Some(text) => TokenKind::Term { text, prefix },
        None => error(ParseErrorKind::EmptyTerm, column),
    }
}

/// Parses what follows `label:` (starting at `column`): a name of letters,
/// digits, `-`, `_` and `.`, then optionally `>=` and a probability in [0, 1].
fn label(body: &str, column: usize) -> TokenKind {
    let name_len = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map_or(body.len(), |(i, _)| i);
    let (name, rest) = body.split_at(name_len);
    let rest_column = column + name.chars().count();
    if name.is_empty() {
        return match rest.chars().next() {
            None | Some('>') => error(ParseErrorKind::EmptyLabel, column),
            Some(bad) => error(ParseErrorKind::InvalidLabelChar(bad), column),
        };
    }
    if rest.is_empty() {
        return TokenKind::Label {
            name: name.to_owned(),
            min_probability: None,
        };
    }
    let Some(number) = rest.strip_prefix(">=") else {
        return match rest.chars().next() {
            Some('>' | '=' | '<') => error(ParseErrorKind::BadThreshold, rest_column),
            Some(bad) => error(ParseErrorKind::InvalidLabelChar(bad), rest_column),
            None => error(ParseErrorKind::BadThreshold, rest_column),
        };
    };
    match number.parse::<f64>().ok().and_then(Probability::new) {
        Some(min) => TokenKind::Label {
            name: name.to_owned(),
            min_probability: Some(min),
        },
        None => error(ParseErrorKind::BadThreshold, rest_column + 2),
    }
}

/// Normalizes literal text the same way posts are normalized; surrounding
/// spaces are dropped so `" bank "` equals `"bank"`. `None` if nothing is left.
fn literal(chars: &[char]) -> Option<String> {
    let raw: String = chars.iter().collect();
    let mut text = String::with_capacity(raw.len());
    normalize(&raw, &mut text);
    let trimmed = text.trim_matches(' ');
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(q: &str) -> Vec<TokenKind> {
        tokenize(q).into_iter().map(|t| t.kind).collect()
    }

    fn term(text: &str, prefix: bool) -> TokenKind {
        TokenKind::Term {
            text: text.into(),
            prefix,
        }
    }

    #[test]
    fn splits_terms_operators_parens_and_phrases() {
        assert_eq!(
            kinds("(Bank*) AND \"Food  Bank\"OR NOT x"),
            vec![
                TokenKind::LParen,
                term("bank", true),
                TokenKind::RParen,
                TokenKind::And,
                TokenKind::Phrase("food bank".into()),
                TokenKind::Or,
                TokenKind::Not,
                term("x", false),
                TokenKind::End,
            ]
        );
    }

    #[test]
    fn operators_are_uppercase_only() {
        assert_eq!(
            kinds("and or not And ANDY"),
            vec![
                term("and", false),
                term("or", false),
                term("not", false),
                term("and", false),
                term("andy", false),
                TokenKind::End,
            ]
        );
    }

    #[test]
    fn columns_count_characters() {
        let tokens = tokenize("建设银行 AND 涨");
        let columns: Vec<usize> = tokens.iter().map(|t| t.column).collect();
        assert_eq!(columns, vec![1, 6, 10, 11]);
    }

    #[test]
    fn full_width_terms_are_normalized() {
        assert_eq!(kinds("ＣＣＢ"), vec![term("ccb", false), TokenKind::End]);
    }

    #[test]
    fn lexing_stops_at_first_error() {
        let tokens = tokenize("a b*c \"x");
        assert_eq!(tokens.len(), 2);
        assert_eq!(
            tokens[1].kind,
            error(ParseErrorKind::StarInsideTerm, 4),
            "column of the offending star"
        );
    }
}
