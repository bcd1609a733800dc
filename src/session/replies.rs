//! Server replies to typed errors, quoting bodies without the API key.

use crate::error::{Error, Result, ServerError};
use crate::transport::Reply;

/// How many characters of a body an error message quotes.
const EXCERPT_CHARS: usize = 200;

/// `text` with every occurrence of the API key replaced by `<redacted>`.
pub(crate) fn redact(text: &str, key: &str) -> String {
    if key.is_empty() {
        text.to_owned()
    } else {
        text.replace(key, "<redacted>")
    }
}

/// A short, key-free excerpt of a body. The key is removed before the text is
/// cut (and again after control characters are dropped), so a key that straddles
/// the cut never leaks a prefix.
fn excerpt(body: &[u8], key: &str) -> String {
    const WINDOW: usize = 64 * 1024;
    let window = &body[..body.len().min(WINDOW)];
    let mut text = redact(&String::from_utf8_lossy(window), key);
    if window.len() < body.len() {
        // A key may start before the window's end and go on after it.
        let keep = text.len().saturating_sub(key.len());
        let keep = (0..=keep)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(keep);
    }
    let visible: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .collect();
    let visible = redact(&visible, key);
    let mut t: String = visible.chars().take(EXCERPT_CHARS).collect();
    if t.len() < visible.len() || window.len() < body.len() {
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
/// The typed error of a server error object; its texts are redacted of `key`
/// (a server may quote what it was sent).
pub(super) fn server_error(
    status: u16,
    m: serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Error {
    let s = |k: &str| match m.get(k) {
        Some(serde_json::Value::String(s)) => Some(redact(s, key)),
        Some(serde_json::Value::Null) | None => None,
        Some(v) => Some(redact(&v.to_string(), key)),
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
        Ok(serde_json::Value::Object(m)) => Err(server_error(reply.status, m, key)),
        Ok(_) => Err(status_or_protocol(reply, "not a list of results", key)),
        Err(e) => Err(status_or_protocol(reply, &e.to_string(), key)),
    }
}
/// The error for a reply that is not an ftrack answer. An HTTP error status
/// decides the kind (401 → authentication, 403 → permission denied, any other
/// 4xx/5xx → server error: a proxy, a gateway or the server failing); only a
/// reply that claims success but is not an ftrack answer is a protocol error.
pub(super) fn status_or_protocol(reply: &Reply, what: &str, key: &str) -> Error {
    let e = |hint: &str| ServerError {
        exception: String::new(),
        content: format!(
            "HTTP {} {hint}, body: {}",
            reply.status,
            excerpt(&reply.body, key)
        ),
        error_code: None,
        status: reply.status,
    };
    match reply.status {
        401 => Error::Authentication(e("(unauthorized)")),
        403 => Error::PermissionDenied(e("(forbidden)")),
        429 => Error::Server(e(
            "(too many requests: the server is rate-limiting; wait and try again)",
        )),
        400..=499 => Error::Server(e("(the request was refused)")),
        500..=599 => Error::Server(e(
            "(the server or a gateway in front of it failed; try again later)",
        )),
        _ => protocol(reply, what, key),
    }
}
