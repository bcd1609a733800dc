//! The security-role model: who is acting, which permissions their roles
//! grant, on which projects, and the checks the actions use.

use crate::error::ApiError;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use subtle::ConstantTimeEq;

/// Global (system-wide) permissions, as ftrack lists them.
pub const GLOBAL_PERMISSIONS: &[&str] = &[
    "Manage users",
    "Can view component details",
    "Manage global events",
    "Can access overview",
    "Can share views with everyone",
    "Can save a view as global default",
    "Can view reports",
    "Manage settings",
    "Create projects",
    "Can access projects",
    "Can access my tasks",
    "Create project dashboard",
    "Share dashboard with everyone",
    "Can manage user api keys",
    "Can a manage custom widgets",
    "Can create new external collaborators",
    "Can access planning",
];

/// Project-specific permissions, as ftrack lists them.
pub const PROJECT_PERMISSIONS: &[&str] = &[
    "Manage team",
    "Can save a view as project default",
    "[API] Manage other users timelogs",
    "Access other users timelogs",
    "Manage project events",
    "Manage object links",
    "Can change status of a task",
    "Can change status of a version",
    "Update objects (sequence, shot, task)",
    "Read bid",
    "Delete objects (sequence, shot, task)",
    "Delete project",
    "Create attributes",
    "Create objects (sequence, shot, task)",
    "Create list",
    "Add objects to list",
    "Remove objects from list",
    "Edit manager",
    "Delete versions",
    "Manage user access to project",
    "Update project",
    "View client review session",
    "Manage client review session",
    "Move objects",
];

/// Role types that may be given to users.
pub const ASSIGNABLE_ROLE_TYPES: &[&str] = &["PROJECT", "ASSIGNED"];

/// The name of the default role that sees every project. Only the seed uses
/// it: what a role may see is decided by its `all_projects` property, never
/// by its name.
pub const ADMINISTRATOR_ROLE: &str = "Administrator";

/// One role the actor holds, with its scope.
#[derive(Debug, Clone)]
pub struct HeldRole {
    /// SecurityRole name (informational; never decides access).
    pub name: String,
    /// The UserSecurityRole through which the user holds the role (None for
    /// a global API key's role).
    pub user_security_role_id: Option<String>,
    /// The role covers every project, private ones included (stored in the
    /// `role_all_projects` table; not a schema attribute).
    pub all_projects: bool,
    /// Permissions of the role.
    pub permissions: HashSet<String>,
    /// Applies to every open (non-private) project.
    pub all_open_projects: bool,
    /// Projects explicitly granted.
    pub projects: HashSet<String>,
}

impl HeldRole {
    fn covers(&self, project_id: &str, is_private: bool) -> bool {
        self.all_projects
            || (self.all_open_projects && !is_private)
            || self.projects.contains(project_id)
    }
}

/// The authenticated user a request acts as, with the roles that decide what it may do.
#[derive(Debug, Clone)]
pub struct Actor {
    /// User id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// Roles whose permissions apply (the user's roles, or a global key's role).
    pub roles: Vec<HeldRole>,
}

/// Whether the role covers every project (its `all_projects` property).
pub fn role_sees_all_projects(conn: &Connection, role_id: &str) -> Result<bool, ApiError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM role_all_projects WHERE role_id = ?1")?
        .exists([role_id])?)
}

fn role_permissions(conn: &Connection, role_id: &str) -> Result<HashSet<String>, ApiError> {
    let mut stmt =
        conn.prepare_cached("SELECT permission FROM role_permission WHERE role_id = ?1")?;
    let rows = stmt.query_map([role_id], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// SHA-256 of an API key: what the `api_key` table stores instead of the key.
pub fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// What a key is for: its owner (a personal key) or its role (a global key).
type KeyGrant = (Option<String>, Option<String>);

/// The user id and active flag of `username`, and what `key` grants when it
/// is that user's personal key or a global key. The key's digest is
/// compared in constant time with every candidate digest, none skipped.
fn check_key(
    conn: &Connection,
    username: &str,
    key: &str,
) -> Result<Option<(String, bool, KeyGrant)>, ApiError> {
    let user: Option<(String, bool)> = conn
        .prepare_cached("SELECT id, COALESCE(is_active, 0) FROM \"User\" WHERE username = ?1")?
        .query_row([username], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((user_id, active)) = user else {
        return Ok(None);
    };
    let digest = key_digest(key);
    let mut stmt = conn.prepare_cached(
        "SELECT key_hash, user_id, role_id FROM api_key WHERE user_id = ?1
         UNION ALL SELECT key_hash, user_id, role_id FROM api_key WHERE user_id IS NULL",
    )?;
    let candidates: Vec<(Vec<u8>, Option<String>, Option<String>)> = stmt
        .query_map([&user_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut grant = None;
    for (stored, owner, role) in candidates {
        let same: bool = stored.len() == digest.len() && bool::from(stored.ct_eq(&digest));
        if same && grant.is_none() {
            grant = Some((owner, role));
        }
    }
    Ok(grant.map(|g| (user_id, active, g)))
}

/// Whether `username` is an active user and `key` their personal key or a
/// global key (what [`authenticate`] accepts), without loading any role.
pub fn credentials_valid(conn: &Connection, username: &str, key: &str) -> Result<bool, ApiError> {
    if username.is_empty() || key.is_empty() {
        return Ok(false);
    }
    Ok(check_key(conn, username, key)?.is_some_and(|(_, active, _)| active))
}

/// Checks `ftrack-user` / `ftrack-api-key` and builds the actor. Unknown
/// user, wrong key and inactive user are authentication errors.
pub fn authenticate(conn: &Connection, username: &str, key: &str) -> Result<Actor, ApiError> {
    let invalid = || ApiError::auth("The supplied API key is not valid.");
    if username.is_empty() || key.is_empty() {
        return Err(ApiError::auth(
            "Missing credentials: send the ftrack-user and ftrack-api-key headers.",
        ));
    }
    let Some((user_id, active, grant)) = check_key(conn, username, key)? else {
        return Err(invalid());
    };
    let roles = match grant {
        (Some(_), _) => user_roles(conn, &user_id)?,
        (None, Some(role_id)) => {
            let name: String = conn.query_row(
                "SELECT name FROM \"SecurityRole\" WHERE id = ?1",
                [&role_id],
                |r| r.get(0),
            )?;
            vec![HeldRole {
                name,
                user_security_role_id: None,
                all_projects: role_sees_all_projects(conn, &role_id)?,
                permissions: role_permissions(conn, &role_id)?,
                all_open_projects: true,
                projects: HashSet::new(),
            }]
        }
        (None, None) => return Err(invalid()),
    };
    if !active {
        return Err(ApiError::auth(format!("User '{username}' is not active.")));
    }
    Ok(Actor {
        user_id,
        username: username.to_string(),
        roles,
    })
}

fn user_roles(conn: &Connection, user_id: &str) -> Result<Vec<HeldRole>, ApiError> {
    let mut stmt = conn.prepare_cached(
        "SELECT usr.id, r.id, r.name, COALESCE(usr.is_all_open_projects, 0)
         FROM \"UserSecurityRole\" usr JOIN \"SecurityRole\" r ON r.id = usr.security_role_id
         WHERE usr.user_id = ?1",
    )?;
    let rows: Vec<(String, String, String, bool)> = stmt
        .query_map([user_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (usr_id, role_id, name, all_open) in rows {
        let mut pstmt = conn.prepare_cached(
            "SELECT project_id FROM \"UserSecurityRoleProject\" WHERE user_security_role_id = ?1",
        )?;
        let projects = pstmt
            .query_map([&usr_id], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        out.push(HeldRole {
            name,
            all_projects: role_sees_all_projects(conn, &role_id)?,
            user_security_role_id: Some(usr_id),
            permissions: role_permissions(conn, &role_id)?,
            all_open_projects: all_open,
            projects,
        });
    }
    Ok(out)
}

impl Actor {
    /// Whether any held role grants the global permission.
    pub fn has_global(&self, permission: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.permissions.contains(permission))
    }

    /// Fails with a PermissionError naming `permission` unless held globally.
    pub fn require_global(&self, permission: &str, what: &str) -> Result<(), ApiError> {
        if self.has_global(permission) {
            Ok(())
        } else {
            Err(ApiError::permission(format!(
                "Permission denied: user '{}' lacks the permission \"{permission}\" required to {what}.",
                self.username
            )))
        }
    }

    /// Fails with a PermissionError naming `permission` unless a role covering
    /// the project grants it.
    pub fn require_project(
        &self,
        conn: &Connection,
        project_id: &str,
        permission: &str,
        what: &str,
    ) -> Result<(), ApiError> {
        let private: Option<bool> = conn
            .query_row(
                "SELECT COALESCE(is_private, 0) FROM \"Project\" WHERE id = ?1",
                params![project_id],
                |r| r.get(0),
            )
            .optional()?;
        let allowed = private.is_some_and(|p| {
            self.roles
                .iter()
                .any(|r| r.covers(project_id, p) && r.permissions.contains(permission))
        });
        if allowed {
            Ok(())
        } else {
            Err(ApiError::permission(format!(
                "Permission denied: user '{}' lacks the permission \"{permission}\" on project {project_id} required to {what}.",
                self.username
            )))
        }
    }

    /// Whether the project exists and this actor may see it.
    pub fn sees_project(&self, conn: &Connection, project_id: &str) -> Result<bool, ApiError> {
        let private: Option<bool> = conn
            .prepare_cached("SELECT COALESCE(is_private, 0) FROM \"Project\" WHERE id = ?1")?
            .query_row([project_id], |r| r.get(0))
            .optional()?;
        Ok(private.is_some_and(|p| self.roles.iter().any(|r| r.covers(project_id, p))))
    }

    /// Ids of the projects this actor may see, or None when it sees all.
    pub fn visible_projects(&self, conn: &Connection) -> Result<Option<Vec<String>>, ApiError> {
        if self.roles.iter().any(|r| r.all_projects) {
            return Ok(None);
        }
        let mut stmt =
            conn.prepare_cached("SELECT id, COALESCE(is_private, 0) FROM \"Project\"")?;
        let all: Vec<(String, bool)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(Some(
            all.into_iter()
                .filter(|(id, private)| self.roles.iter().any(|r| r.covers(id, *private)))
                .map(|(id, _)| id)
                .collect(),
        ))
    }
}
