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

use std::sync::{Arc, Mutex, MutexGuard};

use crate::config::{self, SessionOptions};
use crate::decode::{Answer, Decoded, Decoder, Expect};
use crate::entity::Entity;
use crate::error::{Error, Result, ServerError};
use crate::identity_map::{IdentityMap, KEY_SEP, SlotState, id_of_key, key_of_id};
use crate::operations::{self, Op, Payload};
use crate::query;
use crate::schema::{self, AttrKind, Schema};
use crate::transport::{Idempotence, Reply, Transport};
use crate::value::{Stored, Value};

/// How many ids one chunked query carries.
const ID_CHUNK: usize = 500;

/// A connection to an ftrack server with its own identity map and pending batch.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct State {
    pub schema: Schema,
    pub map: IdentityMap,
    pub ops: Vec<Op>,
    /// Slots with local (uncommitted) values.
    pub dirty: Vec<u32>,
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) options: SessionOptions,
    pub(crate) server_info: serde_json::Value,
    pub(crate) state: Mutex<State>,
    pub(crate) persistent: Option<crate::persistent_cache::PersistentCache>,
    /// See [`Session::write_generation`].
    pub(crate) writes: std::sync::atomic::AtomicU64,
    /// Users' role state as last read, for validating role changes (see `roles`).
    pub(crate) roles: Mutex<crate::roles::RoleStore>,
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

/// Python's rule: "dev" passes; a version starting with MAJOR.MINOR.PATCH must be
/// at least 3.3.11; anything else passes.
fn version_ok(version: &str) -> bool {
    if version == "dev" {
        return true;
    }
    let mut nums = [0u64; 3];
    let mut parts = version.splitn(3, '.');
    for n in nums.iter_mut() {
        let Some(part) = parts.next() else {
            return true;
        };
        let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        match digits.parse() {
            Ok(v) => *n = v,
            Err(_) => return true,
        }
    }
    (nums[0], nums[1], nums[2]) >= (3, 3, 11)
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
        let creds = config::resolve(&options)?;
        let server_url = creds.server_url.clone();
        let shown_url = config::redact_url(&server_url);
        let api_key = creds.api_key.clone();
        let transport = Transport::new(&options, creds)?;
        let cache_path = config::schema_cache_dir(&options.schema_cache)
            .map(|d| schema::cache_file(&d, &server_url));
        let cache_bytes = cache_path.as_deref().and_then(|p| std::fs::read(p).ok());
        let body: &[u8] = if cache_bytes.is_some() {
            br#"[{"action":"query_server_information"}]"#
        } else {
            br#"[{"action":"query_server_information"},{"action":"query_schemas"}]"#
        };
        // The cached schemas are parsed while the request is on the wire: on a warm
        // start that took a third of the time of the round trip itself.
        let (reply, cached) = std::thread::scope(|scope| {
            let parse = || schema::parse_cache(cache_bytes.as_deref()?, &server_url);
            let parsing = std::thread::Builder::new().spawn_scoped(scope, parse);
            let reply = transport.post(body, Idempotence::ReadOnly);
            let cached = match parsing {
                Ok(handle) => handle.join().ok().flatten(),
                Err(_) => parse(),
            };
            (reply, cached)
        });
        let reply = reply?;
        let mut answers = json_answers(&reply, &api_key)?;
        if answers.is_empty() {
            return Err(protocol(&reply, "the server answered no result", &api_key));
        }
        let info = answers.remove(0);
        let version = info
            .get("version")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                Error::IncompatibleServer(format!(
                    "could not determine the version of the server at {shown_url}; \
                 check that server_url points at an ftrack server"
                ))
            })?;
        if !version_ok(version) {
            return Err(Error::IncompatibleServer(format!(
                "the server at {shown_url} runs ftrack {version}; libftrack needs 3.3.11 \
                 or newer: upgrade the server"
            )));
        }
        let hash = info.get("schema_hash").and_then(|v| v.as_str());
        let schema = match cached {
            Some((h, schema)) if Some(h.as_str()) == hash => schema,
            _ => {
                // Cold start: the schemas came with the answer. A cache that is stale
                // or unreadable: fetch them now.
                let (reply, mut answers) = if cache_bytes.is_none() {
                    (reply, answers)
                } else {
                    let reply = transport
                        .post(br#"[{"action":"query_schemas"}]"#, Idempotence::ReadOnly)?;
                    let answers = json_answers(&reply, &api_key)?;
                    (reply, answers)
                };
                if answers.is_empty() {
                    return Err(protocol(&reply, "no schemas in the answer", &api_key));
                }
                let schemas = answers.remove(0);
                if !schemas.is_array() {
                    return Err(protocol(
                        &reply,
                        "query_schemas did not answer a list",
                        &api_key,
                    ));
                }
                if let (Some(p), Some(h)) = (&cache_path, hash) {
                    schema::save_cache(p, &server_url, h, &schemas);
                }
                Schema::from_json(&schemas)
            }
        };
        let mut map = IdentityMap::default();
        map.track_changes = options.persistent_cache.is_some();
        let persistent = options
            .persistent_cache
            .as_ref()
            .map(|p| crate::persistent_cache::PersistentCache::open(p, &server_url, &schema));
        Ok(Session {
            inner: Arc::new(Inner {
                transport,
                options,
                server_info: info,
                state: Mutex::new(State {
                    schema,
                    map,
                    ops: Vec::new(),
                    dirty: Vec::new(),
                }),
                persistent,
                writes: Default::default(),
                roles: Default::default(),
            }),
        })
    }

    /// Every entity matching `expression` (all pages). Default projections are
    /// injected when the expression has no `select`.
    pub fn query(&self, expression: &str) -> Result<Vec<Entity>> {
        let prepared = self.inner.prepare(expression)?;
        let (base, offset, limit) = query::split_paging(&prepared)?;
        self.inner.query_pages(&base, offset.unwrap_or(0), limit)
    }

    /// The first match (`limit 1`), or `None`.
    pub fn query_first(&self, expression: &str) -> Result<Option<Entity>> {
        let prepared = self.inner.prepare(expression)?;
        let (base, offset, limit) = query::split_paging(&prepared)?;
        if limit.is_some() {
            return Err(Error::InvalidArgument(
                "query_first adds \"limit 1\" itself; remove the limit from the expression".into(),
            ));
        }
        let expr = match offset {
            Some(o) => format!("{base} offset {o} limit 1"),
            None => format!("{base} limit 1"),
        };
        Ok(self.inner.query_once(&expr)?.0.into_iter().next())
    }

    /// Exactly one match (`limit 2`): `Error::NotFound` when none,
    /// `Error::MultipleResults` when several.
    pub fn query_one(&self, expression: &str) -> Result<Entity> {
        let prepared = self.inner.prepare(expression)?;
        let (base, offset, limit) = query::split_paging(&prepared)?;
        if offset.is_some() || limit.is_some() {
            return Err(Error::InvalidArgument(
                "query_one cannot be combined with offset or limit; remove them".into(),
            ));
        }
        let mut rows = self.inner.query_once(&format!("{base} limit 2"))?.0;
        match rows.len() {
            0 => Err(Error::NotFound(format!(
                "no entity matches \"{expression}\"; check the criteria, or use query_first to \
                 accept no result"
            ))),
            1 => Ok(rows.remove(0)),
            _ => Err(Error::MultipleResults(format!(
                "more than one entity matches \"{expression}\"; narrow the criteria, or use \
                 query_first / query"
            ))),
        }
    }

    /// The entities of `entity_type` with these ids, with `projections` loaded,
    /// querying in chunks so that expressions stay short. Order follows the server.
    pub fn query_by_ids(
        &self,
        entity_type: &str,
        projections: &[&str],
        ids: &[&str],
    ) -> Result<Vec<Entity>> {
        let (pk, proj) = {
            let st = self.inner.lock();
            let tid = st
                .schema
                .known_type(entity_type)
                .ok_or_else(|| Error::UnknownEntityType(entity_type.to_owned()))?;
            let info = st.schema.ty(tid);
            let proj = if projections.is_empty() {
                info.default_projections.join(", ")
            } else {
                projections.join(", ")
            };
            (info.primary_key.clone(), proj)
        };
        let keys: Vec<String> = ids.iter().map(|i| key_of_id(i)).collect();
        self.inner.fetch_keys(entity_type, &pk, &keys, &proj)
    }

    /// The entity from the identity map (or the persistent cache), else from the
    /// server; `None` when it does not exist.
    pub fn get(&self, entity_type: &str, id: &str) -> Result<Option<Entity>> {
        let key = key_of_id(id);
        {
            let mut st = self.inner.lock();
            let tid = st
                .schema
                .known_type(entity_type)
                .ok_or_else(|| Error::UnknownEntityType(entity_type.to_owned()))?;
            if let Some(slot) = st.map.find(tid, &key) {
                return Ok(Some(self.inner.entity_from(slot)));
            }
            if let Some(p) = &self.inner.persistent {
                let st = &mut *st;
                if let Some(slot) = p.fetch(&mut st.schema, &mut st.map, entity_type, &key) {
                    return Ok(Some(self.inner.entity_from(slot)));
                }
            }
        }
        Ok(self
            .query_by_ids(entity_type, &[], &[id])?
            .into_iter()
            .next())
    }

    /// Loads `projections` (comma-separated, e.g. `"name, status.name"`) for all
    /// `entities` in one query per entity type (chunked for very many).
    pub fn populate(&self, entities: &[Entity], projections: &str) -> Result<()> {
        let projections = projections.trim();
        if projections.is_empty() {
            return Err(Error::InvalidArgument(
                "populate needs projections, e.g. \"name, status.name\"".into(),
            ));
        }
        let groups = {
            let st = self.inner.lock();
            let mut groups: Vec<(u32, Vec<String>)> = Vec::new();
            for e in entities {
                self.inner.check_same(e)?;
                let s = &st.map.slots[e.slot as usize];
                if s.state != SlotState::Persisted {
                    continue;
                }
                match groups.iter_mut().find(|(t, _)| *t == s.ty) {
                    Some((_, keys)) => keys.push(s.key.to_string()),
                    None => groups.push((s.ty, vec![s.key.to_string()])),
                }
            }
            groups
                .into_iter()
                .map(|(t, keys)| {
                    let info = st.schema.ty(t);
                    (info.name.clone(), info.primary_key.clone(), keys)
                })
                .collect::<Vec<_>>()
        };
        for (ty, pk, keys) in groups {
            self.inner.fetch_keys(&ty, &pk, &keys, projections)?;
        }
        Ok(())
    }

    /// Creates an entity locally with a client-generated UUID v4 key (unless `data`
    /// gives the key) and records the `create`.
    pub fn create(
        &self,
        entity_type: &str,
        data: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Entity> {
        let mut st = self.inner.lock();
        let st = &mut *st;
        let tid = st
            .schema
            .known_type(entity_type)
            .ok_or_else(|| Error::UnknownEntityType(entity_type.to_owned()))?;
        let info = st.schema.ty(tid).clone();
        let mut key = String::new();
        let mut values: Vec<(u32, Stored)> = Vec::with_capacity(data.len() + 1);
        for (i, (name, &attr)) in info.primary_key.iter().zip(&info.pk_ids).enumerate() {
            let v = match data.get(name) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                Some(_) => {
                    return Err(Error::InvalidArgument(format!(
                        "{entity_type}.{name} is a primary key: give it as a string"
                    )));
                }
                None if info.primary_key.len() == 1 => uuid::Uuid::new_v4().to_string(),
                None => {
                    return Err(Error::InvalidArgument(format!(
                        "{entity_type} has a composite primary key ({}); give {name} in the data",
                        info.primary_key.join(", ")
                    )));
                }
            };
            if i > 0 {
                key.push(KEY_SEP);
            }
            key.push_str(&v);
            values.push((attr, Stored::Str(v.into())));
        }
        if st.map.find(tid, &key).is_some() {
            return Err(Error::InvalidArgument(format!(
                "a {entity_type} with key {} is already in this session; update it instead",
                id_of_key(&key)
            )));
        }
        for (name, v) in &data {
            if info.primary_key.iter().any(|k| k == name) {
                continue;
            }
            let attr = attr_id(&mut st.schema, tid, name)?;
            let stored = json_to_stored(&mut st.schema, &mut st.map, tid, attr, name, v)?;
            values.push((attr, stored));
        }
        let (slot, _) = st.map.get_or_insert(tid, &key);
        let s = &mut st.map.slots[slot as usize];
        s.state = SlotState::Created;
        s.remote.clear();
        s.local = values.clone();
        st.dirty.push(slot);
        if self.inner.options.record_operations {
            st.ops.push(Op::Create { slot, data: values });
        }
        Ok(self.inner.entity_from(slot))
    }

    /// Records the deletion of `entity`.
    pub fn delete(&self, entity: &Entity) -> Result<()> {
        self.inner.check_same(entity)?;
        let mut st = self.inner.lock();
        live(&st, entity.slot)?;
        if self.inner.options.record_operations {
            st.ops.push(Op::Delete { slot: entity.slot });
        }
        Ok(())
    }

    /// Appends a non-entity operation (e.g. `{"action": "add_user_security_role", ...}`)
    /// to the ordered pending batch; `commit` sends it with the entity operations.
    pub fn record_action(&self, operation: serde_json::Value) -> Result<()> {
        if operation.get("action").and_then(|a| a.as_str()).is_none() {
            return Err(Error::InvalidArgument(
                "an operation must be a JSON object with an \"action\" string".into(),
            ));
        }
        self.inner.lock().ops.push(Op::Action(operation));
        Ok(())
    }

    /// Sends every pending operation as one optimised batch. On success the answer
    /// is merged and the operations cleared; on failure everything stays pending and
    /// the cache is unchanged.
    pub fn commit(&self) -> Result<()> {
        let inner = &self.inner;
        let (body, expects, n) = {
            let st = inner.lock();
            if st.ops.is_empty() {
                return Ok(());
            }
            let payloads = operations::optimise(&st.ops);
            let expects: Vec<Expect> = payloads
                .iter()
                .map(|p| match p {
                    Payload::Action(_) => Expect::Other,
                    _ => Expect::Data,
                })
                .collect();
            let body = if payloads.is_empty() {
                None
            } else {
                Some(operations::encode(&payloads, &st.schema, &st.map))
            };
            (body, expects, st.ops.len())
        };
        if let Some(body) = body {
            // Before sending: a timed-out batch may still have been applied.
            inner
                .writes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let reply = inner.transport.post(&body, Idempotence::Writes)?;
            if serde_json::from_slice::<serde::de::IgnoredAny>(&reply.body).is_err() {
                return Err(protocol(
                    &reply,
                    "the commit answer is not valid JSON",
                    inner.key(),
                ));
            }
            // An error object (any status) or an unexpected status: nothing was
            // applied, so the operations stay pending and the cache is untouched.
            let first = reply.body.iter().find(|b| !b.is_ascii_whitespace());
            if first != Some(&b'[') {
                return Err(match serde_json::from_slice(&reply.body) {
                    Ok(serde_json::Value::Object(m)) => server_error(reply.status, m),
                    _ => protocol(&reply, "not a list of results", inner.key()),
                });
            }
            if reply.status >= 300 {
                return Err(status_or_protocol(
                    &reply,
                    "unexpected HTTP status",
                    inner.key(),
                ));
            }
            let mut st = inner.lock();
            let st = &mut *st;
            // The server applied the batch: sent values become server values, then
            // the server's answer is merged over them (its values win).
            apply_committed(st, n);
            Decoder::new(&mut st.schema, &mut st.map)
                .decode(&reply.body, &expects)
                .map_err(|e| protocol(&reply, &e.to_string(), inner.key()))?;
        } else {
            apply_committed(&mut inner.lock(), n);
        }
        if let Some(p) = &inner.persistent {
            let mut st = inner.lock();
            let st = &mut *st;
            p.save(&st.schema, &mut st.map);
        }
        Ok(())
    }

    /// Discards pending operations and local changes; created entities are removed.
    pub fn rollback(&self) {
        let mut st = self.inner.lock();
        let st = &mut *st;
        st.ops.clear();
        for slot in std::mem::take(&mut st.dirty) {
            let s = &mut st.map.slots[slot as usize];
            s.local.clear();
            if s.state == SlotState::Created {
                st.map.remove(slot);
            }
        }
    }

    /// The batch `commit` would send, as JSON (a dry run).
    pub fn pending_json(&self) -> Result<String> {
        let st = self.inner.lock();
        let payloads = operations::optimise(&st.ops);
        let bytes = operations::encode(&payloads, &st.schema, &st.map);
        String::from_utf8(bytes).map_err(|_| Error::Protocol {
            status: 0,
            message: "internal error: the encoded batch is not UTF-8".into(),
        })
    }

    /// How many operations are recorded (before optimisation).
    pub fn pending_len(&self) -> usize {
        self.inner.lock().ops.len()
    }

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
            self.inner
                .writes
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Idempotence::Writes
        };
        let reply = self.inner.transport.post(&body, idem)?;
        let answers = json_answers(&reply, self.inner.key())?;
        Ok(serde_json::Value::Array(answers))
    }

    /// Merges a raw query answer (the bytes of a `[{"action": "query", "data": [...],
    /// ...}]` reply, e.g. saved from [`Session::call`] or read from a file) into the
    /// identity map and returns its rows, exactly as [`Session::query`] would for one
    /// page. Server error objects become typed errors.
    pub fn merge_query_response(&self, body: &[u8]) -> Result<Vec<Entity>> {
        let key = self.inner.key();
        let slots = {
            let mut st = self.inner.lock();
            let st = &mut *st;
            let decoded = Decoder::new(&mut st.schema, &mut st.map)
                .decode(body, &[Expect::Query])
                .map_err(|e| protocol_parts(200, body, &e.to_string(), key))?;
            match decoded {
                Decoded::Error(m) => return Err(server_error(200, m)),
                Decoded::Answers(mut a) if !a.is_empty() => match a.swap_remove(0) {
                    Answer::Query { slots, .. } => slots,
                    _ => return Err(protocol_parts(200, body, "no query result", key)),
                },
                Decoded::Answers(_) => {
                    return Err(protocol_parts(200, body, "no query result", key));
                }
            }
        };
        Ok(slots
            .into_iter()
            .map(|s| self.inner.entity_from(s))
            .collect())
    }

    /// HTTP requests sent by this session so far (attempts, including retries).
    pub fn request_count(&self) -> u64 {
        self.inner.transport.request_count()
    }

    /// A number that changes whenever this session may have changed data on the
    /// server: with each commit that sends a batch (whether or not the server
    /// accepts it: a timed-out batch may have been applied) and each
    /// [`Session::call`] that is not read-only. Rollback leaves it unchanged.
    /// Caches of server state that the identity map does not hold (the roles
    /// module's role state, which role actions change without an entity merge)
    /// compare it to know when to read again.
    pub fn write_generation(&self) -> u64 {
        self.inner.writes.load(std::sync::atomic::Ordering::SeqCst)
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

/// After a successful commit of the first `n` recorded ops: local values that were
/// sent become server values, created entities become persisted, deleted ones leave.
fn apply_committed(st: &mut State, n: usize) {
    let ops: Vec<Op> = st.ops.drain(..n).collect();
    let mut created: Vec<u32> = Vec::new();
    let mut deleted: Vec<u32> = Vec::new();
    for op in ops {
        match op {
            Op::Create { slot, data } | Op::Update { slot, data } => {
                let s = &mut st.map.slots[slot as usize];
                if s.state == SlotState::Created {
                    created.push(slot);
                }
                for (attr, v) in data {
                    if let Some(i) = s.local.iter().position(|(a, lv)| *a == attr && *lv == v) {
                        s.local.swap_remove(i);
                        if s.remote.iter().all(|(a, _)| *a != attr) || !matches!(v, Stored::Null) {
                            s.set_remote(attr, v);
                        }
                    }
                }
                st.map.touch(slot);
            }
            Op::Delete { slot } => deleted.push(slot),
            Op::Action(_) => {}
        }
    }
    for slot in created {
        let s = &mut st.map.slots[slot as usize];
        if s.state == SlotState::Created {
            s.state = SlotState::Persisted;
        }
    }
    for slot in deleted {
        st.map.remove(slot);
    }
    let map = &st.map;
    st.dirty.retain(|&s| {
        !map.slots[s as usize].local.is_empty() && map.slots[s as usize].state != SlotState::Removed
    });
}

/// A value as wire JSON, for callers that already hold the session lock.
fn value_to_json_locked(st: &State, v: &Value) -> serde_json::Value {
    let r = |e: &Entity| operations::reference_json(&st.schema, &st.map, e.slot);
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => (*f).into(),
        Value::String(s) => s.as_str().into(),
        Value::DateTime(t) => operations::datetime_json(*t),
        Value::Entity(e) => r(e),
        Value::Collection(c) => c.iter().map(r).collect(),
        Value::Json(j) => j.clone(),
    }
}

fn live(st: &State, slot: u32) -> Result<()> {
    let s = &st.map.slots[slot as usize];
    if s.state == SlotState::Removed {
        return Err(Error::NotFound(format!(
            "this {} was deleted or rolled back; query it again or drop the handle",
            st.schema.ty(s.ty).name
        )));
    }
    Ok(())
}

/// The interned id of `name` on type `tid`; unknown attributes of schema types fail.
fn attr_id(schema: &mut Schema, tid: u32, name: &str) -> Result<u32> {
    let info = schema.ty(tid);
    match schema.attrs.get(name) {
        Some(a) if !info.known || info.attrs.contains_key(&a) => Ok(a),
        _ if !info.known => Ok(schema.attrs.intern(name)),
        _ => Err(Error::UnknownAttribute {
            entity_type: info.name.clone(),
            attribute: name.to_owned(),
        }),
    }
}

fn mismatch(
    schema: &Schema,
    tid: u32,
    name: &str,
    expected: &'static str,
    found: &'static str,
) -> Error {
    Error::TypeMismatch {
        entity_type: schema.ty(tid).name.clone(),
        attribute: name.to_owned(),
        expected,
        found,
    }
}

/// Converts caller JSON (as for `create`) to a stored value of the attribute's kind.
fn json_to_stored(
    schema: &mut Schema,
    map: &mut IdentityMap,
    tid: u32,
    attr: u32,
    name: &str,
    v: &serde_json::Value,
) -> Result<Stored> {
    use serde_json::Value as J;
    let kind = schema.kind(tid, attr).cloned();
    let as_ref = |schema: &mut Schema, map: &mut IdentityMap, v: &J| -> Option<u32> {
        let t = v.get("__entity_type__")?.as_str()?;
        let rt = schema.type_id_or_register(t);
        let info = schema.ty(rt);
        let mut key = String::new();
        for (i, k) in info.primary_key.iter().enumerate() {
            if i > 0 {
                key.push(KEY_SEP);
            }
            match v.get(k)? {
                J::String(s) => key.push_str(s),
                J::Number(n) => key.push_str(&n.to_string()),
                _ => return None,
            }
        }
        Some(map.get_or_insert(rt, &key).0)
    };
    Ok(match (kind, v) {
        (_, J::Null) => Stored::Null,
        (Some(AttrKind::Json), v) => Stored::Json(Box::new(v.clone())),
        (Some(AttrKind::Ref(_)), v) => Stored::Ref(
            as_ref(schema, map, v)
                .ok_or_else(|| mismatch(schema, tid, name, "an entity reference", "other JSON"))?,
        ),
        (Some(AttrKind::Collection(_)), J::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                out.push(as_ref(schema, map, it).ok_or_else(|| {
                    mismatch(
                        schema,
                        tid,
                        name,
                        "a list of entity references",
                        "other JSON",
                    )
                })?);
            }
            Stored::Coll(out.into_boxed_slice())
        }
        (Some(AttrKind::DateTime), J::String(s)) => Stored::DateTime(
            crate::datetime::parse_iso(s)
                .ok_or_else(|| mismatch(schema, tid, name, "an ISO-8601 datetime", "a string"))?,
        ),
        (Some(AttrKind::DateTime), J::Object(o)) if o.contains_key("__type__") => {
            match o
                .get("value")
                .and_then(|v| v.as_str())
                .and_then(crate::datetime::parse_iso)
            {
                Some(t) => Stored::DateTime(t),
                None => return Err(mismatch(schema, tid, name, "an ISO-8601 datetime", "JSON")),
            }
        }
        (Some(AttrKind::DateTime), J::Number(n)) if n.is_i64() => {
            Stored::DateTime(n.as_i64().unwrap_or(0))
        }
        (Some(AttrKind::Float), J::Number(n)) => Stored::Float(n.as_f64().unwrap_or(0.0)),
        (Some(AttrKind::Int), J::Number(n)) if n.is_i64() => Stored::Int(n.as_i64().unwrap_or(0)),
        (Some(AttrKind::Bool), J::Bool(b)) => Stored::Bool(*b),
        (Some(AttrKind::String), J::String(s)) => Stored::Str(s.as_str().into()),
        (None, J::Bool(b)) => Stored::Bool(*b),
        (None, J::String(s)) => Stored::Str(s.as_str().into()),
        (None, J::Number(n)) if n.is_i64() => Stored::Int(n.as_i64().unwrap_or(0)),
        (None, J::Number(n)) => Stored::Float(n.as_f64().unwrap_or(0.0)),
        (None, v) => match as_ref(schema, map, v) {
            Some(s) => Stored::Ref(s),
            None => Stored::Json(Box::new(v.clone())),
        },
        (Some(k), v) => {
            let found = match v {
                J::Bool(_) => "a boolean",
                J::Number(_) => "a number",
                J::String(_) => "a string",
                J::Array(_) => "a list",
                _ => "an object",
            };
            return Err(mismatch(schema, tid, name, k.describe(), found));
        }
    })
}

/// A short, key-free excerpt of a body.
fn excerpt(body: &[u8], key: &str) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let mut t: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .collect();
    if !key.is_empty() {
        t = t.replace(key, "<redacted>");
    }
    if body.len() > 200 {
        t.push_str("...");
    }
    t
}

fn protocol(reply: &Reply, what: &str, key: &str) -> Error {
    protocol_parts(reply.status, &reply.body, what, key)
}

fn protocol_parts(status: u16, body: &[u8], what: &str, key: &str) -> Error {
    Error::Protocol {
        status,
        message: format!(
            "the server's reply (HTTP {}) is not a valid ftrack API answer ({what}); it starts \
             with: {:?}. Check that server_url points at an ftrack server and that no proxy \
             rewrites the reply",
            status,
            excerpt(body, key)
        ),
    }
}

fn server_error(status: u16, m: serde_json::Map<String, serde_json::Value>) -> Error {
    let s = |k: &str| match m.get(k) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(v) => Some(v.to_string()),
    };
    let exception = s("exception").unwrap_or_default();
    let content = s("content")
        .or_else(|| s("message"))
        .or_else(|| s("error"))
        .unwrap_or_else(|| "no message".into());
    let e = ServerError {
        exception,
        content,
        error_code: s("error_code"),
        status,
    };
    if e.exception.is_empty() {
        return match status {
            401 => Error::Authentication(e),
            403 => Error::PermissionDenied(e),
            _ => Error::Server(e),
        };
    }
    Error::from_server(e)
}

/// Parses a reply as a JSON list of answers, mapping error bodies to typed errors.
fn json_answers(reply: &Reply, key: &str) -> Result<Vec<serde_json::Value>> {
    match serde_json::from_slice::<serde_json::Value>(&reply.body) {
        Ok(serde_json::Value::Array(a)) if reply.status < 300 => Ok(a),
        Ok(serde_json::Value::Object(m)) => Err(server_error(reply.status, m)),
        Ok(_) => Err(status_or_protocol(reply, "not a list of results", key)),
        Err(e) => Err(status_or_protocol(reply, &e.to_string(), key)),
    }
}

fn status_or_protocol(reply: &Reply, what: &str, key: &str) -> Error {
    let e = || ServerError {
        exception: String::new(),
        content: format!("HTTP {}: {}", reply.status, excerpt(&reply.body, key)),
        error_code: None,
        status: reply.status,
    };
    match reply.status {
        401 => Error::Authentication(e()),
        403 => Error::PermissionDenied(e()),
        _ => protocol(reply, what, key),
    }
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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

    fn prepare(&self, expression: &str) -> Result<String> {
        let st = self.lock();
        Ok(query::prepare(expression, &st.schema)?.0)
    }

    /// Sends one query and merges its rows: (entities, next offset).
    fn query_once_slots(&self, expr: &str) -> Result<(Vec<u32>, Option<u64>)> {
        let op = serde_json::json!([{"action": "query", "expression": expr}]);
        let body = serde_json::to_vec(&op).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let reply = self.transport.post(&body, Idempotence::ReadOnly)?;
        let mut st = self.lock();
        let st = &mut *st;
        let decoded = Decoder::new(&mut st.schema, &mut st.map)
            .decode(&reply.body, &[Expect::Query])
            .map_err(|e| status_or_protocol(&reply, &e.to_string(), self.key()))?;
        match decoded {
            Decoded::Error(m) => Err(server_error(reply.status, m)),
            Decoded::Answers(mut a) if reply.status < 300 && !a.is_empty() => {
                match a.swap_remove(0) {
                    Answer::Query { slots, next_offset } => Ok((slots, next_offset)),
                    _ => Err(protocol(&reply, "no query result", self.key())),
                }
            }
            Decoded::Answers(_) => Err(status_or_protocol(&reply, "no query result", self.key())),
        }
    }

    fn query_once(self: &Arc<Self>, expr: &str) -> Result<(Vec<Entity>, Option<u64>)> {
        let (slots, next) = self.query_once_slots(expr)?;
        Ok((
            slots.into_iter().map(|s| self.entity_from(s)).collect(),
            next,
        ))
    }

    /// Pages through `base` (an expression without offset/limit).
    fn query_pages(
        self: &Arc<Self>,
        base: &str,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<Vec<Entity>> {
        let page = (self.options.page_size.max(1) as u64)
            .min(limit.unwrap_or(u64::MAX))
            .max(1);
        let mut out: Vec<Entity> = Vec::new();
        let mut off = offset;
        loop {
            let (slots, next) =
                self.query_once_slots(&format!("{base} offset {off} limit {page}"))?;
            let got = slots.len() as u64;
            out.extend(slots.into_iter().map(|s| self.entity_from(s)));
            if let Some(l) = limit
                && out.len() as u64 >= l
            {
                out.truncate(l as usize);
                break;
            }
            match next {
                Some(n) if got > 0 && n > off => off = n,
                _ => break,
            }
        }
        Ok(out)
    }

    /// `select <projections> from <ty> where <keys>`, in chunks of [`ID_CHUNK`] keys
    /// so that expressions stay short; the entities in the server's order.
    fn fetch_keys(
        self: &Arc<Self>,
        ty: &str,
        pk: &[String],
        keys: &[String],
        projections: &str,
    ) -> Result<Vec<Entity>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(ID_CHUNK) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let expr = format!(
                "select {projections} from {ty} where {}",
                query::key_condition(pk, &refs)
            );
            out.extend(self.query_pages(&expr, 0, None)?);
        }
        Ok(out)
    }

    fn to_value(self: &Arc<Self>, v: &Stored) -> Value {
        match v {
            Stored::Null => Value::Null,
            Stored::Bool(b) => Value::Bool(*b),
            Stored::Int(i) => Value::Int(*i),
            Stored::Float(f) => Value::Float(*f),
            Stored::Str(s) => Value::String(s.to_string()),
            Stored::DateTime(t) => Value::DateTime(*t),
            Stored::Ref(s) => Value::Entity(self.entity_from(*s)),
            Stored::Coll(c) => Value::Collection(c.iter().map(|s| self.entity_from(*s)).collect()),
            Stored::Json(j) => Value::Json((**j).clone()),
        }
    }

    pub(crate) fn entity_type_of(&self, slot: u32) -> String {
        let st = self.lock();
        st.schema.ty(st.map.slots[slot as usize].ty).name.clone()
    }

    pub(crate) fn key_of(&self, slot: u32) -> String {
        id_of_key(&self.lock().map.slots[slot as usize].key)
    }

    /// The [`Error::TypeMismatch`] for reading `attribute` of `slot` as `expected`.
    pub(crate) fn type_mismatch(
        &self,
        slot: u32,
        attribute: &str,
        expected: &'static str,
        found: &Value,
    ) -> Error {
        let st = self.lock();
        let tid = st.map.slots[slot as usize].ty;
        mismatch(&st.schema, tid, attribute, expected, found.type_name())
    }

    pub(crate) fn entity_is_loaded(&self, slot: u32, attribute: &str) -> bool {
        let st = self.lock();
        match st.schema.attrs.get(attribute) {
            Some(a) => st.map.slots[slot as usize].get(a).is_some(),
            None => false,
        }
    }

    pub(crate) fn entity_get(self: &Arc<Self>, e: &Entity, attribute: &str) -> Result<Value> {
        // Phase 1, under the lock: the value, or what to fetch.
        let (ty, pk, keys, projection, attr) = {
            let mut st = self.lock();
            let st = &mut *st;
            live(st, e.slot)?;
            let tid = st.map.slots[e.slot as usize].ty;
            let attr = attr_id(&mut st.schema, tid, attribute)?;
            let slot = &st.map.slots[e.slot as usize];
            if let Some(v) = slot.get(attr) {
                return Ok(self.to_value(v));
            }
            if slot.state != SlotState::Persisted || !self.options.auto_populate {
                return Ok(Value::Null);
            }
            // Every entity of this type from the same result that lacks the attribute.
            let mut keys: Vec<String> = vec![slot.key.to_string()];
            for &m in st.map.members(slot.origin) {
                let s = &st.map.slots[m as usize];
                if m != e.slot
                    && s.ty == tid
                    && s.state == SlotState::Persisted
                    && s.get(attr).is_none()
                {
                    keys.push(s.key.to_string());
                }
            }
            let projection = match st.schema.kind(tid, attr) {
                Some(AttrKind::Ref(t) | AttrKind::Collection(t)) => {
                    let target = st
                        .schema
                        .known_type(t)
                        .map(|t| st.schema.ty(t).default_projections.clone())
                        .unwrap_or_default();
                    if target.is_empty() {
                        attribute.to_owned()
                    } else {
                        target
                            .iter()
                            .map(|p| format!("{attribute}.{p}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                }
                _ => attribute.to_owned(),
            };
            let info = st.schema.ty(tid);
            (
                info.name.clone(),
                info.primary_key.clone(),
                keys,
                projection,
                attr,
            )
        };
        // Phase 2, without the lock: the query.
        self.fetch_keys(&ty, &pk, &keys, &projection)?;
        // Phase 3: read it; mark what the server did not send as null so it is not
        // fetched again.
        let mut st = self.lock();
        let st = &mut *st;
        let tid = st.map.slots[e.slot as usize].ty;
        for k in &keys {
            if let Some(s) = st.map.find(tid, k) {
                let slot = &mut st.map.slots[s as usize];
                if slot.get(attr).is_none() {
                    slot.set_remote(attr, Stored::Null);
                }
            }
        }
        live(st, e.slot)?;
        let v = st.map.slots[e.slot as usize]
            .get(attr)
            .cloned()
            .unwrap_or(Stored::Null);
        Ok(self.to_value(&v))
    }

    pub(crate) fn value_to_json(&self, v: &Value) -> serde_json::Value {
        let st = self.lock();
        value_to_json_locked(&st, v)
    }

    pub(crate) fn reference_json(&self, slot: u32) -> serde_json::Value {
        let st = self.lock();
        operations::reference_json(&st.schema, &st.map, slot)
    }

    pub(crate) fn entity_set(
        self: &Arc<Self>,
        e: &Entity,
        attribute: &str,
        value: Value,
    ) -> Result<()> {
        let mut guard = self.lock();
        let st = &mut *guard;
        live(st, e.slot)?;
        let tid = st.map.slots[e.slot as usize].ty;
        let attr = attr_id(&mut st.schema, tid, attribute)?;
        let s = &st.map.slots[e.slot as usize];
        if s.state == SlotState::Persisted && st.schema.ty(tid).pk_ids.contains(&attr) {
            return Err(Error::InvalidArgument(format!(
                "{}.{attribute} is the primary key and cannot change; create a new entity instead",
                st.schema.ty(tid).name
            )));
        }
        let kind = st.schema.kind(tid, attr).cloned();
        let m = |expected: &'static str| {
            mismatch(&st.schema, tid, attribute, expected, value.type_name())
        };
        let stored = match (&kind, &value) {
            (_, Value::Null) => Stored::Null,
            (Some(AttrKind::Json), v) => {
                match v {
                    Value::Entity(o) => self.check_same(o)?,
                    Value::Collection(items) => {
                        for o in items {
                            self.check_same(o)?;
                        }
                    }
                    _ => {}
                }
                Stored::Json(Box::new(value_to_json_locked(st, v)))
            }
            (Some(AttrKind::Ref(_)) | None, Value::Entity(o)) => {
                self.check_same(o)?;
                Stored::Ref(o.slot)
            }
            (Some(AttrKind::Collection(_)) | None, Value::Collection(items)) => {
                for o in items {
                    self.check_same(o)?;
                }
                Stored::Coll(items.iter().map(|o| o.slot).collect())
            }
            (Some(AttrKind::String) | None, Value::String(s)) => Stored::Str(s.as_str().into()),
            (Some(AttrKind::Bool) | None, Value::Bool(b)) => Stored::Bool(*b),
            (Some(AttrKind::Int) | None, Value::Int(i)) => Stored::Int(*i),
            (Some(AttrKind::Float), Value::Int(i)) => Stored::Float(*i as f64),
            (Some(AttrKind::Float) | None, Value::Float(f)) => Stored::Float(*f),
            (Some(AttrKind::DateTime) | None, Value::DateTime(t)) => Stored::DateTime(*t),
            (Some(AttrKind::DateTime), Value::String(s)) => Stored::DateTime(
                crate::datetime::parse_iso(s).ok_or_else(|| m("an ISO-8601 datetime"))?,
            ),
            (None, Value::Json(j)) => Stored::Json(Box::new(j.clone())),
            (Some(k), _) => return Err(m(k.describe())),
        };
        let slot = &mut st.map.slots[e.slot as usize];
        if slot.local.is_empty() {
            st.dirty.push(e.slot);
        }
        slot.set_local(attr, stored.clone());
        if self.options.record_operations {
            st.ops.push(Op::Update {
                slot: e.slot,
                data: vec![(attr, stored)],
            });
        }
        Ok(())
    }

    pub(crate) fn collection_change(
        self: &Arc<Self>,
        e: &Entity,
        attribute: &str,
        item: &Entity,
        append: bool,
    ) -> Result<()> {
        self.check_same(item)?;
        let mut items = match self.entity_get(e, attribute)? {
            Value::Collection(c) => c,
            Value::Null => Vec::new(),
            v => return Err(self.type_mismatch(e.slot, attribute, "a collection", &v)),
        };
        if append {
            if !items.contains(item) {
                items.push(item.clone());
            }
        } else {
            let before = items.len();
            items.retain(|x| x != item);
            if items.len() == before {
                return Err(Error::NotFound(format!(
                    "{} is not in {}.{attribute}; nothing to remove",
                    item.id(),
                    e.entity_type()
                )));
            }
        }
        self.entity_set(e, attribute, Value::Collection(items))
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
