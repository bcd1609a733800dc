//! SQLite storage: one table per entity type (one column per stored
//! attribute, indexes on usernames and every foreign key), plus the
//! permission and API-key tables; conversions between JSON and SQL values.

use crate::datetime;
use crate::error::ApiError;
use crate::schema::{AttrKind, EntityType, ScalarType, Schema};
use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use serde_json::{Value, json};
use std::path::Path;

/// Opens (and creates the tables of) an in-memory or file database.
pub fn open(path: Option<&Path>, schema: &Schema) -> Result<Connection, ApiError> {
    let conn = match path {
        Some(p) => Connection::open(p)?,
        None => Connection::open_in_memory()?,
    };
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
    )?;
    // Databases written before roles had the all_projects property: the role
    // named Administrator had it implicitly, so give it the property once.
    let migrate_all_projects = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE name = 'SecurityRole'")?
        .exists([])?
        && !conn
            .prepare("SELECT 1 FROM sqlite_master WHERE name = 'role_all_projects'")?
            .exists([])?;
    let mut ddl = String::new();
    for t in schema.types() {
        ddl.push_str(&table_ddl(t));
    }
    ddl.push_str(
        "CREATE TABLE IF NOT EXISTS role_permission (
            role_id TEXT NOT NULL REFERENCES \"SecurityRole\"(id) ON DELETE CASCADE,
            permission TEXT NOT NULL, PRIMARY KEY (role_id, permission));
         CREATE TABLE IF NOT EXISTS role_all_projects (
            role_id TEXT PRIMARY KEY REFERENCES \"SecurityRole\"(id) ON DELETE CASCADE);
         CREATE TABLE IF NOT EXISTS api_key (
            key TEXT PRIMARY KEY,
            user_id TEXT REFERENCES \"User\"(id) ON DELETE CASCADE,
            role_id TEXT REFERENCES \"SecurityRole\"(id) ON DELETE CASCADE);
         CREATE INDEX IF NOT EXISTS api_key_user ON api_key(user_id);
         CREATE UNIQUE INDEX IF NOT EXISTS user_username ON \"User\"(username);
         CREATE INDEX IF NOT EXISTS role_name ON \"SecurityRole\"(name);
         CREATE INDEX IF NOT EXISTS project_name ON \"Project\"(name);",
    );
    conn.execute_batch(&ddl)?;
    if migrate_all_projects {
        conn.execute(
            "INSERT OR IGNORE INTO role_all_projects SELECT id FROM \"SecurityRole\" WHERE name = ?1",
            [crate::permissions::ADMINISTRATOR_ROLE],
        )?;
    }
    Ok(conn)
}

fn table_ddl(t: &EntityType) -> String {
    let mut cols = Vec::new();
    let mut indexes = String::new();
    for &(column, ty) in t.columns() {
        let sql_ty = match ty {
            ScalarType::Boolean | ScalarType::Integer => "INTEGER",
            ScalarType::String | ScalarType::DateTime => "TEXT",
        };
        let mut col = format!("\"{column}\" {sql_ty}");
        if column == "id" {
            col.push_str(" PRIMARY KEY NOT NULL");
        }
        let target = t.attributes.iter().find_map(|a| match a.kind {
            AttrKind::Reference { target, fk } if fk == column => Some(target),
            _ => None,
        });
        if let Some(target) = target {
            let action = if target == t.name {
                "SET NULL"
            } else {
                "CASCADE"
            };
            col.push_str(&format!(
                " REFERENCES \"{target}\"(id) ON DELETE {action} DEFERRABLE INITIALLY DEFERRED"
            ));
            indexes.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS \"{}_{column}\" ON \"{}\"(\"{column}\");\n",
                t.name, t.name
            ));
        }
        cols.push(col);
    }
    format!(
        "CREATE TABLE IF NOT EXISTS \"{}\" ({});\n{indexes}",
        t.name,
        cols.join(", ")
    )
}

/// Encodes a stored SQL value of type `ty` as JSON for a response.
pub fn sql_to_json(ty: ScalarType, v: &Sql) -> Value {
    match (ty, v) {
        (_, Sql::Null) => Value::Null,
        (ScalarType::Boolean, Sql::Integer(i)) => Value::Bool(*i != 0),
        (ScalarType::DateTime, Sql::Text(s)) => json!({"__type__": "datetime", "value": s}),
        (_, Sql::Integer(i)) => Value::from(*i),
        (_, Sql::Real(f)) => Value::from(*f),
        (_, Sql::Text(s)) => Value::from(s.as_str()),
        (_, Sql::Blob(_)) => Value::Null,
    }
}

/// Converts a JSON value sent by a client into the SQL value for an attribute
/// of type `ty`; a value of the wrong type is a validation error naming `attr`.
pub fn json_to_sql(ty: ScalarType, attr: &str, v: &Value) -> Result<Sql, ApiError> {
    let bad = || ApiError::validation(format!("Invalid value for attribute '{attr}': {v}"));
    Ok(match (ty, v) {
        (_, Value::Null) => Sql::Null,
        (ScalarType::String, Value::String(s)) => Sql::Text(s.clone()),
        (ScalarType::String, Value::Number(n)) => Sql::Text(n.to_string()),
        (ScalarType::Boolean, Value::Bool(b)) => Sql::Integer(*b as i64),
        (ScalarType::Boolean, Value::Number(n)) => Sql::Integer((n.as_f64() != Some(0.0)) as i64),
        (ScalarType::Integer, Value::Number(n)) => Sql::Integer(n.as_i64().ok_or_else(bad)?),
        (ScalarType::DateTime, Value::String(s)) => {
            Sql::Text(datetime::normalize(s).ok_or_else(bad)?)
        }
        (ScalarType::DateTime, Value::Object(o)) => {
            let text = o.get("value").and_then(Value::as_str).ok_or_else(bad)?;
            Sql::Text(datetime::normalize(text).ok_or_else(bad)?)
        }
        _ => return Err(bad()),
    })
}
