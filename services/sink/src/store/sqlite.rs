//! The embedded default store: one SQLite file, created with its schema on
//! first use.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use weibostream_shared::MatchedPost;

use super::{Dialect, Row, SCHEMA_VERSION, Written, count_inserted, migration_sql, time_text};
use crate::alerts::Fired;

/// The store connection's page cache, KiB (SQLite's default is 2000).
/// Writes append to the tables and indexes and are off the output path,
/// so a small cache costs little time, and it is resident for the sink's
/// lifetime; readers (the history API) keep the default.
const WRITER_CACHE_KIB: u32 = 512;

/// Matched posts in an SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    connection: Connection,
}

/// Opens a connection to the file with the settings every user of it needs.
pub(crate) fn connect(path: &Path) -> anyhow::Result<Connection> {
    let connection = Connection::open(path)
        .with_context(|| format!("opening SQLite database {}", path.display()))?;
    // WAL lets readers (the history API, a user's sqlite3 shell) read while
    // the sink writes; the busy timeout bounds waits on the writer lock.
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;",
        )
        .with_context(|| format!("configuring {}", path.display()))?;
    Ok(connection)
}

impl SqliteStore {
    /// Opens (creating) the database and brings its schema up to date.
    pub fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut connection = connect(path)?;
        connection
            .execute_batch(&format!("PRAGMA cache_size = -{WRITER_CACHE_KIB}"))
            .with_context(|| format!("configuring {}", path.display()))?;
        migrate(&mut connection).with_context(|| format!("migrating {}", path.display()))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            connection,
        })
    }

    /// Upserts the posts and their rule counts in one transaction.
    pub fn write(&mut self, posts: &[MatchedPost]) -> anyhow::Result<Written> {
        let path = self.path.display().to_string();
        let transaction = self
            .connection
            .transaction()
            .with_context(|| format!("writing {path}"))?;
        let mut written = Written::default();
        {
            let mut statement = transaction
                .prepare_cached(
                    "INSERT INTO matched_posts (id, source, text, lang, author_id, author_name, created_at, url,
                        rules, batch_time, replica, raw_partition, raw_offset, post, label, stored_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                     ON CONFLICT (id) DO NOTHING",
                )
                .with_context(|| format!("writing {path}"))?;
            for post in posts {
                let row = Row::from(post);
                let inserted = statement
                    .execute(params_from_iter(row.values.iter()))
                    .with_context(|| format!("writing {path}"))?
                    as u64;
                if inserted > 0 {
                    written.inserted += inserted;
                    count_inserted(&mut written.counts, post);
                }
            }
            let mut count = transaction
                .prepare_cached(
                    "INSERT INTO rule_counts (rule, batch_time, matches) VALUES (?1, ?2, ?3)
                     ON CONFLICT (rule, batch_time) DO UPDATE SET matches = matches + excluded.matches",
                )
                .with_context(|| format!("writing {path}"))?;
            for ((rule, batch_time), n) in &written.counts {
                count
                    .execute(params![rule, time_text(batch_time), *n as i64])
                    .with_context(|| format!("writing {path}"))?;
            }
        }
        transaction
            .commit()
            .with_context(|| format!("committing to {path}"))?;
        Ok(written)
    }

    /// Rows stored.
    pub fn count(&self) -> anyhow::Result<u64> {
        let n: i64 =
            self.connection
                .query_row("SELECT COUNT(*) FROM matched_posts", [], |row| row.get(0))?;
        Ok(n as u64)
    }

    /// Matches of `rule` per batch time from `since` on, oldest first.
    pub fn rule_series(
        &self,
        rule: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<(DateTime<Utc>, u64)>> {
        let mut statement = self.connection.prepare_cached(
            "SELECT batch_time, matches FROM rule_counts
             WHERE rule = ?1 AND batch_time >= ?2 ORDER BY batch_time",
        )?;
        let rows = statement.query_map(params![rule, time_text(&since)], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        let mut series = Vec::new();
        for row in rows {
            let (time, matches) = row?;
            series.push((parse_time(&time)?, matches.max(0) as u64));
        }
        Ok(series)
    }

    /// See [`super::Store::claim_alert`]. The write transaction starts at
    /// once (`IMMEDIATE`), so the check and the insert are one step for
    /// every process sharing the file.
    pub fn claim_alert(&mut self, fired: &Fired, cooldown_s: u64) -> anyhow::Result<bool> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let quiet_since = fired.window_start - chrono::Duration::seconds(cooldown_s as i64);
        let recent: Option<String> = transaction
            .query_row(
                "SELECT window_start FROM alerts WHERE rule = ?1 AND window_start > ?2 LIMIT 1",
                params![fired.rule, time_text(&quiet_since)],
                |row| row.get(0),
            )
            .optional()?;
        if recent.is_some() {
            return Ok(false);
        }
        let inserted = transaction.execute(
            "INSERT INTO alerts (rule, window_start, window_s, kind, matches, baseline, fired_at, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (rule, window_start) DO NOTHING",
            params![
                fired.rule,
                time_text(&fired.window_start),
                fired.window_s as i64,
                fired.kind.as_str(),
                fired.matches as i64,
                fired.baseline,
                time_text(&fired.fired_at),
                fired.detail_json(),
            ],
        )?;
        transaction.commit()?;
        Ok(inserted > 0)
    }
}

/// Parses a time column as the stores write it.
pub(crate) fn parse_time(text: &str) -> anyhow::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("not a stored time: {text:?}"))
}

fn migrate(connection: &mut Connection) -> anyhow::Result<()> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        transaction.execute_batch(&migration_sql(index, Dialect::Sqlite))?;
    }
    transaction.execute("DELETE FROM weibostream_schema", [])?;
    transaction.execute(
        "INSERT INTO weibostream_schema (version) VALUES (?1)",
        [SCHEMA_VERSION],
    )?;
    transaction.commit()?;
    Ok(())
}
