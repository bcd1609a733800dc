//! Integration tests of the core against the in-process sandbox over HTTP.

use std::time::Duration;

use ftrack::{Error, ErrorKind, SchemaCache, Session, Value, quote};

#[path = "support/mod.rs"]
mod support;

use support::{admin as session, admin_options as options, sandbox};

fn map(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn session_from_arguments_sends_one_batch() {
    let sb = sandbox();
    let s = session(&sb);
    assert_eq!(sb.request_count(), 1);
    assert_eq!(s.request_count(), 1);
    let sent = sb.received();
    let actions: Vec<_> = sent[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["query_server_information", "query_schemas"]);
    assert!(s.server_information().get("version").is_some());
}

#[test]
fn warm_schema_cache_means_exactly_one_small_request() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let o = options(&sb).schema_cache(SchemaCache::Path(dir.path().to_owned()));
    let _cold = Session::with_options(o.clone()).unwrap();
    let before = sb.request_count();
    let _warm = Session::with_options(o.clone()).unwrap();
    assert_eq!(sb.request_count() - before, 1);
    let last = sb.received().pop().unwrap();
    assert_eq!(
        last,
        serde_json::json!([{"action": "query_server_information"}])
    );
    // A cache file it cannot use (here: the first format, the server's
    // documents) costs no second request: the schemas come in the same batch.
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::write(
                &path,
                serde_json::json!({"server_url": sb.url(), "schema_hash": "x", "schemas": []})
                    .to_string(),
            )
            .unwrap();
        }
    }
    let before = sb.request_count();
    let _rewritten = Session::with_options(o.clone()).unwrap();
    assert_eq!(sb.request_count() - before, 1);
    assert_eq!(
        sb.received().pop().unwrap(),
        serde_json::json!([{"action": "query_server_information"}, {"action": "query_schemas"}])
    );
    // And it is replaced by a usable one.
    let before = sb.request_count();
    let _warm_again = Session::with_options(o).unwrap();
    assert_eq!(sb.request_count() - before, 1);
    assert_eq!(
        sb.received().pop().unwrap(),
        serde_json::json!([{"action": "query_server_information"}])
    );
}

#[test]
fn query_first_one_and_typed_getters() {
    let sb = sandbox();
    let s = session(&sb);
    let admin = s
        .query_one(&format!(
            "select username, first_name, is_active, email from User where username is {}",
            quote("admin")
        ))
        .unwrap();
    assert_eq!(admin.entity_type(), "User");
    assert_eq!(admin.get_string("username").unwrap(), "admin");
    assert_eq!(admin.get_string("first_name").unwrap(), "Ada");
    assert!(admin.get_bool("is_active").unwrap());
    assert_eq!(
        admin.get_json("username").unwrap(),
        serde_json::json!("admin")
    );
    assert_eq!(
        admin.get_string("is_active").unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    assert_eq!(
        admin.get("no_such_attribute").unwrap_err().kind(),
        ErrorKind::UnknownAttribute
    );

    let none = s.query_first("User where username is \"nobody\"").unwrap();
    assert!(none.is_none());
    let err = s
        .query_one("User where username is \"nobody\"")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = s.query_one("User").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MultipleResults);
    assert!(s.query_first("User").unwrap().is_some());
    assert_eq!(
        s.query("Nope").unwrap_err().kind(),
        ErrorKind::UnknownEntityType
    );
    // Same identity → same handle.
    let again = s.get("User", &admin.id()).unwrap().unwrap();
    assert_eq!(again, admin);
}

#[test]
fn references_collections_and_datetimes() {
    let sb = sandbox();
    let s = session(&sb);
    let p = s
        .query_one("select name, full_name, created_at, user_security_role_projects from Project where name is \"alpha\"")
        .unwrap();
    assert_eq!(p.get_string("full_name").unwrap(), "Project Alpha");
    match p.get("created_at").unwrap() {
        Value::DateTime(t) => assert!(t > 1_500_000_000_000_000),
        Value::Null => {}
        other => panic!("created_at: {other:?}"),
    }
    let grants = p.get_list("user_security_role_projects").unwrap();
    for g in &grants {
        assert_eq!(g.entity_type(), "UserSecurityRoleProject");
    }
    let usr = s
        .query_first("select security_role.name, user.username from UserSecurityRole where user.username is \"pm\"")
        .unwrap()
        .unwrap();
    let role = usr.get_entity("security_role").unwrap().unwrap();
    assert_eq!(role.entity_type(), "SecurityRole");
    assert!(!role.get_string("name").unwrap().is_empty());
    let user = usr.get_entity("user").unwrap().unwrap();
    assert_eq!(user.get_string("username").unwrap(), "pm");
}

#[test]
fn paging_across_several_pages() {
    let sb = support::synthetic_sandbox(120);
    // One page at a time: exactly the three pages.
    let one = Session::with_options(options(&sb).page_size(50).max_concurrent_pages(1)).unwrap();
    let before = sb.request_count();
    assert_eq!(one.query("select username from User").unwrap().len(), 125);
    assert_eq!(sb.request_count() - before, 3);
    // Two in flight: the page after each one is requested while it merges,
    // and the fetcher that decodes the last page says so before the loop would
    // ask for the next: exactly the three pages again.
    let two = Session::with_options(options(&sb).page_size(50).max_concurrent_pages(2)).unwrap();
    let before = sb.request_count();
    assert_eq!(two.query("select username from User").unwrap().len(), 125);
    assert_eq!(sb.request_count() - before, 3);
    // The default, four in flight: the first page's reply sends three
    // requests ahead, one of them past the end (nothing says where the end is
    // yet). One more may follow before the last page is decoded; none after.
    let s = Session::with_options(options(&sb).page_size(50)).unwrap();
    let before = sb.request_count();
    let users = s.query("select username from User").unwrap();
    assert_eq!(users.len(), 125);
    let sent = sb.request_count() - before;
    assert!((3 + 1..=3 + 2).contains(&sent), "{sent} requests");
    // A result of one page sends nothing ahead.
    let before = sb.request_count();
    assert_eq!(
        s.query("select username from User limit 40").unwrap().len(),
        40
    );
    assert_eq!(sb.request_count() - before, 1);
    let mut names: Vec<String> = users
        .iter()
        .map(|u| u.get_string("username").unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 125);
    let limited = s.query("select username from User limit 70").unwrap();
    assert_eq!(limited.len(), 70);
    let sent = sb.received();
    let last = sent.last().unwrap()[0]["expression"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(last.ends_with("offset 50 limit 50"), "{last}");
}

#[test]
fn pages_decoded_ahead_merge_as_pages_one_at_a_time() {
    let sb = support::synthetic_sandbox(120);
    let expr = "select username, user_security_roles.security_role.name from User";
    // What each user holds, as names, and the role entities met on the way.
    let read = |s: &Session| {
        let mut rows = Vec::new();
        let mut roles: Vec<ftrack::Entity> = Vec::new();
        for u in s.query(expr).unwrap() {
            let mut held = Vec::new();
            for usr in u.get_list("user_security_roles").unwrap() {
                let role = usr.get_entity("security_role").unwrap().unwrap();
                held.push(role.get_string("name").unwrap());
                roles.push(role);
            }
            held.sort();
            rows.push((u.get_string("username").unwrap(), held));
        }
        (rows, roles)
    };
    // One page at a time, decoded by the thread that merges them.
    let one = Session::with_options(options(&sb).page_size(50).max_concurrent_pages(1)).unwrap();
    let (expected, _) = read(&one);
    assert_eq!(expected.len(), 125);
    assert!(expected.iter().any(|(_, held)| !held.is_empty()));
    // Three pages requested ahead, decoded on their fetching threads.
    let ahead = Session::with_options(options(&sb).page_size(50)).unwrap();
    let before = sb.request_count();
    let (rows, roles) = read(&ahead);
    assert_eq!(rows, expected);
    // Everything was in the answers: reading the roles sent nothing more (the
    // three pages, and one or two requests past the end, as above).
    let sent = sb.request_count() - before;
    assert!((3 + 1..=3 + 2).contains(&sent), "{sent} requests");
    // A role met on several pages is one entity of the session.
    for r in &roles {
        let same = roles
            .iter()
            .filter(|o| o.id() == r.id())
            .collect::<Vec<_>>();
        assert!(same.iter().all(|o| *o == r), "{} is not one entity", r.id());
    }
    assert!(
        roles.len()
            > roles
                .iter()
                .map(|r| r.id())
                .collect::<std::collections::HashSet<_>>()
                .len()
    );
}

#[test]
fn auto_populate_fetches_the_whole_result_in_one_request() {
    let sb = sandbox();
    let s = session(&sb);
    let users = s.query("User").unwrap();
    assert!(users.len() >= 5);
    let before = sb.request_count();
    for u in &users {
        let _ = u.get("email").unwrap();
    }
    assert_eq!(sb.request_count() - before, 1, "no N+1");
    // populate: one request for many entities and several attributes.
    let users = s.query("User").unwrap();
    let before = sb.request_count();
    s.populate(&users, "first_name, last_name").unwrap();
    assert_eq!(sb.request_count() - before, 1);
    for u in &users {
        assert!(u.is_loaded("first_name") && u.is_loaded("last_name"));
    }
    assert_eq!(sb.request_count() - before, 1);
}

#[test]
fn auto_populate_off_returns_null_without_requests() {
    let sb = sandbox();
    let s = Session::with_options(options(&sb).auto_populate(false)).unwrap();
    let u = s.query_first("User").unwrap().unwrap();
    let before = sb.request_count();
    assert_eq!(u.get("email").unwrap(), Value::Null);
    assert_eq!(sb.request_count(), before);
}

#[test]
fn create_update_delete_and_collection_in_one_batch() {
    let sb = sandbox();
    let s = session(&sb);
    let artist = s.query_one("User where username is \"artist\"").unwrap();
    let role = s
        .query_one("SecurityRole where name is \"Project Manager\"")
        .unwrap();
    let alpha = s.query_one("Project where name is \"alpha\"").unwrap();
    let _ = artist.get_list("user_security_roles").unwrap();

    let user = s
        .create(
            "User",
            map(serde_json::json!({"username": "newbie", "is_active": true, "first_name": "N"})),
        )
        .unwrap();
    user.set("last_name", Value::from("Ewbie")).unwrap();
    user.set("first_name", Value::from("New")).unwrap();
    artist
        .set("email", Value::from("artist@new.example"))
        .unwrap();
    let usr = s
        .create(
            "UserSecurityRole",
            map(serde_json::json!({"is_all_open_projects": false})),
        )
        .unwrap();
    usr.set("user", Value::from(&artist)).unwrap();
    usr.set("security_role", Value::from(&role)).unwrap();
    let grant = s
        .create("UserSecurityRoleProject", serde_json::Map::new())
        .unwrap();
    grant.set("user_security_role", Value::from(&usr)).unwrap();
    grant.set("project", Value::from(&alpha)).unwrap();
    let pending = s.pending_json().unwrap();
    let batch: serde_json::Value = serde_json::from_str(&pending).unwrap();
    let actions: Vec<&str> = batch
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["action"].as_str().unwrap())
        .collect();
    // Updates folded into their creates.
    assert_eq!(
        actions,
        ["create", "update", "create", "create"],
        "{pending}"
    );
    assert_eq!(batch[0]["entity_data"]["first_name"], "New");
    assert_eq!(batch[0]["entity_data"]["last_name"], "Ewbie");

    let before = sb.request_count();
    s.commit().unwrap();
    assert_eq!(sb.request_count() - before, 1, "one batch");
    assert_eq!(s.pending_len(), 0);
    assert_eq!(user.get_string("last_name").unwrap(), "Ewbie");

    let fresh = Session::with_options(options(&sb)).unwrap();
    let n = fresh
        .query_one("User where username is \"newbie\"")
        .unwrap();
    assert_eq!(n.get_string("first_name").unwrap(), "New");
    let a = fresh
        .query_one("User where username is \"artist\"")
        .unwrap();
    assert_eq!(a.get_string("email").unwrap(), "artist@new.example");

    // Delete, and a collection remove.
    s.delete(&grant).unwrap();
    s.delete(&usr).unwrap();
    s.delete(&user).unwrap();
    s.commit().unwrap();
    assert!(
        fresh
            .query_first("User where username is \"newbie\"")
            .unwrap()
            .is_none()
    );
    assert_eq!(
        user.get("username").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn create_then_delete_sends_nothing() {
    let sb = sandbox();
    let s = session(&sb);
    let u = s
        .create("User", map(serde_json::json!({"username": "ghost"})))
        .unwrap();
    u.set("email", Value::from("x@y")).unwrap();
    s.delete(&u).unwrap();
    assert_eq!(s.pending_json().unwrap(), "[]");
    let before = sb.request_count();
    s.commit().unwrap();
    assert_eq!(sb.request_count(), before);
}

#[test]
fn failed_commit_keeps_operations_and_cache_then_rollback() {
    let sb = sandbox();
    let s = session(&sb);
    let admin = s
        .query_one("select username, email from User where username is \"admin\"")
        .unwrap();
    let email = admin.get_string("email").unwrap();
    admin.set("email", Value::from("changed@x")).unwrap();
    // A second user with the same username violates a constraint on the server.
    s.create(
        "User",
        map(serde_json::json!({"username": "admin", "is_active": true})),
    )
    .unwrap();
    let pending = s.pending_json().unwrap();
    let err = s.commit().unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Validation | ErrorKind::Server),
        "{err}"
    );
    assert_eq!(s.pending_len(), 2);
    assert_eq!(s.pending_json().unwrap(), pending);
    assert_eq!(admin.get_string("email").unwrap(), "changed@x");
    s.rollback();
    assert_eq!(s.pending_len(), 0);
    assert_eq!(admin.get_string("email").unwrap(), email);
}

#[test]
fn local_edits_win_over_merged_server_values() {
    let sb = sandbox();
    let s = session(&sb);
    let u = s
        .query_one("select first_name from User where username is \"pm\"")
        .unwrap();
    u.set("first_name", Value::from("Local")).unwrap();
    s.query("select first_name from User").unwrap();
    assert_eq!(u.get_string("first_name").unwrap(), "Local");
}

#[test]
fn record_action_goes_in_the_same_ordered_batch() {
    let sb = sandbox();
    let s = session(&sb);
    let artist = s.query_one("User where username is \"artist\"").unwrap();
    let role = s
        .query_one("SecurityRole where name is \"Project Manager\"")
        .unwrap();
    artist.set("email", Value::from("a@b.c")).unwrap();
    s.record_action(serde_json::json!({
        "action": "add_user_security_role",
        "user_id": artist.id(),
        "role_id": role.id(),
    }))
    .unwrap();
    artist.set("first_name", Value::from("Arty")).unwrap();
    let batch: serde_json::Value = serde_json::from_str(&s.pending_json().unwrap()).unwrap();
    let actions: Vec<&str> = batch
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["update", "add_user_security_role", "update"]);
    assert_eq!(
        s.record_action(serde_json::json!({"no": "action"}))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    let before = sb.request_count();
    s.commit().unwrap();
    assert_eq!(sb.request_count() - before, 1);
    let sent = sb.received().pop().unwrap();
    assert_eq!(sent.as_array().unwrap().len(), 3);
}

#[test]
fn raw_call_and_typed_server_errors() {
    let sb = sandbox();
    let s = session(&sb);
    let out = s
        .call(&serde_json::json!([{"action": "query", "expression": "select id from Project"}]))
        .unwrap();
    assert_eq!(out[0]["action"], "query");
    let err = s
        .call(&serde_json::json!([{"action": "query", "expression": "select from where"}]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuerySyntax, "{err}");
    let err = s.query("select nope from User").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::QuerySyntax | ErrorKind::Server | ErrorKind::Validation
        ),
        "{err}"
    );
    assert!(s.call(&serde_json::json!({"not": "a list"})).is_err());
}

#[test]
fn authentication_error_is_typed_and_key_free() {
    let sb = sandbox();
    let key = "SECRET-WRONG-KEY-0123456789";
    let err = Session::with_options(options(&sb).api_key(key)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication, "{err}");
    assert!(!err.to_string().contains(key));
    assert!(!format!("{err:?}").contains(key));
}

#[test]
fn permission_denied_is_typed() {
    let sb = sandbox();
    let s = Session::with_options(
        options(&sb)
            .api_user("restricted")
            .api_key("demo-key-restricted"),
    )
    .unwrap();
    let admin = s
        .query_first("User where username is \"admin\"")
        .unwrap()
        .expect("the restricted user can read users");
    let role = s.query_first("SecurityRole").unwrap().unwrap();
    s.record_action(serde_json::json!({
        "action": "add_user_security_role", "user_id": admin.id(), "role_id": role.id()
    }))
    .unwrap();
    let err = s.commit().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(s.pending_len(), 1);
}

#[test]
fn query_by_ids_chunks_and_get() {
    let sb = sandbox();
    let s = session(&sb);
    let users = s.query("User").unwrap();
    let ids: Vec<String> = users.iter().map(|u| u.id()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let other = Session::with_options(options(&sb)).unwrap();
    let got = other.query_by_ids("User", &["username"], &refs).unwrap();
    assert_eq!(got.len(), ids.len());
    assert!(got[0].is_loaded("username"));
    assert!(
        other
            .get("User", "00000000-0000-0000-0000-000000000000")
            .unwrap()
            .is_none()
    );
}

#[test]
fn session_shared_by_eight_threads() {
    let sb = sandbox();
    let s = session(&sb);
    std::thread::scope(|scope| {
        for i in 0..8 {
            let s = s.clone();
            scope.spawn(move || {
                for _ in 0..5 {
                    let users = s.query("User").unwrap();
                    for u in &users {
                        let _ = u.get("email").unwrap(); // auto-populate re-enters the session
                    }
                    let p = s.query_first("Project").unwrap().unwrap();
                    p.set("color", Value::from(format!("#00000{i}"))).unwrap();
                }
            });
        }
    });
    assert_eq!(s.pending_len(), 40);
    s.commit().unwrap();
    assert_eq!(s.pending_len(), 0);
}

#[test]
fn timeout_option_is_used() {
    let sb = sandbox();
    let s = Session::with_options(options(&sb).timeout(Duration::from_secs(5))).unwrap();
    assert!(s.query("User").is_ok());
}

#[test]
fn collection_append_and_remove_record_the_whole_collection() {
    let sb = sandbox();
    let s = session(&sb);
    let alpha = s.query_one("Project where name is \"alpha\"").unwrap();
    let grants = alpha.get_list("user_security_role_projects").unwrap();
    let usr = s.query_first("UserSecurityRole").unwrap().unwrap();
    let g = s
        .create("UserSecurityRoleProject", serde_json::Map::new())
        .unwrap();
    g.set("user_security_role", Value::from(&usr)).unwrap();
    alpha
        .collection_append("user_security_role_projects", &g)
        .unwrap();
    assert_eq!(
        alpha.get_list("user_security_role_projects").unwrap().len(),
        grants.len() + 1
    );
    let batch: serde_json::Value = serde_json::from_str(&s.pending_json().unwrap()).unwrap();
    let update = batch.as_array().unwrap().last().unwrap();
    assert_eq!(update["action"], "update");
    let list = update["entity_data"]["user_security_role_projects"]
        .as_array()
        .unwrap();
    assert_eq!(list.len(), grants.len() + 1);
    assert_eq!(list.last().unwrap()["id"], serde_json::json!(g.id()));
    alpha
        .collection_remove("user_security_role_projects", &g)
        .unwrap();
    assert_eq!(
        alpha
            .collection_remove("user_security_role_projects", &g)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    s.rollback();
    assert_eq!(g.get("id").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        alpha.get_list("user_security_role_projects").unwrap().len(),
        grants.len()
    );
}

#[test]
fn persistent_cache_serves_get_without_a_request() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("entities.json");
    let o = options(&sb).persistent_cache(&file);
    let id = {
        let s = Session::with_options(o.clone()).unwrap();
        let pm = s
            .query_one("select username, email from User where username is \"pm\"")
            .unwrap();
        s.close().unwrap();
        pm.id()
    };
    assert!(file.exists());
    let s = Session::with_options(o).unwrap();
    let before = sb.request_count();
    let pm = s.get("User", &id).unwrap().expect("cached");
    assert_eq!(pm.get_string("username").unwrap(), "pm");
    assert_eq!(
        sb.request_count(),
        before,
        "served from the persistent cache"
    );
}

#[test]
fn session_and_entity_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Session>();
    assert_send_sync::<ftrack::Entity>();
    assert_send_sync::<Error>();
}

#[test]
fn setting_null_is_committed_and_kept() {
    let sb = sandbox();
    let s = session(&sb);
    let pm = s
        .query_one("select email from User where username is \"pm\"")
        .unwrap();
    assert!(!pm.get("email").unwrap().is_null());
    pm.set("email", Value::Null).unwrap();
    s.commit().unwrap();
    assert!(pm.get("email").unwrap().is_null());
    let fresh = session(&sb);
    let again = fresh
        .query_one("select email from User where username is \"pm\"")
        .unwrap();
    assert!(again.get("email").unwrap().is_null());
}

#[test]
fn datetimes_round_trip_through_the_server_in_utc() {
    let sb = sandbox();
    let s = session(&sb);
    let p = s.query_one("Project where name is \"beta\"").unwrap();
    // 2024-03-01T12:34:56Z
    let t = 1_709_296_496_000_000_i64;
    p.set("start_date", Value::DateTime(t)).unwrap();
    // A string with an offset is converted to UTC: 14:34:56+02:00 == 12:34:56Z.
    p.set("end_date", Value::from("2024-03-01T14:34:56+02:00"))
        .unwrap();
    s.commit().unwrap();
    let fresh = session(&sb);
    let q = fresh
        .query_one("select start_date, end_date from Project where name is \"beta\"")
        .unwrap();
    assert_eq!(q.get_datetime("start_date").unwrap(), t);
    assert_eq!(q.get_datetime("end_date").unwrap(), t);
    assert_eq!(
        q.get_json("start_date").unwrap(),
        serde_json::json!({"__type__": "datetime", "value": "2024-03-01T12:34:56+00:00"})
    );
}

#[test]
fn integer_float_and_json_getters() {
    // The sandbox schema has no integer or number attributes, so merge a raw
    // answer for a type the schema does not describe.
    let sb = sandbox();
    let s = session(&sb);
    let rows = s
        .merge_query_response(
            br#"[{"action":"query","data":[{"__entity_type__":"Gadget","id":"g1",
                "count":5,"ratio":1.5,"whole":2.0,"tags":["a","b"],"meta":{"k":1},
                "owner":{"__entity_type__":"User","id":"u1"}}],"metadata":{"next":{"offset":null}}}]"#,
        )
        .unwrap();
    let g = &rows[0];
    assert_eq!(g.get_i64("count").unwrap(), 5);
    assert_eq!(g.get_f64("count").unwrap(), 5.0);
    assert_eq!(g.get_f64("ratio").unwrap(), 1.5);
    assert_eq!(g.get_i64("whole").unwrap(), 2);
    assert_eq!(
        g.get_i64("ratio").unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    assert_eq!(g.get_json("tags").unwrap(), serde_json::json!(["a", "b"]));
    assert_eq!(g.get_json("meta").unwrap(), serde_json::json!({"k": 1}));
    let owner = g.get_entity("owner").unwrap().unwrap();
    assert_eq!(owner.entity_type(), "User");
    assert_eq!(owner.id(), "u1");
    assert_eq!(
        g.get_json("owner").unwrap(),
        serde_json::json!({"__entity_type__": "User", "id": "u1"})
    );
    g.set("count", Value::Int(6)).unwrap();
    assert_eq!(g.get_i64("count").unwrap(), 6);
    assert!(s.pending_json().unwrap().contains("\"count\":6"));
}

#[test]
fn strict_mode_errors_are_typed_too() {
    let sb = sandbox();
    let s = Session::with_options(options(&sb).strict_api(true)).unwrap();
    let sent_strict = sb.received().len();
    assert!(sent_strict >= 1);
    let err = s.query("select id from User where").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuerySyntax, "{err}");
    s.create(
        "User",
        map(serde_json::json!({"username": "admin", "is_active": true})),
    )
    .unwrap();
    let err = s.commit().unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Validation | ErrorKind::Server),
        "{err}"
    );
    assert_eq!(s.pending_len(), 1);
    let status = err.server_error().map(|e| e.status);
    assert!(status.is_some(), "{err:?}");
}

#[test]
fn write_generation_moves_when_a_commit_is_sent_and_when_it_is_done() {
    let sb = sandbox();
    let s = session(&sb);
    let g0 = s.write_generation();
    // Nothing sent: no move.
    s.commit().unwrap();
    s.rollback();
    assert_eq!(s.write_generation(), g0);
    // Sent, then done: what a reader took in between may predate the batch,
    // and the second move says so.
    s.create(
        "Group",
        map(serde_json::json!({"name": "generation", "local": false})),
    )
    .unwrap();
    s.commit().unwrap();
    assert_eq!(s.write_generation(), g0 + 2);
    // Refused by the server: sent and done as well.
    s.create(
        "User",
        map(serde_json::json!({"username": "admin", "is_active": true})),
    )
    .unwrap();
    assert!(s.commit().is_err());
    assert_eq!(s.write_generation(), g0 + 4);
}

#[test]
fn a_commit_larger_than_the_transport_buffers_arrives_whole() {
    // 300 users of about 400 bytes each: a body of over 100 kB, several
    // times the transport's 32 KiB output buffer.
    let sb = sandbox();
    let s = session(&sb);
    let note = "n".repeat(300);
    for i in 0..300 {
        s.create(
            "User",
            map(serde_json::json!({"username": format!("bulk{i:03}"), "first_name": note})),
        )
        .unwrap();
    }
    let before = sb.request_count();
    s.commit().unwrap();
    assert_eq!(sb.request_count() - before, 1, "one batch");
    let fresh = session(&sb);
    let users = fresh
        .query("select username, first_name from User where username like \"bulk%\"")
        .unwrap();
    assert_eq!(users.len(), 300);
    for u in &users {
        assert_eq!(u.get_string("first_name").unwrap(), note);
    }
}
