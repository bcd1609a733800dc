//! Decoding server answers into an identity map.
//!
//! Decoding is two steps, so that the work on the bytes can run away from the
//! session's lock (on the threads that fetched the pages, while the session
//! merges an earlier page):
//!
//! 1. [`decode`] walks the bytes once with its own strict JSON reader
//!    ([`crate::json_reader`]: strings without escapes borrowed from the reply, no token
//!    or value built that is not kept) and needs nothing of the session but the primary keys of the types ([`Keys`]).
//!    Every JSON object with `__entity_type__` lands in a page-local
//!    [`IdentityMap`] slot as it is read: attribute and type names numbered by
//!    the page's own interners, values in their final compact [`Stored`] form,
//!    references as page-local slot numbers; de-duplicated references
//!    (`{"__entity_type__", "id"}` only) simply point at the slot. No
//!    intermediate `serde_json::Value` tree is built for entities.
//! 2. [`Staged::merge`] moves those slots into the session's map: one index
//!    lookup per entity, the page's few names translated once, references
//!    renumbered in place and the values moved, never copied or re-parsed.
//!    The schema's attribute kinds are applied here (integers of float
//!    attributes, date-time strings).

use crate::json_reader::{self as reader, Key, Next, Number, Reader};

use crate::datetime::parse_iso;
use crate::identity_map::{IdentityMap, KEY_SEP, TextHash, text_hash};
use crate::schema::{ATTR_ENTITY_TYPE, ATTR_TYPE, ATTR_VALUE, AttrKind, Interner, Keys, Schema};
use crate::value::{Refs, Stored, Text};

/// What the element at one position of the response is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// `{"action": "query", "data": [entities], "metadata": {"next": {"offset"}}}`
    Query,
    /// `{"action": "create"|"update"|"delete", "data": entity|true}`
    Data,
    /// Anything else: checked to be JSON and skipped.
    Other,
}

#[derive(Debug)]
pub(crate) enum Answer {
    Query {
        slots: Vec<u32>,
        next_offset: Option<u64>,
    },
    /// An operation result; its entity, if any, was merged into the map.
    Data,
    /// Any other element, skipped.
    Other,
}

#[derive(Debug)]
pub(crate) enum Decoded {
    Answers(Vec<Answer>),
    /// The top-level error object `{"exception", "content", "error_code"}`.
    Error(serde_json::Map<String, serde_json::Value>),
}

/// A response decoded by [`decode`], not merged yet: its entities in a
/// page-local identity map whose type and attribute ids are the page's own.
pub(crate) struct Staged {
    names: Interner,
    types: Interner,
    map: IdentityMap,
    /// The [`TextHash`] of each slot's key, by slot.
    hashes: Vec<TextHash>,
    /// The answers; query rows are slots of `map`.
    decoded: Decoded,
}

/// Decodes a whole response; element `i` is decoded as `expects[i]` (JSON past
/// the end). `keys` says how each type's entities are identified.
pub(crate) fn decode(bytes: &[u8], expects: &[Expect], keys: &Keys) -> reader::Result<Staged> {
    let mut d = Decoder {
        keys,
        names: Interner::with_reserved_names(),
        types: Interner::default(),
        pks: Vec::new(),
        map: IdentityMap::default(),
        hashes: Vec::new(),
        scratch: Vec::with_capacity(64),
        refs: Vec::with_capacity(64),
        guesses: Guesses::new(),
    };
    // Checked as UTF-8 once, in one fast pass, rather than string by string.
    let text = std::str::from_utf8(bytes)
        .map_err(|e| reader::Error::new("the reply is not UTF-8", e.valid_up_to()))?;
    let mut r = Reader::new(text);
    let decoded = d.response(&mut r, expects)?;
    r.end()?;
    Ok(Staged {
        names: d.names,
        types: d.types,
        map: d.map,
        hashes: d.hashes,
        decoded,
    })
}

/// [`decode`] with the schema's keys, then [`Staged::merge`]: the answers and
/// the result their entities were merged into.
pub(crate) fn decode_into(
    schema: &mut Schema,
    map: &mut IdentityMap,
    bytes: &[u8],
    expects: &[Expect],
) -> reader::Result<(Decoded, u32)> {
    let keys = schema.keys();
    Ok(decode(bytes, expects, &keys)?.merge(schema, map))
}

impl Staged {
    /// The next offset the first answer announces, when it is a query answer
    /// (`Some(None)`: no page follows).
    pub(crate) fn query_next_offset(&self) -> Option<Option<u64>> {
        match &self.decoded {
            Decoded::Answers(a) => match a.first()? {
                Answer::Query { next_offset, .. } => Some(*next_offset),
                _ => None,
            },
            Decoded::Error(_) => None,
        }
    }

    /// Moves the decoded entities into `map` as one new result (see
    /// [`IdentityMap::begin_result`]), in the order they were decoded: a slot
    /// seen for the first time takes the decoded values as they are (one
    /// exactly sized allocation, made by [`decode`]); a known one is updated in
    /// place. Returns the answers, with query rows as slots of `map`, and the
    /// result.
    pub(crate) fn merge(self, schema: &mut Schema, map: &mut IdentityMap) -> (Decoded, u32) {
        let result = map.begin_result();
        let attr: Vec<u32> = self
            .names
            .names()
            .iter()
            .map(|n| schema.attrs.intern(n))
            .collect();
        let ty: Vec<u32> = self
            .types
            .names()
            .iter()
            .map(|n| schema.type_id_or_register(n))
            .collect();
        let mut local = self.map.slots;
        map.reserve(local.len());
        let mut slot = Vec::with_capacity(local.len());
        assert_eq!(self.hashes.len(), local.len(), "one key hash per slot");
        for (s, &text) in local.iter_mut().zip(&self.hashes) {
            let key = std::mem::take(&mut s.key);
            let (g, _) = map.get_or_insert_hashed(ty[s.ty as usize], key, text);
            map.note(result, g);
            map.touch(g);
            slot.push(g);
        }
        // What the schema makes of each (type, attribute) of the page, looked
        // up once per page rather than once per value.
        let mut convert: Vec<Vec<Option<Convert>>> = vec![Vec::new(); ty.len()];
        for (s, &g) in local.into_iter().zip(&slot) {
            let t = ty[s.ty as usize];
            let mut values = s.remote;
            let known = &mut convert[s.ty as usize];
            for (a, v) in values.as_mut_slice() {
                let local_attr = *a as usize;
                *a = attr[local_attr];
                match v {
                    Stored::Ref(r) => *r = slot[*r as usize],
                    Stored::Coll(c) => c.iter_mut().for_each(|r| *r = slot[*r as usize]),
                    _ => {}
                }
                if known.len() <= local_attr {
                    known.resize(local_attr + 1, None);
                }
                let how = *known[local_attr].get_or_insert_with(|| match schema.kind(t, *a) {
                    Some(AttrKind::Float) => Convert::Float,
                    Some(AttrKind::DateTime) => Convert::DateTime,
                    Some(AttrKind::Json) => Convert::Json,
                    _ => Convert::Keep,
                });
                match (how, &*v) {
                    (Convert::Keep, _) => {}
                    (Convert::Float, Stored::Int(i)) => *v = Stored::Float(*i as f64),
                    (Convert::DateTime, Stored::Str(text)) => {
                        if let Some(t) = parse_iso(text) {
                            *v = Stored::DateTime(t);
                        }
                    }
                    (Convert::Json, Stored::Ref(r)) => {
                        *v = Stored::Json(Box::new(crate::operations::reference_json(
                            schema, map, *r,
                        )));
                    }
                    (Convert::Json, Stored::Coll(c)) => {
                        let list = c
                            .iter()
                            .map(|&r| crate::operations::reference_json(schema, map, r))
                            .collect();
                        *v = Stored::Json(Box::new(serde_json::Value::Array(list)));
                    }
                    _ => {}
                }
            }
            let target = &mut map.slots[g as usize];
            if target.remote.is_empty() {
                target.remote = values;
            } else {
                for (a, v) in values.into_vec() {
                    target.set_remote(a, v);
                }
            }
        }
        let decoded = match self.decoded {
            Decoded::Answers(mut answers) => {
                for a in &mut answers {
                    if let Answer::Query { slots, .. } = a {
                        slots.iter_mut().for_each(|r| *r = slot[*r as usize]);
                    }
                }
                Decoded::Answers(answers)
            }
            error => error,
        };
        (decoded, result)
    }
}

/// What merging does to a decoded value of an attribute, by its kind.
#[derive(Clone, Copy)]
enum Convert {
    /// Kept as decoded.
    Keep,
    /// An integer becomes a float.
    Float,
    /// A string in ISO 8601 becomes a date-time.
    DateTime,
    /// References become their JSON form.
    Json,
}

/// A value while it is being decoded.
enum Dec<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    /// A string without escapes, as it is in the reply: copied only once it
    /// is known where it goes (an entity's `id` shares its slot's key).
    Slice(&'a str),
    DateTime(i64),
    Ref(u32),
    Refs(Refs),
    /// Boxed: a value is returned and stored often, plain JSON is rare.
    Json(Box<serde_json::Value>),
    Type(u32),
}

impl Dec<'_> {
    /// The text of a string value.
    fn text(&self) -> Option<&str> {
        match self {
            Dec::Str(s) => Some(s),
            Dec::Slice(s) => Some(s),
            _ => None,
        }
    }
}

/// The holder of the rows of a query answer and of an operation's entity (no
/// attribute holds them).
const ROWS: u32 = u32::MAX - 1;

/// No name: the start of an object, or no guess yet.
const NO_NAME: u32 = u32::MAX;

/// What the decoder expects next, learnt from what it read: a reply repeats
/// the same keys in the same order object after object, and the same types
/// under the same attributes. A guess that holds is checked against the bytes
/// of the reply, which is cheaper than reading a string and interning it; a
/// wrong one costs one comparison and is replaced.
struct Guesses {
    /// The key after a key (or at the start of an object), by the object's
    /// context (its type once read, else its holder); direct-mapped.
    keys: [u32; 256],
    /// The type of an entity, by the attribute holding it; direct-mapped.
    types: [u32; 32],
}

impl Guesses {
    fn new() -> Guesses {
        Guesses {
            keys: [NO_NAME; 256],
            types: [NO_NAME; 32],
        }
    }

    /// The context of an object's keys: its type once known, else its holder.
    #[inline]
    fn context(holder: u32, ty: Option<u32>) -> usize {
        match ty {
            Some(t) => (t as usize).wrapping_mul(2).wrapping_add(1),
            None => (holder as usize).wrapping_mul(2),
        }
    }

    /// Where the guess of the key after `prev` in `context` is kept.
    #[inline]
    fn at(context: usize, prev: u32) -> usize {
        (context.wrapping_mul(0x9e37) ^ (prev as usize).wrapping_mul(31)) & 255
    }
}

/// The state of [`decode`]: ids and slots are the page's own.
struct Decoder<'k, 'a> {
    keys: &'k Keys,
    /// Attribute names.
    names: Interner,
    /// Entity type names.
    types: Interner,
    /// Type id → the ids of its primary-key attributes.
    pks: Vec<Box<[u32]>>,
    map: IdentityMap,
    /// The [`TextHash`] of each slot's key, by slot.
    hashes: Vec<TextHash>,
    scratch: Vec<(u32, Dec<'a>)>,
    /// The references of the lists being decoded.
    refs: Vec<u32>,
    guesses: Guesses,
}

impl<'a> Decoder<'_, 'a> {
    /// The id of the type named `name`, its primary key looked up the first time.
    fn type_id(&mut self, name: &str) -> u32 {
        let t = self.types.intern(name);
        if t as usize == self.pks.len() {
            let pk = match self.keys.primary_key(name) {
                Some(pk) => pk.iter().map(|k| self.names.intern(k)).collect(),
                None => Box::new([self.names.intern("id")]) as Box<[u32]>,
            };
            self.pks.push(pk);
        }
        t
    }

    /// `{"__entity_type__": T, <pk>: value}` for a slot of this page.
    fn reference_json(&self, slot: u32) -> serde_json::Value {
        let s = &self.map.slots[slot as usize];
        let pk = self.pks[s.ty as usize].iter().map(|&a| self.names.name(a));
        crate::operations::reference_json_of(self.types.name(s.ty), pk, &s.key)
    }

    fn to_json(&self, d: Dec<'a>) -> serde_json::Value {
        use serde_json::Value as J;
        match d {
            Dec::Null => J::Null,
            Dec::Bool(b) => J::Bool(b),
            Dec::Int(i) => J::from(i),
            Dec::Float(f) => J::from(f),
            Dec::Str(s) => J::String(s.into()),
            Dec::Slice(s) => J::String(s.to_owned()),
            Dec::DateTime(t) => crate::operations::datetime_json(t),
            Dec::Ref(s) => self.reference_json(s),
            Dec::Refs(v) => J::Array(v.iter().map(|&s| self.reference_json(s)).collect()),
            Dec::Json(j) => *j,
            Dec::Type(t) => J::String(self.types.name(t).to_owned()),
        }
    }

    /// Finishes the object whose entries are `scratch[start..]`.
    fn finish_object(&mut self, start: usize) -> Dec<'a> {
        let entries = &self.scratch[start..];
        let ty = entries.iter().find_map(|(a, d)| match d {
            Dec::Type(t) if *a == ATTR_ENTITY_TYPE => Some(*t),
            _ => None,
        });
        if let Some(ty) = ty {
            if let Some(slot) = self.merge_entity(ty, start) {
                self.scratch.truncate(start);
                return Dec::Ref(slot);
            }
        } else if let Some(dt) = self.datetime_wrapper(start) {
            self.scratch.truncate(start);
            return dt;
        }
        let mut obj = serde_json::Map::new();
        let entries: Vec<(u32, Dec)> = self.scratch.drain(start..).collect();
        for (a, d) in entries {
            let k = self.names.name(a).to_owned();
            obj.insert(k, self.to_json(d));
        }
        Dec::Json(Box::new(serde_json::Value::Object(obj)))
    }

    fn datetime_wrapper(&self, start: usize) -> Option<Dec<'a>> {
        let entries = &self.scratch[start..];
        if entries.len() != 2 {
            return None;
        }
        let mut is_dt = false;
        let mut value = None;
        for (a, d) in entries {
            match (*a, d) {
                (ATTR_TYPE, d) if matches!(d.text(), Some("datetime" | "date")) => is_dt = true,
                (ATTR_VALUE, d) if d.text().is_some() => value = d.text(),
                (ATTR_VALUE, Dec::Null) => return is_dt.then_some(Dec::Null),
                _ => {}
            }
        }
        if !is_dt {
            return None;
        }
        parse_iso(value?).map(Dec::DateTime)
    }

    fn merge_entity(&mut self, ty: u32, start: usize) -> Option<u32> {
        let pk_ids = &self.pks[ty as usize];
        let entries = &self.scratch[start..];
        let mut single: Option<&str> = None;
        let mut composite = String::new();
        let mut owned_single: Option<String> = None;
        for (i, pk) in pk_ids.iter().enumerate() {
            let v = entries.iter().find(|(a, _)| a == pk).map(|(_, d)| d)?;
            let s: std::borrow::Cow<'_, str> = match (v.text(), v) {
                (Some(t), _) => std::borrow::Cow::Borrowed(t),
                (None, Dec::Int(n)) => std::borrow::Cow::Owned(n.to_string()),
                _ => return None,
            };
            if pk_ids.len() == 1 {
                match s {
                    std::borrow::Cow::Borrowed(b) => single = Some(b),
                    std::borrow::Cow::Owned(o) => owned_single = Some(o),
                }
            } else {
                if i > 0 {
                    composite.push(KEY_SEP);
                }
                composite.push_str(&s);
            }
        }
        let key: &str = match (single, &owned_single) {
            (Some(s), _) => s,
            (None, Some(o)) => o,
            _ => &composite,
        };
        let text = text_hash(key);
        let (slot, new) = self.map.get_or_insert_hashed(ty, key, text);
        if new {
            self.hashes.push(text);
        }
        // The attribute whose value is the whole key, kept once for both.
        let key_attr = match **pk_ids {
            [a] => a,
            _ => NO_NAME,
        };
        // A slot seen for the first time gets its attributes in one exactly
        // sized allocation; a known one is updated in place.
        let fresh = self.map.slots[slot as usize].remote.is_empty();
        let mut built: Vec<(u32, Stored)> = if fresh {
            Vec::with_capacity((self.scratch.len() - start).saturating_sub(1))
        } else {
            Vec::new()
        };
        // Attributes already in `built`, by id modulo 64: an object's keys are
        // distinct in practice, so the list is searched only on a collision.
        let mut seen = 0u64;
        // The object's entries are moved out of the scratch list (which ends
        // at `start` again): nothing is left behind to drop one by one.
        let mut scratch = std::mem::take(&mut self.scratch);
        for (attr, d) in scratch.drain(start..) {
            if attr == ATTR_ENTITY_TYPE {
                continue;
            }
            let stored = match d {
                Dec::Null => Stored::Null,
                Dec::Bool(b) => Stored::Bool(b),
                Dec::Int(i) => Stored::Int(i),
                Dec::Float(f) => Stored::Float(f),
                Dec::Str(s) => Stored::Str(s),
                Dec::Slice(s) => {
                    let key = &self.map.slots[slot as usize].key;
                    Stored::Str(if attr == key_attr && **key == *s {
                        Text::shared(key)
                    } else {
                        Text::from(s)
                    })
                }
                Dec::DateTime(t) => Stored::DateTime(t),
                Dec::Ref(s) => Stored::Ref(s),
                Dec::Refs(v) => Stored::Coll(v),
                Dec::Json(j) => Stored::Json(j),
                Dec::Type(t) => Stored::Str(self.types.name(t).into()),
            };
            if fresh {
                let bit = 1u64 << (attr % 64);
                let earlier = if seen & bit != 0 {
                    built.iter_mut().find(|(a, _)| *a == attr)
                } else {
                    None
                };
                seen |= bit;
                match earlier {
                    Some(e) => e.1 = stored,
                    None => built.push((attr, stored)),
                }
            } else {
                self.map.slots[slot as usize].set_remote(attr, stored);
            }
        }
        self.scratch = scratch;
        if fresh {
            self.map.slots[slot as usize].remote = built.into();
        }
        Some(slot)
    }
}

impl<'a> Decoder<'_, 'a> {
    /// The whole response: an array of answers, element `i` read as
    /// `expects[i]`, or a top-level error object.
    fn response(&mut self, r: &mut Reader<'a>, expects: &[Expect]) -> reader::Result<Decoded> {
        match r.peek()? {
            Next::Array => {}
            Next::Object => {
                return match r.json()? {
                    serde_json::Value::Object(m) => Ok(Decoded::Error(m)),
                    _ => unreachable!("an object was peeked"),
                };
            }
            _ => return Err(r.error("expected a JSON array of results or an error object")),
        }
        r.begin_array()?;
        let mut out = Vec::with_capacity(expects.len());
        while r.next_element(out.is_empty())? {
            out.push(
                match expects.get(out.len()).copied().unwrap_or(Expect::Other) {
                    Expect::Other => {
                        r.skip()?;
                        Answer::Other
                    }
                    Expect::Query => self.query(r)?,
                    Expect::Data => self.data(r)?,
                },
            );
        }
        Ok(Decoded::Answers(out))
    }

    /// `{"data": [entities], "metadata": {"next": {"offset"}}}`.
    fn query(&mut self, r: &mut Reader<'a>) -> reader::Result<Answer> {
        let mut slots = Vec::new();
        let mut next_offset = None;
        r.begin_object()?;
        let mut first = true;
        while let Some(k) = r.next_key(first)? {
            first = false;
            match k {
                "data" => slots = self.rows(r)?,
                "metadata" => {
                    let m = r.json()?;
                    next_offset = m
                        .get("next")
                        .and_then(|n| n.get("offset"))
                        .and_then(|o| o.as_u64());
                }
                _ => r.skip()?,
            }
        }
        Ok(Answer::Query { slots, next_offset })
    }

    /// The rows of a query answer: an array of entities, as page-local slots.
    fn rows(&mut self, r: &mut Reader<'a>) -> reader::Result<Vec<u32>> {
        let mut out = Vec::new();
        r.begin_array()?;
        while r.next_element(out.is_empty())? {
            match self.value(r, ROWS)? {
                Dec::Ref(s) => out.push(s),
                _ => return Err(r.error("a query result row is not an entity")),
            }
        }
        Ok(out)
    }

    /// `{"data": entity | true}`: an operation's result, its entity merged.
    fn data(&mut self, r: &mut Reader<'a>) -> reader::Result<Answer> {
        r.begin_object()?;
        let mut first = true;
        while let Some(k) = r.next_key(first)? {
            first = false;
            if k == "data" {
                // Decoding merges the entity into the map; the value itself is not needed.
                self.value(r, ROWS)?;
            } else {
                r.skip()?;
            }
        }
        Ok(Answer::Data)
    }

    /// Any value, held by attribute `holder` (or [`ROWS`]); objects with
    /// `__entity_type__` become slots.
    fn value(&mut self, r: &mut Reader<'a>, holder: u32) -> reader::Result<Dec<'a>> {
        Ok(match r.peek()? {
            Next::Object => self.object(r, holder)?,
            Next::Array => self.array(r, holder)?,
            Next::String => match r.string_in_reply()? {
                Some(s) => Dec::Slice(s),
                None => Dec::Str(Text::from(r.unescaped())),
            },
            Next::Number => match r.number()? {
                Number::Int(i) => Dec::Int(i),
                Number::Float(f) => Dec::Float(f),
            },
            Next::Bool => Dec::Bool(r.bool()?),
            Next::Null => {
                r.null()?;
                Dec::Null
            }
        })
    }

    /// An object held by attribute `holder` (or [`ROWS`]): its keys and type
    /// name guessed from the objects before it (see [`Guesses`]).
    fn object(&mut self, r: &mut Reader<'a>, holder: u32) -> reader::Result<Dec<'a>> {
        let start = self.scratch.len();
        r.begin_object()?;
        let mut context = Guesses::context(holder, None);
        let mut prev = NO_NAME;
        loop {
            let first = prev == NO_NAME;
            let at = Guesses::at(context, prev);
            let guess = self.guesses.keys[at];
            let k = if guess == NO_NAME {
                match r.next_key(first)? {
                    Some(k) => self.names.intern(k),
                    None => break,
                }
            } else {
                match r.next_key_guessed(first, self.names.name(guess))? {
                    Key::Guessed => guess,
                    Key::Other(k) => self.names.intern(k),
                    Key::End => break,
                }
            };
            self.guesses.keys[at] = k;
            prev = k;
            let v = if k == ATTR_ENTITY_TYPE {
                let at = holder as usize % self.guesses.types.len();
                let guess = self.guesses.types[at];
                let t = match (guess, self.types.names().get(guess as usize)) {
                    (_, Some(name)) => match r.string_guessed(name)? {
                        None => guess,
                        Some(other) => self.type_id(other),
                    },
                    _ => {
                        let name = r.string()?;
                        self.type_id(name)
                    }
                };
                self.guesses.types[at] = t;
                context = Guesses::context(holder, Some(t));
                Dec::Type(t)
            } else {
                self.value(r, k)?
            };
            self.scratch.push((k, v));
        }
        Ok(self.finish_object(start))
    }

    fn array(&mut self, r: &mut Reader<'a>, holder: u32) -> reader::Result<Dec<'a>> {
        // References collect on the decoder's stack (a nested list's above
        // this one's) and leave it in one exactly sized allocation.
        let start = self.refs.len();
        let mut other: Option<Vec<serde_json::Value>> = None;
        r.begin_array()?;
        let mut first = true;
        while r.next_element(first)? {
            first = false;
            let d = self.value(r, holder)?;
            match (d, &mut other) {
                (Dec::Ref(s), None) => self.refs.push(s),
                (d, Some(list)) => list.push(self.to_json(d)),
                (d, None) => {
                    let refs: Vec<u32> = self.refs.drain(start..).collect();
                    let mut list: Vec<serde_json::Value> =
                        refs.into_iter().map(|s| self.reference_json(s)).collect();
                    list.push(self.to_json(d));
                    other = Some(list);
                }
            }
        }
        Ok(match other {
            Some(list) => Dec::Json(Box::new(serde_json::Value::Array(list))),
            None => {
                let refs = Refs::from(&self.refs[start..]);
                self.refs.truncate(start);
                Dec::Refs(refs)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Stored;

    /// The rows and next offset of a decoded one-query answer.
    fn rows_of(out: Decoded) -> (Vec<u32>, Option<u64>) {
        let Decoded::Answers(mut a) = out else {
            panic!("not answers")
        };
        let Answer::Query { slots, next_offset } = a.swap_remove(0) else {
            panic!("not a query answer")
        };
        (slots, next_offset)
    }

    /// Decodes `body` as a one-query answer into `m`.
    fn decode_query(s: &mut Schema, m: &mut IdentityMap, body: &[u8]) -> reader::Result<Decoded> {
        Ok(decode_into(s, m, body, &[Expect::Query])?.0)
    }

    /// [`decode_query`]'s rows and next offset.
    fn query_rows(s: &mut Schema, m: &mut IdentityMap, body: &[u8]) -> (Vec<u32>, Option<u64>) {
        rows_of(decode_query(s, m, body).unwrap())
    }

    fn schema() -> Schema {
        Schema::from_json(&serde_json::json!([
            {"id": "User", "primary_key": ["id"], "properties": {
                "id": {"type": "string"}, "username": {"type": "string"},
                "created": {"type": "string", "format": "date-time"},
                "user_type": {"$ref": "UserType"},
                "memberships": {"type": "array", "items": {"$ref": "Membership"}},
                "score": {"type": "number"}}},
            {"id": "UserType", "primary_key": ["id"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
            {"id": "Metadata", "primary_key": ["parent_id", "key"], "properties": {
                "parent_id": {"type": "string"}, "key": {"type": "string"}, "value": {"type": "string"}}}
        ]))
    }

    #[test]
    fn merges_entities_and_dedup_references() {
        let mut s = schema();
        let mut m = IdentityMap::default();
        let body = br#"[{"action":"query","data":[
            {"__entity_type__":"User","id":"u1","username":"a","score":3,
             "created":{"__type__":"datetime","value":"1970-01-01T00:00:01"},
             "user_type":{"__entity_type__":"UserType","id":"t1","name":"admin"},
             "memberships":[]},
            {"id":"u2","__entity_type__":"User","username":"b","user_type":{"__entity_type__":"UserType","id":"t1"}},
            {"__entity_type__":"Metadata","parent_id":"u1","key":"k","value":"v"}
        ],"metadata":{"next":{"offset":3}}}]"#;
        let (slots, next_offset) = query_rows(&mut s, &mut m, body);
        assert_eq!(slots.len(), 3);
        assert_eq!(next_offset, Some(3));
        let ut = s.known_type("UserType").unwrap();
        let t1 = m.find(ut, "t1").unwrap();
        let name = s.attrs.get("name").unwrap();
        assert_eq!(
            m.slots[t1 as usize].get(name),
            Some(&Stored::Str("admin".into()))
        );
        let u2 = &m.slots[slots[1] as usize];
        assert_eq!(
            u2.get(s.attrs.get("user_type").unwrap()),
            Some(&Stored::Ref(t1))
        );
        let u1 = &m.slots[slots[0] as usize];
        assert_eq!(
            u1.get(s.attrs.get("created").unwrap()),
            Some(&Stored::DateTime(1_000_000))
        );
        assert_eq!(
            u1.get(s.attrs.get("score").unwrap()),
            Some(&Stored::Float(3.0))
        );
        assert_eq!(m.slots[slots[2] as usize].key.as_ref(), "u1\u{1f}k");
        assert_eq!(m.members(m.slots[t1 as usize].origin).len(), 4);
    }

    #[test]
    fn decodes_without_the_session_and_merges_over_known_slots() {
        let mut s = schema();
        let mut m = IdentityMap::default();
        let user = s.known_type("User").unwrap();
        let username = s.attrs.get("username").unwrap();
        let (u1, _) = m.get_or_insert(user, "u1");
        m.slots[u1 as usize].set_remote(username, Stored::Str("old".into()));
        m.slots[u1 as usize].set_local(username, Stored::Str("edited".into()));
        // Decoding needs the keys only; the session's map is not involved.
        let keys = s.keys();
        let staged = decode(
            br#"[{"data":[
                {"__entity_type__":"Metadata","parent_id":"u1","key":"k","value":"v"},
                {"__entity_type__":"User","id":"u1","username":"new","score":2},
                {"__entity_type__":"User","id":"u3","extra":{"who":{"__entity_type__":"Metadata","parent_id":"u1","key":"k"}}}
            ]}]"#,
            &[Expect::Query],
            &keys,
        )
        .unwrap();
        assert_eq!(m.slots.len(), 1);
        let (out, result) = staged.merge(&mut s, &mut m);
        let (slots, _) = rows_of(out);
        // Rows in the order of the answer; u1 is the slot it already had.
        assert_eq!(slots.len(), 3);
        assert_eq!(slots[1], u1);
        let u = &m.slots[u1 as usize];
        assert_eq!(
            u.remote.iter().find(|(a, _)| *a == username).unwrap().1,
            Stored::Str("new".into())
        );
        assert_eq!(u.get(username), Some(&Stored::Str("edited".into())));
        // Kinds apply when merging: `score` is a float attribute.
        assert_eq!(
            u.get(s.attrs.get("score").unwrap()),
            Some(&Stored::Float(2.0))
        );
        assert_eq!(u.origin, result);
        // A composite key, and a reference inside plain JSON written from the page.
        assert_eq!(&*m.slots[slots[0] as usize].key, "u1\u{1f}k");
        assert_eq!(
            m.slots[slots[2] as usize].get(s.attrs.get("extra").unwrap()),
            Some(&Stored::Json(Box::new(serde_json::json!(
                {"who": {"__entity_type__": "Metadata", "parent_id": "u1", "key": "k"}}
            ))))
        );
    }

    #[test]
    fn an_entity_id_is_kept_once_with_its_key() {
        let mut s = schema();
        let mut m = IdentityMap::default();
        let id = "7a9ab4f8-c349-3da3-8eca-892ab89d8981";
        let plain =
            format!(r#"[{{"data":[{{"__entity_type__":"User","id":"{id}","username":"{id}"}}]}}]"#);
        let first = query_rows(&mut s, &mut m, plain.as_bytes()).0[0];
        let (id_attr, username) = (s.attrs.get("id").unwrap(), s.attrs.get("username").unwrap());
        let slot = &m.slots[first as usize];
        match slot.get(id_attr) {
            Some(Stored::Str(Text::Shared(shared))) => {
                assert!(std::sync::Arc::ptr_eq(shared, &slot.key))
            }
            other => panic!("the id is not shared with the key: {other:?}"),
        }
        // Another attribute with the same text is a copy of its own.
        assert!(matches!(slot.get(username), Some(Stored::Str(Text::Heap(t))) if &**t == id));
        // The escaped spelling of the same id is the same entity, the same id.
        let escaped = format!(
            r#"[{{"data":[{{"__entity_type__":"User","id":"\u0037{}"}}]}}]"#,
            &id[1..]
        );
        assert_eq!(query_rows(&mut s, &mut m, escaped.as_bytes()).0, [first]);
        let slot = &m.slots[first as usize];
        assert_eq!(slot.get(id_attr), Some(&Stored::Str(Text::from(id))));
    }

    #[test]
    fn a_reply_that_is_not_utf8_is_an_error() {
        let e = decode(
            b"[{\"data\":[\"\xff\"]}]",
            &[Expect::Query],
            &Keys::default(),
        )
        .err()
        .unwrap();
        assert_eq!(e.to_string(), "the reply is not UTF-8 at byte 11");
    }

    #[test]
    fn error_object_and_truncation() {
        let mut s = schema();
        let mut m = IdentityMap::default();
        let error = br#"{"exception":"ValidationError","content":"x","error_code":null}"#;
        let out = decode_query(&mut s, &mut m, error).unwrap();
        assert!(matches!(out, Decoded::Error(_)));
        let truncated = br#"[{"action":"query","data":[{"__ent"#;
        assert!(decode_query(&mut s, &mut m, truncated).is_err());
    }

    #[test]
    fn date_wrapper_and_integer_keys() {
        let mut s = schema();
        let mut m = IdentityMap::default();
        let (slots, _) = query_rows(
            &mut s,
            &mut m,
            br#"[{"data":[{"__entity_type__":"User","id":7,"created":{"__type__":"date","value":"1970-01-02"},"x":[1,2]}]}]"#,
        );
        let slot = &m.slots[slots[0] as usize];
        assert_eq!(&*slot.key, "7");
        let created = s.attrs.get("created").unwrap();
        assert_eq!(slot.get(created), Some(&Stored::DateTime(86_400_000_000)));
        let x = s.attrs.get("x").unwrap();
        assert_eq!(
            slot.get(x),
            Some(&Stored::Json(Box::new(serde_json::json!([1, 2]))))
        );
    }
}
