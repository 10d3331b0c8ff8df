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
/// ASCII, kana and punctuation included, is left as it is.
const FIRST_MAPPED: u32 = 0x3400;

/// UTF-8 lead bytes of U+3400 and above. Every byte below it (ASCII, the
/// two-byte range, continuation bytes) belongs to a character that cannot
/// fold, so the scan for a foldable character skips it without decoding.
const FIRST_MAPPED_LEAD: u8 = 0xE3;

/// Traditional-to-simplified pairs, with a bitmap of the Basic Multilingual
/// Plane for the check that almost every character of a post takes.
struct FoldTable {
    /// One bit per BMP code point: set when that character folds.
    bmp: Box<[u64]>,
    /// Per word of `bmp`, how many bits the words before it have set: a
    /// folding character's index in `bmp_targets`, without a search.
    bmp_rank: Box<[u16]>,
    /// What each folding BMP character becomes, in code point order.
    bmp_targets: Box<[char]>,
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
                .and_then(|at| pairs.get(at))
                .map(|pair| pair.1)
        };
        for at in 0..pairs.len() {
            let (from, mut to) = pairs[at];
            for _ in 0..4 {
                match lookup(&pairs, to) {
                    Some(next) if next != from => to = next,
                    _ => break,
                }
            }
            pairs[at].1 = to;
        }
        let mut bmp = vec![0u64; 0x1_0000 / 64].into_boxed_slice();
        let mut bmp_targets = Vec::new();
        for &(from, to) in pairs.iter().take_while(|pair| u32::from(pair.0) <= 0xFFFF) {
            let code = u32::from(from) as usize;
            if let Some(word) = bmp.get_mut(code / 64) {
                *word |= 1 << (code % 64);
                bmp_targets.push(to);
            }
        }
        let mut set_before = 0u16;
        let bmp_rank = bmp
            .iter()
            .map(|word| {
                let rank = set_before;
                set_before += word.count_ones() as u16;
                rank
            })
            .collect();
        let first_supplementary = pairs
            .iter()
            .map(|pair| pair.0)
            .find(|&c| u32::from(c) > 0xFFFF)
            .unwrap_or(char::MAX);
        FoldTable {
            bmp,
            bmp_rank,
            bmp_targets: bmp_targets.into_boxed_slice(),
            pairs,
            first_supplementary,
        }
    }

    /// The next character of `text` at or after byte `from` that folds: its
    /// offset, its length in bytes and its simplified form.
    fn next_folding(&self, text: &str, from: usize) -> Option<(usize, usize, char)> {
        let bytes = text.as_bytes();
        let mut at = from;
        while let Some(&lead) = bytes.get(at) {
            if lead < FIRST_MAPPED_LEAD {
                at += 1;
                if lead < 0x80 {
                    at = skip_short_chars(bytes, at);
                }
                continue;
            }
            if lead < 0xF0 {
                // Decoding by hand: the common Han character costs a few
                // shifts and one bit test.
                let Some(&[_, second, third]) = bytes.get(at..at + 3) else {
                    return None;
                };
                let code = (u32::from(lead & 0x0F) << 12)
                    | (u32::from(second & 0x3F) << 6)
                    | u32::from(third & 0x3F);
                if let Some(to) = self.bmp_target(code) {
                    return Some((at, 3, to));
                }
                at += 3;
            } else {
                let c = text.get(at..)?.chars().next()?;
                if let Some(to) = self.target(c) {
                    return Some((at, c.len_utf8(), to));
                }
                at += c.len_utf8();
            }
        }
        None
    }

    /// What BMP code point `code` folds to, if it folds.
    #[inline]
    fn bmp_target(&self, code: u32) -> Option<char> {
        let index = code as usize / 64;
        let word = *self.bmp.get(index)?;
        let bit = 1u64 << (code % 64);
        if word & bit == 0 {
            return None;
        }
        let rank =
            usize::from(*self.bmp_rank.get(index)?) + (word & (bit - 1)).count_ones() as usize;
        self.bmp_targets.get(rank).copied()
    }

    /// What `c` folds to, if it folds.
    fn target(&self, c: char) -> Option<char> {
        let code = u32::from(c);
        if code < FIRST_MAPPED {
            None
        } else if code <= 0xFFFF {
            self.bmp_target(code)
        } else if c >= self.first_supplementary {
            self.pairs
                .binary_search_by_key(&c, |pair| pair.0)
                .ok()
                .and_then(|at| self.pairs.get(at))
                .map(|pair| pair.1)
        } else {
            None
        }
    }
}

/// Skips eight bytes at a time from `at` while none of them is `0xE0` or
/// above, the lead bytes of the only characters that can fold: English
/// text, links and hashtags pass at a word per step. The byte it stops at
/// may be inside a two-byte character, which the caller skips like any
/// byte below [`FIRST_MAPPED_LEAD`].
fn skip_short_chars(bytes: &[u8], mut at: usize) -> usize {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(at..at + 8)
        && let Ok(chunk) = <[u8; 8]>::try_from(chunk)
    {
        let word = u64::from_le_bytes(chunk);
        // A byte's top bit survives only if its two bits below are set too.
        if word & (word << 1) & (word << 2) & HIGH_BITS != 0 {
            break;
        }
        at += 8;
    }
    at
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
    TABLE.target(c).unwrap_or(c)
}

/// Writes the folded form of `text` into `out` (cleared first) and returns
/// true, or returns false without touching `out` when no character of
/// `text` folds: the common case for posts written in simplified
/// characters, which then cost one read and no copy.
pub fn fold(text: &str, out: &mut String) -> bool {
    let table = &*TABLE;
    let Some(mut next) = table.next_folding(text, 0) else {
        return false;
    };
    out.clear();
    out.reserve(text.len());
    let mut done = 0;
    loop {
        let (at, len, to) = next;
        // Runs of characters that do not fold are copied whole.
        out.push_str(&text[done..at]);
        out.push(to);
        done = at + len;
        match table.next_folding(text, done) {
            Some(found) => next = found,
            None => {
                out.push_str(&text[done..]);
                return true;
            }
        }
    }
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
    fn long_ascii_and_two_byte_runs_are_skipped_without_missing_a_character() {
        // The folding character lands at every offset within an 8-byte step.
        let prefix: Vec<char> = "https://t.cn/A6abcdEf ÀÉÎõü ".repeat(3).chars().collect();
        for cut in 0..12 {
            let head: String = prefix[cut..].iter().collect();
            assert_eq!(folded(&format!("{head}銀行")), format!("{head}银行"));
            assert_eq!(folded(&format!("{head}銀x")), format!("{head}银x"));
        }
        assert!(!fold(&"é ascii 😀 ".repeat(20), &mut String::new()));
    }

    #[test]
    fn random_text_folds_as_character_by_character_folding_does() {
        let table = &*TABLE;
        // Characters from every class the scan treats differently.
        let mut alphabet: Vec<char> = "ab 1,.é中国银行涨😀，。".chars().collect();
        alphabet.extend(table.pairs.iter().step_by(97).flat_map(|p| [p.0, p.1]));
        let mut rng = crate::test_rng::TestRng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..2_000 {
            let length = rng.below(40);
            let text: String = (0..length)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let expected: String = text.chars().map(fold_char).collect();
            assert_eq!(folded(&text), expected, "{text}");
        }
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
