//! The one loop of the polling sources (the Weibo open API, the Weibo mobile
//! feeds, Mastodon's REST timeline): [`run`] asks a [`Poller`] for a poll,
//! hands what came and the cursor after it to the publisher, then polls
//! again, waits out a failure's backoff, or stops. Each poller does its own
//! paging, pacing and bookkeeping inside [`Poller::poll`].

use std::future::Future;

use weibostream_shared::Post;

use super::{Failure, FetchError, SourceContext, SourceError};
use crate::metrics::ErrorKind;

/// A source that is polled: one call of [`Poller::poll`] is one poll.
pub trait Poller {
    /// What the source saves once a poll's posts are acknowledged.
    type Cursor: serde::Serialize + Send + Sync;

    /// One poll: what it brought and how it ended. Pacing waits happen
    /// inside; on shutdown it returns [`Polled::stopped`].
    // Spelled as `impl Future + Send` rather than `async fn` so that
    // `run`'s future is `Send` and the source task can be spawned.
    fn poll(
        &mut self,
        context: &SourceContext,
    ) -> impl Future<Output = Polled<Self::Cursor>> + Send;
}

/// Polls until shutdown, a fatal error or the publisher going away;
/// returns an error only for a fatal one.
pub async fn run<P: Poller + Send>(
    mut poller: P,
    context: &SourceContext,
) -> Result<(), SourceError> {
    let mut backoff = context.backoff();
    loop {
        let polled = poller.poll(context).await;
        if polled.changed
            && context
                .send(polled.posts, polled.cursor.as_ref())
                .await
                .is_err()
        {
            return Ok(());
        }
        if polled.progressed {
            backoff.reset();
        }
        match polled.error {
            Some(PollError::Stopped) => return Ok(()),
            Some(PollError::Fatal(message)) => {
                context.metrics.add_error(ErrorKind::Auth);
                return Err(SourceError::Fatal(message));
            }
            Some(PollError::Transient(failure))
                if !context.retry_after(&mut backoff, &failure).await =>
            {
                return Ok(());
            }
            Some(PollError::Transient(_)) | None => {}
        }
    }
}

/// What one poll brought.
#[derive(Debug)]
pub struct Polled<C> {
    /// New posts, oldest first.
    pub posts: Vec<Post>,
    /// The cursor after them, saved once they are acknowledged.
    pub cursor: Option<C>,
    /// Whether anything is to be sent: new posts or a cursor that moved.
    pub changed: bool,
    /// Whether requests got through: an error after them is retried after
    /// the first, shortest wait.
    pub progressed: bool,
    /// Why the poll ended early, if it did (what it fetched before still
    /// counts).
    pub error: Option<PollError>,
}

impl<C> Polled<C> {
    /// A poll that brought nothing and ended with `error`.
    pub fn failed(error: impl Into<PollError>) -> Self {
        Polled {
            posts: Vec::new(),
            cursor: None,
            changed: false,
            progressed: false,
            error: Some(error.into()),
        }
    }

    /// Shutdown came during the poll: nothing is sent, the loop ends.
    pub fn stopped() -> Self {
        Self::failed(PollError::Stopped)
    }
}

/// Why a poll ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollError {
    /// Retry after the backoff.
    Transient(Failure),
    /// Retrying cannot help (rejected credentials): the collector stops.
    Fatal(String),
    /// Shutdown came during the poll.
    Stopped,
}

impl From<FetchError> for PollError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Transient(failure) => PollError::Transient(failure),
            FetchError::Fatal(message) => PollError::Fatal(message),
        }
    }
}
