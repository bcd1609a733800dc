//! Derived collections: attributes the server's schema does not have, which the
//! session derives from a collection and a reference on its items — e.g.
//! `User.security_roles`, the `security_role` of each of the user's
//! `user_security_roles`.
//!
//! # The seam
//!
//! The session knows how to *read* and *query* a derived collection (it is only
//! a path through the schema), but not what appending to or removing from one
//! means: that belongs to the layer that registered it, through
//! [`DerivedEdits`]. The roles layer registers `User.security_roles` with edits
//! that record `add_user_security_role` / `remove_user_security_role` through
//! its own validation (`ftrack::roles::install`); the session never depends on
//! the roles module.
//!
//! * Reads: [`Entity::get`] on the derived name gives the distinct items, in
//!   order. When they are not loaded, one request loads them for every entity of
//!   the same query result that lacks them (all pages of the query).
//! * Queries: the name is rewritten to the real path before sending (see
//!   [`crate::Session::query`]); the server never sees it.
//! * Edits: [`Entity::collection_append`] / [`Entity::collection_remove`] call the
//!   registered [`DerivedEdits`]; what they accept is shown by reads until the
//!   next commit (after which the owner's collection is read again), rollback or
//!   reset.

use std::sync::Arc;

use super::attributes::live;
use super::{Inner, Session, State};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::identity_map::SlotState;
use crate::query;
use crate::schema::AttrKind;
use crate::value::{Refs, Stored, Value};

/// What appending to or removing from a derived collection does; implemented by
/// the layer that registers the collection.
pub trait DerivedEdits: std::fmt::Debug + Send + Sync + 'static {
    /// Records that `item` joins `owner`'s collection (validating first).
    fn append(&self, owner: &Entity, item: &Entity) -> Result<()>;
    /// Records that `item` leaves `owner`'s collection (validating first).
    fn remove(&self, owner: &Entity, item: &Entity) -> Result<()>;
}

/// A collection attribute derived by the client: on `entity_type`, `name` is the
/// distinct `item` references of the `through` collection's entities.
#[derive(Debug, Clone)]
pub struct DerivedCollection {
    entity_type: String,
    name: String,
    through: String,
    item: String,
    target_type: String,
    edits: Option<Arc<dyn DerivedEdits>>,
}

impl DerivedCollection {
    /// `name` on `entity_type` derived as `through.item`, read-only until
    /// [`DerivedCollection::with_edits`].
    pub fn new(
        entity_type: impl Into<String>,
        name: impl Into<String>,
        through: impl Into<String>,
        item: impl Into<String>,
    ) -> DerivedCollection {
        DerivedCollection {
            entity_type: entity_type.into(),
            name: name.into(),
            through: through.into(),
            item: item.into(),
            target_type: String::new(),
            edits: None,
        }
    }

    /// Makes appends and removals go through `edits`.
    pub fn with_edits(mut self, edits: Arc<dyn DerivedEdits>) -> DerivedCollection {
        self.edits = Some(edits);
        self
    }

    /// The entity type that has the derived collection, e.g. `"User"`.
    pub fn entity_type(&self) -> &str {
        &self.entity_type
    }

    /// The derived attribute's name, e.g. `"security_roles"`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The real collection it derives from, e.g. `"user_security_roles"`.
    pub fn through(&self) -> &str {
        &self.through
    }

    /// The reference on the `through` items, e.g. `"security_role"`.
    pub fn item(&self) -> &str {
        &self.item
    }

    /// The type of the derived items, e.g. `"SecurityRole"` (known once registered).
    pub fn target_type(&self) -> &str {
        &self.target_type
    }
}

/// Local edits of one owner's derived collections, shown by reads until the
/// next commit, rollback or reset.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overlay {
    /// (derived name, items added, items removed)
    edits: Vec<(String, Vec<u32>, Vec<u32>)>,
}

impl Overlay {
    fn entry(&mut self, name: &str) -> &mut (String, Vec<u32>, Vec<u32>) {
        if let Some(i) = self.edits.iter().position(|e| e.0 == name) {
            return &mut self.edits[i];
        }
        self.edits.push((name.to_owned(), Vec::new(), Vec::new()));
        self.edits.last_mut().expect("just pushed")
    }
}

impl Session {
    /// Registers a derived collection (replacing one of the same type and name).
    ///
    /// Errors: [`Error::UnknownEntityType`]; [`Error::InvalidArgument`] when
    /// `through` is not a collection of the type, `item` not a reference of its
    /// items, or `name` is a real attribute of the type.
    pub fn register_derived_collection(&self, mut derived: DerivedCollection) -> Result<()> {
        {
            let st = self.inner.lock();
            let tid = st.schema.require_type(&derived.entity_type)?;
            let attr_kind = |tid: u32, name: &str| {
                st.schema
                    .attrs
                    .get(name)
                    .and_then(|a| st.schema.kind(tid, a))
            };
            if attr_kind(tid, &derived.name).is_some() {
                return Err(Error::InvalidArgument(format!(
                    "{}.{} is an attribute of the server's schema; a derived collection needs \
                     another name",
                    derived.entity_type, derived.name
                )));
            }
            let Some(AttrKind::Collection(via)) = attr_kind(tid, &derived.through) else {
                return Err(Error::InvalidArgument(format!(
                    "{}.{} is not a collection in the server's schema; derive from a collection",
                    derived.entity_type, derived.through
                )));
            };
            let via_tid = st.schema.require_type(via)?;
            let Some(AttrKind::Ref(target)) = attr_kind(via_tid, &derived.item) else {
                return Err(Error::InvalidArgument(format!(
                    "{via}.{} is not a reference in the server's schema; derive through a \
                     reference",
                    derived.item
                )));
            };
            derived.target_type = target.clone();
        }
        let mut all = self
            .inner
            .derived
            .write()
            .unwrap_or_else(|e| e.into_inner());
        all.retain(|d| !(d.entity_type == derived.entity_type && d.name == derived.name));
        all.push(Arc::new(derived));
        Ok(())
    }

    /// The derived collections registered on this session.
    pub fn derived_collections(&self) -> Vec<DerivedCollection> {
        self.inner
            .derived_list()
            .iter()
            .map(|d| (**d).clone())
            .collect()
    }
}

impl Inner {
    pub(crate) fn derived_list(&self) -> Vec<Arc<DerivedCollection>> {
        self.derived
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The derived collection `attribute` of the entity in `slot`, if it is one.
    pub(super) fn derived_of(&self, slot: u32, attribute: &str) -> Option<Arc<DerivedCollection>> {
        // The list is copied so that its lock is never held with the state's.
        let all: Vec<Arc<DerivedCollection>> = {
            let all = self.derived.read().unwrap_or_else(|e| e.into_inner());
            all.iter()
                .filter(|d| d.name == attribute)
                .cloned()
                .collect()
        };
        if all.is_empty() {
            return None;
        }
        let st = self.lock();
        let ty = &st.schema.ty(st.map.slots[slot as usize].ty).name;
        all.into_iter().find(|d| &d.entity_type == ty)
    }

    /// The derived items of `slot` if its `through` collection and each item's
    /// reference are loaded (local edits applied), else `None`.
    fn derived_loaded(st: &State, d: &DerivedCollection, slot: u32) -> Option<Vec<u32>> {
        let through = st.schema.attrs.get(&d.through)?;
        let item = st.schema.attrs.get(&d.item)?;
        let mut out: Vec<u32> = Vec::new();
        match st.map.slots[slot as usize].get(through)? {
            Stored::Coll(items) => {
                for &via in items.iter() {
                    match st.map.slots[via as usize].get(item)? {
                        Stored::Ref(r) if !out.contains(r) => out.push(*r),
                        _ => {}
                    }
                }
            }
            Stored::Null => {}
            _ => return None,
        }
        Some(out)
    }

    fn with_overlay(st: &State, d: &DerivedCollection, slot: u32, mut items: Vec<u32>) -> Vec<u32> {
        if let Some(o) = st.derived_edits.get(&slot)
            && let Some((_, added, removed)) = o.edits.iter().find(|e| e.0 == d.name)
        {
            items.retain(|i| !removed.contains(i));
            for a in added {
                if !items.contains(a) {
                    items.push(*a);
                }
            }
        }
        items
    }

    /// Reads a derived collection, loading it for the whole result when needed.
    pub(super) fn derived_get(
        self: &Arc<Self>,
        e: &Entity,
        d: &DerivedCollection,
    ) -> Result<Value> {
        let mut fetched = false;
        loop {
            let (ty, pk, keys, projection) = {
                let st = self.lock();
                live(&st, e.slot)?;
                let s = &st.map.slots[e.slot as usize];
                let loaded = Self::derived_loaded(&st, d, e.slot);
                if loaded.is_some()
                    || fetched
                    || s.state != SlotState::Persisted
                    || !self.auto_populating()
                {
                    let items = Self::with_overlay(&st, d, e.slot, loaded.unwrap_or_default());
                    return Ok(Value::Collection(
                        items.into_iter().map(|i| self.entity_from(i)).collect(),
                    ));
                }
                let tid = s.ty;
                let mut keys = vec![s.key.to_string()];
                for &m in st.map.members(s.origin) {
                    let o = &st.map.slots[m as usize];
                    if m != e.slot
                        && o.ty == tid
                        && o.state == SlotState::Persisted
                        && Self::derived_loaded(&st, d, m).is_none()
                    {
                        keys.push(o.key.to_string());
                    }
                }
                let target = st
                    .schema
                    .known_type(&d.target_type)
                    .map(|t| st.schema.ty(t).default_projections.clone())
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| vec!["id".to_owned()]);
                let projection = target
                    .iter()
                    .map(|p| format!("{}.{}.{p}", d.through, d.item))
                    .collect::<Vec<_>>()
                    .join(", ");
                let info = st.schema.ty(tid);
                (
                    info.name.clone(),
                    info.primary_key.clone(),
                    keys,
                    projection,
                )
            };
            // All keys in one expression, all rows in one page: one request for
            // the whole result (more only if the server caps the page).
            let expr = format!(
                "select {projection} from {ty} where {}",
                query::key_condition(&pk, &keys.iter().map(String::as_str).collect::<Vec<_>>())
            );
            self.query_pages_sized(&expr, keys.len() as u64)?;
            // What the server did not send is an empty collection: not fetched again.
            let mut st = self.lock();
            let st = &mut *st;
            if let Some(through) = st.schema.attrs.get(&d.through) {
                let tid = st.map.slots[e.slot as usize].ty;
                for k in &keys {
                    if let Some(s) = st.map.find(tid, k) {
                        let slot = &mut st.map.slots[s as usize];
                        if slot.get(through).is_none() {
                            slot.set_remote(through, Stored::Coll(Refs::from(&[][..])));
                        }
                    }
                }
            }
            fetched = true;
        }
    }

    /// Pages through `expr` with pages of `rows` rows (one request when the
    /// server honours the limit).
    fn query_pages_sized(self: &Arc<Self>, expr: &str, rows: u64) -> Result<()> {
        let mut cursor =
            super::QueryCursor::new(self.clone(), expr.to_owned(), 0, None, Some(rows.max(1)));
        while cursor.next_page()?.is_some() {}
        Ok(())
    }

    /// Appends to or removes from a derived collection through its registered edits.
    pub(super) fn derived_change(
        self: &Arc<Self>,
        owner: &Entity,
        d: &DerivedCollection,
        item: &Entity,
        append: bool,
    ) -> Result<()> {
        self.check_same(item)?;
        let Some(edits) = &d.edits else {
            return Err(Error::InvalidArgument(format!(
                "{}.{} is derived and read-only in this session; the layer that edits it is not \
                 installed (for security_roles: ftrack::roles::install(&session))",
                d.entity_type, d.name
            )));
        };
        let item_type = item.entity_type();
        if item_type != d.target_type {
            return Err(Error::InvalidArgument(format!(
                "{}.{} holds {} entities, not {item_type}; pass a {}",
                d.entity_type, d.name, d.target_type, d.target_type
            )));
        }
        if append {
            edits.append(owner, item)?;
        } else {
            edits.remove(owner, item)?;
        }
        let mut st = self.lock();
        let entry = st.derived_edits.entry(owner.slot).or_default();
        let (_, added, removed) = entry.entry(&d.name);
        if append {
            removed.retain(|&x| x != item.slot);
            if !added.contains(&item.slot) {
                added.push(item.slot);
            }
        } else {
            added.retain(|&x| x != item.slot);
            if !removed.contains(&item.slot) {
                removed.push(item.slot);
            }
        }
        Ok(())
    }
}

/// After a commit that sent the derived edits: the owners' `through`
/// collections are stale (the server changed them), so they are dropped and read
/// again on the next read; the edits are forgotten.
pub(super) fn committed(st: &mut State, derived: &[Arc<DerivedCollection>]) {
    let owners: Vec<(u32, Vec<String>)> = st
        .derived_edits
        .drain()
        .map(|(slot, o)| (slot, o.edits.into_iter().map(|e| e.0).collect()))
        .collect();
    for (slot, names) in owners {
        let ty = st.schema.ty(st.map.slots[slot as usize].ty).name.clone();
        for name in names {
            let Some(d) = derived
                .iter()
                .find(|d| d.name == name && d.entity_type == ty)
            else {
                continue;
            };
            if let Some(through) = st.schema.attrs.get(&d.through) {
                st.map.slots[slot as usize].remote.remove(through);
            }
        }
    }
}
