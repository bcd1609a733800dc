//! `ftrack_entity`: typed attribute access, changes and collections.

use std::ffi::c_char;
use std::sync::Arc;

use ftrack::{Entity, Value};

use super::entity_list::{ftrack_entity_list, new_list};
use super::error::FfiResult;
use super::handle::{
    Handle, HandleHeader, borrow, destroy_handle, into_handle, out_handle, out_value,
};
use super::status::ftrack_status;
use super::strings::{OutBuffer, json_arg, out_buffer, str_arg};

/// A handle to one entity in a session's cache (identity map).
///
/// Every function that returns an entity returns a NEW handle the caller frees with
/// `ftrack_entity_destroy`; freeing it releases the handle only, never the server
/// entity. Handles to the same entity share its data. A handle keeps its session's
/// data alive, even after `ftrack_session_destroy`. Internally locked: may be used
/// from several threads at once.
pub struct ftrack_entity {
    header: HandleHeader,
    pub(crate) entity: Entity,
}

impl Handle for ftrack_entity {
    const WHAT: &'static str = "entity";
    fn header(&self) -> &HandleHeader {
        &self.header
    }
}

/// Wraps a core entity in a new handle.
pub(crate) fn new_entity(entity: Entity, secret: Option<Arc<str>>) -> *mut ftrack_entity {
    into_handle(ftrack_entity {
        header: HandleHeader::new(secret),
        entity,
    })
}

impl ftrack_entity {
    fn secret(&self) -> Option<Arc<str>> {
        self.header.secret().cloned()
    }
}

/// Borrows an entity argument (NULL and poison checks).
///
/// # Safety
/// `entity` must be NULL or a live entity handle.
pub(crate) unsafe fn entity_arg<'a>(
    entity: *const ftrack_entity,
    argument: &str,
) -> FfiResult<&'a Entity> {
    Ok(&unsafe { borrow(entity, argument)? }.entity)
}

/// @brief Frees an entity handle (not the server entity).
///
/// NULL is a no-op. Destroying the same handle twice, or while another thread uses it,
/// is forbidden.
///
/// @param entity the entity handle, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_destroy(entity: *mut ftrack_entity) {
    ffi_boundary!(value: (), { unsafe { destroy_handle(entity) } })
}

/// @brief Returns a NEW handle to the same entity in `*out`, which the caller frees with
///        `ftrack_entity_destroy`; NULL on failure.
///
/// Both handles share the entity's data (a change through one is seen through the
/// other) and either may be destroyed first. This is what makes an entity copyable in
/// the C++ wrapper.
///
/// @param entity the entity handle to copy.
/// @param out receives a new entity handle, freed with ftrack_entity_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or
///         `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_clone(
    entity: *const ftrack_entity,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(entity, "entity")? };
        *out = new_entity(handle.entity.clone(), handle.secret());
        Ok(())
    })
}

/// @brief Copies the entity type name, e.g. `"User"`.
///
/// Buffer contract as `ftrack_last_error_message`.
///
/// @param entity the entity handle.
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
pub unsafe extern "C" fn ftrack_entity_type_name(
    entity: *const ftrack_entity,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        out.write(&unsafe { entity_arg(entity, "entity")? }.entity_type())
    })
}

/// @brief Copies the primary key as text (a composite key is joined with `,`).
///
/// Buffer contract as `ftrack_last_error_message`.
///
/// @param entity the entity handle.
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
pub unsafe extern "C" fn ftrack_entity_id(
    entity: *const ftrack_entity,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        out.write(&unsafe { entity_arg(entity, "entity")? }.id())
    })
}

/// Shared body of the buffer getters: check the buffer first, then read.
unsafe fn get_text(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    out: OutBuffer,
    read: impl FnOnce(&Entity, &str) -> FfiResult<String>,
) -> FfiResult<()> {
    let entity = unsafe { entity_arg(entity, "entity")? };
    let attribute = unsafe { str_arg(attribute, "attribute")? };
    let text = read(entity, attribute)?;
    out.write(&text)
}

/// @brief Copies a string attribute (UTF-8, NUL-terminated) into `buffer`.
///
/// A null value is `FTRACK_STATUS_TYPE_MISMATCH` (test with `ftrack_entity_is_null`).
/// Fetches the attribute when it is not loaded and auto-populate is on. Buffer contract
/// as `ftrack_last_error_message`; repeating the call after
/// `FTRACK_STATUS_BUFFER_TOO_SMALL` sends nothing more.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param buffer caller's buffer for the NUL-terminated UTF-8 result; may be NULL only
///        when @p buffer_len is 0 (size query).
/// @param buffer_len size of @p buffer in bytes.
/// @param out_len receives the size of the result in bytes, NUL included (also when the
///        buffer is too small); may be NULL.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_BUFFER_TOO_SMALL`,
///         `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_UNKNOWN_ATTRIBUTE`, `FTRACK_STATUS_TYPE_MISMATCH`,
///         `FTRACK_STATUS_NOT_FOUND` (the entity was deleted or rolled back),
///         `FTRACK_STATUS_POISONED`, or a transport/server status (auto-populate).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_get_string(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let entity = unsafe { entity_arg(entity, "entity")? };
        let attribute = unsafe { str_arg(attribute, "attribute")? };
        // Copied straight from the cache into the caller's buffer: no String.
        entity.with_str(attribute, |text| out.write(text))?
    })
}

/// @brief Copies any attribute as JSON text, encoded as on the wire: entities as
///        `{"__entity_type__": ..., "id": ...}` references, datetimes as `{"__type__":
///        "datetime", "value": "<ISO-8601 UTC>"}`, null as `null`.
///
/// Buffer contract as `ftrack_last_error_message`.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param buffer caller's buffer for the NUL-terminated UTF-8 result; may be NULL only
///        when @p buffer_len is 0 (size query).
/// @param buffer_len size of @p buffer in bytes.
/// @param out_len receives the size of the result in bytes, NUL included (also when the
///        buffer is too small); may be NULL.
/// @return as `ftrack_entity_get_string`, without `FTRACK_STATUS_TYPE_MISMATCH`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_get_json(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        unsafe {
            get_text(entity, attribute, out, |e, a| {
                Ok(e.get_json(a)?.to_string())
            })
        }
    })
}

/// Shared body of the scalar getters.
unsafe fn get_scalar<T: Default>(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    out: *mut T,
    read: impl FnOnce(&Entity, &str) -> ftrack::Result<T>,
) -> FfiResult<()> {
    let out = unsafe { out_value(out, "out")? };
    let entity = unsafe { entity_arg(entity, "entity")? };
    let attribute = unsafe { str_arg(attribute, "attribute")? };
    *out = read(entity, attribute)?;
    Ok(())
}

/// @brief Stores a boolean attribute in `*out` (false on failure).
///
/// A null value is `FTRACK_STATUS_TYPE_MISMATCH`. Fetches the attribute when it is not
/// loaded and auto-populate is on.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param out receives the value; false on failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_UNKNOWN_ATTRIBUTE`, `FTRACK_STATUS_TYPE_MISMATCH`,
///         `FTRACK_STATUS_NOT_FOUND` (the entity was deleted or rolled back),
///         `FTRACK_STATUS_POISONED`, or a transport/server status (auto-populate).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_get_bool(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    out: *mut bool,
) -> ftrack_status {
    ffi_boundary!({ unsafe { get_scalar(entity, attribute, out, |e, a| e.get_bool(a)) } })
}

/// @brief Stores an integer attribute in `*out` (0 on failure).
///
/// A float with no fractional part is accepted; null is `FTRACK_STATUS_TYPE_MISMATCH`.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param out receives the value; 0 on failure.
/// @return as `ftrack_entity_get_bool`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_get_int64(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    out: *mut i64,
) -> ftrack_status {
    ffi_boundary!({ unsafe { get_scalar(entity, attribute, out, |e, a| e.get_i64(a)) } })
}

/// @brief Stores a number attribute in `*out` (0.0 on failure).
///
/// Integers are converted; null is `FTRACK_STATUS_TYPE_MISMATCH`.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param out receives the value; 0 on failure.
/// @return as `ftrack_entity_get_bool`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_get_double(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    out: *mut f64,
) -> ftrack_status {
    ffi_boundary!({ unsafe { get_scalar(entity, attribute, out, |e, a| e.get_f64(a)) } })
}

/// @brief Stores a datetime attribute in `*out` as microseconds since the Unix epoch, UTC
///        (0 on failure); null is `FTRACK_STATUS_TYPE_MISMATCH`.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param out receives the value; 0 on failure.
/// @return as `ftrack_entity_get_bool`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_get_datetime(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    out: *mut i64,
) -> ftrack_status {
    ffi_boundary!({ unsafe { get_scalar(entity, attribute, out, |e, a| e.get_datetime(a)) } })
}

/// @brief Stores in `*out` whether the attribute is null (false on failure).
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param out receives the value; false on failure.
/// @return as `ftrack_entity_get_bool`, without `FTRACK_STATUS_TYPE_MISMATCH`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_is_null(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    out: *mut bool,
) -> ftrack_status {
    ffi_boundary!({ unsafe { get_scalar(entity, attribute, out, |e, a| Ok(e.get(a)?.is_null())) } })
}

/// @brief Returns the entity a reference attribute points to, as a NEW handle in `*out`
///        that the caller frees with `ftrack_entity_destroy`.
///
/// A null reference is not an error: the call returns `FTRACK_STATUS_OK` with
/// `*out` set to NULL. On failure `*out` is NULL too.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param out receives a new handle to the referenced entity, freed with
///        ftrack_entity_destroy(); NULL for a null reference and on failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_UNKNOWN_ATTRIBUTE`, `FTRACK_STATUS_TYPE_MISMATCH`,
///         `FTRACK_STATUS_NOT_FOUND` (the entity was deleted or rolled back),
///         `FTRACK_STATUS_POISONED`, or a transport/server status (auto-populate).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_get_entity(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    out: *mut *mut ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(entity, "entity")? };
        let attribute = unsafe { str_arg(attribute, "attribute")? };
        if let Some(target) = handle.entity.get_entity(attribute)? {
            *out = new_entity(target, handle.secret());
        }
        Ok(())
    })
}

/// @brief Returns a collection attribute as a NEW list in `*out` (possibly empty) that
///        the caller frees with `ftrack_entity_list_destroy`; NULL on failure.
///
/// The list is a snapshot: later changes to the collection do not change it.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param out receives a new list handle, freed with ftrack_entity_list_destroy(); NULL
///        on failure.
/// @return as `ftrack_entity_get_entity`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_get_list(
    entity: *const ftrack_entity,
    attribute: *const c_char,
    out: *mut *mut ftrack_entity_list,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let handle = unsafe { borrow(entity, "entity")? };
        let attribute = unsafe { str_arg(attribute, "attribute")? };
        let items = handle.entity.get_list(attribute)?;
        *out = new_list(items, handle.secret());
        Ok(())
    })
}

/// Shared body of the setters.
unsafe fn set_value(
    entity: *mut ftrack_entity,
    attribute: *const c_char,
    value: impl FnOnce() -> FfiResult<Value>,
) -> FfiResult<()> {
    let entity = unsafe { entity_arg(entity.cast_const(), "entity")? };
    let attribute = unsafe { str_arg(attribute, "attribute")? };
    let value = value()?;
    entity.set(attribute, value)?;
    Ok(())
}

/// @brief Sets a string attribute locally and records an update (sent by
///        `ftrack_session_commit`).
///
/// The string is copied.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param value the new text (NUL-terminated UTF-8).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_UNKNOWN_ATTRIBUTE`, `FTRACK_STATUS_TYPE_MISMATCH`,
///         `FTRACK_STATUS_INVALID_ARGUMENT` (a primary-key attribute, which cannot
///         change), `FTRACK_STATUS_NOT_FOUND` (the entity was deleted or rolled
///         back) or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_set_string(
    entity: *mut ftrack_entity,
    attribute: *const c_char,
    value: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        unsafe {
            set_value(entity, attribute, || {
                Ok(Value::String(str_arg(value, "value")?.to_owned()))
            })
        }
    })
}

/// @brief Sets a boolean attribute and records an update.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param value the new value.
/// @return as `ftrack_entity_set_string`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_set_bool(
    entity: *mut ftrack_entity,
    attribute: *const c_char,
    value: bool,
) -> ftrack_status {
    ffi_boundary!({ unsafe { set_value(entity, attribute, || Ok(Value::Bool(value))) } })
}

/// @brief Sets an integer attribute and records an update.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param value the new value.
/// @return as `ftrack_entity_set_string`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_set_int64(
    entity: *mut ftrack_entity,
    attribute: *const c_char,
    value: i64,
) -> ftrack_status {
    ffi_boundary!({ unsafe { set_value(entity, attribute, || Ok(Value::Int(value))) } })
}

/// @brief Sets a number attribute and records an update.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param value the new value.
/// @return as `ftrack_entity_set_string`, plus `FTRACK_STATUS_INVALID_ARGUMENT`
///         for NaN or infinity (JSON cannot carry them).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_set_double(
    entity: *mut ftrack_entity,
    attribute: *const c_char,
    value: f64,
) -> ftrack_status {
    ffi_boundary!({
        unsafe {
            set_value(entity, attribute, || {
                if value.is_finite() {
                    Ok(Value::Float(value))
                } else {
                    Err(super::error::FfiError::invalid(format!(
                        "argument `value` is {value}; only finite numbers can be sent"
                    )))
                }
            })
        }
    })
}

/// @brief Sets a datetime attribute from microseconds since the Unix epoch, UTC, and
///        records an update.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param microseconds_utc the new value in microseconds since the Unix epoch, UTC.
/// @return as `ftrack_entity_set_string`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_set_datetime(
    entity: *mut ftrack_entity,
    attribute: *const c_char,
    microseconds_utc: i64,
) -> ftrack_status {
    ffi_boundary!({
        unsafe { set_value(entity, attribute, || Ok(Value::DateTime(microseconds_utc))) }
    })
}

/// @brief Sets an attribute to null and records an update.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @return as `ftrack_entity_set_string`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_set_null(
    entity: *mut ftrack_entity,
    attribute: *const c_char,
) -> ftrack_status {
    ffi_boundary!({ unsafe { set_value(entity, attribute, || Ok(Value::Null)) } })
}

/// @brief Sets a reference attribute to `value` (an entity of the same session) and
///        records an update.
///
/// `value` is only read; the caller still owns it. Use `ftrack_entity_set_null` to
/// clear a reference.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param value the entity to refer to; only read (the caller still owns it).
/// @return as `ftrack_entity_set_string`, plus `FTRACK_STATUS_INVALID_ARGUMENT`
///         (`value` belongs to another session).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_set_entity(
    entity: *mut ftrack_entity,
    attribute: *const c_char,
    value: *const ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        unsafe {
            set_value(entity, attribute, || {
                Ok(Value::Entity(entity_arg(value, "value")?.clone()))
            })
        }
    })
}

/// @brief Sets any attribute from JSON text (same encoding as `ftrack_entity_get_json`)
///        and records an update.
///
/// @param entity the entity handle.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param json the new value as JSON text (NUL-terminated UTF-8).
/// @return as `ftrack_entity_set_string`, plus `FTRACK_STATUS_INVALID_ARGUMENT`
///         (`json` is not valid JSON).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_set_json(
    entity: *mut ftrack_entity,
    attribute: *const c_char,
    json: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let entity = unsafe { entity_arg(entity.cast_const(), "entity")? };
        let attribute = unsafe { str_arg(attribute, "attribute")? };
        let value = unsafe { json_arg(json, "json")? };
        entity.set_json(attribute, &value)?;
        Ok(())
    })
}

/// @brief Appends `item` to the collection attribute of `owner` and records the update.
///
/// `item` is only read; the caller still owns it.
///
/// @param owner the entity that holds the collection.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param item the entity to add or remove; only read (the caller still owns it).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_UNKNOWN_ATTRIBUTE`, `FTRACK_STATUS_TYPE_MISMATCH` (not a
///         collection), `FTRACK_STATUS_INVALID_ARGUMENT` (another session),
///         `FTRACK_STATUS_NOT_FOUND` (`owner` was deleted or rolled back),
///         `FTRACK_STATUS_POISONED`, or a transport/server status (the collection
///         is fetched first when it is not loaded and auto-populate is on).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_collection_append(
    owner: *mut ftrack_entity,
    attribute: *const c_char,
    item: *const ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let owner = unsafe { entity_arg(owner.cast_const(), "owner")? };
        let attribute = unsafe { str_arg(attribute, "attribute")? };
        let item = unsafe { entity_arg(item, "item")? };
        owner.collection_append(attribute, item)?;
        Ok(())
    })
}

/// @brief Removes `item` from the collection attribute of `owner` and records the update.
///
/// @param owner the entity that holds the collection.
/// @param attribute attribute name (NUL-terminated UTF-8).
/// @param item the entity to add or remove; only read (the caller still owns it).
/// @return as `ftrack_entity_collection_append`, plus `FTRACK_STATUS_NOT_FOUND`
///         (`item` is not in the collection).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_entity_collection_remove(
    owner: *mut ftrack_entity,
    attribute: *const c_char,
    item: *const ftrack_entity,
) -> ftrack_status {
    ffi_boundary!({
        let owner = unsafe { entity_arg(owner.cast_const(), "owner")? };
        let attribute = unsafe { str_arg(attribute, "attribute")? };
        let item = unsafe { entity_arg(item, "item")? };
        owner.collection_remove(attribute, item)?;
        Ok(())
    })
}
