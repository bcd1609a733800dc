//! The security-roles functions of the C ABI: glue over `ftrack::roles::Roles`.
//!
//! Changes (`ftrack_user_role_*`) are validated, then recorded as pending
//! operations of the session; `ftrack_session_commit` sends them (with any entity
//! changes) in one atomic request, `ftrack_session_rollback` discards them and
//! `ftrack_session_pending_json` shows them. Validation failures have their own
//! statuses (`FTRACK_STATUS_ROLE_*`, `FTRACK_STATUS_PROJECT_*`) and a last-error
//! message naming the user, the role and the project.

use std::ffi::c_char;

use ftrack::roles::Roles;

use super::entity::{entity_arg, ftrack_entity, new_entity};
use super::entity_list::{ftrack_entity_list, new_list};
use super::handle::{borrow, out_handle};
use super::session::{ftrack_session, session_arg};
use super::status::ftrack_status;
use super::strings::{opt_str_arg, out_buffer, str_arg};

/// @brief Lists the security roles, sorted by name, with `name` and `type` loaded; only
///        those of `role_type` (`"PROJECT"`, `"ASSIGNED"` or `"API"`, any case) unless
///        `role_type` is NULL.
///
/// One request.
///
/// On success `*out` owns a new list freed with `ftrack_entity_list_destroy`; on
/// failure NULL.
///
/// @param session the session handle.
/// @param role_type `"PROJECT"`, `"ASSIGNED"` or `"API"` (any case) to list only roles of
///        that type, or NULL for all.
/// @param out receives a new list handle, freed with ftrack_entity_list_destroy(); NULL
///        on failure.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_UTF8`; `FTRACK_STATUS_INVALID_ARGUMENT` (unknown
///         type); `FTRACK_STATUS_POISONED`; or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_security_roles(
    session: *mut ftrack_session,
    role_type: *const c_char,
    out: *mut *mut ftrack_entity_list,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let role_type = unsafe { opt_str_arg(role_type, "role_type")? };
        let roles = Roles::new(&handle.session).security_roles(role_type)?;
        *out = new_list(roles, handle.secret());
        Ok(())
    })
}

/// @brief Finds the security role named `name` (exact, case-sensitive), with `name` and
///        `type` loaded.
///
/// On success `*out` owns a new entity handle freed with `ftrack_entity_destroy`;
/// on failure NULL.
///
/// @param session the session handle.
/// @param name the role's name (NUL-terminated UTF-8).
/// @param out receives a new entity handle, freed with ftrack_entity_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NOT_FOUND` (the message names the
///         role and lists the roles that exist); `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_UTF8`; `FTRACK_STATUS_POISONED`; or a
///         transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_security_role_find(
    session: *mut ftrack_session,
    name: *const c_char,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let name = unsafe { str_arg(name, "name")? };
        let role = Roles::new(&handle.session).find_role(name)?;
        *out = new_entity(role, handle.secret());
        Ok(())
    })
}

/// @brief Finds the user whose `username` is `username` (quoted safely, so any text may
///        be passed), with `username` and `is_active` loaded.
///
/// On success `*out` owns a new entity handle freed with `ftrack_entity_destroy`;
/// on failure NULL.
///
/// @param session the session handle.
/// @param username the username (NUL-terminated UTF-8).
/// @param out receives a new entity handle, freed with ftrack_entity_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NOT_FOUND` (the message names the
///         user); `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_INVALID_UTF8`;
///         `FTRACK_STATUS_POISONED`; or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_user_find(
    session: *mut ftrack_session,
    username: *const c_char,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let username = unsafe { str_arg(username, "username")? };
        let user = Roles::new(&handle.session).find_user(username)?;
        *out = new_entity(user, handle.secret());
        Ok(())
    })
}

/// @brief Lists the users matching `criteria`, sorted by username, with their roles
///        and scopes loaded by one paged query (one request per 500 users).
///
/// Their role state is kept for validation: role changes to any of them then cost
/// no request until this session commits. Use it before changing many users' roles.
///
/// @param session the session handle.
/// @param criteria a query condition such as `username like "a%"` (NUL-terminated
///        UTF-8), or NULL for every user.
/// @param out receives a new list handle, freed with ftrack_entity_list_destroy(); NULL
///        on failure.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_UTF8`; `FTRACK_STATUS_QUERY_SYNTAX` (bad
///         criteria); `FTRACK_STATUS_POISONED`; or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_users(
    session: *mut ftrack_session,
    criteria: *const c_char,
    out: *mut *mut ftrack_entity_list,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let criteria = unsafe { opt_str_arg(criteria, "criteria")? };
        let users = Roles::new(&handle.session).users(criteria)?;
        *out = new_list(users, handle.secret());
        Ok(())
    })
}

/// @brief Finds the project whose short `name` (e.g. `"gamma"`) or `full_name` (e.g.
///        `"Project Gamma"`) is `name`, preferring the short name; `id`, `name` and
///        `full_name` are loaded.
///
/// Projects the API user may not see are not found.
///
/// On success `*out` owns a new entity handle freed with `ftrack_entity_destroy`;
/// on failure NULL.
///
/// @param session the session handle.
/// @param name the project's name (NUL-terminated UTF-8).
/// @param out receives a new entity handle, freed with ftrack_entity_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NOT_FOUND`;
///         `FTRACK_STATUS_MULTIPLE_RESULTS` (several projects share that full
///         name); `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_INVALID_UTF8`;
///         `FTRACK_STATUS_POISONED`; or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_project_find(
    session: *mut ftrack_session,
    name: *const c_char,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let name = unsafe { str_arg(name, "name")? };
        let project = Roles::new(&handle.session).find_project(name)?;
        *out = new_entity(project, handle.secret());
        Ok(())
    })
}

/// @brief Lists the `UserSecurityRole` entities of `user`, sorted by role name, with
///        `security_role` (`name`, `type`), `is_all_open_projects` and
///        `user_security_role_projects` → `project` (`name`, `full_name`) already loaded,
///        read in ONE request.
///
/// Read them with `ftrack_entity_get_entity`, `ftrack_entity_get_bool`,
/// `ftrack_entity_get_list` and `ftrack_entity_get_string` without further requests.
///
/// On success `*out` owns a new list freed with `ftrack_entity_list_destroy`; on
/// failure NULL.
///
/// @param session the session handle.
/// @param user the user (a `User` entity handle); only read.
/// @param out receives a new list handle, freed with ftrack_entity_list_destroy(); NULL
///        on failure.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_ARGUMENT` (`user` is not a User, or belongs to
///         another session); `FTRACK_STATUS_NOT_FOUND`; `FTRACK_STATUS_POISONED`;
///         or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_user_security_roles(
    session: *mut ftrack_session,
    user: *const ftrack_entity,
    out: *mut *mut ftrack_entity_list,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let user = unsafe { entity_arg(user, "user")? };
        let roles = Roles::new(&handle.session).user_roles(user)?;
        *out = new_list(
            roles.into_iter().map(|r| r.entity).collect(),
            handle.secret(),
        );
        Ok(())
    })
}

/// @brief Records giving `user` the security role `role`: on every open project when
///        `all_open_projects` is true, else on no project until one is granted with
///        `ftrack_user_role_grant_project` (which may follow in the same batch).
///
/// Validated first (one read request); nothing is sent until `ftrack_session_commit`.
///
/// @param session the session handle.
/// @param user the user (a `User` entity handle); only read.
/// @param role the security role (a `SecurityRole` entity handle); only read.
/// @param all_open_projects true: the role applies to all open projects; false: only to
///        projects granted to it.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_ROLE_NOT_ASSIGNABLE` (an `API`
///         role); `FTRACK_STATUS_ROLE_ALREADY_ASSIGNED` (held on the server or
///         by a pending operation); `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_ARGUMENT` (wrong entity types or sessions);
///         `FTRACK_STATUS_POISONED`; or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_user_role_append(
    session: *mut ftrack_session,
    user: *const ftrack_entity,
    role: *const ftrack_entity,
    all_open_projects: bool,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let user = unsafe { entity_arg(user, "user")? };
        let role = unsafe { entity_arg(role, "role")? };
        Roles::new(session).append(user, role, all_open_projects)?;
        Ok(())
    })
}

/// @brief Records taking the security role `role` (and its project grants) away from
///        `user`.
///
/// Validated first; sent by `ftrack_session_commit`.
///
/// @param session the session handle.
/// @param user the user (a `User` entity handle); only read.
/// @param role the security role (a `SecurityRole` entity handle); only read.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_ROLE_NOT_ASSIGNED`;
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_INVALID_ARGUMENT`;
///         `FTRACK_STATUS_POISONED`; or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_user_role_remove(
    session: *mut ftrack_session,
    user: *const ftrack_entity,
    role: *const ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let user = unsafe { entity_arg(user, "user")? };
        let role = unsafe { entity_arg(role, "role")? };
        Roles::new(session).remove(user, role)?;
        Ok(())
    })
}

/// @brief Records replacing the user's `old_role` by `new_role` in one action; the scope
///        (all open projects, granted projects) carries over.
///
/// Validated first; sent by `ftrack_session_commit`.
///
/// @param session the session handle.
/// @param user the user (a `User` entity handle); only read.
/// @param old_role the role to replace (a `SecurityRole` entity handle); only read.
/// @param new_role the role to give instead (a `SecurityRole` entity handle); only read.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_ROLE_NOT_ASSIGNABLE` (`new_role` is
///         an `API` role); `FTRACK_STATUS_ROLE_NOT_ASSIGNED` (`old_role` not
///         held); `FTRACK_STATUS_ROLE_ALREADY_ASSIGNED` (`new_role` already held);
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_INVALID_ARGUMENT`;
///         `FTRACK_STATUS_POISONED`; or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_user_role_replace(
    session: *mut ftrack_session,
    user: *const ftrack_entity,
    old_role: *const ftrack_entity,
    new_role: *const ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let user = unsafe { entity_arg(user, "user")? };
        let old_role = unsafe { entity_arg(old_role, "old_role")? };
        let new_role = unsafe { entity_arg(new_role, "new_role")? };
        Roles::new(session).replace(user, old_role, new_role)?;
        Ok(())
    })
}

/// @brief Records granting `project` to the user's security role `role`.
///
/// The role may have been appended earlier in the same pending batch. Validated first;
/// sent by `ftrack_session_commit`.
///
/// @param session the session handle.
/// @param user the user (a `User` entity handle); only read.
/// @param role the security role (a `SecurityRole` entity handle); only read.
/// @param project the project (a `Project` entity handle); only read.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_ROLE_NOT_ASSIGNED` (the user does
///         not hold `role`); `FTRACK_STATUS_PROJECT_ALREADY_GRANTED`;
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_INVALID_ARGUMENT`;
///         `FTRACK_STATUS_POISONED`; or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_user_role_grant_project(
    session: *mut ftrack_session,
    user: *const ftrack_entity,
    role: *const ftrack_entity,
    project: *const ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let user = unsafe { entity_arg(user, "user")? };
        let role = unsafe { entity_arg(role, "role")? };
        let project = unsafe { entity_arg(project, "project")? };
        Roles::new(session).grant_project(user, role, project)?;
        Ok(())
    })
}

/// @brief Records revoking `project` from the user's security role `role`.
///
/// Validated first; sent by `ftrack_session_commit`.
///
/// @param session the session handle.
/// @param user the user (a `User` entity handle); only read.
/// @param role the security role (a `SecurityRole` entity handle); only read.
/// @param project the project (a `Project` entity handle); only read.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_ROLE_NOT_ASSIGNED`;
///         `FTRACK_STATUS_PROJECT_NOT_GRANTED`; `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_ARGUMENT`; `FTRACK_STATUS_POISONED`; or a
///         transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_user_role_revoke_project(
    session: *mut ftrack_session,
    user: *const ftrack_entity,
    role: *const ftrack_entity,
    project: *const ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let user = unsafe { entity_arg(user, "user")? };
        let role = unsafe { entity_arg(role, "role")? };
        let project = unsafe { entity_arg(project, "project")? };
        Roles::new(session).revoke_project(user, role, project)?;
        Ok(())
    })
}

/// @brief Copies the audit of the whole server — every user × security role × scope — as
///        a JSON document, read with one paged query (⌈users / page size⌉ requests).
///
/// Buffer contract as `ftrack_last_error_message`: with a too small buffer the call
/// returns `FTRACK_STATUS_BUFFER_TOO_SMALL` and sets `*out_len` to the size needed (NUL
/// included); the audit only reads, so calling again is safe.
///
/// The document is a JSON array of rows sorted by username, then role:
/// ```json
/// [{"username": "pm", "active": true, "role": "Project Manager",
/// "role_type": "PROJECT", "all_open_projects": false,
/// "projects": ["alpha", "gamma"]}, ...]
/// ```
/// `projects` holds the short names of the explicitly granted projects, sorted.
/// A user without any role has one row with `"role": null, "role_type": null`.
/// Only what the acting API user may see is listed.
///
/// @param session the session handle.
/// @param buffer caller's buffer for the NUL-terminated UTF-8 result; may be NULL only
///        when @p buffer_len is 0 (size query).
/// @param buffer_len size of @p buffer in bytes.
/// @param out_len receives the size of the result in bytes, NUL included (also when the
///        buffer is too small); may be NULL.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_BUFFER_TOO_SMALL`;
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_POISONED`; or a
///         transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_security_role_audit_json(
    session: *mut ftrack_session,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let json = audit_json(unsafe { session_arg(session)? })?;
        out.write(&json)
    })
}

/// The audit as the JSON document `ftrack_security_role_audit_json` describes.
pub(crate) fn audit_json(session: &ftrack::Session) -> super::error::FfiResult<String> {
    let rows = Roles::new(session).audit()?;
    serde_json::to_string(&rows).map_err(|e| {
        super::error::FfiError::new(
            ftrack_status::Internal,
            format!("the audit could not be encoded as JSON ({e}); please report this"),
        )
    })
}
