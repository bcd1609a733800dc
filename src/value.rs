//! Attribute values: the public [`Value`] and the compact storage used inside the
//! identity map.

use std::sync::Arc;

use crate::entity::Entity;

/// The value of an entity attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (`null` on the wire).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    String(String),
    /// A date and time: microseconds since the Unix epoch, UTC.
    DateTime(i64),
    /// A reference to another entity.
    Entity(Entity),
    /// A collection of entities.
    Collection(Vec<Entity>),
    /// Any other JSON (objects, lists of scalars, `object`/`variable` attributes).
    Json(serde_json::Value),
}

impl Value {
    /// The value as wire JSON, as [`Entity::get_json`] gives it: entities as
    /// `{"__entity_type__", <primary key>}` references, datetimes as
    /// `{"__type__": "datetime", "value": ISO-8601 UTC}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f) => (*f).into(),
            Value::String(s) => s.as_str().into(),
            Value::DateTime(t) => crate::operations::datetime_json(*t),
            Value::Entity(e) => e.reference_json(),
            Value::Collection(c) => c.iter().map(Entity::reference_json).collect(),
            Value::Json(j) => j.clone(),
        }
    }

    /// A short name of the value's type, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::DateTime(_) => "a datetime",
            Value::Entity(_) => "an entity",
            Value::Collection(_) => "a collection",
            Value::Json(_) => "JSON",
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<Entity> for Value {
    fn from(v: Entity) -> Self {
        Value::Entity(v)
    }
}
impl From<&Entity> for Value {
    fn from(v: &Entity) -> Self {
        Value::Entity(v.clone())
    }
}

/// Longest string kept inline in a [`Text`].
const INLINE: usize = 22;

/// A string as stored in the identity map: up to 22 bytes inline (user names,
/// codes, enum-like values such as `resource_type`), longer ones boxed with no
/// spare capacity, or shared with the entity's key (an `id` is both the key
/// of its slot and an attribute value, kept once). 24 bytes, and a [`Stored`]
/// holding it stays 24 bytes too (the variant tag is a niche the enclosing
/// enum reuses). Equal when the texts are.
#[derive(Clone)]
pub(crate) enum Text {
    /// Length and bytes (zero-filled past the length).
    Inline(u8, [u8; INLINE]),
    /// A longer string.
    Heap(Box<str>),
    /// A longer string shared with a slot's key.
    Shared(Arc<str>),
}

impl PartialEq for Text {
    #[inline]
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Text {
    /// The text as a `&str`.
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // SAFETY: the bytes were copied from a `&str` of exactly this length.
            Text::Inline(n, b) => unsafe { std::str::from_utf8_unchecked(&b[..*n as usize]) },
            Text::Heap(s) => s,
            Text::Shared(s) => s,
        }
    }

    /// `key` as a text: shared when it is longer than fits inline.
    #[inline]
    pub(crate) fn shared(key: &Arc<str>) -> Text {
        if key.len() <= INLINE {
            Text::from(&**key)
        } else {
            Text::Shared(Arc::clone(key))
        }
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Text {
    #[inline]
    fn from(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut b = [0; INLINE];
            b[..s.len()].copy_from_slice(s.as_bytes());
            Text::Inline(s.len() as u8, b)
        } else {
            Text::Heap(s.into())
        }
    }
}

impl From<Box<str>> for Text {
    fn from(s: Box<str>) -> Self {
        if s.len() <= INLINE {
            Text::from(&*s)
        } else {
            Text::Heap(s)
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        if s.len() <= INLINE {
            Text::from(s.as_str())
        } else {
            Text::Heap(s.into_boxed_str())
        }
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        match t {
            Text::Heap(s) => s.into_string(),
            other => other.as_str().to_owned(),
        }
    }
}

/// What fills the second inline place of a [`Refs`] holding one slot (no
/// identity map has that many slots).
const NO_REF: u32 = u32::MAX;

/// The slots of a collection as stored in the identity map: one or two inline
/// (most users hold one role, most links are few), none or more boxed with no
/// spare capacity (an empty box allocates nothing). 16 bytes with no tag of
/// its own (the box's pointer is never null, so that is the niche), which
/// keeps a [`Stored`] at 24 bytes.
#[derive(Clone)]
pub(crate) enum Refs {
    /// None, or more than two.
    Heap(Box<[u32]>),
    /// One or two; one when the second is `NO_REF`.
    Inline([u32; 2]),
}

impl std::ops::Deref for Refs {
    type Target = [u32];
    #[inline]
    fn deref(&self) -> &[u32] {
        match self {
            Refs::Inline(r) if r[1] == NO_REF => &r[..1],
            Refs::Inline(r) => r,
            Refs::Heap(r) => r,
        }
    }
}

impl std::ops::DerefMut for Refs {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u32] {
        match self {
            Refs::Inline(r) => {
                let n = if r[1] == NO_REF { 1 } else { 2 };
                &mut r[..n]
            }
            Refs::Heap(r) => r,
        }
    }
}

impl From<&[u32]> for Refs {
    #[inline]
    fn from(s: &[u32]) -> Self {
        match *s {
            [one] => Refs::Inline([one, NO_REF]),
            [a, b] => Refs::Inline([a, b]),
            _ => Refs::Heap(s.into()),
        }
    }
}

impl From<Vec<u32>> for Refs {
    fn from(v: Vec<u32>) -> Self {
        match v.len() {
            1 | 2 => Refs::from(&v[..]),
            _ => Refs::Heap(v.into_boxed_slice()),
        }
    }
}

impl FromIterator<u32> for Refs {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        Refs::from(iter.into_iter().collect::<Vec<u32>>())
    }
}

impl PartialEq for Refs {
    fn eq(&self, other: &Refs) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Refs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Compact storage of a value inside the identity map: references are slot
/// indices, strings are [`Text`] (short ones inline, no spare capacity).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stored {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Text),
    DateTime(i64),
    Ref(u32),
    Coll(Refs),
    Json(Box<serde_json::Value>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_sizes_and_text_round_trips() {
        assert_eq!(std::mem::size_of::<Text>(), 24);
        assert_eq!(std::mem::size_of::<Stored>(), 24);
        assert_eq!(std::mem::size_of::<Refs>(), 16);
        for n in [0usize, 1, 2, 3, 9] {
            let v: Vec<u32> = (10..10 + n as u32).collect();
            let r = Refs::from(v.clone());
            assert_eq!(&*r, &v[..]);
            assert_eq!(matches!(r, Refs::Inline(..)), (1..=2).contains(&n));
            assert_eq!(r, v.iter().copied().collect::<Refs>());
            assert_eq!(r, Refs::from(&v[..]));
            assert_eq!(format!("{r:?}"), format!("{v:?}"));
            let mut m = r.clone();
            m.iter_mut().for_each(|s| *s += 1);
            assert_eq!(m.len(), n);
            assert!(n == 0 || m != r);
        }
        for s in [
            "",
            "user",
            "exactly-twenty-two-by!",
            "twenty-three bytes long",
            "ünïcødé",
        ] {
            let t = Text::from(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(Text::from(s.to_owned()), t);
            assert_eq!(Text::from(Box::<str>::from(s)), t);
            assert_eq!(String::from(t.clone()), s);
            assert_eq!(matches!(t, Text::Inline(..)), s.len() <= INLINE);
            let key: Arc<str> = s.into();
            let shared = Text::shared(&key);
            assert_eq!(shared, t);
            assert_eq!(matches!(shared, Text::Shared(..)), s.len() > INLINE);
            assert_eq!(String::from(shared), s);
        }
    }
}
