//! Text normalization shared by queries and posts, plus the character classes
//! used for word boundaries.
//!
//! Both sides of a match go through [`normalize`], so a literal found in the
//! normalized text is a match in the original text modulo width, case and
//! whitespace differences.

use unicode_normalization::UnicodeNormalization;

/// Normalizes `text` into `out` (cleared first, its capacity is reused).
///
/// Steps: Unicode NFKC (full-width `ＡＢＣ１２３` become `ABC123`), lowercase,
/// then every run of whitespace collapsed into a single ASCII space. Leading
/// and trailing whitespace is collapsed too, not trimmed. Pure-ASCII input
/// skips NFKC, which cannot change it.
pub fn normalize(text: &str, out: &mut String) {
    out.clear();
    out.reserve(text.len());
    let mut in_space = false;
    if text.is_ascii() {
        for b in text.bytes() {
            push_char(out, char::from(b), &mut in_space);
        }
    } else {
        for c in text.nfkc() {
            if c.is_ascii() {
                push_char(out, c, &mut in_space);
            } else {
                for lower in c.to_lowercase() {
                    push_char(out, lower, &mut in_space);
                }
            }
        }
    }
}

/// Appends one character, lowercasing ASCII and collapsing whitespace runs.
#[inline]
fn push_char(out: &mut String, c: char, in_space: &mut bool) {
    if c.is_whitespace() {
        if !*in_space {
            out.push(' ');
            *in_space = true;
        }
    } else {
        out.push(c.to_ascii_lowercase());
        *in_space = false;
    }
}

/// Returns true for Han, Hiragana, Katakana and Hangul characters: scripts
/// written without spaces, whose literals therefore match as plain substrings.
pub fn is_cjk(c: char) -> bool {
    matches!(
        u32::from(c),
        // Han: radicals, Kangxi radicals, ideographic marks, unified
        // ideographs and extensions, compatibility ideographs.
        0x2E80..=0x2FDF
            | 0x3005
            | 0x3007
            | 0x3021..=0x3029
            | 0x3038..=0x303B
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xF900..=0xFAFF
            | 0x20000..=0x323AF
            // Hiragana, Katakana (incl. phonetic extensions, half-width forms
            // and the kana supplements).
            | 0x3040..=0x30FF
            | 0x31F0..=0x31FF
            | 0xFF66..=0xFF9F
            | 0x1AFF0..=0x1B16F
            // Hangul: jamo, compatibility jamo, extended jamo, syllables,
            // half-width forms.
            | 0x1100..=0x11FF
            | 0x3130..=0x318F
            | 0xA960..=0xA97F
            | 0xAC00..=0xD7FF
            | 0xFFA0..=0xFFDC
    )
}

/// Returns true for characters that glue words together: alphanumeric and not
/// CJK. A CJK neighbour therefore counts as a word boundary (`去bank了`).
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        c.is_alphanumeric() && !is_cjk(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let mut out = String::new();
        normalize(s, &mut out);
        out
    }

    #[test]
    fn ascii_lowercases_and_collapses_whitespace() {
        assert_eq!(norm("Bank  Of\n\tCHINA"), "bank of china");
        assert_eq!(norm("  a  "), " a ");
        assert_eq!(norm(""), "");
        assert_eq!(norm("\x0b"), " ");
    }

    #[test]
    fn full_width_becomes_half_width() {
        assert_eq!(norm("ＣＣＢ"), "ccb");
        assert_eq!(norm("１０％"), "10%");
        assert_eq!(norm("建设银行，涨！"), "建设银行,涨!");
    }

    #[test]
    fn unicode_whitespace_and_case() {
        assert_eq!(norm("建设\u{3000}\u{3000}银行"), "建设 银行");
        assert_eq!(norm("ÉCOLE\u{a0}Straße"), "école straße");
        assert_eq!(norm("ΑΘΗΝΑ"), "αθηνα");
    }

    #[test]
    fn compatibility_forms() {
        assert_eq!(norm("ｶﾀｶﾅ"), "カタカナ");
        assert_eq!(norm("ﬁle"), "file");
        assert_eq!(norm("①"), "1");
    }

    #[test]
    fn buffer_is_cleared_and_reused() {
        let mut out = String::from("stale");
        normalize("X", &mut out);
        assert_eq!(out, "x");
        normalize("建设", &mut out);
        assert_eq!(out, "建设");
    }

    #[test]
    fn character_classes() {
        for c in ['建', '涨', 'あ', 'カ', '한', 'ㄱ', '々', '𠀀'] {
            assert!(is_cjk(c), "{c} should be CJK");
            assert!(!is_word_char(c), "{c} should not be a word char");
        }
        for c in ['a', 'Z', '0', 'é', 'ß', 'я', 'α'] {
            assert!(!is_cjk(c));
            assert!(is_word_char(c), "{c} should be a word char");
        }
        for c in [' ', ',', '-', '_', '。', '，', '!'] {
            assert!(!is_word_char(c), "{c:?} should not be a word char");
        }
    }
}
