//! The identity map: one slot per (entity type, primary key) in a session.
//!
//! A slot keeps the server's values (`remote`) and the caller's uncommitted
//! values (`local`) apart; reads prefer `local`, so merging a server answer never
//! overwrites a local edit. Attribute names are interned ids; values use the
//! compact [`Stored`] form.

use std::collections::VecDeque;
use std::hash::Hasher;
use std::sync::Arc;

use crate::schema::FastHasher;
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
    pub key: Arc<str>,
    pub remote: Attrs,
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
        self.remote.set(attr, v);
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

/// The server values of a slot: a boxed slice, exactly as long as it needs to
/// be (no spare capacity, 16 bytes in the slot instead of a `Vec`'s 24). Most
/// slots receive all their attributes at once and never grow; growing by one
/// reallocates, which is rare (auto-populate, later projections).
#[derive(Debug, Default, Clone)]
pub(crate) struct Attrs(Box<[(u32, Stored)]>);

impl Attrs {
    /// Sets `attr` to `v`, replacing an earlier value.
    #[inline]
    pub(crate) fn set(&mut self, attr: u32, v: Stored) {
        match self.0.iter_mut().find(|(a, _)| *a == attr) {
            Some(e) => e.1 = v,
            None => {
                let mut all = std::mem::take(&mut self.0).into_vec();
                all.reserve_exact(1);
                all.push((attr, v));
                self.0 = all.into_boxed_slice();
            }
        }
    }

    /// Removes `attr` (it reads as not loaded again).
    pub(crate) fn remove(&mut self, attr: u32) {
        if self.0.iter().any(|(a, _)| *a == attr) {
            let kept: Vec<(u32, Stored)> =
                self.0.iter().filter(|(a, _)| *a != attr).cloned().collect();
            self.0 = kept.into_boxed_slice();
        }
    }

    /// Removes every value.
    pub(crate) fn clear(&mut self) {
        self.0 = Box::default();
    }

    /// The values, to change in place.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [(u32, Stored)] {
        &mut self.0
    }

    /// The values, by value.
    pub(crate) fn into_vec(self) -> Vec<(u32, Stored)> {
        self.0.into_vec()
    }
}

impl std::ops::Deref for Attrs {
    type Target = [(u32, Stored)];
    #[inline]
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl From<Vec<(u32, Stored)>> for Attrs {
    fn from(v: Vec<(u32, Stored)>) -> Self {
        Attrs(v.into_boxed_slice())
    }
}

impl<'a> IntoIterator for &'a Attrs {
    type Item = &'a (u32, Stored);
    type IntoIter = std::slice::Iter<'a, (u32, Stored)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The (type, key) → slot index: open addressing with linear probing over
/// `(slot, hash)` pairs. The key itself is only stored once, in the slot, so
/// a cached entity costs 8 bytes of index (at most 3/4 full) instead of a
/// second boxed copy of its key plus a hash-map entry.
#[derive(Default)]
struct KeyIndex {
    /// `(slot + 1, tag: the high 32 bits of the hash)`; slot 0 marks an empty bucket,
    /// [`TOMBSTONE`] a removed one.
    buckets: Vec<(u32, u32)>,
    /// Live entries.
    len: usize,
    /// Live entries plus tombstones (what the load factor counts).
    used: usize,
}

const TOMBSTONE: u32 = u32::MAX;

/// The part of a key's hash a bucket keeps (and picks its start from).
#[inline]
fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// The hash of a key's text alone, without its type: what the decoder
/// computes for each entity while decoding a page away from the session's
/// lock, so that merging the page does not hash its keys again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextHash(u64);

/// The [`TextHash`] of `key`.
#[inline]
pub(crate) fn text_hash(key: &str) -> TextHash {
    let mut h = FastHasher::default();
    h.write(key.as_bytes());
    TextHash(h.finish())
}

/// The index hash of (type, key text).
#[inline]
fn key_hash_of(ty: u32, text: TextHash) -> u64 {
    // Spread the bits: buckets are picked from the high bits.
    (text.0 ^ u64::from(ty).wrapping_mul(0x517c_c1b7_2722_0a95)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[inline]
fn key_hash(ty: u32, key: &str) -> u64 {
    key_hash_of(ty, text_hash(key))
}

impl KeyIndex {
    /// The bucket a probe starts from: the top bits of the tag, so that a
    /// rehash needs only the tags, not the keys.
    #[inline]
    fn start(&self, tag: u32) -> usize {
        let bits = self.buckets.len().trailing_zeros();
        debug_assert!((1..=32).contains(&bits));
        (tag >> (32 - bits)) as usize
    }

    /// The bucket holding (ty, key), or `Err` with the first free bucket seen.
    #[inline]
    fn probe(&self, slots: &[Slot], ty: u32, key: &str, hash: u64) -> Result<usize, usize> {
        let mask = self.buckets.len() - 1;
        let tag = tag_of(hash);
        let mut i = self.start(tag);
        let mut free = None;
        loop {
            let (s, t) = self.buckets[i];
            if s == 0 {
                return Err(free.unwrap_or(i));
            }
            if s == TOMBSTONE {
                free.get_or_insert(i);
            } else if t == tag {
                let slot = &slots[(s - 1) as usize];
                if slot.ty == ty && *slot.key == *key {
                    return Ok(i);
                }
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn find(&self, slots: &[Slot], ty: u32, key: &str) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let i = self.probe(slots, ty, key, key_hash(ty, key)).ok()?;
        Some(self.buckets[i].0 - 1)
    }

    /// Makes room for one more entry (rehashing without tombstones when needed).
    #[inline]
    fn reserve_one(&mut self) {
        self.reserve(1);
    }

    /// Makes room for `more` entries (rehashing without tombstones when needed).
    fn reserve(&mut self, more: usize) {
        if (self.used + more) * 4 <= self.buckets.len() * 3 {
            return;
        }
        let wanted = ((self.len + more) * 2).next_power_of_two().max(16);
        let old = std::mem::replace(&mut self.buckets, vec![(0, 0); wanted]);
        self.used = self.len;
        let mask = wanted - 1;
        for (s, t) in old {
            if s == 0 || s == TOMBSTONE {
                continue;
            }
            let mut i = self.start(t);
            while self.buckets[i].0 != 0 {
                i = (i + 1) & mask;
            }
            self.buckets[i] = (s, t);
        }
    }

    fn remove(&mut self, slots: &[Slot], ty: u32, key: &str, slot: u32) {
        if self.len == 0 {
            return;
        }
        if let Ok(i) = self.probe(slots, ty, key, key_hash(ty, key))
            && self.buckets[i].0 == slot + 1
        {
            self.buckets[i].0 = TOMBSTONE;
            self.len -= 1;
        }
    }
}

#[derive(Default)]
pub(crate) struct IdentityMap {
    pub slots: Vec<Slot>,
    index: KeyIndex,
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
        self.index.find(&self.slots, ty, key)
    }

    /// Makes room for `more` new slots, so that adding them grows nothing.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.slots.reserve(more);
        self.index.reserve(more);
    }

    /// The slot of (ty, key), created empty when absent. The bool is true when new.
    #[inline]
    pub(crate) fn get_or_insert(&mut self, ty: u32, key: &str) -> (u32, bool) {
        self.get_or_insert_key(ty, key)
    }

    /// [`IdentityMap::get_or_insert`] with a key the caller may own: a new
    /// slot keeps an owned key as it is, no copy is made.
    #[inline]
    pub(crate) fn get_or_insert_key<K: AsRef<str> + Into<Arc<str>>>(
        &mut self,
        ty: u32,
        key: K,
    ) -> (u32, bool) {
        let text = text_hash(key.as_ref());
        self.get_or_insert_hashed(ty, key, text)
    }

    /// [`IdentityMap::get_or_insert_key`] with the [`TextHash`] of `key`
    /// already computed.
    #[inline]
    pub(crate) fn get_or_insert_hashed<K: AsRef<str> + Into<Arc<str>>>(
        &mut self,
        ty: u32,
        key: K,
        text: TextHash,
    ) -> (u32, bool) {
        debug_assert_eq!(text.0, text_hash(key.as_ref()).0);
        self.index.reserve_one();
        let hash = key_hash_of(ty, text);
        let bucket = match self.index.probe(&self.slots, ty, key.as_ref(), hash) {
            Ok(i) => return (self.index.buckets[i].0 - 1, false),
            Err(i) => i,
        };
        let s = self.slots.len() as u32;
        if self.index.buckets[bucket].0 == 0 {
            self.index.used += 1;
        }
        self.index.buckets[bucket] = (s + 1, tag_of(hash));
        self.index.len += 1;
        self.slots.push(Slot {
            ty,
            key: key.into(),
            remote: Attrs::default(),
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
        let s = &self.slots[slot as usize];
        self.index.remove(&self.slots, s.ty, &s.key, slot);
        let s = &mut self.slots[slot as usize];
        s.state = SlotState::Removed;
        s.remote = Attrs::default();
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

    /// Makes the entities of result `from` members of result `into` (the pages
    /// of one query form one result, so auto-populate covers the whole query).
    /// Nothing happens when either result is forgotten.
    pub(crate) fn merge_result(&mut self, into: u32, from: u32) {
        if into == from {
            return;
        }
        let Some(fi) = self.results.iter().position(|(id, _)| *id == from) else {
            return;
        };
        if !self.results.iter().any(|(id, _)| *id == into) {
            return;
        }
        let moved = std::mem::take(&mut self.results[fi].1);
        self.results.remove(fi);
        for &s in &moved {
            self.slots[s as usize].origin = into;
        }
        if let Some((_, members)) = self.results.iter_mut().find(|(id, _)| *id == into) {
            members.extend(moved);
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
        self.index.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_index_finds_inserts_and_forgets_removed_slots() {
        let mut m = IdentityMap::default();
        let mut slots = Vec::new();
        for i in 0..5000u32 {
            let (s, new) = m.get_or_insert(i % 3, &format!("key-{i}"));
            assert!(new);
            slots.push(s);
        }
        assert_eq!(m.live_len(), 5000);
        for i in 0..5000u32 {
            let key = format!("key-{i}");
            assert_eq!(m.find(i % 3, &key), Some(slots[i as usize]));
            assert_eq!(m.get_or_insert(i % 3, &key), (slots[i as usize], false));
            // Same key, other type: a different entity.
            assert_eq!(m.find((i + 1) % 3, &key), None);
        }
        for i in (0..5000u32).step_by(2) {
            m.remove(slots[i as usize]);
        }
        assert_eq!(m.live_len(), 2500);
        for i in 0..5000u32 {
            let found = m.find(i % 3, &format!("key-{i}"));
            assert_eq!(found, (i % 2 == 1).then_some(slots[i as usize]));
        }
        // A removed key comes back as a new slot; churn never fills the table.
        for round in 0..4 {
            for i in (0..5000u32).step_by(2) {
                let (s, new) = m.get_or_insert(i % 3, &format!("key-{i}"));
                assert!(new, "round {round}");
                m.remove(s);
            }
        }
        assert_eq!(m.live_len(), 2500);
        assert!(m.index.buckets.len() <= 8192, "{}", m.index.buckets.len());
    }

    #[test]
    fn attrs_set_replaces_or_appends() {
        let mut a = Attrs::from(vec![(1, Stored::Int(1))]);
        a.set(1, Stored::Int(2));
        a.set(7, Stored::Bool(true));
        assert_eq!(&a[..], &[(1, Stored::Int(2)), (7, Stored::Bool(true))]);
        a.clear();
        assert!(a.is_empty());
    }
}
