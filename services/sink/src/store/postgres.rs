//! PostgreSQL store, for several sinks (each in its own consumer group)
//! sharing one database, or a database other tools query.

use std::fmt;

use anyhow::{Context, bail};
use tokio_postgres::{Client, NoTls};
use weibostream_shared::MatchedPost;

use chrono::{DateTime, Utc};

use super::{Dialect, Row, SCHEMA_VERSION, Written, count_inserted, migration_sql, time_text};
use crate::alerts::Fired;

/// Matched posts in PostgreSQL. Reconnects on the next write after an error.
pub struct PostgresStore {
    url: String,
    client: Option<Client>,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &redact(&self.url))
            .finish()
    }
}

/// The connection string with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((credentials, host)) = rest.split_once('@')
        && let Some((user, _)) = credentials.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.split_whitespace()
        .map(|part| {
            if part.starts_with("password=") {
                "password=***"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl PostgresStore {
    /// Connects and brings the schema up to date; fails if the database is unreachable.
    pub async fn open(url: &str) -> anyhow::Result<PostgresStore> {
        let mut store = PostgresStore {
            url: url.to_string(),
            client: None,
        };
        store.connect().await?;
        Ok(store)
    }

    async fn connect(&mut self) -> anyhow::Result<&mut Client> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            let (mut client, connection) = tokio_postgres::connect(&self.url, NoTls)
                .await
                .with_context(|| format!("connecting to PostgreSQL {}", redact(&self.url)))?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::warn!(%error, "PostgreSQL connection closed");
                }
            });
            migrate(&mut client)
                .await
                .context("migrating the PostgreSQL schema")?;
            self.client = Some(client);
        }
        self.client.as_mut().context("no PostgreSQL connection")
    }

    /// Upserts the posts and their rule counts in one transaction.
    pub async fn write(&mut self, posts: &[MatchedPost]) -> anyhow::Result<Written> {
        let result = self.try_write(posts).await;
        if result.is_err() {
            self.client = None;
        }
        result
    }

    async fn try_write(&mut self, posts: &[MatchedPost]) -> anyhow::Result<Written> {
        let client = self.connect().await?;
        let transaction = client
            .transaction()
            .await
            .context("starting a transaction")?;
        let statement = transaction
            .prepare(
                "INSERT INTO matched_posts (id, source, text, lang, author_id, author_name, created_at, url,
                    rules, batch_time, replica, raw_partition, raw_offset, post, label, stored_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7::text::timestamptz, $8, $9::text::jsonb,
                    $10::text::timestamptz, $11, $12::text::integer, $13::text::bigint, $14::text::jsonb,
                    $15, now())
                 ON CONFLICT (id) DO NOTHING",
            )
            .await
            .context("preparing the insert")?;
        let mut written = Written::default();
        for post in posts {
            let row = Row::from(post);
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = row
                .values
                .iter()
                .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
                .collect();
            let inserted = transaction
                .execute(&statement, &params)
                .await
                .context("inserting a matched post")?;
            if inserted > 0 {
                written.inserted += inserted;
                count_inserted(&mut written.counts, post);
            }
        }
        let count = transaction
            .prepare(
                "INSERT INTO rule_counts (rule, batch_time, matches)
                 VALUES ($1, $2::text::timestamptz, $3::text::bigint)
                 ON CONFLICT (rule, batch_time) DO UPDATE SET matches = rule_counts.matches + excluded.matches",
            )
            .await
            .context("preparing the count upsert")?;
        for ((rule, batch_time), n) in &written.counts {
            transaction
                .execute(&count, &[rule, &time_text(batch_time), &n.to_string()])
                .await
                .context("counting matches per rule")?;
        }
        transaction.commit().await.context("committing")?;
        Ok(written)
    }

    /// Matches of `rule` per batch time from `since` on, oldest first.
    pub async fn rule_series(
        &mut self,
        rule: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<(DateTime<Utc>, u64)>> {
        let client = self.connect().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {}, matches FROM rule_counts
                     WHERE rule = $1 AND batch_time >= $2::text::timestamptz ORDER BY batch_time",
                    postgres_time_text("batch_time")
                ),
                &[&rule, &time_text(&since)],
            )
            .await
            .context("reading rule counts")?;
        rows.iter()
            .map(|row| {
                let time: String = row.get(0);
                let matches: i64 = row.get(1);
                Ok((super::sqlite::parse_time(&time)?, matches.max(0) as u64))
            })
            .collect()
    }

    /// See [`super::Store::claim_alert`]. An advisory lock per rule makes
    /// the check and the insert one step for every sink sharing the database.
    pub async fn claim_alert(&mut self, fired: &Fired, cooldown_s: u64) -> anyhow::Result<bool> {
        let client = self.connect().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock(72600002, hashtext($1))",
                &[&fired.rule],
            )
            .await?;
        let quiet_since = fired.window_start - chrono::Duration::seconds(cooldown_s as i64);
        let recent = transaction
            .query_opt(
                "SELECT 1 FROM alerts WHERE rule = $1 AND window_start > $2::text::timestamptz LIMIT 1",
                &[&fired.rule, &time_text(&quiet_since)],
            )
            .await?;
        if recent.is_some() {
            return Ok(false);
        }
        let inserted = transaction
            .execute(
                "INSERT INTO alerts (rule, window_start, window_s, kind, matches, baseline, fired_at, detail)
                 VALUES ($1, $2::text::timestamptz, $3::text::bigint, $4, $5::text::bigint, $6,
                    $7::text::timestamptz, $8::text::jsonb)
                 ON CONFLICT (rule, window_start) DO NOTHING",
                &[
                    &fired.rule,
                    &time_text(&fired.window_start),
                    &fired.window_s.to_string(),
                    &fired.kind.as_str(),
                    &fired.matches.to_string(),
                    &fired.baseline,
                    &time_text(&fired.fired_at),
                    &fired.detail_json(),
                ],
            )
            .await?;
        transaction.commit().await?;
        Ok(inserted > 0)
    }

    /// Rows stored.
    pub async fn count(&mut self) -> anyhow::Result<u64> {
        let client = self.connect().await?;
        let row = client
            .query_one("SELECT COUNT(*) FROM matched_posts", &[])
            .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}

async fn migrate(client: &mut Client) -> anyhow::Result<()> {
    let transaction = client.transaction().await?;
    // One sink migrates at a time when several start together.
    transaction
        .execute("SELECT pg_advisory_xact_lock(72600001)", &[])
        .await?;
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS weibostream_schema (version INTEGER NOT NULL)")
        .await?;
    let version: Option<i32> = transaction
        .query_one("SELECT MAX(version) FROM weibostream_schema", &[])
        .await?
        .get(0);
    let version = i64::from(version.unwrap_or(0));
    if version > SCHEMA_VERSION {
        bail!(
            "database schema version {version} is newer than this sink's ({SCHEMA_VERSION}); upgrade the sink"
        );
    }
    for index in version as usize..SCHEMA_VERSION as usize {
        transaction
            .batch_execute(&migration_sql(index, Dialect::Postgres))
            .await?;
    }
    transaction
        .execute("DELETE FROM weibostream_schema", &[])
        .await?;
    transaction
        .execute(
            "INSERT INTO weibostream_schema (version) VALUES ($1)",
            &[&(SCHEMA_VERSION as i32)],
        )
        .await?;
    transaction.commit().await?;
    Ok(())
}

/// A `timestamptz` column as the text the SQLite store keeps (RFC 3339, UTC, ms).
pub fn postgres_time_text(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact("host=h user=u password=secret"),
            "host=h user=u password=***"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
