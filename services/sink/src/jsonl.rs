//! The JSON-lines output: one matched post per line, each post once, even
//! across sink restarts (ids already in the file are loaded at start).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use weibostream_shared::MatchedPost;

use crate::dedupe::Dedupe;
use crate::merge::RawRecord;

/// Largest output buffer kept between blocks.
const MAX_KEPT_BUFFER: usize = 4 << 20;

/// An append-only JSON-lines file of matched posts.
pub struct JsonLinesOutput {
    path: PathBuf,
    file: File,
    /// One block's lines, written with one call (reused).
    buffer: Vec<u8>,
}

impl JsonLinesOutput {
    /// Opens (creating) the file for appending and records the ids it
    /// already holds in `seen`, so a restarted sink does not write them again.
    pub fn open(path: &Path, seen: &mut Dedupe) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        if path.exists() {
            let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
            for line in BufReader::new(file).lines() {
                let line = line.with_context(|| format!("reading {}", path.display()))?;
                // A torn last line from a crash is skipped; its post is redelivered.
                if let Ok(matched) = serde_json::from_str::<MatchedPost>(&line) {
                    seen.insert(&matched.post.id);
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(JsonLinesOutput {
            path: path.to_path_buf(),
            file,
            buffer: Vec::new(),
        })
    }

    /// Appends posts and makes them durable before returning, so offsets
    /// committed afterwards never point past unwritten data. `raw` holds
    /// the records the posts were read from (index for index, or empty):
    /// those are written as they are, which is several times faster than
    /// encoding the posts again, the bulk of a block's output time.
    pub fn write(&mut self, posts: &[MatchedPost], raw: &[RawRecord]) -> anyhow::Result<()> {
        if posts.is_empty() {
            return Ok(());
        }
        self.buffer.clear();
        for (index, post) in posts.iter().enumerate() {
            match raw.get(index).and_then(Option::as_deref) {
                Some(record) => self.buffer.extend_from_slice(record),
                None => serde_json::to_writer(&mut self.buffer, post)?,
            }
            self.buffer.push(b'\n');
        }
        self.file
            .write_all(&self.buffer)
            .with_context(|| format!("writing {}", self.path.display()))?;
        // A big block would otherwise keep its buffer for the sink's lifetime.
        if self.buffer.capacity() > MAX_KEPT_BUFFER {
            self.buffer = Vec::new();
        }
        self.file
            .sync_data()
            .with_context(|| format!("syncing {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::tests::matched;

    #[test]
    fn writes_kept_records_as_they_are_and_encodes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut seen = Dedupe::new(100);
        let mut output = JsonLinesOutput::open(&path, &mut seen).unwrap();
        let posts = [
            matched("1", 5, "r1"),
            matched("2", 5, "r1"),
            matched("3", 5, "r1"),
        ];
        // The first record as a producer wrote it (extra field, other key
        // order); the second was not kept (it held a line break).
        let mut first = serde_json::to_value(&posts[0]).unwrap();
        first["extra"] = serde_json::json!(1);
        let first = serde_json::to_vec(&first).unwrap();
        let third = serde_json::to_vec(&posts[2]).unwrap();
        let raw = vec![Some(first.clone().into()), None, Some(third.clone().into())];
        output.write(&posts, &raw).unwrap();
        output.write(&posts[1..2], &[]).unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0].as_bytes(), &first[..]);
        assert_eq!(lines[2].as_bytes(), &third[..]);
        for (line, post) in lines
            .iter()
            .zip([&posts[0], &posts[1], &posts[2], &posts[1]])
        {
            assert_eq!(&serde_json::from_str::<MatchedPost>(line).unwrap(), post);
        }
        let mut reopened = Dedupe::new(100);
        JsonLinesOutput::open(&path, &mut reopened).unwrap();
        assert!(
            ["weibo:1", "weibo:2", "weibo:3"]
                .iter()
                .all(|id| reopened.contains(id))
        );
    }
}
