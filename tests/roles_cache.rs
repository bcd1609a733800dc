//! What validating role changes costs: the session keeps each user's role state
//! from one read, replays the pending operations on top, and reads again only
//! after it may have written to the server. Request counts against the sandbox.

use ftrack::roles::Roles;
use ftrack::{Entity, ErrorKind, Session};

#[path = "support/mod.rs"]
mod support;

use support::{admin, admin_options as options, sandbox};

/// Users, roles and projects of the demo studio, looked up once.
struct Names {
    roles: Roles,
    artist: Entity,
    pm: Entity,
    project_manager: Entity,
    user: Entity,
    alpha: Entity,
    gamma: Entity,
}

impl Names {
    fn new(session: &Session) -> Names {
        let roles = Roles::new(session);
        Names {
            artist: roles.find_user("artist").unwrap(),
            pm: roles.find_user("pm").unwrap(),
            project_manager: roles.find_role("Project Manager").unwrap(),
            user: roles.find_role("User").unwrap(),
            alpha: roles.find_project("alpha").unwrap(),
            gamma: roles.find_project("gamma").unwrap(),
            roles,
        }
    }

    /// The four changes of the tests: two for `artist`, two for `pm`.
    fn queue_four(&self) {
        let r = &self.roles;
        assert!(
            r.append(&self.artist, &self.project_manager, false)
                .unwrap()
        );
        assert!(
            r.grant_project(&self.artist, &self.project_manager, &self.gamma)
                .unwrap()
        );
        assert!(
            r.revoke_project(&self.pm, &self.project_manager, &self.alpha)
                .unwrap()
        );
        assert!(r.append(&self.pm, &self.user, true).unwrap());
    }
}

fn scopes(roles: &Roles, user: &Entity) -> Vec<String> {
    roles
        .user_roles(user)
        .unwrap()
        .iter()
        .map(|r| format!("{}: {}", r.role_name, r.scope_text()))
        .collect()
}

#[test]
fn four_changes_for_two_users_read_before_cost_no_request() {
    let sb = sandbox();
    let s = admin(&sb);
    let n = Names::new(&s);
    n.roles.user_roles(&n.artist).unwrap();
    n.roles.user_roles(&n.pm).unwrap();

    let before = s.request_count();
    n.queue_four();
    // Refusals come from the stored state plus the pending operations, also free.
    let again = n.roles.append(&n.artist, &n.project_manager, false);
    assert_eq!(again.unwrap_err().kind(), ErrorKind::RoleAlreadyAssigned);
    let twice = n.roles.revoke_project(&n.pm, &n.project_manager, &n.alpha);
    assert_eq!(twice.unwrap_err().kind(), ErrorKind::ProjectNotGranted);
    // Another Roles of the same session (the C ABI makes one per call) shares it.
    let other = Roles::new(&s);
    let held = other.append(&n.pm, &n.user, false);
    assert_eq!(held.unwrap_err().kind(), ErrorKind::RoleAlreadyAssigned);
    assert_eq!(s.request_count() - before, 0, "validation sent requests");
    assert_eq!(s.pending_len(), 4);

    s.commit().unwrap();
    assert_eq!(s.request_count() - before, 1);
    assert_eq!(
        scopes(&n.roles, &n.artist),
        ["Project Manager: gamma", "User: all open projects"]
    );
    assert_eq!(
        scopes(&n.roles, &n.pm),
        ["Project Manager: gamma", "User: all open projects"]
    );
}

#[test]
fn unknown_users_cost_one_read_each_not_one_per_change() {
    let sb = sandbox();
    let s = admin(&sb);
    let n = Names::new(&s);
    let before = s.request_count();
    n.queue_four();
    assert_eq!(s.request_count() - before, 2, "one read per user");
}

#[test]
fn after_a_commit_validation_reads_again_and_sees_the_server() {
    let sb = sandbox();
    let s = admin(&sb);
    let n = Names::new(&s);
    n.roles.user_roles(&n.artist).unwrap();

    // This session's own committed change: without reading again, the stored
    // state (artist without Project Manager) would accept a second append.
    n.roles
        .append(&n.artist, &n.project_manager, false)
        .unwrap();
    s.commit().unwrap();
    let before = s.request_count();
    let again = n.roles.append(&n.artist, &n.project_manager, false);
    assert_eq!(again.unwrap_err().kind(), ErrorKind::RoleAlreadyAssigned);
    assert_eq!(s.request_count() - before, 1, "one read of artist");

    // Another session revokes alpha from pm; this session read pm before that.
    n.roles.user_roles(&n.pm).unwrap();
    let other = admin(&sb);
    let o = Names::new(&other);
    o.roles
        .revoke_project(&o.pm, &o.project_manager, &o.alpha)
        .unwrap();
    other.commit().unwrap();
    // Until this session writes, its stored state is what it read (documented):
    // the revoke validates for free, and the server would refuse it.
    let before = s.request_count();
    assert!(
        n.roles
            .revoke_project(&n.pm, &n.project_manager, &n.alpha)
            .unwrap()
    );
    assert_eq!(s.request_count() - before, 0);
    s.rollback();
    // This session commits a change of another user: the commit is where it
    // synchronises, so pm is read again and sees the other session's revoke.
    n.roles.remove(&n.artist, &n.project_manager).unwrap();
    s.commit().unwrap();
    let before = s.request_count();
    let err = n
        .roles
        .revoke_project(&n.pm, &n.project_manager, &n.alpha)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ProjectNotGranted, "{err}");
    assert_eq!(s.request_count() - before, 1, "one read of pm");
}

#[test]
fn rollback_needs_no_read_and_forgets_the_pending_changes() {
    let sb = sandbox();
    let s = admin(&sb);
    let n = Names::new(&s);
    n.roles.user_roles(&n.artist).unwrap();
    let before = s.request_count();
    n.roles
        .append(&n.artist, &n.project_manager, false)
        .unwrap();
    s.rollback();
    // The rolled-back append no longer counts: appending again is valid.
    assert!(
        n.roles
            .append(&n.artist, &n.project_manager, false)
            .unwrap()
    );
    assert_eq!(s.request_count() - before, 0);
}

#[test]
fn user_roles_always_reads_and_refreshes_what_validation_uses() {
    let sb = sandbox();
    let s = admin(&sb);
    let n = Names::new(&s);
    n.roles.user_roles(&n.artist).unwrap();

    let other = admin(&sb);
    let o = Names::new(&other);
    o.roles
        .append(&o.artist, &o.project_manager, false)
        .unwrap();
    other.commit().unwrap();

    let before = s.request_count();
    assert_eq!(
        scopes(&n.roles, &n.artist),
        ["Project Manager: no projects", "User: all open projects"]
    );
    assert_eq!(s.request_count() - before, 1);
    let again = n.roles.append(&n.artist, &n.project_manager, false);
    assert_eq!(again.unwrap_err().kind(), ErrorKind::RoleAlreadyAssigned);
    assert_eq!(
        s.request_count() - before,
        1,
        "validation used the fresh read"
    );
}

#[test]
fn sessions_do_not_share_role_state() {
    let sb = sandbox();
    let a = admin(&sb);
    let na = Names::new(&a);
    na.roles.user_roles(&na.artist).unwrap();
    let b = admin(&sb);
    let nb = Names::new(&b);
    let before = b.request_count();
    nb.roles
        .append(&nb.artist, &nb.project_manager, false)
        .unwrap();
    assert_eq!(b.request_count() - before, 1, "b reads artist itself");
}

#[test]
fn the_session_option_makes_role_changes_idempotent() {
    let sb = sandbox();
    let s = Session::with_options(options(&sb).idempotent_role_changes(true)).unwrap();
    let n = Names::new(&s);
    assert!(n.roles.is_idempotent());
    assert!(!n.roles.append(&n.artist, &n.user, false).unwrap());
    assert!(!n.roles.remove(&n.artist, &n.project_manager).unwrap());
    assert_eq!(s.pending_len(), 0);
    // The explicit builder still wins.
    let strict = Roles::new(&s).idempotent(false);
    let err = strict.append(&n.artist, &n.user, false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RoleAlreadyAssigned);
    // Off by default.
    assert!(!Roles::new(&admin(&sb)).is_idempotent());
}
