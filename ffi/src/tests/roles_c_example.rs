//! `examples/roles.c`, compiled with `cc -Wall -Wextra -Werror` against
//! `include/ftrack.h`, linked to the `libftrack.so` of this build, and run against
//! the sandbox with credentials from the environment. Also the roles functions
//! of the ABI called directly: each validation status, permission denied, NULLs.

use super::sessions;
use super::support;

use std::ffi::{CStr, CString, c_char};
use std::process::Command;
use std::ptr;

use crate::entity::{ftrack_entity, ftrack_entity_destroy};
use crate::entity_list::{ftrack_entity_list, ftrack_entity_list_destroy, ftrack_entity_list_len};
use crate::error::ftrack_last_error_message;
use crate::roles::*;
use crate::session::{
    ftrack_session, ftrack_session_commit, ftrack_session_create, ftrack_session_destroy,
    ftrack_session_pending_count,
};
use crate::status::ftrack_status;
use ftrack::roles::Roles;

fn admin_roles(sb: &ftrack_sandbox::Sandbox) -> Roles {
    Roles::new(&sessions::admin(sb))
}

fn scopes(sb: &ftrack_sandbox::Sandbox, user: &str) -> Vec<String> {
    let roles = admin_roles(sb);
    let u = roles.find_user(user).unwrap();
    roles
        .user_roles(&u)
        .unwrap()
        .iter()
        .map(|r| format!("{}: {}", r.role_name, r.scope_text()))
        .collect()
}

#[test]
fn the_c_example_appends_grants_commits_and_prints() {
    if !support::need("roles_c_example", "cc", "apt-get install -y gcc") {
        return;
    }
    let sb = support::start_sandbox();
    let exe = support::scratch("roles-example").join("roles");
    let source = support::root().join("examples").join("roles.c");
    support::compile_c(&[&source], &exe, support::Link::Shared);

    let mut cmd = Command::new(&exe);
    support::sandbox_env(&mut cmd, &sb);
    let out = support::run("examples/roles.c", &mut cmd);
    support::show(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let before = stdout.find("committing").expect("commits");
    let (first, second) = stdout.split_at(before);
    assert!(first.contains("artist's security roles:"), "{stdout}");
    assert!(
        first.contains("User") && first.contains("all open projects"),
        "{stdout}"
    );
    assert!(!first.contains("Project Manager"), "{stdout}");
    assert!(
        second.contains("committing 2 operation(s) in one request"),
        "{stdout}"
    );
    assert!(
        second.contains("Project Manager") && second.contains("gamma (Project Gamma)"),
        "{stdout}"
    );
    assert_eq!(
        scopes(&sb, "artist"),
        ["Project Manager: gamma", "User: all open projects"]
    );

    // Running it again: the role is held and gamma granted; it says so and succeeds.
    let mut again = Command::new(&exe);
    support::sandbox_env(&mut again, &sb);
    let out = support::run("examples/roles.c (again)", &mut again);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("already holds"), "{stdout}");
    assert!(stdout.contains("already granted"), "{stdout}");

    // A bad role name: exit code 3 and the last-error message names it.
    let mut bad = Command::new(&exe);
    support::sandbox_env(&mut bad, &sb);
    bad.args(["artist", "Supervisor", "gamma"]);
    let out = bad.output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("FTRACK_STATUS_NOT_FOUND"), "{stderr}");
    assert!(stderr.contains("\"Supervisor\""), "{stderr}");

    // Restricted may not change anyone's roles: PERMISSION_DENIED, exit code 4.
    let mut denied = Command::new(&exe);
    support::sandbox_env(&mut denied, &sb);
    denied
        .env("FTRACK_API_USER", "restricted")
        .env("FTRACK_API_KEY", "demo-key-restricted")
        .args(["pm", "User", "beta"]);
    let out = denied.output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("FTRACK_STATUS_PERMISSION_DENIED"),
        "{stderr}"
    );
    assert_eq!(scopes(&sb, "pm"), ["Project Manager: alpha, gamma"]);
}

// ---------------------------------------------------------------- direct ABI

fn last_error() -> String {
    let mut buf = vec![0 as c_char; 2048];
    unsafe { ftrack_last_error_message(buf.as_mut_ptr(), buf.len(), ptr::null_mut()) };
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

struct Abi {
    session: *mut ftrack_session,
}

impl Abi {
    fn new(sb: &ftrack_sandbox::Sandbox, user: &str) -> Abi {
        let url = CString::new(sb.url()).unwrap();
        let key = CString::new(format!("demo-key-{user}")).unwrap();
        let user = CString::new(user).unwrap();
        let mut session = ptr::null_mut();
        let st = unsafe {
            ftrack_session_create(url.as_ptr(), key.as_ptr(), user.as_ptr(), &mut session)
        };
        assert_eq!(st, ftrack_status::Ok, "{}", last_error());
        Abi { session }
    }
    fn find(
        &self,
        f: unsafe extern "C" fn(
            *mut ftrack_session,
            *const c_char,
            *mut *mut ftrack_entity,
        ) -> ftrack_status,
        name: &str,
    ) -> *mut ftrack_entity {
        let name = CString::new(name).unwrap();
        let mut out = ptr::null_mut();
        let st = unsafe { f(self.session, name.as_ptr(), &mut out) };
        assert_eq!(st, ftrack_status::Ok, "{}", last_error());
        out
    }
    fn user(&self, n: &str) -> *mut ftrack_entity {
        self.find(ftrack_user_find, n)
    }
    fn role(&self, n: &str) -> *mut ftrack_entity {
        self.find(ftrack_security_role_find, n)
    }
    fn project(&self, n: &str) -> *mut ftrack_entity {
        self.find(ftrack_project_find, n)
    }
}

impl Drop for Abi {
    fn drop(&mut self) {
        unsafe { ftrack_session_destroy(self.session) };
    }
}

#[test]
fn abi_statuses_for_every_validation_failure() {
    let sb = support::start_sandbox();
    let a = Abi::new(&sb, "admin");
    let s = a.session;
    let (artist, pm, restricted) = (a.user("artist"), a.user("pm"), a.user("restricted"));
    let (user_role, pm_role, api_role, restricted_role) = (
        a.role("User"),
        a.role("Project Manager"),
        a.role("API"),
        a.role("Restricted User"),
    );
    let (alpha, gamma) = (a.project("alpha"), a.project("Project Gamma"));
    unsafe {
        let expect = |st: ftrack_status, want: ftrack_status, words: &[&str]| {
            assert_eq!(st, want, "{}", last_error());
            let m = last_error();
            for w in words {
                assert!(m.contains(w), "{m:?} should name {w:?}");
            }
        };
        expect(
            ftrack_user_role_append(s, artist, user_role, true),
            ftrack_status::RoleAlreadyAssigned,
            &["ftrack_user_role_append", "artist", "User"],
        );
        expect(
            ftrack_user_role_remove(s, artist, pm_role),
            ftrack_status::RoleNotAssigned,
            &["artist", "Project Manager"],
        );
        expect(
            ftrack_user_role_append(s, artist, api_role, false),
            ftrack_status::RoleNotAssignable,
            &["artist", "API"],
        );
        expect(
            ftrack_user_role_grant_project(s, pm, pm_role, gamma),
            ftrack_status::ProjectAlreadyGranted,
            &["pm", "Project Manager", "gamma"],
        );
        expect(
            ftrack_user_role_revoke_project(s, restricted, restricted_role, alpha),
            ftrack_status::ProjectNotGranted,
            &["restricted", "Restricted User", "alpha"],
        );
        expect(
            ftrack_user_role_replace(s, artist, pm_role, user_role),
            ftrack_status::RoleNotAssigned,
            &["artist", "Project Manager"],
        );
        expect(
            ftrack_user_role_append(s, ptr::null_mut(), user_role, false),
            ftrack_status::NullPointer,
            &["user"],
        );
        expect(
            ftrack_user_role_grant_project(s, pm, pm_role, ptr::null_mut()),
            ftrack_status::NullPointer,
            &["project"],
        );

        // The valid operations, then one commit.
        assert_eq!(
            ftrack_user_role_append(s, artist, pm_role, false),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_user_role_grant_project(s, artist, pm_role, gamma),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_user_role_replace(s, restricted, restricted_role, user_role),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_user_role_revoke_project(s, pm, pm_role, alpha),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_user_role_remove(s, artist, user_role),
            ftrack_status::Ok
        );
        let mut n = 0usize;
        assert_eq!(ftrack_session_pending_count(s, &mut n), ftrack_status::Ok);
        assert_eq!(n, 5);
        let before = sb.request_count();
        assert_eq!(
            ftrack_session_commit(s),
            ftrack_status::Ok,
            "{}",
            last_error()
        );
        assert_eq!(sb.request_count() - before, 1);

        // Listing: roles by type, and a user's roles in one request.
        let mut list: *mut ftrack_entity_list = ptr::null_mut();
        assert_eq!(
            ftrack_security_roles(s, c"api".as_ptr(), &mut list),
            ftrack_status::Ok
        );
        assert_eq!(ftrack_entity_list_len(list), 1);
        ftrack_entity_list_destroy(list);
        assert_eq!(
            ftrack_security_roles(s, c"GLOBAL".as_ptr(), &mut list),
            ftrack_status::InvalidArgument
        );
        assert!(list.is_null());
        let before = sb.request_count();
        assert_eq!(
            ftrack_user_security_roles(s, artist, &mut list),
            ftrack_status::Ok
        );
        assert_eq!(sb.request_count() - before, 1);
        assert_eq!(ftrack_entity_list_len(list), 1);
        ftrack_entity_list_destroy(list);

        // The audit document, with the size-then-copy buffer contract.
        let mut needed = 0usize;
        assert_eq!(
            ftrack_security_role_audit_json(s, ptr::null_mut(), 0, &mut needed),
            ftrack_status::BufferTooSmall
        );
        let mut buf = vec![0 as c_char; needed];
        assert_eq!(
            ftrack_security_role_audit_json(s, buf.as_mut_ptr(), buf.len(), &mut needed),
            ftrack_status::Ok
        );
        let doc: serde_json::Value =
            serde_json::from_str(CStr::from_ptr(buf.as_ptr()).to_str().unwrap()).unwrap();
        let rows = doc.as_array().unwrap();
        let artist_row = rows.iter().find(|r| r["username"] == "artist").unwrap();
        assert_eq!(artist_row["role"], "Project Manager");
        assert_eq!(artist_row["role_type"], "PROJECT");
        assert_eq!(artist_row["all_open_projects"], false);
        assert_eq!(artist_row["projects"], serde_json::json!(["gamma"]));
        assert!(
            rows.iter()
                .any(|r| r["username"] == "restricted" && r["role"] == "User")
        );

        for e in [
            artist,
            pm,
            restricted,
            user_role,
            pm_role,
            api_role,
            restricted_role,
            alpha,
            gamma,
        ] {
            ftrack_entity_destroy(e);
        }
    }
}

#[test]
fn abi_permission_denied_keeps_the_operation_pending() {
    let sb = support::start_sandbox();
    let r = Abi::new(&sb, "restricted");
    let (artist, pm_role) = (r.user("artist"), r.role("Project Manager"));
    unsafe {
        assert_eq!(
            ftrack_user_role_append(r.session, artist, pm_role, false),
            ftrack_status::Ok
        );
        let st = ftrack_session_commit(r.session);
        assert_eq!(st, ftrack_status::PermissionDenied);
        assert!(last_error().contains("Manage users"), "{}", last_error());
        let mut n = 0usize;
        ftrack_session_pending_count(r.session, &mut n);
        assert_eq!(n, 1);
        ftrack_entity_destroy(artist);
        ftrack_entity_destroy(pm_role);
    }
    assert_eq!(scopes(&sb, "artist"), ["User: all open projects"]);
}
