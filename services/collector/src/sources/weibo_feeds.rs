//! `weibo_search` and `weibo_user`: feeds of the mobile web API (a search
//! query, a user's posts), each polled newest first, page after page, back
//! to where its previous poll stopped.
//!
//! Each feed keeps the newest post id it published and the gaps it still
//! owes: when a walk ends before it reaches the previous cursor (a failed
//! page, a refusal, `max_pages_per_poll` reached), what was fetched is
//! published and the ids between the oldest post fetched and the cursor
//! become a gap, which later walks fill. A gap is given up, with a WARN and
//! a metric, only when a walk reaches the end of the results above it (the
//! API no longer serves those posts) or when a feed has more than
//! `max_gaps_per_query` gaps; both say how many posts at most were lost
//! ([`Gap::lost_at_most`]).

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;
use weibostream_shared::Post;

use super::poll::{self, PollError, Polled, Poller};
use super::weibo_mobile::{MobileClient, MobileError, mblog_id};
use super::{SeenIds, SourceContext, SourceError};
use crate::config::{WeiboSearchSettings, WeiboUserSettings};
use crate::metrics::ErrorKind;
use crate::weibo::{Normalized, normalize_mblog};

/// A run of post ids a feed has not read yet: strictly between `above` and `below`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The newest id published below the gap.
    pub above: u64,
    /// The oldest id fetched above the gap.
    pub below: u64,
    /// Paged feeds (search, users): no post of the gap sits on an earlier
    /// page (new posts only push older ones to later pages), so a walk can
    /// resume here instead of paging down from the top. 0 for the open API.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub page: u32,
}

fn is_zero(page: &u32) -> bool {
    *page == 0
}

impl Gap {
    /// A gap without a page hint.
    pub fn new(above: u64, below: u64) -> Gap {
        Gap {
            above,
            below,
            page: 0,
        }
    }

    /// The most posts the gap can hold: one per id strictly between its
    /// ends, since post ids are distinct integers. It is exact where ids are
    /// dense and loose where they are sparse (Weibo's ids grow by far more
    /// than one per post). The APIs' own counts cannot narrow it: by the
    /// time a gap is given up its posts are out of what the API serves, and
    /// `total_number` (open API) and `cardlistInfo.total` (mobile API) count
    /// what it serves — the whole timeline or result set, capped — not the
    /// ids of one gap.
    pub fn lost_at_most(&self) -> u64 {
        self.below.saturating_sub(self.above).saturating_sub(1)
    }
}

/// What a feed saves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedCursor {
    /// The newest post id published.
    pub newest: u64,
    /// Id ranges below `newest` still to read, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<Gap>,
}

/// What a mobile source saves after each acknowledged walk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedsCursor {
    /// Per feed (a query, a user id).
    #[serde(default)]
    pub feeds: BTreeMap<String, FeedCursor>,
    /// Post ids published most recently, oldest first: a post found by two
    /// feeds is published once, also across restarts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen_ids: Vec<u64>,
}

/// How a walk ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Walk {
    /// Newest and oldest id among the posts fetched.
    pub newest: Option<u64>,
    /// The oldest id fetched.
    pub oldest: Option<u64>,
    /// A page reached the previous cursor (or the lowest gap): nothing is owed.
    pub reached: bool,
    /// A page came back empty: the API has nothing older.
    pub end: bool,
    /// The walk read down to the previous `newest` before going on into the gaps.
    pub top_reached: bool,
    /// The first page the walk did not read (paged feeds).
    pub resume_page: u32,
}

impl FeedCursor {
    /// Whether a post with `id` is owed: newer than `newest` or in a gap.
    pub fn wants(&self, id: u64) -> bool {
        id > self.newest || self.gaps.iter().any(|g| g.above < id && id < g.below)
    }

    /// The lowest id the walk must reach.
    pub fn floor(&self) -> u64 {
        self.gaps
            .iter()
            .map(|g| g.above)
            .fold(self.newest, u64::min)
    }

    /// Moves the cursor past a walk from the newest post back to `newest`
    /// only (the gaps are walked on their own, see [`FeedCursor::fill`]):
    /// a walk that ended early leaves a gap. Returns the gaps given up
    /// because more than `max_gaps` remain.
    pub fn settle_top(&mut self, walk: Walk, max_gaps: usize) -> Vec<Gap> {
        if !walk.reached
            && let Some(oldest) = walk.oldest
            && oldest > self.newest.saturating_add(1)
        {
            self.gaps.push(Gap::new(self.newest, oldest));
        }
        self.newest = self.newest.max(walk.newest.unwrap_or(0));
        self.gaps.sort_by_key(|gap| std::cmp::Reverse(gap.above));
        if self.gaps.len() > max_gaps {
            return self.gaps.drain(max_gaps..).collect();
        }
        Vec::new()
    }

    /// Narrows `gap` after a walk through it alone (`since_id` = its
    /// `above`, `max_id` below its `below`): gone when the walk reached its
    /// bottom, else it keeps the part below the oldest id fetched.
    pub fn fill(&mut self, (gap, walk): (Gap, Walk)) {
        let Some(slot) = self.gaps.iter_mut().position(|g| *g == gap) else {
            return;
        };
        match walk.oldest {
            _ if walk.reached => {
                self.gaps.remove(slot);
            }
            Some(oldest) if oldest > gap.above.saturating_add(1) => {
                self.gaps[slot].below = self.gaps[slot].below.min(oldest);
            }
            Some(_) => {
                self.gaps.remove(slot);
            }
            None => {}
        }
    }

    /// Moves the cursor past a walk; returns the gaps given up (the API's
    /// results ended above them, or more than `max_gaps` remain).
    pub fn settle(&mut self, walk: Walk, max_gaps: usize) -> Vec<Gap> {
        let mut owed = std::mem::take(&mut self.gaps);
        if walk.top_reached {
            // Every owed post above the walk's last page was read.
            for gap in &mut owed {
                gap.page = gap.page.max(walk.resume_page);
            }
        }
        owed.insert(
            0,
            Gap {
                above: self.newest,
                below: u64::MAX,
                page: walk.resume_page,
            },
        );
        let mut abandoned = Vec::new();
        match walk.oldest {
            _ if walk.reached => owed.clear(),
            Some(oldest) => {
                for gap in &mut owed {
                    gap.below = gap.below.min(oldest);
                }
                owed.retain(|gap| gap.below > gap.above.saturating_add(1));
            }
            // Nothing fetched: everything owed stays owed (the open top range included).
            None => {}
        }
        if walk.end {
            abandoned.extend(owed.drain(..).filter(|gap| gap.below != u64::MAX));
        }
        self.newest = self.newest.max(walk.newest.unwrap_or(0));
        owed.retain(|gap| gap.below != u64::MAX);
        owed.sort_by_key(|gap| std::cmp::Reverse(gap.above));
        if owed.len() > max_gaps {
            abandoned.extend(owed.drain(max_gaps..));
        }
        self.gaps = owed;
        abandoned
    }
}

/// What a mobile source reads.
enum Feeds {
    /// Search queries, fixed or derived from the filter's rules file.
    Search {
        settings: WeiboSearchSettings,
        rules: Option<RulesWatch>,
    },
    /// Users' posts.
    User { settings: WeiboUserSettings },
}

/// The filter's rules file, re-read when its modification time changes.
struct RulesWatch {
    path: PathBuf,
    modified: Option<SystemTime>,
    next_check: Instant,
    interval: Duration,
    /// Queries derived from the file last read successfully.
    queries: Vec<String>,
}

/// A running `weibo_search` or `weibo_user` source.
pub struct MobileSource {
    client: Arc<MobileClient>,
    feeds: Feeds,
    dedup_capacity: usize,
}

impl MobileSource {
    /// A search source; with `queries_from_rules`, reads the rules file now
    /// (an unreadable or invalid file is an error naming the key).
    pub fn search(
        client: Arc<MobileClient>,
        settings: WeiboSearchSettings,
    ) -> Result<Self, String> {
        let rules = if settings.queries_from_rules {
            let queries = super::weibo_rules::queries_from_file(&settings.rules_path)
                .map_err(|error| format!("weibo_search.rules_path: {error}"))?;
            Some(RulesWatch {
                modified: modified(&settings.rules_path),
                path: settings.rules_path.clone(),
                next_check: Instant::now() + Duration::from_millis(settings.rules_poll_ms),
                interval: Duration::from_millis(settings.rules_poll_ms),
                queries,
            })
        } else {
            None
        };
        Ok(MobileSource {
            client,
            dedup_capacity: settings.dedup_capacity,
            feeds: Feeds::Search { settings, rules },
        })
    }

    /// A user timelines source.
    pub fn user(client: Arc<MobileClient>, settings: WeiboUserSettings) -> Self {
        MobileSource {
            client,
            // Users' posts overlap only through reposts, which are posts of their own.
            dedup_capacity: 2000,
            feeds: Feeds::User { settings },
        }
    }

    /// Polls every feed in turn until shutdown.
    pub async fn run(self, context: SourceContext) -> Result<(), SourceError> {
        let saved: FeedsCursor = context.load_cursor()?.unwrap_or_default();
        let mut seen = SeenIds::new(self.dedup_capacity);
        for id in &saved.seen_ids {
            seen.insert(*id);
        }
        tracing::info!(source = %context.name, feeds = ?self.feed_keys(), "polling the Weibo mobile API");
        let rounds = Rounds {
            source: self,
            cursors: saved.feeds,
            seen,
            round: VecDeque::new(),
            started: false,
        };
        poll::run(rounds, &context).await
    }

    /// Counts a gap given up and says how many posts at most it held.
    fn give_up(&self, context: &SourceContext, key: &str, gap: Gap) {
        let lost_at_most = gap.lost_at_most();
        context.metrics.add_gap_abandoned(lost_at_most);
        let why = "gave up a gap: Weibo no longer serves posts between these ids (or more than max_gaps_per_query gaps wait); at most lost_at_most posts (one per id between them) were not collected";
        match &self.feeds {
            Feeds::Search { .. } => {
                tracing::warn!(source = %context.name, query = %key, above = gap.above, below = gap.below, lost_at_most, "{why}");
            }
            Feeds::User { .. } => {
                tracing::warn!(source = %context.name, uid = %key, above = gap.above, below = gap.below, lost_at_most, "{why}");
            }
        }
    }

    fn max_gaps(&self) -> usize {
        match &self.feeds {
            Feeds::Search { settings, .. } => settings.max_gaps_per_query,
            Feeds::User { settings } => settings.max_gaps_per_query,
        }
    }

    fn max_pages(&self) -> u32 {
        match &self.feeds {
            Feeds::Search { settings, .. } => settings.max_pages_per_poll,
            Feeds::User { settings } => settings.max_pages_per_poll,
        }
    }

    /// The feeds to poll: queries (configured, then derived) or user ids.
    fn feed_keys(&self) -> Vec<String> {
        match &self.feeds {
            Feeds::Search { settings, rules } => {
                let mut keys = settings.queries.clone();
                for query in rules.iter().flat_map(|rules| &rules.queries) {
                    if !keys.contains(query) {
                        keys.push(query.clone());
                    }
                }
                keys
            }
            Feeds::User { settings } => settings.uids.clone(),
        }
    }

    /// Re-reads the rules file if it changed; a bad file keeps the old queries.
    fn reload_rules(&mut self, name: &str) {
        let Feeds::Search {
            rules: Some(rules), ..
        } = &mut self.feeds
        else {
            return;
        };
        if Instant::now() < rules.next_check {
            return;
        }
        rules.next_check = Instant::now() + rules.interval;
        let now_modified = modified(&rules.path);
        if now_modified == rules.modified {
            return;
        }
        rules.modified = now_modified;
        match super::weibo_rules::queries_from_file(&rules.path) {
            Ok(queries) => {
                tracing::info!(source = %name, ?queries, "rules file changed; searching its queries");
                rules.queries = queries;
            }
            Err(error) => {
                tracing::warn!(source = %name, %error, "rules file changed but cannot be used; keeping the previous queries");
            }
        }
    }

    /// One walk of a feed from its newest page back to its cursor. Returns
    /// the new posts (oldest first), how the walk ended and the error that
    /// ended it, if any; `None` on shutdown.
    async fn walk(
        &self,
        context: &SourceContext,
        key: &str,
        cursor: Option<&FeedCursor>,
        seen: &mut SeenIds<u64>,
    ) -> Option<(Vec<Post>, Walk, Option<MobileError>)> {
        let (containerid, extra): (String, &[(&str, &str)]) = match &self.feeds {
            Feeds::Search { .. } => (
                format!("100103type=61&q={key}"),
                &[("page_type", "searchall")],
            ),
            Feeds::User { .. } => (format!("107603{key}"), &[]),
        };
        // The first walk of a feed reads its newest page only.
        let budget = if cursor.is_some() {
            self.max_pages()
        } else {
            1
        };
        let mut walk = Walk::default();
        let mut fresh: Vec<(u64, Value)> = Vec::new();
        let mut error = None;
        let mut page = 1;
        for _ in 0..budget {
            let result = self
                .client
                .index_page(&containerid, extra, page, &context.shutdown)
                .await;
            let mblogs = match result {
                Ok(page) => page.mblogs,
                Err(MobileError::Stopped) => return None,
                Err(other) => {
                    error = Some(other);
                    break;
                }
            };
            page += 1;
            context.metrics.add_fetched(mblogs.len() as u64);
            if mblogs.is_empty() {
                walk.end = true;
                break;
            }
            for mblog in mblogs {
                let Some(id) = mblog_id(&mblog) else {
                    context.metrics.add_error(ErrorKind::InvalidRecord);
                    tracing::warn!(source = %context.name, feed = %key, "skipping an mblog without an id");
                    continue;
                };
                // A pinned post is old news at the top of page 1: it says nothing about
                // how far back the walk got.
                if !is_pinned(&mblog) {
                    walk.newest = walk.newest.max(Some(id));
                    walk.oldest = Some(walk.oldest.map_or(id, |oldest| oldest.min(id)));
                }
                if cursor.is_some_and(|c| !c.wants(id)) {
                    continue;
                }
                if !seen.insert(id) {
                    context.metrics.add_duplicates(1);
                    continue;
                }
                fresh.push((id, mblog));
            }
            let (Some(cursor), Some(oldest)) = (cursor, walk.oldest) else {
                continue;
            };
            if oldest <= cursor.floor() {
                walk.reached = true;
                break;
            }
            if !walk.top_reached && oldest <= cursor.newest {
                walk.top_reached = true;
                // The newest posts are read: the gaps' posts start no earlier
                // than the newest gap's page.
                if let Some(gap) = cursor.gaps.first() {
                    page = page.max(gap.page);
                }
            }
        }
        walk.resume_page = page;
        fresh.sort_by_key(|(id, _)| *id);
        let mut posts = Vec::with_capacity(fresh.len());
        for (id, mut mblog) in fresh {
            if self.client.fetch_long_text() && is_long(&mblog) {
                match self
                    .client
                    .long_text(&id.to_string(), &context.shutdown)
                    .await
                {
                    Ok(text) => mblog["text"] = Value::String(text),
                    Err(MobileError::Stopped) => return None,
                    Err(MobileError::Transient(failure)) => {
                        context.metrics.add_error(failure.kind);
                        tracing::warn!(source = %context.name, post_id = id, "{}; publishing the post's shortened text", failure.message);
                    }
                    Err(MobileError::Refused(why)) => {
                        tracing::warn!(source = %context.name, post_id = id, "long text refused ({why}); publishing the post's shortened text");
                    }
                }
            }
            match normalize_mblog(&mblog, chrono::Utc::now()) {
                Ok(Normalized::Post(post)) => posts.push(post),
                Ok(Normalized::Deleted { .. }) => context.metrics.add_skipped(1),
                Err(error) => {
                    context.metrics.add_error(ErrorKind::InvalidRecord);
                    tracing::warn!(source = %context.name, post_id = id, %error, "skipping a bad mblog");
                }
            }
        }
        Some((posts, walk, error))
    }
}

/// The feeds polled in turn, round after round, and where each stands;
/// one poll walks one feed.
struct Rounds {
    source: MobileSource,
    /// Where each feed stands, by query or user id.
    cursors: BTreeMap<String, FeedCursor>,
    seen: SeenIds<u64>,
    /// The feeds of this round not walked yet.
    round: VecDeque<String>,
    /// Whether a round began (the rules file is re-read between rounds).
    started: bool,
}

impl Rounds {
    /// The next feed to walk, starting a round when one ends; `None` on
    /// shutdown.
    async fn next_feed(&mut self, context: &SourceContext) -> Option<String> {
        loop {
            if let Some(key) = self.round.pop_front() {
                return (!context.shutdown.is_cancelled()).then_some(key);
            }
            if self.started {
                self.source.reload_rules(&context.name);
            }
            self.started = true;
            let keys = self.source.feed_keys();
            if keys.is_empty() {
                tracing::warn!(source = %context.name, "no queries to search; waiting for the rules file to give some");
                if !weibostream_shared::retry::sleep(Duration::from_secs(5), &context.shutdown)
                    .await
                {
                    return None;
                }
            }
            // Feeds no longer configured are forgotten (their cursors with them).
            self.cursors.retain(|key, _| keys.contains(key));
            self.round = keys.into();
        }
    }
}

impl Poller for Rounds {
    type Cursor = FeedsCursor;

    async fn poll(&mut self, context: &SourceContext) -> Polled<FeedsCursor> {
        let Some(key) = self.next_feed(context).await else {
            return Polled::stopped();
        };
        let source = &self.source;
        let mut cursor = self.cursors.get(&key).cloned();
        let outcome = source
            .walk(context, &key, cursor.as_ref(), &mut self.seen)
            .await;
        let Some((posts, walk, error)) = outcome else {
            return Polled::stopped();
        };
        let before = cursor.clone();
        // A walk that got pages through shows the API works.
        let progressed = walk.oldest.is_some() || walk.end;
        match &mut cursor {
            Some(cursor) => {
                for gap in cursor.settle(walk, source.max_gaps()) {
                    source.give_up(context, &key, gap);
                }
            }
            None => {
                cursor = walk.newest.map(|newest| FeedCursor {
                    newest,
                    gaps: Vec::new(),
                });
            }
        }
        if let Some(cursor) = &cursor {
            self.cursors.insert(key.clone(), cursor.clone());
        }
        Polled {
            changed: !posts.is_empty() || before != cursor,
            posts,
            cursor: Some(FeedsCursor {
                feeds: self.cursors.clone(),
                seen_ids: self.seen.iter().copied().collect(),
            }),
            progressed,
            error: match error {
                Some(MobileError::Stopped) => Some(PollError::Stopped),
                Some(MobileError::Transient(failure)) => Some(PollError::Transient(failure)),
                // A refusal already paused the client: the next request
                // waits it out.
                Some(MobileError::Refused(_)) | None => None,
            },
        }
    }
}

fn is_long(mblog: &Value) -> bool {
    match mblog.get("isLongText") {
        Some(Value::Bool(long)) => *long,
        Some(Value::Number(number)) => number.as_u64().is_some_and(|n| n != 0),
        Some(Value::String(text)) => matches!(text.trim(), "1" | "true"),
        _ => false,
    }
}

fn is_pinned(mblog: &Value) -> bool {
    let top = match mblog.get("isTop") {
        Some(Value::Bool(top)) => *top,
        Some(Value::Number(number)) => number.as_u64().is_some_and(|n| n != 0),
        _ => false,
    };
    top || mblog.get("mblogtype").and_then(Value::as_u64) == Some(2)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(newest: u64, oldest: u64, reached: bool, end: bool) -> Walk {
        Walk {
            newest: Some(newest),
            oldest: Some(oldest),
            reached,
            end,
            ..Walk::default()
        }
    }

    #[test]
    fn a_walk_that_stops_early_leaves_a_gap_that_later_walks_fill() {
        let mut cursor = FeedCursor {
            newest: 100,
            gaps: Vec::new(),
        };
        assert!(cursor.settle(walk(200, 150, false, false), 10).is_empty());
        assert_eq!(cursor.newest, 200);
        assert_eq!(cursor.gaps, [Gap::new(100, 150)]);
        assert!(cursor.wants(120) && cursor.wants(201));
        assert!(!cursor.wants(150) && !cursor.wants(100) && !cursor.wants(170));
        assert_eq!(cursor.floor(), 100);
        // The next walk gets further, but not all the way: the gap shrinks.
        cursor.settle(walk(230, 130, false, false), 10);
        assert_eq!(cursor.gaps, [Gap::new(100, 130)]);
        // Then it reaches the floor: nothing is owed.
        cursor.settle(walk(240, 90, true, false), 10);
        assert_eq!((cursor.newest, cursor.gaps.len()), (240, 0));
    }

    #[test]
    fn a_gap_holds_at_most_one_post_per_id_between_its_ends() {
        assert_eq!(Gap::new(10, 36).lost_at_most(), 25);
        assert_eq!(Gap::new(10, 11).lost_at_most(), 0, "neighbours");
        assert_eq!(Gap::new(10, 10).lost_at_most(), 0);
        assert_eq!(Gap::new(0, u64::MAX).lost_at_most(), u64::MAX - 1);
    }

    #[test]
    fn gaps_remember_the_page_a_walk_resumes_at() {
        let mut cursor = FeedCursor {
            newest: 100,
            gaps: Vec::new(),
        };
        // Stopped after pages 1 and 2: the gap's posts are on page 3 or later.
        let stopped = Walk {
            resume_page: 3,
            ..walk(200, 150, false, false)
        };
        cursor.settle(stopped, 10);
        assert_eq!(cursor.gaps[0].page, 3);
        // A walk that read the newest posts and went on to page 5 moves the hint.
        let deeper = Walk {
            top_reached: true,
            resume_page: 5,
            ..walk(210, 120, false, false)
        };
        cursor.settle(deeper, 10);
        assert_eq!(
            cursor.gaps,
            [Gap {
                above: 100,
                below: 120,
                page: 5
            }]
        );
        // One that did not reach the newest posts leaves the older hint alone.
        let short = Walk {
            resume_page: 2,
            ..walk(300, 250, false, false)
        };
        cursor.settle(short, 10);
        assert_eq!(
            cursor.gaps,
            [
                Gap {
                    above: 210,
                    below: 250,
                    page: 2
                },
                Gap {
                    above: 100,
                    below: 120,
                    page: 5
                }
            ]
        );
    }

    #[test]
    fn failed_walks_keep_what_is_owed_and_the_end_of_results_gives_gaps_up() {
        let mut cursor = FeedCursor {
            newest: 100,
            gaps: vec![Gap::new(50, 80)],
        };
        // Nothing fetched (the first page failed): unchanged.
        cursor.settle(Walk::default(), 10);
        assert_eq!(cursor.gaps.len(), 1);
        assert_eq!(cursor.newest, 100);
        // Contiguous ids leave no gap: 100 and 101 are neighbours.
        cursor.settle(walk(300, 101, false, false), 10);
        assert_eq!(cursor.gaps, [Gap::new(50, 80)]);
        // The results end at 60: the rest of the gap is gone.
        let lost = cursor.settle(walk(300, 60, false, true), 10);
        assert_eq!(lost, [Gap::new(50, 60)]);
        assert_eq!(lost[0].lost_at_most(), 9, "ids 51 to 59");
        assert!(cursor.gaps.is_empty());
        // Too many gaps: the oldest are given up.
        let mut cursor = FeedCursor {
            newest: 10,
            gaps: vec![Gap::new(5, 8)],
        };
        let lost = cursor.settle(walk(30, 20, false, false), 1);
        assert_eq!(lost, [Gap::new(5, 8)]);
        assert_eq!(cursor.gaps, [Gap::new(10, 20)]);
    }
}
