//! SQLite storage: one table per entity type (one column per stored
//! attribute, indexes on usernames and every foreign key), plus the
//! permission and API-key tables; conversions between JSON and SQL values.

use crate::datetime;
use crate::error::ApiError;
use crate::schema::{AttrKind, EntityType, ScalarType, Schema};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a database lives; more than one connection can open it.
#[derive(Debug, Clone)]
pub enum Location {
    /// A file (WAL journal: readers never wait for the writer).
    File(PathBuf),
    /// A process-private in-memory database shared by its connections
    /// (SQLite's `memdb` VFS, named by this URI); it vanishes with the last
    /// connection.
    Memory(String),
}

impl Location {
    /// The file, or a fresh in-memory database name unique in this process.
    pub fn new(path: Option<&Path>) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        match path {
            Some(p) => Location::File(p.to_path_buf()),
            None => Location::Memory(format!(
                "file:/ftrack-sandbox-{}-{}?vfs=memdb",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            )),
        }
    }

    /// Opens a connection, with the `rarray` table-valued function that
    /// queries bind lists of ids through.
    fn connect(&self, flags: OpenFlags) -> Result<Connection, ApiError> {
        let conn = match self {
            Location::File(p) => Connection::open_with_flags(p, flags)?,
            Location::Memory(uri) => {
                Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?
            }
        };
        rusqlite::vtab::array::load_module(&conn)?;
        Ok(conn)
    }
}

/// Each connection's page cache may grow to 32 MiB (SQLite's default is 2 MiB):
/// a 10,000-user studio is about 6 MiB, and with the default a 500-row page
/// spent a third of its time copying pages back into the cache.
const PAGE_CACHE: &str = "PRAGMA cache_size = -32768;";

/// Opens a read-only connection to a database `open` created; used for
/// batches that only read, so they run in parallel with each other.
pub fn open_reader(location: &Location) -> Result<Connection, ApiError> {
    let conn =
        location.connect(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.execute_batch(&format!("PRAGMA query_only = ON; {PAGE_CACHE}"))?;
    // In memory (memdb) a write transaction locks readers out until it
    // commits; wait for it as long as a batch can take rather than fail.
    conn.busy_timeout(std::time::Duration::from_secs(600))?;
    Ok(conn)
}

/// Opens (and creates the tables of) a new in-memory database, or a file.
pub fn open(path: Option<&Path>, schema: &Schema) -> Result<Connection, ApiError> {
    open_at(&Location::new(path), schema)
}

/// Opens (and creates the tables of) the database at `location`: the
/// connection that every write goes through.
pub fn open_at(location: &Location, schema: &Schema) -> Result<Connection, ApiError> {
    let conn = location.connect(
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // memdb has no WAL; its rollback journal must stay in memory too (the
    // default would put a file next to the database's name, at `/`).
    let journal = match location {
        Location::File(_) => "WAL",
        Location::Memory(_) => "MEMORY",
    };
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA journal_mode = {journal}; PRAGMA synchronous = NORMAL; {PAGE_CACHE}"
    ))?;
    // Databases written before roles had the all_projects property: the role
    // named Administrator had it implicitly, so give it the property once.
    let migrate_all_projects = conn
        .prepare("SELECT 1 FROM sqlite_master WHERE name = 'SecurityRole'")?
        .exists([])?
        && !conn
            .prepare("SELECT 1 FROM sqlite_master WHERE name = 'role_all_projects'")?
            .exists([])?;
    hash_plain_api_keys(&conn)?;
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
            key_hash BLOB PRIMARY KEY,
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

/// Databases written before keys were stored hashed keep them in clear in
/// `api_key.key`: replace that table by one holding SHA-256 digests, once.
fn hash_plain_api_keys(conn: &Connection) -> Result<(), ApiError> {
    let plain = conn
        .prepare("SELECT 1 FROM pragma_table_info('api_key') WHERE name = 'key'")?
        .exists([])?;
    if !plain {
        return Ok(());
    }
    let rows: Vec<(String, Option<String>, Option<String>)> = conn
        .prepare("SELECT key, user_id, role_id FROM api_key")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    // Overwrite the freed pages, so the keys do not linger in the file.
    conn.execute_batch("PRAGMA secure_delete = ON;")?;
    conn.execute_batch(
        "BEGIN; DROP INDEX IF EXISTS api_key_user; ALTER TABLE api_key RENAME TO api_key_plain;
         CREATE TABLE api_key (
            key_hash BLOB PRIMARY KEY,
            user_id TEXT REFERENCES \"User\"(id) ON DELETE CASCADE,
            role_id TEXT REFERENCES \"SecurityRole\"(id) ON DELETE CASCADE);",
    )?;
    let copied = (|| -> Result<(), ApiError> {
        let mut insert = conn.prepare(
            "INSERT OR IGNORE INTO api_key (key_hash, user_id, role_id) VALUES (?1, ?2, ?3)",
        )?;
        for (key, user, role) in &rows {
            insert.execute(rusqlite::params![
                crate::permissions::key_digest(key).as_slice(),
                user,
                role
            ])?;
        }
        conn.execute_batch("DROP TABLE api_key_plain; COMMIT;")?;
        Ok(())
    })();
    if copied.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    conn.execute_batch("PRAGMA secure_delete = OFF;")?;
    copied
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
