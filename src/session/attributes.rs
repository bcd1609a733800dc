//! Typed attribute access behind [`Entity`]: reading values, setting them locally
//! (recorded as updates), collections, and JSON conversion of values.

use std::sync::Arc;

use super::{Inner, State};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::identity_map::{IdentityMap, KEY_SEP, SlotState, id_of_key};
use crate::operations::{self, Op};
use crate::schema::{AttrKind, Schema};
use crate::value::{Stored, Value};

impl Inner {
    pub(super) fn to_value(self: &Arc<Self>, v: &Stored) -> Value {
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

    pub(crate) fn entity_type_is(&self, slot: u32, entity_type: &str) -> bool {
        let st = self.lock();
        st.schema.ty(st.map.slots[slot as usize].ty).name == entity_type
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
        let (tid, attr) = settable(st, e.slot, attribute)?;
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
        self.set_locked(st, e.slot, attr, stored);
        Ok(())
    }

    pub(crate) fn entity_set_json(
        self: &Arc<Self>,
        e: &Entity,
        attribute: &str,
        value: &serde_json::Value,
    ) -> Result<()> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let (tid, attr) = settable(st, e.slot, attribute)?;
        let stored = json_to_stored(&mut st.schema, &mut st.map, tid, attr, attribute, value)?;
        self.set_locked(st, e.slot, attr, stored);
        Ok(())
    }

    /// Appends `item` to, or removes it from, a collection attribute: the read of
    /// the current items, the edit and the recorded update happen under one lock,
    /// so concurrent edits of the same collection never lose each other's items.
    pub(crate) fn collection_change(
        self: &Arc<Self>,
        e: &Entity,
        attribute: &str,
        item: &Entity,
        append: bool,
    ) -> Result<()> {
        self.check_same(item)?;
        if let Some(d) = self.derived_of(e.slot, attribute) {
            return self.derived_change(e, &d, item, append);
        }
        // Load the collection first (this may send a request, so not under the lock).
        match self.entity_get(e, attribute)? {
            Value::Collection(_) | Value::Null => {}
            v => return Err(self.type_mismatch(e.slot, attribute, "a collection", &v)),
        }
        let mut guard = self.lock();
        let st = &mut *guard;
        live(st, e.slot)?;
        let tid = st.map.slots[e.slot as usize].ty;
        let attr = attr_id(&mut st.schema, tid, attribute)?;
        let mut items = match st.map.slots[e.slot as usize].get(attr) {
            Some(Stored::Coll(items)) => items.to_vec(),
            Some(Stored::Null) | None => Vec::new(),
            Some(other) => {
                let found = self.to_value(other);
                return Err(mismatch(
                    &st.schema,
                    tid,
                    attribute,
                    "a collection",
                    found.type_name(),
                ));
            }
        };
        if append {
            if !items.contains(&item.slot) {
                items.push(item.slot);
            }
        } else {
            let before = items.len();
            items.retain(|&x| x != item.slot);
            if items.len() == before {
                return Err(Error::NotFound(format!(
                    "{} is not in {}.{attribute}; nothing to remove",
                    id_of_key(&st.map.slots[item.slot as usize].key),
                    st.schema.ty(tid).name
                )));
            }
        }
        self.set_locked(st, e.slot, attr, Stored::Coll(items.into()));
        Ok(())
    }

    /// Sets a local value and records the update, with the lock held.
    fn set_locked(&self, st: &mut State, slot: u32, attr: u32, stored: Stored) {
        let s = &mut st.map.slots[slot as usize];
        if s.local.is_empty() {
            st.dirty.push(slot);
        }
        s.set_local(attr, stored.clone());
        if self.recording() {
            st.record(Op::Update {
                slot,
                data: vec![(attr, stored)],
            });
        }
    }
}

/// The type and attribute ids of `attribute` on a live entity that may be set:
/// not the primary key of an entity the server already has.
fn settable(st: &mut State, slot: u32, attribute: &str) -> Result<(u32, u32)> {
    live(st, slot)?;
    let tid = st.map.slots[slot as usize].ty;
    let attr = attr_id(&mut st.schema, tid, attribute)?;
    let s = &st.map.slots[slot as usize];
    if s.state == SlotState::Persisted && st.schema.ty(tid).pk_ids.contains(&attr) {
        return Err(Error::InvalidArgument(format!(
            "{}.{attribute} is the primary key and cannot change; create a new entity instead",
            st.schema.ty(tid).name
        )));
    }
    Ok((tid, attr))
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
pub(super) fn live(st: &State, slot: u32) -> Result<()> {
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
pub(super) fn attr_id(schema: &mut Schema, tid: u32, name: &str) -> Result<u32> {
    if let Some(a) = schema.recent_attr(tid, name) {
        return Ok(a);
    }
    let info = schema.ty(tid);
    match schema.attrs.get(name) {
        Some(a) if info.known && info.attrs.contains_key(&a) => {
            schema.note_attr(tid, name, a);
            Ok(a)
        }
        Some(a) if !info.known => Ok(a),
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
pub(super) fn json_to_stored(
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
            Stored::Coll(out.into())
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
