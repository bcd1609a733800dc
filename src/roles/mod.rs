//! Security roles: who holds which role, on which projects — read, changed and
//! audited on top of a [`Session`].
//!
//! ftrack models a user's access as `UserSecurityRole` rows (user × role), each
//! either covering all open projects (`is_all_open_projects`) or limited to the
//! projects granted through `UserSecurityRoleProject` rows. Changes go through the
//! five role actions of the API; this module records them as pending operations in
//! the session's ordered batch, so the session's `commit` sends them together with
//! any entity changes in **one** request that the server applies atomically, and
//! `rollback` discards them.
//!
//! Every change is validated before it is recorded, against the user's roles as
//! the server has them **plus the role operations still pending** in the session:
//! appending a role and granting a project on it in the same batch validates. Each
//! refusal is an [`Error::Role`](crate::Error::Role) whose message names the user, the role and the
//! project. With [`Roles::idempotent`] (or the session option
//! [`crate::SessionOptions::idempotent_role_changes`]) a change that would be a
//! no-op (append a role already held, remove one not held, grant a project already
//! granted, revoke one not granted) is skipped instead of failing.
//!
//! # What validation costs
//!
//! The session keeps each user's role state (role → all open projects, granted
//! projects) from the last time it read them — [`Roles::user_roles`], or the first
//! change validated for that user — in a small per-session store shared by every
//! `Roles` of the session (the C ABI creates one per call). A change validates
//! against that state with the pending operations replayed on top, so it costs
//! **no request** when the user's roles are known, and one (the same read as
//! `user_roles`) when they are not. Lookups of users, roles and projects are the
//! caller's: find each once and reuse the entities.
//!
//! The stored state is the server's answer at a point in time. It is dropped for
//! every user when the session may have written to the server
//! ([`Session::write_generation`] moved: a commit was sent, whether accepted or
//! not, or was done, or a non-read [`Session::call`] was sent; state read while a
//! commit was on its way may predate it), because role actions change the server
//! without merging entities, and because the commit is when this session
//! synchronises: the next change per user reads again, and sees what other
//! sessions changed meanwhile. Rollback drops nothing: it does not touch the
//! server, and pending operations are always replayed from the session's current
//! batch, so they disappear from validation with it. [`Roles::user_roles`] always
//! reads and refreshes the stored state; call it to pick up another session's
//! change without committing. Validation is a convenience, not a lock: the server
//! still refuses a batch that became invalid, atomically.
//!
//! ```no_run
//! use ftrack::roles::Roles;
//! let session = ftrack::Session::new(None, None, None)?;
//! let roles = Roles::new(&session);
//! let user = roles.find_user("artist")?;
//! let pm = roles.find_role("Project Manager")?;
//! let gamma = roles.find_project("gamma")?;
//! roles.append(&user, &pm, false)?;
//! roles.grant_project(&user, &pm, &gamma)?;
//! session.commit()?; // one request, both actions, atomic
//! for role in roles.user_roles(&user)? {
//!     println!("{} {}", role.role_name, role.scope_text());
//! }
//! # Ok::<(), ftrack::Error>(())
//! ```
//!
//! Only `is_all_open_projects` is read or written; the deprecated `is_all_projects`
//! and the old action name `revoke_user_security_role` are never sent.
//!
//! # Layout
//!
//! `mod.rs` holds the types ([`Roles`], [`UserRole`], [`AuditRow`], ...) and the
//! action names; `read.rs` the lookups and [`Roles::user_roles`]; `audit.rs`
//! [`Roles::audit`]; `change.rs` the five changes and their refusals;
//! `validate.rs` the per-session role store and the replay of pending operations
//! that every change validates against.

mod audit;
mod change;
mod derived;
mod read;
mod validate;

pub use derived::{SECURITY_ROLES, install};

use std::sync::Arc;

use validate::RoleStore;

use crate::pending::Action;
use crate::{Entity, Session};

/// Role types that can be given to a user (an `API` role cannot).
pub const ASSIGNABLE_ROLE_TYPES: [&str; 2] = ["PROJECT", "ASSIGNED"];

/// The action names this module sends.
pub mod actions {
    /// Give a user a role (`user_id`, `role_id`, `all_open_projects`).
    pub const ADD: &str = "add_user_security_role";
    /// Take a role away (`user_id`, `role_id`).
    pub const REMOVE: &str = "remove_user_security_role";
    /// Replace a role by another, keeping its scope (`user_id`, `role_id`, `new_role_id`).
    pub const UPDATE: &str = "update_user_security_role";
    /// Grant a project, or all open projects, to a user's role.
    pub const GRANT: &str = "grant_user_security_role_project";
    /// Revoke a project, or all open projects, from a user's role.
    pub const REVOKE: &str = "revoke_user_security_role_project";
}

/// Which of the five role actions a [`RoleAction`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleActionKind {
    /// [`actions::ADD`]: give a user a role.
    Add,
    /// [`actions::REMOVE`]: take a role away.
    Remove,
    /// [`actions::UPDATE`]: replace a role by another, keeping its scope.
    Replace,
    /// [`actions::GRANT`]: grant a project (or all open projects) on a role.
    Grant,
    /// [`actions::REVOKE`]: revoke a project (or all open projects) from a role.
    Revoke,
}

impl RoleActionKind {
    /// The action name sent to the server.
    pub fn action_name(self) -> &'static str {
        match self {
            RoleActionKind::Add => actions::ADD,
            RoleActionKind::Remove => actions::REMOVE,
            RoleActionKind::Replace => actions::UPDATE,
            RoleActionKind::Grant => actions::GRANT,
            RoleActionKind::Revoke => actions::REVOKE,
        }
    }

    /// The kind whose action name is `name` (the deprecated
    /// `revoke_user_security_role` reads as [`RoleActionKind::Remove`]).
    pub fn from_action_name(name: &str) -> Option<RoleActionKind> {
        Some(match name {
            actions::ADD => RoleActionKind::Add,
            actions::REMOVE | "revoke_user_security_role" => RoleActionKind::Remove,
            actions::UPDATE => RoleActionKind::Replace,
            actions::GRANT => RoleActionKind::Grant,
            actions::REVOKE => RoleActionKind::Revoke,
            _ => return None,
        })
    }
}

/// A security-role action as it sits in the session's pending batch: the
/// [`Action`] the change methods record, sent as
/// `{"action": <name>, "user_id", "role_id", ...}` with only the fields below
/// that are set. Read it back from [`Session::recorded_operations`] by
/// downcasting [`Action::as_any`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAction {
    /// Which action.
    pub kind: RoleActionKind,
    /// The user's id.
    pub user_id: String,
    /// The role's id (for a replace: the role replaced).
    pub role_id: String,
    /// For a replace: the new role's id.
    pub new_role_id: Option<String>,
    /// For a grant or revoke of one project: its id.
    pub project_id: Option<String>,
    /// For an add: whether the role covers all open projects; for a grant or
    /// revoke without a project: `Some(true)`.
    pub all_open_projects: Option<bool>,
}

impl RoleAction {
    fn base(kind: RoleActionKind, user_id: String, role_id: String) -> RoleAction {
        RoleAction {
            kind,
            user_id,
            role_id,
            new_role_id: None,
            project_id: None,
            all_open_projects: None,
        }
    }

    /// Give the user the role (by ids), on all open projects or on none yet.
    pub fn add(user_id: String, role_id: String, all_open_projects: bool) -> RoleAction {
        RoleAction {
            all_open_projects: Some(all_open_projects),
            ..Self::base(RoleActionKind::Add, user_id, role_id)
        }
    }

    /// Take the role away from the user.
    pub fn remove(user_id: String, role_id: String) -> RoleAction {
        Self::base(RoleActionKind::Remove, user_id, role_id)
    }

    /// Replace `old_role_id` by `new_role_id` for the user, keeping the scope.
    pub fn replace(user_id: String, old_role_id: String, new_role_id: String) -> RoleAction {
        RoleAction {
            new_role_id: Some(new_role_id),
            ..Self::base(RoleActionKind::Replace, user_id, old_role_id)
        }
    }

    /// Grant (or revoke) a project on the user's role.
    pub fn project(
        user_id: String,
        role_id: String,
        project_id: String,
        grant: bool,
    ) -> RoleAction {
        let kind = if grant {
            RoleActionKind::Grant
        } else {
            RoleActionKind::Revoke
        };
        RoleAction {
            project_id: Some(project_id),
            ..Self::base(kind, user_id, role_id)
        }
    }

    /// Grant all open projects on the user's role.
    pub fn grant_all_open(user_id: String, role_id: String) -> RoleAction {
        RoleAction {
            all_open_projects: Some(true),
            ..Self::base(RoleActionKind::Grant, user_id, role_id)
        }
    }

    /// Reads a role action from its wire JSON; `None` for anything else.
    pub fn from_json(op: &serde_json::Value) -> Option<RoleAction> {
        let s = |k: &str| op.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        Some(RoleAction {
            kind: RoleActionKind::from_action_name(op.get("action")?.as_str()?)?,
            user_id: s("user_id")?,
            role_id: s("role_id")?,
            new_role_id: s("new_role_id"),
            project_id: s("project_id"),
            all_open_projects: op.get("all_open_projects").and_then(|v| v.as_bool()),
        })
    }
}

impl Action for RoleAction {
    fn name(&self) -> &str {
        self.kind.action_name()
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        // Strings through serde_json's escaper, straight into the batch.
        let field = |out: &mut Vec<u8>, key: &str, value: &str| {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":");
            let _ = serde_json::to_writer(&mut *out, value);
        };
        out.extend_from_slice(b"{\"action\":\"");
        out.extend_from_slice(self.kind.action_name().as_bytes());
        out.push(b'"');
        field(out, "user_id", &self.user_id);
        field(out, "role_id", &self.role_id);
        if let Some(v) = &self.new_role_id {
            field(out, "new_role_id", v);
        }
        if let Some(v) = &self.project_id {
            field(out, "project_id", v);
        }
        if let Some(all) = self.all_open_projects {
            out.extend_from_slice(if all {
                b",\"all_open_projects\":true"
            } else {
                b",\"all_open_projects\":false"
            });
        }
        out.push(b'}');
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A project as seen through a role grant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProjectRef {
    /// The short name (`Project.name`), e.g. `"gamma"`.
    pub name: String,
    /// The full name (`Project.full_name`), e.g. `"Project Gamma"`.
    pub full_name: String,
    /// The project id.
    pub id: String,
}

/// One of a user's security roles with its scope.
#[derive(Debug, Clone)]
pub struct UserRole {
    /// The `UserSecurityRole` entity (with `security_role`, `is_all_open_projects`
    /// and `user_security_role_projects.project` loaded).
    pub entity: Entity,
    /// The `SecurityRole` entity.
    pub role: Entity,
    /// The role's name, e.g. `"Project Manager"`.
    pub role_name: String,
    /// The role's type: `PROJECT`, `ASSIGNED` or `API`.
    pub role_type: String,
    /// Whether the role applies to every open (non-private) project.
    pub all_open_projects: bool,
    /// The projects the role is granted on, sorted by name.
    pub projects: Vec<ProjectRef>,
}

impl UserRole {
    /// `"all open projects"`, the granted project names joined with `", "`, or
    /// `"all open projects + gamma"` for both; `"no projects"` when neither.
    pub fn scope_text(&self) -> String {
        scope_text(
            self.all_open_projects,
            self.projects.iter().map(|p| p.name.as_str()),
        )
    }
}

/// One row of the [`Roles::audit`]: a user × one of their roles × its scope. A
/// user without any role has one row with `role: None`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    /// `User.username`.
    pub username: String,
    /// `User.is_active`.
    pub active: bool,
    /// The role name, `None` for a user without roles.
    pub role: Option<String>,
    /// The role type (`PROJECT`, `ASSIGNED`, `API`), `None` without a role.
    pub role_type: Option<String>,
    /// Whether the role covers every open project.
    pub all_open_projects: bool,
    /// Short names of the projects granted explicitly, sorted.
    pub projects: Vec<String>,
}

impl AuditRow {
    /// The scope as text, as [`UserRole::scope_text`]; empty for a user without roles.
    pub fn scope_text(&self) -> String {
        if self.role.is_none() {
            return String::new();
        }
        scope_text(
            self.all_open_projects,
            self.projects.iter().map(String::as_str),
        )
    }
}

fn scope_text<'a>(all_open: bool, projects: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = projects.collect();
    match (all_open, names.is_empty()) {
        (true, true) => "all open projects".into(),
        (true, false) => format!("all open projects + {}", names.join(", ")),
        (false, true) => "no projects".into(),
        (false, false) => names.join(", "),
    }
}

/// The roles API of one session. Cheap to create and clone; holds no state of its
/// own besides the idempotent flag (pending operations live in the session, role
/// state in the session's role store, see the module documentation).
#[derive(Debug, Clone)]
pub struct Roles {
    session: Session,
    idempotent: bool,
    store: Arc<RoleStore>,
}

impl Roles {
    /// The roles API over `session`; strict (no-ops are errors) unless the session
    /// was created with [`crate::SessionOptions::idempotent_role_changes`].
    pub fn new(session: &Session) -> Roles {
        Roles {
            session: session.clone(),
            idempotent: session.options().role_changes_are_idempotent(),
            store: session.extension::<RoleStore>(),
        }
    }

    /// With `true`, changes that would be no-ops (append a held role, remove one not
    /// held, grant a granted project, revoke one not granted) are skipped and the
    /// change methods return `Ok(false)` instead of an [`Error::Role`](crate::Error::Role).
    pub fn idempotent(mut self, on: bool) -> Roles {
        self.idempotent = on;
        self
    }

    /// Whether no-op changes are skipped instead of refused.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// The session this API records into.
    pub fn session(&self) -> &Session {
        &self.session
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_texts() {
        assert_eq!(scope_text(true, std::iter::empty()), "all open projects");
        assert_eq!(scope_text(false, ["a", "b"].into_iter()), "a, b");
        assert_eq!(scope_text(true, ["g"].into_iter()), "all open projects + g");
        assert_eq!(scope_text(false, std::iter::empty()), "no projects");
    }
}
