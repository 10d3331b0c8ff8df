//! Durable stores for matched posts. Both upsert by post id, so replays and
//! redeliveries never create a second row; both create or migrate their
//! schema at start.

mod postgres;
mod sqlite;

use weibostream_shared::MatchedPost;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// The schema, as ordered migrations: a store at version N applies the
/// statements from index N on, in one transaction, and records the new version.
/// `{json}` and `{time}` are the column types of the database at hand.
const MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS matched_posts (
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
    CREATE INDEX IF NOT EXISTS matched_posts_created_at ON matched_posts (created_at)"];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn migration_sql(index: usize, json: &str, time: &str) -> String {
    MIGRATIONS[index]
        .replace("{json}", json)
        .replace("{time}", time)
}

/// One row's values, in column order, as text (databases cast where needed).
struct Row {
    values: [Option<String>; 14],
}

impl Row {
    fn from(matched: &MatchedPost) -> Row {
        let post = &matched.post;
        let time = |t: &chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        Row {
            values: [
                Some(post.id.clone()),
                Some(post.source.prefix().to_string()),
                Some(post.text.clone()),
                post.lang.clone(),
                Some(post.author.id.clone()),
                Some(post.author.name.clone()),
                Some(time(&post.created_at)),
                post.url.clone(),
                Some(serde_json::to_string(&matched.rules).unwrap_or_else(|_| "[]".into())),
                Some(time(&matched.batch_time)),
                Some(matched.replica.clone()),
                Some(matched.partition.to_string()),
                Some(matched.offset.to_string()),
                Some(serde_json::to_string(post).unwrap_or_else(|_| "{}".into())),
            ],
        }
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

    /// Upserts the posts (all or none); returns how many rows were new.
    pub async fn write(&mut self, posts: &[MatchedPost]) -> anyhow::Result<u64> {
        if posts.is_empty() {
            return Ok(0);
        }
        match self {
            Store::Sqlite(store) => tokio::task::block_in_place(|| store.write(posts)),
            Store::Postgres(store) => store.write(posts).await,
        }
    }
}
