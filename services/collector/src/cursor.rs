//! Durable cursors of the live sources (a `since_id`, a Jetstream `time_us`):
//! one small JSON file per source, replaced atomically (temp file in the same
//! folder, fsync, rename, fsync of the folder) so a crash leaves either the
//! old or the new cursor, never a torn one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The cursor file of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorFile {
    path: PathBuf,
}

impl CursorFile {
    /// The cursor of source `key` in `dir`: `dir/<key>.json`, with every
    /// character outside `[A-Za-z0-9._-]` of the key replaced by `_`.
    pub fn in_dir(dir: &Path, key: &str) -> Self {
        let name: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        CursorFile {
            path: dir.join(format!("{name}.json")),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved cursor, or `None` when none was saved yet.
    pub fn load<T: DeserializeOwned>(&self) -> Result<Option<T>, String> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(format!("cannot read cursor {}: {error}", self.display())),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|error| {
            format!(
                "cursor {} is not valid ({error}); fix or delete it to start from the newest posts",
                self.display()
            )
        })
    }

    /// Encodes a cursor for [`CursorFile::save`].
    pub fn encode<T: Serialize>(cursor: &T) -> Vec<u8> {
        // Cursor types are plain structs of numbers and strings: encoding cannot fail.
        serde_json::to_vec(cursor).unwrap_or_default()
    }

    /// Replaces the saved cursor with `bytes`, durably and atomically (blocking I/O).
    pub fn save(&self, bytes: &[u8]) -> io::Result<()> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        fs::create_dir_all(dir)?;
        let mut temp_name = self.path.file_name().unwrap_or_default().to_os_string();
        temp_name.push(".tmp");
        let temp = dir.join(temp_name);
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, &self.path)?;
        // The rename itself is durable only once the folder is synced.
        File::open(dir)?.sync_all()
    }

    fn display(&self) -> std::path::Display<'_> {
        self.path.display()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Demo {
        since_id: String,
    }

    #[test]
    fn saves_replaces_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let file = CursorFile::in_dir(&dir.path().join("state"), "mastodon:example.org/x");
        assert!(file.path().ends_with("state/mastodon_example.org_x.json"));
        assert_eq!(file.load::<Demo>(), Ok(None));
        for id in ["1", "22"] {
            let cursor = Demo {
                since_id: id.into(),
            };
            file.save(&CursorFile::encode(&cursor)).unwrap();
            assert_eq!(file.load::<Demo>(), Ok(Some(cursor)));
        }
        let names: Vec<_> = fs::read_dir(dir.path().join("state"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temp file left: {names:?}");
        fs::write(file.path(), b"{\"since").unwrap();
        let error = file.load::<Demo>().unwrap_err();
        assert!(error.contains("is not valid"), "{error}");
    }
}
