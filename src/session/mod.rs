//! The session: configuration, start-up, queries, the identity map and commit.
//!
//! # Thread safety
//!
//! A [`Session`] is `Send + Sync` and cheap to clone (an `Arc` inside); clones share
//! one identity map, one pending batch and one HTTP connection pool. All state sits
//! behind one internal `Mutex` that is **never held across network I/O**: a call
//! builds its request under the lock, releases it, talks to the server, decodes
//! the answer (see [`crate::decode`]), then takes the lock again only to merge it.
//! Auto-populate (an attribute read that sends a
//! query) therefore cannot deadlock, even when another thread is using the session.
//! Operations recorded by several threads land in one ordered batch.
//!
//! # Layout
//!
//! This file holds the [`Session`] type, its shared state and the small public
//! calls; the rest of its API is split by what it does:
//!
//! | file | what |
//! |---|---|
//! | `startup.rs` | [`Session::new`] / [`Session::with_options`]: server information, version check, schema cache round trip |
//! | `queries.rs` | `query`, `query_first`, `query_one`, `query_by_ids`, `get`, `merge_query_response`; paging and id chunks |
//! | `populate.rs` | `populate`, and auto-populate when an attribute read finds no value |
//! | `attributes.rs` | typed attribute reads and writes behind [`Entity`]: values, `set`, collections, JSON conversion |
//! | `commit.rs` | pending operations: `create`, `delete`, `record_action`, `commit`, `rollback`, the pending batch |
//! | `replies.rs` | turning server replies into typed errors without leaking the API key |
//!
//! Query expressions themselves (default projections, paging clauses, key
//! conditions) are prepared by the crate's `query` module.

mod attributes;
mod commit;
mod cursor;
mod derived;
mod ensure;
mod populate;
mod queries;
mod replies;
mod schema_view;
mod startup;

pub use cursor::QueryCursor;
pub use derived::{DerivedCollection, DerivedEdits};
pub use schema_view::{AttributeSchema, EntitySchema};

use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::SessionOptions;
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::identity_map::IdentityMap;
use crate::operations::{Op, Recorded};
use crate::schema::Schema;
use crate::transport::{Idempotence, Transport};
use replies::json_answers;

/// A connection to an ftrack server with its own identity map and pending batch.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct State {
    pub schema: Schema,
    pub map: IdentityMap,
    /// Pending operations, in recording order (sequence numbers grow).
    pub ops: Vec<Recorded>,
    /// The operations the commit in flight took at its start (empty when none is).
    /// They precede `ops`: a failed commit puts them back in front.
    pub in_flight: Vec<Recorded>,
    /// The sequence number of the last recorded operation.
    pub last_seq: u64,
    /// Counts the events that removed operations (see `PendingMark`).
    pub removals: u64,
    /// Slots with local (uncommitted) values.
    pub dirty: Vec<u32>,
    /// Local edits of derived collections (see `derived.rs`), per owner slot,
    /// shown by reads until the next commit, rollback or reset.
    pub derived_edits: crate::schema::FastMap<u32, derived::Overlay>,
}

impl State {
    /// Appends `op` to the pending batch with the next sequence number.
    pub(crate) fn record(&mut self, op: Op) -> u64 {
        self.last_seq += 1;
        self.ops.push(Recorded {
            seq: self.last_seq,
            op,
        });
        self.last_seq
    }
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) options: SessionOptions,
    pub(crate) server_info: serde_json::Value,
    pub(crate) state: Mutex<State>,
    pub(crate) persistent: Option<crate::persistent_cache::PersistentCache>,
    /// See [`Session::write_generation`].
    pub(crate) writes: std::sync::atomic::AtomicU64,
    /// Held by a commit from taking its operations until their outcome is applied,
    /// so commits run one after another and in recording order. Never taken while
    /// `state` is held.
    pub(crate) commit_lock: Mutex<()>,
    /// State that layers above the session keep per session (see [`Session::extension`]).
    pub(crate) extensions: Mutex<Vec<Arc<dyn std::any::Any + Send + Sync>>>,
    /// Whether reads of attributes that are not loaded fetch them; starts as
    /// [`SessionOptions::auto_populate`], changed by [`Session::set_auto_populate`].
    pub(crate) auto_populate: std::sync::atomic::AtomicBool,
    /// Whether changes are recorded as pending operations; starts as
    /// [`SessionOptions::record_operations`], changed by
    /// [`Session::set_record_operations`].
    pub(crate) record_operations: std::sync::atomic::AtomicBool,
    /// Derived collections registered by layers above the session.
    pub(crate) derived: std::sync::RwLock<Vec<Arc<DerivedCollection>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("transport", &self.inner.transport)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(p) = &self.persistent {
            let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
            p.close(&st.schema, &mut st.map);
        }
    }
}

impl Session {
    /// Sends any batch (a JSON array of operations) and returns the JSON answer.
    /// Server errors are still typed.
    pub fn call(&self, batch: &serde_json::Value) -> Result<serde_json::Value> {
        let ops = batch.as_array().ok_or_else(|| {
            Error::InvalidArgument(
                "call needs a JSON array of operations, e.g. [{\"action\": \"query_schemas\"}]"
                    .into(),
            )
        })?;
        let read_only = ops.iter().all(|op| {
            matches!(
                op.get("action").and_then(|a| a.as_str()),
                Some("query" | "query_schemas" | "query_server_information" | "search")
            )
        });
        let body = serde_json::to_vec(batch).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let idem = if read_only {
            Idempotence::ReadOnly
        } else {
            self.inner.note_write();
            Idempotence::Writes
        };
        let reply = self.inner.transport.post(&body, idem)?;
        let answers = json_answers(&reply, self.inner.key())?;
        Ok(serde_json::Value::Array(answers))
    }

    /// HTTP requests sent by this session so far (attempts, including retries).
    pub fn request_count(&self) -> u64 {
        self.inner.transport.request_count()
    }

    /// A number that changes whenever this session may have changed data on the
    /// server: when a commit sends a batch (whether or not the server accepts
    /// it: a timed-out batch may have been applied), again when that commit is
    /// done (its outcome is in the cache), and with each [`Session::call`] that
    /// is not read-only. Rollback leaves it unchanged. Caches of server state
    /// that the identity map does not hold (the roles module's role state,
    /// which role actions change without an entity merge) compare it to know
    /// when to read again: state read while the number did not move reflects
    /// every write the session had finished; if a commit was on its way
    /// meanwhile, the number moves again when it is done.
    pub fn write_generation(&self) -> u64 {
        self.inner.writes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The per-session state of type `T` that a layer above the session keeps
    /// (created with `T::default()` on first use, dropped with the session). The
    /// roles API keeps its validation state here, so every `Roles` of a session
    /// shares it and sessions never share it.
    pub fn extension<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut all = self
            .inner
            .extensions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(found) = all.iter().find_map(|e| e.clone().downcast::<T>().ok()) {
            return found;
        }
        let made = Arc::new(T::default());
        all.push(made.clone());
        made
    }

    /// Sends this session's log lines of `level` and more severe to `log`, or
    /// stops logging with `None` (see [`crate::hooks`]). When it returns, the
    /// previous logger is not running on any other thread and is never called
    /// again.
    pub fn set_logger(&self, logger: Option<(crate::hooks::LogLevel, crate::hooks::LogFn)>) {
        self.inner
            .transport
            .hooks()
            .set_logger(logger.map(|(level, log)| crate::hooks::Logger { level, log }));
    }

    /// Reports progress of long operations to `progress` (or stops with `None`);
    /// the callback returns `false` to cancel the operation (see [`crate::hooks`]).
    /// When it returns, the previous callback is not running on any other
    /// thread and is never called again.
    pub fn set_progress(&self, progress: Option<crate::hooks::ProgressFn>) {
        self.inner.transport.hooks().set_progress(progress);
    }

    /// Cancels every call of this session in flight now, from any thread: each
    /// returns [`Error::Cancelled`] within about
    /// [`crate::hooks::CANCEL_CHECK_INTERVAL`] (see [`crate::hooks`] for the
    /// connect phase). Calls started afterwards are not affected.
    pub fn cancel(&self) {
        self.inner.transport.hooks().cancel();
    }

    /// Turns auto-populate on or off for this session from now on (it starts as
    /// [`SessionOptions::auto_populate`]). Off: reading an attribute that is not
    /// loaded gives [`crate::Value::Null`] instead of sending a query.
    pub fn set_auto_populate(&self, on: bool) {
        self.inner
            .auto_populate
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether auto-populate is on now (see [`Session::set_auto_populate`]).
    pub fn auto_populate(&self) -> bool {
        self.inner.auto_populating()
    }

    /// Turns operation recording on or off from now on (it starts as
    /// [`SessionOptions::record_operations`]). Off: `create`, `delete`, `set` and
    /// collection edits change the cache only, and `commit` sends nothing for them.
    /// Role actions recorded by the roles layer are always recorded.
    pub fn set_record_operations(&self, on: bool) {
        self.inner
            .record_operations
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether operation recording is on now (see [`Session::set_record_operations`]).
    pub fn record_operations(&self) -> bool {
        self.inner.recording()
    }

    /// The options this session was created with (`Debug` hides the API key).
    pub fn options(&self) -> &SessionOptions {
        &self.inner.options
    }

    /// The server's `query_server_information` answer from start-up.
    pub fn server_information(&self) -> serde_json::Value {
        self.inner.server_info.clone()
    }

    /// Entities currently in the identity map.
    pub fn cached_len(&self) -> usize {
        self.inner.lock().map.live_len()
    }

    /// Writes the persistent cache (when configured): appends the entities changed
    /// since the last write, and compacts the file when it has grown to more than
    /// twice the live entities. Changes are also appended on every commit, and this
    /// runs when the last handle to the session is dropped.
    pub fn close(&self) -> Result<()> {
        if let Some(p) = &self.inner.persistent {
            let mut st = self.inner.lock();
            let st = &mut *st;
            p.close(&st.schema, &mut st.map);
        }
        Ok(())
    }
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves [`Session::write_generation`].
    pub(crate) fn note_write(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether auto-populate is on now.
    pub(crate) fn auto_populating(&self) -> bool {
        self.auto_populate.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether operation recording is on now.
    pub(crate) fn recording(&self) -> bool {
        self.record_operations
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn key(&self) -> &str {
        self.transport.api_key()
    }

    pub(crate) fn entity_from(self: &Arc<Self>, slot: u32) -> Entity {
        Entity {
            session: self.clone(),
            slot,
        }
    }

    fn check_same(&self, e: &Entity) -> Result<()> {
        if std::ptr::eq(Arc::as_ptr(&e.session), self) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "the entity belongs to another session; use entities of this session".into(),
            ))
        }
    }
}

/// Escapes `value` for use in a query expression and wraps it in double quotes:
/// `quote(r#"a "b" \c"#)` is `"a \"b\" \\c"` with the quotes.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
