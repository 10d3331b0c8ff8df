//! The history API's questions, checked, and their SQL for either database.
//! Pure: parameters in, statement text and its (text) parameters out.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::store::{Dialect, time_text};

/// Most posts one page may hold.
pub const MAX_LIMIT: usize = 500;
/// Most buckets one counts answer may hold.
pub const MAX_BUCKETS: i64 = 20_000;
/// Most words a search may have.
const MAX_TERMS: usize = 8;
/// Search words shorter than this (in characters) cannot use the trigram
/// index and are matched by scanning the posts the other filters leave.
pub const TRIGRAM: usize = 3;

/// A statement and its parameters, all text (cast in the SQL where needed).
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    dialect: Dialect,
    /// The statement.
    pub text: String,
    /// Its parameters, in order.
    pub params: Vec<String>,
}

impl Sql {
    fn new(dialect: Dialect) -> Sql {
        Sql {
            dialect,
            text: String::new(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter; returns its placeholder.
    fn param(&mut self, value: impl Into<String>) -> String {
        self.params.push(value.into());
        match self.dialect {
            Dialect::Sqlite => format!("?{}", self.params.len()),
            Dialect::Postgres => format!("${}", self.params.len()),
        }
    }

    /// Adds a time parameter; returns its placeholder, cast where needed.
    fn time(&mut self, time: &DateTime<Utc>) -> String {
        let placeholder = self.param(time_text(time));
        match self.dialect {
            Dialect::Sqlite => placeholder,
            Dialect::Postgres => format!("{placeholder}::text::timestamptz"),
        }
    }

    /// A column as text: times as the SQLite store keeps them.
    fn text_of(&self, column: &str, is_time: bool) -> String {
        match (self.dialect, is_time) {
            (Dialect::Sqlite, _) => format!("CAST({column} AS TEXT)"),
            (Dialect::Postgres, true) => crate::store::postgres_time_text(column),
            (Dialect::Postgres, false) => format!("({column})::text"),
        }
    }

    fn select(&mut self, columns: &[(&str, bool)], from: &str) {
        let list: Vec<String> = columns
            .iter()
            .map(|&(column, is_time)| self.text_of(column, is_time))
            .collect();
        self.text = format!("SELECT {} FROM {from} WHERE TRUE", list.join(", "));
    }
}

/// Why a question cannot be answered; the message names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadQuery(pub String);

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, BadQuery> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    BadQuery(format!(
                        "{name}: not an RFC 3339 time, e.g. 2026-12-01T00:00:00Z"
                    ))
                })
        })
        .transpose()
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `/api/posts` parameters, as given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostsParams {
    /// Words the text must contain (all of them; any length, any script).
    pub q: Option<String>,
    /// A rule the post matched.
    pub rule: Option<String>,
    /// The author's id or display name.
    pub author: Option<String>,
    /// The classifier label.
    pub label: Option<String>,
    /// Batch time from (inclusive), RFC 3339.
    pub from: Option<String>,
    /// Batch time until (exclusive), RFC 3339.
    pub to: Option<String>,
    /// Posts per page (default 50, at most 500).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page position: the last post shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Its batch time, as stored.
    pub batch_time: String,
    /// Its id.
    pub id: String,
}

impl Cursor {
    /// The cursor as the API hands it out.
    pub fn encode(&self) -> String {
        format!("{}|{}", self.batch_time, self.id)
    }

    fn decode(text: &str) -> Result<Cursor, BadQuery> {
        let (batch_time, id) = text
            .split_once('|')
            .ok_or_else(|| BadQuery("cursor: not a cursor this API handed out".into()))?;
        DateTime::parse_from_rfc3339(batch_time)
            .map_err(|_| BadQuery("cursor: not a cursor this API handed out".into()))?;
        Ok(Cursor {
            batch_time: batch_time.to_string(),
            id: id.to_string(),
        })
    }
}

/// A checked `/api/posts` question.
#[derive(Debug, Clone, PartialEq)]
pub struct PostsQuery {
    /// Search words.
    pub terms: Vec<String>,
    /// Rule filter.
    pub rule: Option<String>,
    /// Author filter.
    pub author: Option<String>,
    /// Label filter.
    pub label: Option<String>,
    /// Batch time from.
    pub from: Option<DateTime<Utc>>,
    /// Batch time until.
    pub to: Option<DateTime<Utc>>,
    /// Page size.
    pub limit: usize,
    /// Page position.
    pub cursor: Option<Cursor>,
}

impl PostsParams {
    /// Checks the parameters.
    pub fn check(&self) -> Result<PostsQuery, BadQuery> {
        let terms: Vec<String> = self
            .q
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if terms.len() > MAX_TERMS {
            return Err(BadQuery(format!("q: at most {MAX_TERMS} words")));
        }
        if terms.iter().any(|t| t.chars().count() > 100) {
            return Err(BadQuery("q: words of at most 100 characters".into()));
        }
        let limit = self.limit.unwrap_or(50);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(BadQuery(format!("limit: between 1 and {MAX_LIMIT}")));
        }
        Ok(PostsQuery {
            terms,
            rule: non_empty(&self.rule).map(str::to_string),
            author: non_empty(&self.author).map(str::to_string),
            label: non_empty(&self.label).map(str::to_string),
            from: parse_time("from", self.from.as_deref())?,
            to: parse_time("to", self.to.as_deref())?,
            limit,
            cursor: non_empty(&self.cursor).map(Cursor::decode).transpose()?,
        })
    }
}

/// `text LIKE` pattern for a word: `%`, `_` and `\` taken literally.
fn like_pattern(term: &str) -> String {
    let mut pattern = String::from("%");
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The columns `/api/posts` reads, in the order `History::posts` takes them.
const POST_COLUMNS: &[(&str, bool)] = &[
    ("id", false),
    ("source", false),
    ("author_id", false),
    ("author_name", false),
    ("text", false),
    ("rules", false),
    ("label", false),
    ("batch_time", true),
    ("created_at", true),
    ("url", false),
];

impl PostsQuery {
    /// The statement: newest first (batch time, then id), one row more
    /// than the page to tell whether another page follows.
    pub fn sql(&self, dialect: Dialect) -> Sql {
        let mut sql = Sql::new(dialect);
        sql.select(POST_COLUMNS, "matched_posts");
        let mut long = Vec::new();
        for term in &self.terms {
            if dialect == Dialect::Sqlite && term.chars().count() >= TRIGRAM {
                long.push(format!("\"{}\"", term.replace('"', "\"\"")));
            } else {
                let p = sql.param(like_pattern(term));
                let op = if dialect == Dialect::Sqlite {
                    "LIKE"
                } else {
                    "ILIKE"
                };
                sql.text += &format!(" AND text {op} {p} ESCAPE '\\'");
            }
        }
        if !long.is_empty() {
            let p = sql.param(long.join(" "));
            sql.text += &format!(
                " AND rowid IN (SELECT rowid FROM matched_posts_fts WHERE matched_posts_fts MATCH {p})"
            );
        }
        if let Some(rule) = &self.rule {
            let p = sql.param(rule.clone());
            sql.text += &match dialect {
                Dialect::Sqlite => {
                    format!(
                        " AND EXISTS (SELECT 1 FROM json_each(matched_posts.rules) WHERE value = {p})"
                    )
                }
                Dialect::Postgres => format!(" AND rules @> jsonb_build_array({p}::text)"),
            };
        }
        if let Some(author) = &self.author {
            let a = sql.param(author.clone());
            let b = sql.param(author.clone());
            sql.text += &format!(" AND (author_id = {a} OR author_name = {b})");
        }
        if let Some(label) = &self.label {
            let p = sql.param(label.clone());
            sql.text += &format!(" AND label = {p}");
        }
        if let Some(from) = &self.from {
            let p = sql.time(from);
            sql.text += &format!(" AND batch_time >= {p}");
        }
        if let Some(to) = &self.to {
            let p = sql.time(to);
            sql.text += &format!(" AND batch_time < {p}");
        }
        if let Some(cursor) = &self.cursor {
            let cast = if dialect == Dialect::Postgres {
                "::text::timestamptz"
            } else {
                ""
            };
            let t1 = sql.param(cursor.batch_time.clone());
            let t2 = sql.param(cursor.batch_time.clone());
            let id = sql.param(cursor.id.clone());
            sql.text += &format!(
                " AND (batch_time < {t1}{cast} OR (batch_time = {t2}{cast} AND id < {id}))"
            );
        }
        sql.text += &format!(
            " ORDER BY batch_time DESC, id DESC LIMIT {}",
            self.limit + 1
        );
        sql
    }
}

/// Bucket sizes of `/api/counts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day (UTC).
    Day,
    /// One week, from Monday 00:00 UTC.
    Week,
}

impl Bucket {
    fn length(self) -> Duration {
        match self {
            Bucket::Minute => Duration::minutes(1),
            Bucket::Hour => Duration::hours(1),
            Bucket::Day => Duration::days(1),
            Bucket::Week => Duration::weeks(1),
        }
    }

    /// The default range: the last 100 buckets or so, sized to be useful.
    fn default_span(self) -> Duration {
        match self {
            Bucket::Minute => Duration::hours(2),
            Bucket::Hour => Duration::days(2),
            Bucket::Day => Duration::days(60),
            Bucket::Week => Duration::weeks(26),
        }
    }

    /// The bucket start of the `batch_time` column, as text like the stored times.
    fn start_of_batch_time(self, dialect: Dialect) -> String {
        match dialect {
            Dialect::Sqlite => match self {
                Bucket::Minute => "substr(batch_time, 1, 16) || ':00.000Z'".into(),
                Bucket::Hour => "substr(batch_time, 1, 13) || ':00:00.000Z'".into(),
                Bucket::Day => "substr(batch_time, 1, 10) || 'T00:00:00.000Z'".into(),
                Bucket::Week => {
                    "strftime('%Y-%m-%dT00:00:00.000Z', batch_time, 'weekday 0', '-6 days')".into()
                }
            },
            Dialect::Postgres => {
                let unit = match self {
                    Bucket::Minute => "minute",
                    Bucket::Hour => "hour",
                    Bucket::Day => "day",
                    Bucket::Week => "week",
                };
                crate::store::postgres_time_text(&format!(
                    "date_trunc('{unit}', batch_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
                ))
            }
        }
    }
}

/// `/api/counts` parameters, as given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountsParams {
    /// `minute`, `hour` (default), `day` or `week`.
    pub bucket: Option<Bucket>,
    /// One rule only.
    pub rule: Option<String>,
    /// Batch time from (inclusive); default: a span that suits the bucket.
    pub from: Option<String>,
    /// Batch time until (exclusive); default: now.
    pub to: Option<String>,
}

/// A checked `/api/counts` question.
#[derive(Debug, Clone, PartialEq)]
pub struct CountsQuery {
    /// Bucket size.
    pub bucket: Bucket,
    /// Rule filter.
    pub rule: Option<String>,
    /// Batch time from.
    pub from: DateTime<Utc>,
    /// Batch time until.
    pub to: DateTime<Utc>,
}

impl CountsParams {
    /// Checks the parameters; `now` fills in the default range.
    pub fn check(&self, now: DateTime<Utc>) -> Result<CountsQuery, BadQuery> {
        let bucket = self.bucket.unwrap_or(Bucket::Hour);
        let to = parse_time("to", self.to.as_deref())?.unwrap_or(now);
        let from = parse_time("from", self.from.as_deref())?.unwrap_or(to - bucket.default_span());
        if from >= to {
            return Err(BadQuery("from: must be before to".into()));
        }
        let buckets = (to - from).num_seconds() / bucket.length().num_seconds().max(1);
        if buckets > MAX_BUCKETS {
            return Err(BadQuery(format!(
                "bucket: the range holds {buckets} buckets, at most {MAX_BUCKETS}; choose a larger bucket"
            )));
        }
        Ok(CountsQuery {
            bucket,
            rule: non_empty(&self.rule).map(str::to_string),
            from,
            to,
        })
    }
}

impl CountsQuery {
    /// The statement: (bucket start, rule, matches), by bucket then rule.
    pub fn sql(&self, dialect: Dialect) -> Sql {
        let mut sql = Sql::new(dialect);
        let start = self.bucket.start_of_batch_time(dialect);
        let from = sql.time(&self.from);
        let to = sql.time(&self.to);
        sql.text = format!(
            "SELECT {start} AS bucket, rule, CAST(SUM(matches) AS TEXT) FROM rule_counts
             WHERE batch_time >= {from} AND batch_time < {to}"
        );
        if let Some(rule) = &self.rule {
            let p = sql.param(rule.clone());
            sql.text += &format!(" AND rule = {p}");
        }
        sql.text += " GROUP BY 1, 2 ORDER BY 1, 2";
        if dialect == Dialect::Postgres {
            sql.text = sql
                .text
                .replace("CAST(SUM(matches) AS TEXT)", "(SUM(matches))::text");
        }
        sql
    }
}

/// `/api/alerts` parameters, as given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsParams {
    /// One rule only.
    pub rule: Option<String>,
    /// Window start from (inclusive).
    pub from: Option<String>,
    /// Window start until (exclusive).
    pub to: Option<String>,
    /// Alerts to return, newest first (default 100, at most 500).
    pub limit: Option<usize>,
}

impl AlertsParams {
    /// The statement, newest window first.
    pub fn sql(&self, dialect: Dialect) -> Result<Sql, BadQuery> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(BadQuery(format!("limit: between 1 and {MAX_LIMIT}")));
        }
        let mut sql = Sql::new(dialect);
        sql.select(
            &[
                ("rule", false),
                ("kind", false),
                ("window_start", true),
                ("window_s", false),
                ("matches", false),
                ("baseline", false),
                ("fired_at", true),
                ("detail", false),
            ],
            "alerts",
        );
        if let Some(rule) = non_empty(&self.rule) {
            let p = sql.param(rule);
            sql.text += &format!(" AND rule = {p}");
        }
        if let Some(from) = parse_time("from", self.from.as_deref())? {
            let p = sql.time(&from);
            sql.text += &format!(" AND window_start >= {p}");
        }
        if let Some(to) = parse_time("to", self.to.as_deref())? {
            let p = sql.time(&to);
            sql.text += &format!(" AND window_start < {p}");
        }
        sql.text += &format!(" ORDER BY window_start DESC, rule LIMIT {limit}");
        Ok(sql)
    }
}

/// Statements deleting one step of rows older than `cutoff` from each
/// table (a few thousand rows, so the writer never waits long).
pub fn retention_steps(dialect: Dialect, cutoff: &DateTime<Utc>, step: usize) -> Vec<Sql> {
    let key = match dialect {
        Dialect::Sqlite => "rowid",
        Dialect::Postgres => "ctid",
    };
    [
        ("matched_posts", "batch_time"),
        ("rule_counts", "batch_time"),
        ("alerts", "window_start"),
    ]
    .into_iter()
    .map(|(table, column)| {
        let mut sql = Sql::new(dialect);
        let p = sql.time(cutoff);
        sql.text = format!(
            "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {column} < {p} LIMIT {step})"
        );
        sql
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posts(q: &str) -> PostsQuery {
        PostsParams {
            q: Some(q.into()),
            ..PostsParams::default()
        }
        .check()
        .unwrap()
    }

    #[test]
    fn long_words_use_the_trigram_index_and_short_ones_like() {
        let sql = posts("跌停 建设银行 a%").sql(Dialect::Sqlite);
        assert_eq!(
            sql.params,
            ["%跌停%", "%a\\%%", "\"建设银行\""],
            "{}",
            sql.text
        );
        assert!(
            sql.text.contains("matched_posts_fts MATCH ?3"),
            "{}",
            sql.text
        );
        let sql = posts("跌停 建设银行").sql(Dialect::Postgres);
        assert_eq!(sql.params, ["%跌停%", "%建设银行%"]);
        assert!(sql.text.contains("text ILIKE $2"), "{}", sql.text);
    }

    #[test]
    fn quotes_in_words_cannot_leave_the_phrase() {
        let sql = posts("ab\"c OR x").sql(Dialect::Sqlite);
        assert_eq!(sql.params[0], "%OR%");
        assert_eq!(sql.params[1], "%x%");
        assert_eq!(sql.params[2], "\"ab\"\"c\"");
    }

    #[test]
    fn bad_parameters_are_named() {
        let bad = PostsParams {
            from: Some("yesterday".into()),
            ..PostsParams::default()
        };
        assert!(bad.check().unwrap_err().0.starts_with("from:"));
        let bad = PostsParams {
            limit: Some(0),
            ..PostsParams::default()
        };
        assert!(bad.check().unwrap_err().0.starts_with("limit:"));
        let bad = PostsParams {
            cursor: Some("nonsense".into()),
            ..PostsParams::default()
        };
        assert!(bad.check().unwrap_err().0.starts_with("cursor:"));
        let too_many = CountsParams {
            bucket: Some(Bucket::Minute),
            from: Some("2020-01-01T00:00:00Z".into()),
            ..CountsParams::default()
        };
        assert!(
            too_many
                .check(Utc::now())
                .unwrap_err()
                .0
                .starts_with("bucket:")
        );
    }
}
