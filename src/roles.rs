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
//! refusal is an [`Error::Role`] whose message names the user, the role and the
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
//! not, or a non-read [`Session::call`]), because role actions change the server
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

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::{Entity, Error, ErrorKind, Result, Session, Value, quote};

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
}

/// What the session knows of users' role state: user id → the state as read from
/// the server, with the [`Session::write_generation`] before the read. Each
/// session owns one (created with it, dropped with it), shared by all its `Roles`.
#[derive(Debug, Default)]
pub(crate) struct RoleStore {
    users: HashMap<String, Known>,
}

#[derive(Debug, Clone)]
struct Known {
    generation: u64,
    state: BTreeMap<String, Held>,
}

/// Projections that load a user's roles with their scope in one query of `User`.
const USER_ROLE_PROJECTIONS: &str = "username, \
     user_security_roles.is_all_open_projects, \
     user_security_roles.security_role_id, \
     user_security_roles.security_role.name, \
     user_security_roles.security_role.type, \
     user_security_roles.user_security_role_projects.project_id, \
     user_security_roles.user_security_role_projects.project.name, \
     user_security_roles.user_security_role_projects.project.full_name";

/// The audit's projections: the same as a user's roles, plus `is_active`.
const AUDIT_PROJECTIONS: &str = "username, is_active, \
     user_security_roles.is_all_open_projects, \
     user_security_roles.security_role.name, \
     user_security_roles.security_role.type, \
     user_security_roles.user_security_role_projects.project.name";

impl Roles {
    /// The roles API over `session`; strict (no-ops are errors) unless the session
    /// was created with [`crate::SessionOptions::idempotent_role_changes`].
    pub fn new(session: &Session) -> Roles {
        Roles {
            session: session.clone(),
            idempotent: session.inner.options.idempotent_role_changes,
        }
    }

    /// With `true`, changes that would be no-ops (append a held role, remove one not
    /// held, grant a granted project, revoke one not granted) are skipped and the
    /// change methods return `Ok(false)` instead of an [`Error::Role`].
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

    // ---------------------------------------------------------------- reads

    /// Every security role (with `name` and `type` loaded), by name; only those of
    /// `role_type` (`"PROJECT"`, `"ASSIGNED"`, `"API"`) when given. One request.
    pub fn security_roles(&self, role_type: Option<&str>) -> Result<Vec<Entity>> {
        let expr = match role_type {
            Some(t) => {
                let t = t.trim().to_ascii_uppercase();
                if !["PROJECT", "ASSIGNED", "API"].contains(&t.as_str()) {
                    return Err(Error::InvalidArgument(format!(
                        "unknown security role type \"{t}\"; use PROJECT, ASSIGNED or API"
                    )));
                }
                format!(
                    "select id, name, type from SecurityRole where type is {} order by name",
                    quote(&t)
                )
            }
            None => "select id, name, type from SecurityRole order by name".to_owned(),
        };
        self.session.query(&expr)
    }

    /// The active or inactive user with this username. [`Error::NotFound`] names it.
    pub fn find_user(&self, username: &str) -> Result<Entity> {
        self.session
            .query_first(&format!(
                "select id, username, is_active from User where username is {}",
                quote(username)
            ))?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "there is no user \"{username}\" on the server; check the username \
                     (it is case-sensitive)"
                ))
            })
    }

    /// The security role with this name (with `name` and `type` loaded).
    /// [`Error::NotFound`] names it and lists the roles that exist.
    pub fn find_role(&self, name: &str) -> Result<Entity> {
        let all = self.security_roles(None)?;
        for role in &all {
            if role.get_string("name").ok().as_deref() == Some(name) {
                return Ok(role.clone());
            }
        }
        let names: Vec<String> = all
            .iter()
            .filter_map(|r| r.get_string("name").ok())
            .collect();
        Err(Error::NotFound(format!(
            "there is no security role \"{name}\"; the roles are: {}",
            names.join(", ")
        )))
    }

    /// The project whose short `name` (e.g. `gamma`) or `full_name` (e.g.
    /// `Project Gamma`) is `name`, preferring the short name. [`Error::NotFound`]
    /// names it (a private project the acting user may not see is not found).
    pub fn find_project(&self, name: &str) -> Result<Entity> {
        let q = quote(name);
        let found = self.session.query(&format!(
            "select id, name, full_name from Project where name is {q} or full_name is {q}"
        ))?;
        let by_name = found
            .iter()
            .find(|p| p.get_string("name").ok().as_deref() == Some(name));
        match (by_name, found.len()) {
            (Some(p), _) => Ok(p.clone()),
            (None, 1) => Ok(found[0].clone()),
            (None, 0) => Err(Error::NotFound(format!(
                "there is no project \"{name}\" (by name or full name) that this API user \
                 can see; check the spelling, or ask for access to the project"
            ))),
            (None, _) => Err(Error::MultipleResults(format!(
                "several projects have the full name \"{name}\"; name the project by its \
                 short name instead"
            ))),
        }
    }

    /// The user's roles with their scope, read in **one** request (a query of the
    /// user with projections through `user_security_roles`), sorted by role name.
    /// The `UserSecurityRole` entities come back with `security_role`,
    /// `is_all_open_projects` and `user_security_role_projects.project` loaded.
    /// Always reads, and refreshes the role state that validation uses.
    pub fn user_roles(&self, user: &Entity) -> Result<Vec<UserRole>> {
        self.check_user(user)?;
        // Read before the request: a write during it makes the stored state stale.
        let generation = self.session.write_generation();
        let fresh = self.session.query(&format!(
            "select {USER_ROLE_PROJECTIONS} from User where id is {}",
            quote(&user.id())
        ))?;
        let Some(user) = fresh.into_iter().next() else {
            return Err(Error::NotFound(format!(
                "user {} no longer exists on the server",
                user.id()
            )));
        };
        let mut out = Vec::new();
        for usr in loaded_list(&user, "user_security_roles")? {
            let Some(role) = loaded_entity(&usr, "security_role")? else {
                continue;
            };
            let mut projects = Vec::new();
            for grant in loaded_list(&usr, "user_security_role_projects")? {
                if let Some(p) = loaded_entity(&grant, "project")? {
                    projects.push(ProjectRef {
                        name: loaded_string(&p, "name")?,
                        full_name: loaded_string(&p, "full_name")?,
                        id: p.id(),
                    });
                }
            }
            projects.sort();
            out.push(UserRole {
                role_name: loaded_string(&role, "name")?,
                role_type: loaded_string(&role, "type")?,
                all_open_projects: loaded_bool(&usr, "is_all_open_projects")?,
                entity: usr,
                role,
                projects,
            });
        }
        out.sort_by(|a, b| a.role_name.cmp(&b.role_name));
        let state = out
            .iter()
            .map(|r| {
                let held = Held {
                    usr_id: r.entity.id(),
                    all_open: r.all_open_projects,
                    projects: r.projects.iter().map(|p| p.id.clone()).collect(),
                };
                (r.role.id(), held)
            })
            .collect();
        self.lock_store()
            .users
            .insert(user.id(), Known { generation, state });
        Ok(out)
    }

    /// Every user × role × scope on the server, sorted by username then role, read
    /// with one paged query of `User` (projections through `user_security_roles`):
    /// ⌈users / page size⌉ requests (page size 500 by default) however many roles
    /// and grants there are. Users without roles get one row with `role: None`.
    /// Only what the acting user may see is listed; run it as an administrator.
    pub fn audit(&self) -> Result<Vec<AuditRow>> {
        let users = self.session.query(&format!(
            "select {AUDIT_PROJECTIONS} from User order by username"
        ))?;
        let mut rows = Vec::new();
        for user in users {
            let username = loaded_string(&user, "username")?;
            let active = loaded_bool(&user, "is_active")?;
            let mut user_rows = Vec::new();
            for usr in loaded_list(&user, "user_security_roles")? {
                let Some(role) = loaded_entity(&usr, "security_role")? else {
                    continue;
                };
                let mut projects = Vec::new();
                for grant in loaded_list(&usr, "user_security_role_projects")? {
                    if let Some(p) = loaded_entity(&grant, "project")? {
                        projects.push(loaded_string(&p, "name")?);
                    }
                }
                projects.sort();
                user_rows.push(AuditRow {
                    username: username.clone(),
                    active,
                    role: Some(loaded_string(&role, "name")?),
                    role_type: Some(loaded_string(&role, "type")?),
                    all_open_projects: loaded_bool(&usr, "is_all_open_projects")?,
                    projects,
                });
            }
            if user_rows.is_empty() {
                user_rows.push(AuditRow {
                    username,
                    active,
                    role: None,
                    role_type: None,
                    all_open_projects: false,
                    projects: Vec::new(),
                });
            }
            user_rows.sort_by(|a, b| a.role.cmp(&b.role));
            rows.extend(user_rows);
        }
        Ok(rows)
    }

    // -------------------------------------------------------------- changes

    /// Records giving `user` the `role`, on every open project when
    /// `all_open_projects` (else on no project until one is granted).
    ///
    /// Errors: [`ErrorKind::RoleNotAssignable`] (an `API` role),
    /// [`ErrorKind::RoleAlreadyAssigned`]. Idempotent mode: a held role is skipped
    /// (`Ok(false)`), except that asking for all open projects on a held role that
    /// lacks them records that grant instead.
    pub fn append(&self, user: &Entity, role: &Entity, all_open_projects: bool) -> Result<bool> {
        let ctx = self.context(user)?;
        let role_name = self.assignable(&ctx, role)?;
        if let Some(held) = ctx.state.get(&role.id()) {
            if !self.idempotent {
                return Err(role_error(
                    ErrorKind::RoleAlreadyAssigned,
                    format!(
                        "user \"{}\" already holds the security role \"{role_name}\"; grant \
                         projects on it, or use the idempotent option to skip this",
                        ctx.username,
                    ),
                ));
            }
            if all_open_projects && !held.all_open {
                self.record(serde_json::json!({
                    "action": actions::GRANT,
                    "user_id": user.id(),
                    "role_id": role.id(),
                    "all_open_projects": true,
                }))?;
                return Ok(true);
            }
            return Ok(false);
        }
        self.record(serde_json::json!({
            "action": actions::ADD,
            "user_id": user.id(),
            "role_id": role.id(),
            "all_open_projects": all_open_projects,
        }))?;
        Ok(true)
    }

    /// Records taking `role` away from `user` (with its project grants).
    ///
    /// Errors: [`ErrorKind::RoleNotAssigned`]; skipped (`Ok(false)`) in idempotent mode.
    pub fn remove(&self, user: &Entity, role: &Entity) -> Result<bool> {
        let ctx = self.context(user)?;
        let role_name = name_of(role)?;
        if !ctx.state.contains_key(&role.id()) {
            if self.idempotent {
                return Ok(false);
            }
            return Err(not_assigned(&ctx.username, &role_name, "remove it"));
        }
        self.record(serde_json::json!({
            "action": actions::REMOVE,
            "user_id": user.id(),
            "role_id": role.id(),
        }))?;
        Ok(true)
    }

    /// Records replacing `old_role` by `new_role` for `user` in one action; the
    /// scope (all open projects, granted projects) carries over.
    ///
    /// Errors: [`ErrorKind::RoleNotAssignable`] (`new_role` is an `API` role),
    /// [`ErrorKind::RoleNotAssigned`] (`old_role` not held),
    /// [`ErrorKind::RoleAlreadyAssigned`] (`new_role` already held). Idempotent
    /// mode skips it when the replacement is already done (`old_role` not held and
    /// `new_role` held), or when `old_role` and `new_role` are the same held role.
    pub fn replace(&self, user: &Entity, old_role: &Entity, new_role: &Entity) -> Result<bool> {
        let ctx = self.context(user)?;
        let new_name = self.assignable(&ctx, new_role)?;
        let old_name = name_of(old_role)?;
        let holds_old = ctx.state.contains_key(&old_role.id());
        let holds_new = ctx.state.contains_key(&new_role.id());
        if self.idempotent && holds_new && (!holds_old || old_role.id() == new_role.id()) {
            return Ok(false);
        }
        if !holds_old {
            return Err(not_assigned(
                &ctx.username,
                &old_name,
                &format!("replace it by \"{new_name}\""),
            ));
        }
        if holds_new {
            return Err(role_error(
                ErrorKind::RoleAlreadyAssigned,
                format!(
                    "user \"{}\" already holds the security role \"{new_name}\", so \
                     \"{old_name}\" cannot be replaced by it; remove \"{old_name}\" instead",
                    ctx.username
                ),
            ));
        }
        self.record(serde_json::json!({
            "action": actions::UPDATE,
            "user_id": user.id(),
            "role_id": old_role.id(),
            "new_role_id": new_role.id(),
        }))?;
        Ok(true)
    }

    /// Records granting `project` to the user's `role`.
    ///
    /// Errors: [`ErrorKind::RoleNotAssigned`] (the user does not hold the role, not
    /// even pending), [`ErrorKind::ProjectAlreadyGranted`] (skipped, `Ok(false)`,
    /// in idempotent mode).
    pub fn grant_project(&self, user: &Entity, role: &Entity, project: &Entity) -> Result<bool> {
        self.project_change(user, role, project, true)
    }

    /// Records revoking `project` from the user's `role`.
    ///
    /// Errors: [`ErrorKind::RoleNotAssigned`], [`ErrorKind::ProjectNotGranted`]
    /// (skipped, `Ok(false)`, in idempotent mode).
    pub fn revoke_project(&self, user: &Entity, role: &Entity, project: &Entity) -> Result<bool> {
        self.project_change(user, role, project, false)
    }

    fn project_change(
        &self,
        user: &Entity,
        role: &Entity,
        project: &Entity,
        grant: bool,
    ) -> Result<bool> {
        if project.entity_type() != "Project" {
            return Err(Error::InvalidArgument(format!(
                "expected a Project, got a {}",
                project.entity_type()
            )));
        }
        let ctx = self.context(user)?;
        let role_name = name_of(role)?;
        let project_name = project.get_string("name")?;
        let verb = if grant { "grant" } else { "revoke" };
        let Some(held) = ctx.state.get(&role.id()) else {
            return Err(not_assigned(
                &ctx.username,
                &role_name,
                &format!("{verb} project \"{project_name}\" on it"),
            ));
        };
        let granted = held.projects.contains(&project.id());
        match (grant, granted) {
            (true, true) | (false, false) if self.idempotent => return Ok(false),
            (true, true) => {
                return Err(role_error(
                    ErrorKind::ProjectAlreadyGranted,
                    format!(
                        "project \"{project_name}\" is already granted to the security role \
                         \"{role_name}\" of user \"{}\"",
                        ctx.username
                    ),
                ));
            }
            (false, false) => {
                return Err(role_error(
                    ErrorKind::ProjectNotGranted,
                    format!(
                        "project \"{project_name}\" is not granted to the security role \
                         \"{role_name}\" of user \"{}\"{}",
                        ctx.username,
                        if held.all_open {
                            " (the role covers all open projects, which is not a grant)"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            _ => {}
        }
        self.record(serde_json::json!({
            "action": if grant { actions::GRANT } else { actions::REVOKE },
            "user_id": user.id(),
            "role_id": role.id(),
            "project_id": project.id(),
        }))?;
        Ok(true)
    }

    // ------------------------------------------------------------ internals

    fn record(&self, op: serde_json::Value) -> Result<()> {
        self.session.record_action(op)
    }

    fn check_user(&self, user: &Entity) -> Result<()> {
        if user.entity_type() != "User" {
            return Err(Error::InvalidArgument(format!(
                "expected a User, got a {}",
                user.entity_type()
            )));
        }
        Ok(())
    }

    /// The role's name if it may be given to a user, else `RoleNotAssignable`.
    fn assignable(&self, ctx: &Context, role: &Entity) -> Result<String> {
        let name = name_of(role)?;
        let ty = match role.get("type")? {
            Value::String(s) => s,
            _ => String::new(),
        };
        if !ASSIGNABLE_ROLE_TYPES.contains(&ty.as_str()) {
            return Err(role_error(
                ErrorKind::RoleNotAssignable,
                format!(
                    "the security role \"{name}\" has type {} and cannot be given to user \
                     \"{}\"; only PROJECT and ASSIGNED roles can be",
                    if ty.is_empty() { "(none)" } else { &ty },
                    ctx.username
                ),
            ));
        }
        Ok(name)
    }

    fn lock_store(&self) -> std::sync::MutexGuard<'_, RoleStore> {
        self.session
            .inner
            .roles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The user's role state as the server has it — stored if this session has not
    /// written to the server since it was read, else read now (one request) — with
    /// the pending role operations of the session applied on top.
    fn context(&self, user: &Entity) -> Result<Context> {
        self.check_user(user)?;
        let generation = self.session.write_generation();
        let known = {
            let mut store = self.lock_store();
            // Everything read before a write is stale: drop it all at once.
            store.users.retain(|_, k| k.generation == generation);
            store.users.get(&user.id()).map(|k| k.state.clone())
        };
        let mut state = match known {
            Some(state) => state,
            None => {
                self.user_roles(user)?;
                self.lock_store()
                    .users
                    .get(&user.id())
                    .map(|k| k.state.clone())
                    .unwrap_or_default()
            }
        };
        let username = loaded_string(user, "username").unwrap_or_else(|_| user.id());
        let pending: serde_json::Value = serde_json::from_str(&self.session.pending_json()?)
            .map_err(|e| Error::Protocol {
                status: 0,
                message: format!("internal error: the pending batch is not JSON ({e})"),
            })?;
        apply_pending(
            &mut state,
            &user.id(),
            pending.as_array().map_or(&[][..], |a| a),
        );
        Ok(Context { username, state })
    }
}

/// What validation knows of one of the user's roles.
#[derive(Debug, Clone)]
struct Held {
    usr_id: String,
    all_open: bool,
    projects: BTreeSet<String>,
}

struct Context {
    username: String,
    /// role id → scope
    state: BTreeMap<String, Held>,
}

fn str_field<'a>(op: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    op.get(key).and_then(|v| v.as_str())
}

/// The id of `field` in `data`, given as `<field>_id` or as a reference `<field>`.
fn ref_id(data: &serde_json::Value, field: &str) -> Option<String> {
    if let Some(id) = str_field(data, &format!("{field}_id")) {
        return Some(id.to_owned());
    }
    data.get(field)
        .and_then(|r| r.get("id"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn entity_key(op: &serde_json::Value) -> Option<String> {
    match op.get("entity_key") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Array(a)) => a.first().and_then(|v| v.as_str()).map(str::to_owned),
        _ => op
            .get("entity_data")
            .and_then(|d| str_field(d, "id"))
            .map(str::to_owned),
    }
}

/// Applies the pending operations that concern `user_id` to `state`, in order: the
/// five role actions, and creates/deletes of `UserSecurityRole` and
/// `UserSecurityRoleProject` entities.
fn apply_pending(state: &mut BTreeMap<String, Held>, user_id: &str, ops: &[serde_json::Value]) {
    for op in ops {
        let action = str_field(op, "action").unwrap_or("");
        match action {
            actions::ADD
            | actions::REMOVE
            | "revoke_user_security_role"
            | actions::UPDATE
            | actions::GRANT
            | actions::REVOKE => {
                if str_field(op, "user_id") != Some(user_id) {
                    continue;
                }
                let Some(role_id) = str_field(op, "role_id") else {
                    continue;
                };
                let all_open = op.get("all_open_projects").and_then(|v| v.as_bool()) == Some(true);
                let project = str_field(op, "project_id");
                match action {
                    actions::ADD => {
                        state.entry(role_id.to_owned()).or_insert(Held {
                            usr_id: String::new(),
                            all_open,
                            projects: BTreeSet::new(),
                        });
                    }
                    actions::UPDATE => {
                        if let (Some(new), Some(held)) =
                            (str_field(op, "new_role_id"), state.remove(role_id))
                        {
                            state.insert(new.to_owned(), held);
                        }
                    }
                    actions::GRANT | actions::REVOKE => {
                        let grant = action == actions::GRANT;
                        if let Some(held) = state.get_mut(role_id) {
                            match project {
                                Some(p) if grant => {
                                    held.projects.insert(p.to_owned());
                                }
                                Some(p) => {
                                    held.projects.remove(p);
                                }
                                None if all_open => held.all_open = grant,
                                None => {}
                            }
                        }
                    }
                    _ => {
                        state.remove(role_id);
                    }
                }
            }
            "create" | "delete" => {
                let ty = str_field(op, "entity_type").unwrap_or("");
                let data = op.get("entity_data").cloned().unwrap_or_default();
                match (action, ty) {
                    ("create", "UserSecurityRole") => {
                        if ref_id(&data, "user").as_deref() != Some(user_id) {
                            continue;
                        }
                        if let Some(role_id) = ref_id(&data, "security_role") {
                            let all_open = data
                                .get("is_all_open_projects")
                                .or_else(|| data.get("is_all_projects"))
                                .and_then(|v| v.as_bool())
                                == Some(true);
                            state.insert(
                                role_id,
                                Held {
                                    usr_id: entity_key(op).unwrap_or_default(),
                                    all_open,
                                    projects: BTreeSet::new(),
                                },
                            );
                        }
                    }
                    ("delete", "UserSecurityRole") => {
                        if let Some(key) = entity_key(op) {
                            state.retain(|_, h| h.usr_id != key);
                        }
                    }
                    ("create", "UserSecurityRoleProject") => {
                        if let (Some(usr), Some(project)) = (
                            ref_id(&data, "user_security_role"),
                            ref_id(&data, "project"),
                        ) && let Some(h) = state.values_mut().find(|h| h.usr_id == usr)
                        {
                            h.projects.insert(project);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

fn role_error(kind: ErrorKind, message: String) -> Error {
    Error::Role { kind, message }
}

fn not_assigned(username: &str, role: &str, to_do: &str) -> Error {
    role_error(
        ErrorKind::RoleNotAssigned,
        format!(
            "user \"{username}\" does not hold the security role \"{role}\", so this cannot \
             {to_do}; append the role first"
        ),
    )
}

fn name_of(role: &Entity) -> Result<String> {
    if role.entity_type() != "SecurityRole" {
        return Err(Error::InvalidArgument(format!(
            "expected a SecurityRole, got a {}",
            role.entity_type()
        )));
    }
    role.get_string("name")
}

// Readers of attributes that a projection loaded. They never auto-populate, so the
// request counts stay what the projections promise: a missing attribute reads as
// empty.

fn loaded_list(e: &Entity, attribute: &str) -> Result<Vec<Entity>> {
    if !e.is_loaded(attribute) {
        return Ok(Vec::new());
    }
    e.get_list(attribute)
}

fn loaded_entity(e: &Entity, attribute: &str) -> Result<Option<Entity>> {
    if !e.is_loaded(attribute) {
        return Ok(None);
    }
    e.get_entity(attribute)
}

fn loaded_string(e: &Entity, attribute: &str) -> Result<String> {
    if !e.is_loaded(attribute) {
        return Ok(String::new());
    }
    Ok(match e.get(attribute)? {
        Value::String(s) => s,
        _ => String::new(),
    })
}

fn loaded_bool(e: &Entity, attribute: &str) -> Result<bool> {
    if !e.is_loaded(attribute) {
        return Ok(false);
    }
    Ok(matches!(e.get(attribute)?, Value::Bool(true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn held(all_open: bool, projects: &[&str]) -> Held {
        Held {
            usr_id: "usr-1".into(),
            all_open,
            projects: projects.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn pending_actions_apply_in_order_for_the_user_only() {
        let mut state = BTreeMap::new();
        state.insert("role-user".to_owned(), held(true, &[]));
        let ops = vec![
            json!({"action": "add_user_security_role", "user_id": "u1", "role_id": "role-pm", "all_open_projects": false}),
            json!({"action": "grant_user_security_role_project", "user_id": "u1", "role_id": "role-pm", "project_id": "gamma"}),
            json!({"action": "add_user_security_role", "user_id": "u2", "role_id": "role-x"}),
            json!({"action": "update_user_security_role", "user_id": "u1", "role_id": "role-user", "new_role_id": "role-restricted"}),
            json!({"action": "revoke_user_security_role_project", "user_id": "u1", "role_id": "role-restricted", "all_open_projects": true}),
        ];
        apply_pending(&mut state, "u1", &ops);
        assert_eq!(
            state.keys().collect::<Vec<_>>(),
            ["role-pm", "role-restricted"]
        );
        assert!(state["role-pm"].projects.contains("gamma"));
        assert!(!state["role-restricted"].all_open);
    }

    #[test]
    fn pending_entity_operations_count_too() {
        let mut state = BTreeMap::new();
        state.insert("role-user".to_owned(), held(false, &[]));
        let ops = vec![
            json!({"action": "delete", "entity_type": "UserSecurityRole", "entity_key": ["usr-1"]}),
            json!({"action": "create", "entity_type": "UserSecurityRole", "entity_key": ["usr-2"],
                   "entity_data": {"__entity_type__": "UserSecurityRole", "id": "usr-2", "user_id": "u1", "security_role_id": "role-pm"}}),
            json!({"action": "create", "entity_type": "UserSecurityRoleProject", "entity_key": ["g"],
                   "entity_data": {"user_security_role": {"__entity_type__": "UserSecurityRole", "id": "usr-2"}, "project_id": "alpha"}}),
        ];
        apply_pending(&mut state, "u1", &ops);
        assert_eq!(state.keys().collect::<Vec<_>>(), ["role-pm"]);
        assert!(state["role-pm"].projects.contains("alpha"));
    }

    #[test]
    fn scope_texts() {
        assert_eq!(scope_text(true, std::iter::empty()), "all open projects");
        assert_eq!(scope_text(false, ["a", "b"].into_iter()), "a, b");
        assert_eq!(scope_text(true, ["g"].into_iter()), "all open projects + g");
        assert_eq!(scope_text(false, std::iter::empty()), "no projects");
    }
}
