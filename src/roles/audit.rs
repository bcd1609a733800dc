//! The audit: every user × role × scope, in one paged query.

use super::read::{loaded_bool, loaded_entity, loaded_list, loaded_string};
use super::{AuditRow, Roles};
use crate::Result;

/// The audit's projections: the same as a user's roles, plus `is_active`.
const AUDIT_PROJECTIONS: &str = "username, is_active, \
     user_security_roles.is_all_open_projects, \
     user_security_roles.security_role.name, \
     user_security_roles.security_role.type, \
     user_security_roles.user_security_role_projects.project.name";

impl Roles {
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
}
