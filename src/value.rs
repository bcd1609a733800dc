//! Attribute values: the public [`Value`] and the compact storage used inside the
//! identity map.

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
/// spare capacity. 24 bytes, and a [`Stored`] holding it stays 24 bytes too
/// (the variant tag is a niche the enclosing enum reuses).
#[derive(Clone, PartialEq)]
pub(crate) enum Text {
    /// Length and bytes (zero-filled past the length, so equality is bytewise).
    Inline(u8, [u8; INLINE]),
    /// A longer string.
    Heap(Box<str>),
}

impl Text {
    /// The text as a `&str`.
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // SAFETY: the bytes were copied from a `&str` of exactly this length.
            Text::Inline(n, b) => unsafe { std::str::from_utf8_unchecked(&b[..*n as usize]) },
            Text::Heap(s) => s,
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
            inline => inline.as_str().to_owned(),
        }
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
    Coll(Box<[u32]>),
    Json(Box<serde_json::Value>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_sizes_and_text_round_trips() {
        assert_eq!(std::mem::size_of::<Text>(), 24);
        assert_eq!(std::mem::size_of::<Stored>(), 24);
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
        }
    }
}
