//! Mastodon's HTML `content` as plain text: tags dropped (link text kept,
//! including the parts Mastodon hides with `class="invisible"`), entities
//! decoded, `<br>` as a line break and paragraphs separated by a blank line.

use crate::weibo::decode_entities;

/// The plain text of an HTML fragment.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&decode_entities(&rest[..open]));
        let Some(close) = rest[open..].find('>') else {
            // A `<` that opens no tag is text.
            text.push_str(&decode_entities(&rest[open..]));
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        match tag_name(tag).as_str() {
            "br" => text.push('\n'),
            "/p" | "/blockquote" | "/li" | "/pre" => text.push_str("\n\n"),
            _ => {}
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(&decode_entities(rest));
    tidy(&text)
}

/// `a` for `<a href=..>`, `/p` for `</p>`, `br` for `<br/>`.
fn tag_name(tag: &str) -> String {
    let tag = tag.trim();
    let (slash, tag) = match tag.strip_prefix('/') {
        Some(rest) => ("/", rest.trim_start()),
        None => ("", tag),
    };
    let name: String = tag
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{slash}{}", name.to_ascii_lowercase())
}

/// Trims every line, and the text, and keeps at most one blank line in a row.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.split('\n') {
        let line = line.trim();
        if line.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_breaks_links_and_entities() {
        let html = concat!(
            "<p>Hello &amp; welcome &lt;3<br>second line<br />third</p>",
            "<p>See <a href=\"https://example.com/a/long/path\" rel=\"nofollow\">",
            "<span class=\"invisible\">https://</span><span class=\"ellipsis\">example.com/a/lo</span>",
            "<span class=\"invisible\">ng/path</span></a> and ",
            "<a href=\"https://m.example/tags/rust\" class=\"mention hashtag\">#<span>rust</span></a>",
            " &#x1F980; &quot;ok&quot;</p>"
        );
        assert_eq!(
            html_to_text(html),
            "Hello & welcome <3\nsecond line\nthird\n\nSee https://example.com/a/long/path and #rust 🦀 \"ok\""
        );
    }

    #[test]
    fn odd_input_stays_text() {
        assert_eq!(html_to_text("plain"), "plain");
        assert_eq!(html_to_text("a < b"), "a < b");
        assert_eq!(html_to_text("<P>x</P><p></p><p>y</p>"), "x\n\ny");
        assert_eq!(html_to_text(""), "");
    }
}
