//! The security-role actions: add, remove (also the old name revoke),
//! replace, and grant / revoke a project or all open projects.

use super::{Context, field, flag};
use crate::error::ApiError;
use crate::permissions::ASSIGNABLE_ROLE_TYPES;
use crate::query::load::{self, Projection};
use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

impl Context<'_> {
    pub(super) fn username(&self, user_id: &str) -> Result<String, ApiError> {
        self.conn
            .query_row(
                "SELECT username FROM \"User\" WHERE id = ?1",
                [user_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| ApiError::not_found(format!("No User with id {user_id}")))
    }

    pub(super) fn role_name(&self, role_id: &str) -> Result<String, ApiError> {
        self.conn
            .query_row(
                "SELECT name FROM \"SecurityRole\" WHERE id = ?1",
                [role_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| ApiError::not_found(format!("No SecurityRole with id {role_id}")))
    }

    pub(super) fn assignable(&self, role_id: &str) -> Result<(), ApiError> {
        let (name, ty): (String, Option<String>) = self
            .conn
            .query_row(
                "SELECT name, type FROM \"SecurityRole\" WHERE id = ?1",
                [role_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| ApiError::not_found(format!("No SecurityRole with id {role_id}")))?;
        let ty = ty.unwrap_or_default();
        if ASSIGNABLE_ROLE_TYPES.contains(&ty.as_str()) {
            Ok(())
        } else {
            Err(ApiError::validation(format!(
                "The security role '{name}' has type {ty} and cannot be given to a user; only PROJECT and ASSIGNED roles can"
            )))
        }
    }

    fn held(&self, user_id: &str, role_id: &str) -> Result<Option<(String, bool)>, ApiError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, COALESCE(is_all_open_projects, 0) FROM \"UserSecurityRole\" WHERE user_id = ?1 AND security_role_id = ?2",
                [user_id, role_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub(super) fn role_action(&self, action: &str, op: &Value) -> Result<Value, ApiError> {
        self.actor.borrow().require_global("Manage users", action)?;
        let user_id = field(op, "user_id")?;
        let role_id = field(op, "role_id")?;
        let user = self.username(user_id)?;
        let role = self.role_name(role_id)?;
        let not_held = || {
            ApiError::validation(format!(
                "User '{user}' does not hold the security role '{role}'"
            ))
        };
        let usr = self
            .schema
            .get("UserSecurityRole")
            .ok_or_else(|| ApiError::server("schema"))?;
        let usr_entity = |id: &str| {
            load::entity(
                self.conn,
                self.schema,
                usr,
                id,
                &Projection::all_scalars(usr),
            )
        };
        let all_open = flag(op, "all_open_projects");
        let data = match action {
            "add_user_security_role" => {
                self.assignable(role_id)?;
                if self.held(user_id, role_id)?.is_some() {
                    return Err(ApiError::validation(format!(
                        "User '{user}' already holds the security role '{role}'"
                    )));
                }
                let id = uuid::Uuid::new_v4().to_string();
                self.conn.execute(
                    "INSERT INTO \"UserSecurityRole\" (id, user_id, security_role_id, is_all_open_projects) VALUES (?1, ?2, ?3, ?4)",
                    params![id, user_id, role_id, all_open],
                )?;
                usr_entity(&id)?.unwrap_or(Value::Null)
            }
            "remove_user_security_role" | "revoke_user_security_role" => {
                let (id, _) = self.held(user_id, role_id)?.ok_or_else(not_held)?;
                self.conn
                    .execute("DELETE FROM \"UserSecurityRole\" WHERE id = ?1", [&id])?;
                Value::Bool(true)
            }
            "update_user_security_role" => {
                let new_role_id = field(op, "new_role_id")?;
                let new_role = self.role_name(new_role_id)?;
                let (id, _) = self.held(user_id, role_id)?.ok_or_else(not_held)?;
                self.assignable(new_role_id)?;
                if self.held(user_id, new_role_id)?.is_some() {
                    return Err(ApiError::validation(format!(
                        "User '{user}' already holds the security role '{new_role}'"
                    )));
                }
                self.conn.execute(
                    "UPDATE \"UserSecurityRole\" SET security_role_id = ?1 WHERE id = ?2",
                    params![new_role_id, id],
                )?;
                usr_entity(&id)?.unwrap_or(Value::Null)
            }
            "grant_user_security_role_project" | "revoke_user_security_role_project" => {
                let grant = action.starts_with("grant");
                let (id, is_all_open) = self.held(user_id, role_id)?.ok_or_else(not_held)?;
                if all_open && op.get("project_id").is_none_or(Value::is_null) {
                    if is_all_open == grant {
                        return Err(ApiError::validation(format!(
                            "The security role '{role}' of user '{user}' {} all open projects",
                            if grant {
                                "already covers"
                            } else {
                                "does not cover"
                            }
                        )));
                    }
                    self.conn.execute(
                        "UPDATE \"UserSecurityRole\" SET is_all_open_projects = ?1 WHERE id = ?2",
                        params![grant, id],
                    )?;
                    return Ok(json!({"action": action, "data": usr_entity(&id)?}));
                }
                let project_id = field(op, "project_id")?;
                let missing = || ApiError::not_found(format!("No Project with id {project_id}"));
                // A project the acting user cannot see answers as a missing one.
                if !self.visible("Project", project_id)? {
                    return Err(missing());
                }
                let project: String = self
                    .conn
                    .query_row(
                        "SELECT name FROM \"Project\" WHERE id = ?1",
                        [project_id],
                        |r| r.get(0),
                    )
                    .optional()?
                    .ok_or_else(missing)?;
                let grant_id: Option<String> = self
                    .conn
                    .query_row(
                        "SELECT id FROM \"UserSecurityRoleProject\" WHERE user_security_role_id = ?1 AND project_id = ?2",
                        [&id, project_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                match (grant, grant_id) {
                    (true, Some(_)) => {
                        return Err(ApiError::validation(format!(
                            "Project '{project}' is already granted to the security role '{role}' of user '{user}'"
                        )));
                    }
                    (false, None) => {
                        return Err(ApiError::validation(format!(
                            "Project '{project}' is not granted to the security role '{role}' of user '{user}'"
                        )));
                    }
                    (true, None) => {
                        self.conn.execute(
                            "INSERT INTO \"UserSecurityRoleProject\" (id, user_security_role_id, project_id) VALUES (?1, ?2, ?3)",
                            params![uuid::Uuid::new_v4().to_string(), id, project_id],
                        )?;
                        usr_entity(&id)?.unwrap_or(Value::Null)
                    }
                    (false, Some(g)) => {
                        self.conn.execute(
                            "DELETE FROM \"UserSecurityRoleProject\" WHERE id = ?1",
                            [&g],
                        )?;
                        Value::Bool(true)
                    }
                }
            }
            _ => return Err(ApiError::validation(format!("Invalid action '{action}'"))),
        };
        Ok(json!({"action": action, "data": data}))
    }
}
