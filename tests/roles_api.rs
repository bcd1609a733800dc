//! The roles API (`ftrack::roles`) against the in-process sandbox over HTTP:
//! every operation, request counts, validation (including pending operations),
//! idempotent mode, permission denied, atomic batches, the audit, and what is
//! (never) sent on the wire.

use ftrack::roles::{AuditRow, Roles};
use ftrack::{Entity, ErrorKind, Session, Value};
use ftrack_sandbox::Sandbox;

#[path = "support/mod.rs"]
mod support;

use support::{admin, sandbox, session_as};

struct Demo {
    roles: Roles,
    session: Session,
}

impl Demo {
    fn new(sb: &Sandbox) -> Demo {
        let session = admin(sb);
        Demo {
            roles: Roles::new(&session),
            session,
        }
    }
    fn user(&self, name: &str) -> Entity {
        self.roles.find_user(name).unwrap()
    }
    fn role(&self, name: &str) -> Entity {
        self.roles.find_role(name).unwrap()
    }
    fn project(&self, name: &str) -> Entity {
        self.roles.find_project(name).unwrap()
    }
    /// role name → scope text, as the server has it now.
    fn scopes(&self, user: &str) -> Vec<(String, String)> {
        let u = self.user(user);
        self.roles
            .user_roles(&u)
            .unwrap()
            .into_iter()
            .map(|r| (r.role_name.clone(), r.scope_text()))
            .collect()
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Every action name sent to the sandbox so far.
fn sent_actions(sb: &Sandbox) -> Vec<String> {
    sb.received()
        .iter()
        .flat_map(|batch| batch.as_array().cloned().unwrap_or_default())
        .filter_map(|op| op["action"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn lists_roles_all_and_by_type() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let names = |roles: Vec<Entity>| -> Vec<String> {
        roles
            .iter()
            .map(|r| r.get_string("name").unwrap())
            .collect()
    };
    let before = sb.request_count();
    let all = d.roles.security_roles(None).unwrap();
    assert_eq!(sb.request_count() - before, 1);
    assert_eq!(
        names(all.clone()),
        [
            "API",
            "Administrator",
            "Project Manager",
            "Restricted User",
            "User"
        ]
    );
    // Type is loaded with the listing: reading it sends nothing.
    let before = sb.request_count();
    for r in &all {
        assert!(!r.get_string("type").unwrap().is_empty());
    }
    assert_eq!(sb.request_count(), before);
    assert_eq!(names(d.roles.security_roles(Some("API")).unwrap()), ["API"]);
    let project = names(d.roles.security_roles(Some("project")).unwrap());
    assert!(
        project.contains(&"Project Manager".to_owned()),
        "{project:?}"
    );
    assert!(!project.contains(&"API".to_owned()));
    let e = d.roles.security_roles(Some("GLOBAL")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn reading_a_users_roles_takes_one_request_with_projections() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let pm = d.user("pm");
    let before = sb.request_count();
    let roles = d.roles.user_roles(&pm).unwrap();
    assert_eq!(
        sb.request_count() - before,
        1,
        "one request for roles + scope"
    );
    assert_eq!(roles.len(), 1);
    let r = &roles[0];
    assert_eq!(r.role_name, "Project Manager");
    assert_eq!(r.role_type, "PROJECT");
    assert!(!r.all_open_projects);
    let names: Vec<_> = r.projects.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["alpha", "gamma"]);
    assert_eq!(r.projects[0].full_name, "Project Alpha");
    // The UserSecurityRole entity has everything loaded: no more requests.
    assert!(!r.entity.get_bool("is_all_open_projects").unwrap());
    let grants = r.entity.get_list("user_security_role_projects").unwrap();
    assert_eq!(grants.len(), 2);
    for g in grants {
        g.get_entity("project")
            .unwrap()
            .unwrap()
            .get_string("full_name")
            .unwrap();
    }
    assert_eq!(sb.request_count() - before, 1);
    let last = sb.received().pop().unwrap().to_string();
    assert!(last.contains("is_all_open_projects"), "{last}");
    assert!(
        last.contains("user_security_role_projects.project.full_name"),
        "{last}"
    );
    assert!(!last.contains("is_all_projects"), "{last}");

    let artist = d.scopes("artist");
    assert_eq!(artist, pairs(&[("User", "all open projects")]));
}

#[test]
fn the_demo_walkthrough_validates_against_pending_ops_and_commits_in_one_request() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let (artist, restricted, pm) = (d.user("artist"), d.user("restricted"), d.user("pm"));
    let (pm_role, user_role, restricted_role) = (
        d.role("Project Manager"),
        d.role("User"),
        d.role("Restricted User"),
    );
    let (alpha, gamma) = (d.project("alpha"), d.project("gamma"));

    assert!(d.roles.append(&artist, &pm_role, false).unwrap());
    // Only valid because the append above is pending.
    assert!(d.roles.grant_project(&artist, &pm_role, &gamma).unwrap());
    assert!(
        d.roles
            .replace(&restricted, &restricted_role, &user_role)
            .unwrap()
    );
    assert!(d.roles.revoke_project(&pm, &pm_role, &alpha).unwrap());
    assert_eq!(d.session.pending_len(), 4);

    // The dry run shows the actions with the protocol's field names.
    let pending: serde_json::Value =
        serde_json::from_str(&d.session.pending_json().unwrap()).unwrap();
    let ops = pending.as_array().unwrap();
    assert_eq!(
        ops.iter()
            .map(|o| o["action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "add_user_security_role",
            "grant_user_security_role_project",
            "update_user_security_role",
            "revoke_user_security_role_project"
        ]
    );
    assert_eq!(ops[0]["user_id"], artist.id());
    assert_eq!(ops[0]["role_id"], pm_role.id());
    assert_eq!(ops[0]["all_open_projects"], false);
    assert_eq!(ops[1]["project_id"], gamma.id());
    assert_eq!(ops[2]["new_role_id"], user_role.id());

    let before = sb.request_count();
    d.session.commit().unwrap();
    assert_eq!(
        sb.request_count() - before,
        1,
        "one request for the whole batch"
    );
    assert_eq!(d.session.pending_len(), 0);
    assert_eq!(sb.received().pop().unwrap().as_array().unwrap().len(), 4);

    assert_eq!(
        d.scopes("artist"),
        pairs(&[("Project Manager", "gamma"), ("User", "all open projects")])
    );
    assert_eq!(d.scopes("restricted"), pairs(&[("User", "beta")]));
    assert_eq!(d.scopes("pm"), pairs(&[("Project Manager", "gamma")]));

    // After the commit, validation sees the server's new state.
    let e = d
        .roles
        .grant_project(&artist, &pm_role, &gamma)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ProjectAlreadyGranted);
}

#[test]
fn remove_and_append_with_all_open_projects() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let artist = d.user("artist");
    let (user_role, pm_role) = (d.role("User"), d.role("Project Manager"));
    assert!(d.roles.remove(&artist, &user_role).unwrap());
    assert!(d.roles.append(&artist, &pm_role, true).unwrap());
    d.session.commit().unwrap();
    assert_eq!(
        d.scopes("artist"),
        pairs(&[("Project Manager", "all open projects")])
    );
}

#[test]
fn role_changes_and_entity_changes_share_one_ordered_batch() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let artist = d.user("artist");
    artist.set("first_name", Value::from("Arty")).unwrap();
    d.roles
        .append(&artist, &d.role("Project Manager"), false)
        .unwrap();
    let before = sb.request_count();
    d.session.commit().unwrap();
    assert_eq!(sb.request_count() - before, 1);
    let batch = sb.received().pop().unwrap();
    let actions: Vec<_> = batch
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["update", "add_user_security_role"]);
}

#[test]
fn each_validation_failure_is_its_own_error_naming_user_role_and_project() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let (artist, pm, restricted) = (d.user("artist"), d.user("pm"), d.user("restricted"));
    let (user_role, pm_role, api_role) = (d.role("User"), d.role("Project Manager"), d.role("API"));
    let (alpha, beta) = (d.project("alpha"), d.project("beta"));

    let check = |e: ftrack::Error, kind: ErrorKind, words: &[&str]| {
        assert_eq!(e.kind(), kind, "{e}");
        assert!(matches!(e, ftrack::Error::Role { .. }), "{e:?}");
        let text = e.to_string();
        for w in words {
            assert!(text.contains(w), "{text:?} should name {w:?}");
        }
    };
    check(
        d.roles.append(&artist, &user_role, false).unwrap_err(),
        ErrorKind::RoleAlreadyAssigned,
        &["artist", "User"],
    );
    check(
        d.roles.append(&artist, &api_role, false).unwrap_err(),
        ErrorKind::RoleNotAssignable,
        &["artist", "API"],
    );
    check(
        d.roles.replace(&artist, &user_role, &api_role).unwrap_err(),
        ErrorKind::RoleNotAssignable,
        &["artist", "API"],
    );
    check(
        d.roles.remove(&artist, &pm_role).unwrap_err(),
        ErrorKind::RoleNotAssigned,
        &["artist", "Project Manager"],
    );
    check(
        d.roles.replace(&artist, &pm_role, &user_role).unwrap_err(),
        ErrorKind::RoleNotAssigned,
        &["artist", "Project Manager"],
    );
    check(
        d.roles.replace(&pm, &pm_role, &pm_role).unwrap_err(),
        ErrorKind::RoleAlreadyAssigned,
        &["pm", "Project Manager"],
    );
    check(
        d.roles
            .grant_project(&artist, &pm_role, &alpha)
            .unwrap_err(),
        ErrorKind::RoleNotAssigned,
        &["artist", "Project Manager", "alpha"],
    );
    check(
        d.roles.grant_project(&pm, &pm_role, &alpha).unwrap_err(),
        ErrorKind::ProjectAlreadyGranted,
        &["pm", "Project Manager", "alpha"],
    );
    check(
        d.roles
            .revoke_project(&restricted, &d.role("Restricted User"), &alpha)
            .unwrap_err(),
        ErrorKind::ProjectNotGranted,
        &["restricted", "Restricted User", "alpha"],
    );
    check(
        d.roles
            .revoke_project(&artist, &user_role, &beta)
            .unwrap_err(),
        ErrorKind::ProjectNotGranted,
        &["artist", "User", "beta", "all open projects"],
    );
    // Nothing was recorded, and no write was sent.
    assert_eq!(d.session.pending_len(), 0);
    let writes: Vec<_> = sent_actions(&sb)
        .into_iter()
        .filter(|a| a.contains("security_role"))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");

    // Pending operations count: remove then grant on the removed role fails;
    // append twice fails.
    d.roles.remove(&pm, &pm_role).unwrap();
    check(
        d.roles.grant_project(&pm, &pm_role, &beta).unwrap_err(),
        ErrorKind::RoleNotAssigned,
        &["pm", "Project Manager", "beta"],
    );
    d.roles.append(&artist, &pm_role, false).unwrap();
    check(
        d.roles.append(&artist, &pm_role, true).unwrap_err(),
        ErrorKind::RoleAlreadyAssigned,
        &["artist", "Project Manager"],
    );
    d.roles.grant_project(&artist, &pm_role, &beta).unwrap();
    check(
        d.roles.grant_project(&artist, &pm_role, &beta).unwrap_err(),
        ErrorKind::ProjectAlreadyGranted,
        &["artist", "beta"],
    );
    assert_eq!(d.session.pending_len(), 3);
}

#[test]
fn lookups_name_what_was_not_found() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let e = d.roles.find_role("Supervisor").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("\"Supervisor\""), "{e}");
    assert!(
        e.to_string().contains("Project Manager"),
        "lists the roles: {e}"
    );
    let e = d.roles.find_user("nobody").unwrap_err();
    assert!(e.to_string().contains("\"nobody\""), "{e}");
    let e = d.roles.find_project("delta").unwrap_err();
    assert!(e.to_string().contains("\"delta\""), "{e}");
    assert_eq!(
        d.roles.find_project("Project Gamma").unwrap().id(),
        d.project("gamma").id()
    );
}

#[test]
fn idempotent_mode_turns_no_ops_into_nothing() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let roles = d.roles.clone().idempotent(true);
    let (artist, pm) = (d.user("artist"), d.user("pm"));
    let (user_role, pm_role, api_role) = (d.role("User"), d.role("Project Manager"), d.role("API"));
    let (alpha, beta) = (d.project("alpha"), d.project("beta"));
    assert!(!roles.append(&artist, &user_role, true).unwrap());
    assert!(!roles.remove(&artist, &pm_role).unwrap());
    assert!(!roles.grant_project(&pm, &pm_role, &alpha).unwrap());
    assert!(!roles.revoke_project(&pm, &pm_role, &beta).unwrap());
    assert!(!roles.replace(&artist, &pm_role, &user_role).unwrap());
    assert_eq!(d.session.pending_len(), 0);
    // Real errors stay errors.
    assert_eq!(
        roles.append(&artist, &api_role, false).unwrap_err().kind(),
        ErrorKind::RoleNotAssignable
    );
    assert_eq!(
        roles
            .grant_project(&artist, &pm_role, &alpha)
            .unwrap_err()
            .kind(),
        ErrorKind::RoleNotAssigned
    );
    // Appending a held role with all open projects records just that grant.
    assert!(roles.append(&pm, &pm_role, true).unwrap());
    let pending = d.session.pending_json().unwrap();
    assert!(
        pending.contains("grant_user_security_role_project"),
        "{pending}"
    );
    assert!(pending.contains("\"all_open_projects\":true"), "{pending}");
    d.session.commit().unwrap();
    assert_eq!(
        d.scopes("pm"),
        pairs(&[("Project Manager", "all open projects + alpha, gamma")])
    );
}

#[test]
fn rollback_discards_pending_role_operations() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let artist = d.user("artist");
    d.roles
        .append(&artist, &d.role("Project Manager"), false)
        .unwrap();
    assert_eq!(d.session.pending_len(), 1);
    d.session.rollback();
    assert_eq!(d.session.pending_len(), 0);
    let before = sb.request_count();
    d.session.commit().unwrap();
    assert_eq!(sb.request_count(), before, "nothing left to send");
    assert_eq!(d.scopes("artist"), pairs(&[("User", "all open projects")]));
}

#[test]
fn permission_denied_for_restricted_keeps_the_operations_pending() {
    let sb = sandbox();
    let s = session_as(&sb, "restricted");
    let roles = Roles::new(&s);
    let artist = roles.find_user("artist").unwrap();
    let pm_role = roles.find_role("Project Manager").unwrap();
    roles.append(&artist, &pm_role, false).unwrap();
    let e = s.commit().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.server_error().is_some());
    assert!(
        e.to_string().contains("Manage users"),
        "server's explanation: {e}"
    );
    assert_eq!(s.pending_len(), 1, "the refused operation stays pending");
    let d = Demo::new(&sb);
    assert_eq!(d.scopes("artist"), pairs(&[("User", "all open projects")]));
}

#[test]
fn a_batch_whose_last_operation_the_server_refuses_changes_nothing() {
    let sb = sandbox();
    let a = Demo::new(&sb);
    let b = Demo::new(&sb);
    let (restricted, pm) = (a.user("restricted"), a.user("pm"));
    a.roles
        .replace(&restricted, &a.role("Restricted User"), &a.role("User"))
        .unwrap();
    a.roles
        .grant_project(&pm, &a.role("Project Manager"), &a.project("beta"))
        .unwrap();
    // Another session grants the same project first, so A's last op is refused.
    b.roles
        .grant_project(
            &b.user("pm"),
            &b.role("Project Manager"),
            &b.project("beta"),
        )
        .unwrap();
    b.session.commit().unwrap();

    let e = a.session.commit().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation, "{e}");
    assert!(e.to_string().contains("already granted"), "{e}");
    assert_eq!(a.session.pending_len(), 2, "both operations stay pending");
    assert_eq!(
        a.scopes("restricted"),
        pairs(&[("Restricted User", "beta")])
    );
    // The caller can fix and retry: roll back, record again, commit.
    a.session.rollback();
    a.roles
        .replace(&restricted, &a.role("Restricted User"), &a.role("User"))
        .unwrap();
    a.session.commit().unwrap();
    assert_eq!(a.scopes("restricted"), pairs(&[("User", "beta")]));
}

#[test]
fn audit_lists_every_user_role_and_scope() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let before = sb.request_count();
    let rows = d.roles.audit().unwrap();
    assert!(sb.request_count() - before <= 2);
    let row = |u: &str| -> Vec<&AuditRow> { rows.iter().filter(|r| r.username == u).collect() };
    assert_eq!(rows.len(), 5);
    let pm = row("pm");
    assert_eq!(pm[0].role.as_deref(), Some("Project Manager"));
    assert_eq!(pm[0].role_type.as_deref(), Some("PROJECT"));
    assert!(!pm[0].all_open_projects);
    assert_eq!(pm[0].projects, ["alpha", "gamma"]);
    assert!(row("admin")[0].all_open_projects);
    assert!(!row("inactive")[0].active);
    assert_eq!(
        rows.iter().map(|r| r.username.as_str()).collect::<Vec<_>>(),
        ["admin", "artist", "inactive", "pm", "restricted"]
    );
}

#[test]
fn audit_of_a_thousand_users_takes_a_constant_number_of_requests() {
    let sb = support::synthetic_sandbox(1000);
    let d = Demo::new(&sb);
    let before = sb.request_count();
    let rows = d.roles.audit().unwrap();
    let used = sb.request_count() - before;
    // The pages, at most three requested ahead past the end
    // (max_concurrent_pages 4 - 1), and at most two more.
    assert!(used <= 1005_u64.div_ceil(500) + 3 + 2, "{used} requests");
    assert_eq!(rows.len(), 1005);
    let u = rows.iter().find(|r| r.username == "user00777").unwrap();
    assert_eq!(u.role.as_deref(), Some("User"));
    assert!(u.all_open_projects);
}

#[test]
fn deprecated_names_are_never_sent() {
    let sb = sandbox();
    let d = Demo::new(&sb);
    let (artist, pm) = (d.user("artist"), d.user("pm"));
    let (user_role, pm_role, restricted_role) = (
        d.role("User"),
        d.role("Project Manager"),
        d.role("Restricted User"),
    );
    let (alpha, beta) = (d.project("alpha"), d.project("beta"));
    d.roles.append(&artist, &pm_role, true).unwrap();
    d.roles.grant_project(&artist, &pm_role, &beta).unwrap();
    d.roles.revoke_project(&pm, &pm_role, &alpha).unwrap();
    d.roles
        .replace(&artist, &user_role, &restricted_role)
        .unwrap();
    d.roles.remove(&artist, &pm_role).unwrap();
    d.session.commit().unwrap();
    d.roles.audit().unwrap();
    let actions = sent_actions(&sb);
    for a in [
        "add_user_security_role",
        "grant_user_security_role_project",
        "revoke_user_security_role_project",
        "update_user_security_role",
        "remove_user_security_role",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} sent");
    }
    assert!(!actions.iter().any(|x| x == "revoke_user_security_role"));
    for body in sb.received() {
        let text = body.to_string();
        assert!(!text.contains("is_all_projects"), "{text}");
    }
}
