//! One session handle used from 8 threads at once through the C ABI: queries,
//! typed reads and failing calls interleave, and each thread's last error stays
//! its own.

use super::support;

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use crate::entity::*;
use crate::entity_list::*;
use crate::error::ftrack_last_error_message;
use crate::session::*;
use crate::status::ftrack_status;

struct SharedSession(*mut ftrack_session);
// SAFETY: ftrack.h documents session handles as usable from several threads at once.
unsafe impl Send for SharedSession {}
unsafe impl Sync for SharedSession {}

fn last_error() -> String {
    let mut buf = vec![0 as c_char; 4096];
    let status = unsafe { ftrack_last_error_message(buf.as_mut_ptr(), buf.len(), ptr::null_mut()) };
    assert_eq!(status, ftrack_status::Ok);
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn one_session_shared_by_eight_threads() {
    let sandbox = support::start_sandbox();
    let url = CString::new(sandbox.url()).unwrap();
    let key = CString::new(sandbox.admin_key()).unwrap();
    let user = CString::new(sandbox.admin_user()).unwrap();
    let mut session = ptr::null_mut();
    let status =
        unsafe { ftrack_session_create(url.as_ptr(), key.as_ptr(), user.as_ptr(), &mut session) };
    assert_eq!(status, ftrack_status::Ok, "{}", last_error());
    let shared = SharedSession(session);

    std::thread::scope(|scope| {
        for t in 0..8 {
            let shared = &shared;
            scope.spawn(move || {
                for round in 0..5 {
                    let mut list = ptr::null_mut();
                    let s = unsafe {
                        ftrack_session_query(
                            shared.0,
                            c"select username from User".as_ptr(),
                            &mut list,
                        )
                    };
                    assert_eq!(s, ftrack_status::Ok, "thread {t}: {}", last_error());
                    let len = unsafe { ftrack_entity_list_len(list) };
                    assert!(len >= 5);
                    for i in 0..len {
                        let mut e = ptr::null_mut();
                        assert_eq!(
                            unsafe { ftrack_entity_list_get(list, i, &mut e) },
                            ftrack_status::Ok
                        );
                        let mut buf = [0 as c_char; 64];
                        let s = unsafe {
                            ftrack_entity_get_string(
                                e,
                                c"username".as_ptr(),
                                buf.as_mut_ptr(),
                                buf.len(),
                                ptr::null_mut(),
                            )
                        };
                        assert_eq!(s, ftrack_status::Ok);
                        unsafe { ftrack_entity_destroy(e) };
                    }
                    unsafe { ftrack_entity_list_destroy(list) };

                    // A failure on this thread: its message names this thread's query.
                    let bad =
                        CString::new(format!("User where username is \"nobody-{t}-{round}\""))
                            .unwrap();
                    let mut e = ptr::null_mut();
                    let s = unsafe { ftrack_session_query_first(shared.0, bad.as_ptr(), &mut e) };
                    assert_eq!(s, ftrack_status::NotFound);
                    assert!(e.is_null());
                    let message = last_error();
                    assert!(
                        message.contains(&format!("nobody-{t}-{round}")),
                        "thread {t}: {message}"
                    );
                }
            });
        }
    });
    unsafe { ftrack_session_destroy(shared.0) };
}
