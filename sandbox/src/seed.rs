//! Seed data: the JSON seed format, the fixed demo studio and a synthetic
//! studio of any size, and loading them into an empty database.

use crate::error::ApiError;
use crate::permissions::{ADMINISTRATOR_ROLE, GLOBAL_PERMISSIONS, PROJECT_PERMISSIONS, key_digest};
use crate::pyjson::md5_hex;
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// A security role with its permission names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeedRole {
    /// Role name (unique in the seed).
    pub name: String,
    /// `PROJECT`, `ASSIGNED` or `API`.
    #[serde(rename = "type")]
    pub role_type: String,
    /// Global and project permission names.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The role covers every project, private ones included, whatever its
    /// scope (the default Administrator role has it). Not a schema attribute.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_projects: bool,
}

fn yes() -> bool {
    true
}

/// A user and their personal API key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeedUser {
    /// Login name (unique).
    pub username: String,
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Inactive users cannot authenticate.
    #[serde(default = "yes")]
    pub is_active: bool,
    /// Personal API key.
    #[serde(default)]
    pub api_key: Option<String>,
}

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeedProject {
    /// Short name (unique in the seed).
    pub name: String,
    /// Display name.
    #[serde(default)]
    pub full_name: Option<String>,
    /// Private projects are visible only through an explicit grant.
    #[serde(default)]
    pub is_private: bool,
}

/// A role given to a user, with its scope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeedAssignment {
    /// Username.
    pub user: String,
    /// Role name.
    pub role: String,
    /// Covers every open project.
    #[serde(default)]
    pub all_open_projects: bool,
    /// Project names granted explicitly.
    #[serde(default)]
    pub projects: Vec<String>,
}

/// A global API key and the (API) role whose permissions it carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeedGlobalKey {
    /// The key.
    pub key: String,
    /// Role name.
    pub role: String,
}

/// The JSON seed format (`--seed FILE`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SeedData {
    /// Security roles.
    #[serde(default)]
    pub roles: Vec<SeedRole>,
    /// Users.
    #[serde(default)]
    pub users: Vec<SeedUser>,
    /// Projects.
    #[serde(default)]
    pub projects: Vec<SeedProject>,
    /// Role assignments and grants.
    #[serde(default)]
    pub assignments: Vec<SeedAssignment>,
    /// Global API keys.
    #[serde(default)]
    pub global_keys: Vec<SeedGlobalKey>,
    /// Username whose credentials `Sandbox::admin_user/admin_key` report
    /// (default: the first user holding a role with `all_projects`).
    #[serde(default)]
    pub admin: Option<String>,
}

/// A stable UUID-shaped id for a named seed object.
pub fn stable_id(kind: &str, name: &str) -> String {
    let h = md5_hex(&format!("ftrack-sandbox:{kind}:{name}"));
    format!(
        "{}-{}-3{}-8{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn strs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The five default roles with permission sets matching their descriptions.
pub fn default_roles() -> Vec<SeedRole> {
    let all: Vec<String> = strs(GLOBAL_PERMISSIONS)
        .into_iter()
        .chain(strs(PROJECT_PERMISSIONS))
        .collect();
    let pm_global = [
        "Can view component details",
        "Can access overview",
        "Can share views with everyone",
        "Can view reports",
        "Create projects",
        "Can access projects",
        "Can access my tasks",
        "Create project dashboard",
        "Share dashboard with everyone",
        "Can access planning",
    ];
    let user_global = [
        "Can view component details",
        "Can access overview",
        "Can access projects",
        "Can access my tasks",
    ];
    let user_project = [
        "Can change status of a task",
        "Can change status of a version",
        "Create list",
        "Add objects to list",
        "Remove objects from list",
        "View client review session",
    ];
    vec![
        SeedRole {
            name: ADMINISTRATOR_ROLE.into(),
            role_type: "PROJECT".into(),
            permissions: all.clone(),
            all_projects: true,
        },
        SeedRole {
            name: "Project Manager".into(),
            role_type: "PROJECT".into(),
            permissions: strs(&pm_global)
                .into_iter()
                .chain(strs(PROJECT_PERMISSIONS))
                .collect(),
            all_projects: false,
        },
        SeedRole {
            name: "User".into(),
            role_type: "PROJECT".into(),
            permissions: strs(&user_global)
                .into_iter()
                .chain(strs(&user_project))
                .collect(),
            all_projects: false,
        },
        SeedRole {
            name: "Restricted User".into(),
            role_type: "ASSIGNED".into(),
            permissions: strs(&["Can access my tasks", "Can change status of a task"]),
            all_projects: false,
        },
        SeedRole {
            name: "API".into(),
            role_type: "API".into(),
            permissions: all,
            all_projects: false,
        },
    ]
}

fn user(name: &str, first: &str, last: &str, active: bool) -> SeedUser {
    SeedUser {
        username: name.into(),
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        email: Some(format!("{name}@sandbox.example")),
        is_active: active,
        api_key: Some(format!("demo-key-{name}")),
    }
}

fn assign(user: &str, role: &str, all_open: bool, projects: &[&str]) -> SeedAssignment {
    SeedAssignment {
        user: user.into(),
        role: role.into(),
        all_open_projects: all_open,
        projects: strs(projects),
    }
}

impl SeedData {
    /// The demo studio (see the README).
    pub fn demo() -> Self {
        let project = |name: &str, full: &str, private: bool| SeedProject {
            name: name.into(),
            full_name: Some(full.into()),
            is_private: private,
        };
        SeedData {
            roles: default_roles(),
            users: vec![
                user("admin", "Ada", "Admin", true),
                user("pm", "Pat", "Manager", true),
                user("artist", "Art", "Ist", true),
                user("restricted", "Rita", "Stricted", true),
                user("inactive", "Ian", "Active", false),
            ],
            projects: vec![
                project("alpha", "Project Alpha", false),
                project("beta", "Project Beta", false),
                project("gamma", "Project Gamma", true),
            ],
            assignments: vec![
                assign("admin", "Administrator", true, &[]),
                assign("pm", "Project Manager", false, &["alpha", "gamma"]),
                assign("artist", "User", true, &[]),
                assign("restricted", "Restricted User", false, &["beta"]),
                assign("inactive", "User", true, &[]),
            ],
            global_keys: vec![SeedGlobalKey {
                key: "demo-global-key".into(),
                role: "API".into(),
            }],
            admin: Some("admin".into()),
        }
    }

    /// The demo studio plus `users` extra users `user00001`… (role User on all
    /// open projects, key `demo-key-<username>`).
    pub fn synthetic(users: usize) -> Self {
        let mut seed = Self::demo();
        for i in 1..=users {
            let name = format!("user{i:05}");
            seed.users
                .push(user(&name, "Synthetic", &format!("User {i}"), true));
            seed.assignments.push(assign(&name, "User", true, &[]));
        }
        seed
    }

    /// Reads a JSON seed file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read seed file {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("invalid seed file {}: {e}", path.display()))
    }

    /// Username and key of the admin user, if the seed has one.
    pub fn admin_credentials(&self) -> Option<(String, String)> {
        let name = self.admin.clone().or_else(|| {
            self.assignments
                .iter()
                .find(|a| {
                    self.roles
                        .iter()
                        .any(|r| r.name == a.role && r.all_projects)
                })
                .map(|a| a.user.clone())
        })?;
        let user = self.users.iter().find(|u| u.username == name)?;
        Some((name, user.api_key.clone()?))
    }

    /// Inserts the seed into `conn` (one transaction).
    pub fn load(&self, conn: &mut Connection) -> Result<(), ApiError> {
        let tx = conn.transaction()?;
        for r in &self.roles {
            let id = stable_id("role", &r.name);
            tx.execute(
                "INSERT INTO \"SecurityRole\" (id, name, type) VALUES (?1, ?2, ?3)",
                params![id, r.name, r.role_type],
            )?;
            if r.all_projects {
                tx.execute("INSERT INTO role_all_projects (role_id) VALUES (?1)", [&id])?;
            }
            for p in &r.permissions {
                tx.execute(
                    "INSERT OR IGNORE INTO role_permission (role_id, permission) VALUES (?1, ?2)",
                    params![id, p],
                )?;
            }
        }
        for u in &self.users {
            let id = stable_id("user", &u.username);
            tx.execute(
                "INSERT INTO \"User\" (id, username, first_name, last_name, email, is_active, is_otp_enabled, is_totp_enabled, require_details_update, resource_type)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, 0, 'user')",
                params![id, u.username, u.first_name, u.last_name, u.email, u.is_active],
            )?;
            if let Some(key) = &u.api_key {
                tx.execute(
                    "INSERT INTO api_key (key_hash, user_id) VALUES (?1, ?2)",
                    params![key_digest(key).as_slice(), id],
                )?;
            }
        }
        let now = crate::datetime::now();
        for p in &self.projects {
            tx.execute(
                "INSERT INTO \"Project\" (id, name, full_name, is_private, is_global, status, context_type, created_at)
                 VALUES (?1, ?2, ?3, ?4, 0, 'active', 'show', ?5)",
                params![
                    stable_id("project", &p.name),
                    p.name,
                    p.full_name.clone().unwrap_or_else(|| p.name.clone()),
                    p.is_private,
                    now
                ],
            )?;
        }
        let missing =
            |kind: &str, name: &str| ApiError::validation(format!("seed: unknown {kind} '{name}'"));
        let users: HashSet<&str> = self.users.iter().map(|u| u.username.as_str()).collect();
        let roles: HashSet<&str> = self.roles.iter().map(|r| r.name.as_str()).collect();
        let projects: HashSet<&str> = self.projects.iter().map(|p| p.name.as_str()).collect();
        for a in &self.assignments {
            if !users.contains(a.user.as_str()) {
                return Err(missing("user", &a.user));
            }
            if !roles.contains(a.role.as_str()) {
                return Err(missing("role", &a.role));
            }
            let usr_id = stable_id("user-role", &format!("{}/{}", a.user, a.role));
            tx.execute(
                "INSERT INTO \"UserSecurityRole\" (id, user_id, security_role_id, is_all_open_projects) VALUES (?1, ?2, ?3, ?4)",
                params![usr_id, stable_id("user", &a.user), stable_id("role", &a.role), a.all_open_projects],
            )?;
            for p in &a.projects {
                if !projects.contains(p.as_str()) {
                    return Err(missing("project", p));
                }
                tx.execute(
                    "INSERT INTO \"UserSecurityRoleProject\" (id, user_security_role_id, project_id) VALUES (?1, ?2, ?3)",
                    params![stable_id("grant", &format!("{usr_id}/{p}")), usr_id, stable_id("project", p)],
                )?;
            }
        }
        for k in &self.global_keys {
            if !roles.contains(k.role.as_str()) {
                return Err(missing("role", &k.role));
            }
            tx.execute(
                "INSERT INTO api_key (key_hash, role_id) VALUES (?1, ?2)",
                params![key_digest(&k.key).as_slice(), stable_id("role", &k.role)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// The built-in locations every ftrack server has (the Python client needs
/// the Location type to start).
pub const BUILTIN_LOCATIONS: &[(&str, &str)] = &[
    ("ce9b348f-8809-11e3-821c-20c9d081909b", "ftrack.origin"),
    ("cb268ecc-8809-11e3-a7e2-20c9d081909b", "ftrack.unmanaged"),
    ("cd41be70-8809-11e3-b98a-20c9d081909b", "ftrack.review"),
    ("07b82a97-8cf9-11e3-9383-20c9d081909b", "ftrack.connect"),
    ("3a372bde-05bc-11e4-8908-20c9d081909b", "ftrack.server"),
];

/// Inserts the built-in locations (idempotent).
pub fn load_locations(conn: &Connection) -> Result<(), ApiError> {
    for (id, name) in BUILTIN_LOCATIONS {
        conn.execute(
            "INSERT OR IGNORE INTO \"Location\" (id, name, label) VALUES (?1, ?2, ?2)",
            params![id, name],
        )?;
    }
    Ok(())
}
