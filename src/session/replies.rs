//! Server replies to typed errors, quoting bodies without the API key.

use crate::error::{Error, Result, ServerError};
use crate::transport::Reply;

/// A short, key-free excerpt of a body.
fn excerpt(body: &[u8], key: &str) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let mut t: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .collect();
    if !key.is_empty() {
        t = t.replace(key, "<redacted>");
    }
    if body.len() > 200 {
        t.push_str("...");
    }
    t
}
pub(super) fn protocol(reply: &Reply, what: &str, key: &str) -> Error {
    protocol_parts(reply.status, &reply.body, what, key)
}
pub(super) fn protocol_parts(status: u16, body: &[u8], what: &str, key: &str) -> Error {
    Error::Protocol {
        status,
        message: format!(
            "the server's reply (HTTP {}) is not a valid ftrack API answer ({what}); it starts \
             with: {:?}. Check that server_url points at an ftrack server and that no proxy \
             rewrites the reply",
            status,
            excerpt(body, key)
        ),
    }
}
pub(super) fn server_error(status: u16, m: serde_json::Map<String, serde_json::Value>) -> Error {
    let s = |k: &str| match m.get(k) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(v) => Some(v.to_string()),
    };
    let exception = s("exception").unwrap_or_default();
    let content = s("content")
        .or_else(|| s("message"))
        .or_else(|| s("error"))
        .unwrap_or_else(|| "no message".into());
    let e = ServerError {
        exception,
        content,
        error_code: s("error_code"),
        status,
    };
    if e.exception.is_empty() {
        return match status {
            401 => Error::Authentication(e),
            403 => Error::PermissionDenied(e),
            _ => Error::Server(e),
        };
    }
    Error::from_server(e)
}
/// Parses a reply as a JSON list of answers, mapping error bodies to typed errors.
pub(super) fn json_answers(reply: &Reply, key: &str) -> Result<Vec<serde_json::Value>> {
    match serde_json::from_slice::<serde_json::Value>(&reply.body) {
        Ok(serde_json::Value::Array(a)) if reply.status < 300 => Ok(a),
        Ok(serde_json::Value::Object(m)) => Err(server_error(reply.status, m)),
        Ok(_) => Err(status_or_protocol(reply, "not a list of results", key)),
        Err(e) => Err(status_or_protocol(reply, &e.to_string(), key)),
    }
}
pub(super) fn status_or_protocol(reply: &Reply, what: &str, key: &str) -> Error {
    let e = || ServerError {
        exception: String::new(),
        content: format!("HTTP {}: {}", reply.status, excerpt(&reply.body, key)),
        error_code: None,
        status: reply.status,
    };
    match reply.status {
        401 => Error::Authentication(e()),
        403 => Error::PermissionDenied(e()),
        _ => protocol(reply, what, key),
    }
}
