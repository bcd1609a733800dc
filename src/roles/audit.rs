//! The audit: every user × role × scope, in one paged query.

use super::read::{loaded_bool, loaded_roles, loaded_string};
use super::{AuditRow, Roles};
use crate::Result;

impl Roles {
    /// Every user × role × scope on the server, sorted by username then role, read
    /// with one paged query of `User` (projections through `user_security_roles`):
    /// ⌈users / page size⌉ requests (page size 500 by default) however many roles
    /// and grants there are. Users without roles get one row with `role: None`.
    /// Only what the acting user may see is listed; run it as an administrator.
    pub fn audit(&self) -> Result<Vec<AuditRow>> {
        let users = self.users(None)?;
        let mut rows = Vec::new();
        for user in users {
            let username = loaded_string(&user, "username")?;
            let active = loaded_bool(&user, "is_active")?;
            let roles = loaded_roles(&user)?;
            if roles.is_empty() {
                rows.push(AuditRow {
                    username,
                    active,
                    role: None,
                    role_type: None,
                    all_open_projects: false,
                    projects: Vec::new(),
                });
                continue;
            }
            rows.extend(roles.into_iter().map(|r| AuditRow {
                username: username.clone(),
                active,
                role: Some(r.role_name),
                role_type: Some(r.role_type),
                all_open_projects: r.all_open_projects,
                projects: r.projects.into_iter().map(|p| p.name).collect(),
            }));
        }
        Ok(rows)
    }
}
