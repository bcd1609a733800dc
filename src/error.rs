//! Errors: one variant per distinct failure, each with a message that says what
//! happened and what to do about it.
//!
//! [`Error::kind`] returns a `Copy` [`ErrorKind`] that the C ABI maps to a status
//! code. Messages never contain the API key.

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The category of an [`Error`]; stable, `Copy`, and what the C ABI maps to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A server URL, API key or API user was neither given nor found in the environment.
    MissingConfiguration,
    /// A caller-supplied argument is invalid (empty, malformed, wrong session, ...).
    InvalidArgument,
    /// The server could not be reached (refused, reset, DNS, proxy).
    Connection,
    /// Connecting or waiting for the answer took longer than the configured timeout.
    Timeout,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// The server rejected the API user / API key.
    Authentication,
    /// The server refused the operation for this user.
    PermissionDenied,
    /// The server rejected the data (`ValidationError`).
    Validation,
    /// The server could not parse a query expression.
    QuerySyntax,
    /// `query_one` found nothing, or an entity does not exist.
    NotFound,
    /// `query_one` found more than one result.
    MultipleResults,
    /// The attribute is not in the entity type's schema.
    UnknownAttribute,
    /// The entity type is not in the server's schemas.
    UnknownEntityType,
    /// The attribute holds a value of another type than the one asked for.
    TypeMismatch,
    /// Any other error reported by the server.
    Server,
    /// The server's reply was not the JSON the protocol prescribes.
    Protocol,
    /// The server version is older than the oldest supported one (3.3.11).
    IncompatibleServer,
    /// The user already holds the security role (roles API).
    RoleAlreadyAssigned,
    /// The user does not hold the security role (roles API).
    RoleNotAssigned,
    /// The security role cannot be given to a user (roles API).
    RoleNotAssignable,
    /// The project is already granted for that role (roles API).
    ProjectAlreadyGranted,
    /// The project is not granted for that role (roles API).
    ProjectNotGranted,
    /// A bug in libftrack itself (an invariant did not hold); please report it.
    Internal,
    /// The call was cancelled ([`crate::Session::cancel`] or a progress callback).
    Cancelled,
}

impl ErrorKind {
    /// A short stable identifier, e.g. `"not_found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MissingConfiguration => "missing_configuration",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Connection => "connection",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Authentication => "authentication",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Validation => "validation",
            ErrorKind::QuerySyntax => "query_syntax",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MultipleResults => "multiple_results",
            ErrorKind::UnknownAttribute => "unknown_attribute",
            ErrorKind::UnknownEntityType => "unknown_entity_type",
            ErrorKind::TypeMismatch => "type_mismatch",
            ErrorKind::Server => "server",
            ErrorKind::Protocol => "protocol",
            ErrorKind::IncompatibleServer => "incompatible_server",
            ErrorKind::RoleAlreadyAssigned => "role_already_assigned",
            ErrorKind::RoleNotAssigned => "role_not_assigned",
            ErrorKind::RoleNotAssignable => "role_not_assignable",
            ErrorKind::ProjectAlreadyGranted => "project_already_granted",
            ErrorKind::ProjectNotGranted => "project_not_granted",
            ErrorKind::Internal => "internal",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error reported by the server in its `{"exception", "content", "error_code"}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// The server's exception class name, e.g. `"ValidationError"`.
    pub exception: String,
    /// The server's human-readable message (`content`).
    pub content: String,
    /// The server's `error_code`, when it sent one.
    pub error_code: Option<String>,
    /// The HTTP status of the reply (200 in non-strict mode).
    pub status: u16,
}

/// Every failure of the library. Each variant carries a complete, key-free message
/// (see `Display`) that says what to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A required setting is missing: `argument` (e.g. `api_key`) and the
    /// environment `variable` that could have supplied it (e.g. `FTRACK_API_KEY`).
    MissingConfiguration {
        /// The argument name, e.g. `"server_url"`.
        argument: &'static str,
        /// The environment variable, e.g. `"FTRACK_SERVER"`.
        variable: &'static str,
        /// The full message.
        message: String,
    },
    /// See [`ErrorKind::InvalidArgument`].
    InvalidArgument(String),
    /// See [`ErrorKind::Connection`].
    Connection(String),
    /// See [`ErrorKind::Timeout`].
    Timeout(String),
    /// See [`ErrorKind::Tls`].
    Tls(String),
    /// See [`ErrorKind::Authentication`].
    Authentication(ServerError),
    /// See [`ErrorKind::PermissionDenied`].
    PermissionDenied(ServerError),
    /// See [`ErrorKind::Validation`].
    Validation(ServerError),
    /// See [`ErrorKind::QuerySyntax`].
    QuerySyntax(ServerError),
    /// See [`ErrorKind::NotFound`].
    NotFound(String),
    /// See [`ErrorKind::MultipleResults`].
    MultipleResults(String),
    /// See [`ErrorKind::UnknownAttribute`].
    UnknownAttribute {
        /// The entity type.
        entity_type: String,
        /// The attribute asked for.
        attribute: String,
    },
    /// See [`ErrorKind::UnknownEntityType`].
    UnknownEntityType(String),
    /// See [`ErrorKind::TypeMismatch`].
    TypeMismatch {
        /// The entity type.
        entity_type: String,
        /// The attribute.
        attribute: String,
        /// What the caller asked for, e.g. `"string"`.
        expected: &'static str,
        /// What the attribute holds, e.g. `"null"`.
        found: &'static str,
    },
    /// See [`ErrorKind::Server`].
    Server(ServerError),
    /// The reply was not valid protocol JSON: HTTP `status` and a key-free message with an excerpt.
    Protocol {
        /// The HTTP status of the reply.
        status: u16,
        /// The message, including a short excerpt of the body.
        message: String,
    },
    /// See [`ErrorKind::IncompatibleServer`].
    IncompatibleServer(String),
    /// See [`ErrorKind::Internal`].
    Internal(String),
    /// See [`ErrorKind::Cancelled`]. `sent`: the request had (perhaps partly) left
    /// when the call was cancelled, so the server may have received it; a
    /// cancelled commit keeps its operations pending either way.
    Cancelled {
        /// Whether the server may have received the request.
        sent: bool,
    },
    /// A roles-API failure (issue 4): `kind` is one of the `Role*`/`Project*` kinds.
    Role {
        /// One of [`ErrorKind::RoleAlreadyAssigned`], [`ErrorKind::RoleNotAssigned`],
        /// [`ErrorKind::RoleNotAssignable`], [`ErrorKind::ProjectAlreadyGranted`],
        /// [`ErrorKind::ProjectNotGranted`].
        kind: ErrorKind,
        /// A message naming the user, the role and the project.
        message: String,
    },
}

impl Error {
    /// The category of this error (what the C ABI maps to a status code).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::MissingConfiguration { .. } => ErrorKind::MissingConfiguration,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::Connection(_) => ErrorKind::Connection,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Tls(_) => ErrorKind::Tls,
            Error::Authentication(_) => ErrorKind::Authentication,
            Error::PermissionDenied(_) => ErrorKind::PermissionDenied,
            Error::Validation(_) => ErrorKind::Validation,
            Error::QuerySyntax(_) => ErrorKind::QuerySyntax,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::MultipleResults(_) => ErrorKind::MultipleResults,
            Error::UnknownAttribute { .. } => ErrorKind::UnknownAttribute,
            Error::UnknownEntityType(_) => ErrorKind::UnknownEntityType,
            Error::TypeMismatch { .. } => ErrorKind::TypeMismatch,
            Error::Server(_) => ErrorKind::Server,
            Error::Protocol { .. } => ErrorKind::Protocol,
            Error::IncompatibleServer(_) => ErrorKind::IncompatibleServer,
            Error::Role { kind, .. } => *kind,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
        }
    }

    /// The server's error details, for errors the server reported.
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            Error::Authentication(e)
            | Error::PermissionDenied(e)
            | Error::Validation(e)
            | Error::QuerySyntax(e)
            | Error::Server(e) => Some(e),
            _ => None,
        }
    }

    /// Maps a server error body to its typed error.
    pub(crate) fn from_server(e: ServerError) -> Error {
        let exc = e.exception.as_str();
        let lower = e.content.to_ascii_lowercase();
        match exc {
            "InvalidCredentialsError"
            | "FTAuthenticationError"
            | "AuthenticationError"
            | "AuthenticationFailed"
            | "InvalidApiKeyError" => Error::Authentication(e),
            "PermissionError" | "PermissionDeniedError" | "AccessDenied" | "Forbidden" => {
                Error::PermissionDenied(e)
            }
            "ValidationError" | "IntegrityError" => Error::Validation(e),
            "ParseError"
            | "QueryParseError"
            | "QuerySyntaxError"
            | "SyntaxError"
            | "MalformedQueryError"
            | "QueryError" => Error::QuerySyntax(e),
            _ if exc.contains("Parse") || exc.contains("Syntax") => Error::QuerySyntax(e),
            _ if exc.contains("Authentication") || exc.contains("Credentials") => {
                Error::Authentication(e)
            }
            _ if exc.contains("Permission") => Error::PermissionDenied(e),
            _ if exc.contains("Validation") => Error::Validation(e),
            _ if lower.contains("invalid action") => Error::IncompatibleServer(format!(
                "the server does not know an action that was sent ({}: {}); \
                 upgrade the server or avoid that action",
                e.exception, e.content
            )),
            _ => Error::Server(e),
        }
    }
}

fn advice(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Authentication => {
            "check the API user and API key (FTRACK_API_USER / FTRACK_API_KEY)"
        }
        ErrorKind::PermissionDenied => {
            "ask an administrator for a security role that allows this, or use another API user"
        }
        ErrorKind::Validation => {
            "fix the data that was sent and commit again, or roll back the pending operations"
        }
        ErrorKind::QuerySyntax => "fix the query expression; quote values with ftrack::quote()",
        _ => {
            "see the server's message; the pending operations are kept so you can retry or roll back"
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MissingConfiguration { message, .. } => f.write_str(message),
            Error::InvalidArgument(m)
            | Error::Connection(m)
            | Error::Timeout(m)
            | Error::Tls(m)
            | Error::NotFound(m)
            | Error::MultipleResults(m)
            | Error::IncompatibleServer(m) => f.write_str(m),
            Error::Authentication(e)
            | Error::PermissionDenied(e)
            | Error::Validation(e)
            | Error::QuerySyntax(e)
            | Error::Server(e) => {
                write!(
                    f,
                    "the server reported {}: {}",
                    if e.exception.is_empty() {
                        "an error"
                    } else {
                        &e.exception
                    },
                    e.content
                )?;
                if let Some(code) = &e.error_code {
                    write!(f, " (error code {code})")?;
                }
                write!(f, "; {}", advice(self.kind()))
            }
            Error::UnknownAttribute {
                entity_type,
                attribute,
            } => write!(
                f,
                "{entity_type} has no attribute \"{attribute}\" in the server's schema; \
                 check the spelling against the schema of {entity_type}"
            ),
            Error::UnknownEntityType(t) => write!(
                f,
                "entity type \"{t}\" is not in the server's schemas; check the spelling \
                 (type names are case-sensitive, e.g. \"User\", \"Project\")"
            ),
            Error::TypeMismatch {
                entity_type,
                attribute,
                expected,
                found,
            } => write!(
                f,
                "{entity_type}.{attribute} holds {found}, not {expected}; \
                 use the getter for {found} (or get() / get_json() for any value)"
            ),
            Error::Protocol { message, .. } => f.write_str(message),
            Error::Role { message, .. } => f.write_str(message),
            Error::Cancelled { sent: false } => f.write_str(
                "the call was cancelled before its request reached the server; nothing was \
                 changed, and pending operations are kept",
            ),
            Error::Cancelled { sent: true } => f.write_str(
                "the call was cancelled after its request was sent: the server may have \
                 received it. Pending operations are kept; before committing again, check \
                 whether the changes were applied (query them), and roll back if they were",
            ),
            Error::Internal(m) => write!(
                f,
                "internal error in libftrack: {m}; please report it with the steps that led here"
            ),
        }
    }
}

impl std::error::Error for Error {}
