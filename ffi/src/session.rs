//! `ftrack_session`: creation, queries, changes, commit and raw calls.

use std::cell::RefCell;
use std::ffi::c_char;
use std::sync::Arc;

use ftrack::Session;

use super::boundary::note_secret;
use super::entity::{ftrack_entity, new_entity};
use super::entity_list::{ftrack_entity_list, new_list};
use super::error::{FfiError, FfiResult};
use super::handle::{
    Handle, HandleHeader, borrow, destroy_handle, into_handle, out_handle, out_value,
};
use super::options::ftrack_session_options;
use super::status::ftrack_status;
use super::strings::{json_arg, opt_str_arg, out_buffer, str_arg};

/// A connection to an ftrack server with its own entity cache (identity map) and
/// pending operations.
///
/// Created by `ftrack_session_create` or `ftrack_session_create_with_options`, freed
/// by `ftrack_session_destroy`. Internally locked: every function taking a session
/// may be called from several threads at once. Entity and list handles keep the
/// session's data alive, so a session may be destroyed while they exist; they stay
/// usable (reads, changes) but their changes can only be committed through a
/// session handle, so destroy the session last when you still want to commit.
/// The session's callbacks (logger, progress, event subscribers and reply
/// callbacks) end with the session handle (see `ftrack_session_destroy`).
pub struct ftrack_session {
    header: HandleHeader,
    pub(crate) session: Session,
}

impl Handle for ftrack_session {
    const WHAT: &'static str = "session";
    fn header(&self) -> &HandleHeader {
        &self.header
    }
}

impl ftrack_session {
    /// The API key to redact from messages of calls on handles derived from this one.
    pub(crate) fn secret(&self) -> Option<Arc<str>> {
        self.header.secret().cloned()
    }
}

/// Wraps a core session in a new handle (for functions creating sessions).
///
/// Every session of the C ABI has the derived collection `User.security_roles`
/// (see `ftrack::roles::install`) when the server's schema has the path it is
/// derived from; on a server without it the name stays unknown
/// (`FTRACK_STATUS_UNKNOWN_ATTRIBUTE`).
pub(crate) fn new_session(session: Session, secret: Option<Arc<str>>) -> *mut ftrack_session {
    // Only fails when the schema lacks User.user_security_roles.security_role.
    let _ = ftrack::roles::install(&session);
    into_handle(ftrack_session {
        header: HandleHeader::new(secret),
        session,
    })
}

/// The key that the core will use: the explicit one, else the environment's.
fn effective_key(explicit: Option<&str>) -> Option<Arc<str>> {
    explicit
        .map(str::to_owned)
        .or_else(|| std::env::var("FTRACK_API_KEY").ok())
        .or_else(|| std::env::var("FTRACK_APIKEY").ok())
        .filter(|k| !k.is_empty())
        .map(Arc::from)
}

/// Borrows a session argument (NULL and poison checks).
///
/// # Safety
/// `session` must be NULL or a live session handle.
pub(crate) unsafe fn session_arg<'a>(session: *const ftrack_session) -> FfiResult<&'a Session> {
    Ok(&unsafe { borrow(session, "session")? }.session)
}

/// @brief Creates a session and connects to the server (one round trip: server
///        information, and the schemas unless the schema cache is current).
///
/// Each argument may be NULL to read it from the environment: `server_url` from
/// `FTRACK_SERVER`, `api_key` from `FTRACK_API_KEY` (or the legacy `FTRACK_APIKEY`),
/// `api_user` from `FTRACK_API_USER` (or the login name). All strings are copied.
/// On success `*out` owns a new session the caller frees with
/// `ftrack_session_destroy`; on failure `*out` is NULL.
///
/// @param server_url server URL, e.g. `"https://studio.ftrackapp.com"`, or NULL to read
///        `FTRACK_SERVER`.
/// @param api_key API key, or NULL to read `FTRACK_API_KEY` (or `FTRACK_APIKEY`).
/// @param api_user API user, or NULL to read `FTRACK_API_USER` (or the login name).
/// @param out receives a new session handle, freed with ftrack_session_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NULL_POINTER` (`out` is NULL);
///         `FTRACK_STATUS_INVALID_UTF8`; `FTRACK_STATUS_MISSING_CONFIGURATION` (the
///         message names the argument and the variable to set);
///         `FTRACK_STATUS_CONNECTION`, `_TIMEOUT`, `_TLS`, `_PROTOCOL`,
///         `_AUTHENTICATION`, `_SERVER` or `_INCOMPATIBLE_SERVER`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_create(
    server_url: *const c_char,
    api_key: *const c_char,
    api_user: *const c_char,
    out: *mut *mut ftrack_session,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let server_url = unsafe { opt_str_arg(server_url, "server_url")? };
        let api_key = unsafe { opt_str_arg(api_key, "api_key")? };
        let api_user = unsafe { opt_str_arg(api_user, "api_user")? };
        let secret = effective_key(api_key);
        if let Some(secret) = &secret {
            note_secret(secret.clone());
        }
        let session = Session::new(server_url, api_key, api_user)?;
        *out = new_session(session, secret);
        unsafe { super::events::session_created(*out) };
        Ok(())
    })
}

/// @brief Creates a session from options (see `ftrack_session_options_create`) and
///        connects.
///
/// `options` is only read (copied); it can be reused or destroyed after. On success
/// `*out` owns a new session the caller frees with `ftrack_session_destroy`; on failure
/// `*out` is NULL.
///
/// @param options the session options handle.
/// @param out receives a new session handle, freed with ftrack_session_destroy(); NULL on
///        failure.
/// @return as `ftrack_session_create`, plus `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_create_with_options(
    options: *const ftrack_session_options,
    out: *mut *mut ftrack_session,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let options = unsafe { borrow(options, "options")? };
        let (options, key) = options.snapshot();
        let secret = effective_key(key.as_deref());
        if let Some(secret) = &secret {
            note_secret(secret.clone());
        }
        let session = Session::with_options(options)?;
        *out = new_session(session, secret);
        unsafe { super::events::session_created(*out) };
        Ok(())
    })
}

/// @brief Frees a session handle, after removing every callback registered on it.
///
/// NULL is a no-op. Uncommitted operations are discarded. Entity and list handles
/// obtained from it stay valid (see `ftrack_session`).
///
/// Callbacks: it first removes the session's event subscribers (see
/// `ftrack_event_hub_subscribe`), the reply callbacks of
/// `ftrack_event_hub_publish_event`, the logger and the progress callback,
/// disconnects its event hub, and waits until none of those callbacks is
/// running on another thread. When it returns, none of them is running and none
/// is ever called again, even while entity or list handles keep the session's
/// data alive (their calls then log nothing), so the `user_data` given with them
/// may be freed. A callback running on another thread meanwhile may still use
/// this session handle until it returns; do not destroy the session while
/// holding a lock that such a callback takes (it would wait forever).
///
/// Destroying the same handle twice, from one of its callbacks, or while another
/// thread uses it outside those callbacks, is forbidden.
///
/// @param session the session handle, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_destroy(session: *mut ftrack_session) {
    ffi_boundary!(value: (), {
        // SAFETY: NULL or a live handle, per the contract.
        if let Some(handle) = unsafe { session.as_ref() } {
            handle.session.remove_callbacks();
        }
        unsafe { destroy_handle(session) }
    })
}

/// @brief Runs a query and returns every matching entity (all pages).
///
/// `expression` is an ftrack query such as
/// `"select username from User where is_active is true"`; without `select`, the
/// schema's default projections are loaded. On success `*out` owns a new list
/// (possibly empty) freed with `ftrack_entity_list_destroy`; on failure NULL.
///
/// @param session the session handle.
/// @param expression query in the ftrack query language (NUL-terminated UTF-8).
/// @param out receives a new list handle, freed with ftrack_entity_list_destroy(); NULL
///        on failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_QUERY_SYNTAX`, `FTRACK_STATUS_UNKNOWN_ENTITY_TYPE`,
///         `FTRACK_STATUS_POISONED`, or a transport/server status (2xx, 3xx).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_query(
    session: *mut ftrack_session,
    expression: *const c_char,
    out: *mut *mut ftrack_entity_list,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let expression = unsafe { str_arg(expression, "expression")? };
        let entities = handle.session.query(expression)?;
        *out = new_list(entities, handle.secret());
        Ok(())
    })
}

/// @brief Returns the first entity matching `expression` (sends it with limit 1).
///
/// On success `*out` owns a new entity handle freed with `ftrack_entity_destroy`;
/// on failure NULL.
///
/// @param session the session handle.
/// @param expression query in the ftrack query language (NUL-terminated UTF-8).
/// @param out receives a new entity handle, freed with ftrack_entity_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NOT_FOUND` (nothing matched), and the
///         statuses of `ftrack_session_query`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_query_first(
    session: *mut ftrack_session,
    expression: *const c_char,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let expression = unsafe { str_arg(expression, "expression")? };
        let entity = handle.session.query_first(expression)?.ok_or_else(|| {
            FfiError::new(
                ftrack_status::NotFound,
                format!("no entity matches the query \"{expression}\""),
            )
        })?;
        *out = new_entity(entity, handle.secret());
        Ok(())
    })
}

/// @brief Returns the one entity matching `expression`.
///
/// On success `*out` owns a new entity handle freed with `ftrack_entity_destroy`;
/// on failure NULL.
///
/// @param session the session handle.
/// @param expression query in the ftrack query language (NUL-terminated UTF-8).
/// @param out receives a new entity handle, freed with ftrack_entity_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NOT_FOUND` (nothing matched),
///         `FTRACK_STATUS_MULTIPLE_RESULTS` (more than one), and the statuses of
///         `ftrack_session_query`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_query_one(
    session: *mut ftrack_session,
    expression: *const c_char,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let expression = unsafe { str_arg(expression, "expression")? };
        let entity = handle.session.query_one(expression)?;
        *out = new_entity(entity, handle.secret());
        Ok(())
    })
}

/// @brief Creates an entity locally with a new UUID primary key and records a create
///        operation (sent by `ftrack_session_commit`).
///
/// `entity_type` is e.g. `"Project"`; `data_json` is a JSON object of initial
/// attribute values (`"{}"` for none; references as
/// `{"__entity_type__": "User", "id": "..."}`). On success `*out` owns a new entity
/// handle freed with `ftrack_entity_destroy`; on failure NULL.
///
/// @param session the session handle.
/// @param entity_type entity type name, e.g. `"Project"` (NUL-terminated UTF-8).
/// @param data_json initial attribute values as a JSON object (NUL-terminated UTF-8).
/// @param out receives a new entity handle, freed with ftrack_entity_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_INVALID_ARGUMENT` (not a JSON object),
///         `FTRACK_STATUS_UNKNOWN_ENTITY_TYPE`, `FTRACK_STATUS_UNKNOWN_ATTRIBUTE`,
///         `FTRACK_STATUS_TYPE_MISMATCH` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_create_entity(
    session: *mut ftrack_session,
    entity_type: *const c_char,
    data_json: *const c_char,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let entity_type = unsafe { str_arg(entity_type, "entity_type")? };
        let data = match unsafe { json_arg(data_json, "data_json")? } {
            serde_json::Value::Object(map) => map,
            other => {
                return Err(FfiError::invalid(format!(
                    "argument `data_json` must be a JSON object, got {}",
                    json_kind(&other)
                )));
            }
        };
        let entity = handle.session.create(entity_type, data)?;
        *out = new_entity(entity, handle.secret());
        Ok(())
    })
}

pub(crate) fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// @brief Records the deletion of `entity` (sent by `ftrack_session_commit`).
///
/// The handle stays valid and must still be destroyed with `ftrack_entity_destroy`.
///
/// @param session the session handle.
/// @param entity the entity to delete; the handle stays valid and must still be
///        destroyed.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`,
///         `FTRACK_STATUS_INVALID_ARGUMENT` (the entity belongs to another session),
///         `FTRACK_STATUS_NOT_FOUND` (it was deleted or rolled back already) or
///         `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_delete_entity(
    session: *mut ftrack_session,
    entity: *const ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let entity = unsafe { borrow(entity, "entity")? };
        session.delete(&entity.entity)?;
        Ok(())
    })
}

/// @brief Sends every pending operation as one batch, merges the server's answer and
///        clears them.
///
/// On failure every pending operation is kept and the cache is left as it was: fix and
/// commit again, or call `ftrack_session_rollback`. One exception:
/// `FTRACK_STATUS_PROTOCOL` with a message saying the server APPLIED the batch (it
/// answered with results that could not be merged): the operations are done and no
/// longer pending; query the entities again.
///
/// @param session the session handle.
/// @return `FTRACK_STATUS_OK` (also when nothing is pending),
///         `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_VALIDATION`,
///         `FTRACK_STATUS_PERMISSION_DENIED`, `FTRACK_STATUS_POISONED`, or a
///         transport/server status (2xx, 3xx).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_commit(session: *mut ftrack_session) -> ftrack_status {
    ffi_boundary!({
        unsafe { session_arg(session)? }.commit()?;
        Ok(())
    })
}

/// @brief Discards every pending operation and local change.
///
/// @param session the session handle.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_rollback(session: *mut ftrack_session) -> ftrack_status {
    ffi_boundary!({
        unsafe { session_arg(session)? }.rollback();
        Ok(())
    })
}

/// @brief Stores the number of pending operations in `*out` (0 on failure).
///
/// @param session the session handle.
/// @param out receives the count; 0 on failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_pending_count(
    session: *const ftrack_session,
    out: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_value(out, "out")? };
        *out = unsafe { session_arg(session)? }.pending_len();
        Ok(())
    })
}

/// @brief Copies the batch `ftrack_session_commit` would send, as a JSON array (a dry
///        run; nothing is sent).
///
/// Buffer contract as `ftrack_last_error_message`.
///
/// @param session the session handle.
/// @param buffer caller's buffer for the NUL-terminated UTF-8 result; may be NULL only
///        when @p buffer_len is 0 (size query).
/// @param buffer_len size of @p buffer in bytes.
/// @param out_len receives the size of the result in bytes, NUL included (also when the
///        buffer is too small); may be NULL.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_BUFFER_TOO_SMALL` (`*out_len` = size
///         needed), `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_pending_json(
    session: *const ftrack_session,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let json = unsafe { session_arg(session)? }.pending_json()?;
        out.write(&json)
    })
}

thread_local! {
    /// The reply of this thread's last `ftrack_session_call` that did not fit.
    static UNREAD_REPLY: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// @brief Sends a raw batch (a JSON array of operations, e.g. `[{"action":
///        "query_server_information"}]`) and copies the server's JSON answer into
///        `buffer`.
///
/// Server errors are still typed statuses. Buffer contract as
/// `ftrack_last_error_message`.
///
/// @param session the session handle.
/// @param batch_json a JSON array of API operations (NUL-terminated UTF-8).
/// @param buffer caller's buffer for the NUL-terminated UTF-8 result; may be NULL only
///        when @p buffer_len is 0 (size query).
/// @param buffer_len size of @p buffer in bytes.
/// @param out_len receives the size of the result in bytes, NUL included (also when the
///        buffer is too small); may be NULL.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_BUFFER_TOO_SMALL`,
///         `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_INVALID_ARGUMENT` (not JSON), `FTRACK_STATUS_POISONED`,
///         or a transport/server status (2xx, 3xx, 4xx).
///
/// The batch is sent BEFORE the answer is copied: when the buffer is too small the
/// call returns `FTRACK_STATUS_BUFFER_TOO_SMALL` with `*out_len` set, and keeps the
/// answer for this thread; fetch it with `ftrack_last_call_reply` instead of
/// sending the batch again (which would repeat its writes). Pass the buffer
/// arguments wrong (NULL with a length) and nothing is sent.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_call(
    session: *mut ftrack_session,
    batch_json: *const c_char,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        // A new call always forgets an older unread answer, whatever happens next.
        UNREAD_REPLY.with_borrow_mut(|r| *r = None);
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let session = unsafe { session_arg(session)? };
        let batch = unsafe { json_arg(batch_json, "batch_json")? };
        let reply = session.call(&batch)?.to_string();
        let result = out.write(&reply);
        if result.is_err() {
            UNREAD_REPLY.with_borrow_mut(|r| *r = Some(reply));
        }
        result
    })
}

/// @brief Copies the answer of this thread's last `ftrack_session_call` when that call
///        returned `FTRACK_STATUS_BUFFER_TOO_SMALL`, without sending anything.
///
/// Once copied successfully it is forgotten; any later `ftrack_session_call` forgets it
/// too. Buffer contract as `ftrack_last_error_message`.
///
/// Thread-safe (per thread).
///
/// @param buffer caller's buffer for the NUL-terminated UTF-8 result; may be NULL only
///        when @p buffer_len is 0 (size query).
/// @param buffer_len size of @p buffer in bytes.
/// @param out_len receives the size of the result in bytes, NUL included (also when the
///        buffer is too small); may be NULL.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_BUFFER_TOO_SMALL`,
///         `FTRACK_STATUS_NULL_POINTER`, or `FTRACK_STATUS_NOT_FOUND` (no unread answer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_last_call_reply(
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let reply = UNREAD_REPLY.with_borrow(|r| r.clone()).ok_or_else(|| {
            FfiError::new(
                ftrack_status::NotFound,
                "no unread ftrack_session_call answer on this thread",
            )
        })?;
        out.write(&reply)?;
        UNREAD_REPLY.with_borrow_mut(|r| *r = None);
        Ok(())
    })
}
