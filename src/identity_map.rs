//! The identity map: one slot per (entity type, primary key) in a session.
//!
//! A slot keeps the server's values (`remote`) and the caller's uncommitted
//! values (`local`) apart; reads prefer `local`, so merging a server answer never
//! overwrites a local edit. Attribute names are interned ids; values use the
//! compact [`Stored`] form.

use std::collections::VecDeque;

use crate::schema::FastMap;
use crate::value::Stored;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    /// Known to the server.
    Persisted,
    /// Created locally, not committed yet.
    Created,
    /// Gone: rolled back before being saved, or deleted on the server.
    Removed,
}

#[derive(Debug)]
pub(crate) struct Slot {
    pub ty: u32,
    /// Primary-key values joined by [`KEY_SEP`] (just the value for single keys).
    pub key: Box<str>,
    pub remote: Vec<(u32, Stored)>,
    pub local: Vec<(u32, Stored)>,
    /// The result (response) this entity last arrived in.
    pub origin: u32,
    pub state: SlotState,
    /// In [`IdentityMap::changed`] (only kept when tracking changes).
    pub changed: bool,
}

impl Slot {
    #[inline]
    pub(crate) fn get(&self, attr: u32) -> Option<&Stored> {
        self.local
            .iter()
            .find(|(a, _)| *a == attr)
            .or_else(|| self.remote.iter().find(|(a, _)| *a == attr))
            .map(|(_, v)| v)
    }

    #[inline]
    pub(crate) fn set_remote(&mut self, attr: u32, v: Stored) {
        match self.remote.iter_mut().find(|(a, _)| *a == attr) {
            Some(e) => e.1 = v,
            None => self.remote.push((attr, v)),
        }
    }

    #[inline]
    pub(crate) fn set_local(&mut self, attr: u32, v: Stored) {
        match self.local.iter_mut().find(|(a, _)| *a == attr) {
            Some(e) => e.1 = v,
            None => self.local.push((attr, v)),
        }
    }
}

/// Separator of composite primary-key values inside a slot key.
pub(crate) const KEY_SEP: char = '\u{1f}';

/// The slot key of a public id (whose composite key values are joined by `,`).
pub(crate) fn key_of_id(id: &str) -> String {
    id.replace(',', KEY_SEP.encode_utf8(&mut [0; 4]))
}

/// The public id of a slot key: composite key values joined by `,`.
pub(crate) fn id_of_key(key: &str) -> String {
    key.replace(KEY_SEP, ",")
}

/// How many results remember their members (for auto-populate).
const RESULTS_KEPT: usize = 256;

#[derive(Default)]
pub(crate) struct IdentityMap {
    pub slots: Vec<Slot>,
    index: Vec<FastMap<Box<str>, u32>>,
    results: VecDeque<(u32, Vec<u32>)>,
    next_result: u32,
    /// Whether [`IdentityMap::touch`] records slots (for the persistent cache).
    pub track_changes: bool,
    /// Slots whose server values changed or that were removed since the last
    /// [`IdentityMap::take_changed`].
    changed: Vec<u32>,
}

impl IdentityMap {
    #[inline]
    pub(crate) fn find(&self, ty: u32, key: &str) -> Option<u32> {
        self.index.get(ty as usize)?.get(key).copied()
    }

    /// The slot of (ty, key), created empty when absent. The bool is true when new.
    #[inline]
    pub(crate) fn get_or_insert(&mut self, ty: u32, key: &str) -> (u32, bool) {
        if self.index.len() <= ty as usize {
            self.index.resize_with(ty as usize + 1, FastMap::default);
        }
        let idx = &mut self.index[ty as usize];
        if let Some(&s) = idx.get(key) {
            return (s, false);
        }
        let s = self.slots.len() as u32;
        idx.insert(key.into(), s);
        self.slots.push(Slot {
            ty,
            key: key.into(),
            remote: Vec::new(),
            local: Vec::new(),
            origin: u32::MAX,
            state: SlotState::Persisted,
            changed: false,
        });
        (s, true)
    }

    /// Records that the server values of `slot` changed (when tracking changes).
    #[inline]
    pub(crate) fn touch(&mut self, slot: u32) {
        if self.track_changes {
            let s = &mut self.slots[slot as usize];
            if !s.changed {
                s.changed = true;
                self.changed.push(slot);
            }
        }
    }

    /// The slots touched since the last call, in order; clears the record.
    pub(crate) fn take_changed(&mut self) -> Vec<u32> {
        let changed = std::mem::take(&mut self.changed);
        for &s in &changed {
            self.slots[s as usize].changed = false;
        }
        changed
    }

    /// Tombstones a slot: it leaves the index; handles to it report it as gone.
    pub(crate) fn remove(&mut self, slot: u32) {
        self.touch(slot);
        let s = &mut self.slots[slot as usize];
        if let Some(idx) = self.index.get_mut(s.ty as usize)
            && idx.get(&s.key) == Some(&slot)
        {
            idx.remove(&s.key);
        }
        s.state = SlotState::Removed;
        s.remote = Vec::new();
        s.local = Vec::new();
    }

    /// Starts a new result; entities decoded into it are remembered with it.
    pub(crate) fn begin_result(&mut self) -> u32 {
        let id = self.next_result;
        self.next_result = self.next_result.wrapping_add(1);
        if self.results.len() >= RESULTS_KEPT {
            self.results.pop_front();
        }
        self.results.push_back((id, Vec::new()));
        id
    }

    #[inline]
    pub(crate) fn note(&mut self, result: u32, slot: u32) {
        let s = &mut self.slots[slot as usize];
        if s.origin != result {
            s.origin = result;
            if let Some((id, members)) = self.results.back_mut()
                && *id == result
            {
                members.push(slot);
            }
        }
    }

    /// The entities that arrived in `result` (empty when forgotten).
    pub(crate) fn members(&self, result: u32) -> &[u32] {
        self.results
            .iter()
            .rev()
            .find(|(id, _)| *id == result)
            .map(|(_, m)| m.as_slice())
            .unwrap_or(&[])
    }

    pub(crate) fn live_len(&self) -> usize {
        self.index.iter().map(|m| m.len()).sum()
    }
}
