//! Helpers of the event hub tests (`tests/events.rs`, `tests/events_tls.rs`).

use ftrack::event::{Handler, HandlerResult};
use ftrack::{Event, EventHubOptions, Session};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for an event or a connection.
pub const WAIT: Duration = Duration::from_secs(15);

/// Hub options that reconnect quickly (50–400 ms), for tests.
pub fn fast() -> EventHubOptions {
    EventHubOptions {
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        ..EventHubOptions::default()
    }
}

/// A handler that records the events it sees and returns `reply`.
pub fn recorder(seen: &Arc<Mutex<Vec<Event>>>, reply: Option<Value>) -> Handler {
    let seen = Arc::clone(seen);
    Arc::new(move |e: &Event| -> HandlerResult {
        seen.lock().unwrap().push(e.clone());
        Ok(reply.clone())
    })
}

/// Dispatches on this thread until `done` holds or [`WAIT`] passes.
pub fn dispatch_until(session: &Session, done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + WAIT;
    while Instant::now() < until {
        if done() {
            return true;
        }
        session.event_hub().dispatch(Duration::from_millis(100));
    }
    done()
}

/// The id of the project called `name`.
pub fn project_id(s: &Session, name: &str) -> String {
    let r = s
        .call(&json!([{"action": "query", "expression": format!("select id from Project where name is \"{name}\"")}]))
        .unwrap();
    r[0]["data"][0]["id"].as_str().unwrap().to_string()
}
