//! Normalization tests, including a differential check of the segmented
//! NFKC against NFKC over the whole text.

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

/// The plain definition: NFKC over the whole text, then lowercase and
/// collapse whitespace.
fn reference(text: &str) -> String {
    let mut out = String::new();
    let mut in_space = false;
    push_nfkc(text, &mut out, &mut in_space);
    out
}

#[test]
fn simple_characters_are_nfkc_boundaries() {
    use unicode_normalization::char::canonical_combining_class;
    use unicode_normalization::{IsNormalized, is_nfkc_quick};
    for c in (0..0x11_0000).filter_map(char::from_u32) {
        let Some(mapped) = simple_nfkc(c) else {
            continue;
        };
        assert_eq!(canonical_combining_class(c), 0, "{c:?}");
        assert_ne!(
            is_nfkc_quick(std::iter::once(c)),
            IsNormalized::Maybe,
            "{c:?}"
        );
        assert_eq!(c.nfkc().collect::<Vec<_>>(), [mapped], "{c:?}");
        assert_eq!(canonical_combining_class(mapped), 0, "{c:?}");
        // What `push_simple` relies on.
        assert!(
            mapped.is_ascii() || (!mapped.is_whitespace() && mapped.to_lowercase().eq([mapped])),
            "{c:?}"
        );
    }
}

#[test]
fn segmented_nfkc_equals_whole_text_nfkc() {
    let pieces = [
        "a",
        "e",
        "E",
        "Z",
        " ",
        "\t",
        "\n",
        "\u{b}",
        "\u{85}",
        "\u{a0}",
        "\u{3000}",
        "\u{301}",
        "\u{308}",
        "\u{327}",
        "\u{323}",
        "\u{345}",
        "é",
        "Å",
        "ﬁ",
        "①",
        "ⅷ",
        "Ａ",
        "ｅ",
        "，",
        "！",
        "～",
        "建",
        "设",
        "银",
        "行",
        "か",
        "が",
        "\u{3099}",
        "\u{309a}",
        "ゝ",
        "ｶ",
        "ﾞ",
        "ﾟ",
        "ウ",
        "ー",
        "・",
        "한",
        "가",
        "\u{1100}",
        "\u{1161}",
        "\u{11a8}",
        "ㄱ",
        "İ",
        "ẞ",
        "Σ",
        "ς",
        "ǅ",
        "𠀀",
        "😂",
        "、",
        "《",
        "〈",
        "\u{2329}",
        "㍿",
        "ℌ",
        "\u{fb2c}",
        "\u{5d1}",
        "\u{5bc}",
        "\u{f900}",
        // Long plain stretches, so the 16-byte scan chunks are exercised.
        "建设银行今天股价大涨",
        "Construction Bank Shares",
        "abcdefghijklmnopqrstuvwxyz",
        "かきくけこさしすせそ",
        "한국어텍스트입니다",
    ];
    // Deterministic pseudo-random strings, so failures reproduce.
    let mut rng = crate::test_rng::TestRng(0x9E37_79B9_7F4A_7C15);
    let mut next = || rng.next();
    let mut text = String::new();
    let mut out = String::new();
    for round in 0..60_000 {
        text.clear();
        // Long texts too, so stretches longer than a scan chunk occur.
        let pieces_max = if round % 3 == 0 { 80 } else { 10 };
        for _ in 0..next() % pieces_max {
            let piece = pieces[(next() % pieces.len() as u64) as usize];
            text.push_str(piece);
        }
        normalize(&text, &mut out);
        assert_eq!(out, reference(&text), "{text:?}");
    }
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
