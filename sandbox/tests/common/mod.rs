//! A tiny HTTP client for talking to the sandbox in tests.
#![allow(dead_code)]

use ftrack_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;

/// Connects with a read timeout, so a server bug fails a test instead of hanging it.
pub fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    s
}

/// Sends raw bytes and returns (status, body) of the reply (connection: close).
pub fn raw(url: &str, request: &[u8]) -> (u16, Vec<u8>) {
    let addr = url.trim_start_matches("http://");
    let mut s = connect(addr);
    s.write_all(request).expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status = head[9..12].parse().expect("status");
    (status, buf[head_end..].to_vec())
}

/// POSTs `body` to /api as `user`/`key` with extra headers; returns status and JSON.
pub fn post_with(
    url: &str,
    user: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Value) {
    let body = body.to_string();
    let mut req = format!(
        "POST /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nftrack-user: {user}\r\nftrack-api-key: {key}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    let (status, bytes) = raw(url, req.as_bytes());
    (status, serde_json::from_slice(&bytes).expect("json reply"))
}

/// POSTs a batch as `user` with key `demo-key-<user>`.
pub fn call_as(sb: &Sandbox, user: &str, batch: Value) -> Value {
    post_with(&sb.url(), user, &format!("demo-key-{user}"), &[], &batch).1
}

/// POSTs a batch as admin.
pub fn call(sb: &Sandbox, batch: Value) -> Value {
    call_as(sb, "admin", batch)
}

/// Runs one query as `user` and returns the result element.
pub fn query_as(sb: &Sandbox, user: &str, expression: &str) -> Value {
    let r = call_as(
        sb,
        user,
        json!([{"action": "query", "expression": expression}]),
    );
    assert!(r.is_array(), "query {expression:?} failed: {r}");
    r[0].clone()
}

/// Runs one query as admin and returns `data`.
pub fn data(sb: &Sandbox, expression: &str) -> Vec<Value> {
    query_as(sb, "admin", expression)["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Error body of a failed batch (panics if it succeeded).
pub fn error(reply: &Value) -> (String, String) {
    assert!(reply.is_object(), "expected an error, got {reply}");
    (
        reply["exception"].as_str().unwrap_or("").to_string(),
        reply["content"].as_str().unwrap_or("").to_string(),
    )
}

/// A demo sandbox.
pub fn demo() -> Sandbox {
    Sandbox::start(SandboxConfig::demo()).expect("start sandbox")
}

/// The id of the single entity matched by `expression` (as admin).
pub fn id_of(sb: &Sandbox, expression: &str) -> String {
    let d = data(sb, expression);
    assert_eq!(d.len(), 1, "{expression} matched {}", d.len());
    d[0]["id"].as_str().expect("id").to_string()
}

/// User id by username.
pub fn user_id(sb: &Sandbox, name: &str) -> String {
    id_of(sb, &format!("User where username is \"{name}\""))
}

/// Role id by name.
pub fn role_id(sb: &Sandbox, name: &str) -> String {
    id_of(sb, &format!("SecurityRole where name is \"{name}\""))
}

/// Project id by name.
pub fn project_id(sb: &Sandbox, name: &str) -> String {
    id_of(sb, &format!("Project where name is \"{name}\""))
}

/// Sorted values of `field` across `rows`.
pub fn values(rows: &[Value], field: &str) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| match &r[field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    v.sort();
    v
}
