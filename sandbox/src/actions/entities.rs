//! Entity writes: `create`, `update` and `delete`, with permission checks,
//! defaults, reference resolution, collections and row validation.

use super::{Context, field};
use crate::error::ApiError;
use crate::query::load::{self, Projection};
use crate::schema::{AttrKind, DefaultValue, EntityType};
use crate::store::json_to_sql;
use rusqlite::types::Value as Sql;
use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value, json};

/// The id named by `entity_key` (a list, a bare string, or absent).
fn entity_key(op: &Value) -> Result<Option<String>, ApiError> {
    match op.get("entity_key") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(items)) if items.len() == 1 => match &items[0] {
            Value::String(s) => Ok(Some(s.clone())),
            Value::Number(n) => Ok(Some(n.to_string())),
            _ => Err(ApiError::validation(
                "entity_key must hold the primary key value",
            )),
        },
        Some(_) => Err(ApiError::validation(
            "entity_key must be the primary key: a list with one value or a string",
        )),
    }
}

/// The id of an entity reference (`{"__entity_type__", "id"}`) or a bare id.
fn reference_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// The entity type a foreign-key column of `t` points at.
fn fk_target(t: &EntityType, column: &str) -> Option<&'static str> {
    t.attributes.iter().find_map(|a| match a.kind {
        AttrKind::Reference { target, fk } if fk == column => Some(target),
        _ => None,
    })
}

enum Write {
    Create,
    Update,
    Delete,
}

impl Context<'_> {
    fn entity_type(&self, op: &Value) -> Result<&EntityType, ApiError> {
        let name = field(op, "entity_type")?;
        self.schema
            .get(name)
            .ok_or_else(|| ApiError::not_found(format!("Unknown entity type '{name}'")))
    }

    fn exists(&self, t: &str, id: &str) -> Result<bool, ApiError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT 1 FROM \"{t}\" WHERE id = ?1"),
                [id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Whether the row exists and the actor may see it. A Project the
    /// actor cannot see, or a UserSecurityRoleProject granting one, answers
    /// exactly as an id that does not exist: whether it exists stays private.
    pub(super) fn visible(&self, t: &str, id: &str) -> Result<bool, ApiError> {
        let project = match t {
            "Project" => Some(id.to_string()),
            "UserSecurityRoleProject" => self
                .conn
                .query_row(
                    "SELECT project_id FROM \"UserSecurityRoleProject\" WHERE id = ?1",
                    [id],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()?
                .flatten(),
            _ => return self.exists(t, id),
        };
        match project {
            Some(p) => self.actor.borrow().sees_project(self.conn, &p),
            None => self.exists(t, id),
        }
    }

    fn require_exists(&self, t: &str, id: &str) -> Result<(), ApiError> {
        if self.visible(t, id)? {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("No {t} with id {id}")))
        }
    }

    fn check_write(&self, t: &EntityType, kind: Write, id: Option<&str>) -> Result<(), ApiError> {
        let verb = match kind {
            Write::Create => "create",
            Write::Update => "update",
            Write::Delete => "delete",
        };
        let what = format!("{verb} {}", t.name);
        match (t.name, kind) {
            ("Project", Write::Create) => {
                self.actor.borrow().require_global("Create projects", &what)
            }
            ("Project", Write::Update) => self.actor.borrow().require_project(
                self.conn,
                id.unwrap_or(""),
                "Update project",
                &what,
            ),
            ("Project", Write::Delete) => self.actor.borrow().require_project(
                self.conn,
                id.unwrap_or(""),
                "Delete project",
                &what,
            ),
            ("SecurityRole" | "Location", _) => {
                self.actor.borrow().require_global("Manage settings", &what)
            }
            _ => self.actor.borrow().require_global("Manage users", &what),
        }
    }

    /// Converts `entity_data` into column assignments and collection lists.
    #[allow(clippy::type_complexity)]
    fn assignments(
        &self,
        t: &EntityType,
        data: &Map<String, Value>,
    ) -> Result<
        (
            Vec<(&'static str, &'static str, Sql)>,
            Vec<(&'static str, Vec<String>)>,
        ),
        ApiError,
    > {
        let mut columns = Vec::new();
        let mut collections = Vec::new();
        for (key, value) in data {
            if key == "__entity_type__" {
                continue;
            }
            let attr = crate::query::sql::attribute(t, key)?;
            match attr.kind {
                AttrKind::Scalar { ty, column, .. } => {
                    let v = json_to_sql(ty, key, value)?;
                    if let (Some(target), Sql::Text(id)) = (fk_target(t, column), &v)
                        && !self.visible(target, id)?
                    {
                        return Err(ApiError::validation(format!(
                            "No {target} with id {id} for '{key}'"
                        )));
                    }
                    columns.push((attr.name, column, v));
                }
                AttrKind::Reference { target, fk } => {
                    let v = match value {
                        Value::Null => Sql::Null,
                        v => {
                            let id = reference_id(v).ok_or_else(|| {
                                ApiError::validation(format!("Invalid reference for '{key}': {v}"))
                            })?;
                            if !self.visible(target, &id)? {
                                return Err(ApiError::validation(format!(
                                    "No {target} with id {id} for '{key}'"
                                )));
                            }
                            Sql::Text(id)
                        }
                    };
                    columns.push((fk, fk, v));
                }
                AttrKind::Collection { .. } => {
                    let items = value.as_array().ok_or_else(|| {
                        ApiError::validation(format!(
                            "Collection '{key}' must be a list of references"
                        ))
                    })?;
                    let ids = items
                        .iter()
                        .map(|v| {
                            reference_id(v).ok_or_else(|| {
                                ApiError::validation(format!("Invalid reference in '{key}': {v}"))
                            })
                        })
                        .collect::<Result<_, _>>()?;
                    collections.push((attr.name, ids));
                }
            }
        }
        // A later value for the same column (e.g. a deprecated twin) wins once.
        let mut dedup: Vec<(&'static str, &'static str, Sql)> = Vec::new();
        for c in columns {
            dedup.retain(|(_, col, _)| *col != c.1);
            dedup.push(c);
        }
        Ok((dedup, collections))
    }

    /// Points the listed members at `owner`; members no longer listed are deleted.
    fn set_collection(
        &self,
        t: &EntityType,
        owner: &str,
        name: &str,
        ids: &[String],
    ) -> Result<(), ApiError> {
        let Some(AttrKind::Collection { target, remote_fk }) = t.attribute(name).map(|a| a.kind)
        else {
            return Ok(());
        };
        let tt = crate::query::sql::entity_type(self.schema, target)?;
        self.check_write(tt, Write::Update, None)?;
        for id in ids {
            self.require_exists(target, id)?;
            self.conn.execute(
                &format!("UPDATE \"{target}\" SET \"{remote_fk}\" = ?1 WHERE id = ?2"),
                params![owner, id],
            )?;
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id FROM \"{target}\" WHERE \"{remote_fk}\" = ?1"
        ))?;
        let current: Vec<String> = stmt
            .query_map([owner], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in current.iter().filter(|c| !ids.contains(c)) {
            self.check_write(tt, Write::Delete, Some(id))?;
            self.conn
                .execute(&format!("DELETE FROM \"{target}\" WHERE id = ?1"), [id])?;
        }
        Ok(())
    }

    fn validate_row(&self, t: &EntityType, id: &str) -> Result<(), ApiError> {
        let required: &[&str] = match t.name {
            "UserSecurityRole" => &["user_id", "security_role_id"],
            "UserSecurityRoleProject" => &["user_security_role_id", "project_id"],
            _ => t.required,
        };
        for name in required {
            if let Some(AttrKind::Scalar { column, .. }) = t.attribute(name).map(|a| a.kind) {
                let null: bool = self.conn.query_row(
                    &format!(
                        "SELECT \"{column}\" IS NULL FROM {} WHERE id = ?1",
                        t.table()
                    ),
                    [id],
                    |r| r.get(0),
                )?;
                if null {
                    return Err(ApiError::validation(format!(
                        "{} needs a value for '{name}'",
                        t.name
                    )));
                }
            }
        }
        match t.name {
            "UserSecurityRole" => {
                let (user, role): (String, String) = self.conn.query_row(
                    "SELECT user_id, security_role_id FROM \"UserSecurityRole\" WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                self.assignable(&role)?;
                let n: i64 = self.conn.query_row(
                    "SELECT COUNT(*) FROM \"UserSecurityRole\" WHERE user_id = ?1 AND security_role_id = ?2",
                    [&user, &role],
                    |r| r.get(0),
                )?;
                if n > 1 {
                    let (u, r) = (self.username(&user)?, self.role_name(&role)?);
                    return Err(ApiError::validation(format!(
                        "User '{u}' already holds the security role '{r}'"
                    )));
                }
            }
            "UserSecurityRoleProject" => {
                let n: i64 = self.conn.query_row(
                    "SELECT COUNT(*) FROM \"UserSecurityRoleProject\" a JOIN \"UserSecurityRoleProject\" b
                     ON a.user_security_role_id = b.user_security_role_id AND a.project_id = b.project_id
                     WHERE a.id = ?1",
                    [id],
                    |r| r.get(0),
                )?;
                if n > 1 {
                    return Err(ApiError::validation(
                        "The project is already granted to this role",
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn create(&self, op: &Value) -> Result<Value, ApiError> {
        let t = self.entity_type(op)?;
        self.check_write(t, Write::Create, None)?;
        let empty = Map::new();
        let data = match op.get("entity_data") {
            Some(Value::Object(o)) => o,
            None | Some(Value::Null) => &empty,
            Some(_) => return Err(ApiError::validation("entity_data must be an object")),
        };
        let id = match data.get("id") {
            Some(v) => {
                reference_id(v).ok_or_else(|| ApiError::validation("id must be a string"))?
            }
            None => entity_key(op)?.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        };
        if self.exists(t.name, &id)? {
            return Err(ApiError::validation(format!(
                "{} with id {id} already exists",
                t.name
            )));
        }
        let (mut columns, collections) = self.assignments(t, data)?;
        columns.retain(|(_, col, _)| *col != "id");
        columns.push(("id", "id", Sql::Text(id.clone())));
        for a in t.scalar_attributes() {
            let AttrKind::Scalar { ty, column, .. } = a.kind else {
                continue;
            };
            if columns.iter().any(|(_, c, _)| *c == column) {
                continue;
            }
            let v = match a.default {
                Some(DefaultValue::Str(s)) => Sql::Text(s.into()),
                Some(DefaultValue::Bool(b)) => Sql::Integer(b as i64),
                Some(DefaultValue::Uid) => Sql::Text(uuid::Uuid::new_v4().to_string()),
                None if ty == crate::schema::ScalarType::Boolean => Sql::Integer(0),
                None if a.name == "created_at" => Sql::Text(crate::datetime::now()),
                None => continue,
            };
            columns.push((a.name, column, v));
        }
        let names: Vec<String> = columns.iter().map(|(_, c, _)| format!("\"{c}\"")).collect();
        let marks = vec!["?"; columns.len()].join(", ");
        self.conn.execute(
            &format!(
                "INSERT INTO {} ({}) VALUES ({marks})",
                t.table(),
                names.join(", ")
            ),
            rusqlite::params_from_iter(columns.into_iter().map(|(_, _, v)| v)),
        )?;
        for (name, ids) in &collections {
            self.set_collection(t, &id, name, ids)?;
        }
        self.validate_row(t, &id)?;
        if t.name == "Project" {
            self.grant_to_creator(&id)?;
        }
        let data = load::entity(self.conn, self.schema, t, &id, &Projection::all_scalars(t))?;
        Ok(json!({"action": "create", "data": data}))
    }

    /// Lets the creator of a project see it: every role of the acting user
    /// that carries "Create projects" and does not already cover the new
    /// project gets it granted (a UserSecurityRoleProject), in the database
    /// and for the rest of the batch. A global API key's role is not a
    /// UserSecurityRole, so it gets no grant.
    fn grant_to_creator(&self, project_id: &str) -> Result<(), ApiError> {
        let private: bool = self.conn.query_row(
            "SELECT COALESCE(is_private, 0) FROM \"Project\" WHERE id = ?1",
            [project_id],
            |r| r.get(0),
        )?;
        let mut actor = self.actor.borrow_mut();
        for role in &mut actor.roles {
            let Some(usr_id) = &role.user_security_role_id else {
                continue;
            };
            let covered = role.all_projects || (role.all_open_projects && !private);
            if covered || !role.permissions.contains("Create projects") {
                continue;
            }
            self.conn.execute(
                "INSERT INTO \"UserSecurityRoleProject\" (id, user_security_role_id, project_id) VALUES (?1, ?2, ?3)",
                params![uuid::Uuid::new_v4().to_string(), usr_id, project_id],
            )?;
            role.projects.insert(project_id.to_string());
        }
        Ok(())
    }

    fn target_id(&self, t: &EntityType, op: &Value) -> Result<String, ApiError> {
        let id = entity_key(op)?
            .or_else(|| {
                op.pointer("/entity_data/id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .ok_or_else(|| ApiError::validation("Missing entity_key"))?;
        self.require_exists(t.name, &id)?;
        Ok(id)
    }

    pub(super) fn update(&self, op: &Value) -> Result<Value, ApiError> {
        let t = self.entity_type(op)?;
        let id = self.target_id(t, op)?;
        self.check_write(t, Write::Update, Some(&id))?;
        let data = op
            .get("entity_data")
            .and_then(Value::as_object)
            .ok_or_else(|| ApiError::validation("entity_data must be an object"))?;
        let (columns, collections) = self.assignments(t, data)?;
        let mut changed: Vec<&'static str> = Vec::new();
        for (name, column, value) in columns {
            if t.immutable.contains(&name) {
                let same: bool = self.conn.query_row(
                    &format!("SELECT \"{column}\" IS ?1 FROM {} WHERE id = ?2", t.table()),
                    params![value, id],
                    |r| r.get(0),
                )?;
                if !same {
                    return Err(ApiError::validation(format!(
                        "Attribute '{name}' of {} is immutable",
                        t.name
                    )));
                }
                continue;
            }
            self.conn.execute(
                &format!("UPDATE {} SET \"{column}\" = ?1 WHERE id = ?2", t.table()),
                params![value, id],
            )?;
            changed.push(name);
        }
        for (name, ids) in &collections {
            self.set_collection(t, &id, name, ids)?;
        }
        self.validate_row(t, &id)?;
        let data = load::entity(
            self.conn,
            self.schema,
            t,
            &id,
            &Projection::from_scalars(changed),
        )?;
        Ok(json!({"action": "update", "data": data}))
    }

    pub(super) fn delete(&self, op: &Value) -> Result<Value, ApiError> {
        let t = self.entity_type(op)?;
        let id = self.target_id(t, op)?;
        self.check_write(t, Write::Delete, Some(&id))?;
        self.conn
            .execute(&format!("DELETE FROM {} WHERE id = ?1", t.table()), [&id])?;
        Ok(json!({"action": "delete", "data": true}))
    }
}
