//! The embedded default store: one SQLite file, created with its schema on
//! first use.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rusqlite::{Connection, params_from_iter};
use weibostream_shared::MatchedPost;

use super::{Row, SCHEMA_VERSION, migration_sql};

/// Matched posts in an SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    connection: Connection,
}

impl SqliteStore {
    /// Opens (creating) the database and brings its schema up to date.
    pub fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut connection = Connection::open(path)
            .with_context(|| format!("opening SQLite database {}", path.display()))?;
        // WAL lets readers (a user's sqlite3 shell, a dashboard) read while the sink writes.
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
            )
            .with_context(|| format!("configuring {}", path.display()))?;
        migrate(&mut connection).with_context(|| format!("migrating {}", path.display()))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            connection,
        })
    }

    /// Upserts the posts in one transaction; returns how many rows were new.
    pub fn write(&mut self, posts: &[MatchedPost]) -> anyhow::Result<u64> {
        let path = self.path.display().to_string();
        let transaction = self
            .connection
            .transaction()
            .with_context(|| format!("writing {path}"))?;
        let mut inserted = 0;
        {
            let mut statement = transaction
                .prepare_cached(
                    "INSERT INTO matched_posts (id, source, text, lang, author_id, author_name, created_at, url,
                        rules, batch_time, replica, raw_partition, raw_offset, post, stored_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                     ON CONFLICT (id) DO NOTHING",
                )
                .with_context(|| format!("writing {path}"))?;
            for post in posts {
                let row = Row::from(post);
                inserted += statement
                    .execute(params_from_iter(row.values.iter()))
                    .with_context(|| format!("writing {path}"))? as u64;
            }
        }
        transaction
            .commit()
            .with_context(|| format!("committing to {path}"))?;
        Ok(inserted)
    }

    /// Rows stored.
    pub fn count(&self) -> anyhow::Result<u64> {
        let n: i64 =
            self.connection
                .query_row("SELECT COUNT(*) FROM matched_posts", [], |row| row.get(0))?;
        Ok(n as u64)
    }
}

fn migrate(connection: &mut Connection) -> anyhow::Result<()> {
    let transaction = connection.transaction()?;
    transaction.execute_batch(
        "CREATE TABLE IF NOT EXISTS weibostream_schema (version INTEGER NOT NULL)",
    )?;
    let version: Option<i64> =
        transaction.query_row("SELECT MAX(version) FROM weibostream_schema", [], |row| {
            row.get(0)
        })?;
    let version = version.unwrap_or(0);
    if version > SCHEMA_VERSION {
        bail!(
            "database schema version {version} is newer than this sink's ({SCHEMA_VERSION}); upgrade the sink"
        );
    }
    for index in version as usize..SCHEMA_VERSION as usize {
        transaction.execute_batch(&migration_sql(index, "TEXT", "TEXT"))?;
    }
    transaction.execute("DELETE FROM weibostream_schema", [])?;
    transaction.execute(
        "INSERT INTO weibostream_schema (version) VALUES (?1)",
        [SCHEMA_VERSION],
    )?;
    transaction.commit()?;
    Ok(())
}
