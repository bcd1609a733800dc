//! create / update / delete, the security-role actions, validation errors
//! and all-or-nothing batches.

mod common;
use common::*;
use serde_json::{Value, json};

#[test]
fn create_with_client_id_server_id_refs_and_fk_ids() {
    let sb = demo();
    let user = user_id(&sb, "artist");
    let pm_role = role_id(&sb, "Project Manager");
    let client_id = "f77cff7c-0000-4000-8000-000000000001";
    let r = call(
        &sb,
        json!([
            {"action": "create", "entity_type": "User", "entity_key": ["11111111-0000-4000-8000-000000000001"],
             "entity_data": {"__entity_type__": "User", "id": "11111111-0000-4000-8000-000000000001", "username": "martin", "resource_type": "user"}},
            {"action": "create", "entity_type": "User", "entity_data": {"__entity_type__": "User", "username": "js-user", "first_name": "J"}},
            {"action": "create", "entity_type": "UserSecurityRole", "entity_key": [client_id],
             "entity_data": {"__entity_type__": "UserSecurityRole", "id": client_id, "is_all_projects": true,
                             "security_role": {"__entity_type__": "SecurityRole", "id": pm_role},
                             "user": {"__entity_type__": "User", "id": user}}},
            {"action": "create", "entity_type": "UserSecurityRole",
             "entity_data": {"user_id": "11111111-0000-4000-8000-000000000001", "security_role_id": pm_role}}
        ]),
    );
    assert!(r.is_array(), "{r}");
    assert_eq!(r[0]["action"], "create");
    assert_eq!(r[0]["data"]["id"], "11111111-0000-4000-8000-000000000001");
    assert_eq!(r[0]["data"]["is_active"], false);
    assert_eq!(r[0]["data"]["resource_type"], "user");
    let generated = r[1]["data"]["id"].as_str().unwrap();
    assert_eq!(generated.len(), 36);
    assert_eq!(r[1]["data"]["first_name"], "J");
    assert_eq!(r[2]["data"]["is_all_open_projects"], true);
    assert_eq!(r[2]["data"]["user_id"], user.as_str());
    assert_eq!(r[3]["data"]["security_role_id"], pm_role.as_str());
    let roles = data(
        &sb,
        "select security_role.name from UserSecurityRole where user.username is artist",
    );
    assert_eq!(roles.len(), 2);
}

#[test]
fn update_with_list_or_string_key_and_delete() {
    let sb = demo();
    let id = user_id(&sb, "artist");
    let r = call(
        &sb,
        json!([
            {"action": "update", "entity_type": "User", "entity_key": [id], "entity_data": {"__entity_type__": "User", "first_name": "Johnny"}},
            {"action": "update", "entity_type": "User", "entity_key": id, "entity_data": {"last_name": "Doe-Smith"}}
        ]),
    );
    assert_eq!(r[0]["action"], "update");
    assert_eq!(r[0]["data"]["first_name"], "Johnny");
    assert_eq!(r[0]["data"]["resource_type"], "user");
    assert!(r[0]["data"].get("last_name").is_none());
    assert_eq!(r[1]["data"]["last_name"], "Doe-Smith");
    let usr = id_of(&sb, "UserSecurityRole where user.username is artist");
    let r = call(
        &sb,
        json!([{"action": "delete", "entity_type": "UserSecurityRole", "entity_key": usr}]),
    );
    assert_eq!(r, json!([{"action": "delete", "data": true}]));
    assert!(data(&sb, "UserSecurityRole where user.username is artist").is_empty());
    // Deleting a user cascades to their roles.
    let pm = user_id(&sb, "pm");
    call(
        &sb,
        json!([{"action": "delete", "entity_type": "User", "entity_key": [pm]}]),
    );
    let grants = data(&sb, "select project.name from UserSecurityRoleProject");
    assert_eq!(
        grants.len(),
        1,
        "only restricted's grant on beta is left: {grants:?}"
    );
    assert!(data(&sb, &format!("UserSecurityRole where user_id is \"{pm}\"")).is_empty());
}

#[test]
fn write_errors() {
    let sb = demo();
    let id = user_id(&sb, "artist");
    let cases = [
        (
            json!({"action": "create", "entity_type": "Nope", "entity_data": {}}),
            "NotFoundError",
        ),
        (
            json!({"action": "create", "entity_type": "User", "entity_data": {"username": "x", "bogus": 1}}),
            "ValidationError",
        ),
        (
            json!({"action": "create", "entity_type": "User", "entity_data": {"first_name": "no username"}}),
            "ValidationError",
        ),
        (
            json!({"action": "create", "entity_type": "User", "entity_data": {"username": "pm"}}),
            "ValidationError",
        ),
        (
            json!({"action": "create", "entity_type": "User", "entity_data": {"username": 5, "is_active": "yes"}}),
            "ValidationError",
        ),
        (
            json!({"action": "create", "entity_type": "User", "entity_data": {"id": id, "username": "dup"}}),
            "ValidationError",
        ),
        (
            json!({"action": "create", "entity_type": "UserSecurityRole", "entity_data": {"user_id": id, "security_role_id": "missing"}}),
            "ValidationError",
        ),
        (
            json!({"action": "update", "entity_type": "User", "entity_key": ["missing"], "entity_data": {"first_name": "x"}}),
            "NotFoundError",
        ),
        (
            json!({"action": "update", "entity_type": "User", "entity_key": [id], "entity_data": {"resource_type": "group"}}),
            "ValidationError",
        ),
        (
            json!({"action": "update", "entity_type": "User", "entity_key": {"id": id}, "entity_data": {}}),
            "ValidationError",
        ),
        (
            json!({"action": "delete", "entity_type": "User", "entity_key": ["missing"]}),
            "NotFoundError",
        ),
        (
            json!({"action": "delete", "entity_type": "User"}),
            "ValidationError",
        ),
        (json!({"action": "query"}), "ValidationError"),
        (json!({"no_action": 1}), "ValidationError"),
    ];
    for (op, exception) in cases {
        let r = call(&sb, json!([op.clone()]));
        assert_eq!(error(&r).0, exception, "{op}: {r}");
    }
    let r = call(&sb, json!([{"action": "frobnicate"}]));
    let (exception, message) = error(&r);
    assert_eq!(exception, "ValidationError");
    assert!(message.contains("Invalid action 'frobnicate'"), "{message}");
}

#[test]
fn failed_batch_applies_nothing_and_names_the_operation() {
    let sb = demo();
    let artist = user_id(&sb, "artist");
    let r = call(
        &sb,
        json!([
            {"action": "update", "entity_type": "User", "entity_key": [artist], "entity_data": {"first_name": "Changed"}},
            {"action": "create", "entity_type": "User", "entity_data": {"username": "newbie"}},
            {"action": "add_user_security_role", "user_id": artist, "role_id": role_id(&sb, "Project Manager")},
            {"action": "delete", "entity_type": "User", "entity_key": ["does-not-exist"]}
        ]),
    );
    let (exception, message) = error(&r);
    assert_eq!(exception, "NotFoundError");
    assert!(
        message.starts_with("Operation 3 (delete) failed"),
        "{message}"
    );
    let u = data(&sb, "select first_name from User where username is artist");
    assert_eq!(u[0]["first_name"], "Art");
    assert!(data(&sb, "User where username is newbie").is_empty());
    assert_eq!(
        data(&sb, "UserSecurityRole where user.username is artist").len(),
        1
    );
}

fn role_op(action: &str, user: &str, role: &str, extra: Value) -> Value {
    let mut op = json!({"action": action, "user_id": user, "role_id": role});
    if let (Some(o), Some(e)) = (op.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    op
}

#[test]
fn the_five_role_actions_and_alias() {
    let sb = demo();
    let artist = user_id(&sb, "artist");
    let pm = role_id(&sb, "Project Manager");
    let admin_role = role_id(&sb, "Administrator");
    let gamma = project_id(&sb, "gamma");
    let r = call(
        &sb,
        json!([role_op("add_user_security_role", &artist, &pm, json!({}))]),
    );
    assert_eq!(r[0]["action"], "add_user_security_role");
    assert_eq!(r[0]["data"]["is_all_open_projects"], false);
    let r = call(
        &sb,
        json!([role_op(
            "grant_user_security_role_project",
            &artist,
            &pm,
            json!({"project_id": gamma})
        )]),
    );
    assert!(r.is_array(), "{r}");
    let grants = data(
        &sb,
        "select project.name from UserSecurityRoleProject where user_security_role.user.username is artist",
    );
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["project"]["name"], "gamma");
    let r = call(
        &sb,
        json!([role_op(
            "grant_user_security_role_project",
            &artist,
            &pm,
            json!({"all_open_projects": true})
        )]),
    );
    assert_eq!(r[0]["data"]["is_all_open_projects"], true, "{r}");
    let r = call(
        &sb,
        json!([role_op(
            "revoke_user_security_role_project",
            &artist,
            &pm,
            json!({"all_open_projects": true})
        )]),
    );
    assert_eq!(r[0]["data"]["is_all_open_projects"], false, "{r}");
    let r = call(
        &sb,
        json!([role_op(
            "revoke_user_security_role_project",
            &artist,
            &pm,
            json!({"project_id": gamma})
        )]),
    );
    assert!(r.is_array(), "{r}");
    assert!(
        data(
            &sb,
            "UserSecurityRoleProject where user_security_role.user.username is artist"
        )
        .is_empty()
    );
    let r = call(
        &sb,
        json!([role_op(
            "update_user_security_role",
            &artist,
            &pm,
            json!({"new_role_id": admin_role})
        )]),
    );
    assert!(r.is_array(), "{r}");
    let names = values(
        &data(
            &sb,
            "select security_role.name from UserSecurityRole where user.username is artist",
        )
        .iter()
        .map(|r| r["security_role"].clone())
        .collect::<Vec<_>>(),
        "name",
    );
    assert_eq!(names, ["Administrator", "User"]);
    let r = call(
        &sb,
        json!([role_op(
            "remove_user_security_role",
            &artist,
            &admin_role,
            json!({})
        )]),
    );
    assert!(r.is_array(), "{r}");
    let user_role = role_id(&sb, "User");
    let r = call(
        &sb,
        json!([role_op(
            "revoke_user_security_role",
            &artist,
            &user_role,
            json!({})
        )]),
    );
    assert!(r.is_array(), "{r}");
    assert!(data(&sb, "UserSecurityRole where user.username is artist").is_empty());
    let r = call(
        &sb,
        json!([role_op(
            "add_user_security_role",
            &artist,
            &user_role,
            json!({"all_open_projects": true})
        )]),
    );
    assert_eq!(r[0]["data"]["is_all_open_projects"], true);
}

#[test]
fn role_action_validation_errors() {
    let sb = demo();
    let pm_user = user_id(&sb, "pm");
    let pm = role_id(&sb, "Project Manager");
    let api = role_id(&sb, "API");
    let user_role = role_id(&sb, "User");
    let alpha = project_id(&sb, "alpha");
    let beta = project_id(&sb, "beta");
    let cases = [
        (
            role_op("add_user_security_role", &pm_user, &pm, json!({})),
            "ValidationError",
            "already holds",
        ),
        (
            role_op("add_user_security_role", &pm_user, &api, json!({})),
            "ValidationError",
            "cannot be given",
        ),
        (
            role_op("remove_user_security_role", &pm_user, &user_role, json!({})),
            "ValidationError",
            "does not hold",
        ),
        (
            role_op(
                "update_user_security_role",
                &pm_user,
                &user_role,
                json!({"new_role_id": pm}),
            ),
            "ValidationError",
            "does not hold",
        ),
        (
            role_op(
                "update_user_security_role",
                &pm_user,
                &pm,
                json!({"new_role_id": api}),
            ),
            "ValidationError",
            "cannot be given",
        ),
        (
            role_op(
                "grant_user_security_role_project",
                &pm_user,
                &pm,
                json!({"project_id": alpha}),
            ),
            "ValidationError",
            "already granted",
        ),
        (
            role_op(
                "revoke_user_security_role_project",
                &pm_user,
                &pm,
                json!({"project_id": beta}),
            ),
            "ValidationError",
            "not granted",
        ),
        (
            role_op(
                "grant_user_security_role_project",
                &pm_user,
                &user_role,
                json!({"project_id": beta}),
            ),
            "ValidationError",
            "does not hold",
        ),
        (
            role_op(
                "revoke_user_security_role_project",
                &pm_user,
                &pm,
                json!({"all_open_projects": true}),
            ),
            "ValidationError",
            "does not cover",
        ),
        (
            role_op("add_user_security_role", "nobody", &pm, json!({})),
            "NotFoundError",
            "No User",
        ),
        (
            role_op("add_user_security_role", &pm_user, "nothing", json!({})),
            "NotFoundError",
            "No SecurityRole",
        ),
        (
            role_op(
                "grant_user_security_role_project",
                &pm_user,
                &pm,
                json!({"project_id": "nowhere"}),
            ),
            "NotFoundError",
            "No Project",
        ),
        (
            json!({"action": "add_user_security_role", "user_id": pm_user}),
            "ValidationError",
            "role_id",
        ),
    ];
    for (op, exception, text) in cases {
        let r = call(&sb, json!([op.clone()]));
        let (e, m) = error(&r);
        assert_eq!(e, exception, "{op}: {r}");
        assert!(m.contains(text), "{op}: {m}");
    }
    // Creating a duplicate or API-role UserSecurityRole as an entity is refused too.
    let r = call(
        &sb,
        json!([{"action": "create", "entity_type": "UserSecurityRole", "entity_data": {"user_id": pm_user, "security_role_id": pm}}]),
    );
    assert!(error(&r).1.contains("already holds"));
    let r = call(
        &sb,
        json!([{"action": "create", "entity_type": "UserSecurityRole", "entity_data": {"user_id": pm_user, "security_role_id": api}}]),
    );
    assert!(error(&r).1.contains("cannot be given"));
}

#[test]
fn collections_can_be_set_on_update() {
    let sb = demo();
    let r = call(
        &sb,
        json!([
            {"action": "create", "entity_type": "Group", "entity_data": {"id": "g1", "name": "Lighting", "local": true}},
            {"action": "create", "entity_type": "Membership", "entity_data": {"id": "m1", "group_id": "g1", "user_id": user_id(&sb, "artist")}},
            {"action": "create", "entity_type": "Membership", "entity_data": {"id": "m2", "group": {"__entity_type__": "Group", "id": "g1"}, "user_id": user_id(&sb, "pm")}},
            {"action": "update", "entity_type": "Group", "entity_key": ["g1"], "entity_data": {"memberships": [{"__entity_type__": "Membership", "id": "m2"}]}}
        ]),
    );
    assert!(r.is_array(), "{r}");
    let g = data(
        &sb,
        "select memberships.user.username from Group where name is Lighting",
    );
    assert_eq!(g[0]["memberships"].as_array().unwrap().len(), 1);
    assert_eq!(g[0]["memberships"][0]["user"]["username"], "pm");
}
