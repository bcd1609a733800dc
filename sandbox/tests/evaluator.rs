//! Query evaluation over HTTP against the demo studio: every operator,
//! relations, subqueries, ordering, paging, projections and de-duplication.

mod common;
use common::*;
use serde_json::{Value, json};

fn usernames(sb: &ftrack_sandbox::Sandbox, filter: &str) -> Vec<String> {
    values(
        &data(sb, &format!("select username from User where {filter}")),
        "username",
    )
}

#[test]
fn comparison_operators() {
    let sb = demo();
    assert_eq!(usernames(&sb, "username is pm"), ["pm"]);
    assert_eq!(usernames(&sb, "username = \"pm\""), ["pm"]);
    assert_eq!(
        usernames(&sb, "username is_not pm and username != admin"),
        ["artist", "inactive", "restricted"]
    );
    assert_eq!(usernames(&sb, "username > pm"), ["restricted"]);
    assert_eq!(usernames(&sb, "username after pm"), ["restricted"]);
    assert_eq!(usernames(&sb, "username greater_than pm"), ["restricted"]);
    assert_eq!(usernames(&sb, "username < artist"), ["admin"]);
    assert_eq!(usernames(&sb, "username before artist"), ["admin"]);
    assert_eq!(usernames(&sb, "username less_than artist"), ["admin"]);
    assert_eq!(usernames(&sb, "username >= pm"), ["pm", "restricted"]);
    assert_eq!(usernames(&sb, "username <= artist"), ["admin", "artist"]);
    assert_eq!(
        usernames(&sb, "username in (pm, \"artist\")"),
        ["artist", "pm"]
    );
    assert_eq!(
        usernames(&sb, "username not_in (pm, artist, admin)"),
        ["inactive", "restricted"]
    );
    assert_eq!(
        usernames(&sb, "username like \"%in%\""),
        ["admin", "inactive"]
    );
    assert_eq!(usernames(&sb, "username not_like \"%i%\""), ["pm"]);
    assert_eq!(usernames(&sb, "is_active is false"), ["inactive"]);
    assert_eq!(
        usernames(&sb, "is_active is False and email is_not None"),
        ["inactive"]
    );
    assert!(usernames(&sb, "email is None").is_empty());
    assert!(usernames(&sb, "username in ()").is_empty());
}

#[test]
fn boolean_logic_and_not() {
    let sb = demo();
    assert_eq!(
        usernames(
            &sb,
            "username is pm or username is artist and is_active is false"
        ),
        ["pm"]
    );
    assert_eq!(
        usernames(
            &sb,
            "(username is pm or username is inactive) and is_active is false"
        ),
        ["inactive"]
    );
    assert_eq!(usernames(&sb, "not is_active is true"), ["inactive"]);
}

#[test]
fn relations_has_any_and_dotted_paths() {
    let sb = demo();
    assert_eq!(
        usernames(
            &sb,
            "user_security_roles.security_role.name is \"Project Manager\""
        ),
        ["pm"]
    );
    assert_eq!(
        usernames(
            &sb,
            "user_security_roles any (security_role.name is User and is_all_open_projects is true)"
        ),
        ["artist", "inactive"]
    );
    assert_eq!(
        usernames(
            &sb,
            "user_security_roles.user_security_role_projects.project.name is gamma"
        ),
        ["pm"]
    );
    assert_eq!(usernames(&sb, "not user_security_roles any ()").len(), 0);
    let roles = data(
        &sb,
        "select user.username from UserSecurityRole where user has (username is restricted)",
    );
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0]["user"]["username"], "restricted");
    let d = data(
        &sb,
        "select name from SecurityRole where not user_security_roles any ()",
    );
    assert_eq!(values(&d, "name"), ["API"]);
    let d = data(&sb, "UserSecurityRole where user.username is \"pm\"");
    assert_eq!(d.len(), 1);
    assert!(d[0]["security_role_id"].is_string() && d[0]["user_id"].is_string());
}

#[test]
fn subqueries() {
    let sb = demo();
    assert_eq!(
        usernames(
            &sb,
            "id in (select user_id from UserSecurityRole where security_role.type is ASSIGNED)"
        ),
        ["restricted"]
    );
    assert_eq!(
        usernames(
            &sb,
            "id not_in (select user_id from UserSecurityRole where is_all_open_projects is true)"
        ),
        ["pm", "restricted"]
    );
    let r = call(
        &sb,
        json!([{"action": "query", "expression": "User where id in (select username, id from User)"}]),
    );
    assert_eq!(error(&r).0, "ValidationError");
}

#[test]
fn ordering_offset_limit_and_next_offset() {
    let sb = demo();
    let all = query_as(
        &sb,
        "admin",
        "select username from User order by username desc",
    );
    let names: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["restricted", "pm", "inactive", "artist", "admin"]);
    assert_eq!(all["metadata"]["next"]["offset"], Value::Null);
    let page = query_as(
        &sb,
        "admin",
        "select username from User order by username offset 1 limit 2",
    );
    assert_eq!(
        values(page["data"].as_array().unwrap(), "username"),
        ["artist", "inactive"]
    );
    assert_eq!(page["metadata"]["next"]["offset"], 3);
    let last = query_as(
        &sb,
        "admin",
        "select username from User order by username offset 3 limit 2",
    );
    assert_eq!(last["data"].as_array().unwrap().len(), 2);
    assert_eq!(last["metadata"]["next"]["offset"], Value::Null);
    let by_role = data(
        &sb,
        "select user.username from UserSecurityRole order by security_role.name, user.username",
    );
    let first = &by_role[0]["user"]["username"];
    assert_eq!(first, "admin");
    let r = call(
        &sb,
        json!([{"action": "query", "expression": "User order by user_security_roles"}]),
    );
    assert_eq!(error(&r).0, "ValidationError");
}

#[test]
fn default_projections_and_system_projections() {
    let sb = demo();
    let p = data(&sb, "Project where name is alpha");
    let keys: Vec<&String> = p[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["__entity_type__", "context_type", "id", "name"]);
    let u = data(&sb, "User where username is pm");
    let keys: Vec<&String> = u[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["__entity_type__", "id", "resource_type"]);
    let r = data(&sb, "SecurityRole where name is API");
    assert_eq!(r[0]["name"], "API");
}

#[test]
fn datetimes_are_wrapped_and_comparable() {
    let sb = demo();
    let p = data(&sb, "select created_at from Project where name is alpha");
    assert_eq!(p[0]["created_at"]["__type__"], "datetime");
    assert_eq!(
        data(&sb, "Project where created_at after \"2000-01-01\"").len(),
        3
    );
    assert_eq!(
        data(
            &sb,
            "Project where created_at before \"2000-01-01T00:00:00+02:00\""
        )
        .len(),
        0
    );
    let r = call(
        &sb,
        json!([{"action": "query", "expression": "Project where created_at after \"soon\""}]),
    );
    assert_eq!(error(&r).0, "ValidationError");
}

#[test]
fn deduplication_and_denormalize() {
    let sb = demo();
    let expr = "select security_role.name, user.username from UserSecurityRole where security_role.name is User";
    let rows = data(&sb, expr);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["security_role"]["name"], "User");
    // The second occurrence of the same role is a bare reference.
    let second: Vec<&String> = rows[1]["security_role"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(second, ["__entity_type__", "id"]);
    let (_, r) = post_with(
        &sb.url(),
        "admin",
        "demo-key-admin",
        &[("ftrack-api-options", "strict:1;denormalize:1")],
        &json!([{"action": "query", "expression": expr}]),
    );
    assert_eq!(r[0]["data"][1]["security_role"]["name"], "User");
}

#[test]
fn projections_through_collections_are_nested() {
    let sb = demo();
    let u = data(
        &sb,
        "select username, user_security_roles.is_all_projects, user_security_roles.security_role.name, user_security_roles.user_security_role_projects.project.full_name from User where username is pm",
    );
    let role = &u[0]["user_security_roles"][0];
    assert_eq!(role["security_role"]["name"], "Project Manager");
    assert_eq!(role["is_all_projects"], false);
    let mut names: Vec<&str> = role["user_security_role_projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["project"]["full_name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Project Alpha", "Project Gamma"]);
    let bare = data(
        &sb,
        "select user_security_roles from User where username is admin",
    );
    let keys: Vec<&String> = bare[0]["user_security_roles"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["__entity_type__", "id"]);
}

#[test]
fn query_errors() {
    let sb = demo();
    let cases = [
        ("Nope", "NotFoundError"),
        ("select nope from User", "ValidationError"),
        ("select username.x from User", "ValidationError"),
        ("User where nope is 1", "ValidationError"),
        ("User where user_security_roles is 1", "ValidationError"),
        ("User where username has (x is 1)", "ValidationError"),
        ("User where username any ()", "ValidationError"),
        ("User where is_active is maybe", "ValidationError"),
        ("User where", "ParseError"),
    ];
    for (q, exception) in cases {
        let r = call(&sb, json!([{"action": "query", "expression": q}]));
        assert_eq!(error(&r).0, exception, "{q}: {r}");
    }
    let r = call(
        &sb,
        json!([{"action": "query", "expression": "User where username is"}]),
    );
    assert!(error(&r).1.contains("position 22"), "{r}");
}

#[test]
fn populate_style_queries() {
    let sb = demo();
    let a = user_id(&sb, "admin");
    let p = user_id(&sb, "pm");
    let rows = data(
        &sb,
        &format!("select username from User where id in ({a},{p})"),
    );
    assert_eq!(values(&rows, "username"), ["admin", "pm"]);
    let rows = data(
        &sb,
        &format!("select username from User where (id is \"{a}\"and username is admin)"),
    );
    assert_eq!(rows.len(), 1);
}
