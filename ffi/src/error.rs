//! The error value of the ABI glue and this thread's last error message.
//!
//! Every failing call records its message here (through the boundary); nothing
//! clears it, and `ftrack_last_error_message` only reads it. Messages never hold
//! an API key: the core's messages are key-free and the boundary additionally
//! redacts every key the call knew about.

use std::cell::RefCell;
use std::ffi::c_char;

use super::status::{ftrack_status, status_for_kind};
use super::strings::out_buffer;

/// A failure inside the ABI glue: the status to return and the message to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FfiError {
    /// The status the exported function returns.
    pub status: ftrack_status,
    /// What failed and what to do (without the function name; the boundary adds it).
    pub message: String,
}

/// The result type of every boundary body.
pub type FfiResult<T> = Result<T, FfiError>;

impl FfiError {
    /// An error with an explicit status.
    pub fn new(status: ftrack_status, message: impl Into<String>) -> Self {
        FfiError {
            status,
            message: message.into(),
        }
    }

    /// `FTRACK_STATUS_INVALID_ARGUMENT` with a message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ftrack_status::InvalidArgument, message)
    }

    /// `FTRACK_STATUS_NULL_POINTER` for the named argument.
    pub fn null(argument: &str) -> Self {
        Self::new(
            ftrack_status::NullPointer,
            format!("argument `{argument}` is NULL; pass a valid pointer"),
        )
    }
}

impl From<ftrack::Error> for FfiError {
    fn from(error: ftrack::Error) -> Self {
        FfiError::new(status_for_kind(error.kind()), error.to_string())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<(ftrack_status, String)> =
        const { RefCell::new((ftrack_status::Ok, String::new())) };
}

/// Records this thread's last error (used by the boundary only).
pub(crate) fn set_last_error(status: ftrack_status, message: String) {
    LAST_ERROR.with_borrow_mut(|e| *e = (status, message));
}

/// This thread's last error message (for Rust-side tests).
#[cfg(test)]
pub(crate) fn last_error() -> String {
    LAST_ERROR.with_borrow(|e| e.1.clone())
}

/// @brief Buffer contract (the same for every string output of this library): `buffer`
///        may be NULL only when `buffer_len` is 0, to ask for the size.
///
/// `out_len` may be NULL. On `FTRACK_STATUS_OK`, `*out_len` is the number of bytes
/// written including the NUL. When the buffer is too small, returns
/// `FTRACK_STATUS_BUFFER_TOO_SMALL`, sets `*out_len` to the size needed (NUL included)
/// and writes an empty string when `buffer_len` > 0.
///
/// @param buffer caller's buffer for the NUL-terminated UTF-8 result; may be NULL only
///        when @p buffer_len is 0 (size query).
/// @param buffer_len size of @p buffer in bytes.
/// @param out_len receives the size of the result in bytes, NUL included (also when the
///        buffer is too small); may be NULL.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_BUFFER_TOO_SMALL`, or
///         `FTRACK_STATUS_NULL_POINTER` (`buffer` NULL with `buffer_len` > 0).
///
/// Copies this thread's last error message into `buffer`.
///
/// The message is UTF-8 and NUL-terminated; it says which function failed, what
/// happened and what to do, and never contains an API key. It is the message of the
/// most recent call **on this thread** that failed (successful calls do not clear
/// it); read it right after the failing call, on the same thread. It is empty
/// (`""`) when no call has failed on this thread yet. This function never changes
/// the last error, even when it fails itself.
///
/// Thread-safe: each thread has its own last error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_last_error_message(
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!(silent: {
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let message = LAST_ERROR.with_borrow(|e| e.1.clone());
        out.write(&message)
    })
}
