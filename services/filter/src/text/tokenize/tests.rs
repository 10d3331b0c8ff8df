//! Tokenizer cases: scripts, punctuation widths, emoji, emoticon codes, URLs.

use super::*;

fn tokens(text: &str) -> Vec<String> {
    Tokenizer::shared().tokens(text)
}

#[test]
fn segments_chinese_with_jieba_and_drops_stopwords() {
    assert_eq!(tokens("我们中出了一个叛徒"), ["中出", "叛徒"]);
    assert_eq!(
        tokens("建设银行的股价今天大涨"),
        ["建设银行", "股价", "今天", "大涨"]
    );
}

#[test]
fn mixed_chinese_and_english() {
    assert_eq!(
        tokens("建设银行CCB今天涨了, The Bank rises!"),
        ["建设银行", "ccb", "今天", "涨", "bank", "rises"]
    );
    assert_eq!(tokens("买了iPhone6真好"), ["买", "iphone6", "真", "好"]);
}

#[test]
fn full_width_forms_and_punctuation() {
    assert_eq!(tokens("ＣＣＢ，涨！！"), ["ccb", "涨"]);
    assert_eq!(
        tokens("《杜拉拉升职记》。。。好看"),
        ["杜", "拉拉", "升职", "记", "好看"]
    );
}

#[test]
fn keeps_negations_and_contractions() {
    assert_eq!(
        tokens("I don't like it, not at all"),
        ["don't", "like", "not", "all"]
    );
    assert_eq!(tokens("I don’t"), ["don't"]);
    assert_eq!(tokens("这个不好，没有用"), ["不好", "没有", "用"]);
}

#[test]
fn numbers_and_punctuation_only_are_dropped() {
    assert_eq!(tokens("10% 3.5 2015-01-21 ... !!!"), Vec::<String>::new());
    assert_eq!(tokens(""), Vec::<String>::new());
    assert_eq!(tokens("   "), Vec::<String>::new());
}

#[test]
fn emoji_are_single_tokens() {
    assert_eq!(tokens("love it😂😂"), ["love", "😂", "😂"]);
    assert_eq!(tokens("好开心❤️"), ["好开心", "❤"]);
}

#[test]
fn emoticon_codes_stay_whole() {
    assert_eq!(tokens("哈哈[哈哈]太好了"), ["哈哈", "[哈哈]", "太好了"]);
    assert_eq!(tokens("[doge] ok"), ["[doge]", "ok"]);
    // Not emoticons: too long, empty, numeric, unclosed.
    assert_eq!(
        tokens("[这是一个很长很长的句子啊]"),
        ["这是", "很长", "很长", "句子"]
    );
    assert_eq!(tokens("[] [1] [abc"), ["abc"]);
}

#[test]
fn urls_and_mentions_are_dropped() {
    assert_eq!(
        tokens("看这个http://t.cn/RZabc12 好文章 https://example.com/a?b=c"),
        ["看", "好", "文章"]
    );
    assert_eq!(tokens("see www.example.com now"), ["see", "now"]);
    assert_eq!(tokens("//@小明: 转发 @bank_ccb hello"), ["转发", "hello"]);
}

#[test]
fn long_tokens_are_dropped() {
    let blob = "x".repeat(MAX_TOKEN_BYTES + 1);
    assert_eq!(tokens(&format!("{blob} ok")), ["ok"]);
}

#[test]
fn scratch_is_reusable_and_normalized_entry_agrees() {
    let tokenizer = Tokenizer::shared();
    let mut scratch = TokenScratch::new();
    tokenizer.tokenize("建设银行 AND bank", &mut scratch);
    assert_eq!(scratch.len(), 2);
    tokenizer.tokenize("x", &mut scratch);
    assert_eq!(scratch.tokens().collect::<Vec<_>>(), ["x"]);
    let mut normalized = String::new();
    normalize("ＣＣＢ 涨", &mut normalized);
    tokenizer.tokenize_normalized(&normalized, &mut scratch);
    assert_eq!(scratch.tokens().collect::<Vec<_>>(), ["ccb", "涨"]);
    assert!(!scratch.is_empty());
}

#[test]
fn stopword_lists_are_loaded() {
    let tokenizer = Tokenizer::shared();
    assert!(tokenizer.is_stopword("the"));
    assert!(tokenizer.is_stopword("的"));
    assert!(!tokenizer.is_stopword("not"));
    assert!(!tokenizer.is_stopword("不"));
    assert!(
        !tokenizer.is_stopword(
            "# english stopwords: function words only. negations (not, no, never, n't"
        )
    );
}

/// `clean` as first written, one char at a time: the reference the
/// run-copying version must agree with.
fn clean_reference(text: &str, out: &mut String) {
    out.clear();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let at_boundary = out
            .chars()
            .next_back()
            .is_none_or(|p| !p.is_ascii_alphanumeric());
        let skip = if at_boundary && is_url_start(rest) {
            rest.find(|c: char| c == ' ' || is_han(c) || is_cjk_punct(c))
                .unwrap_or(rest.len())
        } else if c == '@' {
            let name = &rest[1..];
            1 + name
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(name.len())
        } else {
            0
        };
        if skip > 0 {
            out.push(' ');
            rest = &rest[skip..];
            continue;
        }
        match c {
            '\u{FE0E}' | '\u{FE0F}' => {}
            '\u{2019}' => out.push('\''),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
}

#[test]
fn clean_agrees_with_the_char_by_char_reference() {
    const PIECES: &[&str] = &[
        "h",
        "http://",
        "https://",
        "www.",
        "w",
        "ww",
        "@",
        "a",
        "Z",
        "9",
        "_",
        "-",
        " ",
        "中",
        "建设银行",
        "，",
        "。",
        "\u{FE0E}",
        "\u{FE0F}",
        "\u{2019}",
        "é",
        "😀",
        "ｈ",
        "[",
        "]",
        ".",
        "/",
        "x.com",
        "\u{2018}",
        "\u{FEFF}",
        "\u{E2}",
    ];
    let mut rng = crate::test_rng::TestRng(0x9E37_79B9_7F4A_7C15);
    let (mut fast, mut slow) = (String::new(), String::new());
    for case in 0..20_000 {
        let mut text = String::new();
        for _ in 0..(case % 24) {
            text.push_str(PIECES[rng.below(PIECES.len())]);
        }
        clean(&text, &mut fast);
        clean_reference(&text, &mut slow);
        assert_eq!(fast, slow, "text {text:?}");
    }
}

#[test]
fn packed_stopwords_are_exact() {
    let stopwords = Stopwords::new(["的", "a", "the", "abcdefg", "abcdefgh"].into_iter());
    for word in ["的", "a", "the", "abcdefg", "abcdefgh"] {
        assert!(stopwords.contains(word), "{word}");
    }
    for word in [
        "",
        "a\0",
        "th",
        "thee",
        "abcdef",
        "abcdefgg",
        "abcdefghi",
        "白",
    ] {
        assert!(!stopwords.contains(word), "{word:?}");
    }
    assert_ne!(pack("a"), pack("a\0"));
    assert_eq!(pack("abcdefgh"), None);
}

#[test]
fn run_len_agrees_with_splitting_char_by_char() {
    const PIECES: &[&str] = &[
        "a",
        " ",
        "[",
        "]",
        "中",
        "建设银行",
        "\u{4DC0}",
        "\u{4DBF}",
        "\u{3400}",
        "\u{F900}",
        "\u{FAFF}",
        "\u{20000}",
        "\u{323AF}",
        "\u{323B0}",
        "，",
        "é",
        "😀",
        "ｈ",
        "\u{9FFF}",
        "\u{A000}",
        "\u{4E00}",
        "\u{4DFF}",
    ];
    let reference = |text: &str, han: bool| {
        text.char_indices()
            .find(|&(i, c)| i > 0 && (is_han(c) != han || c == '['))
            .map_or(text.len(), |(i, _)| i)
    };
    let mut rng = crate::test_rng::TestRng(0x2545_F491_4F6C_DD1D);
    for case in 0..20_000 {
        let mut text = String::new();
        for _ in 0..=(case % 16) {
            text.push_str(PIECES[rng.below(PIECES.len())]);
        }
        let han = text.chars().next().is_some_and(is_han);
        assert_eq!(run_len(&text, han), reference(&text, han), "text {text:?}");
    }
}
