//! Changes: append, remove, replace, grant and revoke, each validated and then
//! recorded as a role action in the session's pending batch.

use super::read::loaded_string;
use super::{ASSIGNABLE_ROLE_TYPES, RoleAction, Roles};
use crate::{Entity, Error, ErrorKind, Result, Value};

impl Roles {
    /// Records giving `user` the `role`, on every open project when
    /// `all_open_projects` (else on no project until one is granted).
    ///
    /// Errors: [`ErrorKind::RoleNotAssignable`] (an `API` role),
    /// [`ErrorKind::RoleAlreadyAssigned`]. Idempotent mode: a held role is skipped
    /// (`Ok(false)`), except that asking for all open projects on a held role that
    /// lacks them records that grant instead.
    pub fn append(&self, user: &Entity, role: &Entity, all_open_projects: bool) -> Result<bool> {
        let role_name = assignable(user, role)?;
        let ctx = self.context(user)?;
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
                ctx.record(RoleAction::grant_all_open(user, role));
                return Ok(true);
            }
            return Ok(false);
        }
        ctx.record(RoleAction::add(user, role, all_open_projects));
        Ok(true)
    }

    /// Records taking `role` away from `user` (with its project grants).
    ///
    /// Errors: [`ErrorKind::RoleNotAssigned`]; skipped (`Ok(false)`) in idempotent mode.
    pub fn remove(&self, user: &Entity, role: &Entity) -> Result<bool> {
        let role_name = name_of(role)?;
        let ctx = self.context(user)?;
        if !ctx.state.contains_key(&role.id()) {
            if self.idempotent {
                return Ok(false);
            }
            return Err(not_assigned(&ctx.username, &role_name, "remove it"));
        }
        ctx.record(RoleAction::remove(user, role));
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
        let new_name = assignable(user, new_role)?;
        let old_name = name_of(old_role)?;
        let ctx = self.context(user)?;
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
        ctx.record(RoleAction::replace(user, old_role, new_role));
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
        // Names first: reading them may send a request, which must not happen
        // while the role store is held.
        let role_name = name_of(role)?;
        let project_name = project.get_string("name")?;
        let ctx = self.context(user)?;
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
        ctx.record(RoleAction::project(user, role, project, grant));
        Ok(true)
    }
}

/// The role's name if it may be given to a user, else `RoleNotAssignable`.
fn assignable(user: &Entity, role: &Entity) -> Result<String> {
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
                loaded_string(user, "username").unwrap_or_else(|_| user.id()),
            ),
        ));
    }
    Ok(name)
}

pub(super) fn role_error(kind: ErrorKind, message: String) -> Error {
    Error::Role { kind, message }
}

pub(super) fn not_assigned(username: &str, role: &str, to_do: &str) -> Error {
    role_error(
        ErrorKind::RoleNotAssigned,
        format!(
            "user \"{username}\" does not hold the security role \"{role}\", so this cannot \
             {to_do}; append the role first"
        ),
    )
}

pub(super) fn name_of(role: &Entity) -> Result<String> {
    if role.entity_type() != "SecurityRole" {
        return Err(Error::InvalidArgument(format!(
            "expected a SecurityRole, got a {}",
            role.entity_type()
        )));
    }
    role.get_string("name")
}
