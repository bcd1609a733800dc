//! The session: configuration, start-up, queries, the identity map and commit.
//!
//! # Thread safety
//!
//! A [`Session`] is `Send + Sync` and cheap to clone (an `Arc` inside); clones share
//! one identity map, one pending batch and one HTTP connection pool. All state sits
//! behind one internal `Mutex` that is **never held across network I/O**: a call
//! builds its request under the lock, releases it, talks to the server, then takes
//! the lock again to merge the answer. Auto-populate (an attribute read that sends a
//! query) therefore cannot deadlock, even when another thread is using the session.
//! Operations recorded by several threads land in one ordered batch.

use std::sync::{Arc, Mutex};

use crate::config::SessionOptions;
use crate::entity::Entity;
use crate::error::Result;
use crate::value::Value;

/// A connection to an ftrack server with its own identity map and pending batch.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) state: Mutex<()>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    /// Creates a session. `None` arguments are read from the environment
    /// (`FTRACK_SERVER`, `FTRACK_API_KEY` or legacy `FTRACK_APIKEY`,
    /// `FTRACK_API_USER` or the login name). Sends one request (see
    /// [`Session::with_options`]).
    pub fn new(
        server_url: Option<&str>,
        api_key: Option<&str>,
        api_user: Option<&str>,
    ) -> Result<Session> {
        let mut o = SessionOptions::new();
        if let Some(v) = server_url {
            o = o.server_url(v);
        }
        if let Some(v) = api_key {
            o = o.api_key(v);
        }
        if let Some(v) = api_user {
            o = o.api_user(v);
        }
        Session::with_options(o)
    }

    /// Creates a session from options in one round trip: with a matching schema
    /// cache only `query_server_information` is sent, else it and `query_schemas`
    /// in one batch. Fails with `IncompatibleServer` for servers older than 3.3.11.
    pub fn with_options(options: SessionOptions) -> Result<Session> {
        let _ = options;
        todo!()
    }

    /// Every entity matching `expression` (all pages). Default projections are
    /// injected when the expression has no `select`.
    pub fn query(&self, expression: &str) -> Result<Vec<Entity>> {
        let _ = expression;
        todo!()
    }

    /// The first match (`limit 1`), or `None`.
    pub fn query_first(&self, expression: &str) -> Result<Option<Entity>> {
        let _ = expression;
        todo!()
    }

    /// Exactly one match (`limit 2`): `Error::NotFound` when none,
    /// `Error::MultipleResults` when several.
    pub fn query_one(&self, expression: &str) -> Result<Entity> {
        let _ = expression;
        todo!()
    }

    /// The entities of `entity_type` with these ids, with `projections` loaded,
    /// querying in chunks so that expressions stay short. Order follows the server.
    pub fn query_by_ids(
        &self,
        entity_type: &str,
        projections: &[&str],
        ids: &[&str],
    ) -> Result<Vec<Entity>> {
        let _ = (entity_type, projections, ids);
        todo!()
    }

    /// The entity from the identity map (or the persistent cache), else from the
    /// server; `None` when it does not exist.
    pub fn get(&self, entity_type: &str, id: &str) -> Result<Option<Entity>> {
        let _ = (entity_type, id);
        todo!()
    }

    /// Loads `projections` (comma-separated, e.g. `"name, status.name"`) for all
    /// `entities` in one query per entity type (chunked for very many).
    pub fn populate(&self, entities: &[Entity], projections: &str) -> Result<()> {
        let _ = (entities, projections);
        todo!()
    }

    /// Creates an entity locally with a client-generated UUID v4 key (unless `data`
    /// gives the key) and records the `create`.
    pub fn create(
        &self,
        entity_type: &str,
        data: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Entity> {
        let _ = (entity_type, data);
        todo!()
    }

    /// Records the deletion of `entity`.
    pub fn delete(&self, entity: &Entity) -> Result<()> {
        let _ = entity;
        todo!()
    }

    /// Appends a non-entity operation (e.g. `{"action": "add_user_security_role", ...}`)
    /// to the ordered pending batch; `commit` sends it with the entity operations.
    pub fn record_action(&self, operation: serde_json::Value) -> Result<()> {
        let _ = operation;
        todo!()
    }

    /// Sends every pending operation as one optimised batch. On success the answer
    /// is merged and the operations cleared; on failure everything stays pending and
    /// the cache is unchanged.
    pub fn commit(&self) -> Result<()> {
        todo!()
    }

    /// Discards pending operations and local changes; created entities are removed.
    pub fn rollback(&self) {
        todo!()
    }

    /// The batch `commit` would send, as JSON (a dry run).
    pub fn pending_json(&self) -> Result<String> {
        todo!()
    }

    /// How many operations are recorded (before optimisation).
    pub fn pending_len(&self) -> usize {
        todo!()
    }

    /// Sends any batch (a JSON array of operations) and returns the JSON answer.
    /// Server errors are still typed.
    pub fn call(&self, batch: &serde_json::Value) -> Result<serde_json::Value> {
        let _ = batch;
        todo!()
    }

    /// HTTP requests sent by this session so far (attempts, including retries).
    pub fn request_count(&self) -> u64 {
        todo!()
    }

    /// The server's `query_server_information` answer from start-up.
    pub fn server_information(&self) -> serde_json::Value {
        todo!()
    }

    /// Writes the persistent cache (when configured). Also done on commit and when
    /// the last handle to the session is dropped.
    pub fn close(&self) -> Result<()> {
        todo!()
    }
}

impl Inner {
    pub(crate) fn entity_type_of(&self, slot: u32) -> String {
        let _ = slot;
        todo!()
    }
    pub(crate) fn key_of(&self, slot: u32) -> String {
        let _ = slot;
        todo!()
    }
    pub(crate) fn entity_get(&self, e: &Entity, attribute: &str) -> Result<Value> {
        let _ = (e, attribute);
        todo!()
    }
    pub(crate) fn entity_is_loaded(&self, slot: u32, attribute: &str) -> bool {
        let _ = (slot, attribute);
        todo!()
    }
    pub(crate) fn value_to_json(&self, v: &Value) -> serde_json::Value {
        let _ = v;
        todo!()
    }
    pub(crate) fn entity_set(&self, e: &Entity, attribute: &str, value: Value) -> Result<()> {
        let _ = (e, attribute, value);
        todo!()
    }
    pub(crate) fn collection_change(
        &self,
        e: &Entity,
        attribute: &str,
        item: &Entity,
        append: bool,
    ) -> Result<()> {
        let _ = (e, attribute, item, append);
        todo!()
    }
    pub(crate) fn reference_json(&self, slot: u32) -> serde_json::Value {
        let _ = slot;
        todo!()
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
