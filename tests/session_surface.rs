//! The session calls an `ftrack_api`-shaped binding needs (issue 8): lazy query
//! cursors, get, ensure, populate, reset, runtime toggles, structured recorded
//! operations, schemas and typed JSON sets — against the sandbox.

mod support;

use ftrack::{Session, Value};
use serde_json::json;

fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn a_cursor_sends_nothing_until_asked_then_one_request_per_page() {
    let sb = support::sandbox();
    let session = support::admin(&sb);
    let before = session.request_count();
    let mut cursor = session
        .query_cursor("select username from User order by username", Some(2))
        .unwrap();
    assert_eq!(session.request_count(), before, "nothing sent yet");
    let first = cursor.next_page().unwrap().unwrap();
    assert_eq!(session.request_count(), before + 1);
    let names: Vec<String> = first
        .iter()
        .map(|u| u.get_string("username").unwrap())
        .collect();
    assert_eq!(names, ["admin", "artist"]);
    let rest: Vec<String> = cursor
        .by_ref()
        .flat_map(|p| p.unwrap())
        .map(|u| u.get_string("username").unwrap())
        .collect();
    assert_eq!(rest, ["inactive", "pm", "restricted"]);
    assert_eq!(session.request_count(), before + 3);
    assert!(cursor.is_done());
    assert!(cursor.next_page().unwrap().is_none());
    // A limit in the expression is honoured across pages.
    let limited: usize = session
        .query_cursor("select username from User limit 3", Some(2))
        .unwrap()
        .map(|p| p.unwrap().len())
        .sum();
    assert_eq!(limited, 3);
}

#[test]
fn auto_populate_covers_every_page_of_a_cursor_in_one_request() {
    let sb = support::sandbox();
    let session = support::admin(&sb);
    let users: Vec<_> = session
        .query_cursor("select id from User", Some(2))
        .unwrap()
        .flat_map(|p| p.unwrap())
        .collect();
    assert_eq!(users.len(), 5);
    let before = session.request_count();
    for u in &users {
        u.get_string("username").unwrap();
    }
    assert_eq!(
        session.request_count(),
        before + 1,
        "one request for 3 pages"
    );
}

#[test]
fn runtime_toggles_change_recording_and_auto_populate() {
    let sb = support::sandbox();
    let session = support::admin(&sb);
    let artist = session
        .query_one("select id from User where username is \"artist\"")
        .unwrap();
    session.set_auto_populate(false);
    assert!(!session.auto_populate());
    let before = session.request_count();
    assert_eq!(artist.get("first_name").unwrap(), Value::Null);
    assert_eq!(session.request_count(), before);
    session.set_auto_populate(true);
    assert_eq!(
        artist.get("first_name").unwrap(),
        Value::String("Art".into())
    );

    session.set_record_operations(false);
    artist
        .set("first_name", Value::String("Local".into()))
        .unwrap();
    assert_eq!(session.pending_len(), 0);
    session.set_record_operations(true);
    assert!(session.record_operations());
    artist.set_json("last_name", &json!("Recorded")).unwrap();
    let ops = session.recorded_operations();
    assert_eq!(ops.len(), 1);
    let j = ops[0].to_json();
    assert_eq!(j[0]["kind"], "update");
    assert_eq!(j[0]["entity_type"], "User");
    assert_eq!(j[0]["entity_key"], artist.id());
    assert_eq!(j[0]["attribute"], "last_name");
    assert_eq!(j[0]["value"], "Recorded");
}

#[test]
fn get_ensure_populate_and_reset() {
    let sb = support::sandbox();
    let session = support::admin(&sb);
    let pm = session.query_one("User where username is \"pm\"").unwrap();
    let other = support::admin(&sb);
    let got = other.get("User", &pm.id()).unwrap().unwrap();
    assert_eq!(got.get_string("username").unwrap(), "pm");
    assert!(other.get("User", "no-such-id").unwrap().is_none());

    let before = other.request_count();
    let group = other
        .ensure(
            "Group",
            obj(json!({"name": "Lighting", "local": true})),
            &[],
        )
        .unwrap();
    assert_eq!(
        other.request_count(),
        before + 2,
        "query, then create+commit"
    );
    let again = other
        .ensure(
            "Group",
            obj(json!({"name": "Lighting", "local": true})),
            &[],
        )
        .unwrap();
    assert_eq!(again, group);
    // Found by name, the other value differs: set and committed.
    let third = support::admin(&sb)
        .ensure(
            "Group",
            obj(json!({"name": "Lighting", "local": false})),
            &["name"],
        )
        .unwrap();
    assert_eq!(third.id(), group.id());
    assert_eq!(third.get("local").unwrap(), Value::Bool(false));
    assert!(
        other
            .ensure("Group", obj(json!({"name": "x"})), &["nope"])
            .is_err()
    );

    let users = other.query("select id from User").unwrap();
    let before = other.request_count();
    other.populate(&users, "username, email").unwrap();
    assert_eq!(other.request_count(), before + 1);
    other.set_auto_populate(false);
    assert!(users.iter().all(|u| u.get_string("username").is_ok()));
    other.set_auto_populate(true);

    // Reset: pending operations and loaded values are gone, handles still work.
    users[0]
        .set("first_name", Value::String("Changed".into()))
        .unwrap();
    let created = other
        .create("Group", obj(json!({"name": "Temp", "local": true})))
        .unwrap();
    assert_eq!(other.pending_len(), 2);
    other.reset();
    assert_eq!(other.pending_len(), 0);
    assert!(
        created.get("name").is_err(),
        "the uncommitted entity is gone"
    );
    assert!(!users[0].is_loaded("username"));
    let before = other.request_count();
    assert!(!users[0].get_string("username").unwrap().is_empty());
    assert_eq!(
        other.request_count(),
        before + 1,
        "read again from the server"
    );
}

#[test]
fn schemas_and_typed_json_sets() {
    let sb = support::sandbox();
    let session = Session::with_options(support::admin_options(&sb)).unwrap();
    assert!(session.entity_types().contains(&"User".to_owned()));
    let user = session.entity_schema("User").unwrap();
    assert_eq!(user.primary_key, ["id"]);
    assert_eq!(user.attribute("username").unwrap().kind, "string");
    assert_eq!(
        user.attribute("user_security_roles")
            .unwrap()
            .target
            .as_deref(),
        Some("UserSecurityRole")
    );
    assert!(session.entity_schema("Nope").is_err());

    let project = session
        .query_one("Project where name is \"alpha\"")
        .unwrap();
    project
        .set_json("end_date", &json!("2030-01-02T03:04:05Z"))
        .unwrap();
    assert!(matches!(
        project.get("end_date").unwrap(),
        Value::DateTime(_)
    ));
    let err = project.set_json("name", &json!(42)).unwrap_err();
    assert_eq!(err.kind(), ftrack::ErrorKind::TypeMismatch);
}
