//! Entity handles: a session plus a slot in its identity map.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::session::Inner;
use crate::value::{Stored, Value};

/// A handle to an entity in a session's identity map. Cheap to clone; all handles
/// to the same (type, primary key) in one session see the same data.
///
/// Reading an attribute that is not loaded yet fetches it from the server when
/// auto-populate is on — for every entity of the same type from the same query
/// result that lacks it, in one request.
#[derive(Clone)]
pub struct Entity {
    pub(crate) session: Arc<Inner>,
    pub(crate) slot: u32,
}

impl PartialEq for Entity {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.session, &other.session) && self.slot == other.slot
    }
}
impl Eq for Entity {}

impl std::hash::Hash for Entity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.session) as usize).hash(state);
        self.slot.hash(state);
    }
}

impl fmt::Debug for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Entity({}, {})", self.entity_type(), self.id())
    }
}

impl Entity {
    /// The entity type, e.g. `"User"`.
    pub fn entity_type(&self) -> String {
        self.session.entity_type_of(self.slot)
    }

    /// Whether this is an entity of type `entity_type` (as
    /// [`Entity::entity_type`] compares, without copying the name).
    pub fn is_of_type(&self, entity_type: &str) -> bool {
        self.session.entity_type_is(self.slot, entity_type)
    }

    /// The primary key as a string (composite keys joined with `,`).
    pub fn id(&self) -> String {
        self.session.key_of(self.slot)
    }

    /// The value of `attribute`: the local (uncommitted) value if set, else the
    /// server's. When it is not loaded and auto-populate is on, it is fetched — in
    /// one query, together with every entity of the same type from the same result
    /// that lacks it. Not-loaded attributes read as [`Value::Null`] when
    /// auto-populate is off, and on entities created locally and not committed yet.
    ///
    /// Errors: [`Error::UnknownAttribute`] for names not in the schema,
    /// [`Error::NotFound`] when the entity was deleted or rolled back.
    pub fn get(&self, attribute: &str) -> Result<Value> {
        self.session.entity_get(self, attribute)
    }

    /// Whether `attribute` is loaded (locally set or received from the server).
    pub fn is_loaded(&self, attribute: &str) -> bool {
        self.session.entity_is_loaded(self.slot, attribute)
    }

    fn mismatch(&self, attribute: &str, expected: &'static str, v: &Value) -> Error {
        self.session
            .type_mismatch(self.slot, attribute, expected, v)
    }

    /// Calls `f` with a string attribute without copying it (for C callers
    /// that copy it into their own buffer). `f` runs while the session is
    /// locked when the value is already loaded: it must not call back into
    /// the session. Errors as [`Entity::get_string`].
    pub fn with_str<R>(&self, attribute: &str, f: impl FnOnce(&str) -> R) -> Result<R> {
        let mut f = Some(f);
        let peeked = self
            .session
            .entity_peek(self.slot, attribute, |v| match v {
                Stored::Str(s) => f.take().map(|f| f(s)),
                _ => None,
            })?;
        match (peeked, f) {
            (Some(r), _) => Ok(r),
            (None, Some(f)) => Ok(f(&self.get_string(attribute)?)),
            (None, None) => unreachable!("`f` is only taken when it returns a value"),
        }
    }

    /// A string attribute. Null is a [`Error::TypeMismatch`] (use [`Entity::get`] to test for null).
    pub fn get_string(&self, attribute: &str) -> Result<String> {
        if let Some(s) = self
            .session
            .entity_peek(self.slot, attribute, |v| match v {
                Stored::Str(s) => Some(s.to_string()),
                _ => None,
            })?
        {
            return Ok(s);
        }
        match self.get(attribute)? {
            Value::String(s) => Ok(s),
            v => Err(self.mismatch(attribute, "a string", &v)),
        }
    }

    /// A boolean attribute.
    pub fn get_bool(&self, attribute: &str) -> Result<bool> {
        if let Some(b) = self
            .session
            .entity_peek(self.slot, attribute, |v| match v {
                Stored::Bool(b) => Some(*b),
                _ => None,
            })?
        {
            return Ok(b);
        }
        match self.get(attribute)? {
            Value::Bool(b) => Ok(b),
            v => Err(self.mismatch(attribute, "a boolean", &v)),
        }
    }

    /// An integer attribute (a float with no fractional part is accepted).
    pub fn get_i64(&self, attribute: &str) -> Result<i64> {
        match self.get(attribute)? {
            Value::Int(i) => Ok(i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            v => Err(self.mismatch(attribute, "an integer", &v)),
        }
    }

    /// A number attribute (integers are converted).
    pub fn get_f64(&self, attribute: &str) -> Result<f64> {
        match self.get(attribute)? {
            Value::Float(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            v => Err(self.mismatch(attribute, "a float", &v)),
        }
    }

    /// A datetime attribute as microseconds since the Unix epoch, UTC.
    pub fn get_datetime(&self, attribute: &str) -> Result<i64> {
        match self.get(attribute)? {
            Value::DateTime(t) => Ok(t),
            v => Err(self.mismatch(attribute, "a datetime", &v)),
        }
    }

    /// A reference attribute: `None` when null.
    pub fn get_entity(&self, attribute: &str) -> Result<Option<Entity>> {
        match self.get(attribute)? {
            Value::Entity(e) => Ok(Some(e)),
            Value::Null => Ok(None),
            v => Err(self.mismatch(attribute, "an entity", &v)),
        }
    }

    /// A collection attribute.
    pub fn get_list(&self, attribute: &str) -> Result<Vec<Entity>> {
        match self.get(attribute)? {
            Value::Collection(c) => Ok(c),
            Value::Null => Ok(Vec::new()),
            v => Err(self.mismatch(attribute, "a collection", &v)),
        }
    }

    /// Any attribute as JSON, encoded as on the wire (entities as
    /// `{"__entity_type__", <primary key>}` references, datetimes as
    /// `{"__type__": "datetime", "value": ISO-8601 UTC}`).
    pub fn get_json(&self, attribute: &str) -> Result<serde_json::Value> {
        let v = self.get(attribute)?;
        Ok(self.session.value_to_json(&v))
    }

    /// Sets `attribute` locally and records an update (when recording is on).
    pub fn set(&self, attribute: &str, value: Value) -> Result<()> {
        self.session.entity_set(self, attribute, value)
    }

    /// Sets `attribute` from its wire JSON (as [`Entity::get_json`] gives it:
    /// references as `{"__entity_type__", <pk>}`, datetimes as ISO-8601 strings or
    /// `{"__type__": "datetime", "value"}`), converted to the attribute's kind,
    /// and records an update (when recording is on).
    pub fn set_json(&self, attribute: &str, value: &serde_json::Value) -> Result<()> {
        self.session.entity_set_json(self, attribute, value)
    }

    /// Appends `item` to a collection attribute and records the update.
    pub fn collection_append(&self, attribute: &str, item: &Entity) -> Result<()> {
        self.session.collection_change(self, attribute, item, true)
    }

    /// Removes `item` from a collection attribute and records the update.
    /// Removing an item that is not there is an [`Error::NotFound`].
    pub fn collection_remove(&self, attribute: &str, item: &Entity) -> Result<()> {
        self.session.collection_change(self, attribute, item, false)
    }

    /// This entity as a wire reference `{"__entity_type__": T, <pk>: value}`.
    pub fn reference_json(&self) -> serde_json::Value {
        self.session.reference_json(self.slot)
    }

    /// The session this entity belongs to.
    pub fn session(&self) -> crate::Session {
        crate::Session {
            inner: self.session.clone(),
        }
    }
}
