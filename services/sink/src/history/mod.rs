//! The history of what matched, read back from the store for the JSON API
//! (`/api/posts`, `/api/counts`, `/api/alerts`) and the dashboard's history
//! view, and kept to `retention_days`.
//!
//! Reads use their own connections (SQLite in WAL mode lets them run beside
//! the writer), so a slow question never holds up the stream.

pub mod query;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use weibostream_shared::sanitize::for_terminal;
use weibostream_shared::secret::Secret;

use crate::alerts::Example;
use crate::metrics::SinkMetrics;
use crate::store::{Dialect, redact};
use query::{AlertsParams, Bucket, CountsQuery, Cursor, PostsQuery, Sql};

/// Rows one retention step deletes per table.
const RETENTION_STEP: usize = 2000;
/// Pause between retention steps, so the writer gets the lock in between.
const RETENTION_PAUSE: Duration = Duration::from_millis(50);
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(600);

/// Where the history is read from.
#[derive(Debug, Clone)]
pub enum History {
    /// The sink's SQLite file.
    Sqlite(PathBuf),
    /// The sink's PostgreSQL database.
    Postgres(Secret),
}

type Rows = Vec<Vec<Option<String>>>;

/// A stored post, as the API returns it. Text fields went through the
/// terminal sanitizer; they are still untrusted and shown only as text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredPost {
    /// Post id.
    pub id: String,
    /// Source prefix.
    pub source: String,
    /// Author id.
    pub author_id: String,
    /// Author display name.
    pub author: String,
    /// Post text.
    pub text: String,
    /// Rules it matched.
    pub rules: Vec<String>,
    /// Classifier label, if any.
    pub label: Option<String>,
    /// The batch it was matched in.
    pub batch_time: DateTime<Utc>,
    /// When the author posted it.
    pub created_at: DateTime<Utc>,
    /// Link to the post.
    pub url: Option<String>,
}

/// One page of posts, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct PostsPage {
    /// The posts.
    pub posts: Vec<StoredPost>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Matches of one rule in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketCount {
    /// Bucket start.
    pub bucket: DateTime<Utc>,
    /// Rule id.
    pub rule: String,
    /// Matches (posts stored for the rule with a batch time in the bucket).
    pub matches: u64,
}

/// The counts answer.
#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    /// Bucket size.
    pub bucket: Bucket,
    /// Range start.
    pub from: DateTime<Utc>,
    /// Range end.
    pub to: DateTime<Utc>,
    /// Non-zero counts, by bucket then rule.
    pub counts: Vec<BucketCount>,
}

/// A fired alert, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct StoredAlert {
    /// Rule id.
    pub rule: String,
    /// `threshold` or `spike`.
    pub kind: String,
    /// Window start.
    pub window_start: DateTime<Utc>,
    /// Window length in seconds.
    pub window_s: u64,
    /// Matches in the window when it fired.
    pub matches: u64,
    /// Median of the previous windows, for spikes.
    pub baseline: Option<f64>,
    /// When it fired.
    pub fired_at: DateTime<Utc>,
    /// Example posts.
    pub examples: Vec<Example>,
}

fn time(value: &Option<String>) -> anyhow::Result<DateTime<Utc>> {
    crate::store::parse_stored_time(value.as_deref().unwrap_or(""))
}

fn text(value: &Option<String>) -> String {
    for_terminal(value.as_deref().unwrap_or(""))
}

fn number(value: &Option<String>) -> u64 {
    value
        .as_deref()
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0)
        .max(0) as u64
}

impl History {
    fn dialect(&self) -> Dialect {
        match self {
            History::Sqlite(_) => Dialect::Sqlite,
            History::Postgres(_) => Dialect::Postgres,
        }
    }

    async fn rows(&self, sql: Sql) -> anyhow::Result<Rows> {
        match self {
            History::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || sqlite_rows(&path, &sql))
                    .await
                    .context("the history query stopped")?
            }
            History::Postgres(url) => postgres_rows(url, &sql).await,
        }
    }

    async fn execute(&self, sql: Sql) -> anyhow::Result<u64> {
        match self {
            History::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    let connection = crate::store::sqlite_connect(&path)?;
                    Ok(
                        connection.execute(&sql.text, rusqlite::params_from_iter(&sql.params))?
                            as u64,
                    )
                })
                .await
                .context("the history statement stopped")?
            }
            History::Postgres(url) => {
                let client = postgres_client(url).await?;
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = sql
                    .params
                    .iter()
                    .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
                    .collect();
                Ok(client.execute(&sql.text, &params).await?)
            }
        }
    }

    /// One page of posts.
    pub async fn posts(&self, query: &PostsQuery) -> anyhow::Result<PostsPage> {
        let rows = self.rows(query.sql(self.dialect())).await?;
        let mut posts = Vec::with_capacity(rows.len());
        let mut cursor = None;
        for row in rows.iter().take(query.limit) {
            cursor = Some(Cursor {
                batch_time: row[7].clone().unwrap_or_default(),
                id: row[0].clone().unwrap_or_default(),
            });
            let rules: Vec<String> =
                serde_json::from_str(row[5].as_deref().unwrap_or("[]")).unwrap_or_default();
            posts.push(StoredPost {
                id: text(&row[0]),
                source: text(&row[1]),
                author_id: text(&row[2]),
                author: text(&row[3]),
                text: text(&row[4]),
                rules: rules.iter().map(|r| for_terminal(r)).collect(),
                label: row[6].as_deref().map(for_terminal),
                batch_time: time(&row[7])?,
                created_at: time(&row[8])?,
                url: row[9].clone(),
            });
        }
        Ok(PostsPage {
            posts,
            next_cursor: (rows.len() > query.limit)
                .then_some(cursor)
                .flatten()
                .map(|c| c.encode()),
        })
    }

    /// Matches per rule per bucket.
    pub async fn counts(&self, query: &CountsQuery) -> anyhow::Result<Counts> {
        let rows = self.rows(query.sql(self.dialect())).await?;
        let counts = rows
            .iter()
            .map(|row| {
                Ok(BucketCount {
                    bucket: time(&row[0])?,
                    rule: text(&row[1]),
                    matches: number(&row[2]),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Counts {
            bucket: query.bucket,
            from: query.from,
            to: query.to,
            counts,
        })
    }

    /// Alerts that fired, newest window first.
    pub async fn alerts(&self, params: &AlertsParams) -> anyhow::Result<Vec<StoredAlert>> {
        let sql = params.sql(self.dialect())?;
        let rows = self.rows(sql).await?;
        rows.iter()
            .map(|row| {
                let detail: serde_json::Value =
                    serde_json::from_str(row[7].as_deref().unwrap_or("{}")).unwrap_or_default();
                Ok(StoredAlert {
                    rule: text(&row[0]),
                    kind: text(&row[1]),
                    window_start: time(&row[2])?,
                    window_s: number(&row[3]),
                    matches: number(&row[4]),
                    baseline: row[5].as_deref().and_then(|b| b.parse().ok()),
                    fired_at: time(&row[6])?,
                    examples: serde_json::from_value(detail["examples"].clone())
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Deletes posts, counts and alerts older than `cutoff`, a step at a
    /// time; returns the rows deleted. Stops early when `stop` is cancelled.
    pub async fn delete_before(
        &self,
        cutoff: DateTime<Utc>,
        stop: &CancellationToken,
    ) -> anyhow::Result<u64> {
        let mut deleted = 0;
        for step in query::retention_steps(self.dialect(), &cutoff, RETENTION_STEP) {
            loop {
                let n = self.execute(step.clone()).await?;
                deleted += n;
                if n < RETENTION_STEP as u64 || stop.is_cancelled() {
                    break;
                }
                tokio::time::sleep(RETENTION_PAUSE).await;
            }
        }
        Ok(deleted)
    }

    /// Keeps the store to `days` days until `stop`: a pass at start and
    /// every ten minutes. Runs beside the stream, never in its way.
    pub async fn keep(self, days: u32, metrics: SinkMetrics, stop: CancellationToken) {
        loop {
            let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
            match self.delete_before(cutoff, &stop).await {
                Ok(deleted) => {
                    metrics.retention_deleted_rows.inc_by(deleted);
                    if deleted > 0 {
                        tracing::info!(deleted, %cutoff, "deleted history older than retention_days");
                    }
                }
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "cannot delete old history; trying again later"
                    )
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(RETENTION_EVERY) => {}
            }
        }
    }
}

fn sqlite_rows(path: &std::path::Path, sql: &Sql) -> anyhow::Result<Rows> {
    let connection = crate::store::sqlite_connect(path)?;
    let mut statement = connection.prepare(&sql.text)?;
    let columns = statement.column_count();
    let rows = statement.query_map(rusqlite::params_from_iter(&sql.params), |row| {
        (0..columns)
            .map(|i| row.get::<_, Option<String>>(i))
            .collect()
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

async fn postgres_client(url: &Secret) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url.expose(), tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to PostgreSQL {}", redact(url.expose())))?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "history connection closed");
        }
    });
    Ok(client)
}

async fn postgres_rows(url: &Secret, sql: &Sql) -> anyhow::Result<Rows> {
    let client = postgres_client(url).await?;
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = sql
        .params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let rows = client.query(&sql.text, &params).await?;
    Ok(rows
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| row.get::<_, Option<String>>(i))
                .collect()
        })
        .collect())
}
