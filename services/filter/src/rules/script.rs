//! Folding Chinese scripts: traditional characters become simplified ones,
//! so a rule and a post written in different scripts still match
//! (建設銀行 and 建设银行 both fold to 建设银行).
//!
//! The table is OpenCC's `TSCharacters` (traditional to simplified, one
//! character to one character), as shipped by the `hanconv` crate. Folding
//! goes towards simplified because that direction is many-to-one: 發 and 髮
//! both fold to 发, whereas 发 alone cannot tell which one a writer meant.
//! Only characters are mapped, not OpenCC's phrases, so the folded text has
//! the same characters in the same places and the word-boundary checks of
//! the matcher see the same neighbours. Variant characters that only the
//! Hong Kong and Taiwan tables know (`HKVariants`, `TWVariants`) are not
//! folded: Hong Kong's 衞 and 枱 stay apart from 衛/卫 and 檯/台, Taiwan's
//! 著 (for 着) from 着.

use std::sync::LazyLock;

use hanconv::RawDictionary;

/// The lowest code point `TSCharacters` maps (U+346E); everything below,
/// ASCII, kana, punctuation and Hangul included, is left as it is.
const FIRST_MAPPED: u32 = 0x3400;

/// Traditional-to-simplified pairs, with a bitmap of the Basic Multilingual
/// Plane for the check that almost every character of a post takes.
struct FoldTable {
    /// One bit per BMP code point: set when that character folds.
    bmp: Box<[u64]>,
    /// `(traditional, simplified)`, sorted by the traditional character.
    pairs: Vec<(char, char)>,
    /// Smallest supplementary-plane character that folds (CJK Extension B
    /// and up), so emoji and the like skip the search.
    first_supplementary: char,
}

static TABLE: LazyLock<FoldTable> = LazyLock::new(FoldTable::build);

impl FoldTable {
    fn build() -> FoldTable {
        let mut pairs: Vec<(char, char)> = RawDictionary::TSCharacters
            .iter()
            .filter_map(|(from, to)| Some((single(from)?, single(to)?)))
            .filter(|(from, to)| from != to)
            .collect();
        pairs.sort_unstable();
        pairs.dedup_by_key(|pair| pair.0);
        // A few simplified targets are themselves traditional keys (薴 → 苧
        // → 苎): follow them so folding twice gives what folding once did.
        let lookup = |pairs: &[(char, char)], c: char| {
            pairs
                .binary_search_by_key(&c, |pair| pair.0)
                .ok()
                .map(|at| pairs[at].1)
        };
        for at in 0..pairs.len() {
            let mut to = pairs[at].1;
            for _ in 0..4 {
                match lookup(&pairs, to) {
                    Some(next) if next != pairs[at].0 => to = next,
                    _ => break,
                }
            }
            pairs[at].1 = to;
        }
        let mut bmp = vec![0u64; 0x1_0000 / 64].into_boxed_slice();
        for &(from, _) in &pairs {
            let code = u32::from(from) as usize;
            if let Some(word) = bmp.get_mut(code / 64) {
                *word |= 1 << (code % 64);
            }
        }
        let first_supplementary = pairs
            .iter()
            .map(|pair| pair.0)
            .find(|&c| u32::from(c) > 0xFFFF)
            .unwrap_or(char::MAX);
        FoldTable {
            bmp,
            pairs,
            first_supplementary,
        }
    }

    #[inline]
    fn folds(&self, c: char) -> bool {
        let code = u32::from(c);
        if code < FIRST_MAPPED {
            return false;
        }
        match self.bmp.get(code as usize / 64) {
            Some(word) => word & (1 << (code % 64)) != 0,
            None => c >= self.first_supplementary && self.search(c).is_some(),
        }
    }

    fn search(&self, c: char) -> Option<char> {
        self.pairs
            .binary_search_by_key(&c, |pair| pair.0)
            .ok()
            .and_then(|at| self.pairs.get(at))
            .map(|pair| pair.1)
    }
}

/// The one character of `text`, `None` if it has more or fewer.
fn single(text: &str) -> Option<char> {
    let mut chars = text.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

/// Loads the table now rather than on the first post (a few hundred
/// microseconds), so a rule set that folds is ready when it is built.
pub(super) fn prepare() {
    LazyLock::force(&TABLE);
}

/// The simplified form of one character (itself when it has none).
pub fn fold_char(c: char) -> char {
    let table = &*TABLE;
    if table.folds(c) {
        table.search(c).unwrap_or(c)
    } else {
        c
    }
}

/// Writes the folded form of `text` into `out` (cleared first) and returns
/// true, or returns false without touching `out` when no character of
/// `text` folds: the common case for posts written in simplified
/// characters, which then cost one read and no copy.
pub fn fold(text: &str, out: &mut String) -> bool {
    let table = &*TABLE;
    let Some((first, _)) = text.char_indices().find(|&(_, c)| table.folds(c)) else {
        return false;
    };
    out.clear();
    out.reserve(text.len());
    out.push_str(&text[..first]);
    out.extend(text[first..].chars().map(|c| {
        if table.folds(c) {
            table.search(c).unwrap_or(c)
        } else {
            c
        }
    }));
    true
}

/// [`fold`] into a new string, returning `text` itself when nothing folds.
pub fn folded(text: &str) -> std::borrow::Cow<'_, str> {
    let mut out = String::new();
    if fold(text, &mut out) {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_text_folds_to_simplified() {
        assert_eq!(folded("建設銀行股價漲了"), "建设银行股价涨了");
        assert_eq!(folded("發展 頭髮"), "发展 头发");
        assert_eq!(fold_char('銀'), '银');
        assert_eq!(fold_char('银'), '银');
    }

    #[test]
    fn simplified_and_other_text_is_left_alone_without_a_copy() {
        let mut out = String::from("untouched");
        for text in [
            "建设银行 涨",
            "ascii only, 123",
            "ひらがな カタカナ 한국어",
            "emoji 😀🎉",
            "",
        ] {
            assert!(!fold(text, &mut out), "{text}");
            assert_eq!(out, "untouched");
        }
    }

    #[test]
    fn mixed_text_keeps_everything_else_in_place() {
        assert_eq!(
            folded("@港股通 建設銀行(0939.HK)漲3%！😀 #港股#"),
            "@港股通 建设银行(0939.HK)涨3%！😀 #港股#"
        );
        let text = "a 銀 b 行 c";
        let out = folded(text);
        assert_eq!(out.chars().count(), text.chars().count());
    }

    #[test]
    fn folding_is_idempotent_across_the_whole_table() {
        let table = &*TABLE;
        assert!(table.pairs.len() > 3_000, "{}", table.pairs.len());
        for &(from, to) in &table.pairs {
            assert_eq!(fold_char(from), to);
            assert_eq!(fold_char(to), to, "{from} → {to} folds again");
        }
        assert_eq!(fold_char('薴'), fold_char('苧'));
    }

    #[test]
    fn supplementary_plane_characters_fold_too() {
        let table = &*TABLE;
        let Some(&(from, to)) = table.pairs.iter().find(|pair| u32::from(pair.0) > 0xFFFF) else {
            panic!("TSCharacters has no supplementary-plane keys");
        };
        let text = format!("x{from}y");
        assert_eq!(folded(&text), format!("x{to}y"));
    }
}
