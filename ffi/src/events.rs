//! The event hub and plugins in the C ABI: connect, subscribe with a C
//! callback, unsubscribe, publish (with a callback for replies), publish and
//! wait for a reply, dispatch, the event handle callbacks receive, matching
//! of subscription expressions, and loading of plugins (shared
//! libraries exporting `ftrack_event_plugin_register`). Glue over
//! `ftrack::event`.
//!
//! Callback threading: a subscriber's callback runs on the thread that calls
//! `ftrack_event_hub_dispatch` (the default), or on the library's dispatch
//! thread when `ftrack_session_options_set_event_dispatch_thread` was set. It
//! may call any libftrack function, including publishing, but not
//! `ftrack_event_hub_dispatch` (a nested call returns at once, handling
//! nothing).
//!
//! Callback lifetime: once `ftrack_event_hub_unsubscribe` returns, that
//! subscriber's callback is not running on any other thread and is never
//! called again; once `ftrack_session_destroy` returns, the same holds for
//! every callback of the session. The core's `EventHub::unsubscribe` and
//! `Session::remove_callbacks` give it.

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ftrack::event::{Event, EventHubOptions, Handler, HandlerResult, SubscriptionExpression};
use serde_json::Value;

use super::error::{FfiError, FfiResult};
use super::handle::{
    Handle, HandleHeader, borrow, destroy_handle, into_handle, out_handle, out_value,
};
use super::options::{ftrack_session_options, update};
use super::session::{ftrack_session, session_arg};
use super::status::ftrack_status;
use super::strings::{json_arg, opt_str_arg, out_buffer, str_arg};

/// An event: its topic, id, data (JSON), source (JSON) and target.
///
/// A callback receives one that is valid only during the call (do not
/// destroy it); `ftrack_event_hub_publish_and_wait` returns one the caller
/// frees with `ftrack_event_destroy`.
pub struct ftrack_event {
    header: HandleHeader,
    event: Event,
    reply: Mutex<Option<Value>>,
}

impl Handle for ftrack_event {
    const WHAT: &'static str = "event";
    fn header(&self) -> &HandleHeader {
        &self.header
    }
}

/// A subscriber's callback.
///
/// `user_data` is the pointer given to `ftrack_event_hub_subscribe`; `event`
/// is valid only during the call. To reply, call `ftrack_event_set_reply`
/// on `event` before returning. Return 0 when handled, non-zero for a
/// failure (it is logged through the session's logger and the next
/// subscriber runs). It runs on the thread that calls
/// `ftrack_event_hub_dispatch` (or the library's dispatch thread, see
/// `ftrack_session_options_set_event_dispatch_thread`), and must not unwind
/// (throw or `longjmp`) through the library.
///
/// Lifetime: once `ftrack_event_hub_unsubscribe` of the subscriber returns,
/// or `ftrack_session_destroy` of its session (which also removes reply
/// callbacks), the callback is not running on any other thread and is never
/// called again, so `user_data` may be freed then, as with the callbacks of
/// curl or SQLite. An unsubscribe called from inside the callback itself (on
/// the thread running it) returns at once; the call in progress finishes and
/// is the last.
pub type ftrack_event_callback_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *mut ftrack_event) -> c_int>;

/// The entry point a plugin library exports, named
/// `ftrack_event_plugin_register`: called once per session with the
/// session and the plugin arguments as a JSON object (NUL-terminated, valid
/// during the call). Return 0 when registered; non-zero is logged and the
/// plugin skipped. The session handle stays valid until the host destroys it.
pub type ftrack_event_plugin_register_fn = Option<
    unsafe extern "C" fn(
        session: *mut ftrack_session,
        plugin_arguments_json: *const c_char,
    ) -> c_int,
>;

/// The host's `user_data` for a subscriber callback (see the callback type
/// for the thread it is used on).
#[derive(Clone, Copy)]
struct UserData(*mut c_void);
// SAFETY: only handed back to the host's callback, on the dispatching thread
// the host chose; ftrack_event_hub_subscribe documents it.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

fn new_event(event: Event) -> *mut ftrack_event {
    into_handle(ftrack_event {
        header: HandleHeader::new(None),
        event,
        reply: Mutex::new(None),
    })
}

fn c_handler(
    callback: unsafe extern "C" fn(*mut c_void, *mut ftrack_event) -> c_int,
    data: UserData,
) -> Handler {
    Arc::new(move |event: &Event| -> HandlerResult {
        let data = data;
        let handle = new_event(event.clone());
        // SAFETY: the host registered this callback for this user_data; the
        // handle is live until destroyed below.
        let code = unsafe { callback(data.0, handle) };
        // SAFETY: created above, not exposed past the call.
        let boxed = unsafe { Box::from_raw(handle) };
        let reply = boxed.reply.lock().unwrap_or_else(|e| e.into_inner()).take();
        if code != 0 {
            return Err(format!("the C callback returned {code}"));
        }
        Ok(reply)
    })
}

fn ms(milliseconds: u64) -> Duration {
    Duration::from_millis(milliseconds)
}

/// @brief Connects the session's event hub when the session starts (in the
/// background; the session does not wait for it).
///
/// @param options the options (not NULL).
/// @param on true to turn it on, false to turn it off.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_auto_connect_event_hub(
    options: *mut ftrack_session_options,
    on: bool,
) -> ftrack_status {
    ffi_boundary!({ unsafe { update(options, |o| o.auto_connect_event_hub(on)) } })
}

/// @brief Runs subscriber callbacks on a library thread instead of in
/// `ftrack_event_hub_dispatch` (off by default: callbacks run on the host's
/// thread when it dispatches).
///
/// Callbacks then run on that thread concurrently with the host's threads:
/// `ftrack_event_hub_unsubscribe` and `ftrack_session_destroy`, called from
/// another thread, wait until a callback they remove has returned there (see
/// `ftrack_event_callback_fn`). The thread stops when the hub disconnects.
///
/// @param options the options (not NULL).
/// @param on true to turn it on, false to turn it off.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_event_dispatch_thread(
    options: *mut ftrack_session_options,
    on: bool,
) -> ftrack_status {
    ffi_boundary!({
        unsafe {
            update(options, |o| {
                let hub = EventHubOptions {
                    dispatch_thread: on,
                    ..EventHubOptions::default()
                };
                o.event_hub_options(hub)
            })
        }
    })
}

/// @brief Adds a directory searched recursively for plugin libraries (files
/// ending in `.so`, `.dylib` or `.dll` that export
/// `ftrack_event_plugin_register`). Without any, the directories of
/// `FTRACK_EVENT_PLUGIN_PATH` (separated by `:`) are searched. The string is copied.
/// An empty `path` adds no directory but still turns that fallback off: called
/// only with `""`, no plugin is loaded (as `plugin_paths=[]` in ftrack_api).
///
/// @param options the options (not NULL).
/// @param path a directory, NUL-terminated UTF-8 (not NULL); copied; `""` for none.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER`,
///         `FTRACK_STATUS_INVALID_UTF8` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_add_plugin_path(
    options: *mut ftrack_session_options,
    path: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let path = PathBuf::from(unsafe { str_arg(path, "path")? });
        unsafe {
            update(options, |o| {
                let mut paths = o.plugin_search_paths_given().unwrap_or_default();
                if !path.as_os_str().is_empty() {
                    paths.push(path);
                }
                o.plugin_paths(paths)
            })
        }
    })
}

/// @brief Sets the arguments handed to every plugin, a JSON object (default `{}`).
/// The string is copied.
///
/// @param options the options (not NULL).
/// @param json a JSON object, NUL-terminated UTF-8 (not NULL); copied.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_INVALID_ARGUMENT` when it is
///         not a JSON object; `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_UTF8`; `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_session_options_set_plugin_arguments(
    options: *mut ftrack_session_options,
    json: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let value = unsafe { json_arg(json, "json")? };
        if !value.is_object() {
            return Err(FfiError::invalid(
                "argument `json` must be a JSON object, e.g. {\"project\": \"alpha\"}",
            ));
        }
        unsafe { update(options, |o| o.plugin_arguments(value)) }
    })
}

/// @brief Connects the session's event hub and waits up to `timeout_ms` for the
/// connection (0: return at once and connect in the background). The hub
/// then stays connected, reconnecting with backoff after failures, until
/// `ftrack_event_hub_disconnect`. An `https://` server is reached over
/// `wss://`, verified as the session's HTTP requests are (its CA bundle, else
/// the platform's verifier). Once connected, the subscriptions have been
/// sent, but the server may not have read them yet: events it publishes in
/// that moment (the `ftrack.update` of a write made at once, from another
/// session) can pass them by. The protocol does not acknowledge a
/// subscription; to be sure, publish an event of your own that a
/// subscription matches and wait for it to arrive.
///
/// @param session the session (not NULL).
/// @param timeout_ms how long to wait, in milliseconds.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_CONNECTION` when the first
///         attempt failed (the hub keeps retrying); `FTRACK_STATUS_TLS` when
///         TLS with an `https://` server could not be set up or its
///         certificate is not trusted (see
///         `ftrack_session_options_set_ca_bundle_path`); `FTRACK_STATUS_TIMEOUT`;
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_hub_connect(
    session: *mut ftrack_session,
    timeout_ms: u64,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        session.event_hub().connect(ms(timeout_ms))?;
        Ok(())
    })
}

/// @brief Disconnects the event hub and stops reconnecting; subscriptions are kept
/// for the next `ftrack_event_hub_connect`.
///
/// @param session the session (not NULL).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_hub_disconnect(
    session: *mut ftrack_session,
) -> ftrack_status {
    ffi_boundary!({
        unsafe { session_arg(session)? }.event_hub().disconnect();
        Ok(())
    })
}

/// @brief Sets `*out` to whether the event hub is connected now.
///
/// @param session the session (not NULL).
/// @param out receives the answer (not NULL).
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_hub_is_connected(
    session: *mut ftrack_session,
    out: *mut bool,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_value(out, "out")? };
        *out = unsafe { session_arg(session)? }.event_hub().connected();
        Ok(())
    })
}

/// @brief Subscribes `callback` to events matching `subscription` (e.g.
/// `"topic=ftrack.update and data.user.name=jane"`; `and`, `or`, `not`,
/// parentheses, dotted keys, `= != > < >= <=`, trailing `*`).
/// `subscriber_json` is NULL or a JSON object of metadata other hubs can
/// target (its `id` is generated when absent); lower `priority` runs first
/// (100 is the usual default). The subscriber id is written to
/// `(buffer, buffer_len, out_len)` (`buffer` may be NULL when not wanted
/// and `buffer_len` is 0). The subscription is sent to the server now when
/// connected, else at the next connection.
///
/// @param session the session (not NULL).
/// @param subscription the subscription expression, NUL-terminated UTF-8 (not NULL).
/// @param subscriber_json NULL, or a JSON object of subscriber metadata (NUL-terminated).
/// @param priority lower runs first; 100 is the usual default.
/// @param callback the callback (not NULL); see `ftrack_event_callback_fn`.
/// @param user_data passed back to `callback` unchanged; must stay valid until `ftrack_event_hub_unsubscribe` of this subscriber or `ftrack_session_destroy` has returned.
/// @param buffer receives the text, NUL-terminated; may be NULL when `buffer_len` is 0.
/// @param buffer_len the size of `buffer` in bytes.
/// @param out_len NULL, or receives the size needed, NUL included.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_INVALID_ARGUMENT` for a bad
///         expression (the message says where), metadata that is not an
///         object, or a subscriber id already in use; `FTRACK_STATUS_BUFFER_TOO_SMALL`
///         (the subscription was made; `*out_len` is the size needed);
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_INVALID_UTF8`;
///         `FTRACK_STATUS_POISONED`.
///
/// Thread-safe. `user_data` must stay valid until the subscriber is removed
/// (`ftrack_event_hub_unsubscribe` returned) or the session destroyed; see
/// `ftrack_event_callback_fn` for the thread the callback runs on and that
/// guarantee.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn ftrack_event_hub_subscribe(
    session: *mut ftrack_session,
    subscription: *const c_char,
    subscriber_json: *const c_char,
    priority: i32,
    callback: ftrack_event_callback_fn,
    user_data: *mut c_void,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let session = unsafe { session_arg(session)? };
        let subscription = unsafe { str_arg(subscription, "subscription")? };
        let subscriber = match unsafe { opt_str_arg(subscriber_json, "subscriber_json")? } {
            Some(text) => Some(serde_json::from_str::<Value>(text).map_err(|e| {
                FfiError::invalid(format!("argument `subscriber_json` is not valid JSON: {e}"))
            })?),
            None => None,
        };
        let Some(callback) = callback else {
            return Err(FfiError::null("callback"));
        };
        let id = session.event_hub().subscribe(
            subscription,
            c_handler(callback, UserData(user_data)),
            subscriber,
            priority,
        )?;
        out.write_if_wanted(&id)
    })
}

/// @brief Removes the subscriber with this id.
///
/// When it returns, the subscriber's callback is not running on any other
/// thread and will never be called again, even for an event whose dispatch
/// had already begun: its `user_data` may be freed. It waits for a call in
/// progress on another thread (the dispatching one) to return, so do not call
/// it while holding a lock that the callback takes. Called from inside that
/// very callback, on the thread running it, it returns without waiting (no
/// deadlock): the call in progress finishes normally and is the last one. The
/// same holds when called from another callback running on this thread.
///
/// @param session the session (not NULL).
/// @param subscriber_id an id `ftrack_event_hub_subscribe` returned, NUL-terminated (not NULL).
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NOT_FOUND` when no subscriber
///         has that id; `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_INVALID_UTF8`;
///         `FTRACK_STATUS_POISONED`.
///
/// Thread-safe; may be called from any callback, the subscriber's own included.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_hub_unsubscribe(
    session: *mut ftrack_session,
    subscriber_id: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let id = unsafe { str_arg(subscriber_id, "subscriber_id")? };
        if session.event_hub().unsubscribe(id) {
            Ok(())
        } else {
            Err(FfiError::new(
                ftrack_status::NotFound,
                format!(
                    "no subscriber with id {id}; pass an id ftrack_event_hub_subscribe returned"
                ),
            ))
        }
    })
}

unsafe fn event_args(
    topic: *const c_char,
    data_json: *const c_char,
    target: *const c_char,
) -> FfiResult<Event> {
    let topic = unsafe { str_arg(topic, "topic")? };
    if topic.is_empty() {
        return Err(FfiError::invalid(
            "argument `topic` is empty; pass a topic such as my-studio.render-done",
        ));
    }
    let data = match unsafe { opt_str_arg(data_json, "data_json")? } {
        Some(text) => serde_json::from_str::<Value>(text).map_err(|e| {
            FfiError::invalid(format!("argument `data_json` is not valid JSON: {e}"))
        })?,
        None => Value::Object(Default::default()),
    };
    let target = unsafe { opt_str_arg(target, "target")? }.unwrap_or("");
    Ok(Event::new(topic, data).with_target(target))
}

/// @brief Publishes an event: `topic`, `data_json` (NULL: `{}`) and `target` (NULL
/// or empty: every subscriber; else an expression over subscriber metadata,
/// e.g. `"id=<subscriber id>"`). Local-only topics (`ftrack.api.session.*`,
/// `ftrack.meta.connected`, ...) are handled locally. While the hub is
/// reconnecting the event is queued (at most 1000 by default) and sent after.
///
/// @param session the session (not NULL).
/// @param topic the topic, NUL-terminated UTF-8 (not NULL, not empty).
/// @param data_json NULL for `{}`, or the data as JSON (NUL-terminated).
/// @param target NULL or empty for every subscriber, else an expression over subscriber metadata (NUL-terminated).
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_CONNECTION` when the hub was
///         never connected or the queue is full; `FTRACK_STATUS_INVALID_ARGUMENT`
///         (empty topic, bad JSON); `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_UTF8`; `FTRACK_STATUS_POISONED`.
///
/// Thread-safe; may be called from a subscriber callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_hub_publish(
    session: *mut ftrack_session,
    topic: *const c_char,
    data_json: *const c_char,
    target: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let event = unsafe { event_args(topic, data_json, target)? };
        session.event_hub().publish(event)?;
        Ok(())
    })
}

/// @brief Publishes an event (as `ftrack_event_hub_publish`) and waits up to
/// `timeout_ms` for the first reply, returned in `*out_reply` (free it with
/// `ftrack_event_destroy`; its data is the replying handler's result).
///
/// @param session the session (not NULL).
/// @param topic the topic, NUL-terminated UTF-8 (not NULL, not empty).
/// @param data_json NULL for `{}`, or the data as JSON (NUL-terminated).
/// @param target NULL or empty for every subscriber, else an expression over subscriber metadata (NUL-terminated).
/// @param timeout_ms how long to wait, in milliseconds.
/// @param out_reply receives the reply the caller frees with `ftrack_event_destroy`; NULL on failure (not NULL).
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_TIMEOUT` when no reply came;
///         the statuses of `ftrack_event_hub_publish`.
///
/// Thread-safe. Do not call it from a subscriber callback running in
/// `ftrack_event_hub_dispatch` when the reply is to come from a callback of
/// the same session (dispatch would be blocked): use the dispatch thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_hub_publish_and_wait(
    session: *mut ftrack_session,
    topic: *const c_char,
    data_json: *const c_char,
    target: *const c_char,
    timeout_ms: u64,
    out_reply: *mut *mut ftrack_event,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_handle(out_reply, "out_reply")? };
        let session = unsafe { session_arg(session)? };
        let event = unsafe { event_args(topic, data_json, target)? };
        let reply = session
            .event_hub()
            .publish_and_wait(event, ms(timeout_ms))?;
        *out = new_event(reply);
        Ok(())
    })
}

/// @brief Copies the id of the session's event hub: the `source.id` of the events
/// it publishes, which replies target (`"id=<hub id>"`). Stable for the
/// session's life.
///
/// @param session the session (not NULL).
/// @param buffer receives the text, NUL-terminated; may be NULL when `buffer_len` is 0.
/// @param buffer_len the size of `buffer` in bytes.
/// @param out_len NULL, or receives the size needed, NUL included.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_BUFFER_TOO_SMALL` (`*out_len`
///         is the size needed), `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_hub_id(
    session: *mut ftrack_session,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let session = unsafe { session_arg(session)? };
        out.write(session.event_hub().id())
    })
}

/// An event given as a JSON object (see `ftrack_event_hub_publish_event`).
fn event_from_json(value: Value) -> FfiResult<Event> {
    let Value::Object(map) = value else {
        return Err(FfiError::invalid(
            "argument `event_json` must be a JSON object, e.g. {\"topic\": \"my-studio.render-done\", \"data\": {}}",
        ));
    };
    let text = |key: &str| -> FfiResult<Option<String>> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(FfiError::invalid(format!(
                "`{key}` of argument `event_json` must be a string, not {other}"
            ))),
        }
    };
    let topic = text("topic")?.filter(|t| !t.is_empty()).ok_or_else(|| {
        FfiError::invalid(
            "argument `event_json` has no `topic`; give one such as my-studio.render-done",
        )
    })?;
    let data = match map.get("data") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(data) => data.clone(),
    };
    let mut event = Event::new(topic, data);
    if let Some(id) = text("id")?.filter(|id| !id.is_empty()) {
        event.id = id;
    }
    if let Some(target) = text("target")? {
        event.target = target;
    }
    match map.get("source") {
        None | Some(Value::Null) => {}
        Some(source @ Value::Object(_)) => event.source = source.clone(),
        Some(other) => {
            return Err(FfiError::invalid(format!(
                "`source` of argument `event_json` must be a JSON object, not {other}"
            )));
        }
    }
    event.in_reply_to_event = match text("in_reply_to_event")? {
        Some(id) => Some(id),
        None => text("inReplyToEvent")?,
    };
    Ok(event)
}

/// @brief Publishes an event given as one JSON object, keeping the fields the
/// caller set, and optionally calls `on_reply` with each reply to it.
///
/// `event_json` holds `topic` (required, not empty) and optionally `id`
/// (generated when absent or empty), `data` (default `{}`), `target` (an
/// expression over subscriber metadata), `source` (an object; `id`, `user`
/// and `applicationId` are filled in when absent) and `in_reply_to_event`
/// (or `inReplyToEvent`, the wire name); other keys (`sent`) are ignored.
/// It is then published as by `ftrack_event_hub_publish` (local-only topics
/// are handled locally, at once). The event's id is written to
/// `(buffer, buffer_len, out_len)` (`buffer` may be NULL when not wanted and
/// `buffer_len` is 0).
///
/// `on_reply` (may be NULL) is called for every reply to this event (topic
/// `ftrack.meta.reply`, `in_reply_to_event` its id) where subscriber
/// callbacks run: in `ftrack_event_hub_dispatch`, or on the dispatch thread.
/// Its return value: non-zero is logged; `ftrack_event_set_reply` on the
/// reply has no effect. The callbacks of the latest 10000 events published
/// with one are kept (older ones are forgotten). Replies awaited by
/// `ftrack_event_hub_publish_and_wait` do not come here. Once
/// `ftrack_session_destroy` returns, `on_reply` is not running on any thread
/// and is never called again (see `ftrack_event_callback_fn`).
///
/// @param session the session (not NULL).
/// @param event_json the event, a JSON object, NUL-terminated UTF-8 (not NULL).
/// @param on_reply NULL, or the callback for each reply; see `ftrack_event_callback_fn` for its rules.
/// @param user_data passed back to `on_reply` unchanged; must stay valid until `ftrack_session_destroy` has returned (after that `on_reply` is not running and never called again).
/// @param buffer receives the text, NUL-terminated; may be NULL when `buffer_len` is 0.
/// @param buffer_len the size of `buffer` in bytes.
/// @param out_len NULL, or receives the size needed, NUL included.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_CONNECTION` when the hub was
///         never connected or the queue is full; `FTRACK_STATUS_INVALID_ARGUMENT`
///         (not a JSON object, no topic, a field of the wrong type);
///         `FTRACK_STATUS_BUFFER_TOO_SMALL` (the event was published;
///         `*out_len` is the size needed); `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_UTF8`; `FTRACK_STATUS_POISONED`.
///
/// Thread-safe; may be called from a subscriber callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_hub_publish_event(
    session: *mut ftrack_session,
    event_json: *const c_char,
    on_reply: ftrack_event_callback_fn,
    user_data: *mut c_void,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let session = unsafe { session_arg(session)? };
        let event = event_from_json(unsafe { json_arg(event_json, "event_json")? })?;
        let hub = session.event_hub();
        let id = match on_reply {
            Some(callback) => {
                hub.publish_with_reply(event, c_handler(callback, UserData(user_data)))?
            }
            None => hub.publish(event)?,
        };
        out.write_if_wanted(&id)
    })
}

/// @brief Runs the callbacks of the events that arrived, on this thread, waiting
/// up to `timeout_ms` for the first; `*out_handled` (may be NULL) is the
/// number of events handled. Call it regularly from the thread that should
/// run callbacks (a UI loop, a timer). Events wait at most 10000 deep; past
/// that the oldest are dropped with a warning in the log.
///
/// @param session the session (not NULL).
/// @param timeout_ms how long to wait, in milliseconds.
/// @param out_handled NULL, or receives the number of events handled.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe; a second thread dispatching at the same time handles nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_hub_dispatch(
    session: *mut ftrack_session,
    timeout_ms: u64,
    out_handled: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let session = unsafe { session_arg(session)? };
        let n = session.event_hub().dispatch(ms(timeout_ms));
        if !out_handled.is_null() {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { *out_handled = n };
        }
        Ok(())
    })
}

fn event_field(
    event: *const ftrack_event,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
    get: impl FnOnce(&Event) -> String,
) -> FfiResult<()> {
    let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
    let event = unsafe { borrow(event, "event")? };
    out.write(&get(&event.event))
}

/// @brief Copies the event's topic into `(buffer, buffer_len, out_len)`.
///
/// @param event the event (not NULL).
/// @param buffer receives the text, NUL-terminated; may be NULL when `buffer_len` is 0.
/// @param buffer_len the size of `buffer` in bytes.
/// @param out_len NULL, or receives the size needed, NUL included.
/// @return `FTRACK_STATUS_OK`, `FTRACK_STATUS_BUFFER_TOO_SMALL` (`*out_len`
///         is the size needed), `FTRACK_STATUS_NULL_POINTER` or `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_topic(
    event: *const ftrack_event,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({ event_field(event, buffer, buffer_len, out_len, |e| e.topic.clone()) })
}

/// @brief Copies the event's id (as `ftrack_event_topic`).
///
/// @param event the event (not NULL).
/// @param buffer receives the text, NUL-terminated; may be NULL when `buffer_len` is 0.
/// @param buffer_len the size of `buffer` in bytes.
/// @param out_len NULL, or receives the size needed, NUL included.
/// @return as `ftrack_event_topic`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_id(
    event: *const ftrack_event,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({ event_field(event, buffer, buffer_len, out_len, |e| e.id.clone()) })
}

/// @brief Copies the event's data as JSON (as `ftrack_event_topic`).
///
/// @param event the event (not NULL).
/// @param buffer receives the text, NUL-terminated; may be NULL when `buffer_len` is 0.
/// @param buffer_len the size of `buffer` in bytes.
/// @param out_len NULL, or receives the size needed, NUL included.
/// @return as `ftrack_event_topic`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_data_json(
    event: *const ftrack_event,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({ event_field(event, buffer, buffer_len, out_len, |e| e.data.to_string()) })
}

/// @brief Copies the event's source as JSON (`id` of the publishing hub,
/// `user.username`, `applicationId`), as `ftrack_event_topic`.
///
/// @param event the event (not NULL).
/// @param buffer receives the text, NUL-terminated; may be NULL when `buffer_len` is 0.
/// @param buffer_len the size of `buffer` in bytes.
/// @param out_len NULL, or receives the size needed, NUL included.
/// @return as `ftrack_event_topic`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_source_json(
    event: *const ftrack_event,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({ event_field(event, buffer, buffer_len, out_len, |e| e.source.to_string()) })
}

/// @brief Copies the whole event as a JSON object, in the form it has on the
/// wire and that subscriptions are matched against: `id`, `topic`, `data`,
/// `source`, `target`, `inReplyToEvent` (null unless a reply) and `sent`
/// (null), as `ftrack_event_topic`.
///
/// @param event the event (not NULL).
/// @param buffer receives the text, NUL-terminated; may be NULL when `buffer_len` is 0.
/// @param buffer_len the size of `buffer` in bytes.
/// @param out_len NULL, or receives the size needed, NUL included.
/// @return as `ftrack_event_topic`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_json(
    event: *const ftrack_event,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        event_field(event, buffer, buffer_len, out_len, |e| {
            e.to_json().to_string()
        })
    })
}

/// @brief Sets `*out` to whether a subscription expression (the language of
/// `ftrack_event_hub_subscribe`) matches a JSON value: an event in the form
/// of `ftrack_event_json` for a subscription, or subscriber metadata for a
/// target. For hosts that route events among handlers of their own.
///
/// @param expression the expression, NUL-terminated UTF-8 (not NULL).
/// @param json the value, JSON, NUL-terminated UTF-8 (not NULL).
/// @param out receives the answer (not NULL).
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_INVALID_ARGUMENT` for a bad
///         expression (the message says where) or JSON;
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_INVALID_UTF8`;
///         `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_expression_matches(
    expression: *const c_char,
    json: *const c_char,
    out: *mut bool,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_value(out, "out")? };
        let text = unsafe { str_arg(expression, "expression")? };
        let value = unsafe { json_arg(json, "json")? };
        let expression = SubscriptionExpression::parse(text)
            .map_err(|e| FfiError::invalid(format!("{e}; fix the expression")))?;
        *out = expression.matches(&value);
        Ok(())
    })
}

/// @brief Copies one value of the event's data, found by a JSON pointer (RFC
/// 6901, e.g. `"/entities/0/changes/roleid/new"`; `""` is all of it): a
/// string without its quotes, anything else as JSON (`null`, `3`, `{...}`).
///
/// @param event the event (not NULL).
/// @param pointer a JSON pointer such as `/entities/0/action`, NUL-terminated (not NULL).
/// @param buffer receives the text, NUL-terminated; may be NULL when `buffer_len` is 0.
/// @param buffer_len the size of `buffer` in bytes.
/// @param out_len NULL, or receives the size needed, NUL included.
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_NOT_FOUND` when nothing is at
///         that pointer; `FTRACK_STATUS_BUFFER_TOO_SMALL` (`*out_len` is the
///         size needed); `FTRACK_STATUS_NULL_POINTER`;
///         `FTRACK_STATUS_INVALID_UTF8`; `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_data_get(
    event: *const ftrack_event,
    pointer: *const c_char,
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> ftrack_status {
    ffi_boundary!({
        let out = unsafe { out_buffer(buffer, buffer_len, out_len)? };
        let event = unsafe { borrow(event, "event")? };
        let pointer = unsafe { str_arg(pointer, "pointer")? };
        let value = event.event.data.pointer(pointer).ok_or_else(|| {
            FfiError::new(
                ftrack_status::NotFound,
                format!("the event's data has nothing at {pointer:?}"),
            )
        })?;
        match value {
            Value::String(s) => out.write(s),
            other => out.write(&other.to_string()),
        }
    })
}

/// @brief Sets the reply a callback sends back to the publisher: `data_json` is
/// any JSON value (copied). Call it on the event a callback received,
/// before the callback returns; the last call wins.
///
/// @param event the event (not NULL).
/// @param data_json NULL for `{}`, or the data as JSON (NUL-terminated).
/// @return `FTRACK_STATUS_OK`; `FTRACK_STATUS_INVALID_ARGUMENT` (not JSON);
///         `FTRACK_STATUS_NULL_POINTER`; `FTRACK_STATUS_INVALID_UTF8`;
///         `FTRACK_STATUS_POISONED`.
///
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_set_reply(
    event: *mut ftrack_event,
    data_json: *const c_char,
) -> ftrack_status {
    ffi_boundary!({
        let event = unsafe { borrow(event.cast_const(), "event")? };
        let value = unsafe { json_arg(data_json, "data_json")? };
        *event.reply.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        Ok(())
    })
}

/// @brief Frees an event returned by `ftrack_event_hub_publish_and_wait`.
/// NULL is a no-op. Never destroy the event a callback receives.
///
/// @param event the event (not NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftrack_event_destroy(event: *mut ftrack_event) {
    ffi_boundary!(value: (), { unsafe { destroy_handle(event) } })
}

/// The file name endings of plugin libraries.
const PLUGIN_SUFFIXES: &[&str] = &[".so", ".dylib", ".dll"];
/// Most files looked at per plugin directory tree, and deepest nesting.
const MAX_PLUGIN_FILES: usize = 10_000;
const MAX_PLUGIN_DEPTH: usize = 16;

fn find_plugins(dir: &Path, depth: usize, seen: &mut usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_PLUGIN_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        *seen += 1;
        if *seen > MAX_PLUGIN_FILES {
            return;
        }
        if path.is_dir() {
            find_plugins(&path, depth + 1, seen, out);
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && PLUGIN_SUFFIXES.iter().any(|s| name.ends_with(s))
        {
            out.push(path);
        }
    }
}

/// Loads one plugin library and calls its entry point; Err says why not.
#[cfg(unix)]
fn load_plugin(
    path: &Path,
    session: *mut ftrack_session,
    arguments: &CString,
) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| "its path holds a NUL byte".to_string())?;
    // SAFETY: a NUL-terminated path; the library stays loaded for the
    // process's lifetime (callbacks it registers point into it).
    let lib = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if lib.is_null() {
        // SAFETY: dlerror returns NULL or a NUL-terminated message.
        let why = unsafe { libc::dlerror() };
        let why = if why.is_null() {
            "unknown error".to_string()
        } else {
            unsafe { std::ffi::CStr::from_ptr(why) }
                .to_string_lossy()
                .into_owned()
        };
        return Err(format!("it could not be loaded: {why}"));
    }
    // SAFETY: a valid handle and a NUL-terminated symbol name.
    let sym = unsafe { libc::dlsym(lib, c"ftrack_event_plugin_register".as_ptr()) };
    if sym.is_null() {
        // Not a plugin: unload it again.
        // SAFETY: the handle from dlopen above, nothing from it is in use.
        unsafe { libc::dlclose(lib) };
        return Err("it does not export ftrack_event_plugin_register".into());
    }
    // SAFETY: the documented entry point signature.
    let register: unsafe extern "C" fn(*mut ftrack_session, *const c_char) -> c_int =
        unsafe { std::mem::transmute(sym) };
    // SAFETY: a live session handle and NUL-terminated arguments.
    let code = unsafe { register(session, arguments.as_ptr()) };
    if code != 0 {
        return Err(format!("ftrack_event_plugin_register returned {code}"));
    }
    Ok(())
}

#[cfg(not(unix))]
fn load_plugin(
    _path: &Path,
    _session: *mut ftrack_session,
    _arguments: &CString,
) -> Result<(), String> {
    Err("plugin libraries are only loaded on Unix-like systems in this build".into())
}

/// After a session handle was created: loads the plugins of its options
/// (each failure logged and skipped) and, when any registered, publishes
/// `ftrack.api.session.ready` locally. Returns the number registered.
///
/// # Safety
/// `handle` must be a live session handle.
pub(crate) unsafe fn session_created(handle: *mut ftrack_session) -> usize {
    let Ok(session) = (unsafe { session_arg(handle) }) else {
        return 0;
    };
    let session = session.clone();
    let options = session.options();
    let dirs = options.plugin_search_paths();
    if dirs.is_empty() {
        return 0;
    }
    let arguments = CString::new(
        options
            .plugin_arguments_json()
            .to_string()
            .replace('\0', ""),
    )
    .unwrap_or_default();
    let mut files = Vec::new();
    for dir in &dirs {
        let mut seen = 0;
        find_plugins(dir, 0, &mut seen, &mut files);
    }
    let hub = session.event_hub();
    let mut registered = 0;
    for file in files {
        match load_plugin(&file, handle, &arguments) {
            Ok(()) => {
                registered += 1;
                hub.log_line(
                    ftrack::hooks::LogLevel::Info,
                    &format!("plugin {} registered", file.display()),
                );
            }
            Err(why) => hub.log_line(
                ftrack::hooks::LogLevel::Warn,
                &format!("plugin {} skipped: {why}", file.display()),
            ),
        }
    }
    if registered > 0 {
        hub.publish_ready();
    }
    registered
}
