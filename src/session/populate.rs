//! Loading attributes: `populate`, and auto-populate when a read finds no value.

use std::sync::Arc;

use super::attributes::{attr_id, live};
use super::{Inner, Session};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::identity_map::SlotState;
use crate::schema::AttrKind;
use crate::value::{Stored, Value};

impl Session {
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
}

impl Inner {
    /// Reads a loaded attribute in place, under one lock and without building a
    /// [`Value`]: `Ok(Some(r))` when it is loaded and `f` accepts it, `Ok(None)`
    /// when it is not loaded or `f` declines (the caller then takes the full
    /// path: auto-populate, type-mismatch errors). Errors as [`Inner::entity_get`].
    pub(crate) fn entity_peek<R>(
        &self,
        slot: u32,
        attribute: &str,
        f: impl FnOnce(&Stored) -> Option<R>,
    ) -> Result<Option<R>> {
        let mut st = self.lock();
        let st = &mut *st;
        live(st, slot)?;
        let s = &st.map.slots[slot as usize];
        let attr = attr_id(&mut st.schema, s.ty, attribute)?;
        Ok(st.map.slots[slot as usize].get(attr).and_then(f))
    }

    pub(crate) fn entity_get(self: &Arc<Self>, e: &Entity, attribute: &str) -> Result<Value> {
        if let Some(d) = self.derived_of(e.slot, attribute) {
            return self.derived_get(e, &d);
        }
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
            if slot.state != SlotState::Persisted || !self.auto_populating() {
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
}
