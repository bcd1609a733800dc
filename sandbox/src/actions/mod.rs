//! Executes a batch of operations inside one SQLite transaction: either every
//! operation applies or none does, and the error names the failing index.

mod entities;
mod roles;

use crate::error::ApiError;
use crate::permissions::Actor;
use crate::query::load;
use crate::schema::Schema;
use rusqlite::Connection;
use serde_json::{Value, json};
use std::cell::{Cell, RefCell};

/// What a batch runs against.
pub struct Context<'a> {
    /// The open transaction.
    pub conn: &'a Connection,
    /// Entity types.
    pub schema: &'a Schema,
    /// The authenticated user; its grants grow when it creates a project
    /// within the batch.
    pub actor: RefCell<Actor>,
    /// Fully encode every occurrence of an entity (`denormalize:1`).
    pub denormalize: bool,
    /// `version` reported by `query_server_information`.
    pub version: &'a str,
    /// Bytes the batch's answers have taken so far.
    pub answered: Cell<usize>,
}

/// One operation's answer.
#[derive(Debug)]
pub enum Answer {
    /// A JSON value.
    Value(Value),
    /// JSON already encoded (a query page, written straight from its rows).
    Encoded(Vec<u8>),
}

impl Answer {
    /// Appends the answer's JSON to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Answer::Value(v) => {
                serde_json::to_writer(out, v).expect("serialising to a Vec cannot fail")
            }
            Answer::Encoded(bytes) => out.extend_from_slice(bytes),
        }
    }
}

/// Encodes a batch's answers as the JSON array of the response.
pub fn encode_answers(answers: &[Answer]) -> Vec<u8> {
    let len = answers
        .iter()
        .map(|a| match a {
            Answer::Encoded(b) => b.len() + 1,
            Answer::Value(_) => 64,
        })
        .sum::<usize>();
    let mut out = Vec::with_capacity(len + 2);
    out.push(b'[');
    for (i, a) in answers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        a.write(&mut out);
    }
    out.push(b']');
    out
}

/// Runs `batch` in one transaction; on failure nothing is applied.
pub fn execute_batch(
    conn: &mut Connection,
    schema: &Schema,
    actor: &Actor,
    batch: &[Value],
    denormalize: bool,
    version: &str,
) -> Result<Vec<Answer>, ApiError> {
    let tx = conn.transaction()?;
    let mut out = Vec::with_capacity(batch.len());
    {
        let ctx = Context {
            conn: &tx,
            schema,
            actor: RefCell::new(actor.clone()),
            denormalize,
            version,
            answered: Cell::new(0),
        };
        for (i, op) in batch.iter().enumerate() {
            let name = op.get("action").and_then(Value::as_str).unwrap_or("");
            let answer = ctx.operation(op).and_then(|a| {
                let size = match &a {
                    Answer::Encoded(bytes) => bytes.len(),
                    Answer::Value(v) => serde_json::to_vec(v).map_or(0, |b| b.len()),
                };
                let total = ctx.answered.get().saturating_add(size + 1);
                load::Budget::new(total).bytes(0)?;
                ctx.answered.set(total);
                Ok(a)
            });
            match answer {
                Ok(v) => out.push(v),
                Err(e) => {
                    return Err(ApiError::new(
                        e.kind,
                        format!("Operation {i} ({name}) failed: {}", e.message),
                    ));
                }
            }
        }
    }
    tx.commit()?;
    Ok(out)
}

fn field<'v>(op: &'v Value, name: &str) -> Result<&'v str, ApiError> {
    op.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation(format!("Missing or non-string field '{name}'")))
}

fn flag(op: &Value, name: &str) -> bool {
    op.get(name).and_then(Value::as_bool).unwrap_or(false)
}

impl Context<'_> {
    fn operation(&self, op: &Value) -> Result<Answer, ApiError> {
        if op.get("action").and_then(Value::as_str) == Some("query") {
            let visible = self.actor.borrow().visible_projects(self.conn)?;
            return load::run(
                self.conn,
                self.schema,
                visible.as_deref(),
                field(op, "expression")?,
                self.denormalize,
                self.answered.get(),
            )
            .map(Answer::Encoded);
        }
        self.value_operation(op).map(Answer::Value)
    }

    fn value_operation(&self, op: &Value) -> Result<Value, ApiError> {
        let action = op
            .get("action")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::validation("Operation has no 'action'"))?;
        match action {
            "query_server_information" => Ok(json!({
                "version": self.version,
                "schema_hash": self.schema.hash(),
                "storage_scenario": {"scenario": "ftrack.automatic", "data": {}},
                "is_timezone_support_enabled": true,
            })),
            "query_schemas" => Ok(self.schema.json().clone()),
            "create" => self.create(op),
            "update" => self.update(op),
            "delete" => self.delete(op),
            "add_user_security_role"
            | "remove_user_security_role"
            | "revoke_user_security_role"
            | "update_user_security_role"
            | "grant_user_security_role_project"
            | "revoke_user_security_role_project" => self.role_action(action, op),
            other => Err(ApiError::validation(format!("Invalid action '{other}'"))),
        }
    }
}
