//! The pending batch seen from outside the session: non-entity [`Action`]s that
//! layers above the session record (the roles API's role actions), a typed view of
//! every recorded operation, and what a rollback could and could not discard.
//!
//! Operations are recorded in order, each with a sequence number that is unique
//! in its session and grows with every record. A commit takes the operations
//! pending at its start — exactly those, by sequence number — and sends them as
//! one batch; operations recorded while it is in flight stay pending for the next
//! commit. A layer that keeps state derived from the pending batch (validation
//! state, a preview) follows it incrementally with [`crate::Session::pending_mark`]
//! and [`crate::Session::recorded_operations_after`] instead of re-reading it.

use std::any::Any;
use std::fmt;

use crate::{Entity, Error, Result, Value};

/// A non-entity operation of the pending batch, e.g. a security-role action.
///
/// The session sends it in its place in the batch, as the JSON object that
/// [`Action::write_json`] writes, and never merges, moves or drops it.
/// Implementations are immutable values: the session shares them between the
/// pending batch, an in-flight commit and [`crate::Session::recorded_operations`].
pub trait Action: fmt::Debug + Send + Sync + 'static {
    /// The `"action"` name, e.g. `"add_user_security_role"`.
    fn name(&self) -> &str;
    /// Appends the whole operation as one JSON object (with its `"action"` key)
    /// to `out`.
    fn write_json(&self, out: &mut Vec<u8>);
    /// The action as [`Any`], so the layer that recorded it can read it back typed.
    fn as_any(&self) -> &dyn Any;
}

/// An [`Action`] given as a JSON object, for [`crate::Session::record_action`].
#[derive(Debug, Clone)]
pub struct JsonAction {
    name: String,
    json: serde_json::Value,
}

impl JsonAction {
    /// Wraps `operation`, which must be a JSON object with an `"action"` string.
    pub fn new(operation: serde_json::Value) -> Result<JsonAction> {
        match operation.get("action").and_then(|a| a.as_str()) {
            Some(name) if operation.is_object() => Ok(JsonAction {
                name: name.to_owned(),
                json: operation,
            }),
            _ => Err(Error::InvalidArgument(
                "an operation must be a JSON object with an \"action\" string, e.g. \
                 {\"action\": \"add_user_security_role\", ...}"
                    .into(),
            )),
        }
    }

    /// The operation as given.
    pub fn json(&self) -> &serde_json::Value {
        &self.json
    }
}

impl Action for JsonAction {
    fn name(&self) -> &str {
        &self.name
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        // Writing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(out, &self.json);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// What a recorded operation does, as [`crate::Session::recorded_operations`] shows it.
#[derive(Debug, Clone)]
pub enum Operation {
    /// `create`: the new entity and the values it is created with (attribute
    /// name, value), primary key included.
    Create {
        /// The created entity.
        entity: Entity,
        /// Attribute name and value, in the order they were given.
        data: Vec<(String, Value)>,
    },
    /// `update`: attributes set on an entity (one per [`Entity::set`] or
    /// collection edit).
    Update {
        /// The updated entity.
        entity: Entity,
        /// Attribute name and new value.
        data: Vec<(String, Value)>,
    },
    /// `delete` of an entity.
    Delete {
        /// The deleted entity.
        entity: Entity,
    },
    /// A non-entity action; downcast [`Action::as_any`] to read it typed.
    Action(std::sync::Arc<dyn Action>),
}

impl Operation {
    /// The wire action name: `create`, `update`, `delete` or the action's name.
    pub fn kind(&self) -> &str {
        match self {
            Operation::Create { .. } => "create",
            Operation::Update { .. } => "update",
            Operation::Delete { .. } => "delete",
            Operation::Action(a) => a.name(),
        }
    }
}

/// One recorded operation with its sequence number.
#[derive(Debug, Clone)]
pub struct RecordedOperation {
    /// Unique in the session, growing in recording order.
    pub seq: u64,
    /// What the operation does.
    pub operation: Operation,
}

impl RecordedOperation {
    /// The operation as structured JSON, one object per attribute it changes:
    /// `{"seq", "kind", "entity_type", "entity_key", "attribute", "value"}`.
    /// A `create` is one object whose `value` holds all its values (attribute
    /// `null`); an `update` gives one object per attribute set; a `delete` has
    /// `attribute` and `value` `null`; a non-entity action has no entity
    /// (`null`s) and its whole JSON as `value`. Values are wire JSON (see
    /// [`Value::to_json`]); entity keys are [`Entity::id`]s.
    pub fn to_json(&self) -> Vec<serde_json::Value> {
        let one = |entity: Option<&Entity>, attribute: Option<&str>, value: serde_json::Value| {
            serde_json::json!({
                "seq": self.seq,
                "kind": self.operation.kind(),
                "entity_type": entity.map(Entity::entity_type),
                "entity_key": entity.map(Entity::id),
                "attribute": attribute,
                "value": value,
            })
        };
        match &self.operation {
            Operation::Create { entity, data } => {
                let values: serde_json::Map<String, serde_json::Value> =
                    data.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
                vec![one(Some(entity), None, values.into())]
            }
            Operation::Update { entity, data } => data
                .iter()
                .map(|(k, v)| one(Some(entity), Some(k), v.to_json()))
                .collect(),
            Operation::Delete { entity } => vec![one(Some(entity), None, serde_json::Value::Null)],
            Operation::Action(a) => {
                let mut bytes = Vec::new();
                a.write_json(&mut bytes);
                let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
                vec![one(None, None, json)]
            }
        }
    }
}

/// Where the pending batch stands, for layers that follow it incrementally.
///
/// `removals` changes whenever operations leave the batch (a successful commit, a
/// rollback that discarded something); `last_seq` is the sequence number of the
/// last operation recorded (0 before the first). While `removals` is unchanged,
/// the batch is what it was plus the operations recorded after the remembered
/// `last_seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PendingMark {
    /// Counts the events that removed operations from the batch.
    pub removals: u64,
    /// The sequence number of the last recorded operation.
    pub last_seq: u64,
}

/// What [`crate::Session::rollback`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rollback {
    /// Pending operations discarded.
    pub discarded: usize,
    /// Operations of a commit in flight on another thread, which a rollback cannot
    /// take back: they are on their way to the server. If that commit fails they
    /// become pending again; if it succeeds they are applied. Their local values
    /// stay in the cache meanwhile.
    pub in_flight: usize,
}
