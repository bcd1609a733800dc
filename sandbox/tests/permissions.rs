//! The permission matrix: each demo identity × each guarded action, and
//! project visibility per identity.

mod common;
use common::*;
use ftrack_sandbox::Sandbox;
use serde_json::{Value, json};

/// Identities: the four active demo users and the global API key acting as `artist`.
const WHO: [&str; 5] = ["admin", "pm", "artist", "restricted", "global"];

fn send(sb: &Sandbox, who: &str, batch: Value) -> Value {
    let (user, key) = match who {
        "global" => ("artist".to_string(), "demo-global-key".to_string()),
        u => (u.to_string(), format!("demo-key-{u}")),
    };
    post_with(&sb.url(), &user, &key, &[], &batch).1
}

struct Case {
    name: &'static str,
    permission: &'static str,
    allowed: [bool; 5],
    op: fn(&Sandbox) -> Value,
}

fn role_action(sb: &Sandbox, action: &str) -> Value {
    let mut op = json!({"action": action, "user_id": user_id(sb, "pm"), "role_id": role_id(sb, "Project Manager")});
    match action {
        "add_user_security_role" => op["role_id"] = role_id(sb, "User").into(),
        "update_user_security_role" => op["new_role_id"] = role_id(sb, "User").into(),
        "grant_user_security_role_project" => op["project_id"] = project_id(sb, "beta").into(),
        "revoke_user_security_role_project" => op["project_id"] = project_id(sb, "alpha").into(),
        _ => {}
    }
    op
}

fn project_update(sb: &Sandbox, name: &str) -> Value {
    json!({"action": "update", "entity_type": "Project", "entity_key": [project_id(sb, name)], "entity_data": {"full_name": "Renamed"}})
}

fn project_delete(sb: &Sandbox, name: &str) -> Value {
    json!({"action": "delete", "entity_type": "Project", "entity_key": [project_id(sb, name)]})
}

const USERS: [bool; 5] = [true, false, false, false, true];

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "add role",
            permission: "Manage users",
            allowed: USERS,
            op: |sb| role_action(sb, "add_user_security_role"),
        },
        Case {
            name: "remove role",
            permission: "Manage users",
            allowed: USERS,
            op: |sb| role_action(sb, "remove_user_security_role"),
        },
        Case {
            name: "revoke role (old name)",
            permission: "Manage users",
            allowed: USERS,
            op: |sb| role_action(sb, "revoke_user_security_role"),
        },
        Case {
            name: "replace role",
            permission: "Manage users",
            allowed: USERS,
            op: |sb| role_action(sb, "update_user_security_role"),
        },
        Case {
            name: "grant project",
            permission: "Manage users",
            allowed: USERS,
            op: |sb| role_action(sb, "grant_user_security_role_project"),
        },
        Case {
            name: "revoke project",
            permission: "Manage users",
            allowed: USERS,
            op: |sb| role_action(sb, "revoke_user_security_role_project"),
        },
        Case {
            name: "create UserSecurityRole",
            permission: "Manage users",
            allowed: USERS,
            op: |sb| json!({"action": "create", "entity_type": "UserSecurityRole", "entity_data": {"user_id": user_id(sb, "artist"), "security_role_id": role_id(sb, "Project Manager")}}),
        },
        Case {
            name: "delete UserSecurityRoleProject",
            permission: "Manage users",
            allowed: USERS,
            op: |sb| json!({"action": "delete", "entity_type": "UserSecurityRoleProject", "entity_key": [id_of(sb, "UserSecurityRoleProject where project.name is beta")]}),
        },
        Case {
            name: "create User",
            permission: "Manage users",
            allowed: USERS,
            op: |_| json!({"action": "create", "entity_type": "User", "entity_data": {"username": "newcomer"}}),
        },
        Case {
            name: "update User",
            permission: "Manage users",
            allowed: USERS,
            op: |sb| json!({"action": "update", "entity_type": "User", "entity_key": [user_id(sb, "pm")], "entity_data": {"first_name": "X"}}),
        },
        Case {
            name: "create Group",
            permission: "Manage users",
            allowed: USERS,
            op: |_| json!({"action": "create", "entity_type": "Group", "entity_data": {"name": "Comp", "local": true}}),
        },
        Case {
            name: "edit SecurityRole",
            permission: "Manage settings",
            allowed: USERS,
            op: |sb| json!({"action": "update", "entity_type": "SecurityRole", "entity_key": [role_id(sb, "User")], "entity_data": {"name": "Artist"}}),
        },
        Case {
            name: "create Project",
            permission: "Create projects",
            allowed: [true, true, false, false, true],
            op: |_| json!({"action": "create", "entity_type": "Project", "entity_data": {"name": "delta", "full_name": "Project Delta"}}),
        },
        Case {
            name: "update alpha",
            permission: "Update project",
            allowed: [true, true, false, false, true],
            op: |sb| project_update(sb, "alpha"),
        },
        Case {
            name: "update beta",
            permission: "Update project",
            allowed: [true, false, false, false, true],
            op: |sb| project_update(sb, "beta"),
        },
        Case {
            name: "update private gamma",
            permission: "Update project",
            allowed: [true, true, false, false, false],
            op: |sb| project_update(sb, "gamma"),
        },
        Case {
            name: "delete beta",
            permission: "Delete project",
            allowed: [true, false, false, false, true],
            op: |sb| project_delete(sb, "beta"),
        },
        Case {
            name: "delete private gamma",
            permission: "Delete project",
            allowed: [true, true, false, false, false],
            op: |sb| project_delete(sb, "gamma"),
        },
    ]
}

/// Whether `who` sees the project (or, for "UserSecurityRoleProject", the
/// grant on beta the matrix deletes).
fn sees(who: &str, project: &str) -> bool {
    let project = if project == "UserSecurityRoleProject" {
        "beta"
    } else {
        project
    };
    match who {
        "admin" => true,
        "pm" => ["alpha", "gamma"].contains(&project),
        "artist" | "global" => ["alpha", "beta"].contains(&project),
        "restricted" => project == "beta",
        _ => false,
    }
}

/// Everything the actions above could change, as admin sees it.
fn snapshot(sb: &Sandbox) -> Value {
    json!([
        data(
            sb,
            "select username, first_name from User order by username"
        ),
        data(
            sb,
            "select user_id, security_role_id, is_all_open_projects from UserSecurityRole order by id"
        ),
        data(
            sb,
            "select user_security_role_id, project_id from UserSecurityRoleProject order by id"
        ),
        data(sb, "select name from SecurityRole order by name"),
        data(sb, "select name, full_name from Project order by name"),
        data(sb, "select name from Group"),
    ])
}

#[test]
fn permission_matrix() {
    let mut wrong = Vec::new();
    for case in cases() {
        for (i, who) in WHO.iter().enumerate() {
            let sb = demo();
            let op = (case.op)(&sb);
            let before = snapshot(&sb);
            let reply = send(&sb, who, json!([op]));
            let allowed = reply.is_array();
            if allowed != case.allowed[i] {
                wrong.push(format!(
                    "{} as {who}: expected allowed={}, got {reply}",
                    case.name, case.allowed[i]
                ));
                continue;
            }
            if !allowed {
                let (exception, message) = error(&reply);
                // A project outside the identity's scope answers as a missing one.
                let hidden = ["alpha", "beta", "gamma", "UserSecurityRoleProject"]
                    .iter()
                    .any(|p| case.name.contains(p) && !sees(who, p));
                if hidden {
                    if exception != "NotFoundError" || !message.contains("No ") {
                        wrong.push(format!("{} as {who}: not hidden {reply}", case.name));
                    }
                } else if exception != "PermissionError" || !message.contains(case.permission) {
                    wrong.push(format!("{} as {who}: bad denial {reply}", case.name));
                }
                if snapshot(&sb) != before {
                    wrong.push(format!("{} as {who}: denial changed data", case.name));
                }
            } else if snapshot(&sb) == before {
                wrong.push(format!(
                    "{} as {who}: allowed but changed nothing",
                    case.name
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn project_visibility() {
    let sb = demo();
    let expected = [
        ("admin", vec!["alpha", "beta", "gamma"]),
        ("pm", vec!["alpha", "gamma"]),
        ("artist", vec!["alpha", "beta"]),
        ("restricted", vec!["beta"]),
        ("global", vec!["alpha", "beta"]),
    ];
    for (who, projects) in expected {
        let r = send(
            &sb,
            who,
            json!([
                {"action": "query", "expression": "select name from Project"},
                {"action": "query", "expression": "select project.name from UserSecurityRoleProject"},
                {"action": "query", "expression": "select user_security_role_projects.project.name from UserSecurityRole"},
                {"action": "query", "expression": "select username from User where user_security_roles.user_security_role_projects.project.name is gamma"}
            ]),
        );
        let names = values(r[0]["data"].as_array().unwrap(), "name");
        assert_eq!(names, projects, "{who}");
        for grant in r[1]["data"].as_array().unwrap() {
            let p = grant["project"]["name"].as_str().unwrap_or("");
            assert!(projects.contains(&p), "{who} sees grant on {p}");
        }
        for usr in r[2]["data"].as_array().unwrap() {
            for grant in usr["user_security_role_projects"].as_array().unwrap() {
                let p = grant["project"]["name"].as_str().unwrap_or("");
                assert!(projects.contains(&p), "{who} sees nested grant on {p}");
            }
        }
        let found = r[3]["data"].as_array().unwrap().len();
        assert_eq!(
            found,
            usize::from(projects.contains(&"gamma")),
            "{who} filters through gamma"
        );
    }
}

#[test]
fn restricted_user_refused_on_someone_else() {
    let sb = demo();
    let op = role_action(&sb, "add_user_security_role");
    let r = send(&sb, "restricted", json!([op]));
    let (exception, message) = error(&r);
    assert_eq!(exception, "PermissionError");
    assert!(
        message.contains("\"Manage users\"") && message.contains("restricted"),
        "{message}"
    );
}

#[test]
fn seeing_every_project_is_a_role_property_not_a_name() {
    let sb = demo();
    // Renaming the Administrator role keeps what it may see.
    let renamed = call(
        &sb,
        json!([{"action": "update", "entity_type": "SecurityRole", "entity_key": [role_id(&sb, "Administrator")], "entity_data": {"name": "Studio Admin"}}]),
    );
    assert!(renamed.is_array(), "{renamed}");
    let names = values(&data(&sb, "select name from Project"), "name");
    assert_eq!(names, ["alpha", "beta", "gamma"], "renamed role");
    // A role that merely takes the name gains nothing.
    let impostor = call(
        &sb,
        json!([
            {"action": "create", "entity_type": "SecurityRole", "entity_data": {"name": "Administrator", "type": "PROJECT"}},
        ]),
    );
    assert!(impostor.is_array(), "{impostor}");
    let impostor_id = impostor[0]["data"]["id"].as_str().unwrap().to_string();
    let swap = call(
        &sb,
        json!([
            {"action": "update_user_security_role", "user_id": user_id(&sb, "pm"), "role_id": role_id(&sb, "Project Manager"), "new_role_id": impostor_id},
        ]),
    );
    assert!(swap.is_array(), "{swap}");
    let r = call_as(
        &sb,
        "pm",
        json!([{"action": "query", "expression": "select name from Project"}]),
    );
    let names = values(r[0]["data"].as_array().unwrap(), "name");
    assert_eq!(names, ["alpha", "gamma"], "impostor named Administrator");
}

#[test]
fn seed_roles_carry_all_projects() {
    use ftrack_sandbox::seed::{SeedAssignment, SeedProject, SeedRole, SeedUser};
    let role = |name: &str, all_projects: bool| SeedRole {
        name: name.into(),
        role_type: "PROJECT".into(),
        permissions: vec![],
        all_projects,
    };
    let user = |name: &str| SeedUser {
        username: name.into(),
        first_name: None,
        last_name: None,
        email: None,
        is_active: true,
        api_key: Some(format!("demo-key-{name}")),
    };
    let assign = |user: &str, role: &str| SeedAssignment {
        user: user.into(),
        role: role.into(),
        all_open_projects: false,
        projects: vec![],
    };
    let seed = ftrack_sandbox::SeedData {
        roles: vec![role("Administrator", false), role("Studio Head", true)],
        users: vec![user("named"), user("head")],
        projects: vec![SeedProject {
            name: "secret".into(),
            full_name: None,
            is_private: true,
        }],
        assignments: vec![
            assign("named", "Administrator"),
            assign("head", "Studio Head"),
        ],
        global_keys: vec![],
        admin: None,
    };
    let text = serde_json::to_string(&seed).unwrap();
    assert!(text.contains("\"all_projects\":true"), "{text}");
    let sb = ftrack_sandbox::Sandbox::start(ftrack_sandbox::SandboxConfig {
        seed: ftrack_sandbox::Seed::Data(seed),
        ..ftrack_sandbox::SandboxConfig::demo()
    })
    .unwrap();
    assert_eq!(
        sb.admin_user(),
        "head",
        "default admin: first all-projects role holder"
    );
    let seen = |who: &str| {
        let r = call_as(
            &sb,
            who,
            json!([{"action": "query", "expression": "select name from Project"}]),
        );
        r[0]["data"].as_array().unwrap().len()
    };
    assert_eq!(seen("head"), 1);
    assert_eq!(seen("named"), 0);
}

#[test]
fn the_creator_of_a_project_can_see_and_manage_it() {
    let sb = demo();
    // pm's Project Manager role covers only granted projects.
    let r = call_as(
        &sb,
        "pm",
        json!([
            {"action": "create", "entity_type": "Project", "entity_data": {"name": "delta", "full_name": "Project Delta", "is_private": true}},
            {"action": "query", "expression": "select name from Project where name is delta"},
        ]),
    );
    assert!(r.is_array(), "{r}");
    assert_eq!(r[1]["data"].as_array().unwrap().len(), 1, "same batch: {r}");
    let delta = r[0]["data"]["id"].as_str().unwrap().to_string();
    let names = values(
        query_as(&sb, "pm", "select name from Project")["data"]
            .as_array()
            .unwrap(),
        "name",
    );
    assert_eq!(names, ["alpha", "delta", "gamma"]);
    let update = call_as(
        &sb,
        "pm",
        json!([{"action": "update", "entity_type": "Project", "entity_key": [delta], "entity_data": {"full_name": "Delta"}}]),
    );
    assert!(update.is_array(), "{update}");
    // The access is an ordinary grant on the creator's role.
    let grants = data(
        &sb,
        "select user_security_role.user.username, user_security_role.security_role.name from UserSecurityRoleProject where project.name is delta",
    );
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["user_security_role"]["user"]["username"], "pm");
    // Others still do not see a private project.
    assert_eq!(
        query_as(&sb, "artist", "Project where name is delta")["data"],
        json!([])
    );
    // A role that already covers the project needs no grant: admin sees
    // everything, and an open project is covered by an all-open-projects role.
    let r = call(
        &sb,
        json!([{"action": "create", "entity_type": "Project", "entity_data": {"name": "epsilon", "is_private": true}}]),
    );
    assert!(r.is_array(), "{r}");
    assert_eq!(
        data(&sb, "UserSecurityRoleProject where project.name is epsilon").len(),
        0
    );
}

/// A user who cannot see a project cannot learn whether it exists: every
/// action naming the private project `gamma` answers exactly as for an id
/// that does not exist (once the id itself is masked in the message).
#[test]
fn a_hidden_project_answers_like_a_missing_one() {
    let sb = demo();
    let gamma = project_id(&sb, "gamma");
    let missing = "0f0e0d0c-0b0a-4909-8807-060504030201".to_string();
    let gamma_grant = id_of(&sb, "UserSecurityRoleProject where project.name is gamma");
    let pm = user_id(&sb, "pm");
    let pm_role = role_id(&sb, "Project Manager");
    let usr = id_of(
        &sb,
        "UserSecurityRole where user.username is pm and security_role.name is \"Project Manager\"",
    );
    let ops = |id: &str| -> Vec<Value> {
        vec![
            json!({"action": "query", "expression": format!("Project where id is \"{id}\"")}),
            json!({"action": "query", "expression": format!("select id from UserSecurityRoleProject where project_id is \"{id}\"")}),
            json!({"action": "query", "expression": format!("User where user_security_roles.user_security_role_projects any (project_id is \"{id}\")")}),
            json!({"action": "update", "entity_type": "Project", "entity_key": [id], "entity_data": {"full_name": "Probe"}}),
            json!({"action": "update", "entity_type": "Project", "entity_key": id, "entity_data": {}}),
            json!({"action": "delete", "entity_type": "Project", "entity_key": [id]}),
            json!({"action": "create", "entity_type": "UserSecurityRoleProject", "entity_data": {"user_security_role_id": usr, "project_id": id}}),
            json!({"action": "grant_user_security_role_project", "user_id": pm, "role_id": pm_role, "project_id": id}),
            json!({"action": "revoke_user_security_role_project", "user_id": pm, "role_id": pm_role, "project_id": id}),
        ]
    };
    let mut compared = 0;
    for who in ["restricted", "artist", "global"] {
        for (probe, absent) in ops(&gamma).into_iter().zip(ops(&missing)) {
            let a = send(&sb, who, json!([probe]))
                .to_string()
                .replace(&gamma, "<id>");
            let b = send(&sb, who, json!([absent]))
                .to_string()
                .replace(&missing, "<id>");
            assert_eq!(a, b, "{who}: {probe}");
            compared += 1;
        }
        // The grant on gamma (a project-scoped row) is hidden the same way.
        for action in ["update", "delete"] {
            let op = |id: &str| json!({"action": action, "entity_type": "UserSecurityRoleProject", "entity_key": [id], "entity_data": {}});
            let a = send(&sb, who, json!([op(&gamma_grant)]))
                .to_string()
                .replace(&gamma_grant, "<id>");
            let b = send(&sb, who, json!([op(&missing)]))
                .to_string()
                .replace(&missing, "<id>");
            assert_eq!(a, b, "{who}: {action} the grant on gamma");
            compared += 1;
        }
    }
    assert_eq!(compared, 3 * 11);
    // And nothing changed: gamma and its grant are still there for admin.
    assert_eq!(data(&sb, "Project where name is gamma").len(), 1);
    assert_eq!(
        data(&sb, "UserSecurityRoleProject where project.name is gamma").len(),
        1
    );
}
