//! The live dashboard the sink serves beside `/metrics`: the latest matched
//! posts and the last batches, kept in memory, pushed to browsers over
//! Server-Sent Events.
//!
//! The sink loop feeds it ([`Dashboard::block_output`]) without ever
//! waiting: it holds a lock only to append to bounded queues and hands each
//! update to a bounded broadcast channel. A browser that reads slower than
//! the updates come loses its place and is disconnected; its `EventSource`
//! reconnects and starts again from a fresh snapshot.

mod routes;
pub mod view;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

pub use routes::router;
pub use view::{BatchView, PostView};

use crate::merge::Block;

/// Posts kept for the page (and pushed per block at most).
pub const POSTS_KEPT: usize = 100;
/// Batches kept for the charts.
pub const BATCHES_KEPT: usize = 120;
/// Updates a browser may fall behind before it is disconnected.
const CLIENT_BUFFER: usize = 1024;
/// Browsers connected to `/events` at once.
const MAX_CLIENTS: usize = 32;

/// One update pushed to browsers: an SSE event name and its JSON data.
#[derive(Debug, Clone)]
pub struct Update {
    /// `post` or `batch`.
    pub kind: &'static str,
    /// The view, as JSON.
    pub json: Arc<str>,
}

/// What the page starts from: the same views the updates carry.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// When this sink started.
    pub started_at: DateTime<Utc>,
    /// The sink's grace period.
    pub grace_ms: u64,
    /// Latest matched posts, oldest first.
    pub posts: Vec<PostView>,
    /// Latest batches, oldest first.
    pub batches: Vec<BatchView>,
    /// Matched posts output since start.
    pub posts_output: u64,
    /// Batches output since start.
    pub batches_output: u64,
}

#[derive(Debug)]
struct State {
    posts: VecDeque<PostView>,
    batches: VecDeque<BatchView>,
    posts_output: u64,
    batches_output: u64,
}

struct Inner {
    state: Mutex<State>,
    updates: broadcast::Sender<Update>,
    clients: AtomicUsize,
    started_at: DateTime<Utc>,
    grace_ms: u64,
}

/// The dashboard's state and update channel; cheap to clone.
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

impl Dashboard {
    /// An empty dashboard for a sink with this grace period.
    pub fn new(grace_ms: u64) -> Dashboard {
        let (updates, _) = broadcast::channel(CLIENT_BUFFER);
        Dashboard {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    posts: VecDeque::with_capacity(POSTS_KEPT),
                    batches: VecDeque::with_capacity(BATCHES_KEPT),
                    posts_output: 0,
                    batches_output: 0,
                }),
                updates,
                clients: AtomicUsize::new(0),
                started_at: Utc::now(),
                grace_ms,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state is plain data; a panic elsewhere cannot leave it half-made.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a block the sink output and pushes its posts (the newest
    /// [`POSTS_KEPT`]) and its batch summary to connected browsers.
    pub fn block_output(&self, block: &Block) {
        let skip = block.posts.len().saturating_sub(POSTS_KEPT);
        let posts: Vec<PostView> = block.posts[skip..].iter().map(PostView::of).collect();
        let batch = BatchView::of(block);
        let mut updates = Vec::with_capacity(posts.len() + 1);
        for post in &posts {
            updates.push(update("post", post));
        }
        if let Some(batch) = &batch {
            updates.push(update("batch", batch));
        }
        let mut state = self.state();
        state.posts_output += block.posts.len() as u64;
        for post in posts {
            if state.posts.len() == POSTS_KEPT {
                state.posts.pop_front();
            }
            state.posts.push_back(post);
        }
        if let Some(batch) = batch {
            state.batches_output += 1;
            if state.batches.len() == BATCHES_KEPT {
                state.batches.pop_front();
            }
            state.batches.push_back(batch);
        }
        // Sent under the lock so a subscriber's snapshot and its first
        // update never overlap or leave a gap; `send` never waits.
        for update in updates.into_iter().flatten() {
            let _ = self.inner.updates.send(update);
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.state();
        self.snapshot_of(&state)
    }

    fn snapshot_of(&self, state: &State) -> Snapshot {
        Snapshot {
            started_at: self.inner.started_at,
            grace_ms: self.inner.grace_ms,
            posts: state.posts.iter().cloned().collect(),
            batches: state.batches.iter().cloned().collect(),
            posts_output: state.posts_output,
            batches_output: state.batches_output,
        }
    }

    /// A snapshot and the updates that follow it, for one browser; `None`
    /// when [`MAX_CLIENTS`] are connected already.
    fn subscribe(&self) -> Option<(Snapshot, broadcast::Receiver<Update>, ClientSlot)> {
        let slot = ClientSlot::take(&self.inner)?;
        let state = self.state();
        let receiver = self.inner.updates.subscribe();
        Some((self.snapshot_of(&state), receiver, slot))
    }
}

fn update(kind: &'static str, view: &impl Serialize) -> Option<Update> {
    match serde_json::to_string(view) {
        Ok(json) => Some(Update {
            kind,
            json: json.into(),
        }),
        Err(error) => {
            tracing::warn!(%error, kind, "cannot encode a dashboard update");
            None
        }
    }
}

/// A connected browser's place among [`MAX_CLIENTS`]; freed on drop.
struct ClientSlot(Arc<Inner>);

impl ClientSlot {
    fn take(inner: &Arc<Inner>) -> Option<ClientSlot> {
        let taken = inner
            .clients
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CLIENTS).then_some(n + 1)
            });
        taken.ok().map(|_| ClientSlot(inner.clone()))
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests;
