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
    if text.is_ascii() {
        normalize_ascii(text, out);
        return;
    }
    // Running the NFKC iterator over a whole post costs several times more
    // than everything else. Most characters of a post (ASCII, common Han,
    // kana, Hangul syllables, full-width ASCII) normalize to one known
    // character and never interact with a preceding character, so they are
    // normalization boundaries: the iterator only runs over the stretches in
    // between. Such a character is held back until the next one is seen,
    // because a following combining mark may still compose with it; the
    // stretch then starts at the held character.
    let bytes = text.as_bytes();
    let mut in_space = false;
    let mut slow_start: Option<usize> = None;
    let mut held: Option<(usize, char)> = None;
    let mut i = 0;
    while i < bytes.len() {
        if slow_start.is_none()
            && let Some(last) = identity_run(bytes, i)
        {
            // A run of characters that are their own NFKC form: all but
            // the last are copied at once (lowercased in place, which only
            // touches ASCII bytes), the last is held like any other.
            if let Some((_, prev)) = held {
                push_simple(out, prev, &mut in_space);
            }
            if last > i {
                let from = out.len();
                out.push_str(&text[i..last]);
                out[from..].make_ascii_lowercase();
                in_space = false;
            }
            let end = last + if bytes[last] < 0x80 { 1 } else { 3 };
            held = text[last..end].chars().next().map(|c| (last, c));
            i = end;
            continue;
        }
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        if let Some(mapped) = simple_nfkc(c) {
            match slow_start.take() {
                Some(start) => push_nfkc(&text[start..i], out, &mut in_space),
                None => {
                    if let Some((_, prev)) = held {
                        push_simple(out, prev, &mut in_space);
                    }
                }
            }
            held = Some((i, mapped));
        } else if slow_start.is_none() {
            slow_start = Some(held.take().map_or(i, |(start, _)| start));
        }
        i += c.len_utf8();
    }
    match slow_start {
        Some(start) => push_nfkc(&text[start..], out, &mut in_space),
        None => {
            if let Some((_, prev)) = held {
                push_simple(out, prev, &mut in_space);
            }
        }
    }
}

/// The start of the last character of the run of identity characters
/// (see [`is_identity`]) beginning at `i`, `None` if the character at `i` is
/// not one. Such characters are one ASCII byte (not whitespace) or three
/// bytes, so the run is found from lead bytes without decoding every
/// character in full.
fn identity_run(bytes: &[u8], i: usize) -> Option<usize> {
    let mut last = None;
    let mut at = i;
    while let Some(&lead) = bytes.get(at) {
        let width = if lead < 0x80 {
            if is_ascii_white_space(lead) {
                break;
            }
            1
        } else if (0xE0..0xF0).contains(&lead) {
            // Valid UTF-8 (it came from a `str`): two continuation bytes follow.
            let (Some(&b1), Some(&b2)) = (bytes.get(at + 1), bytes.get(at + 2)) else {
                break;
            };
            let code =
                u32::from(lead & 0x0F) << 12 | u32::from(b1 & 0x3F) << 6 | u32::from(b2 & 0x3F);
            if !is_identity(code) {
                break;
            }
            3
        } else {
            break;
        };
        last = Some(at);
        at += width;
    }
    last
}

/// Characters (by code point) that [`simple_nfkc`] maps to themselves:
/// their own NFKC form, normalization boundaries, without case (ASCII
/// aside) and not whitespace (ASCII whitespace is left to the caller).
#[inline]
fn is_identity(code: u32) -> bool {
    // Common Han first: most characters of a Chinese post end here.
    (0x4E00..=0x9FFF).contains(&code)
        || matches!(
            code,
            0x00..=0x7F
                | 0x3001..=0x3003
                | 0x3008..=0x3011
                | 0x3041..=0x3096
                | 0x30A1..=0x30FC
                | 0x3400..=0x4DBF
                | 0xAC00..=0xD7A3
        )
}

/// ASCII fast path. Most posts need no whitespace collapsing (single spaces
/// only), so they are copied and lowercased in bulk; the check and the copy
/// are simple enough to vectorize.
fn normalize_ascii(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let other_space = bytes
        .iter()
        .fold(false, |seen, &b| seen | matches!(b, b'\t'..=b'\r'));
    let double_space = bytes
        .iter()
        .zip(bytes.iter().skip(1))
        .fold(false, |seen, (&a, &b)| seen | (a == b' ' && b == b' '));
    if !other_space && !double_space {
        out.push_str(text);
        out.make_ascii_lowercase();
        return;
    }
    let mut in_space = false;
    for &b in bytes {
        if is_ascii_white_space(b) {
            if !in_space {
                out.push(' ');
                in_space = true;
            }
        } else {
            out.push(char::from(b.to_ascii_lowercase()));
            in_space = false;
        }
    }
}

/// The ASCII characters with Unicode's `White_Space` property, which
/// `char::is_whitespace` uses (unlike `u8::is_ascii_whitespace`, it includes
/// vertical tab).
fn is_ascii_white_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

/// For characters whose NFKC form is one known character and that have a
/// normalization boundary before them (canonical combining class 0, never
/// composing with a preceding character), that character; `None` for the
/// rest, which go through the full NFKC iterator.
#[inline]
fn simple_nfkc(c: char) -> Option<char> {
    match u32::from(c) {
        code if is_identity(code) => Some(c),
        0x3000 => Some(' '),
        // Full-width forms of ASCII `!` to `~`.
        full @ 0xFF01..=0xFF5E => char::from_u32(full - 0xFEE0),
        _ => None,
    }
}

/// Appends the NFKC form of `stretch`, lowercased, collapsing whitespace.
fn push_nfkc(stretch: &str, out: &mut String, in_space: &mut bool) {
    for c in stretch.nfkc() {
        if c.is_ascii() {
            push_char(out, c, in_space);
        } else {
            for lower in c.to_lowercase() {
                push_char(out, lower, in_space);
            }
        }
    }
}

/// [`push_char`] for the output of [`simple_nfkc`], which is either ASCII or
/// a CJK character (never whitespace, no case), skipping the Unicode lookups.
#[inline]
fn push_simple(out: &mut String, c: char, in_space: &mut bool) {
    if c.is_ascii() {
        push_char(out, c, in_space);
    } else {
        out.push(c);
        *in_space = false;
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
mod tests;
