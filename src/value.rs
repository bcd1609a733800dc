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

/// Compact storage of a value inside the identity map: references are slot
/// indices, strings are boxed (no spare capacity).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stored {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<str>),
    DateTime(i64),
    Ref(u32),
    Coll(Box<[u32]>),
    Json(Box<serde_json::Value>),
}
