//! The event functions hosts use to run handlers of their own (the Python
//! package's hub): the hub id, publishing a whole event given as JSON (with a
//! callback for its replies, run where the host dispatches), reading an event
//! as JSON, and matching subscription expressions.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support;
use crate::events::*;
use crate::session::*;
use crate::status::ftrack_status;

/// Records `ftrack_event_json` of each event into the `Mutex<Vec<Value>>` behind `user_data`.
unsafe extern "C" fn record(user_data: *mut c_void, event: *mut ftrack_event) -> c_int {
    let seen = unsafe { &*(user_data as *const Mutex<Vec<Value>>) };
    let mut buffer = vec![0 as c_char; 4096];
    let status =
        unsafe { ftrack_event_json(event, buffer.as_mut_ptr(), buffer.len(), ptr::null_mut()) };
    assert_eq!(status, ftrack_status::Ok);
    let text = unsafe { CStr::from_ptr(buffer.as_ptr()) }.to_str().unwrap();
    seen.lock()
        .unwrap()
        .push(serde_json::from_str(text).unwrap());
    0
}

/// Answers with `{"pong": true}`.
unsafe extern "C" fn pong(_user_data: *mut c_void, event: *mut ftrack_event) -> c_int {
    let status = unsafe { ftrack_event_set_reply(event, c"{\"pong\": true}".as_ptr()) };
    if status == ftrack_status::Ok { 0 } else { 1 }
}

fn session(sandbox: &ftrack_sandbox::Sandbox) -> *mut ftrack_session {
    let url = CString::new(sandbox.url()).unwrap();
    let key = CString::new(sandbox.admin_key()).unwrap();
    let user = CString::new(sandbox.admin_user()).unwrap();
    let mut session = ptr::null_mut();
    let status =
        unsafe { ftrack_session_create(url.as_ptr(), key.as_ptr(), user.as_ptr(), &mut session) };
    assert_eq!(status, ftrack_status::Ok);
    session
}

fn publish(session: *mut ftrack_session, event: &Value) -> (ftrack_status, String) {
    let text = CString::new(event.to_string()).unwrap();
    let mut id = [0 as c_char; 128];
    let status = unsafe {
        ftrack_event_hub_publish_event(
            session,
            text.as_ptr(),
            None,
            ptr::null_mut(),
            id.as_mut_ptr(),
            id.len(),
            ptr::null_mut(),
        )
    };
    let id = unsafe { CStr::from_ptr(id.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned();
    (status, id)
}

fn matches(expression: &CStr, value: &Value) -> Result<bool, ftrack_status> {
    let text = CString::new(value.to_string()).unwrap();
    let mut out = false;
    match unsafe { ftrack_event_expression_matches(expression.as_ptr(), text.as_ptr(), &mut out) } {
        ftrack_status::Ok => Ok(out),
        other => Err(other),
    }
}

#[test]
fn whole_events_are_published_as_given_and_read_back_as_json() {
    let sandbox = support::start_sandbox();
    let s = session(&sandbox);
    let mut hub_id = [0 as c_char; 64];
    let mut needed = 0;
    unsafe {
        assert_eq!(
            ftrack_event_hub_id(s, ptr::null_mut(), 0, &mut needed),
            ftrack_status::BufferTooSmall
        );
        assert_eq!(
            ftrack_event_hub_id(s, hub_id.as_mut_ptr(), hub_id.len(), ptr::null_mut()),
            ftrack_status::Ok
        );
    }
    let hub_id = unsafe { CStr::from_ptr(hub_id.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(hub_id.len() + 1, needed);
    assert!(
        hub_id.len() == 32 && hub_id.chars().all(|c| c.is_ascii_hexdigit()),
        "{hub_id}"
    );

    let seen: Box<Mutex<Vec<Value>>> = Box::default();
    unsafe {
        assert_eq!(
            ftrack_event_hub_subscribe(
                s,
                c"topic=ftrack.api.session.reset".as_ptr(),
                ptr::null(),
                100,
                Some(record),
                &*seen as *const _ as *mut c_void,
                ptr::null_mut(),
                0,
                ptr::null_mut(),
            ),
            ftrack_status::Ok
        );
    }
    // A local-only topic is handled at once, without a connection; every
    // field given is kept, the source is completed.
    let (status, id) = publish(
        s,
        &json!({"topic": "ftrack.api.session.reset", "id": "given-id", "data": {"x": 1},
                "source": {"app": "maya"}, "in_reply_to_event": "earlier", "sent": null}),
    );
    assert_eq!((status, id.as_str()), (ftrack_status::Ok, "given-id"));
    let event = seen.lock().unwrap().pop().expect("the subscriber ran");
    assert_eq!(event["id"], "given-id");
    assert_eq!(event["topic"], "ftrack.api.session.reset");
    assert_eq!(event["data"], json!({"x": 1}));
    assert_eq!(event["inReplyToEvent"], "earlier");
    assert_eq!(event["target"], "");
    assert_eq!(event["source"]["app"], "maya");
    assert_eq!(event["source"]["id"], hub_id.as_str());
    assert_eq!(event["source"]["user"]["username"], sandbox.admin_user());
    // Without an id one is made and returned; the wire name of the reply link works too.
    let (status, id) = publish(
        s,
        &json!({"topic": "ftrack.api.session.reset", "inReplyToEvent": "wire"}),
    );
    assert_eq!(status, ftrack_status::Ok);
    let event = seen.lock().unwrap().pop().expect("the subscriber ran");
    assert_eq!(event["id"], id.as_str());
    assert_eq!(event["data"], json!({}));
    assert_eq!(event["inReplyToEvent"], "wire");

    // What is not an event is refused, saying why; nothing is published.
    for bad in [
        json!([1]),
        json!({"data": {}}),
        json!({"topic": ""}),
        json!({"topic": 3}),
        json!({"topic": "ftrack.api.session.reset", "source": "me"}),
        json!({"topic": "ftrack.api.session.reset", "target": 1}),
    ] {
        assert_eq!(publish(s, &bad).0, ftrack_status::InvalidArgument, "{bad}");
    }
    assert!(seen.lock().unwrap().is_empty());
    // A topic for the server needs a connection.
    assert_eq!(
        publish(s, &json!({"topic": "studio.ping"})).0,
        ftrack_status::Connection
    );

    // Expressions match events (their JSON form) and subscriber metadata.
    assert_eq!(
        matches(
            c"topic=studio.* and data.x>=2",
            &json!({"topic": "studio.a", "data": {"x": 3}})
        ),
        Ok(true)
    );
    assert_eq!(
        matches(
            c"topic=studio.* and data.x>=2",
            &json!({"topic": "studio.a", "data": {"x": 1}})
        ),
        Ok(false)
    );
    assert_eq!(
        matches(c"id=abc", &json!({"id": "abc", "app": "x"})),
        Ok(true)
    );
    assert_eq!(
        matches(c"topic=(", &json!({})),
        Err(ftrack_status::InvalidArgument)
    );
    let mut out = false;
    assert_eq!(
        unsafe {
            ftrack_event_expression_matches(c"topic=a".as_ptr(), c"{not json".as_ptr(), &mut out)
        },
        ftrack_status::InvalidArgument
    );
    unsafe { ftrack_session_destroy(s) };
}

#[test]
fn reply_callbacks_run_where_the_host_dispatches() {
    let sandbox = support::start_sandbox();
    let (responder, asker) = (session(&sandbox), session(&sandbox));
    unsafe {
        assert_eq!(
            ftrack_event_hub_subscribe(
                responder,
                c"topic=studio.ping".as_ptr(),
                ptr::null(),
                100,
                Some(pong),
                ptr::null_mut(),
                ptr::null_mut(),
                0,
                ptr::null_mut(),
            ),
            ftrack_status::Ok
        );
        assert_eq!(
            ftrack_event_hub_connect(responder, 15_000),
            ftrack_status::Ok
        );
        assert_eq!(ftrack_event_hub_connect(asker, 15_000), ftrack_status::Ok);
    }
    let replies: Box<Mutex<Vec<Value>>> = Box::default();
    let mut asked = Vec::new();
    let until = Instant::now() + Duration::from_secs(15);
    // The responder's subscription reaches the server asynchronously: ask until answered.
    while replies.lock().unwrap().is_empty() && Instant::now() < until {
        let mut id = [0 as c_char; 64];
        let status = unsafe {
            ftrack_event_hub_publish_event(
                asker,
                c"{\"topic\": \"studio.ping\"}".as_ptr(),
                Some(record),
                &*replies as *const _ as *mut c_void,
                id.as_mut_ptr(),
                id.len(),
                ptr::null_mut(),
            )
        };
        assert_eq!(status, ftrack_status::Ok);
        asked.push(
            unsafe { CStr::from_ptr(id.as_ptr()) }
                .to_str()
                .unwrap()
                .to_owned(),
        );
        unsafe {
            assert_eq!(
                ftrack_event_hub_dispatch(responder, 200, ptr::null_mut()),
                ftrack_status::Ok
            );
            std::thread::sleep(Duration::from_millis(100));
            // Replies wait for the asker's dispatch.
            assert!(replies.lock().unwrap().is_empty());
            assert_eq!(
                ftrack_event_hub_dispatch(asker, 200, ptr::null_mut()),
                ftrack_status::Ok
            );
        }
    }
    let replies = replies.lock().unwrap();
    assert!(!replies.is_empty(), "no reply");
    assert_eq!(replies[0]["topic"], "ftrack.meta.reply");
    assert_eq!(replies[0]["data"], json!({"pong": true}));
    assert!(
        asked
            .iter()
            .any(|id| replies[0]["inReplyToEvent"] == id.as_str())
    );
    unsafe {
        ftrack_session_destroy(asker);
        ftrack_session_destroy(responder);
    }
}
