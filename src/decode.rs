//! Decoding server answers straight into the identity map.
//!
//! A serde `DeserializeSeed` walks the response bytes once. Every JSON object with
//! `__entity_type__` is merged into its identity-map slot as it is read (attribute
//! names interned through the schema, values in the compact [`Stored`] form);
//! de-duplicated references (`{"__entity_type__", "id"}` only) simply point at the
//! slot. No intermediate `serde_json::Value` tree is built for entities.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::datetime::parse_iso;
use crate::identity_map::{IdentityMap, KEY_SEP};
use crate::schema::{ATTR_ENTITY_TYPE, ATTR_TYPE, ATTR_VALUE, AttrKind, Schema};
use crate::value::{Stored, Text};

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

/// A value while it is being decoded.
enum Dec {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    DateTime(i64),
    Ref(u32),
    Refs(Vec<u32>),
    Json(serde_json::Value),
    Type(u32),
}

pub(crate) struct Decoder<'a> {
    pub schema: &'a mut Schema,
    pub map: &'a mut IdentityMap,
    pub result: u32,
    scratch: Vec<(u32, Dec)>,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(schema: &'a mut Schema, map: &'a mut IdentityMap) -> Self {
        let result = map.begin_result();
        Decoder {
            schema,
            map,
            result,
            scratch: Vec::with_capacity(64),
        }
    }

    /// Decodes a whole response; element `i` is decoded as `expects[i]` (JSON past the end).
    pub(crate) fn decode(
        &mut self,
        bytes: &[u8],
        expects: &[Expect],
    ) -> serde_json::Result<Decoded> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let out = ResponseSeed { d: self, expects }.deserialize(&mut de)?;
        de.end()?;
        Ok(out)
    }

    fn to_json(&self, d: Dec) -> serde_json::Value {
        use serde_json::Value as J;
        match d {
            Dec::Null => J::Null,
            Dec::Bool(b) => J::Bool(b),
            Dec::Int(i) => J::from(i),
            Dec::Float(f) => J::from(f),
            Dec::Str(s) => J::String(s.into()),
            Dec::DateTime(t) => crate::operations::datetime_json(t),
            Dec::Ref(s) => crate::operations::reference_json(self.schema, self.map, s),
            Dec::Refs(v) => J::Array(
                v.into_iter()
                    .map(|s| crate::operations::reference_json(self.schema, self.map, s))
                    .collect(),
            ),
            Dec::Json(j) => j,
            Dec::Type(t) => J::String(self.schema.ty(t).name.clone()),
        }
    }

    /// Finishes the object whose entries are `scratch[start..]`.
    fn finish_object(&mut self, start: usize) -> Dec {
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
            let k = self.schema.attrs.name(a).to_owned();
            obj.insert(k, self.to_json(d));
        }
        Dec::Json(serde_json::Value::Object(obj))
    }

    fn datetime_wrapper(&self, start: usize) -> Option<Dec> {
        let entries = &self.scratch[start..];
        if entries.len() != 2 {
            return None;
        }
        let mut is_dt = false;
        let mut value = None;
        for (a, d) in entries {
            match (*a, d) {
                (ATTR_TYPE, Dec::Str(s)) if &**s == "datetime" || &**s == "date" => is_dt = true,
                (ATTR_VALUE, Dec::Str(s)) => value = Some(s),
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
        let info = self.schema.ty(ty);
        let entries = &self.scratch[start..];
        let mut single: Option<&str> = None;
        let mut composite = String::new();
        let mut owned_single: Option<String> = None;
        for (i, pk) in info.pk_ids.iter().enumerate() {
            let v = entries.iter().find(|(a, _)| a == pk).map(|(_, d)| d)?;
            let s: std::borrow::Cow<'_, str> = match v {
                Dec::Str(s) => std::borrow::Cow::Borrowed(&**s),
                Dec::Int(n) => std::borrow::Cow::Owned(n.to_string()),
                _ => return None,
            };
            if info.pk_ids.len() == 1 {
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
        // Removed slots have left the index, so this is never a removed one.
        let (slot, _new) = self.map.get_or_insert(ty, key);
        self.map.note(self.result, slot);
        self.map.touch(slot);
        // A slot seen for the first time gets its attributes in one exactly
        // sized allocation; a known one is updated in place.
        let fresh = self.map.slots[slot as usize].remote.is_empty();
        let mut built: Vec<(u32, Stored)> = if fresh {
            Vec::with_capacity((self.scratch.len() - start).saturating_sub(1))
        } else {
            Vec::new()
        };
        for i in start..self.scratch.len() {
            let (attr, d) = std::mem::replace(&mut self.scratch[i], (0, Dec::Null));
            if attr == ATTR_ENTITY_TYPE {
                continue;
            }
            let kind = self.schema.kind(ty, attr);
            let stored = match (d, kind) {
                (Dec::Null, _) => Stored::Null,
                (Dec::Bool(b), _) => Stored::Bool(b),
                (Dec::Int(i), Some(AttrKind::Float)) => Stored::Float(i as f64),
                (Dec::Int(i), _) => Stored::Int(i),
                (Dec::Float(f), _) => Stored::Float(f),
                (Dec::Str(s), Some(AttrKind::DateTime)) => match parse_iso(&s) {
                    Some(t) => Stored::DateTime(t),
                    None => Stored::Str(s),
                },
                (Dec::Str(s), _) => Stored::Str(s),
                (Dec::DateTime(t), _) => Stored::DateTime(t),
                (d @ (Dec::Ref(_) | Dec::Refs(_)), Some(AttrKind::Json)) => {
                    Stored::Json(Box::new(self.to_json(d)))
                }
                (Dec::Ref(s), _) => Stored::Ref(s),
                (Dec::Refs(v), _) => Stored::Coll(v.into_boxed_slice()),
                (Dec::Json(j), _) => Stored::Json(Box::new(j)),
                (Dec::Type(t), _) => Stored::Str(self.schema.ty(t).name.as_str().into()),
            };
            if fresh {
                match built.iter_mut().find(|(a, _)| *a == attr) {
                    Some(e) => e.1 = stored,
                    None => built.push((attr, stored)),
                }
            } else {
                self.map.slots[slot as usize].set_remote(attr, stored);
            }
        }
        if fresh {
            self.map.slots[slot as usize].remote = built.into();
        }
        self.scratch.truncate(start);
        Some(slot)
    }
}

struct ResponseSeed<'c, 'a> {
    d: &'c mut Decoder<'a>,
    expects: &'c [Expect],
}

impl<'de> DeserializeSeed<'de> for ResponseSeed<'_, '_> {
    type Value = Decoded;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Decoded, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResponseSeed<'_, '_> {
    type Value = Decoded;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of results or an error object")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Decoded, A::Error> {
        let mut out = Vec::with_capacity(self.expects.len());
        loop {
            let expect = self
                .expects
                .get(out.len())
                .copied()
                .unwrap_or(Expect::Other);
            let next = match expect {
                Expect::Other => seq.next_element::<IgnoredAny>()?.map(|_| Answer::Other),
                Expect::Query => seq.next_element_seed(QuerySeed(self.d))?,
                Expect::Data => seq.next_element_seed(DataSeed(self.d))?,
            };
            match next {
                Some(a) => out.push(a),
                None => break,
            }
        }
        Ok(Decoded::Answers(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decoded, A::Error> {
        let mut obj = serde_json::Map::new();
        while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
            obj.insert(k, v);
        }
        Ok(Decoded::Error(obj))
    }
}

struct QuerySeed<'c, 'a>(&'c mut Decoder<'a>);

impl<'de> DeserializeSeed<'de> for QuerySeed<'_, '_> {
    type Value = Answer;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Answer, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for QuerySeed<'_, '_> {
    type Value = Answer;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a query result object with data and metadata")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Answer, A::Error> {
        let mut slots = Vec::new();
        let mut next_offset = None;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*k {
                "data" => slots = map.next_value_seed(RefListSeed(&mut *self.0))?,
                "metadata" => {
                    let m: serde_json::Value = map.next_value()?;
                    next_offset = m
                        .get("next")
                        .and_then(|n| n.get("offset"))
                        .and_then(|o| o.as_u64());
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Answer::Query { slots, next_offset })
    }
}

struct RefListSeed<'c, 'a>(&'c mut Decoder<'a>);

impl<'de> DeserializeSeed<'de> for RefListSeed<'_, '_> {
    type Value = Vec<u32>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Vec<u32>, D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RefListSeed<'_, '_> {
    type Value = Vec<u32>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of entities")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u32>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(16));
        while let Some(d) = seq.next_element_seed(ValueSeed(&mut *self.0))? {
            match d {
                Dec::Ref(s) => out.push(s),
                _ => return Err(de::Error::custom("a query result row is not an entity")),
            }
        }
        Ok(out)
    }
}

struct DataSeed<'c, 'a>(&'c mut Decoder<'a>);

impl<'de> DeserializeSeed<'de> for DataSeed<'_, '_> {
    type Value = Answer;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Answer, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_, '_> {
    type Value = Answer;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an operation result object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Answer, A::Error> {
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if &*k == "data" {
                // Decoding merges the entity into the map; the value itself is not needed.
                map.next_value_seed(ValueSeed(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Answer::Data)
    }
}

struct KeySeed<'c, 'a>(&'c mut Decoder<'a>);

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = u32;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<u32, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_> {
    type Value = u32;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute name")
    }
    #[inline]
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u32, E> {
        Ok(self.0.schema.attrs.intern(v))
    }
}

struct TypeSeed<'c, 'a>(&'c mut Decoder<'a>);

impl<'de> DeserializeSeed<'de> for TypeSeed<'_, '_> {
    type Value = u32;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<u32, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TypeSeed<'_, '_> {
    type Value = u32;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entity type name")
    }
    #[inline]
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u32, E> {
        Ok(self.0.schema.type_id_or_register(v))
    }
}

struct ValueSeed<'c, 'a>(&'c mut Decoder<'a>);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = Dec;
    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Dec, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = Dec;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Dec, E> {
        Ok(Dec::Null)
    }
    fn visit_none<E>(self) -> Result<Dec, E> {
        Ok(Dec::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Dec, E> {
        Ok(Dec::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Dec, E> {
        Ok(Dec::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Dec, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Dec::Int(i),
            Err(_) => Dec::Float(v as f64),
        })
    }
    fn visit_f64<E>(self, v: f64) -> Result<Dec, E> {
        Ok(Dec::Float(v))
    }
    #[inline]
    fn visit_str<E>(self, v: &str) -> Result<Dec, E> {
        Ok(Dec::Str(Text::from(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Dec, A::Error> {
        let mut refs = Vec::new();
        let mut other: Option<Vec<serde_json::Value>> = None;
        while let Some(d) = seq.next_element_seed(ValueSeed(&mut *self.0))? {
            match (d, &mut other) {
                (Dec::Ref(s), None) => refs.push(s),
                (d, Some(list)) => list.push(self.0.to_json(d)),
                (d, None) => {
                    let mut list: Vec<serde_json::Value> = std::mem::take(&mut refs)
                        .into_iter()
                        .map(|s| self.0.to_json(Dec::Ref(s)))
                        .collect();
                    list.push(self.0.to_json(d));
                    other = Some(list);
                }
            }
        }
        Ok(match other {
            Some(list) => Dec::Json(serde_json::Value::Array(list)),
            None => Dec::Refs(refs),
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Dec, A::Error> {
        let start = self.0.scratch.len();
        while let Some(k) = map.next_key_seed(KeySeed(&mut *self.0))? {
            let v = if k == ATTR_ENTITY_TYPE {
                Dec::Type(map.next_value_seed(TypeSeed(&mut *self.0))?)
            } else {
                map.next_value_seed(ValueSeed(&mut *self.0))?
            };
            self.0.scratch.push((k, v));
        }
        Ok(self.0.finish_object(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Stored;

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
        let mut d = Decoder::new(&mut s, &mut m);
        let out = d.decode(body, &[Expect::Query]).unwrap();
        let Decoded::Answers(a) = out else { panic!() };
        let Answer::Query { slots, next_offset } = &a[0] else {
            panic!()
        };
        assert_eq!(slots.len(), 3);
        assert_eq!(*next_offset, Some(3));
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
    fn error_object_and_truncation() {
        let mut s = schema();
        let mut m = IdentityMap::default();
        let mut d = Decoder::new(&mut s, &mut m);
        let out = d
            .decode(
                br#"{"exception":"ValidationError","content":"x","error_code":null}"#,
                &[Expect::Query],
            )
            .unwrap();
        assert!(matches!(out, Decoded::Error(_)));
        assert!(
            d.decode(br#"[{"action":"query","data":[{"__ent"#, &[Expect::Query])
                .is_err()
        );
    }

    #[test]
    fn date_wrapper_and_integer_keys() {
        let mut s = schema();
        let mut m = IdentityMap::default();
        let mut d = Decoder::new(&mut s, &mut m);
        let out = d
            .decode(
                br#"[{"data":[{"__entity_type__":"User","id":7,"created":{"__type__":"date","value":"1970-01-02"},"x":[1,2]}]}]"#,
                &[Expect::Query],
            )
            .unwrap();
        let Decoded::Answers(a) = out else { panic!() };
        let Answer::Query { slots, .. } = &a[0] else {
            panic!()
        };
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
