//! What an `ftrack_api`-shaped binding needs beyond the first session calls
//! (issue 8): get by id, ensure, populate, reset, lazy paged queries
//! (`ftrack_query_cursor`), runtime toggles for auto-populate and operation
//! recording, the recorded operations as structured JSON, the schemas the
//! session exposes, and the scope option of `User.security_roles` appends.

use std::ffi::c_char;
use std::sync::Mutex;

use ftrack::QueryCursor;

use super::entity::{ftrack_entity, new_entity};
use super::entity_list::{ftrack_entity_list, new_list};
use super::error::{FfiError, FfiResult};
use super::handle::{
    Handle, HandleHeader, borrow, destroy_handle, into_handle, out_handle, out_value,
};
use super::options::ftrack_session_options;
use super::session::{ftrack_session, session_arg};
use super::status::ftrack_status;
use super::strings::{json_arg, opt_str_arg, out_buffer, str_arg};

/// @brief Returns the entity of `entity_type` with primary key `id` (composite keys
/// joined with `,`): from the session's cache when there, else from the server.
/// On success `*out` owns a new entity handle freed with `ftrack_entity_destroy`;
/// NULL on failure.
///
/// @param session the session handle.
/// @param entity_type the entity type, e.g. "User" (NUL-terminated UTF-8).
/// @param id the primary key, composite keys joined with `,` (NUL-terminated UTF-8).
/// @param out receives a new entity handle, freed with ftrack_entity_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NOT_FOUND` (no such entity),
///         `FTRACK_STATUS_UNKNOWN_ENTITY_TYPE`, `FTRACK_STATUS_NULL_POINTER`,
///         `FTRACK_STATUS_INVALID_UTF8`, `FTRACK_STATUS_POISONED`, or a
///         transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_get(
    session: *mut ftrack_session,
    entity_type: *const c_char,
    id: *const c_char,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let entity_type = unsafe { str_arg(entity_type, "entity_type")? };
        let id = unsafe { str_arg(id, "id")? };
        match handle.session.get(entity_type, id)? {
            Some(e) => {
                *out = new_entity(e, handle.secret());
                Ok(())
            }
            None => Err(FfiError::new(
                ftrack_status::NotFound,
                format!("no {entity_type} with id {id}; check the id, or query by other criteria"),
            )),
        }
    })
}

/// @brief Returns the entity of `entity_type` whose identifying values match
/// `data_json` (a JSON object, as for `ftrack_session_create_entity`), creating
/// it with `data_json` and committing when none exists; when one exists, the
/// other values of `data_json` that differ are set and committed. As
/// `ftrack_api`'s `Session.ensure`, the commit sends every pending operation.
/// `identifying_keys_json` is a JSON array of attribute names, or NULL for every
/// key of `data_json`. On success `*out` owns a new entity handle.
///
/// @param session the session handle.
/// @param entity_type the entity type, e.g. "Group" (NUL-terminated UTF-8).
/// @param data_json a JSON object of attribute values (NUL-terminated UTF-8).
/// @param identifying_keys_json a JSON array of attribute names, or NULL for every key of
///        @p data_json.
/// @param out receives a new entity handle, freed with ftrack_entity_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_INVALID_ARGUMENT` (not JSON, an
///         identifying key missing from the data), `FTRACK_STATUS_UNKNOWN_ENTITY_TYPE`,
///         `FTRACK_STATUS_UNKNOWN_ATTRIBUTE`, `FTRACK_STATUS_TYPE_MISMATCH`,
///         `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_POISONED`, or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_ensure(
    session: *mut ftrack_session,
    entity_type: *const c_char,
    data_json: *const c_char,
    identifying_keys_json: *const c_char,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let entity_type = unsafe { str_arg(entity_type, "entity_type")? };
        let data = match unsafe { json_arg(data_json, "data_json")? } {
            serde_json::Value::Object(m) => m,
            _ => {
                return Err(FfiError::invalid(
                    "argument `data_json` must be a JSON object, e.g. {\"name\": \"x\"}",
                ));
            }
        };
        let keys: Vec<String> =
            match unsafe { opt_str_arg(identifying_keys_json, "identifying_keys_json")? } {
                None => Vec::new(),
                Some(text) => serde_json::from_str(text).map_err(|_| {
                    FfiError::invalid(
                        "argument `identifying_keys_json` must be a JSON array of attribute names, \
                     e.g. [\"name\"], or NULL",
                    )
                })?,
            };
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let entity = handle.session.ensure(entity_type, data, &keys)?;
        *out = new_entity(entity, handle.secret());
        Ok(())
    })
}

/// @brief Loads `projections` (comma-separated, e.g. `"name, status.name"`) for the
/// `count` entities of `entities`, in one query per entity type. The handles are
/// only read.
///
/// @param session the session handle.
/// @param entities @p count entity handles (only read); may be NULL when @p count is 0.
/// @param count the number of entities.
/// @param projections comma-separated attribute paths (NUL-terminated UTF-8).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` (`entities` NULL with
///         a count, or a NULL element), `FTRACK_STATUS_INVALID_ARGUMENT` (empty
///         projections, an entity of another session), `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_POISONED`, or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_populate(
    session: *mut ftrack_session,
    entities: *const *const ftrack_entity,
    count: usize,
    projections: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let projections = unsafe { str_arg(projections, "projections")? };
        if count > 0 && entities.is_null() {
            return Err(FfiError::null("entities"));
        }
        let mut list = Vec::with_capacity(count);
        for i in 0..count {
            let ptr = unsafe { *entities.add(i) };
            list.push(unsafe { borrow(ptr, "entities[i]")? }.entity.clone());
        }
        session.populate(&list, projections)?;
        Ok(())
    })
}

/// @brief Clears the session's cache and pending operations, as a fresh session would
/// start (schemas and connection stay). Existing entity handles stay usable and
/// read their values from the server again; entities created and not committed
/// are gone (their handles report `FTRACK_STATUS_NOT_FOUND`).
///
/// @param session the session handle.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_reset(session: *mut ftrack_session) -> ftrack_status {
    ffi_boundary!({
        unsafe { session_arg(session)? }.reset();
        Ok(())
    })
}

/// @brief Turns auto-populate on or off for the session from now on (reading an
/// attribute that is not loaded then fetches it, or gives null).
///
/// @param session the session handle.
/// @param enabled true to fetch attributes that are not loaded when read.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_set_auto_populate(
    session: *mut ftrack_session,
    enabled: bool,
) -> ftrack_status {
    ffi_boundary!({
        unsafe { session_arg(session)? }.set_auto_populate(enabled);
        Ok(())
    })
}

/// @brief Reads whether auto-populate is on into `*out`.
///
/// @param session the session handle.
/// @param out receives whether auto-populate is on.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_get_auto_populate(
    session: *const ftrack_session,
    out: *mut bool,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_value(out, "out")? };
        *out = unsafe { session_arg(session)? }.auto_populate();
        Ok(())
    })
}

/// @brief Turns operation recording on or off from now on. Off: creates, deletes, sets
/// and collection edits change the cache only and commit sends nothing for them
/// (role actions are always recorded).
///
/// @param session the session handle.
/// @param enabled true to record changes for commit.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_set_record_operations(
    session: *mut ftrack_session,
    enabled: bool,
) -> ftrack_status {
    ffi_boundary!({
        unsafe { session_arg(session)? }.set_record_operations(enabled);
        Ok(())
    })
}

/// @brief Reads whether operation recording is on into `*out`.
///
/// @param session the session handle.
/// @param out receives whether operation recording is on.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_get_record_operations(
    session: *const ftrack_session,
    out: *mut bool,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_value(out, "out")? };
        *out = unsafe { session_arg(session)? }.record_operations();
        Ok(())
    })
}

/// @brief Copies the operations recorded and not yet committed as a JSON array of
/// `{"seq", "kind", "entity_type", "entity_key", "attribute", "value"}` objects,
/// in recording order: `kind` is `create`, `update`, `delete` or a role action
/// name; a create's `value` holds all its values; an update gives one object per
/// attribute; an action has null entity fields and its JSON as `value`. Values
/// are encoded as by `ftrack_entity_get_json`. Buffer contract as
/// `ftrack_last_error_message`.
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
pub unsafe extern "C" fn ftrack_session_recorded_operations_json(
    session: *const ftrack_session,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let ops: Vec<serde_json::Value> = unsafe { session_arg(session)? }
            .recorded_operations()
            .iter()
            .flat_map(|r| r.to_json())
            .collect();
        out.write(&serde_json::Value::Array(ops).to_string())
    })
}

/// @brief Copies the schema of `entity_type` as the session exposes it, as JSON
/// `{"id", "primary_key", "default_projections", "properties": {name: {"kind",
/// "target", "derived"}}}`: `kind` is `string`, `boolean`, `integer`, `number`,
/// `datetime`, `json`, `reference` or `collection`; derived collections (e.g.
/// `User.security_roles`) have `"derived": true`. Buffer contract as
/// `ftrack_last_error_message`.
///
/// @param session the session handle.
/// @param entity_type the entity type, e.g. "User" (NUL-terminated UTF-8).
/// @param buffer caller's buffer for the NUL-terminated UTF-8 result; may be NULL only
///        when @p buffer_len is 0 (size query).
/// @param buffer_len size of @p buffer in bytes.
/// @param out_len receives the size of the result in bytes, NUL included (also when the
///        buffer is too small); may be NULL.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_BUFFER_TOO_SMALL`,
///         `FTRACK_STATUS_UNKNOWN_ENTITY_TYPE`, `FTRACK_STATUS_NULL_POINTER`,
///         `FTRACK_STATUS_INVALID_UTF8` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_entity_schema_json(
    session: *const ftrack_session,
    entity_type: *const c_char,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let session = unsafe { session_arg(session)? };
        let entity_type = unsafe { str_arg(entity_type, "entity_type")? };
        let schema = session.entity_schema(entity_type)?;
        out.write(&schema.to_json().to_string())
    })
}

/// @brief Copies the names of the entity types the server describes, as a sorted JSON
/// array of strings. Buffer contract as `ftrack_last_error_message`.
///
/// @param session the session handle.
/// @param buffer caller's buffer for the NUL-terminated UTF-8 result; may be NULL only
///        when @p buffer_len is 0 (size query).
/// @param buffer_len size of @p buffer in bytes.
/// @param out_len receives the size of the result in bytes, NUL included (also when the
///        buffer is too small); may be NULL.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_BUFFER_TOO_SMALL`,
///         `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_entity_types_json(
    session: *const ftrack_session,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let types = unsafe { session_arg(session)? }.entity_types();
        out.write(&serde_json::Value::from(types).to_string())
    })
}

/// @brief Sets the scope of a role appended through the derived collection
/// `User.security_roles` (`ftrack_entity_collection_append(user,
/// "security_roles", role)`): `true` covers every open project, `false` (the
/// default, least privilege) no project until one is granted.
/// `ftrack_user_role_append` takes the scope explicitly instead.
///
/// @param options the options handle.
/// @param enabled true: appended roles cover every open project; false: none yet.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_security_roles_all_open_projects(
    options: *mut ftrack_session_options,
    enabled: bool,
) -> ftrack_status {
    ffi_boundary!({
        unsafe { super::options::update(options, |o| o.security_roles_all_open_projects(enabled)) }
    })
}

/// A lazy query result: created by `ftrack_session_query_cursor` (nothing is
/// sent yet), read page by page with `ftrack_query_cursor_next_page` (one
/// request each), freed with `ftrack_query_cursor_destroy`. Internally locked:
/// several threads may call it, each call getting the next page.
pub struct ftrack_query_cursor {
    header: HandleHeader,
    cursor: Mutex<QueryCursor>,
}

impl Handle for ftrack_query_cursor {
    const WHAT: &'static str = "query cursor";
    fn header(&self) -> &HandleHeader {
        &self.header
    }
}

/// @brief Prepares a lazy query: the expression is checked (and derived collections
/// rewritten) now, nothing is sent until `ftrack_query_cursor_next_page`.
/// `page_size` is the rows per request (0: the session's page size). An
/// `offset`/`limit` in the expression is honoured. On success `*out` owns a new
/// cursor freed with `ftrack_query_cursor_destroy`; NULL on failure.
///
/// @param session the session handle.
/// @param expression query in the ftrack query language (NUL-terminated UTF-8).
/// @param page_size rows per request; 0 for the session's page size.
/// @param out receives a new cursor handle, freed with ftrack_query_cursor_destroy(); NULL
///        on failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`,
///         `FTRACK_STATUS_INVALID_UTF8`, `FTRACK_STATUS_INVALID_ARGUMENT`,
///         `FTRACK_STATUS_UNKNOWN_ENTITY_TYPE` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_query_cursor(
    session: *mut ftrack_session,
    expression: *const c_char,
    page_size: usize,
    out: *mut *mut ftrack_query_cursor,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(session.cast_const(), "session")? };
        let expression = unsafe { str_arg(expression, "expression")? };
        let page = (page_size > 0).then_some(page_size);
        let cursor = handle.session.query_cursor(expression, page)?;
        *out = into_handle(ftrack_query_cursor {
            header: HandleHeader::new(handle.secret()),
            cursor: Mutex::new(cursor),
        });
        Ok(())
    })
}

/// @brief Fetches the next page (one request). On success `*out` owns a new list freed
/// with `ftrack_entity_list_destroy`, or is NULL when every page has been read
/// (the status is still `FTRACK_STATUS_OK`).
///
/// @param cursor the cursor handle.
/// @param out receives a new list handle, freed with ftrack_entity_list_destroy(); NULL
///        when every page has been read, and on failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`,
///         `FTRACK_STATUS_POISONED`, or a transport/server/query status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_query_cursor_next_page(
    cursor: *mut ftrack_query_cursor,
    out: *mut *mut ftrack_entity_list,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(cursor.cast_const(), "cursor")? };
        let page = next_page(handle)?;
        if let Some(rows) = page {
            *out = new_list(rows, handle.header.secret().cloned());
        }
        Ok(())
    })
}

fn next_page(handle: &ftrack_query_cursor) -> FfiResult<Option<Vec<ftrack::Entity>>> {
    let mut cursor = handle.cursor.lock().unwrap_or_else(|e| e.into_inner());
    Ok(cursor.next_page()?)
}

/// @brief Frees a cursor. NULL is a no-op. Lists and entities it returned stay valid.
/// Destroying the same handle twice, or while another thread uses it, is forbidden.
///
/// @param cursor the cursor handle, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_query_cursor_destroy(cursor: *mut ftrack_query_cursor) {
    ffi_boundary!(value: (), { unsafe { destroy_handle(cursor) } })
}
