//! Records of the `file` source: Weibo statuses, saved response bodies or
//! normalized posts, read from any `BufRead`.
//!
//! JSON lines are read one line at a time. A line that is an incomplete JSON
//! value (`{` of a pretty-printed body, say) starts a multi-line document that
//! is streamed until it closes; if it never parses, its first line is reported
//! and the lines after it are read again one by one, so a truncated line costs
//! only itself.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use weibostream_shared::{Post, Source};

use crate::weibo::{Normalized, StatusError, json_kind, normalize_status};

/// Largest multi-line document buffered before giving up on it.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024 * 1024;

/// One record read from a file.
// Almost every value is a `Post`, so boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRecord {
    /// A post, normalized from a status or read as already normalized.
    Post(Post),
    /// A status Weibo reports as deleted; nothing to publish.
    Deleted {
        /// The post id it would have had, e.g. `weibo:3800000000000000`.
        id: String,
    },
}

impl From<Normalized> for FileRecord {
    fn from(normalized: Normalized) -> Self {
        match normalized {
            Normalized::Post(post) => FileRecord::Post(post),
            Normalized::Deleted { id } => FileRecord::Deleted { id },
        }
    }
}

/// A record that could not be read; the iteration goes on after it.
#[derive(Debug, thiserror::Error)]
#[error("line {line}{}: {kind}", element.map(|i| format!(", element {i}")).unwrap_or_default())]
pub struct InputError {
    /// 1-based line of the record, or of the first line of its document.
    pub line: usize,
    /// Index in the document's `statuses` (or top-level) array, if it came from one.
    pub element: Option<usize>,
    /// What went wrong.
    pub kind: InputErrorKind,
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputErrorKind {
    /// Reading the file failed (the iteration ends after this), or a
    /// multi-line document grew past [`MAX_DOCUMENT_BYTES`].
    #[error("read failed: {0}")]
    Io(io::Error),
    /// The line is not valid JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(serde_json::Error),
    /// A document spanning several lines is not valid JSON.
    #[error(
        "invalid JSON document starting on this line: {message} at line {line} column {column}"
    )]
    InvalidDocument {
        /// The parser's message.
        message: String,
        /// 1-based file line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// Text follows a multi-line document on its last line.
    #[error("unexpected text after a JSON document")]
    TrailingText,
    /// The record is valid JSON but not an object.
    #[error("expected a JSON object, got {0}")]
    NotAnObject(&'static str),
    /// A response body's `statuses` is not an array.
    #[error("\"statuses\" is {0}, not an array")]
    StatusesNotArray(&'static str),
    /// A saved Weibo error response (`{"error_code": ..., "error": ...}`).
    #[error("Weibo API error response: {0}")]
    ApiError(String),
    /// The record looks like a normalized post but is not a valid one.
    #[error("invalid post: {0}")]
    InvalidPost(String),
    /// The record is a Weibo status that could not be normalized.
    #[error(transparent)]
    Status(#[from] StatusError),
}

/// Iterator over the records of a file; see the module documentation.
pub struct FileRecords<R: BufRead> {
    lines: Lines<R>,
    collected_at: fn() -> DateTime<Utc>,
    batch: Option<Batch>,
    deferred: Option<InputError>,
}

/// The remaining elements of an array read from one document.
struct Batch {
    line: usize,
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
}

impl<R: BufRead> FileRecords<R> {
    /// Reads records from `reader`, stamping posts made from statuses with
    /// `collected_at()` (pass `Utc::now`).
    pub fn new(reader: R, collected_at: fn() -> DateTime<Utc>) -> Self {
        FileRecords {
            lines: Lines {
                reader,
                line_no: 0,
                replay: VecDeque::new(),
                finished: false,
            },
            collected_at,
            batch: None,
            deferred: None,
        }
    }

    /// Top-level value of a line or document: a body, an array or one record.
    fn dispatch(&mut self, value: Value, line: usize) -> Option<Result<FileRecord, InputError>> {
        let items = match value {
            Value::Array(items) => items,
            Value::Object(mut object) if object.contains_key("statuses") => {
                match object.remove("statuses") {
                    Some(Value::Array(items)) => items,
                    other => {
                        let kind = json_kind(other.as_ref().unwrap_or(&Value::Null));
                        return Some(Err(at_line(line, InputErrorKind::StatusesNotArray(kind))));
                    }
                }
            }
            other => return Some(self.record(other, line, None)),
        };
        let items = items.into_iter().enumerate();
        self.batch = Some(Batch { line, items });
        None
    }

    fn record(
        &self,
        value: Value,
        line: usize,
        element: Option<usize>,
    ) -> Result<FileRecord, InputError> {
        let with_line = |kind| InputError {
            line,
            element,
            kind,
        };
        let Value::Object(mut object) = value else {
            return Err(with_line(InputErrorKind::NotAnObject(json_kind(&value))));
        };
        if looks_like_post(&object) {
            if !object.contains_key("collected_at") {
                let now = (self.collected_at)().to_rfc3339();
                object.insert("collected_at".into(), Value::String(now));
            }
            return post_from(object)
                .map(FileRecord::Post)
                .map_err(|reason| with_line(InputErrorKind::InvalidPost(reason)));
        }
        if let Some(message) = api_error(&object) {
            return Err(with_line(InputErrorKind::ApiError(message)));
        }
        normalize_status(&Value::Object(object), (self.collected_at)())
            .map(FileRecord::from)
            .map_err(|status_error| with_line(status_error.into()))
    }

    /// Streams a document that starts with `first` (which alone ended too early).
    fn read_document(
        &mut self,
        start: usize,
        first: Vec<u8>,
        line_error: serde_json::Error,
    ) -> Result<Value, InputError> {
        let mut document = Document {
            lines: &mut self.lines,
            recorded: vec![(start, first)],
            pos: 0,
            bytes: 0,
        };
        let mut stream = serde_json::Deserializer::from_reader(&mut document).into_iter();
        let parsed: Option<serde_json::Result<Value>> = stream.next();
        let end = stream.byte_offset();
        let recorded = document.recorded;
        let error = match parsed {
            Some(Ok(value)) => {
                self.keep_after(recorded, end);
                return Ok(value);
            }
            Some(Err(error)) => error,
            None => return Err(at_line(start, InputErrorKind::InvalidJson(line_error))),
        };
        for line in recorded.into_iter().skip(1).rev() {
            self.lines.replay.push_front(line);
        }
        let kind = if error.is_io() {
            InputErrorKind::Io(error.into())
        } else if error.line() <= 2 {
            // Failing on the next line almost always means a truncated single line.
            InputErrorKind::InvalidJson(line_error)
        } else {
            let text = error.to_string();
            let message = text.rfind(" at line ").map_or(&*text, |end| &text[..end]);
            InputErrorKind::InvalidDocument {
                message: message.to_owned(),
                line: start + error.line() - 1,
                column: error.column(),
            }
        };
        Err(at_line(start, kind))
    }

    /// After a document that ended `end` bytes into `recorded`: flags text
    /// after it on its last line and reads any later lines again. (The parser
    /// reads byte by byte today, so there are none; this keeps it correct if
    /// it starts buffering.)
    fn keep_after(&mut self, recorded: Vec<(usize, Vec<u8>)>, end: usize) {
        let mut offset = 0;
        let mut rest = recorded.into_iter();
        for (line, text) in rest.by_ref() {
            if end <= offset + text.len() {
                let tail = text.get(end.saturating_sub(offset)..).unwrap_or_default();
                if !tail.trim_ascii().is_empty() {
                    self.deferred = Some(at_line(line, InputErrorKind::TrailingText));
                }
                break;
            }
            offset += text.len() + 1;
        }
        for line in rest.rev() {
            self.lines.replay.push_front(line);
        }
    }
}

impl<R: BufRead> Iterator for FileRecords<R> {
    type Item = Result<FileRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(batch) = self.batch.as_mut() {
                if let Some((index, value)) = batch.items.next() {
                    let line = batch.line;
                    return Some(self.record(value, line, Some(index)));
                }
                self.batch = None;
            }
            if let Some(deferred) = self.deferred.take() {
                return Some(Err(deferred));
            }
            let (line, mut text) = match self.lines.next()? {
                Ok(line) => line,
                Err(io_error) => {
                    let line = self.lines.line_no + 1;
                    return Some(Err(at_line(line, InputErrorKind::Io(io_error))));
                }
            };
            if line == 1 && text.starts_with(b"\xEF\xBB\xBF") {
                text.drain(..3);
            }
            if text.trim_ascii().is_empty() {
                continue;
            }
            let value = match serde_json::from_slice::<Value>(&text) {
                Ok(value) => value,
                Err(line_error) if line_error.is_eof() => {
                    match self.read_document(line, text, line_error) {
                        Ok(value) => value,
                        Err(err) => return Some(Err(err)),
                    }
                }
                Err(line_error) => {
                    return Some(Err(at_line(line, InputErrorKind::InvalidJson(line_error))));
                }
            };
            if let Some(result) = self.dispatch(value, line) {
                return Some(result);
            }
        }
    }
}

fn at_line(line: usize, kind: InputErrorKind) -> InputError {
    InputError {
        line,
        element: None,
        kind,
    }
}

/// A normalized post: a prefixed string id, a known source and an author object.
fn looks_like_post(object: &Map<String, Value>) -> bool {
    let id = object.get("id").and_then(Value::as_str);
    id.is_some_and(|id| id.contains(':'))
        && object.get("author").is_some_and(Value::is_object)
        && object
            .get("source")
            .is_some_and(|source| Source::deserialize(source).is_ok())
}

fn post_from(object: Map<String, Value>) -> Result<Post, String> {
    let post = Post::deserialize(Value::Object(object)).map_err(|err| err.to_string())?;
    post.validate().map_err(str::to_owned)?;
    Ok(post)
}

/// The message of a saved Weibo error response, if `object` is one.
fn api_error(object: &Map<String, Value>) -> Option<String> {
    let code = object.get("error_code")?;
    if object.contains_key("id") || object.contains_key("idstr") {
        return None;
    }
    let code = code
        .as_str()
        .map_or_else(|| code.to_string(), str::to_owned);
    let message = object.get("error").and_then(Value::as_str).unwrap_or("");
    Some(format!("{code} {message}").trim_end().to_owned())
}

/// Lines of the reader without their terminator, after any lines to read again.
struct Lines<R> {
    reader: R,
    line_no: usize,
    replay: VecDeque<(usize, Vec<u8>)>,
    finished: bool,
}

impl<R: BufRead> Lines<R> {
    fn next(&mut self) -> Option<io::Result<(usize, Vec<u8>)>> {
        if let Some(line) = self.replay.pop_front() {
            return Some(Ok(line));
        }
        if self.finished {
            return None;
        }
        let mut text = Vec::new();
        match self.reader.read_until(b'\n', &mut text) {
            Ok(0) => {
                self.finished = true;
                None
            }
            Ok(_) => {
                self.line_no += 1;
                if text.last() == Some(&b'\n') {
                    text.pop();
                }
                if text.last() == Some(&b'\r') {
                    text.pop();
                }
                Some(Ok((self.line_no, text)))
            }
            Err(io_error) => {
                // A reader that failed once is not trusted to make progress again.
                self.finished = true;
                Some(Err(io_error))
            }
        }
    }
}

/// Serves lines (joined by `\n`) to the JSON parser, keeping them to read again.
struct Document<'a, R> {
    lines: &'a mut Lines<R>,
    recorded: Vec<(usize, Vec<u8>)>,
    /// Position in the last recorded line; its length + 1 once the `\n` is served.
    pos: usize,
    bytes: usize,
}

impl<R: BufRead> Read for Document<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some((_, line)) = self.recorded.last() else {
                return Ok(0);
            };
            if out.is_empty() {
                return Ok(0);
            }
            if let Some(rest) = line.get(self.pos..).filter(|rest| !rest.is_empty()) {
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                self.pos += n;
                return Ok(n);
            }
            if self.pos == line.len() {
                out[0] = b'\n';
                self.pos += 1;
                return Ok(1);
            }
            if self.bytes > MAX_DOCUMENT_BYTES {
                let message = format!("JSON document exceeds {MAX_DOCUMENT_BYTES} bytes");
                return Err(io::Error::other(message));
            }
            match self.lines.next() {
                None => return Ok(0),
                Some(Err(io_error)) => return Err(io_error),
                Some(Ok(line)) => {
                    self.bytes += line.1.len() + 1;
                    self.recorded.push(line);
                    self.pos = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-01-01T00:00:00Z".parse().unwrap()
    }

    fn status(id: u64) -> String {
        let time = "Wed Jan 21 18:50:05 +0800 2015";
        format!(r#"{{"created_at":"{time}","id":{id},"text":"t{id}","user":{{"id":1}}}}"#)
    }

    const POST: &str = r#"{"id":"synthetic:5","source":"synthetic","text":"hi","created_at":"2025-01-01T00:00:00Z","author":{"id":"7","name":"seven"},"collected_at":"2025-01-02T00:00:00Z"}"#;

    /// Reads `input` and checks each record's summary (`post <id>`,
    /// `deleted <id>` or the error message) starts with the expected text.
    fn assert_records(input: impl AsRef<[u8]>, expected: &[&str]) -> Vec<FileRecord> {
        let records: Vec<_> = FileRecords::new(input.as_ref(), now).collect();
        let summaries: Vec<String> = records
            .iter()
            .map(|record| match record {
                Ok(FileRecord::Post(post)) => format!("post {}", post.id),
                Ok(FileRecord::Deleted { id }) => format!("deleted {id}"),
                Err(err) => err.to_string(),
            })
            .collect();
        let matches = summaries.len() == expected.len()
            && summaries
                .iter()
                .zip(expected)
                .all(|(got, want)| got.starts_with(want));
        assert!(matches, "got {summaries:#?}\nexpected {expected:#?}");
        records.into_iter().filter_map(Result::ok).collect()
    }

    #[test]
    fn reads_status_lines_and_skips_blank_ones() {
        let deleted = r#"{"id":"9","deleted":"1"}"#;
        let input = format!("{}\n\n  \r\n{}\r\n{deleted}\n", status(1), status(2));
        let expected = ["post weibo:1", "post weibo:2", "deleted weibo:9"];
        let records = assert_records(input, &expected);
        let FileRecord::Post(post) = &records[0] else {
            panic!()
        };
        assert_eq!((post.text.as_str(), post.collected_at), ("t1", now()));
    }

    #[test]
    fn reads_one_line_bodies_and_normalized_posts() {
        let body = |a, b| {
            let statuses = format!("[{},{}]", status(a), status(b));
            format!(r#"{{"statuses":{statuses},"previous_cursor":0,"total_number":2}}"#)
        };
        let input = format!("{}\n{POST}\n{}\n{}", body(1, 2), status(3), body(4, 5));
        let expected = [
            "post weibo:1",
            "post weibo:2",
            "post synthetic:5",
            "post weibo:3",
        ];
        let records = assert_records(
            input,
            &[&expected[..], &["post weibo:4", "post weibo:5"]].concat(),
        );
        let FileRecord::Post(post) = &records[2] else {
            panic!()
        };
        assert_eq!(post, &serde_json::from_str::<Post>(POST).unwrap());
        assert_ne!(post.collected_at, now());
    }

    #[test]
    fn normalized_post_without_collected_at_gets_one() {
        let post = POST.replace(r#","collected_at":"2025-01-02T00:00:00Z""#, "");
        let records = assert_records(post.replace("synthetic", "socket"), &["post socket:5"]);
        let FileRecord::Post(post) = &records[0] else {
            panic!()
        };
        assert_eq!(post.collected_at, now());
    }

    #[test]
    fn reads_a_pretty_printed_body() {
        let statuses: Vec<Value> = [1, 2, 3]
            .map(|id| serde_json::from_str(&status(id)).unwrap())
            .into();
        let body =
            serde_json::json!({"statuses": statuses, "previous_cursor": 0, "total_number": 3});
        let pretty = serde_json::to_string_pretty(&body).unwrap();
        assert!(pretty.lines().count() > 20);
        let input = format!("\n{pretty}\n\n{}\n", status(4));
        assert_records(
            input,
            &[
                "post weibo:1",
                "post weibo:2",
                "post weibo:3",
                "post weibo:4",
            ],
        );
    }

    #[test]
    fn bad_lines_in_the_middle_do_not_stop_the_iteration() {
        let (first, last) = (status(1), status(2));
        let input = [
            first.as_str(),
            "not json",
            "[1, {}]",
            r#"{"id": 5, "text": "truncated"#,
            r#"{"statuses": {}}"#,
            r#"{"request":"/2/statuses/home_timeline.json","error_code":21327,"error":"expired_token"}"#,
            r#"{"id": "weibo:1", "source": "weibo", "author": {"id": ""}}"#,
            r#"{"id": 6, "text": "x", "created_at": "xyz", "user": {"id": 1}}"#,
            last.as_str(),
        ];
        assert_records(
            input.join("\n"),
            &[
                "post weibo:1",
                "line 2: invalid JSON: expected ident at line 1 column 2",
                "line 3, element 0: expected a JSON object, got a number",
                "line 3, element 1: missing field \"id\"",
                "line 4: invalid JSON: EOF while parsing a string at line 1 column 28",
                "line 5: \"statuses\" is an object, not an array",
                "line 6: Weibo API error response: 21327 expired_token",
                "line 7: invalid post: missing field `name`",
                "line 8: bad created_at \"xyz\"",
                "post weibo:2",
            ],
        );
    }

    #[test]
    fn broken_documents_are_reported_and_skipped_past() {
        // The array misses a comma; its elements are still recovered line by line.
        let input = format!(
            "{{\n \"statuses\": [\n{}\n{}\n ]\n}}\n{}",
            status(1),
            status(2),
            status(3)
        );
        assert_records(
            input,
            &[
                "line 1: invalid JSON document starting on this line: expected `,` or `]` at line 4 column 1",
                "line 2: invalid JSON: trailing characters",
                "post weibo:1",
                "post weibo:2",
                "line 5: invalid JSON: expected value",
                "line 6: invalid JSON: expected value",
                "post weibo:3",
            ],
        );
        let input = format!("[\n{}\n] x\n{}\n{{\n\"id\": 1,\n", status(1), status(2));
        assert_records(
            input,
            &[
                "post weibo:1",
                "line 3: unexpected text after a JSON document",
                "post weibo:2",
                "line 5: invalid JSON document starting on this line: EOF while parsing a value at line 7",
                "line 6: invalid JSON: trailing characters",
            ],
        );
    }

    #[test]
    fn invalid_utf8_and_read_errors_are_reported() {
        let (first, last) = (status(1), status(2));
        let input = [
            first.as_bytes(),
            b"\n{\"text\": \"\xff\"}\n",
            last.as_bytes(),
        ];
        let expected = [
            "post weibo:1",
            "line 2: invalid JSON: invalid unicode",
            "post weibo:2",
        ];
        assert_records(input.concat(), &expected);

        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let first = format!("{}\n{}", status(1), status(2));
        let reader = io::BufReader::new(first.as_bytes().chain(Failing));
        let summaries: Vec<_> = FileRecords::new(reader, now)
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        assert!(matches!(&summaries[0], Ok(FileRecord::Post(_))));
        assert_eq!(
            summaries[1],
            Err("line 2: read failed: disk on fire".to_owned())
        );
        assert_eq!(summaries.len(), 2);
    }
}
