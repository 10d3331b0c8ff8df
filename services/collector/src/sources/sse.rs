//! A minimal Server-Sent Events parser (the subset Mastodon's streaming API
//! uses): `event:` and `data:` fields, blank-line dispatch, `:` comments as
//! heartbeats, `\n` or `\r\n` line ends.

/// Longest line or event accepted before the stream is considered broken.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// What the parser found in the bytes fed to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A dispatched event.
    Event {
        /// `event:` field (`message` if absent).
        event: String,
        /// `data:` lines joined by `\n`.
        data: String,
    },
    /// A comment line (`:thump`): the server's heartbeat.
    Heartbeat,
}

/// Incremental parser: feed it chunks as they arrive.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Parses `chunk`, returning every complete item; errors when a line or
    /// an event grows past 16 MiB.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseItem>, String> {
        let mut items = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            self.line.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.line_done(&String::from_utf8_lossy(&line), &mut items);
        }
        self.line.extend_from_slice(rest);
        if self.line.len() + self.data.len() > MAX_EVENT_BYTES {
            return Err(format!("an SSE event exceeds {MAX_EVENT_BYTES} bytes"));
        }
        Ok(items)
    }

    fn line_done(&mut self, line: &str, items: &mut Vec<SseItem>) {
        if line.is_empty() {
            if std::mem::take(&mut self.has_data) {
                let event = std::mem::take(&mut self.event);
                items.push(SseItem::Event {
                    event: if event.is_empty() {
                        "message".into()
                    } else {
                        event
                    },
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            return;
        }
        if line.starts_with(':') {
            items.push(SseItem::Heartbeat);
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_across_chunks() {
        let mut parser = SseParser::default();
        let stream = ":)\n\nevent: update\ndata: {\"id\":\ndata: 1}\n\r\nevent: delete\r\ndata: 5\r\n\r\n:thump\n";
        let mut items = Vec::new();
        for chunk in stream.as_bytes().chunks(7) {
            items.extend(parser.feed(chunk).unwrap());
        }
        let event = |event: &str, data: &str| SseItem::Event {
            event: event.into(),
            data: data.into(),
        };
        assert_eq!(
            items,
            vec![
                SseItem::Heartbeat,
                event("update", "{\"id\":\n1}"),
                event("delete", "5"),
                SseItem::Heartbeat
            ]
        );
        assert_eq!(
            parser.feed(b"data:x\n\n").unwrap(),
            vec![event("message", "x")]
        );
    }
}
