//! A single pass over the form every collector writes: compact JSON (no
//! whitespace), keys and strings without escapes, the known fields only,
//! timestamps as `…Z`. Decoding a post through serde was two thirds of the
//! filter's per-post instructions (8,200 of ~13,500 in the replay); this
//! pass does the same checks for that form in a fraction of them.
//!
//! It never rejects: anything outside that form (whitespace, an escape, an
//! unknown or repeated key, a float where a count goes, …) returns `None`
//! and the record goes through serde, which gives the verdict and the
//! error. What it accepts, serde accepts too, with the same id and text (a
//! differential test holds it to that over mutated records).

use std::borrow::Cow;

use weibostream_shared::Source;

use super::{AuthorView, CheckedStr, PostView, RepostView, Timestamp, is_plain_utc_timestamp};

/// Fields of a post, by bit: required ones must all be seen.
const ID: u16 = 1 << 0;
const SOURCE: u16 = 1 << 1;
const TEXT: u16 = 1 << 2;
const LANG: u16 = 1 << 3;
const CREATED_AT: u16 = 1 << 4;
const AUTHOR: u16 = 1 << 5;
const URL: u16 = 1 << 6;
const REPOSTS: u16 = 1 << 7;
const COMMENTS: u16 = 1 << 8;
const LIKES: u16 = 1 << 9;
const REPOST_OF: u16 = 1 << 10;
const CLIENT: u16 = 1 << 11;
const COLLECTED_AT: u16 = 1 << 12;
const REQUIRED: u16 = ID | SOURCE | TEXT | CREATED_AT | AUTHOR | COLLECTED_AT;

/// A post's keys in the order serde writes them, the bit of each above
/// being `1 << index`.
const POST_KEYS: [Key; 13] = [
    Key::new("id"),
    Key::new("source"),
    Key::new("text"),
    Key::new("lang"),
    Key::new("created_at"),
    Key::new("author"),
    Key::new("url"),
    Key::new("reposts"),
    Key::new("comments"),
    Key::new("likes"),
    Key::new("repost_of"),
    Key::new("client"),
    Key::new("collected_at"),
];

/// An author's keys in the order serde writes them.
const AUTHOR_KEYS: [Key; 4] = [
    Key::new("id"),
    Key::new("name"),
    Key::new("followers"),
    Key::new("verified"),
];

/// A repost reference's keys in the order serde writes them.
const REPOST_KEYS: [Key; 3] = [Key::new("id"), Key::new("author_name"), Key::new("text")];

/// A key as it appears in the compact form, `"name":`, packed into a
/// little-endian `u128` so sixteen bytes of input are compared in one go.
struct Key {
    name: &'static str,
    /// `"name":`, little-endian, zero past its end.
    word: u128,
    /// Ones over the bytes of `word`.
    mask: u128,
    /// Bytes of `"name":`.
    len: usize,
}

impl Key {
    /// Panics (at compile time) if `"name":` does not fit sixteen bytes.
    const fn new(name: &'static str) -> Key {
        let bytes = name.as_bytes();
        let len = bytes.len() + 3;
        assert!(len <= 16, "a key must fit the u128 comparison");
        let mut word = b'"' as u128;
        let mut at = 0;
        while at < bytes.len() {
            word |= (bytes[at] as u128) << (8 * (at + 1));
            at += 1;
        }
        word |= (b'"' as u128) << (8 * (len - 2));
        word |= (b':' as u128) << (8 * (len - 1));
        let mask = if len == 16 {
            u128::MAX
        } else {
            (1 << (8 * len)) - 1
        };
        Key {
            name,
            word,
            mask,
            len,
        }
    }
}

/// The post in `text` when it has the compact form, else `None`.
pub(crate) fn parse(text: &str) -> Option<PostView<'_>> {
    let mut input = Input { text, at: 0 };
    let mut seen = 0u16;
    let (mut id, mut source, mut body, mut author) = (None, None, None, None);
    let (mut reposts, mut comments, mut likes, mut repost_of) = (0, 0, 0, None);
    input.fields(&POST_KEYS, |input, index| {
        let bit = 1 << index;
        first_time(&mut seen, bit)?;
        match bit {
            ID => id = Some(input.string()?),
            SOURCE => source = Some(source_named(input.string()?)?),
            TEXT => body = Some(input.string()?),
            LANG | URL | CLIENT => input.string_or_null()?,
            CREATED_AT | COLLECTED_AT => {
                is_plain_utc_timestamp(input.string()?).then_some(())?;
            }
            AUTHOR => author = Some(input.author()?),
            REPOSTS => reposts = input.count()?,
            COMMENTS => comments = input.count()?,
            LIKES => likes = input.count()?,
            REPOST_OF => repost_of = input.repost_or_null()?,
            _ => return None,
        }
        Some(())
    })?;
    // serde allows trailing whitespace; such a record takes the slow path.
    if input.at != text.len() || seen & REQUIRED != REQUIRED {
        return None;
    }
    let present = |bit: u16| (seen & bit != 0).then_some(CheckedStr);
    Some(PostView {
        id: Cow::Borrowed(id?),
        source: source?,
        text: Cow::Borrowed(body?),
        lang: present(LANG),
        created_at: Timestamp,
        author: author?,
        url: present(URL),
        reposts,
        comments,
        likes,
        repost_of,
        client: present(CLIENT),
        collected_at: Timestamp,
    })
}

/// Marks field `bit` as seen; `None` if it was already: serde rejects a
/// repeated field, and that verdict is serde's to give.
fn first_time(seen: &mut u16, bit: u16) -> Option<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

/// The names serde gives [`Source`]'s variants (lowercase).
fn source_named(name: &str) -> Option<Source> {
    Some(match name {
        "weibo" => Source::Weibo,
        "mastodon" => Source::Mastodon,
        "bluesky" => Source::Bluesky,
        "socket" => Source::Socket,
        "synthetic" => Source::Synthetic,
        _ => return None,
    })
}

/// The index of the first `"`, `\\` or control character in `bytes`,
/// eight bytes at a time (most strings of a post are short, so a call into
/// a SIMD search costs more than it saves).
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    for (index, chunk) in words.by_ref().enumerate() {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        // A byte's high bit is set where it is zero (below 0x20 for the
        // last term); a borrow can set it above a match too, never below,
        // so the lowest one is the first match.
        let found = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        let found = found & HIGH;
        if found != 0 {
            return Some(index * 8 + found.trailing_zeros() as usize / 8);
        }
    }
    let tail = words.remainder();
    let done = bytes.len() - tail.len();
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|at| done + at)
}

/// The record and a position in it.
struct Input<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Input<'a> {
    fn next_byte(&mut self) -> Option<u8> {
        let byte = *self.text.as_bytes().get(self.at)?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next_byte()? == byte).then_some(())
    }

    fn starts_with(&self, word: &str) -> bool {
        self.text.as_bytes()[self.at..].starts_with(word.as_bytes())
    }

    /// A non-empty object whose keys are all in `keys`: calls `field` with
    /// each key's index, the input on its value, which `field` consumes.
    fn fields(
        &mut self,
        keys: &[Key],
        mut field: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        let mut next = 0;
        loop {
            let index = self.key(keys, next)?;
            next = index + 1;
            field(self, index)?;
            match self.next_byte()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// A key and its colon: its index in `keys`, `None` if it is not one.
    /// Serde writes keys in `keys`' order, skipping absent ones, so the
    /// keys from `from` on are compared in place first; reading each key
    /// as a string and looking it up cost several times more.
    fn key(&mut self, keys: &[Key], from: usize) -> Option<usize> {
        if let Some(head) = self.text.as_bytes()[self.at..].first_chunk::<16>() {
            let head = u128::from_le_bytes(*head);
            // Usually the very next key is there: tested before the search.
            if let Some(key) = keys.get(from)
                && head & key.mask == key.word
            {
                self.at += key.len;
                return Some(from);
            }
            let found = keys
                .iter()
                .enumerate()
                .skip(from + 1)
                .find(|(_, key)| head & key.mask == key.word);
            if let Some((index, key)) = found {
                self.at += key.len;
                return Some(index);
            }
        }
        let name = self.string()?;
        self.expect(b':')?;
        keys.iter().position(|key| key.name == name)
    }

    /// A string without escapes or control characters, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let rest = &self.text.as_bytes()[start..];
        let len = string_end(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        // Both ends are at ASCII quotes, so on character boundaries.
        self.text.get(start..start + len)
    }

    fn null(&mut self) -> Option<()> {
        self.starts_with("null").then(|| self.at += 4)
    }

    fn string_or_null(&mut self) -> Option<()> {
        if self.starts_with("null") {
            self.null()
        } else {
            self.string().map(|_| ())
        }
    }

    /// A JSON integer that fits a `u64` (no sign, fraction or exponent, no
    /// leading zero).
    fn count(&mut self) -> Option<u64> {
        let digits = self.text.as_bytes()[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let bytes = &self.text.as_bytes()[self.at..self.at + digits];
        if digits == 0 || (digits > 1 && bytes[0] == b'0') {
            return None;
        }
        // A fraction or exponent makes it a float, which serde refuses here.
        if matches!(
            self.text.as_bytes().get(self.at + digits),
            Some(b'.' | b'e' | b'E')
        ) {
            return None;
        }
        let value = bytes.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        self.at += digits;
        Some(value)
    }

    fn author(&mut self) -> Option<AuthorView<'a>> {
        let (mut seen, mut id, mut followers, mut verified) = (0u16, None, None, false);
        self.fields(&AUTHOR_KEYS, |input, index| {
            let bit = 1 << index;
            first_time(&mut seen, bit)?;
            match bit {
                1 => id = Some(input.string()?),
                2 => {
                    input.string()?;
                }
                4 if input.starts_with("null") => input.null()?,
                4 => followers = Some(input.count()?),
                _ if input.starts_with("true") => {
                    input.at += 4;
                    verified = true;
                }
                _ if input.starts_with("false") => input.at += 5,
                _ => return None,
            }
            Some(())
        })?;
        (seen & 3 == 3).then_some(())?;
        Some(AuthorView {
            id: Cow::Borrowed(id?),
            name: CheckedStr,
            followers,
            verified,
        })
    }

    /// `Some(None)` for null, `Some(Some(_))` for a repost reference.
    fn repost_or_null(&mut self) -> Option<Option<RepostView>> {
        if self.starts_with("null") {
            return self.null().map(|()| None);
        }
        let mut seen = 0u16;
        self.fields(&REPOST_KEYS, |input, index| {
            let bit = 1 << index;
            first_time(&mut seen, bit)?;
            if bit == 1 {
                input.string().map(|_| ())
            } else {
                input.string_or_null()
            }
        })?;
        (seen & 1 == 1).then_some(Some(RepostView {
            id: CheckedStr,
            author_name: (seen & 2 != 0).then_some(CheckedStr),
            text: (seen & 4 != 0).then_some(CheckedStr),
        }))
    }
}

#[cfg(test)]
mod tests;
