//! Word boundaries (Unicode UAX #29) of ASCII text, without the Unicode
//! tables: the rules that can apply to ASCII characters only. The tokenizer
//! uses it for ASCII runs; `unicode-segmentation` handles the rest, and a
//! differential test holds the two to the same answer on ASCII text.

/// Word-break classes of ASCII characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
    /// `:`
    MidLetter,
    /// `.` and `'` (MidNumLet and Single_Quote act alike without Hebrew).
    MidNumLetQ,
    /// `,` and `;`
    MidNum,
    /// `_`
    ExtendNumLet,
    Cr,
    Lf,
    /// Vertical tab and form feed.
    Newline,
    /// The space character (tab is Other).
    Space,
    Other,
}

/// [`class_of`] for every byte value, so classifying is one load.
static CLASSES: [Class; 256] = {
    let mut table = [Class::Other; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = class_of(b as u8);
        b += 1;
    }
    table
};

const fn class_of(b: u8) -> Class {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => Class::Letter,
        b'0'..=b'9' => Class::Digit,
        b':' => Class::MidLetter,
        b'.' | b'\'' => Class::MidNumLetQ,
        b',' | b';' => Class::MidNum,
        b'_' => Class::ExtendNumLet,
        b'\r' => Class::Cr,
        b'\n' => Class::Lf,
        0x0B | 0x0C => Class::Newline,
        b' ' => Class::Space,
        _ => Class::Other,
    }
}

fn class(b: u8) -> Class {
    CLASSES[usize::from(b)]
}

/// Whether there is no word boundary between `bytes[i - 1]` and `bytes[i]`
/// (`0 < i < bytes.len()`).
fn joined(bytes: &[u8], i: usize) -> bool {
    use Class::*;
    // Lookbehind and lookahead only for the rules around `:` `.` `'` `,` `;`.
    let before = |wanted: Class| i >= 2 && class(bytes[i - 2]) == wanted;
    let after = |wanted: Class| bytes.get(i + 1).is_some_and(|&c| class(c) == wanted);
    let mid_letter = |c: Class| matches!(c, MidLetter | MidNumLetQ);
    let mid_num = |c: Class| matches!(c, MidNum | MidNumLetQ);
    match (class(bytes[i - 1]), class(bytes[i])) {
        (Cr, Lf) => true,
        (Cr | Lf | Newline, _) | (_, Cr | Lf | Newline) => false,
        (Space, Space) => true,
        (Letter | Digit | ExtendNumLet, Letter | Digit)
        | (Letter | Digit | ExtendNumLet, ExtendNumLet) => true,
        (Letter, m) if mid_letter(m) => after(Letter),
        (m, Letter) if mid_letter(m) => before(Letter),
        (Digit, m) if mid_num(m) => after(Digit),
        (m, Digit) if mid_num(m) => before(Digit),
        _ => false,
    }
}

/// The words of ASCII `text` with their byte offsets, as
/// `UnicodeSegmentation::split_word_bound_indices` gives them.
pub fn ascii_word_bounds(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 1;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        while i < bytes.len() {
            // Inside a word of letters and digits (most bytes), skip the
            // full rule table.
            let in_word = bytes[i].is_ascii_alphanumeric() && bytes[i - 1].is_ascii_alphanumeric();
            if !in_word && !joined(bytes, i) {
                break;
            }
            i += 1;
        }
        let word = (start, &text[start..i.min(bytes.len())]);
        start = i;
        i += 1;
        Some(word)
    })
}

#[cfg(test)]
mod tests {
    use unicode_segmentation::UnicodeSegmentation;

    use super::*;

    const ALPHABET: &[u8] = b"aZq09:.',;_\r\n\x0b\x0c \t-\"/#@!";

    fn agrees(text: &str) {
        let fast: Vec<_> = ascii_word_bounds(text).collect();
        let tables: Vec<_> = text.split_word_bound_indices().collect();
        assert_eq!(fast, tables, "text {text:?}");
    }

    #[test]
    fn every_text_of_up_to_four_characters_agrees_with_unicode_segmentation() {
        let n = ALPHABET.len();
        for len in 0..=4u32 {
            for mut code in 0..n.pow(len) {
                let mut text = String::new();
                for _ in 0..len {
                    text.push(char::from(ALPHABET[code % n]));
                    code /= n;
                }
                agrees(&text);
            }
        }
    }

    #[test]
    fn long_random_texts_agree_with_unicode_segmentation() {
        let mut rng = crate::test_rng::TestRng(0x2545_F491_4F6C_DD1D);
        for case in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(case % 40) {
                text.push(char::from(ALPHABET[rng.below(ALPHABET.len())]));
            }
            agrees(&text);
        }
        agrees("Bank shares rise 3.5% at 10:30, i.e. don't sell_now; ok\r\n");
    }
}
