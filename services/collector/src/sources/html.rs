//! The one path from a source's HTML to a post's plain text, used by every
//! source: Mastodon's `content`, Weibo's mobile `mblog` text and the open
//! API's `source`, plus [`decode_entities`] for text that is escaped but not
//! HTML (the open API's `text`).
//!
//! Character references are decoded by `html-escape` (every named HTML5
//! reference, `&hellip;` and `&mdash;` included, and numeric ones). The tag
//! walk is ours: it needs four rules (line breaks, paragraph breaks, `alt`
//! text of emoticon images, everything else dropped with its text kept), and
//! a full HTML parser would add an HTML5 tree builder to the collector for
//! them.

use std::borrow::Cow;

/// The plain text of an HTML fragment: tags dropped (link text kept,
/// including the parts Mastodon hides with `class="invisible"`), emoticon
/// images as their `alt` text (Weibo's `[笑cry]`), `<br>` as a line break,
/// paragraphs separated by a blank line, entities decoded, every line
/// trimmed and at most one blank line in a row.
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
        let tag = rest[open + 1..open + close].trim();
        match tag_name(tag).as_str() {
            "br" => text.push('\n'),
            "/p" | "/blockquote" | "/li" | "/pre" => text.push_str("\n\n"),
            "img" => {
                if let Some(alt) = attribute(tag, "alt") {
                    text.push_str(&decode_entities(alt));
                }
            }
            _ => {}
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(&decode_entities(rest));
    tidy(&text)
}

/// Decodes HTML character references in one pass (`&amp;lt;` stays `&lt;`);
/// unknown names, references without `;`, `&#0;` and invalid code points
/// stay as they are. A no-break space becomes a plain space.
pub fn decode_entities(text: &str) -> Cow<'_, str> {
    match html_escape::decode_html_entities(text) {
        // Posts are split into words on spaces downstream; U+00A0 would glue
        // two words together.
        Cow::Owned(decoded) if decoded.contains('\u{a0}') => {
            Cow::Owned(decoded.replace('\u{a0}', " "))
        }
        decoded => decoded,
    }
}

/// `a` for `a href=..`, `/p` for `/p`, `br` for `br/`.
fn tag_name(tag: &str) -> String {
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

/// The value of `name="..."` (or `'...'`, or unquoted) in a tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before_ok = rest[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_whitespace);
        let after = rest[at + name.len()..].trim_start();
        if before_ok && let Some(value) = after.strip_prefix('=') {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let inner = &value[1..];
                return inner.find(quote).map(|end| &inner[..end]);
            }
            let end = value
                .find(|c: char| c.is_whitespace() || c == '/')
                .unwrap_or(value.len());
            return Some(&value[..end]);
        }
        rest = &rest[at + name.len()..];
    }
    None
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
    fn mastodon_paragraphs_breaks_links_and_entities() {
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
    fn weibo_mblog_emoticons_links_and_breaks() {
        let html = concat!(
            "<a href='/n/张三'>@张三</a> 建设银行 今天涨了",
            "<span class=\"url-icon\"><img alt=\"[笑cry]\" src=\"https://h5.sinaimg.cn/m/emoticon/icon/default/d_xiaoku.png\" style=\"width:1em; height:1em;\" /></span>",
            "<span class='url-icon'><img alt=[doge] src='x.png'></span><br />",
            "第二行 &amp; &quot;引号&quot; <a href=\"https://m.weibo.cn/search?containerid=231522type%3D1%26q%3D%23A%E8%82%A1%23\">#A股#</a>",
            "<br/><a data-url=\"http://t.cn/A6x\" href=\"https://m.weibo.cn/p/index?x=1\"><span class='url-icon'><img style='width: 1rem;height: 1rem' src='link.png'></span><span class=\"surl-text\">网页链接</span></a>",
            " 1 < 2"
        );
        assert_eq!(
            html_to_text(html),
            "@张三 建设银行 今天涨了[笑cry][doge]\n第二行 & \"引号\" #A股#\n网页链接 1 < 2"
        );
        assert_eq!(html_to_text("  plain  "), "plain");
        assert_eq!(attribute("img data-alt=\"x\" alt=\"y\"", "alt"), Some("y"));
        assert_eq!(attribute("img src=\"x\"", "alt"), None);
    }

    #[test]
    fn named_and_numeric_entities_beyond_the_basic_six() {
        assert_eq!(
            html_to_text("<p>等等&hellip; 好&mdash;坏 &#x5efa;&#35774; &amp;lt; &euro;5</p>"),
            "等等… 好—坏 建设 &lt; €5"
        );
        assert_eq!(decode_entities("a &amp;lt; b"), "a &lt; b");
        assert_eq!(
            decode_entities("&#x4E2D;&#25991; &bogus; & &#0; &amp &"),
            "中文 &bogus; & &#0; &amp &"
        );
        assert_eq!(decode_entities("a&nbsp;b"), "a b");
        assert!(matches!(decode_entities("no refs"), Cow::Borrowed(_)));
    }

    #[test]
    fn odd_input_stays_text() {
        assert_eq!(html_to_text("plain"), "plain");
        assert_eq!(html_to_text("a < b"), "a < b");
        assert_eq!(html_to_text("<P>x</P><p></p><p>y</p>"), "x\n\ny");
        assert_eq!(
            html_to_text("<a href=\"x\">微博 weibo.com</a>"),
            "微博 weibo.com"
        );
        assert_eq!(html_to_text(""), "");
    }
}
