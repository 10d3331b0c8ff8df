//! The one tokenizer behind trending terms, training and classification.
//!
//! Steps, in order:
//!
//! 1. [`normalize`]: NFKC, lowercase, whitespace runs collapsed (the same
//!    normalization the rules use).
//! 2. Cleaning: URLs (`http://`, `https://`, `www.` up to the next space or
//!    CJK character) and `@mentions` are dropped; `’` becomes `'`; emoji
//!    variation selectors are removed.
//! 3. Segmentation: runs of Han characters go through jieba (embedded
//!    dictionary, HMM for unknown words); everything else through Unicode
//!    word boundaries (UAX #29; ASCII runs by a table-free version of the
//!    rules, `ascii_words`). A Weibo emoticon code such as `[哈哈]` is
//!    kept as one token, brackets included, so it stays distinct from the
//!    word `哈哈`. Each emoji is one token.
//! 4. Filtering: stopwords (the lists in `stopwords/`), tokens without a
//!    letter or ideograph (numbers, punctuation) and tokens over
//!    [`MAX_TOKEN_BYTES`] are dropped.

use std::ops::Range;
use std::sync::OnceLock;

use jieba_rs::Jieba;
use unicode_segmentation::UnicodeSegmentation;

use super::ascii_words::ascii_word_bounds;
use crate::rules::normalize;

/// Longer tokens (long URLs without a scheme, base64 blobs) are noise.
pub const MAX_TOKEN_BYTES: usize = 48;

/// Longest emoticon code kept whole, in characters between the brackets.
const MAX_EMOTICON_CHARS: usize = 8;

const STOPWORDS_EN: &str = include_str!("stopwords/en.txt");
const STOPWORDS_ZH: &str = include_str!("stopwords/zh.txt");

/// Segments normalized text into tokens. Building one loads jieba's
/// dictionary (a few hundred milliseconds), so a process shares one:
/// [`Tokenizer::shared`].
pub struct Tokenizer {
    jieba: Jieba,
    stopwords: Stopwords,
}

/// The stopword lists as a set of packed words (see [`pack`]): every token
/// is looked up, and hashing one integer costs less than hashing and
/// comparing its bytes. Words too long to pack (none in the lists today)
/// are kept apart.
struct Stopwords {
    packed: foldhash::HashSet<u64>,
    long: Vec<&'static str>,
}

impl Stopwords {
    fn new(words: impl Iterator<Item = &'static str>) -> Stopwords {
        let mut stopwords = Stopwords {
            packed: foldhash::HashSet::default(),
            long: Vec::new(),
        };
        for word in words {
            match pack(word) {
                Some(packed) => _ = stopwords.packed.insert(packed),
                None => stopwords.long.push(word),
            }
        }
        stopwords
    }

    fn contains(&self, word: &str) -> bool {
        match pack(word) {
            Some(packed) => self.packed.contains(&packed),
            None => self.long.contains(&word),
        }
    }
}

/// A word of at most 7 bytes as one integer: its bytes, zero-padded, and
/// its length in the top byte (so `"a"` and `"a\0"` differ).
fn pack(word: &str) -> Option<u64> {
    let bytes = word.as_bytes();
    if bytes.len() > 7 {
        return None;
    }
    // Byte by byte: a copy of a variable length would be a call to memcpy.
    let mut packed = (bytes.len() as u64) << 56;
    for (i, &b) in bytes.iter().enumerate() {
        packed |= u64::from(b) << (8 * i);
    }
    Some(packed)
}

/// Reusable buffers for [`Tokenizer::tokenize`]; one per thread.
#[derive(Debug, Default, Clone)]
pub struct TokenScratch {
    normalized: String,
    clean: String,
    spans: Vec<Range<usize>>,
}

impl TokenScratch {
    /// Empty buffers; they grow on first use.
    pub fn new() -> TokenScratch {
        TokenScratch::default()
    }

    /// The tokens found by the last [`Tokenizer::tokenize`] call.
    pub fn tokens(&self) -> impl ExactSizeIterator<Item = &str> + Clone {
        self.spans
            .iter()
            .map(|span| self.clean.get(span.clone()).unwrap_or_default())
    }

    /// Number of tokens found by the last call.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the last call found no token.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

impl Tokenizer {
    /// The process-wide tokenizer, built on first use.
    pub fn shared() -> &'static Tokenizer {
        static SHARED: OnceLock<Tokenizer> = OnceLock::new();
        SHARED.get_or_init(Tokenizer::new)
    }

    fn new() -> Tokenizer {
        let stopwords = Stopwords::new(
            [STOPWORDS_EN, STOPWORDS_ZH]
                .into_iter()
                .flat_map(str::lines)
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#')),
        );
        Tokenizer {
            jieba: Jieba::new(),
            stopwords,
        }
    }

    /// Whether `word` (normalized) is on a stopword list.
    pub fn is_stopword(&self, word: &str) -> bool {
        self.stopwords.contains(word)
    }

    /// Tokenizes `text`; read the result with [`TokenScratch::tokens`].
    pub fn tokenize(&self, text: &str, scratch: &mut TokenScratch) {
        let mut normalized = std::mem::take(&mut scratch.normalized);
        normalize(text, &mut normalized);
        self.tokenize_normalized(&normalized, scratch);
        scratch.normalized = normalized;
    }

    /// [`Tokenizer::tokenize`] for text already passed through [`normalize`]
    /// (the rule matcher's buffer), skipping a second normalization.
    pub fn tokenize_normalized(&self, normalized: &str, scratch: &mut TokenScratch) {
        clean(normalized, &mut scratch.clean);
        scratch.spans.clear();
        let text = scratch.clean.as_str();
        let mut rest = 0;
        while rest < text.len() {
            let tail = &text[rest..];
            if let Some(len) = emoticon_len(tail) {
                scratch.spans.push(rest..rest + len);
                rest += len;
                continue;
            }
            let han = tail.chars().next().is_some_and(is_han);
            let len = run_len(tail, han);
            let run = &tail[..len];
            if han {
                let mut start = rest;
                for token in self.jieba.cut(run, true) {
                    let end = start + token.word.len();
                    self.keep(token.word, start..end, &mut scratch.spans);
                    start = end;
                }
            } else if run.is_ascii() {
                for (offset, word) in ascii_word_bounds(run) {
                    let start = rest + offset;
                    self.keep(word, start..start + word.len(), &mut scratch.spans);
                }
            } else {
                for (offset, word) in run.split_word_bound_indices() {
                    let start = rest + offset;
                    self.keep(word, start..start + word.len(), &mut scratch.spans);
                }
            }
            rest += len;
        }
    }

    /// Tokens of `text` as owned strings (for training and tools, not the hot path).
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let mut scratch = TokenScratch::new();
        self.tokenize(text, &mut scratch);
        scratch.tokens().map(str::to_owned).collect()
    }

    fn keep(&self, word: &str, span: Range<usize>, spans: &mut Vec<Range<usize>>) {
        // The cheap test first: most segments of a non-Han run are spaces
        // and punctuation, which need no stopword lookup.
        let wordlike = if word.is_ascii() {
            word.bytes().any(|b| b.is_ascii_alphabetic())
        } else {
            word.chars()
                .next()
                .is_some_and(|c| is_common_ideograph(c) || is_emoji(c))
                || word.chars().any(char::is_alphabetic)
        };
        if wordlike && word.len() <= MAX_TOKEN_BYTES && !self.stopwords.contains(word) {
            spans.push(span);
        }
    }
}

/// Byte length of the run at the start of `text` (not empty): the chars up
/// to the first one whose `is_han` differs from `han`, or a `[` (which may
/// open an emoticon code). Decides ASCII and the bulk of the CJK block by
/// the lead byte, and decodes only the rest.
fn run_len(text: &str, han: bool) -> usize {
    let bytes = text.as_bytes();
    let mut i = text.chars().next().map_or(0, char::len_utf8);
    while let Some(&lead) = bytes.get(i) {
        let (is_han_char, len) = match lead {
            b'[' => return i,
            0x00..=0x7F => (false, 1),
            // U+5000..=U+9FFF: all in the unified ideographs block.
            0xE5..=0xE9 => (true, 3),
            _ => {
                let c = text[i..].chars().next().unwrap_or_default();
                (is_han(c), c.len_utf8())
            }
        };
        if is_han_char != han {
            return i;
        }
        i += len;
    }
    text.len()
}

/// Copies `text` into `out` without URLs, mentions and emoji variation
/// selectors; a removed URL or mention leaves a space so its neighbours do
/// not merge. Runs without a byte that can start one of those (`h`, `w`,
/// `@`, and the lead bytes of U+FE0E/U+FE0F and U+2019) are copied whole.
fn clean(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len());
    let bytes = text.as_bytes();
    // `text[copied..i]` is waiting to be copied.
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        // Never a UTF-8 continuation byte, so `i` is a char boundary.
        if !matches!(bytes[i], b'h' | b'w' | b'@' | 0xEF | 0xE2) {
            i += 1;
            continue;
        }
        out.push_str(&text[copied..i]);
        copied = i;
        let rest = &text[i..];
        let at_boundary = out
            .as_bytes()
            .last()
            .is_none_or(|p| !p.is_ascii_alphanumeric());
        let skip = if at_boundary && is_url_start(rest) {
            rest.find(|c: char| c == ' ' || is_han(c) || is_cjk_punct(c))
                .unwrap_or(rest.len())
        } else if bytes[i] == b'@' {
            let name = &rest[1..];
            1 + name
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(name.len())
        } else {
            0
        };
        if skip > 0 {
            out.push(' ');
            i += skip;
            copied = i;
        } else if rest.starts_with(['\u{FE0E}', '\u{FE0F}']) {
            i += 3;
            copied = i;
        } else if rest.starts_with('\u{2019}') {
            out.push('\'');
            i += 3;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
}

fn is_url_start(text: &str) -> bool {
    ["http://", "https://", "www."]
        .iter()
        .any(|scheme| text.starts_with(scheme))
}

/// Byte length of a Weibo emoticon code (`[哈哈]`, `[doge]`) at the start of `text`.
fn emoticon_len(text: &str) -> Option<usize> {
    let inner = text.strip_prefix('[')?;
    let close = inner.find(']')?;
    let name = &inner[..close];
    let chars = name.chars().count();
    let plain = name.chars().all(char::is_alphanumeric) && name.chars().any(char::is_alphabetic);
    (plain && (1..=MAX_EMOTICON_CHARS).contains(&chars)).then_some(close + 2)
}

/// Han ideographs, the script jieba segments.
fn is_han(c: char) -> bool {
    matches!(u32::from(c),
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x323AF)
}

/// CJK ideographs (Extension A and the unified block) that are all assigned
/// and alphabetic: a range test instead of `char::is_alphabetic`'s table
/// search for the common case of a Chinese word.
fn is_common_ideograph(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}')
}

/// Ideographic punctuation and full-width forms that end a URL.
fn is_cjk_punct(c: char) -> bool {
    matches!(u32::from(c), 0x3000..=0x303F | 0xFF00..=0xFFEF)
}

/// Pictographic emoji (the common blocks), kept as tokens of their own.
fn is_emoji(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x1FC00..=0x1FFFD)
}

#[cfg(test)]
mod tests;
