//! `ftrack_users` reads many users' roles in one paged query, after which role
//! changes for any of them validate without a request.

use std::ptr;

use crate::entity::*;
use crate::entity_list::*;
use crate::roles::*;
use crate::session::*;
use crate::status::ftrack_status;

#[test]
fn users_then_role_changes_cost_no_request_each() {
    let sandbox = ftrack_sandbox::Sandbox::start(ftrack_sandbox::SandboxConfig {
        seed: ftrack_sandbox::Seed::Data(ftrack_sandbox::SeedData::synthetic(1200)),
        ..ftrack_sandbox::SandboxConfig::demo()
    })
    .unwrap();
    let url = std::ffi::CString::new(sandbox.url()).unwrap();
    let key = std::ffi::CString::new(sandbox.admin_key()).unwrap();
    let user = std::ffi::CString::new(sandbox.admin_user()).unwrap();
    unsafe {
        let mut session = ptr::null_mut();
        assert_eq!(
            ftrack_session_create(url.as_ptr(), key.as_ptr(), user.as_ptr(), &mut session),
            ftrack_status::Ok
        );
        let mut role = ptr::null_mut();
        assert_eq!(
            ftrack_security_role_find(session, c"Project Manager".as_ptr(), &mut role),
            ftrack_status::Ok
        );
        let before = sandbox.request_count();
        let mut users = ptr::null_mut();
        assert_eq!(
            ftrack_users(session, c"username like \"user%\"".as_ptr(), &mut users),
            ftrack_status::Ok
        );
        assert_eq!(ftrack_entity_list_len(users), 1200);
        // ⌈1200 / 500⌉ pages; the first page's reply sends three requests
        // ahead (max_concurrent_pages 4 - 1), one past the end, and one more
        // may follow before the last page is decoded.
        let sent = sandbox.request_count() - before;
        assert!((3 + 1..=3 + 2).contains(&sent), "{sent} requests");
        let before = sandbox.request_count();
        for i in 0..300 {
            let mut u = ptr::null_mut();
            assert_eq!(ftrack_entity_list_get(users, i, &mut u), ftrack_status::Ok);
            assert_eq!(
                ftrack_user_role_append(session, u, role, false),
                ftrack_status::Ok
            );
            ftrack_entity_destroy(u);
        }
        assert_eq!(
            sandbox.request_count(),
            before,
            "validation sent no request"
        );
        assert_eq!(ftrack_session_commit(session), ftrack_status::Ok);
        assert_eq!(sandbox.request_count() - before, 1, "one batch");
        // Bad criteria are the server's query syntax error; NULL lists everyone.
        let mut none = ptr::null_mut();
        assert_eq!(
            ftrack_users(session, c"username is".as_ptr(), &mut none),
            ftrack_status::QuerySyntax
        );
        assert!(none.is_null());
        assert_eq!(
            ftrack_users(ptr::null_mut(), ptr::null(), &mut none),
            ftrack_status::NullPointer
        );
        ftrack_entity_list_destroy(users);
        ftrack_entity_destroy(role);
        ftrack_session_destroy(session);
    }
}
