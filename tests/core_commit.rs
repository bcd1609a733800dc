//! Commit failure and rollback: a refused batch leaves the session exactly as it
//! was; rollback discards created entities and local edits.

use ftrack::{ErrorKind, Value};
use ftrack_sandbox::{Sandbox, SandboxConfig};

#[path = "support/mod.rs"]
mod support;

use support::admin as session;

fn data(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn a_refused_op_in_the_middle_leaves_cache_and_pending_ops_as_they_were() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    let s = session(&sb);
    let admin = s
        .query_one("select username, email from User where username is \"admin\"")
        .unwrap();
    let pm = s
        .query_one("select username, first_name from User where username is \"pm\"")
        .unwrap();
    let (email, first) = (
        admin.get_string("email").unwrap(),
        pm.get_string("first_name").unwrap(),
    );
    admin.set("email", Value::from("changed@x")).unwrap();
    // The middle operation is refused: the username is taken.
    let dup = s
        .create(
            "User",
            data(serde_json::json!({"username": "admin", "is_active": true})),
        )
        .unwrap();
    pm.set("first_name", Value::from("Changed")).unwrap();

    let pending = s.pending_json().unwrap();
    let (len, cached) = (s.pending_len(), s.cached_len());
    let before = sb.request_count();
    let err = s.commit().unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Validation | ErrorKind::Server),
        "{err}"
    );
    assert_eq!(sb.request_count() - before, 1);

    // Pending operations: identical.
    assert_eq!(s.pending_json().unwrap(), pending);
    assert_eq!(s.pending_len(), len);
    // Cache: identical, local edits still local.
    assert_eq!(s.cached_len(), cached);
    assert_eq!(admin.get_string("email").unwrap(), "changed@x");
    assert_eq!(pm.get_string("first_name").unwrap(), "Changed");
    assert_eq!(dup.get_string("username").unwrap(), "admin");
    // The server applied nothing.
    let fresh = session(&sb);
    let p = fresh
        .query_one("select first_name from User where username is \"pm\"")
        .unwrap();
    assert_eq!(p.get_string("first_name").unwrap(), first);

    // Rollback: the created entity is gone, local edits are undone, nothing is sent.
    s.rollback();
    assert_eq!(s.pending_len(), 0);
    assert_eq!(s.pending_json().unwrap(), "[]");
    assert_eq!(s.cached_len(), cached - 1);
    assert_eq!(dup.get("username").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(admin.get_string("email").unwrap(), email);
    assert_eq!(pm.get_string("first_name").unwrap(), first);
    let before = sb.request_count();
    s.commit().unwrap();
    assert_eq!(sb.request_count(), before);
}

#[test]
fn rollback_keeps_what_was_committed() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    let s = session(&sb);
    let pm = s
        .query_one("select first_name, last_name from User where username is \"pm\"")
        .unwrap();
    pm.set("first_name", Value::from("Committed")).unwrap();
    let u = s
        .create("User", data(serde_json::json!({"username": "kept"})))
        .unwrap();
    s.commit().unwrap();
    pm.set("last_name", Value::from("Uncommitted")).unwrap();
    u.set("first_name", Value::from("Uncommitted")).unwrap();
    s.rollback();
    assert_eq!(pm.get_string("first_name").unwrap(), "Committed");
    assert_ne!(pm.get_string("last_name").unwrap(), "Uncommitted");
    assert_eq!(u.get_string("username").unwrap(), "kept");
    assert!(u.get("first_name").unwrap() != Value::from("Uncommitted"));
}

#[test]
fn auto_populate_from_eight_threads_finishes() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    let s = session(&sb);
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = {
        let s = s.clone();
        std::thread::spawn(move || {
            std::thread::scope(|scope| {
                for _ in 0..8 {
                    let s = s.clone();
                    scope.spawn(move || {
                        for _ in 0..10 {
                            // The first rounds auto-populate from all threads at once.
                            let users = s.query("select id from User").unwrap();
                            for u in &users {
                                u.get("email").unwrap();
                                u.get_list("user_security_roles").unwrap();
                            }
                        }
                    });
                }
            });
            tx.send(()).unwrap();
        })
    };
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("no deadlock: 8 threads auto-populating finish");
    worker.join().unwrap();
}
