//! The host hooks through the C ABI: a logger given in the options (start-up is
//! logged, the key never is), a progress callback that cancels a paged query,
//! and `ftrack_session_cancel` from another thread against a silent server.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::sessions;
use super::support;
use crate::hooks::*;
use crate::options::*;
use crate::session::*;
use crate::status::ftrack_status;

struct Shared(*mut ftrack_session);
// SAFETY: ftrack.h documents session handles as usable from several threads at once.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

unsafe extern "C" fn collect(
    user_data: *mut c_void,
    level: ftrack_log_level,
    message: *const c_char,
) {
    let lines = unsafe { &*(user_data as *const Mutex<Vec<(u32, String)>>) };
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    lines.lock().unwrap().push((level as u32, text));
}

unsafe extern "C" fn stop_after_first_page(
    user_data: *mut c_void,
    operation: *const c_char,
    done: u64,
    total: i64,
) -> c_int {
    let calls = unsafe { &*(user_data as *const Mutex<Vec<(String, u64, i64)>>) };
    let op = unsafe { CStr::from_ptr(operation) }
        .to_string_lossy()
        .into_owned();
    calls.lock().unwrap().push((op, done, total));
    1
}

fn session_with(options: *mut ftrack_session_options) -> *mut ftrack_session {
    let mut session = ptr::null_mut();
    let status = unsafe { ftrack_session_create_with_options(options, &mut session) };
    assert_eq!(status, ftrack_status::Ok);
    session
}

fn options_for(url: &str, key: &str, user: &str) -> *mut ftrack_session_options {
    let mut o = ptr::null_mut();
    unsafe {
        assert_eq!(ftrack_session_options_create(&mut o), ftrack_status::Ok);
        let (url, key, user) = (
            CString::new(url).unwrap(),
            CString::new(key).unwrap(),
            CString::new(user).unwrap(),
        );
        assert_eq!(
            ftrack_session_options_set_server_url(o, url.as_ptr()),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_api_key(o, key.as_ptr()),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_api_user(o, user.as_ptr()),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_disable_schema_cache(o),
            ftrack_status::Ok
        );
    }
    o
}

#[test]
fn logger_progress_and_cancel_through_the_abi() {
    let sandbox = support::start_sandbox();
    let lines: Box<Mutex<Vec<(u32, String)>>> = Box::default();
    let o = options_for(&sandbox.url(), sandbox.admin_key(), sandbox.admin_user());
    unsafe {
        assert_eq!(
            ftrack_session_options_set_logger(o, 99, Some(collect), ptr::null_mut()),
            ftrack_status::InvalidArgument,
            "an unknown level is refused"
        );
        assert_eq!(
            ftrack_session_options_set_logger(
                o,
                ftrack_log_level::Info as u32,
                Some(collect),
                &*lines as *const _ as *mut c_void
            ),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_page_size(o, 2),
            ftrack_status::Ok
        );
    }
    let session = session_with(o);
    unsafe { ftrack_session_options_destroy(o) };
    {
        let lines = lines.lock().unwrap();
        assert!(
            lines
                .iter()
                .any(|(level, t)| *level == 3 && t.contains("query_server_information")),
            "start-up is logged: {lines:?}"
        );
        assert!(lines.iter().all(|(_, t)| !t.contains(sandbox.admin_key())));
    }

    // Progress: the callback cancels after the first page.
    let calls: Box<Mutex<Vec<(String, u64, i64)>>> = Box::default();
    unsafe {
        assert_eq!(
            ftrack_session_set_progress(
                session,
                Some(stop_after_first_page),
                &*calls as *const _ as *mut c_void
            ),
            ftrack_status::Ok
        );
        let mut list = ptr::null_mut();
        let status =
            ftrack_session_query(session, c"select username from User".as_ptr(), &mut list);
        assert_eq!(status, ftrack_status::Cancelled);
        assert!(list.is_null());
        assert_eq!(*calls.lock().unwrap(), vec![("query".to_owned(), 2, -1)]);
        assert_eq!(
            ftrack_session_set_progress(session, None, ptr::null_mut()),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_set_logger(session, 1, None, ptr::null_mut()),
            ftrack_status::Ok
        );
        ftrack_session_destroy(session);
    }

    // Cancel from another thread while a silent server keeps the call waiting.
    let url = sessions::silent_after_start();
    let o = options_for(&url, "key", "admin");
    let session = Shared(session_with(o));
    unsafe { ftrack_session_options_destroy(o) };
    let (status, took) = std::thread::scope(|scope| {
        let shared = &session;
        let waiting = scope.spawn(move || {
            let shared = shared;
            let mut list = ptr::null_mut();
            let status = unsafe {
                ftrack_session_query(shared.0, c"select username from User".as_ptr(), &mut list)
            };
            (status, Instant::now())
        });
        std::thread::sleep(Duration::from_millis(300));
        let at = Instant::now();
        assert_eq!(
            unsafe { ftrack_session_cancel(session.0) },
            ftrack_status::Ok
        );
        let (status, back) = waiting.join().unwrap();
        (status, back.saturating_duration_since(at))
    });
    assert_eq!(status, ftrack_status::Cancelled);
    assert!(took <= Duration::from_millis(100), "{took:?}");
    unsafe {
        assert_eq!(
            ftrack_session_cancel(ptr::null_mut()),
            ftrack_status::NullPointer
        );
        ftrack_session_destroy(session.0);
    }
}

#[test]
fn limits_options_validate_their_arguments() {
    let mut o = ptr::null_mut();
    unsafe {
        assert_eq!(ftrack_session_options_create(&mut o), ftrack_status::Ok);
        assert_eq!(
            ftrack_session_options_set_connect_timeout_ms(o, 0),
            ftrack_status::InvalidArgument
        );
        assert_eq!(
            ftrack_session_options_set_connect_timeout_ms(o, 500),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_request_deadline_ms(o, 0),
            ftrack_status::InvalidArgument
        );
        assert_eq!(
            ftrack_session_options_set_request_deadline_ms(o, 5000),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_max_reply_bytes(o, 0),
            ftrack_status::InvalidArgument
        );
        assert_eq!(
            ftrack_session_options_set_max_reply_bytes(o, 1 << 20),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_allow_insecure_http(o, true),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_allow_insecure_http(ptr::null_mut(), true),
            ftrack_status::NullPointer
        );
        // Plain http to another host is refused unless allowed.
        assert_eq!(
            ftrack_session_options_set_allow_insecure_http(o, false),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_server_url(o, c"http://studio.example.com".as_ptr()),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_api_key(o, c"k".as_ptr()),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_session_options_set_api_user(o, c"u".as_ptr()),
            ftrack_status::Ok
        );
        let mut s = ptr::null_mut();
        assert_eq!(
            ftrack_session_create_with_options(o, &mut s),
            ftrack_status::InvalidArgument
        );
        assert!(s.is_null());
        ftrack_session_options_destroy(o);
    }
}
