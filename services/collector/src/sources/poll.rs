//! What every polling source (the Weibo open API, the Weibo mobile feeds,
//! Mastodon's REST timeline) does after each poll: hand what came and the
//! cursor after it to the publisher, then wait out a failure's backoff, or
//! stop. Each source's loop is `poll`, then [`after_poll`]; its poll does
//! its own paging, pacing and bookkeeping.
//!
//! (One `run_polls(context, async || ...)` taking the poll as an async
//! closure would be the whole loop, but the closure's future is not `Send`
//! for every lifetime, so the source task could not be spawned.)

use std::ops::ControlFlow;

use weibostream_shared::Post;
use weibostream_shared::retry::Backoff;

use super::{Failure, FetchError, SourceContext, SourceError};
use crate::metrics::ErrorKind;

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

/// Sends what `polled` brought (if anything changed) and handles how the
/// poll ended: [`ControlFlow::Continue`] to poll again, `Break` with the
/// source's result to stop (shutdown, a fatal error, the publisher gone).
pub async fn after_poll<C: serde::Serialize>(
    context: &SourceContext,
    backoff: &mut Backoff,
    polled: Polled<C>,
) -> ControlFlow<Result<(), SourceError>> {
    if polled.changed
        && context
            .send(polled.posts, polled.cursor.as_ref())
            .await
            .is_err()
    {
        return ControlFlow::Break(Ok(()));
    }
    if polled.progressed {
        backoff.reset();
    }
    match polled.error {
        None => ControlFlow::Continue(()),
        Some(PollError::Stopped) => ControlFlow::Break(Ok(())),
        Some(PollError::Fatal(message)) => {
            context.metrics.add_error(ErrorKind::Auth);
            ControlFlow::Break(Err(SourceError::Fatal(message)))
        }
        Some(PollError::Transient(failure)) => {
            if context.retry_after(backoff, &failure).await {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(Ok(()))
            }
        }
    }
}
