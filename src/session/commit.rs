//! Pending operations: recording creates, deletes and actions, then `commit` (one
//! optimised batch) or `rollback`.

use super::attributes::{attr_id, json_to_stored, live};
use std::sync::Arc;

use super::replies::{protocol, server_error, status_or_protocol};
use super::{Session, State};
use crate::decode::{self, Expect};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::identity_map::{KEY_SEP, SlotState, id_of_key};
use crate::operations::{self, Op, Payload, Recorded};
use crate::pending::{Action, JsonAction, Operation, PendingMark, RecordedOperation, Rollback};
use crate::schema::FastMap;
use crate::transport::{Idempotence, Reply};
use crate::value::{Stored, Value};

impl Session {
    /// Creates an entity locally with a client-generated UUID v4 key (unless `data`
    /// gives the key) and records the `create`.
    pub fn create(
        &self,
        entity_type: &str,
        data: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Entity> {
        let mut st = self.inner.lock();
        let st = &mut *st;
        let tid = st.schema.require_type(entity_type)?;
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
        if self.inner.recording() {
            st.record(Op::Create { slot, data: values });
        }
        Ok(self.inner.entity_from(slot))
    }

    /// Records the deletion of `entity`.
    pub fn delete(&self, entity: &Entity) -> Result<()> {
        self.inner.check_same(entity)?;
        let mut st = self.inner.lock();
        live(&st, entity.slot)?;
        if self.inner.recording() {
            st.record(Op::Delete { slot: entity.slot });
        }
        Ok(())
    }

    /// Appends a non-entity operation given as JSON (e.g.
    /// `{"action": "add_user_security_role", ...}`) to the ordered pending batch;
    /// `commit` sends it with the entity operations. Layers that record their own
    /// typed actions use [`Session::record`].
    pub fn record_action(&self, operation: serde_json::Value) -> Result<()> {
        self.record(Arc::new(JsonAction::new(operation)?));
        Ok(())
    }

    /// Appends a typed non-entity [`Action`] to the ordered pending batch and
    /// returns its sequence number.
    pub fn record(&self, action: Arc<dyn Action>) -> u64 {
        self.inner.lock().record(Op::Action(action))
    }

    /// Sends the operations pending at the call as one optimised batch.
    ///
    /// The operations are taken when the call starts: those recorded while the
    /// batch is on the wire stay pending for the next commit, and a concurrent
    /// commit waits for this one, so no operation is ever sent twice or out of
    /// order. On success the answer is merged and the sent operations leave the
    /// batch; on failure they go back in front of any recorded meanwhile, and the
    /// cache is as it was.
    ///
    /// One exception: when the server answers with a list of results (so it
    /// applied the batch) whose entities cannot be merged, the operations have
    /// been applied and leave the batch, and the call returns
    /// [`Error::Protocol`] whose message says so; query
    /// the entities again. Committing again would apply them twice.
    pub fn commit(&self) -> Result<()> {
        let inner = &self.inner;
        let _one_at_a_time = inner.commit_lock.lock().unwrap_or_else(|e| e.into_inner());
        let (body, expects, keys) = {
            let mut st = inner.lock();
            let st = &mut *st;
            if st.ops.is_empty() {
                return Ok(());
            }
            st.in_flight = std::mem::take(&mut st.ops);
            let payloads = operations::optimise(st.in_flight.iter().map(|r| &r.op));
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
            (body, expects, st.schema.keys())
        };
        let Some(body) = body else {
            // Everything cancelled out (created and deleted in the batch).
            apply_committed(&mut inner.lock());
            return Ok(());
        };
        let hooks = inner.transport.hooks();
        let total = expects.len() as u64;
        let mut sent = false;
        let outcome = if hooks.progress("commit", 0, Some(total)) {
            // Before sending: a timed-out batch may still have been applied.
            inner.note_write();
            sent = true;
            inner
                .transport
                .post(&body, Idempotence::Writes)
                .and_then(|reply| check_commit_reply(&reply, inner.key()).map(|()| reply))
        } else {
            Err(Error::Cancelled { sent: false })
        };
        let reply = match outcome {
            Ok(reply) => reply,
            Err(e) => {
                // Nothing was applied: the taken operations are pending again, in
                // front of those recorded meanwhile.
                let mut st = inner.lock();
                let st = &mut *st;
                let mut back = std::mem::take(&mut st.in_flight);
                back.append(&mut st.ops);
                st.ops = back;
                if sent {
                    // Over: what was read while it was on its way may predate
                    // it (see Session::write_generation).
                    inner.note_write();
                }
                return Err(e);
            }
        };
        // Decoded before the session is locked (see crate::decode).
        let staged = decode::decode(&reply.body, &expects, &keys);
        let derived = inner.derived_list();
        let mut guard = inner.lock();
        let st = &mut *guard;
        // The server applied the batch: sent values become server values, then the
        // server's answer is merged over them (its values win).
        apply_committed(st);
        super::derived::committed(st, &derived);
        // Applied, and in the cache once this lock is released: what was read
        // while the batch was on its way may predate it.
        inner.note_write();
        let staged = staged.map_err(|e| {
            // The batch was applied: say so, or the caller would send it again.
            protocol(
                &reply,
                &format!(
                    "{e}; the server APPLIED the batch and its operations have left the \
                         pending batch, but the answer could not be merged into the cache: \
                         query the changed entities again, do not commit them again"
                ),
                inner.key(),
            )
        })?;
        staged.merge(&mut st.schema, &mut st.map);
        if let Some(p) = &inner.persistent {
            p.save(&st.schema, &mut st.map);
        }
        drop(guard);
        hooks.progress("commit", total, Some(total));
        Ok(())
    }

    /// Discards pending operations and local changes; created entities are removed.
    ///
    /// Operations of a commit in flight on another thread are not discarded (they
    /// are on their way to the server) and neither are the local values they
    /// carry; [`Rollback::in_flight`] counts them.
    pub fn rollback(&self) -> Rollback {
        let mut st = self.inner.lock();
        let st = &mut *st;
        let discarded = std::mem::take(&mut st.ops).len();
        st.derived_edits.clear();
        // What the commit in flight sends stays as it is, last write winning.
        let mut keep: FastMap<u32, Vec<(u32, Stored)>> = FastMap::default();
        for r in &st.in_flight {
            if let Op::Create { slot, data } | Op::Update { slot, data } = &r.op {
                let kept = keep.entry(*slot).or_default();
                for (attr, v) in data {
                    match kept.iter_mut().find(|(a, _)| a == attr) {
                        Some(e) => e.1 = v.clone(),
                        None => kept.push((*attr, v.clone())),
                    }
                }
            }
        }
        for slot in std::mem::take(&mut st.dirty) {
            let s = &mut st.map.slots[slot as usize];
            match keep.remove(&slot) {
                Some(values) => {
                    s.local = values;
                    st.dirty.push(slot);
                }
                None => {
                    s.local.clear();
                    if s.state == SlotState::Created {
                        st.map.remove(slot);
                    }
                }
            }
        }
        if discarded > 0 {
            st.removals += 1;
        }
        Rollback {
            discarded,
            in_flight: st.in_flight.len(),
        }
    }

    /// Clears the cache and the pending operations, as a fresh session would
    /// start (the schemas and the connection stay): pending operations and local
    /// values are discarded, entities created and not committed are removed, and
    /// every loaded value is forgotten, so existing entity handles stay usable and
    /// read their values from the server again (with auto-populate on). The
    /// persistent cache file is not touched. Operations of a commit in flight on
    /// another thread are not discarded (see [`Session::rollback`]).
    pub fn reset(&self) -> Rollback {
        let rolled = self.rollback();
        let mut st = self.inner.lock();
        let st = &mut *st;
        let flying: Vec<u32> = st
            .in_flight
            .iter()
            .filter_map(|r| match &r.op {
                Op::Create { slot, .. } | Op::Update { slot, .. } | Op::Delete { slot } => {
                    Some(*slot)
                }
                Op::Action(_) => None,
            })
            .collect();
        for i in 0..st.map.slots.len() {
            let slot = i as u32;
            if flying.contains(&slot) {
                continue;
            }
            let s = &mut st.map.slots[i];
            match s.state {
                SlotState::Removed => {}
                SlotState::Created => st.map.remove(slot),
                SlotState::Persisted => {
                    s.remote.clear();
                    s.local.clear();
                }
            }
        }
        let map = &st.map;
        st.dirty
            .retain(|&s| !map.slots[s as usize].local.is_empty());
        st.derived_edits.clear();
        rolled
    }

    /// The batch `commit` would send now, as JSON (a dry run). Operations of a
    /// commit in flight are not in it.
    pub fn pending_json(&self) -> Result<String> {
        let st = self.inner.lock();
        let payloads = operations::optimise(st.ops.iter().map(|r| &r.op));
        let bytes = operations::encode(&payloads, &st.schema, &st.map);
        String::from_utf8(bytes).map_err(|_| {
            Error::Internal("the encoded batch is not UTF-8; please report this".into())
        })
    }

    /// How many operations are recorded and not yet taken by a commit (before
    /// optimisation).
    pub fn pending_len(&self) -> usize {
        self.inner.lock().ops.len()
    }

    /// Where the pending batch stands (see [`PendingMark`]).
    pub fn pending_mark(&self) -> PendingMark {
        let st = self.inner.lock();
        PendingMark {
            removals: st.removals,
            last_seq: st.last_seq,
        }
    }

    /// Every operation recorded and not yet committed, in order, as typed values:
    /// those of a commit in flight first, then the pending ones.
    pub fn recorded_operations(&self) -> Vec<RecordedOperation> {
        self.recorded_operations_after(0)
    }

    /// The operations of [`Session::recorded_operations`] whose sequence number
    /// is greater than `seq`: with the `last_seq` of an earlier [`PendingMark`]
    /// whose `removals` still holds, what was recorded since.
    pub fn recorded_operations_after(&self, seq: u64) -> Vec<RecordedOperation> {
        let st = self.inner.lock();
        let first = |list: &[Recorded]| list.partition_point(|r| r.seq <= seq);
        let flight = &st.in_flight[first(&st.in_flight)..];
        let pending = &st.ops[first(&st.ops)..];
        let inner = &self.inner;
        let data = |d: &[(u32, Stored)]| -> Vec<(String, Value)> {
            d.iter()
                .map(|(a, v)| (st.schema.attrs.name(*a).to_owned(), inner.to_value(v)))
                .collect()
        };
        flight
            .iter()
            .chain(pending)
            .map(|r| RecordedOperation {
                seq: r.seq,
                operation: match &r.op {
                    Op::Create { slot, data: d } => Operation::Create {
                        entity: inner.entity_from(*slot),
                        data: data(d),
                    },
                    Op::Update { slot, data: d } => Operation::Update {
                        entity: inner.entity_from(*slot),
                        data: data(d),
                    },
                    Op::Delete { slot } => Operation::Delete {
                        entity: inner.entity_from(*slot),
                    },
                    Op::Action(a) => Operation::Action(a.clone()),
                },
            })
            .collect()
    }
}

/// Checks that a commit's reply is a list of results: an error object (any
/// status), another status or a body that is not JSON means nothing was applied.
fn check_commit_reply(reply: &Reply, key: &str) -> Result<()> {
    let first = reply.body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') && reply.status < 300 {
        if serde_json::from_slice::<serde::de::IgnoredAny>(&reply.body).is_err() {
            return Err(status_or_protocol(
                reply,
                "the commit answer is not valid JSON",
                key,
            ));
        }
        return Ok(());
    }
    Err(match serde_json::from_slice(&reply.body) {
        Ok(serde_json::Value::Object(m)) => server_error(reply.status, m, key),
        _ => status_or_protocol(reply, "not a list of results", key),
    })
}

/// After a successful commit of the operations in flight: local values that were
/// sent become server values, created entities become persisted, deleted ones leave.
fn apply_committed(st: &mut State) {
    let ops: Vec<Op> = std::mem::take(&mut st.in_flight)
        .into_iter()
        .map(|r| r.op)
        .collect();
    st.removals += 1;
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
