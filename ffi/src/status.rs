//! `ftrack_status`: the one result type of the C ABI, and the single mapping from
//! the core's [`ErrorKind`] to it.
//!
//! Values are explicit and grouped by range; a value once published is never
//! reused (retire it as a reserved comment instead). To add a status: add the
//! variant with its value in the right range and a `///` doc, add its name in
//! [`ftrack_status::name`], map the core kind in [`status_for_kind`], regenerate
//! the header (`FTRACK_UPDATE_HEADER=1 cargo test -p ftrack-ffi --test ffi_header`) and
//! update the bindings' status lists (C++, Python, C#).

use std::ffi::{CStr, c_char};

use ftrack::ErrorKind;

/// The result of every fallible libftrack function.
///
/// `FTRACK_STATUS_OK` (0) is success; every other value is a failure whose
/// details are in this thread's last error message (`ftrack_last_error_message`).
/// Values are grouped by range: 1xx caller arguments, 2xx transport, 3xx server,
/// 4xx query and data, 5xx security roles, 9xx internal. Values are stable and
/// never reused. In C the type is a `uint32_t`, so a newer library may return a
/// value this header does not name: treat unknown values as failures.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ftrack_status {
    /// Success.
    Ok = 0,
    /// An argument has an invalid value (empty, out of range, malformed JSON, ...).
    InvalidArgument = 100,
    /// A required pointer argument was NULL.
    NullPointer = 101,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 102,
    /// The caller's buffer is too small; `*out_len` holds the size needed, NUL included.
    BufferTooSmall = 103,
    /// The server URL, API key or API user was neither given nor found in the environment.
    MissingConfiguration = 104,
    /// The server could not be reached (refused, reset, DNS, proxy).
    Connection = 200,
    /// Connecting or waiting for the answer took longer than the configured timeout.
    Timeout = 201,
    /// The TLS handshake or certificate verification failed.
    Tls = 202,
    /// The server's reply was not the JSON the protocol prescribes.
    Protocol = 203,
    /// The call was cancelled (`ftrack_session_cancel` from another thread, or a
    /// progress callback that returned non-zero). The last error message says
    /// whether the request may have reached the server; pending operations are kept.
    Cancelled = 204,
    /// The server reported an error not covered by a more precise status.
    Server = 300,
    /// The server rejected the API user or API key.
    Authentication = 301,
    /// The server refused the operation for this user.
    PermissionDenied = 302,
    /// The server rejected the data that was sent.
    Validation = 303,
    /// The server is older than the oldest supported version (3.3.11).
    IncompatibleServer = 304,
    /// The server could not parse the query expression.
    QuerySyntax = 400,
    /// Nothing matched (`query_first`, `query_one`) or the entity does not exist.
    NotFound = 401,
    /// `query_one` matched more than one entity.
    MultipleResults = 402,
    /// The attribute is not in the entity type's schema.
    UnknownAttribute = 403,
    /// The attribute holds another type of value than the one asked for.
    TypeMismatch = 404,
    /// The entity type is not in the server's schemas.
    UnknownEntityType = 405,
    /// The user already holds the security role.
    RoleAlreadyAssigned = 500,
    /// The user does not hold the security role.
    RoleNotAssigned = 501,
    /// The security role cannot be given to a user.
    RoleNotAssignable = 502,
    /// The project is already granted for that role.
    ProjectAlreadyGranted = 503,
    /// The project is not granted for that role.
    ProjectNotGranted = 504,
    /// An internal error (a bug in libftrack) stopped the call; the handles it used are
    /// now poisoned.
    Panic = 900,
    /// The handle was poisoned by an earlier internal error (FTRACK_STATUS_PANIC); only its
    /// destroy function may be called.
    Poisoned = 901,
    /// An internal error that should not happen; please report it with the message.
    Internal = 999,
}

impl ftrack_status {
    /// Every status, in value order (used by tests and `ftrack_status_name`).
    pub(crate) const ALL: [ftrack_status; 30] = [
        Self::Ok,
        Self::InvalidArgument,
        Self::NullPointer,
        Self::InvalidUtf8,
        Self::BufferTooSmall,
        Self::MissingConfiguration,
        Self::Connection,
        Self::Timeout,
        Self::Tls,
        Self::Protocol,
        Self::Cancelled,
        Self::Server,
        Self::Authentication,
        Self::PermissionDenied,
        Self::Validation,
        Self::IncompatibleServer,
        Self::QuerySyntax,
        Self::NotFound,
        Self::MultipleResults,
        Self::UnknownAttribute,
        Self::TypeMismatch,
        Self::UnknownEntityType,
        Self::RoleAlreadyAssigned,
        Self::RoleNotAssigned,
        Self::RoleNotAssignable,
        Self::ProjectAlreadyGranted,
        Self::ProjectNotGranted,
        Self::Panic,
        Self::Poisoned,
        Self::Internal,
    ];

    /// The C name of the status, e.g. `FTRACK_STATUS_NOT_FOUND`, as static C text.
    pub fn name(self) -> &'static CStr {
        match self {
            Self::Ok => c"FTRACK_STATUS_OK",
            Self::InvalidArgument => c"FTRACK_STATUS_INVALID_ARGUMENT",
            Self::NullPointer => c"FTRACK_STATUS_NULL_POINTER",
            Self::InvalidUtf8 => c"FTRACK_STATUS_INVALID_UTF8",
            Self::BufferTooSmall => c"FTRACK_STATUS_BUFFER_TOO_SMALL",
            Self::MissingConfiguration => c"FTRACK_STATUS_MISSING_CONFIGURATION",
            Self::Connection => c"FTRACK_STATUS_CONNECTION",
            Self::Timeout => c"FTRACK_STATUS_TIMEOUT",
            Self::Tls => c"FTRACK_STATUS_TLS",
            Self::Protocol => c"FTRACK_STATUS_PROTOCOL",
            Self::Cancelled => c"FTRACK_STATUS_CANCELLED",
            Self::Server => c"FTRACK_STATUS_SERVER",
            Self::Authentication => c"FTRACK_STATUS_AUTHENTICATION",
            Self::PermissionDenied => c"FTRACK_STATUS_PERMISSION_DENIED",
            Self::Validation => c"FTRACK_STATUS_VALIDATION",
            Self::IncompatibleServer => c"FTRACK_STATUS_INCOMPATIBLE_SERVER",
            Self::QuerySyntax => c"FTRACK_STATUS_QUERY_SYNTAX",
            Self::NotFound => c"FTRACK_STATUS_NOT_FOUND",
            Self::MultipleResults => c"FTRACK_STATUS_MULTIPLE_RESULTS",
            Self::UnknownAttribute => c"FTRACK_STATUS_UNKNOWN_ATTRIBUTE",
            Self::TypeMismatch => c"FTRACK_STATUS_TYPE_MISMATCH",
            Self::UnknownEntityType => c"FTRACK_STATUS_UNKNOWN_ENTITY_TYPE",
            Self::RoleAlreadyAssigned => c"FTRACK_STATUS_ROLE_ALREADY_ASSIGNED",
            Self::RoleNotAssigned => c"FTRACK_STATUS_ROLE_NOT_ASSIGNED",
            Self::RoleNotAssignable => c"FTRACK_STATUS_ROLE_NOT_ASSIGNABLE",
            Self::ProjectAlreadyGranted => c"FTRACK_STATUS_PROJECT_ALREADY_GRANTED",
            Self::ProjectNotGranted => c"FTRACK_STATUS_PROJECT_NOT_GRANTED",
            Self::Panic => c"FTRACK_STATUS_PANIC",
            Self::Poisoned => c"FTRACK_STATUS_POISONED",
            Self::Internal => c"FTRACK_STATUS_INTERNAL",
        }
    }

    /// The status with this numeric value, if there is one.
    pub(crate) fn from_u32(value: u32) -> Option<ftrack_status> {
        Self::ALL.iter().copied().find(|s| *s as u32 == value)
    }
}

/// THE mapping from a core error kind to its C status. Every core error that
/// crosses the ABI goes through here (via `FfiError::from`).
pub fn status_for_kind(kind: ErrorKind) -> ftrack_status {
    match kind {
        ErrorKind::MissingConfiguration => ftrack_status::MissingConfiguration,
        ErrorKind::InvalidArgument => ftrack_status::InvalidArgument,
        ErrorKind::Connection => ftrack_status::Connection,
        ErrorKind::Timeout => ftrack_status::Timeout,
        ErrorKind::Tls => ftrack_status::Tls,
        ErrorKind::Protocol => ftrack_status::Protocol,
        ErrorKind::Server => ftrack_status::Server,
        ErrorKind::Authentication => ftrack_status::Authentication,
        ErrorKind::PermissionDenied => ftrack_status::PermissionDenied,
        ErrorKind::Validation => ftrack_status::Validation,
        ErrorKind::IncompatibleServer => ftrack_status::IncompatibleServer,
        ErrorKind::QuerySyntax => ftrack_status::QuerySyntax,
        ErrorKind::NotFound => ftrack_status::NotFound,
        ErrorKind::MultipleResults => ftrack_status::MultipleResults,
        ErrorKind::UnknownAttribute => ftrack_status::UnknownAttribute,
        ErrorKind::TypeMismatch => ftrack_status::TypeMismatch,
        ErrorKind::UnknownEntityType => ftrack_status::UnknownEntityType,
        ErrorKind::RoleAlreadyAssigned => ftrack_status::RoleAlreadyAssigned,
        ErrorKind::RoleNotAssigned => ftrack_status::RoleNotAssigned,
        ErrorKind::RoleNotAssignable => ftrack_status::RoleNotAssignable,
        ErrorKind::ProjectAlreadyGranted => ftrack_status::ProjectAlreadyGranted,
        ErrorKind::ProjectNotGranted => ftrack_status::ProjectNotGranted,
        ErrorKind::Internal => ftrack_status::Internal,
        ErrorKind::Cancelled => ftrack_status::Cancelled,
    }
}

/// @brief Returns the name of a status code, e.g. `"FTRACK_STATUS_NOT_FOUND"`.
///
/// @param status a status value; any number, also one unknown to this library.
/// @return the status name as static NUL-terminated ASCII; never NULL, never to be freed.
///
/// Takes any `uint32_t` (an unknown value gives `"FTRACK_STATUS_UNKNOWN"`), so it is
/// safe to call with a value from a newer library. The returned text is static,
/// NUL-terminated ASCII, never NULL, and must not be freed. Thread-safe; never fails
/// and does not touch the last error.
#[unsafe(no_mangle)]
pub extern "C" fn ftrack_status_name(status: u32) -> *const c_char {
    ffi_boundary!(value: c"FTRACK_STATUS_UNKNOWN".as_ptr(), {
        match ftrack_status::from_u32(status) {
            Some(s) => s.name().as_ptr(),
            None => c"FTRACK_STATUS_UNKNOWN".as_ptr(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_complete_sorted_and_named() {
        let values: Vec<u32> = ftrack_status::ALL.iter().map(|s| *s as u32).collect();
        let mut sorted = values.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(values, sorted);
        for s in ftrack_status::ALL {
            assert_eq!(ftrack_status::from_u32(s as u32), Some(s));
            assert!(s.name().to_str().unwrap().starts_with("FTRACK_STATUS_"));
        }
        assert_eq!(ftrack_status::from_u32(7), None);
    }
}
