//! Pending operations: recording creates, deletes and actions, then `commit` (one
//! optimised batch) or `rollback`.

use super::attributes::{attr_id, json_to_stored, live};
use super::replies::{protocol, server_error, status_or_protocol};
use super::{Session, State};
use crate::decode::{Decoder, Expect};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::identity_map::{KEY_SEP, SlotState, id_of_key};
use crate::operations::{self, Op, Payload};
use crate::transport::Idempotence;
use crate::value::Stored;

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
