//! The finite sources, `synthetic` and `file`: generated posts or a file
//! replayed at an optional rate. They hand their posts to the publisher as
//! [`Batch`](super::Batch)es like the live sources do, without a cursor,
//! and end when used up (`synthetic.count`, the end of the file), which ends
//! the run once the broker has acknowledged every post.

use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::time::Duration;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;
use weibostream_shared::Post;

use super::{PublisherGone, SourceContext, SourceError};
use crate::config::{FileSettings, Progress, SyntheticSettings};
use crate::file_input::{FileRecord, FileRecords};
use crate::metrics::ErrorKind;
use crate::synthetic::SyntheticPosts;

/// Seeded synthetic posts (`[synthetic]`).
pub struct SyntheticSource {
    settings: SyntheticSettings,
}

impl SyntheticSource {
    /// A source of the posts `settings` describe.
    pub fn new(settings: SyntheticSettings) -> Self {
        SyntheticSource { settings }
    }

    /// Publishes `count` posts (forever when 0) at `rate_per_s`, or until
    /// shutdown.
    pub async fn run(self, context: SourceContext) -> Result<(), SourceError> {
        let settings = &self.settings;
        let mut posts = SyntheticPosts::new(settings.seed);
        let mut out = Outbox::new(&context, settings.rate_per_s);
        let bar = progress_bar(
            Progress::Auto,
            (settings.count > 0).then_some(settings.count),
            "posts",
        );
        let mut made = 0;
        while !context.shutdown.is_cancelled() && (settings.count == 0 || made < settings.count) {
            let post = posts.next_post(Utc::now());
            context.metrics.add_fetched(1);
            made += 1;
            bar.inc(1);
            if out.push(post).await.is_err() {
                return Ok(());
            }
        }
        bar.finish_and_clear();
        let _ = out.flush().await;
        Ok(())
    }
}

/// A file of Weibo statuses, response bodies or normalized posts (`[file]`).
pub struct FileSource {
    settings: FileSettings,
}

impl FileSource {
    /// A source reading the file `settings` names.
    pub fn new(settings: FileSettings) -> Self {
        FileSource { settings }
    }

    /// Publishes every post of the file at `rate_per_s`, skipping deleted
    /// statuses and bad records (counted and logged), until its end or
    /// shutdown.
    pub async fn run(self, context: SourceContext) -> Result<(), SourceError> {
        let settings = &self.settings;
        let path = settings.path.display();
        let file = File::open(&settings.path).map_err(|error| {
            SourceError::Fatal(format!("file.path: cannot open {path}: {error}"))
        })?;
        let size = file.metadata().map(|m| m.len()).ok();
        let bar = progress_bar(settings.progress, size, "bytes");
        let mut records = FileRecords::new(BufReader::new(bar.wrap_read(file)), Utc::now);
        let mut out = Outbox::new(&context, settings.rate_per_s);
        while !context.shutdown.is_cancelled() {
            // Reading is blocking file I/O, but a buffered local file read is
            // short; the pace and the batch hand-over keep the runtime
            // responsive.
            let Some(record) = records.next() else { break };
            match record {
                Ok(FileRecord::Post(post)) => {
                    context.metrics.add_fetched(1);
                    if out.push(post).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(FileRecord::Deleted { id }) => {
                    context.metrics.add_skipped(1);
                    tracing::debug!(%id, "skipping a deleted status");
                }
                Err(error) => {
                    tracing::warn!(file = %path, %error, "skipping a bad input record");
                    context.metrics.add_error(ErrorKind::InvalidRecord);
                }
            }
        }
        bar.finish_and_clear();
        let _ = out.flush().await;
        Ok(())
    }
}

/// Posts on their way to the publisher, paced to a rate: a batch goes out
/// when it holds `batch_max_posts`, or whenever the pace makes the source
/// wait, so a paced post is not held back longer than the old per-post
/// publish held it.
struct Outbox<'c> {
    context: &'c SourceContext,
    posts: Vec<Post>,
    pace: Pace,
}

impl<'c> Outbox<'c> {
    fn new(context: &'c SourceContext, rate_per_s: u64) -> Self {
        Outbox {
            context,
            posts: Vec::with_capacity(context.batch_max_posts),
            pace: Pace::new(rate_per_s),
        }
    }

    /// Adds a post; waits for its turn at the configured rate (sending
    /// what is pending first) or for room at the publisher.
    async fn push(&mut self, post: Post) -> Result<(), PublisherGone> {
        self.posts.push(post);
        if self.posts.len() >= self.context.batch_max_posts {
            self.flush().await?;
        }
        match self.pace.tick() {
            Tick::Wait(due) => {
                self.flush().await?;
                tokio::select! {
                    () = tokio::time::sleep_until(due) => {}
                    () = self.context.shutdown.cancelled() => {}
                }
            }
            Tick::Yield => tokio::task::yield_now().await,
            Tick::Go => {}
        }
        Ok(())
    }

    /// Sends what is pending, if anything.
    async fn flush(&mut self) -> Result<(), PublisherGone> {
        if self.posts.is_empty() {
            return Ok(());
        }
        let posts = std::mem::replace(
            &mut self.posts,
            Vec::with_capacity(self.context.batch_max_posts),
        );
        self.context.send(posts, None::<&()>).await
    }
}

/// What the pace asks of the loop after a post.
enum Tick {
    /// Go on at once.
    Go,
    /// Go on after letting other tasks run (an unpaced loop would
    /// otherwise hold its thread).
    Yield,
    /// Wait until then.
    Wait(Instant),
}

/// Paces a loop to a target rate; 0 is unpaced.
struct Pace {
    rate_per_s: u64,
    start: Instant,
    count: u64,
}

impl Pace {
    fn new(rate_per_s: u64) -> Self {
        Pace {
            rate_per_s,
            start: Instant::now(),
            count: 0,
        }
    }

    fn tick(&mut self) -> Tick {
        self.count += 1;
        if self.rate_per_s > 0 {
            let due =
                self.start + Duration::from_secs_f64(self.count as f64 / self.rate_per_s as f64);
            // Sleeping costs ~1 ms at best; only sleep once ahead by more than that.
            if due > Instant::now() + Duration::from_millis(2) {
                return Tick::Wait(due);
            }
        }
        if self.count.is_multiple_of(1024) {
            Tick::Yield
        } else {
            Tick::Go
        }
    }
}

fn progress_bar(mode: Progress, total: Option<u64>, unit: &str) -> ProgressBar {
    let show = match mode {
        Progress::Always => true,
        Progress::Never => false,
        Progress::Auto => std::io::stderr().is_terminal(),
    };
    if !show {
        return ProgressBar::hidden();
    }
    let bar = total.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
    let template = if unit == "bytes" {
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})"
    } else {
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} posts ({per_sec}, eta {eta})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
