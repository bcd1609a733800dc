//! Changes: append, remove, replace, grant and revoke, each validated and then
//! recorded as a role action in the session's pending batch.

use super::read::loaded_string;
use super::{ASSIGNABLE_ROLE_TYPES, RoleAction, Roles};
use crate::{Entity, Error, ErrorKind, Result, Value};

/// What validation decided, under the role store; messages (which may need
/// names read from the server) are written after the store is released.
enum Verdict {
    Recorded,
    Skipped,
    Refused(Refusal),
}

enum Refusal {
    AlreadyHeld,
    NotHeld,
    /// Replace: the new role is held already.
    NewAlreadyHeld,
    AlreadyGranted,
    /// Revoke: `all_open` says whether the role covers all open projects.
    NotGranted {
        all_open: bool,
    },
}

impl Roles {
    /// Records giving `user` the `role`, on every open project when
    /// `all_open_projects` (else on no project until one is granted).
    ///
    /// Errors: [`ErrorKind::RoleNotAssignable`] (an `API` role),
    /// [`ErrorKind::RoleAlreadyAssigned`]. Idempotent mode: a held role is skipped
    /// (`Ok(false)`), except that asking for all open projects on a held role that
    /// lacks them records that grant instead.
    pub fn append(&self, user: &Entity, role: &Entity, all_open_projects: bool) -> Result<bool> {
        assignable(user, role)?;
        let (user_id, role_id) = (user.id(), role.id());
        let verdict = {
            let ctx = self.context(user, user_id)?;
            match ctx.state().get(&role_id) {
                None => {
                    ctx.record(|user_id| RoleAction::add(user_id, role_id, all_open_projects));
                    Verdict::Recorded
                }
                Some(_) if !self.idempotent => Verdict::Refused(Refusal::AlreadyHeld),
                Some(held) if all_open_projects && !held.all_open => {
                    ctx.record(|user_id| RoleAction::grant_all_open(user_id, role_id));
                    Verdict::Recorded
                }
                Some(_) => Verdict::Skipped,
            }
        };
        self.outcome(verdict, user, role, None, None)
    }

    /// Records taking `role` away from `user` (with its project grants).
    ///
    /// Errors: [`ErrorKind::RoleNotAssigned`]; skipped (`Ok(false)`) in idempotent mode.
    pub fn remove(&self, user: &Entity, role: &Entity) -> Result<bool> {
        check_role(role)?;
        let (user_id, role_id) = (user.id(), role.id());
        let verdict = {
            let ctx = self.context(user, user_id)?;
            if ctx.state().contains_key(&role_id) {
                ctx.record(|user_id| RoleAction::remove(user_id, role_id));
                Verdict::Recorded
            } else if self.idempotent {
                Verdict::Skipped
            } else {
                Verdict::Refused(Refusal::NotHeld)
            }
        };
        self.outcome(verdict, user, role, None, None)
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
        assignable(user, new_role)?;
        check_role(old_role)?;
        let (user_id, old_id, new_id) = (user.id(), old_role.id(), new_role.id());
        let verdict = {
            let ctx = self.context(user, user_id)?;
            let holds_old = ctx.state().contains_key(&old_id);
            let holds_new = ctx.state().contains_key(&new_id);
            if self.idempotent && holds_new && (!holds_old || old_id == new_id) {
                Verdict::Skipped
            } else if !holds_old {
                Verdict::Refused(Refusal::NotHeld)
            } else if holds_new {
                Verdict::Refused(Refusal::NewAlreadyHeld)
            } else {
                ctx.record(|user_id| RoleAction::replace(user_id, old_id, new_id));
                Verdict::Recorded
            }
        };
        self.outcome(verdict, user, old_role, Some(new_role), None)
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
        if !project.is_of_type("Project") {
            return Err(Error::InvalidArgument(format!(
                "expected a Project, got a {}",
                project.entity_type()
            )));
        }
        check_role(role)?;
        let (user_id, role_id, project_id) = (user.id(), role.id(), project.id());
        let verdict = {
            let ctx = self.context(user, user_id)?;
            match ctx.state().get(&role_id) {
                None => Verdict::Refused(Refusal::NotHeld),
                Some(held) => match (grant, held.projects.contains(&project_id)) {
                    (true, true) | (false, false) if self.idempotent => Verdict::Skipped,
                    (true, true) => Verdict::Refused(Refusal::AlreadyGranted),
                    (false, false) => Verdict::Refused(Refusal::NotGranted {
                        all_open: held.all_open,
                    }),
                    _ => {
                        ctx.record(|user_id| {
                            RoleAction::project(user_id, role_id, project_id, grant)
                        });
                        Verdict::Recorded
                    }
                },
            }
        };
        self.outcome(verdict, user, role, None, Some((project, grant)))
    }

    /// `Ok(true)` for a recorded change, `Ok(false)` for a skipped one, or the
    /// refusal's error naming the user, the role(s) and the project.
    fn outcome(
        &self,
        verdict: Verdict,
        user: &Entity,
        role: &Entity,
        new_role: Option<&Entity>,
        project: Option<(&Entity, bool)>,
    ) -> Result<bool> {
        let refusal = match verdict {
            Verdict::Recorded => return Ok(true),
            Verdict::Skipped => return Ok(false),
            Verdict::Refused(r) => r,
        };
        let username = username_of(user);
        let role_name = name_of(role)?;
        let project_name = match project {
            Some((p, _)) => label_of(p),
            None => String::new(),
        };
        let new_name = match new_role {
            Some(r) => name_of(r)?,
            None => String::new(),
        };
        Err(match refusal {
            Refusal::AlreadyHeld => role_error(
                ErrorKind::RoleAlreadyAssigned,
                format!(
                    "user \"{username}\" already holds the security role \"{role_name}\"; \
                     grant projects on it, or use the idempotent option to skip this"
                ),
            ),
            Refusal::NewAlreadyHeld => role_error(
                ErrorKind::RoleAlreadyAssigned,
                format!(
                    "user \"{username}\" already holds the security role \"{new_name}\", so \
                     \"{role_name}\" cannot be replaced by it; remove \"{role_name}\" instead"
                ),
            ),
            Refusal::NotHeld => {
                let to_do = match (project, new_role) {
                    (Some((_, grant)), _) => format!(
                        "{} project \"{project_name}\" on it",
                        if grant { "grant" } else { "revoke" }
                    ),
                    (None, Some(_)) => format!("replace it by \"{new_name}\""),
                    (None, None) => "remove it".to_owned(),
                };
                not_assigned(&username, &role_name, &to_do)
            }
            Refusal::AlreadyGranted => role_error(
                ErrorKind::ProjectAlreadyGranted,
                format!(
                    "project \"{project_name}\" is already granted to the security role \
                     \"{role_name}\" of user \"{username}\""
                ),
            ),
            Refusal::NotGranted { all_open } => role_error(
                ErrorKind::ProjectNotGranted,
                format!(
                    "project \"{project_name}\" is not granted to the security role \
                     \"{role_name}\" of user \"{username}\"{}",
                    if all_open {
                        " (the role covers all open projects, which is not a grant)"
                    } else {
                        ""
                    }
                ),
            ),
        })
    }
}

/// The username if loaded (no request), else the id.
fn username_of(user: &Entity) -> String {
    match loaded_string(user, "username") {
        Ok(name) if !name.is_empty() => name,
        _ => user.id(),
    }
}

/// `RoleNotAssignable` unless the role may be given to a user.
fn assignable(user: &Entity, role: &Entity) -> Result<()> {
    check_role(role)?;
    let ty = match role.get("type")? {
        Value::String(s) => s,
        _ => String::new(),
    };
    if !ASSIGNABLE_ROLE_TYPES.contains(&ty.as_str()) {
        return Err(role_error(
            ErrorKind::RoleNotAssignable,
            format!(
                "the security role \"{}\" has type {} and cannot be given to user \
                 \"{}\"; only PROJECT and ASSIGNED roles can be",
                name_of(role)?,
                if ty.is_empty() { "(none)" } else { &ty },
                username_of(user),
            ),
        ));
    }
    Ok(())
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

fn check_role(role: &Entity) -> Result<()> {
    if !role.is_of_type("SecurityRole") {
        return Err(Error::InvalidArgument(format!(
            "expected a SecurityRole, got a {}",
            role.entity_type()
        )));
    }
    Ok(())
}

pub(super) fn name_of(role: &Entity) -> Result<String> {
    check_role(role)?;
    Ok(label_of(role))
}

/// The name to show in a message: the `name` attribute when it reads as a
/// non-empty string, else the id. Never an error: a local edit (a name set to
/// null) or a failed fetch must not replace the refusal being reported.
fn label_of(entity: &Entity) -> String {
    match entity.get_string("name") {
        Ok(name) if !name.is_empty() => name,
        _ => entity.id(),
    }
}
