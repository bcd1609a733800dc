//! `ftrack_string`: a library-owned string for large results (the audit, the
//! pending batch, raw call answers), so a result is computed and sent for once,
//! whatever its size, instead of again because a caller's buffer was small.

use std::ffi::{CString, c_char};

use super::error::FfiError;
use super::handle::{Handle, HandleHeader, destroy_handle, into_handle, out_handle};
use super::roles::audit_json;
use super::session::{ftrack_session, session_arg};
use super::status::ftrack_status;
use super::strings::json_arg;

/// An immutable NUL-terminated UTF-8 string owned by the library, returned by the
/// `..._string` functions and freed with `ftrack_string_destroy`. Read it with
/// `ftrack_string_data` and `ftrack_string_len`. Safe to read from several
/// threads.
pub struct ftrack_string {
    header: HandleHeader,
    text: CString,
}

impl Handle for ftrack_string {
    const WHAT: &'static str = "string";
    fn header(&self) -> &HandleHeader {
        &self.header
    }
}

fn new_string(text: String) -> Result<*mut ftrack_string, FfiError> {
    let text = CString::new(text).map_err(|_| {
        FfiError::new(
            ftrack_status::Internal,
            "the result holds a NUL byte and cannot be a C string; please report this",
        )
    })?;
    Ok(into_handle(ftrack_string {
        header: HandleHeader::new(None),
        text,
    }))
}

/// @brief Returns the text of `string` (NUL-terminated UTF-8), valid until the
///        string is destroyed; NULL when `string` is NULL or poisoned.
///
/// Never fails; does not touch the last error.
///
/// @param string the string (may be NULL).
/// @return the text, or NULL.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_string_data(string: *const ftrack_string) -> *const c_char {
    ffi_boundary!(value: std::ptr::null(), {
        // SAFETY: the caller guarantees `string` is NULL or live.
        match unsafe { string.as_ref() } {
            Some(s) if !s.header.is_poisoned() => s.text.as_ptr(),
            _ => std::ptr::null(),
        }
    })
}

/// @brief Returns the length of `string` in bytes, without the NUL; 0 when `string`
///        is NULL or poisoned.
///
/// Never fails; does not touch the last error.
///
/// @param string the string (may be NULL).
/// @return its length in bytes.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_string_len(string: *const ftrack_string) -> usize {
    ffi_boundary!(value: 0, {
        // SAFETY: the caller guarantees `string` is NULL or live.
        match unsafe { string.as_ref() } {
            Some(s) if !s.header.is_poisoned() => s.text.as_bytes().len(),
            _ => 0,
        }
    })
}

/// @brief Frees a string handle. NULL is a no-op.
///
/// Destroying the same handle twice, or while another thread reads it, is forbidden.
///
/// @param string the string (may be NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_string_destroy(string: *mut ftrack_string) {
    ffi_boundary!(value: (), { unsafe { destroy_handle(string) } })
}

/// @brief Returns the batch ftrack_session_commit() would send now, as a JSON array
///        (a dry run), in a new library-owned string.
///
/// See ftrack_session_pending_json() for the caller-buffer form.
///
/// @param session the session handle.
/// @param out receives a new string handle, freed with ftrack_string_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_pending_json_string(
    session: *mut ftrack_session,
    out: *mut *mut ftrack_string,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let json = unsafe { session_arg(session)? }.pending_json()?;
        *out = new_string(json)?;
        Ok(())
    })
}

/// @brief Returns every user × security role × scope visible to the API user, as
///        the JSON document ftrack_security_role_audit_json() describes, in a new
///        library-owned string.
///
/// One paged query, never repeated for a caller's buffer.
///
/// @param session the session handle.
/// @param out receives a new string handle, freed with ftrack_string_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_POISONED`;
///         or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_security_role_audit_json_string(
    session: *mut ftrack_session,
    out: *mut *mut ftrack_string,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let json = audit_json(unsafe { session_arg(session)? })?;
        *out = new_string(json)?;
        Ok(())
    })
}

/// @brief Sends a raw batch (a JSON array of operations) and returns the server's
///        JSON answer in a new library-owned string.
///
/// Server errors are typed statuses. See ftrack_session_call() for the
/// caller-buffer form.
///
/// @param session the session handle.
/// @param batch_json the batch, NUL-terminated UTF-8 JSON.
/// @param out receives a new string handle, freed with ftrack_string_destroy(); NULL on
///        failure.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_INVALID_UTF8`;
///         `FTRACK_STATUS_INVALID_ARGUMENT` (not a JSON array); `FTRACK_STATUS_POISONED`;
///         or a transport/server status.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_call_string(
    session: *mut ftrack_session,
    batch_json: *const c_char,
    out: *mut *mut ftrack_string,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        let session = unsafe { session_arg(session)? };
        let batch = unsafe { json_arg(batch_json, "batch_json")? };
        let reply = session.call(&batch)?.to_string();
        *out = new_string(reply)?;
        Ok(())
    })
}
