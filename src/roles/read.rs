//! Reading: security roles, users and projects by name, and a user's roles with
//! their scope (which also refreshes the role store).

use super::validate::{Held, HeldRoles};
use super::{ProjectRef, Roles, UserRole};
use crate::{Entity, Error, Result, Value, quote};

/// Projections that load a user's roles with their scope in one query of `User`.
pub(super) const USER_ROLE_PROJECTIONS: &str = "username, \
     user_security_roles.is_all_open_projects, \
     user_security_roles.security_role_id, \
     user_security_roles.security_role.name, \
     user_security_roles.security_role.type, \
     user_security_roles.user_security_role_projects.project_id, \
     user_security_roles.user_security_role_projects.project.name, \
     user_security_roles.user_security_role_projects.project.full_name";

impl Roles {
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
        // Read before the request: a write during it makes the stored state stale.
        let generation = self.session.write_generation();
        let out = self.read_user_roles(user)?;
        self.lock_store()
            .store_base(generation, user.id(), held_state(&out));
        Ok(out)
    }

    /// [`Roles::user_roles`] without keeping the state.
    pub(super) fn read_user_roles(&self, user: &Entity) -> Result<Vec<UserRole>> {
        self.check_user(user)?;
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
        loaded_roles(&user)
    }

    /// The users that match `criteria` (a query condition such as
    /// `username like "a%"`, or every user for `None`), sorted by username, with
    /// their roles and scopes loaded by **one** paged query
    /// (⌈users / page size⌉ requests). Their role state is kept for validation, so
    /// changes to any of them then cost no request until this session writes.
    pub fn users(&self, criteria: Option<&str>) -> Result<Vec<Entity>> {
        let generation = self.session.write_generation();
        let filter = criteria.map(|c| format!(" where {c}")).unwrap_or_default();
        let users = self.session.query(&format!(
            "select {USER_ROLE_PROJECTIONS}, is_active from User{filter} order by username"
        ))?;
        self.remember(generation, &users)?;
        Ok(users)
    }

    /// Keeps the role state of users loaded with [`USER_ROLE_PROJECTIONS`].
    pub(super) fn remember(&self, generation: u64, users: &[Entity]) -> Result<()> {
        let states = users
            .iter()
            .map(|u| Ok((u.id(), held_state(&loaded_roles(u)?))))
            .collect::<Result<Vec<_>>>()?;
        let mut store = self.lock_store();
        for (id, state) in states {
            store.store_base(generation, id, state);
        }
        Ok(())
    }
}

/// What validation keeps of a user's roles: role id → scope.
pub(super) fn held_state(roles: &[UserRole]) -> HeldRoles {
    roles
        .iter()
        .map(|r| {
            let held = Held {
                usr_id: r.entity.id(),
                all_open: r.all_open_projects,
                projects: r.projects.iter().map(|p| p.id.clone()).collect(),
            };
            (r.role.id(), held)
        })
        .collect()
}

// Readers of attributes that a projection loaded. They never auto-populate, so the
// request counts stay what the projections promise: a missing attribute reads as
// empty.

/// The roles of a `User` entity loaded with [`USER_ROLE_PROJECTIONS`], with their
/// scope, sorted by role name. Reads only what the query loaded: no request.
pub(super) fn loaded_roles(user: &Entity) -> Result<Vec<UserRole>> {
    let mut out = Vec::new();
    for usr in loaded_list(user, "user_security_roles")? {
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
    Ok(out)
}

pub(super) fn loaded_list(e: &Entity, attribute: &str) -> Result<Vec<Entity>> {
    if !e.is_loaded(attribute) {
        return Ok(Vec::new());
    }
    e.get_list(attribute)
}

pub(super) fn loaded_entity(e: &Entity, attribute: &str) -> Result<Option<Entity>> {
    if !e.is_loaded(attribute) {
        return Ok(None);
    }
    e.get_entity(attribute)
}

pub(super) fn loaded_string(e: &Entity, attribute: &str) -> Result<String> {
    if !e.is_loaded(attribute) {
        return Ok(String::new());
    }
    Ok(match e.get(attribute)? {
        Value::String(s) => s,
        _ => String::new(),
    })
}

pub(super) fn loaded_bool(e: &Entity, attribute: &str) -> Result<bool> {
    if !e.is_loaded(attribute) {
        return Ok(false);
    }
    Ok(matches!(e.get(attribute)?, Value::Bool(true)))
}
