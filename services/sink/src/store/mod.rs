//! Durable stores for matched posts and the history read from them. Both
//! upsert by post id, so replays and redeliveries never create a second row;
//! both create or migrate their schema at start.
//!
//! Beside the posts they keep `rule_counts` (matches per rule per batch,
//! counted from the rows actually inserted, in the same transaction, so the
//! counts always equal a count of the stored posts) and `alerts` (the alerts
//! that fired: the table is also what makes an alert fire once, see
//! [`crate::alerts`]).

mod postgres;
mod sqlite;
pub mod writer;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use weibostream_shared::MatchedPost;

pub use postgres::{PostgresStore, postgres_time_text, redact};
pub use sqlite::SqliteStore;
pub(crate) use sqlite::{connect as sqlite_connect, parse_time as parse_stored_time};

use crate::alerts::Fired;

/// The database at hand, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (bundled, with FTS5).
    Sqlite,
    /// PostgreSQL (with `pg_trgm`).
    Postgres,
}

/// One schema step: statements for both databases (`{json}`, `{time}` and
/// `{float}` are the column types of the database at hand), then statements
/// for one of them.
struct Migration {
    common: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// The schema, as ordered migrations: a store at version N applies the
/// migrations from index N on, in one transaction, and records the new version.
const MIGRATIONS: &[Migration] = &[
    Migration {
        common: "CREATE TABLE IF NOT EXISTS matched_posts (
            id TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            text TEXT NOT NULL,
            lang TEXT,
            author_id TEXT NOT NULL,
            author_name TEXT NOT NULL,
            created_at {time} NOT NULL,
            url TEXT,
            rules {json} NOT NULL,
            batch_time {time} NOT NULL,
            replica TEXT NOT NULL,
            raw_partition INTEGER NOT NULL,
            raw_offset BIGINT NOT NULL,
            post {json} NOT NULL,
            stored_at {time} NOT NULL
        );
        CREATE INDEX IF NOT EXISTS matched_posts_batch_time ON matched_posts (batch_time);
        CREATE INDEX IF NOT EXISTS matched_posts_created_at ON matched_posts (created_at)",
        sqlite: "",
        postgres: "",
    },
    Migration {
        common: "ALTER TABLE matched_posts ADD COLUMN label TEXT;
        CREATE INDEX IF NOT EXISTS matched_posts_author_id ON matched_posts (author_id);
        CREATE TABLE IF NOT EXISTS rule_counts (
            rule TEXT NOT NULL,
            batch_time {time} NOT NULL,
            matches BIGINT NOT NULL,
            PRIMARY KEY (rule, batch_time)
        );
        CREATE INDEX IF NOT EXISTS rule_counts_batch_time ON rule_counts (batch_time);
        CREATE TABLE IF NOT EXISTS alerts (
            rule TEXT NOT NULL,
            window_start {time} NOT NULL,
            window_s BIGINT NOT NULL,
            kind TEXT NOT NULL,
            matches BIGINT NOT NULL,
            baseline {float},
            fired_at {time} NOT NULL,
            detail {json} NOT NULL,
            PRIMARY KEY (rule, window_start)
        );
        CREATE INDEX IF NOT EXISTS alerts_window_start ON alerts (window_start)",
        // The trigram index serves substring search of 3 characters or
        // more; it follows the table through triggers.
        sqlite: "INSERT INTO rule_counts (rule, batch_time, matches)
            SELECT value, batch_time, COUNT(*) FROM matched_posts, json_each(matched_posts.rules)
            GROUP BY value, batch_time;
        CREATE VIRTUAL TABLE IF NOT EXISTS matched_posts_fts USING fts5(
            text, content='matched_posts', content_rowid='rowid', tokenize='trigram');
        INSERT INTO matched_posts_fts (matched_posts_fts) VALUES ('rebuild');
        CREATE TRIGGER IF NOT EXISTS matched_posts_fts_insert AFTER INSERT ON matched_posts BEGIN
            INSERT INTO matched_posts_fts (rowid, text) VALUES (new.rowid, new.text);
        END;
        CREATE TRIGGER IF NOT EXISTS matched_posts_fts_delete AFTER DELETE ON matched_posts BEGIN
            INSERT INTO matched_posts_fts (matched_posts_fts, rowid, text)
                VALUES ('delete', old.rowid, old.text);
        END",
        postgres: "INSERT INTO rule_counts (rule, batch_time, matches)
            SELECT r, batch_time, COUNT(*) FROM matched_posts, jsonb_array_elements_text(rules) r
            GROUP BY r, batch_time;
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX IF NOT EXISTS matched_posts_text_trgm ON matched_posts USING gin (text gin_trgm_ops)",
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn migration_sql(index: usize, dialect: Dialect) -> String {
    let migration = &MIGRATIONS[index];
    let (json, time, float, own) = match dialect {
        Dialect::Sqlite => ("TEXT", "TEXT", "REAL", migration.sqlite),
        Dialect::Postgres => (
            "JSONB",
            "TIMESTAMPTZ",
            "DOUBLE PRECISION",
            migration.postgres,
        ),
    };
    let common = migration
        .common
        .replace("{json}", json)
        .replace("{time}", time)
        .replace("{float}", float);
    if own.is_empty() {
        common
    } else {
        format!("{common};\n{own}")
    }
}

/// A time as the stores write it: RFC 3339, UTC, milliseconds (sorts as text).
pub fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One row's values, in column order, as text (databases cast where needed).
struct Row {
    values: [Option<String>; 15],
}

impl Row {
    fn from(matched: &MatchedPost) -> Row {
        let post = &matched.post;
        Row {
            values: [
                Some(post.id.clone()),
                Some(post.source.prefix().to_string()),
                Some(post.text.clone()),
                post.lang.clone(),
                Some(post.author.id.clone()),
                Some(post.author.name.clone()),
                Some(time_text(&post.created_at)),
                post.url.clone(),
                Some(serde_json::to_string(&matched.rules).unwrap_or_else(|_| "[]".into())),
                Some(time_text(&matched.batch_time)),
                Some(matched.replica.clone()),
                Some(matched.partition.to_string()),
                Some(matched.offset.to_string()),
                Some(serde_json::to_string(post).unwrap_or_else(|_| "{}".into())),
                matched.label.clone(),
            ],
        }
    }
}

/// New matches per rule per batch time, from the rows one write inserted.
pub type RuleCounts = BTreeMap<(String, DateTime<Utc>), u64>;

/// What one write did.
#[derive(Debug, Default)]
pub struct Written {
    /// Rows inserted (redeliveries the store already had are not counted).
    pub inserted: u64,
    /// New matches per rule per batch time.
    pub counts: RuleCounts,
}

fn count_inserted(counts: &mut RuleCounts, matched: &MatchedPost) {
    for rule in &matched.rules {
        *counts
            .entry((rule.clone(), matched.batch_time))
            .or_default() += 1;
    }
}

/// Whichever durable store is configured.
pub enum Store {
    /// An SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PostgresStore),
}

impl Store {
    /// The output's name in metrics: `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Upserts the posts and adds what was new to the rule counts (all or
    /// none).
    pub async fn write(&mut self, posts: &[MatchedPost]) -> anyhow::Result<Written> {
        if posts.is_empty() {
            return Ok(Written::default());
        }
        match self {
            Store::Sqlite(store) => tokio::task::block_in_place(|| store.write(posts)),
            Store::Postgres(store) => store.write(posts).await,
        }
    }

    /// Matches of `rule` per batch time from `since` on, oldest first.
    pub async fn rule_series(
        &mut self,
        rule: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<(DateTime<Utc>, u64)>> {
        match self {
            Store::Sqlite(store) => tokio::task::block_in_place(|| store.rule_series(rule, since)),
            Store::Postgres(store) => store.rule_series(rule, since).await,
        }
    }

    /// Records `fired` unless this rule already fired for the same window
    /// or within `cooldown_s` before it (by any sink sharing the store);
    /// returns whether it was recorded, i.e. whether this sink sends it.
    pub async fn claim_alert(&mut self, fired: &Fired, cooldown_s: u64) -> anyhow::Result<bool> {
        match self {
            Store::Sqlite(store) => {
                tokio::task::block_in_place(|| store.claim_alert(fired, cooldown_s))
            }
            Store::Postgres(store) => store.claim_alert(fired, cooldown_s).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_has_its_types_filled_in() {
        for index in 0..MIGRATIONS.len() {
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                assert!(!migration_sql(index, dialect).contains('{'));
            }
        }
    }
}
