//! `User.security_roles`, the derived collection (issue 8): reads in one request
//! per query result, the query rewrite, edits through the roles API's validation,
//! and that nothing named `security_roles` ever reaches the server.

mod support;

use ftrack::{Error, ErrorKind, Session, Value};
use ftrack_sandbox::Sandbox;

fn installed(session: &Session) -> &Session {
    ftrack::roles::install(session).expect("User.security_roles registers");
    session
}

/// The role names of `username` as a fresh session reads them from the server.
fn roles_on_server(sb: &Sandbox, username: &str) -> Vec<String> {
    let session = support::admin(sb);
    let user = installed(&session)
        .query_one(&format!("User where username is \"{username}\""))
        .unwrap();
    names(&user.get_list("security_roles").unwrap())
}

/// Every batch the sandbox received, as text.
fn sent(sb: &Sandbox) -> Vec<String> {
    sb.received().iter().map(|b| b.to_string()).collect()
}

/// Whether `body` names `security_roles` other than as the tail of
/// `user_security_roles` (the real attribute it is derived from).
fn names_the_derived_collection(body: &str) -> bool {
    body.match_indices("security_roles").any(|(i, _)| {
        !body[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn assert_never_sent(sb: &Sandbox) {
    let bodies = sent(sb);
    assert!(!bodies.is_empty());
    for body in bodies {
        assert!(
            !names_the_derived_collection(&body),
            "a request named the derived collection: {body}"
        );
    }
}

#[test]
fn the_never_sent_check_sees_the_name() {
    assert!(names_the_derived_collection(
        r#"[{"expression":"select security_roles.name from User"}]"#
    ));
    assert!(names_the_derived_collection(
        "select id from User where (security_roles any"
    ));
    assert!(!names_the_derived_collection(
        "select user_security_roles.security_role.name from User"
    ));
}

fn names(list: &[ftrack::Entity]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|e| e.get_string("name").unwrap()).collect();
    v.sort();
    v
}

#[test]
fn reading_security_roles_of_1000_users_takes_one_extra_request() {
    let sb = support::synthetic_sandbox(1000);
    let session = support::admin(&sb);
    installed(&session);
    let users = session.query("User where username like \"user%\"").unwrap();
    assert_eq!(users.len(), 1000);
    let before = session.request_count();
    let mut total = 0;
    for u in &users {
        let roles = u.get_list("security_roles").unwrap();
        assert_eq!(
            names(&roles),
            ["User"],
            "{}",
            u.get_string("username").unwrap()
        );
        total += roles.len();
    }
    assert_eq!(total, 1000);
    assert_eq!(
        session.request_count() - before,
        1,
        "one request for the roles of the whole 1,000-user result"
    );
    assert_never_sent(&sb);
}

#[test]
fn roles_are_distinct_and_come_with_the_query_when_selected() {
    let sb = support::sandbox();
    let session = support::admin(&sb);
    installed(&session);
    let before = session.request_count();
    let users = session
        .query("select username, security_roles.name from User where security_roles any (name is \"Project Manager\")")
        .unwrap();
    assert_eq!(session.request_count() - before, 1);
    let usernames: Vec<String> = users
        .iter()
        .map(|u| u.get_string("username").unwrap())
        .collect();
    assert_eq!(usernames, ["pm"]);
    assert_eq!(
        names(&users[0].get_list("security_roles").unwrap()),
        ["Project Manager"]
    );
    assert_eq!(
        session.request_count() - before,
        1,
        "selected: no further request"
    );
    // The sandbox saw the real schema's path.
    let bodies = sent(&sb);
    let last = bodies.last().unwrap();
    assert!(
        last.contains("user_security_roles.security_role.name")
            && last.contains("user_security_roles any (security_role has (name is"),
        "{last}"
    );
    assert_never_sent(&sb);
}

#[test]
fn the_user_schema_lists_security_roles_as_derived() {
    let sb = support::sandbox();
    let session = support::admin(&sb);
    let before = session.entity_schema("User").unwrap();
    assert!(before.attribute("security_roles").is_none());
    installed(&session);
    let schema = session.entity_schema("User").unwrap();
    let a = schema.attribute("security_roles").unwrap();
    assert!(a.derived);
    assert_eq!(a.kind, "collection");
    assert_eq!(a.target.as_deref(), Some("SecurityRole"));
    assert!(!schema.attribute("user_security_roles").unwrap().derived);
    assert_eq!(
        schema.to_json()["properties"]["security_roles"]["derived"],
        true
    );
}

#[test]
fn append_and_remove_record_role_actions_and_commit() {
    let sb = support::sandbox();
    let session = support::admin(&sb);
    installed(&session);
    let artist = session
        .query_one("User where username is \"artist\"")
        .unwrap();
    let pm = session
        .query_one("SecurityRole where name is \"Project Manager\"")
        .unwrap();
    assert_eq!(names(&artist.get_list("security_roles").unwrap()), ["User"]);
    artist.collection_append("security_roles", &pm).unwrap();
    // The pending edit shows at once; the batch holds a role action, not an update.
    assert_eq!(
        names(&artist.get_list("security_roles").unwrap()),
        ["Project Manager", "User"]
    );
    let pending: serde_json::Value =
        serde_json::from_str(&session.pending_json().unwrap()).unwrap();
    assert_eq!(pending[0]["action"], "add_user_security_role");
    assert_eq!(
        pending[0]["all_open_projects"], false,
        "least privilege by default"
    );
    assert_eq!(pending.as_array().unwrap().len(), 1);
    session.commit().unwrap();

    // A fresh session sees it on the server.
    assert_eq!(roles_on_server(&sb, "artist"), ["Project Manager", "User"]);
    // The committing session reads the user's roles again after its commit.
    assert_eq!(
        names(&artist.get_list("security_roles").unwrap()),
        ["Project Manager", "User"]
    );

    artist.collection_remove("security_roles", &pm).unwrap();
    assert_eq!(names(&artist.get_list("security_roles").unwrap()), ["User"]);
    session.commit().unwrap();
    assert_eq!(roles_on_server(&sb, "artist"), ["User"]);
    assert_never_sent(&sb);
}

#[test]
fn validation_errors_come_through_the_collection_calls() {
    let sb = support::sandbox();
    let session = support::admin(&sb);
    installed(&session);
    let artist = session
        .query_one("User where username is \"artist\"")
        .unwrap();
    let role = |n: &str| {
        session
            .query_one(&format!("SecurityRole where name is \"{n}\""))
            .unwrap()
    };
    let kind = |r: ftrack::Result<()>| r.unwrap_err().kind();
    assert_eq!(
        kind(artist.collection_append("security_roles", &role("User"))),
        ErrorKind::RoleAlreadyAssigned
    );
    assert_eq!(
        kind(artist.collection_remove("security_roles", &role("Project Manager"))),
        ErrorKind::RoleNotAssigned
    );
    assert_eq!(
        kind(artist.collection_append("security_roles", &role("API"))),
        ErrorKind::RoleNotAssignable
    );
    let project = session
        .query_one("Project where name is \"alpha\"")
        .unwrap();
    let err = artist
        .collection_append("security_roles", &project)
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m.contains("SecurityRole")),
        "{err}"
    );
    assert_eq!(
        session.pending_len(),
        0,
        "nothing recorded by refused edits"
    );
    // Rollback forgets a pending edit.
    artist
        .collection_append("security_roles", &role("Project Manager"))
        .unwrap();
    session.rollback();
    assert_eq!(names(&artist.get_list("security_roles").unwrap()), ["User"]);
}

#[test]
fn the_scope_of_appended_roles_is_a_session_option() {
    let sb = support::sandbox();
    let session =
        Session::with_options(support::admin_options(&sb).security_roles_all_open_projects(true))
            .unwrap();
    installed(&session);
    let artist = session
        .query_one("User where username is \"artist\"")
        .unwrap();
    let pm = session
        .query_one("SecurityRole where name is \"Project Manager\"")
        .unwrap();
    artist.collection_append("security_roles", &pm).unwrap();
    let pending: serde_json::Value =
        serde_json::from_str(&session.pending_json().unwrap()).unwrap();
    assert_eq!(pending[0]["all_open_projects"], true);
}

#[test]
fn without_the_roles_layer_the_name_is_unknown() {
    let sb = support::sandbox();
    let session = support::admin(&sb);
    let artist = session
        .query_one("User where username is \"artist\"")
        .unwrap();
    assert!(matches!(
        artist.get("security_roles"),
        Err(Error::UnknownAttribute { .. })
    ));
    assert!(matches!(artist.get("username"), Ok(Value::String(_))));
}
