//! The JSON-lines output: one matched post per line, each post once, even
//! across sink restarts (ids already in the file are loaded at start).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use weibostream_shared::MatchedPost;

use crate::dedupe::Dedupe;

/// An append-only JSON-lines file of matched posts.
pub struct JsonLinesOutput {
    path: PathBuf,
    writer: BufWriter<File>,
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
            writer: BufWriter::new(file),
        })
    }

    /// Appends posts and makes them durable before returning, so offsets
    /// committed afterwards never point past unwritten data.
    pub fn write(&mut self, posts: &[MatchedPost]) -> anyhow::Result<()> {
        if posts.is_empty() {
            return Ok(());
        }
        for post in posts {
            serde_json::to_writer(&mut self.writer, post)?;
            self.writer.write_all(b"\n")?;
        }
        self.writer
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.writer
            .get_ref()
            .sync_data()
            .with_context(|| format!("syncing {}", self.path.display()))
    }
}
