//! Executes a batch of operations inside one SQLite transaction: either every
//! operation applies or none does, and the error names the failing index.

mod entities;
mod roles;

use crate::error::ApiError;
use crate::error::ErrorKind;
use crate::permissions::Actor;
use crate::query::load;
use crate::schema::Schema;
use rusqlite::Connection;
use serde_json::{Value, json};
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

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
    /// The answer's JSON.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Answer::Value(v) => serde_json::to_vec(&v).expect("serialising to a Vec cannot fail"),
            Answer::Encoded(bytes) => bytes,
        }
    }
}

/// A batch's answers, each encoded on its own, sent as one JSON array without
/// being joined into one buffer first: a query page goes to the socket from
/// the buffer it was written into (see [`crate::http::write_response_parts`]).
#[derive(Debug)]
pub struct EncodedAnswers(Vec<Vec<u8>>);

impl EncodedAnswers {
    /// The response body, in pieces to send back to back: `[`, the answers
    /// with `,` between them, `]`.
    pub fn parts(&self) -> Vec<&[u8]> {
        let mut parts = Vec::with_capacity(self.0.len() * 2 + 1);
        parts.push(&b"["[..]);
        for (i, answer) in self.0.iter().enumerate() {
            if i > 0 {
                parts.push(b",");
            }
            parts.push(answer);
        }
        parts.push(b"]");
        parts
    }
}

/// How long a batch may run, and since when.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    /// When the batch must be done.
    pub at: Instant,
    /// The limit, for the error message.
    pub limit: Duration,
}

impl Deadline {
    /// A deadline `limit` from now.
    pub fn after(limit: Duration) -> Self {
        Deadline {
            at: Instant::now() + limit,
            limit,
        }
    }

    /// Whether it has passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The error a batch that ran past it fails with.
    pub fn error(&self) -> ApiError {
        ApiError::validation(format!(
            "The batch ran longer than {} ms (the limit) and was rolled back; split it into smaller batches or narrow its queries",
            self.limit.as_millis()
        ))
    }
}

/// Runs `batch` in one transaction; on failure nothing is applied. Past
/// `deadline` the running SQL statement is interrupted and the batch fails.
pub fn execute_batch(
    conn: &mut Connection,
    schema: &Schema,
    actor: &Actor,
    batch: &[Value],
    denormalize: bool,
    version: &str,
    deadline: Deadline,
) -> Result<EncodedAnswers, ApiError> {
    let at = deadline.at;
    // Called every 1000 virtual-machine steps of a statement: interrupts it
    // (SQLITE_INTERRUPT) once the deadline has passed.
    conn.progress_handler(1000, Some(move || Instant::now() >= at));
    let result = run_batch(conn, schema, actor, batch, denormalize, version, deadline);
    conn.progress_handler(0, None::<fn() -> bool>);
    result.map_err(|e| {
        if e.kind == ErrorKind::Server && deadline.passed() {
            deadline.error()
        } else {
            e
        }
    })
}

fn run_batch(
    conn: &mut Connection,
    schema: &Schema,
    actor: &Actor,
    batch: &[Value],
    denormalize: bool,
    version: &str,
    deadline: Deadline,
) -> Result<EncodedAnswers, ApiError> {
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
            if deadline.passed() {
                return Err(deadline.error());
            }
            let answer = ctx.operation(op).and_then(|a| {
                let bytes = a.into_bytes();
                let total = ctx.answered.get().saturating_add(bytes.len() + 1);
                load::Budget::new(total).bytes(0)?;
                ctx.answered.set(total);
                Ok(bytes)
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
    Ok(EncodedAnswers(out))
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
