//! `ftrack_session_options`: the session builder.

use std::ffi::c_char;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ftrack::{SchemaCache, SessionOptions};

use super::error::{FfiError, FfiResult};
use super::handle::{Handle, HandleHeader, borrow, destroy_handle, into_handle, out_handle};
use super::status::ftrack_status;
use super::strings::str_arg;

/// Options for `ftrack_session_create_with_options`: server, credentials, timeout,
/// headers, cookies, caches, paging and retries.
///
/// Create with `ftrack_session_options_create`, change with the
/// `ftrack_session_options_set_*` / `_add_*` functions, pass to
/// `ftrack_session_create_with_options` (which copies it: the options can be reused
/// or destroyed right away) and free with `ftrack_session_options_destroy`.
/// Every string is copied. Internally locked: safe to use from several threads.
pub struct ftrack_session_options {
    header: HandleHeader,
    options: Mutex<SessionOptions>,
    api_key: Mutex<Option<Arc<str>>>,
}

impl Handle for ftrack_session_options {
    const WHAT: &'static str = "session options";
    fn header(&self) -> &HandleHeader {
        &self.header
    }
}

impl ftrack_session_options {
    fn lock(&self) -> MutexGuard<'_, SessionOptions> {
        self.options.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies one builder step.
    fn update(&self, f: impl FnOnce(SessionOptions) -> SessionOptions) {
        let mut guard = self.lock();
        let current = std::mem::take(&mut *guard);
        *guard = f(current);
    }

    /// A copy of the options and the API key they hold (for redaction).
    pub(crate) fn snapshot(&self) -> (SessionOptions, Option<Arc<str>>) {
        let key = self
            .api_key
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        (self.lock().clone(), key)
    }
}

/// Borrows the options, then runs one builder step.
///
/// # Safety
/// `options` must be NULL or a live options handle.
pub(crate) unsafe fn update(
    options: *mut ftrack_session_options,
    f: impl FnOnce(SessionOptions) -> SessionOptions,
) -> FfiResult<()> {
    let options = unsafe { borrow(options.cast_const(), "options")? };
    options.update(f);
    Ok(())
}

pub(crate) fn positive<T: PartialOrd + Default + std::fmt::Display>(
    value: T,
    argument: &str,
) -> FfiResult<T> {
    if value > T::default() {
        Ok(value)
    } else {
        Err(FfiError::invalid(format!(
            "argument `{argument}` must be greater than 0, got {value}"
        )))
    }
}

/// @brief Creates default options: everything from the environment, a 60 s timeout, auto-
///        populate and operation recording on, the default schema cache, pages of 500, 4
///        attempts per request.
///
/// On success `*out` owns a new handle the caller frees with
/// `ftrack_session_options_destroy`; on failure `*out` is NULL.
///
/// @param out receives a new options handle, freed with ftrack_session_options_destroy();
///        NULL on failure.
/// @return `FTRACK_STATUS_OK` or `FTRACK_STATUS_NULL_POINTER` (`out` is NULL).
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_create(
    out: *mut *mut ftrack_session_options,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out, "out")? };
        *out = into_handle(ftrack_session_options {
            header: HandleHeader::new(None),
            options: Mutex::new(SessionOptions::new()),
            api_key: Mutex::new(None),
        });
        Ok(())
    })
}

/// @brief Frees options created by `ftrack_session_options_create`.
///
/// NULL is a no-op. Sessions created from them are not affected. Destroying the same
/// handle twice, or while another thread uses it, is forbidden (undefined behaviour).
///
/// @param options the options handle, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_destroy(options: *mut ftrack_session_options) {
    ffi_boundary!(value: (), { unsafe { destroy_handle(options) } })
}

/// @brief Sets the server URL, e.g. `"https://studio.ftrackapp.com"` (otherwise
///        `FTRACK_SERVER`).
///
/// The string is copied.
///
/// @param options the session options handle.
/// @param server_url server URL (NUL-terminated UTF-8).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`
///         or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_server_url(
    options: *mut ftrack_session_options,
    server_url: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let url = unsafe { str_arg(server_url, "server_url")? }.to_owned();
        unsafe { update(options, |o| o.server_url(url)) }
    })
}

/// @brief Sets the API key (otherwise `FTRACK_API_KEY`, or the legacy `FTRACK_APIKEY`).
///
/// The string is copied; it never appears in an error message.
///
/// @param options the session options handle.
/// @param api_key API key (NUL-terminated UTF-8); copied, never shown in messages.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`
///         or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_api_key(
    options: *mut ftrack_session_options,
    api_key: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let key = unsafe { str_arg(api_key, "api_key")? }.to_owned();
        let handle = unsafe { borrow(options.cast_const(), "options")? };
        *handle.api_key.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::from(key.as_str()));
        handle.update(|o| o.api_key(key));
        Ok(())
    })
}

/// @brief Sets the API user name (otherwise `FTRACK_API_USER`, or the login name).
///
/// The string is copied.
///
/// @param options the session options handle.
/// @param api_user API user (NUL-terminated UTF-8).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`
///         or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_api_user(
    options: *mut ftrack_session_options,
    api_user: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let user = unsafe { str_arg(api_user, "api_user")? }.to_owned();
        unsafe { update(options, |o| o.api_user(user)) }
    })
}

/// @brief Sets the timeout for connecting and for waiting for each answer, in
///        milliseconds (default 60000).
///
/// @param options the session options handle.
/// @param timeout_ms timeout in milliseconds; not 0.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_INVALID_ARGUMENT` (0),
///         `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_timeout_ms(
    options: *mut ftrack_session_options,
    timeout_ms: u64,
) -> ftrack_status {
    ffi_boundary!({
        let ms = positive(timeout_ms, "timeout_ms")?;
        unsafe { update(options, |o| o.timeout(Duration::from_millis(ms))) }
    })
}

/// @brief Adds an HTTP header sent with every request.
///
/// Both strings are copied.
/// The extra headers and cookies, with the server URL and the credentials,
/// must leave a request head under 32 KiB:
/// `ftrack_session_create_with_options` fails with
/// `FTRACK_STATUS_INVALID_ARGUMENT` otherwise.
///
/// @param options the session options handle.
/// @param name header name (NUL-terminated UTF-8).
/// @param value header value (NUL-terminated UTF-8).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_INVALID_ARGUMENT` (empty name) or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_add_header(
    options: *mut ftrack_session_options,
    name: *const c_char,
    value: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let name = unsafe { str_arg(name, "name")? }.to_owned();
        let value = unsafe { str_arg(value, "value")? }.to_owned();
        if name.is_empty() {
            return Err(FfiError::invalid(
                "argument `name` is empty; pass a header name",
            ));
        }
        unsafe { update(options, |o| o.header(name, value)) }
    })
}

/// @brief Adds a cookie sent with every request.
///
/// Both strings are copied.
/// The extra headers and cookies, with the server URL and the credentials,
/// must leave a request head under 32 KiB:
/// `ftrack_session_create_with_options` fails with
/// `FTRACK_STATUS_INVALID_ARGUMENT` otherwise.
///
/// @param options the session options handle.
/// @param name cookie name (NUL-terminated UTF-8).
/// @param value cookie value (NUL-terminated UTF-8).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`,
///         `FTRACK_STATUS_INVALID_ARGUMENT` (empty name) or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_add_cookie(
    options: *mut ftrack_session_options,
    name: *const c_char,
    value: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let name = unsafe { str_arg(name, "name")? }.to_owned();
        let value = unsafe { str_arg(value, "value")? }.to_owned();
        if name.is_empty() {
            return Err(FfiError::invalid(
                "argument `name` is empty; pass a cookie name",
            ));
        }
        unsafe { update(options, |o| o.cookie(name, value)) }
    })
}

/// @brief Turns strict API mode on or off (the `ftrack-strict-api` header; default off).
///
/// @param options the session options handle.
/// @param strict true for strict API mode.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_strict_api(
    options: *mut ftrack_session_options,
    strict: bool,
) -> ftrack_status {
    ffi_boundary!({ unsafe { update(options, |o| o.strict_api(strict)) } })
}

/// @brief Turns auto-populate on or off (default on): reading an attribute that is not
///        loaded fetches it, for all entities of the same result that lack it, in one
///        request.
///
/// @param options the session options handle.
/// @param enabled true to enable, false to disable.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_auto_populate(
    options: *mut ftrack_session_options,
    enabled: bool,
) -> ftrack_status {
    ffi_boundary!({ unsafe { update(options, |o| o.auto_populate(enabled)) } })
}

/// @brief Turns operation recording on or off (default on).
///
/// With it off, changes are local only and `ftrack_session_commit` sends nothing for
/// them.
///
/// @param options the session options handle.
/// @param enabled true to enable, false to disable.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_record_operations(
    options: *mut ftrack_session_options,
    enabled: bool,
) -> ftrack_status {
    ffi_boundary!({ unsafe { update(options, |o| o.record_operations(enabled)) } })
}

/// @brief Keeps the schema cache in this directory (instead of
///        `FTRACK_API_SCHEMA_CACHE_PATH` or the per-user cache directory).
///
/// Copied.
///
/// @param options the session options handle.
/// @param path file path (NUL-terminated UTF-8).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`
///         or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_schema_cache_path(
    options: *mut ftrack_session_options,
    path: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let path = unsafe { str_arg(path, "path")? }.to_owned();
        unsafe { update(options, |o| o.schema_cache(SchemaCache::Path(path.into()))) }
    })
}

/// @brief Disables the schema cache: every session start fetches the schemas.
///
/// @param options the session options handle.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_disable_schema_cache(
    options: *mut ftrack_session_options,
) -> ftrack_status {
    ffi_boundary!({ unsafe { update(options, |o| o.schema_cache(SchemaCache::Disabled)) } })
}

/// @brief Sets the number of rows per query page (default 500).
///
/// @param options the session options handle.
/// @param page_size number of entities fetched per request; not 0.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_INVALID_ARGUMENT` (0),
///         `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_page_size(
    options: *mut ftrack_session_options,
    page_size: usize,
) -> ftrack_status {
    ffi_boundary!({
        let size = positive(page_size, "page_size")?;
        unsafe { update(options, |o| o.page_size(size)) }
    })
}

/// @brief Sets how many page requests of one query may be on the wire at once
///        (default 4; 1 fetches one page after the other).
///
/// The first page goes alone; once it says more rows follow, the next pages are
/// requested ahead, each on its own connection, while the library decodes the
/// pages in order. At the end of a result at most `n - 1` requests for pages past
/// it were sent (they answer no rows); fewer once the last page is decoded
/// before the loop reaches it, since nothing past it is requested after that.
///
/// @param options the session options handle.
/// @param n the most requests in flight per query; not 0.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_INVALID_ARGUMENT` (0),
///         `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_max_concurrent_pages(
    options: *mut ftrack_session_options,
    n: usize,
) -> ftrack_status {
    ffi_boundary!({
        let n = positive(n, "n")?;
        unsafe { update(options, |o| o.max_concurrent_pages(n)) }
    })
}

/// @brief Sets the attempts per request including the first (default 4; 1 disables
///        retries).
///
/// Reads are retried on connection failures and HTTP 429/502/503/504; writes only when
/// the request provably never reached the server.
///
/// @param options the session options handle.
/// @param max_attempts attempts per request, the first included; at least 1.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_INVALID_ARGUMENT` (0),
///         `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_max_attempts(
    options: *mut ftrack_session_options,
    max_attempts: u32,
) -> ftrack_status {
    ffi_boundary!({
        let attempts = positive(max_attempts, "max_attempts")?;
        unsafe { update(options, |o| o.max_attempts(attempts)) }
    })
}

/// @brief Sets the base delay of the exponential retry back-off, in milliseconds (default
///        200; 0 retries at once).
///
/// @param options the session options handle.
/// @param delay_ms delay before the first retry in milliseconds.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_retry_delay_ms(
    options: *mut ftrack_session_options,
    delay_ms: u64,
) -> ftrack_status {
    ffi_boundary!({
        unsafe { update(options, |o| o.retry_delay(Duration::from_millis(delay_ms))) }
    })
}

/// @brief Trusts the CA certificates in this PEM file instead of the platform's,
/// for the session's HTTPS requests and its event hub's `wss://` connection.
///
/// Copied; the file is read when the session is created, and again by each
/// connection attempt of the event hub.
///
/// @param options the session options handle.
/// @param path file path (NUL-terminated UTF-8).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`
///         or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_ca_bundle_path(
    options: *mut ftrack_session_options,
    path: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let path = unsafe { str_arg(path, "path")? }.to_owned();
        unsafe { update(options, |o| o.ca_bundle(path)) }
    })
}

/// @brief Uses this JSON file as a persistent entity cache under the in-memory one.
///
/// Copied.
///
/// @param options the session options handle.
/// @param path file path (NUL-terminated UTF-8).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`, `FTRACK_STATUS_INVALID_UTF8`
///         or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_persistent_cache_path(
    options: *mut ftrack_session_options,
    path: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let path = unsafe { str_arg(path, "path")? }.to_owned();
        unsafe { update(options, |o| o.persistent_cache(path)) }
    })
}

/// @brief Makes security-role changes of sessions created with these options idempotent
///        (default off): a change that would be a no-op — `ftrack_user_role_append` of a
///        role the user already holds, `ftrack_user_role_remove` of a role they do not
///        hold, `ftrack_user_role_grant_project` of a project already granted,
///        `ftrack_user_role_revoke_project` of a project not granted, or
///        `ftrack_user_role_replace` already done — returns `FTRACK_STATUS_OK` and
///        records nothing, instead of `FTRACK_STATUS_ROLE_ALREADY_ASSIGNED`,
///        `FTRACK_STATUS_ROLE_NOT_ASSIGNED`, `FTRACK_STATUS_PROJECT_ALREADY_GRANTED` or
///        `FTRACK_STATUS_PROJECT_NOT_GRANTED`.
///
/// Appending with `all_open_projects` a held role that lacks all open projects records
/// that grant instead. `ftrack_session_pending_count` tells whether anything was
/// recorded. Other refusals (`FTRACK_STATUS_ROLE_NOT_ASSIGNABLE`, granting on a role
/// the user does not hold) stay errors.
///
/// @param options the session options handle.
/// @param enabled true to enable, false to disable.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_idempotent_role_changes(
    options: *mut ftrack_session_options,
    enabled: bool,
) -> ftrack_status {
    ffi_boundary!({ unsafe { update(options, |o| o.idempotent_role_changes(enabled)) } })
}
