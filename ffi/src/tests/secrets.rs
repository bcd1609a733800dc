//! The API key never appears in a last-error message of the C ABI.
//!
//! Runs the ABI's error paths (the exported functions, called from Rust) with a
//! recognisable key: authentication failure, refused connection, timeout, a
//! malformed reply that echoes the key, options and environment keys, and errors
//! on a live session; after each, the thread's last error must not contain it.
//! One test function, because it sets environment variables.

use super::support;

use std::ffi::{CStr, CString, c_char};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::ptr;

use crate::entity::*;
use crate::entity_list::*;
use crate::error::ftrack_last_error_message;
use crate::options::*;
use crate::session::*;
use crate::status::ftrack_status;

const KEY: &str = "SECRET-ffi-key-7f3c2a9e51d04b86";

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn last_error() -> String {
    let mut len = 0usize;
    unsafe { ftrack_last_error_message(ptr::null_mut(), 0, &mut len) };
    let mut buf = vec![0 as c_char; len.max(1)];
    let status = unsafe { ftrack_last_error_message(buf.as_mut_ptr(), buf.len(), &mut len) };
    assert_eq!(status, ftrack_status::Ok);
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[track_caller]
fn assert_clean(what: &str, status: ftrack_status, expected: ftrack_status, secrets: &[&str]) {
    let message = last_error();
    assert_eq!(status, expected, "{what}: {message}");
    assert!(!message.is_empty(), "{what}: no last error set");
    for secret in secrets {
        assert!(
            !message.contains(secret),
            "{what}: the key leaked into: {message}"
        );
    }
    println!("{what}: {status:?}: {message}");
}

/// A server that answers every request with a body that quotes the key.
fn echoing_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten().take(8) {
            let mut stream = stream;
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            let body = format!("<html>proxy error for key {KEY}</html>");
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    format!("http://{addr}")
}

/// A listener that accepts connections and never answers.
fn silent_server() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

unsafe fn options(url: &str, key: &str, timeout_ms: u64) -> *mut ftrack_session_options {
    let mut o = ptr::null_mut();
    unsafe {
        assert_eq!(ftrack_session_options_create(&mut o), ftrack_status::Ok);
        assert_eq!(
            ftrack_session_options_set_server_url(o, c(url).as_ptr()),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_api_key(o, c(key).as_ptr()),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_api_user(o, c"admin".as_ptr()),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_timeout_ms(o, timeout_ms),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_max_attempts(o, 1),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_disable_schema_cache(o),
            ftrack_status::Ok
        );
    }
    o
}

#[test]
fn api_key_never_appears_in_last_error() {
    let sandbox = support::start_sandbox();
    let url = sandbox.url();
    let mut session: *mut ftrack_session = ptr::null_mut();

    unsafe {
        // Wrong key against a real server.
        let s = ftrack_session_create(
            c(&url).as_ptr(),
            c(KEY).as_ptr(),
            c"admin".as_ptr(),
            &mut session,
        );
        assert_clean("authentication", s, ftrack_status::Authentication, &[KEY]);
        assert!(session.is_null());

        // Refused connection.
        let s = ftrack_session_create(
            c"http://127.0.0.1:9".as_ptr(),
            c(KEY).as_ptr(),
            c"admin".as_ptr(),
            &mut session,
        );
        assert_clean("connection refused", s, ftrack_status::Connection, &[KEY]);

        // The key inside the URL too (redacted even if a message quotes the URL).
        let bad_url = format!("http://127.0.0.1:9/{KEY}");
        let s = ftrack_session_create(
            c(&bad_url).as_ptr(),
            c(KEY).as_ptr(),
            c"admin".as_ptr(),
            &mut session,
        );
        assert_clean(
            "connection refused, key in URL",
            s,
            ftrack_status::Connection,
            &[KEY],
        );

        // A reply that is not JSON and quotes the key.
        let echo = echoing_server();
        let o = options(&echo, KEY, 5_000);
        let s = ftrack_session_create_with_options(o, &mut session);
        assert_clean("malformed reply", s, ftrack_status::Protocol, &[KEY]);
        ftrack_session_options_destroy(o);

        // A server that never answers.
        let (_listener, silent) = silent_server();
        let o = options(&silent, KEY, 300);
        let s = ftrack_session_create_with_options(o, &mut session);
        assert_clean("timeout", s, ftrack_status::Timeout, &[KEY]);
        ftrack_session_options_destroy(o);

        // The key from the environment (NULL argument).
        // SAFETY: this is the only test in this binary; no other thread reads the environment.
        std::env::set_var("FTRACK_API_KEY", KEY);
        std::env::set_var("FTRACK_API_USER", "admin");
        std::env::set_var("FTRACK_SERVER", &url);
        let s = ftrack_session_create(ptr::null(), ptr::null(), ptr::null(), &mut session);
        assert_clean("environment key", s, ftrack_status::Authentication, &[KEY]);
        std::env::set_var("FTRACK_SERVER", echo.as_str());
        let s = ftrack_session_create(ptr::null(), ptr::null(), ptr::null(), &mut session);
        assert_clean(
            "environment key, malformed reply",
            s,
            ftrack_status::Protocol,
            &[KEY],
        );
        std::env::remove_var("FTRACK_API_KEY");
        std::env::remove_var("FTRACK_API_USER");
        std::env::remove_var("FTRACK_SERVER");

        // Errors on a live session never show its (real) key.
        let admin_key = sandbox.admin_key().to_owned();
        let o = options(&url, &admin_key, 10_000);
        assert_eq!(
            ftrack_session_create_with_options(o, &mut session),
            ftrack_status::Ok,
            "{}",
            last_error()
        );
        ftrack_session_options_destroy(o);
        let secrets = [admin_key.as_str(), KEY];

        let mut list = ptr::null_mut();
        let s = ftrack_session_query(session, c"select from User where".as_ptr(), &mut list);
        assert_clean("query syntax", s, ftrack_status::QuerySyntax, &secrets);
        let s = ftrack_session_query(session, c"NoSuchType".as_ptr(), &mut list);
        assert_clean(
            "unknown type",
            s,
            ftrack_status::UnknownEntityType,
            &secrets,
        );

        let mut user = ptr::null_mut();
        let s = ftrack_session_query_one(
            session,
            c"User where username is \"admin\"".as_ptr(),
            &mut user,
        );
        assert_eq!(s, ftrack_status::Ok, "{}", last_error());
        let mut buf = [0 as c_char; 4];
        let mut len = 0usize;
        let s = ftrack_entity_get_string(
            user,
            c"no_such_attribute".as_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        );
        assert_clean(
            "unknown attribute",
            s,
            ftrack_status::UnknownAttribute,
            &secrets,
        );
        let s = ftrack_entity_set_string(user, c"id".as_ptr(), c(KEY).as_ptr());
        assert_clean(
            "immutable attribute",
            s,
            ftrack_status::InvalidArgument,
            &secrets,
        );

        // A commit the server refuses, quoting back data that holds the session's key.
        let mut membership = ptr::null_mut();
        let data = format!("{{\"user_id\": \"{admin_key}\", \"group_id\": \"{admin_key}\"}}");
        let s = ftrack_session_create_entity(
            session,
            c"Membership".as_ptr(),
            c(&data).as_ptr(),
            &mut membership,
        );
        assert_eq!(s, ftrack_status::Ok, "{}", last_error());
        let s = ftrack_session_commit(session);
        assert_ne!(s, ftrack_status::Ok);
        assert_clean("failed commit", s, s, &secrets);
        ftrack_entity_destroy(membership);
        assert_eq!(ftrack_session_rollback(session), ftrack_status::Ok);

        let s = ftrack_session_call(
            session,
            c(&format!("[{{\"action\": \"no_such_action_{admin_key}\"}}]")).as_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        );
        assert_ne!(s, ftrack_status::Ok);
        assert_clean("unknown action", s, s, &secrets);

        let s = ftrack_session_call(
            session,
            c(&format!("not json {admin_key}")).as_ptr(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut len,
        );
        assert_clean(
            "batch not JSON",
            s,
            ftrack_status::InvalidArgument,
            &secrets,
        );

        ftrack_entity_destroy(user);
        ftrack_entity_list_destroy(list);
        ftrack_session_destroy(session);
    }
}
