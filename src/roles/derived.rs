//! `User.security_roles`: the derived collection that lets code written for
//! `ftrack_api` (`user['security_roles'].append(role)`) change roles.
//!
//! The session reads and queries it (a path through `user_security_roles`);
//! this layer gives it its edits: append and remove go through
//! [`Roles::append`] / [`Roles::remove`], so they are validated, honour the
//! idempotent option and land in the ordered pending batch like any role
//! change. An appended role's scope comes from the session option
//! [`crate::SessionOptions::security_roles_all_open_projects`] (default: no
//! project until one is granted).

use std::sync::Arc;

use super::Roles;
use crate::{DerivedCollection, DerivedEdits, Entity, Result, Session};

/// The name of the derived collection on `User`.
pub const SECURITY_ROLES: &str = "security_roles";

/// The edits of `User.security_roles`; holds nothing, so the session (which
/// holds it in its registry) is not kept alive by it: each edit works on the
/// owner's session.
#[derive(Debug)]
struct SecurityRoleEdits;

impl SecurityRoleEdits {
    fn roles(&self, owner: &Entity) -> Roles {
        Roles::new(&owner.session())
    }
}

impl DerivedEdits for SecurityRoleEdits {
    fn append(&self, owner: &Entity, item: &Entity) -> Result<()> {
        let roles = self.roles(owner);
        let all_open = roles
            .session()
            .options()
            .appended_roles_cover_all_open_projects();
        roles.append(owner, item, all_open).map(|_| ())
    }

    fn remove(&self, owner: &Entity, item: &Entity) -> Result<()> {
        self.roles(owner).remove(owner, item).map(|_| ())
    }
}

/// Registers `User.security_roles` on `session` (idempotent): reads give the
/// `SecurityRole`s the user holds, appends and removals record role actions.
/// The C ABI does this for every session it creates.
///
/// Errors: those of [`Session::register_derived_collection`] when the server's
/// schema lacks `User.user_security_roles` or `UserSecurityRole.security_role`.
pub fn install(session: &Session) -> Result<()> {
    session.register_derived_collection(
        DerivedCollection::new(
            "User",
            SECURITY_ROLES,
            "user_security_roles",
            "security_role",
        )
        .with_edits(Arc::new(SecurityRoleEdits)),
    )
}
