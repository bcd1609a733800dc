//! The `ftrack.update` event: what a committed write batch changed.
//!
//! Changes are captured by temporary triggers on the writer connection
//! (one per entity table and operation) into the temporary table
//! `ftrack_change_log`; its rows belong to the batch's transaction, so a
//! rolled-back batch leaves none. After the commit [`take_changes`] reads
//! and clears them, [`Update::build`] merges them per entity, and
//! [`Update::for_actor`] gives each subscriber the entities it may see.

use crate::error::ApiError;
use crate::permissions::Actor;
use crate::schema::{AttrKind, EntityType, ScalarType, Schema};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value, json};

/// Creates the change log and its triggers on `conn` (the writer).
pub fn install_triggers(conn: &Connection, schema: &Schema) -> Result<(), ApiError> {
    let mut sql = String::from(
        "CREATE TEMP TABLE IF NOT EXISTS ftrack_change_log (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, action TEXT NOT NULL, old TEXT, new TEXT);\n",
    );
    for t in schema.types() {
        let object = |row: &str| {
            let args: Vec<String> = t
                .columns()
                .iter()
                .map(|(c, _)| format!("'{c}', {row}.\"{c}\""))
                .collect();
            format!("json_object({})", args.join(", "))
        };
        let name = t.name;
        for (when, action, old, new) in [
            ("INSERT", "add", "NULL".to_string(), object("NEW")),
            ("UPDATE", "update", object("OLD"), object("NEW")),
            ("DELETE", "remove", object("OLD"), "NULL".to_string()),
        ] {
            sql.push_str(&format!(
                "CREATE TEMP TRIGGER IF NOT EXISTS \"ftrack_log_{name}_{action}\" AFTER {when} ON main.\"{name}\" BEGIN INSERT INTO ftrack_change_log (tbl, action, old, new) VALUES ('{name}', '{action}', {old}, {new}); END;\n"
            ));
        }
    }
    conn.execute_batch(&sql)?;
    Ok(())
}

/// One row change as the triggers logged it.
#[derive(Debug, Clone)]
pub struct RawChange {
    /// Entity type (table).
    pub table: String,
    /// `add`, `update` or `remove`.
    pub action: String,
    /// Columns before (update, remove).
    pub old: Option<Map<String, Value>>,
    /// Columns after (add, update).
    pub new: Option<Map<String, Value>>,
}

/// Reads and clears the change log (call after the commit).
pub fn take_changes(conn: &Connection) -> Result<Vec<RawChange>, ApiError> {
    let mut stmt =
        conn.prepare_cached("SELECT tbl, action, old, new FROM ftrack_change_log ORDER BY seq")?;
    let parse = |s: Option<String>| {
        s.and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
    };
    let rows = stmt
        .query_map([], |r| {
            Ok(RawChange {
                table: r.get(0)?,
                action: r.get(1)?,
                old: parse(r.get(2)?),
                new: parse(r.get(3)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    conn.execute("DELETE FROM ftrack_change_log", [])?;
    Ok(rows)
}

/// One changed entity, with the project it belongs to (for visibility).
#[derive(Debug, Clone)]
struct Changed {
    json: Value,
    /// The project and whether it is private.
    project: Option<(String, bool)>,
}

/// A batch's `ftrack.update`, before per-subscriber filtering.
#[derive(Debug, Clone)]
pub struct Update {
    entities: Vec<Changed>,
    user: Value,
    client_token: Value,
    push_token: Value,
}

/// The legacy (lower-case, underscore-free) key of a column: the
/// attribute's server alias when it has one (`roleid` for
/// `security_role_id`), else the column without underscores.
fn legacy_key(t: &EntityType, column: &str) -> String {
    t.attributes
        .iter()
        .find_map(|a| match a.kind {
            AttrKind::Scalar { column: c, .. } if c == column && a.name == column => a.alias_for,
            _ => None,
        })
        .map(str::to_string)
        .unwrap_or_else(|| column.replace('_', ""))
}

/// The legacy type name of an entity type (`show` for Project).
fn legacy_type(name: &str) -> String {
    match name {
        "Project" => "show".into(),
        other => other.to_ascii_lowercase(),
    }
}

fn typed(t: &EntityType, column: &str, v: &Value) -> Value {
    let ty = t
        .columns()
        .iter()
        .find(|(c, _)| *c == column)
        .map(|(_, t)| *t);
    match (ty, v) {
        (Some(ScalarType::Boolean), Value::Number(n)) => Value::Bool(n.as_i64() != Some(0)),
        _ => v.clone(),
    }
}

struct Merged {
    table: String,
    id: String,
    action: &'static str,
    old: Option<Map<String, Value>>,
    new: Option<Map<String, Value>>,
}

fn merge(raw: Vec<RawChange>) -> Vec<Merged> {
    let mut out: Vec<Merged> = Vec::new();
    for c in raw {
        let row = c.new.as_ref().or(c.old.as_ref());
        let Some(id) = row.and_then(|r| r.get("id")).and_then(Value::as_str) else {
            continue;
        };
        let id = id.to_string();
        let action: &'static str = match c.action.as_str() {
            "add" => "add",
            "update" => "update",
            _ => "remove",
        };
        match out.iter_mut().find(|m| m.table == c.table && m.id == id) {
            None => out.push(Merged {
                table: c.table,
                id,
                action,
                old: c.old,
                new: c.new,
            }),
            Some(m) => match (m.action, action) {
                ("add", "remove") => m.action = "gone",
                ("add", _) => m.new = c.new,
                ("update", "remove") => {
                    m.action = "remove";
                    m.new = None;
                }
                ("remove", _) | ("gone", _) => {
                    m.action = if m.action == "gone" { "add" } else { "update" };
                    m.new = c.new;
                }
                _ => m.new = c.new,
            },
        }
    }
    out.retain(|m| m.action != "gone");
    out
}

impl Update {
    /// Builds the update from the logged changes; None when nothing changed.
    /// `conn` (after the commit) looks up whether touched projects are private.
    pub fn build(
        conn: &Connection,
        schema: &Schema,
        raw: Vec<RawChange>,
        actor: &Actor,
        client_token: Option<&str>,
        push_token: Option<&str>,
    ) -> Result<Option<Update>, ApiError> {
        let mut entities = Vec::new();
        for m in merge(raw) {
            let Some(t) = schema.get(&m.table) else {
                continue;
            };
            let empty = Map::new();
            let old = m.old.as_ref().unwrap_or(&empty);
            let new = m.new.as_ref().unwrap_or(&empty);
            let mut keys = Vec::new();
            let mut changes = Map::new();
            for (column, _) in t.columns() {
                let o = old
                    .get(*column)
                    .map(|v| typed(t, column, v))
                    .unwrap_or(Value::Null);
                let n = new
                    .get(*column)
                    .map(|v| typed(t, column, v))
                    .unwrap_or(Value::Null);
                let include = match m.action {
                    "update" => o != n,
                    _ => !(o.is_null() && n.is_null()),
                };
                if include {
                    let key = legacy_key(t, column);
                    changes.insert(key.clone(), json!({"old": o, "new": n}));
                    keys.push(Value::from(key));
                }
            }
            if keys.is_empty() {
                continue;
            }
            let value_of = |c: &str| {
                new.get(c)
                    .or_else(|| old.get(c))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let project = match t.name {
                "Project" => {
                    let private = new
                        .get("is_private")
                        .or_else(|| old.get("is_private"))
                        .is_some_and(|v| v.as_i64().unwrap_or(0) != 0);
                    Some((m.id.clone(), private))
                }
                _ => match value_of("project_id") {
                    Some(pid) => {
                        let private: Option<bool> = conn
                            .query_row(
                                "SELECT COALESCE(is_private, 0) FROM \"Project\" WHERE id = ?1",
                                [&pid],
                                |r| r.get(0),
                            )
                            .optional()?;
                        // A project gone since is treated as private.
                        Some((pid, private.unwrap_or(true)))
                    }
                    None => None,
                },
            };
            let parents: Vec<Value> = project
                .iter()
                .map(|(pid, _)| json!({"entityId": pid, "entityType": "show", "parentId": null}))
                .collect();
            let parent_id = match (&project, t.name) {
                (Some((pid, _)), n) if n != "Project" => Value::from(pid.clone()),
                _ => Value::Null,
            };
            entities.push(Changed {
                json: json!({
                    "entityId": m.id,
                    "entityType": legacy_type(t.name),
                    "entity_type": t.name,
                    "action": m.action,
                    "keys": keys,
                    "changes": changes,
                    "parents": parents,
                    "parentId": parent_id,
                    "objectTypeId": null,
                }),
                project,
            });
        }
        if entities.is_empty() {
            return Ok(None);
        }
        let token = |t: Option<&str>| match t {
            Some(t) if !t.is_empty() && t != "undefined" => Value::from(t),
            _ => Value::Null,
        };
        Ok(Some(Update {
            entities,
            user: json!({"userid": actor.user_id, "name": actor.username}),
            client_token: token(client_token),
            push_token: token(push_token),
        }))
    }

    /// The event `actor` may receive: the entities of projects it can see
    /// (and those of no project); None when none is left.
    pub fn for_actor(&self, actor: &Actor) -> Option<Value> {
        let visible: Vec<&Changed> = self
            .entities
            .iter()
            .filter(|c| {
                c.project
                    .as_ref()
                    .is_none_or(|(pid, private)| actor.covers_project(pid, *private))
            })
            .collect();
        if visible.is_empty() {
            return None;
        }
        let mut parents: Vec<Value> = Vec::new();
        for c in &visible {
            if let Some((pid, _)) = &c.project {
                let pid = Value::from(pid.clone());
                if !parents.contains(&pid) {
                    parents.push(pid);
                }
            }
        }
        Some(json!({
            "id": uuid::Uuid::new_v4().simple().to_string(),
            "topic": "ftrack.update",
            "data": {
                "entities": visible.iter().map(|c| c.json.clone()).collect::<Vec<_>>(),
                "parents": parents,
                "user": self.user,
                "clientToken": self.client_token,
                "pushToken": self.push_token,
            },
            "source": {"id": "ftrack-sandbox", "user": {"username": self.user["name"]}},
            "target": "",
            "inReplyToEvent": null,
            "sent": null,
        }))
    }
}
