//! Library-owned strings: large results come back whole in one call, and the
//! request behind them is sent once.

use std::ffi::{CStr, CString};
use std::ptr;

use crate::session::*;
use crate::status::ftrack_status;
use crate::string::*;

#[test]
fn large_results_come_back_whole_and_are_computed_once() {
    let sandbox = ftrack_sandbox::Sandbox::start(ftrack_sandbox::SandboxConfig {
        seed: ftrack_sandbox::Seed::Data(ftrack_sandbox::SeedData::synthetic(600)),
        ..ftrack_sandbox::SandboxConfig::demo()
    })
    .unwrap();
    let url = CString::new(sandbox.url()).unwrap();
    let key = CString::new(sandbox.admin_key()).unwrap();
    let user = CString::new(sandbox.admin_user()).unwrap();
    unsafe {
        let mut session = ptr::null_mut();
        assert_eq!(
            ftrack_session_create(url.as_ptr(), key.as_ptr(), user.as_ptr(), &mut session),
            ftrack_status::Ok
        );
        // The audit: 605 users, two pages, read once, plus the two requests
        // past the end that the first page's reply sends ahead with the second
        // (max_concurrent_pages 4 - 1); the second page, decoded ahead, is the
        // last, so nothing more is requested.
        let before = sandbox.request_count();
        let mut audit = ptr::null_mut();
        assert_eq!(
            crate::string::ftrack_security_role_audit_json_string(session, &mut audit),
            ftrack_status::Ok
        );
        assert_eq!(sandbox.request_count() - before, 2 + 2);
        let text = CStr::from_ptr(ftrack_string_data(audit)).to_str().unwrap();
        assert_eq!(text.len(), ftrack_string_len(audit));
        let rows: serde_json::Value = serde_json::from_str(text).unwrap();
        assert!(rows.as_array().unwrap().len() >= 605);
        ftrack_string_destroy(audit);

        // A raw call whose answer is large: sent once.
        let before = sandbox.request_count();
        let mut reply = ptr::null_mut();
        assert_eq!(
            ftrack_session_call_string(
                session,
                c"[{\"action\": \"query\", \"expression\": \"select username, email from User\"}]"
                    .as_ptr(),
                &mut reply
            ),
            ftrack_status::Ok
        );
        assert_eq!(sandbox.request_count() - before, 1);
        assert!(ftrack_string_len(reply) > 30_000);
        ftrack_string_destroy(reply);

        // The pending batch.
        let mut pending = ptr::null_mut();
        assert_eq!(
            ftrack_session_pending_json_string(session, &mut pending),
            ftrack_status::Ok
        );
        assert_eq!(
            CStr::from_ptr(ftrack_string_data(pending)).to_bytes(),
            b"[]"
        );
        ftrack_string_destroy(pending);

        // NULLs and bad input.
        assert!(ftrack_string_data(ptr::null()).is_null());
        assert_eq!(ftrack_string_len(ptr::null()), 0);
        ftrack_string_destroy(ptr::null_mut());
        let mut none = ptr::null_mut();
        assert_eq!(
            ftrack_session_call_string(session, c"not json".as_ptr(), &mut none),
            ftrack_status::InvalidArgument
        );
        assert!(none.is_null());
        assert_eq!(
            ftrack_session_pending_json_string(ptr::null_mut(), &mut none),
            ftrack_status::NullPointer
        );
        assert_eq!(
            ftrack_session_pending_json_string(session, ptr::null_mut()),
            ftrack_status::NullPointer
        );
        ftrack_session_destroy(session);
    }
}
