//! Error objects the server answers with (`{"exception", "content", "error_code"}`).

use serde_json::{Value, json};

/// The class of a failure; decides the exception name and the strict-mode status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input: unknown attribute, duplicate role, missing field, bad action (400).
    Validation,
    /// A malformed query expression or request body (400).
    Parse,
    /// Unknown user, wrong key, inactive user (401).
    Authentication,
    /// The acting user lacks a permission (403).
    Permission,
    /// An entity or entity type that does not exist (404).
    NotFound,
    /// Anything else (500).
    Server,
}

/// A failed request or operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Failure class.
    pub kind: ErrorKind,
    /// Human-readable message (never contains an API key).
    pub message: String,
}

impl ApiError {
    /// A validation error.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }
    /// A parse error.
    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parse, message)
    }
    /// A permission error.
    pub fn permission(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Permission, message)
    }
    /// A not-found error.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// An authentication error.
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Authentication, message)
    }
    /// An internal error.
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Server, message)
    }
    /// Any error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    /// The `exception` name sent to clients.
    pub fn exception(&self) -> &'static str {
        match self.kind {
            ErrorKind::Validation => "ValidationError",
            ErrorKind::Parse => "ParseError",
            ErrorKind::Authentication => "InvalidCredentialsError",
            ErrorKind::Permission => "PermissionError",
            ErrorKind::NotFound => "NotFoundError",
            ErrorKind::Server => "ServerError",
        }
    }

    /// The HTTP status used in strict mode.
    pub fn strict_status(&self) -> u16 {
        match self.kind {
            ErrorKind::Validation | ErrorKind::Parse => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::Permission => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Server => 500,
        }
    }

    /// The error body.
    pub fn to_json(&self) -> Value {
        json!({"exception": self.exception(), "content": self.message, "error_code": Value::Null})
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return match msg.strip_prefix("UNIQUE constraint failed: ") {
                Some(column) => {
                    ApiError::validation(format!("The value of {column} is already in use"))
                }
                None => ApiError::validation(format!("Constraint failed: {msg}")),
            };
        }
        ApiError::server(format!("database error: {e}"))
    }
}
