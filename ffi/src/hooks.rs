//! Host hooks: a log callback, a progress callback, cancellation, and the
//! connection limits a host sets to stay responsive. Glue over `ftrack::hooks`.

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use ftrack::hooks::{LogFn, LogLevel, ProgressFn};

use super::options::{ftrack_session_options, update};
use super::session::{ftrack_session, session_arg};
use super::status::ftrack_status;

/// The severity of a log line. A logger registered for a level receives that
/// level and every more severe one.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ftrack_log_level {
    /// A call failed.
    Error = 1,
    /// Something went wrong and was handled: a retry, an ignored cache file.
    Warn = 2,
    /// One line per request: its actions, sizes, HTTP status and time.
    Info = 3,
    /// Details for troubleshooting.
    Debug = 4,
}

/// A log callback.
///
/// `user_data` is the pointer given when the callback was registered; `message`
/// is NUL-terminated UTF-8, valid only during the call, and never contains the
/// API key. It runs on the thread of the call that logs (any thread that calls
/// into the session, or a library thread of its event hub), before that call
/// returns (the lines of the pages a paged query requests ahead come from the
/// library threads that fetch them, also before the query returns); it must
/// not call into the same session, and must not unwind (throw or `longjmp`)
/// through the library. Once the logger is replaced (the setter
/// returned) or the session destroyed (`ftrack_session_destroy` returned, even
/// while entity handles of it live on), it is not running on any other thread
/// and is never called again, so `user_data` may be freed then.
pub type ftrack_log_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, level: ftrack_log_level, message: *const c_char),
>;

/// A progress callback for long operations.
///
/// `operation` is `"query"` (rows received so far; `total` is -1, unknown) or
/// `"commit"` (operations: 0 before the batch is sent, all once it is applied);
/// NUL-terminated, valid only during the call. Return 0 to go on, non-zero to
/// cancel the operation (it then fails with `FTRACK_STATUS_CANCELLED`). Same
/// thread, re-entrancy and lifetime rules as `ftrack_log_fn`.
pub type ftrack_progress_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        operation: *const c_char,
        done: u64,
        total: i64,
    ) -> c_int,
>;

/// The host's `user_data`, handed back to its callback. The host promises the
/// callback may be called with it from any thread (see the callback types).
#[derive(Clone, Copy)]
struct UserData(*mut c_void);
// SAFETY: the pointer is only passed back to the host's callback, on whatever
// thread calls into the session; the registration functions document that.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

fn level_of(level: ftrack_log_level) -> LogLevel {
    match level {
        ftrack_log_level::Error => LogLevel::Error,
        ftrack_log_level::Warn => LogLevel::Warn,
        ftrack_log_level::Info => LogLevel::Info,
        ftrack_log_level::Debug => LogLevel::Debug,
    }
}

fn c_level(level: LogLevel) -> ftrack_log_level {
    match level {
        LogLevel::Error => ftrack_log_level::Error,
        LogLevel::Warn => ftrack_log_level::Warn,
        LogLevel::Info => ftrack_log_level::Info,
        LogLevel::Debug => ftrack_log_level::Debug,
    }
}

fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

fn log_fn(
    callback: unsafe extern "C" fn(*mut c_void, ftrack_log_level, *const c_char),
    data: UserData,
) -> LogFn {
    Arc::new(move |level: LogLevel, line: &str| {
        let data = data;
        let text = c_text(line);
        // SAFETY: the host registered this callback for this user_data.
        unsafe { callback(data.0, c_level(level), text.as_ptr()) }
    })
}

/// Reads a level argument given as a plain integer from C.
fn level_arg(level: u32) -> Result<ftrack_log_level, super::error::FfiError> {
    Ok(match level {
        1 => ftrack_log_level::Error,
        2 => ftrack_log_level::Warn,
        3 => ftrack_log_level::Info,
        4 => ftrack_log_level::Debug,
        other => {
            return Err(super::error::FfiError::invalid(format!(
                "argument `level` must be FTRACK_LOG_LEVEL_ERROR (1) to FTRACK_LOG_LEVEL_DEBUG \
                 (4), got {other}"
            )));
        }
    })
}

/// @brief Sends the log lines of sessions created from `options` to `callback`, from
/// session start-up on: lines of `level` and more severe.
///
/// @param options   the options (not NULL).
/// @param level     the most verbose level wanted, an `ftrack_log_level` value.
/// @param callback  the callback, or NULL for no logging.
/// @param user_data passed back to `callback` unchanged; must stay valid until
///                  every session created from these options is destroyed.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_ARGUMENT` for an unknown level;
///         `FTRACK_STATUS_POISONED`.
///
/// Thread-safe. The callback may be called from any thread that uses the session.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_logger(
    options: *mut ftrack_session_options,
    level: u32,
    callback: ftrack_log_fn,
    user_data: *mut c_void,
) -> ftrack_status {
    ffi_boundary!({
        let level = level_arg(level)?;
        let data = UserData(user_data);
        unsafe {
            update(options, |o| match callback {
                Some(cb) => o.logger(level_of(level), log_fn(cb, data)),
                None => o,
            })
        }
    })
}

/// @brief Sends this session's log lines of `level` and more severe to `callback` from
/// now on, or stops logging when `callback` is NULL.
///
/// @param session   the session (not NULL).
/// @param level     the most verbose level wanted, an `ftrack_log_level` value.
/// @param callback  the callback, or NULL to stop logging.
/// @param user_data passed back to `callback`; must stay valid until the logger
///                  is replaced or the session destroyed.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`,
///         `FTRACK_STATUS_INVALID_ARGUMENT` (unknown level) or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe. When it returns, the previous logger is not running on any
/// other thread and is never called again (it waits for a call in progress).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_set_logger(
    session: *mut ftrack_session,
    level: u32,
    callback: ftrack_log_fn,
    user_data: *mut c_void,
) -> ftrack_status {
    ffi_boundary!({
        let level = level_arg(level)?;
        let session = unsafe { session_arg(session)? };
        let data = UserData(user_data);
        session.set_logger(callback.map(|cb| (level_of(level), log_fn(cb, data))));
        Ok(())
    })
}

/// @brief Reports the progress of this session's long operations (paged queries,
/// audits, commits) to `callback`, or stops when `callback` is NULL. The callback
/// returns non-zero to cancel the operation.
///
/// @param session   the session (not NULL).
/// @param callback  the callback, or NULL.
/// @param user_data passed back to `callback`; must stay valid until the callback
///                  is replaced or the session destroyed.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe. When it returns, the previous callback is not running on any
/// other thread and is never called again (it waits for a call in progress).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_set_progress(
    session: *mut ftrack_session,
    callback: ftrack_progress_fn,
    user_data: *mut c_void,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let data = UserData(user_data);
        let progress: Option<ProgressFn> = callback.map(|cb| {
            Arc::new(move |operation: &str, done: u64, total: Option<u64>| {
                let data = data;
                let op = c_text(operation);
                let total = total.map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX));
                // SAFETY: the host registered this callback for this user_data.
                unsafe { cb(data.0, op.as_ptr(), done, total) == 0 }
            }) as ProgressFn
        });
        session.set_progress(progress);
        Ok(())
    })
}

/// @brief Cancels every call of this session in flight at this moment, from any thread.
/// Each returns `FTRACK_STATUS_CANCELLED` within about 20 ms while it sends,
/// waits for or reads the reply, or waits to retry; a TCP connect in progress is
/// abandoned when it completes or its connect timeout expires
/// (`ftrack_session_options_set_connect_timeout_ms`). A cancelled commit keeps its
/// pending operations; its last error message says whether the server may have
/// received the batch. Calls started after this one are not affected.
///
/// @param session the session (not NULL).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe; meant to be called from another thread than the one waiting.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_cancel(session: *mut ftrack_session) -> ftrack_status {
    ffi_boundary!({
        unsafe { session_arg(session)? }.cancel();
        Ok(())
    })
}

/// @brief Sets how long establishing a connection (TCP, proxy, TLS) may take, in
/// milliseconds (default 10000, never more than the timeout).
///
/// @param options      the session options handle.
/// @param milliseconds the connect timeout in milliseconds; not 0.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_INVALID_ARGUMENT` for 0;
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_connect_timeout_ms(
    options: *mut ftrack_session_options,
    milliseconds: u64,
) -> ftrack_status {
    ffi_boundary!({
        let ms = super::options::positive(milliseconds, "milliseconds")?;
        unsafe { update(options, |o| o.connect_timeout(Duration::from_millis(ms))) }
    })
}

/// @brief Sets the longest one request may take from start to end, whatever its phases,
/// in milliseconds (default 600000).
///
/// @param options      the session options handle.
/// @param milliseconds the deadline of one request in milliseconds; not 0.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_INVALID_ARGUMENT` for 0;
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_request_deadline_ms(
    options: *mut ftrack_session_options,
    milliseconds: u64,
) -> ftrack_status {
    ffi_boundary!({
        let ms = super::options::positive(milliseconds, "milliseconds")?;
        unsafe { update(options, |o| o.request_deadline(Duration::from_millis(ms))) }
    })
}

/// @brief Sets the largest reply accepted, in bytes (default 268435456, 256 MiB); a
/// larger reply fails with `FTRACK_STATUS_PROTOCOL` and a message that says so.
///
/// @param options the session options handle.
/// @param bytes   the largest reply in bytes; not 0.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_INVALID_ARGUMENT` for 0;
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_max_reply_bytes(
    options: *mut ftrack_session_options,
    bytes: u64,
) -> ftrack_status {
    ffi_boundary!({
        let bytes = super::options::positive(bytes, "bytes")?;
        unsafe { update(options, |o| o.max_reply_bytes(bytes)) }
    })
}

/// @brief Allows (true) plain `http://` to a host that is not this machine. Off by
/// default, because the API key would travel in clear text: session creation
/// then fails with `FTRACK_STATUS_INVALID_ARGUMENT`.
///
/// @param options the session options handle.
/// @param allow   true to allow plain `http://` to other hosts; false (the default)
///                to refuse it.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_allow_insecure_http(
    options: *mut ftrack_session_options,
    allow: bool,
) -> ftrack_status {
    ffi_boundary!({ unsafe { update(options, |o| o.allow_insecure_http(allow)) } })
}
