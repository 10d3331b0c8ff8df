//! Making untrusted text safe to show on a terminal.

/// Replaces control characters (ESC, BEL, CR, C1 controls, bidi overrides...)
/// so untrusted post text cannot move the cursor, recolour or retitle a
/// terminal. Newlines and tabs become spaces; others become `\u{..}` escapes.
pub fn for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(' '),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(for_terminal("a\x1b[31mred\x07"), "a\\u{1b}[31mred\\u{7}");
        assert_eq!(for_terminal("line1\nline2\tx"), "line1 line2 x");
        assert_eq!(for_terminal("建设银行\u{202e}涨"), "建设银行\\u{202e}涨");
        assert_eq!(for_terminal("plain 文本"), "plain 文本");
    }
}
