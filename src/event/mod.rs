//! The event hub client: subscribe to events with the subscription
//! expression language, publish, publish and wait for a reply, reply from
//! handlers, and local events (such as `ftrack.api.session.ready`) that never
//! leave the process.
//!
//! # Connection
//!
//! [`EventHub::connect`] (or [`crate::SessionOptions::auto_connect_event_hub`])
//! starts one library thread that speaks Socket.IO 0.9 over WebSocket with
//! the server (`/socket.io/1/`): `ws://` for an `http://` server URL, `wss://`
//! (TLS, verified as the session's HTTP requests are: the
//! [`crate::SessionOptions::ca_bundle`] when set, else the platform's
//! verifier, with the host name checked) for an `https://` one. When the connection drops, or no packet
//! (not even a heartbeat) arrives for [`EventHubOptions::heartbeat_timeout`],
//! it reconnects with exponential backoff and jitter
//! ([`EventHubOptions::backoff_min`] to [`EventHubOptions::backoff_max`], ±50 %),
//! forever unless [`EventHubOptions::max_reconnect_attempts`] says otherwise,
//! and subscribes every subscriber again. Events published while
//! disconnected wait in a queue of at most [`EventHubOptions::max_queued`]
//! events and are sent, in order, after the reconnection; past the bound
//! `publish` fails with [`crate::Error::Connection`].
//!
//! # Threading
//!
//! Handlers run where the host wants them: by default on the host's own
//! thread, inside [`EventHub::dispatch`] (call it from a UI loop or a timer:
//! it runs the handlers of the events that arrived and returns); with
//! [`EventHubOptions::dispatch_thread`] on one library thread. Events wait
//! for dispatch in a queue of at most [`EventHubOptions::max_incoming`]
//! events; past it the oldest is dropped and a warning logged. Handlers of
//! one event run in priority order (lower first, as ftrack_api). A handler
//! that fails or panics is logged through the session's logger
//! ([`crate::hooks`]) and the next one runs. A handler's non-null return
//! value is sent back as a reply (`ftrack.meta.reply`) to the publisher.
//!
//! Replies: [`EventHub::publish_and_wait`] blocks for the first one;
//! [`EventHub::publish_with_reply`] instead runs a handler for every reply
//! where the other handlers run (as ftrack_api's `on_reply`, which its
//! `wait()` calls).
//!
//! Removing handlers: once [`EventHub::unsubscribe`] returns, the handler is
//! not running on any other thread and is never called again, even for an
//! event whose dispatch already began; once [`EventHub::close`] returns, the
//! same holds for every subscriber and reply handler. Called from inside a
//! handler (on the thread running it), they do not wait for that call, which
//! finishes normally. They do wait for calls on other threads: do not call
//! them while holding a lock that such a handler takes.

mod connection;

use crate::error::{Error, Result};
use crate::hooks::{Hooks, LogLevel};
use crate::in_flight::{self, InFlight};
use ftrack_event_expression::Expression;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use ftrack_event_expression::{Expression as SubscriptionExpression, ParseError};

/// Reply handlers ([`EventHub::publish_with_reply`]) kept per hub: past
/// this many, the oldest is forgotten (its later replies are not handled).
pub const MAX_REPLY_HANDLERS: usize = 10_000;

/// Topics handled only inside the process, never sent to the server.
pub const LOCAL_TOPICS: &[&str] = &[
    "ftrack.meta.connected",
    "ftrack.meta.disconnected",
    "ftrack.api.session.ready",
    "ftrack.api.session.reset",
    "ftrack.api.session.construct-entity-type",
    "ftrack.api.session.configure-location",
    "ftrack.api.session.get-file-type-from-string",
];

/// One event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique id (uuid4 hex).
    pub id: String,
    /// Topic, e.g. `ftrack.update`.
    pub topic: String,
    /// Payload.
    pub data: Value,
    /// Who published it (`id`, `user.username`, `applicationId`, ...).
    pub source: Value,
    /// A subscription expression over subscriber metadata: who should
    /// receive it (empty: everyone).
    pub target: String,
    /// The id of the event this one replies to.
    pub in_reply_to_event: Option<String>,
}

impl Event {
    /// A new event with a fresh id.
    pub fn new(topic: impl Into<String>, data: Value) -> Event {
        Event {
            id: uuid::Uuid::new_v4().simple().to_string(),
            topic: topic.into(),
            data,
            source: json!({}),
            target: String::new(),
            in_reply_to_event: None,
        }
    }

    /// Sets the target expression.
    pub fn with_target(mut self, target: impl Into<String>) -> Event {
        self.target = target.into();
        self
    }

    /// The event as the wire (and expressions) see it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "topic": self.topic,
            "data": self.data,
            "source": self.source,
            "target": self.target,
            "inReplyToEvent": self.in_reply_to_event,
            "sent": null,
        })
    }

    /// Reads an event from its wire form; None without a topic.
    pub fn from_json(v: &Value) -> Option<Event> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Event {
            id: s("id").unwrap_or_default(),
            topic: s("topic")?,
            data: v.get("data").cloned().unwrap_or(Value::Null),
            source: v.get("source").cloned().unwrap_or_else(|| json!({})),
            target: s("target").unwrap_or_default(),
            in_reply_to_event: s("inReplyToEvent").or_else(|| s("in_reply_to_event")),
        })
    }
}

/// What a handler returns: reply data (sent back when not null) or a
/// failure message (logged).
pub type HandlerResult = std::result::Result<Option<Value>, String>;

/// A subscription's callback.
pub type Handler = Arc<dyn Fn(&Event) -> HandlerResult + Send + Sync>;

/// Connection and dispatch settings.
#[derive(Debug, Clone)]
pub struct EventHubOptions {
    /// First wait before reconnecting (default 1 s).
    pub backoff_min: Duration,
    /// Longest wait between reconnection attempts (default 30 s).
    pub backoff_max: Duration,
    /// Give up after this many failed attempts in a row (None: never, the default).
    pub max_reconnect_attempts: Option<u32>,
    /// Reconnect when nothing arrives for this long (default 60 s; the
    /// server sends a heartbeat every few seconds).
    pub heartbeat_timeout: Duration,
    /// Events published while disconnected kept for sending (default 1000).
    pub max_queued: usize,
    /// Received events waiting for dispatch (default 10 000; the oldest is dropped past it).
    pub max_incoming: usize,
    /// Run handlers on a library thread instead of in [`EventHub::dispatch`].
    pub dispatch_thread: bool,
    /// Connect and read timeout of the handshake and the WebSocket (default 30 s).
    pub connect_timeout: Duration,
}

impl Default for EventHubOptions {
    fn default() -> Self {
        EventHubOptions {
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            max_reconnect_attempts: None,
            heartbeat_timeout: Duration::from_secs(60),
            max_queued: 1000,
            max_incoming: 10_000,
            dispatch_thread: false,
            connect_timeout: Duration::from_secs(30),
        }
    }
}

/// A subscriber: its expression, metadata, priority and handler.
struct Subscriber {
    /// Names its handler's calls in progress (see [`InFlight`]).
    serial: u64,
    id: String,
    subscription: String,
    expression: Expression,
    metadata: Value,
    priority: i32,
    handler: Handler,
}

/// Where the hub's connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Never connected, or disconnected on request.
    Disconnected,
    /// Connecting or waiting to reconnect.
    Connecting,
    /// Connected.
    Connected,
    /// Reconnection gave up (see [`EventHubOptions::max_reconnect_attempts`]).
    Failed,
}

pub(crate) struct State {
    subscribers: Vec<Subscriber>,
    incoming: VecDeque<Event>,
    /// Packets waiting for a connection.
    queued: VecDeque<String>,
    /// The connection thread's outbox when connected.
    outbox: Option<std::sync::mpsc::Sender<String>>,
    connection: ConnectionState,
    /// Replies awaited by `publish_and_wait`, by the original event's id.
    waiting: HashMap<String, Option<Event>>,
    /// Handlers of the replies to events published by `publish_with_reply`
    /// (with their serials), by the original event's id, and those ids oldest
    /// first (for the bound).
    reply_handlers: HashMap<String, (u64, Handler)>,
    reply_order: VecDeque<String>,
    /// Whether the connection thread should keep going.
    running: bool,
    /// Bumped on every connect request, so an old thread stops.
    generation: u64,
    last_error: Option<String>,
    /// What kind of failure `last_error` is.
    last_error_kind: connection::FailureKind,
}

pub(crate) struct Inner {
    pub(crate) id: String,
    pub(crate) server_url: String,
    pub(crate) api_user: String,
    pub(crate) api_key: String,
    /// The PEM file of CA certificates to trust for `wss://` instead of the
    /// platform's (a session's [`crate::SessionOptions::ca_bundle`]).
    pub(crate) ca_bundle: Option<std::path::PathBuf>,
    pub(crate) options: Mutex<EventHubOptions>,
    pub(crate) hooks: Arc<Hooks>,
    pub(crate) state: Mutex<State>,
    /// Signalled when an event arrives, a reply comes, or the connection changes.
    pub(crate) changed: Condvar,
    dispatching: AtomicBool,
    /// Handler calls in progress (entered under `state`), so that removing a
    /// handler can wait for them.
    calls: InFlight,
}

/// The event hub of a session (see the module documentation). Cheap to clone.
#[derive(Clone)]
pub struct EventHub {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for EventHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHub")
            .field("id", &self.inner.id)
            .field(
                "server_url",
                &crate::config::redact_url(&self.inner.server_url),
            )
            .field("api_user", &self.inner.api_user)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Socket.IO event packet for `event`.
pub(crate) fn event_packet(event: &Value, ack: Option<u64>) -> String {
    let ack = ack.map(|n| format!("{n}+")).unwrap_or_default();
    format!(
        "5:{ack}::{}",
        json!({"name": "ftrack.event", "args": [event]})
    )
}

impl EventHub {
    pub(crate) fn new(
        server_url: &str,
        api_user: &str,
        api_key: &str,
        ca_bundle: Option<std::path::PathBuf>,
        hooks: Arc<Hooks>,
        options: EventHubOptions,
    ) -> EventHub {
        EventHub {
            inner: Arc::new(Inner {
                id: uuid::Uuid::new_v4().simple().to_string(),
                server_url: server_url.trim_end_matches('/').to_string(),
                api_user: api_user.to_string(),
                api_key: api_key.to_string(),
                ca_bundle,
                options: Mutex::new(options),
                hooks,
                state: Mutex::new(State {
                    subscribers: Vec::new(),
                    incoming: VecDeque::new(),
                    queued: VecDeque::new(),
                    outbox: None,
                    connection: ConnectionState::Disconnected,
                    waiting: HashMap::new(),
                    reply_handlers: HashMap::new(),
                    reply_order: VecDeque::new(),
                    running: false,
                    generation: 0,
                    last_error: None,
                    last_error_kind: connection::FailureKind::Other,
                }),
                changed: Condvar::new(),
                dispatching: AtomicBool::new(false),
                calls: InFlight::default(),
            }),
        }
    }

    /// A hub of its own, without a session (no logger): for tools that only
    /// use events. `server_url` as for a session (`http://host:port`, or
    /// `https://host` for TLS verified by the platform's verifier). Call
    /// [`EventHub::disconnect`] when done: its connection thread holds it.
    pub fn detached(
        server_url: &str,
        api_user: &str,
        api_key: &str,
        options: EventHubOptions,
    ) -> EventHub {
        EventHub::new(
            server_url,
            api_user,
            api_key,
            None,
            Hooks::new(None, api_key),
            options,
        )
    }

    /// [`EventHub::detached`] for an `https://` server whose certificate is
    /// signed by a CA in the PEM file `ca_bundle` (trusted instead of the
    /// platform's CAs, as [`crate::SessionOptions::ca_bundle`] does).
    pub fn detached_with_ca_bundle(
        server_url: &str,
        api_user: &str,
        api_key: &str,
        ca_bundle: impl Into<std::path::PathBuf>,
        options: EventHubOptions,
    ) -> EventHub {
        EventHub::new(
            server_url,
            api_user,
            api_key,
            Some(ca_bundle.into()),
            Hooks::new(None, api_key),
            options,
        )
    }

    /// This hub's id (`source.id` of what it publishes; replies target it).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Changes the settings; takes effect at the next connection.
    pub fn set_options(&self, options: EventHubOptions) {
        *lock(&self.inner.options) = options;
    }

    /// The settings in force.
    pub fn options(&self) -> EventHubOptions {
        lock(&self.inner.options).clone()
    }

    /// Sends a line to the session's logger, prefixed `event hub:` (for
    /// layers above the core, such as the C ABI's plugin loader).
    pub fn log_line(&self, level: LogLevel, line: &str) {
        self.log(level, || line.to_string());
    }

    pub(crate) fn log(&self, level: LogLevel, line: impl FnOnce() -> String) {
        self.inner
            .hooks
            .log(level, || format!("event hub: {}", line()));
    }

    /// The connection state.
    pub fn connection_state(&self) -> ConnectionState {
        lock(&self.inner.state).connection
    }

    /// Whether the hub is connected to the server now.
    pub fn connected(&self) -> bool {
        self.connection_state() == ConnectionState::Connected
    }

    /// Why the last connection attempt failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.inner.state).last_error.clone()
    }

    /// Connects and waits up to `wait` for the first connection
    /// (`Duration::ZERO`: return at once, connect in the background). The
    /// connection is kept (reconnected) until [`EventHub::disconnect`].
    /// Once connected, the subscriptions have been sent, but the server may
    /// not have read them yet: events it publishes in that moment (the
    /// `ftrack.update` of a write made at once, from another session) can
    /// pass them by. The protocol does not acknowledge a subscription; to be
    /// sure, publish an event of your own that a subscription matches and
    /// wait for it to arrive.
    /// Fails with `Connection` when the first attempt fails within `wait`
    /// (refused credentials included; the message says so), with `Tls` when
    /// TLS could not be set up or the server's certificate is not trusted
    /// (see [`crate::SessionOptions::ca_bundle`]), with `Timeout` when
    /// nothing was decided within `wait`; the hub then keeps retrying in the
    /// background unless reconnection is limited.
    pub fn connect(&self, wait: Duration) -> Result<()> {
        {
            let mut st = lock(&self.inner.state);
            if !st.running {
                st.running = true;
                st.generation += 1;
                st.connection = ConnectionState::Connecting;
                st.last_error = None;
                let generation = st.generation;
                let hub = self.clone();
                std::thread::Builder::new()
                    .name("ftrack-event-hub".into())
                    .spawn(move || connection::run(hub, generation))
                    .map_err(|e| {
                        Error::Internal(format!("cannot start the event hub thread: {e}"))
                    })?;
                if lock(&self.inner.options).dispatch_thread {
                    let hub = self.clone();
                    std::thread::Builder::new()
                        .name("ftrack-event-dispatch".into())
                        .spawn(move || {
                            while lock(&hub.inner.state).running {
                                hub.dispatch(Duration::from_millis(200));
                            }
                        })
                        .map_err(|e| {
                            Error::Internal(format!("cannot start the event dispatch thread: {e}"))
                        })?;
                }
            }
        }
        if wait.is_zero() {
            return Ok(());
        }
        let until = Instant::now() + wait;
        let mut st = lock(&self.inner.state);
        loop {
            match st.connection {
                ConnectionState::Connected => return Ok(()),
                ConnectionState::Failed | ConnectionState::Disconnected => break,
                ConnectionState::Connecting if st.last_error.is_some() => break,
                ConnectionState::Connecting => {}
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout(format!(
                    "the event hub at {} did not connect within {} ms; it keeps trying in the background",
                    crate::config::redact_url(&self.inner.server_url),
                    wait.as_millis()
                )));
            }
            st = self
                .inner
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let why = st.last_error.clone().unwrap_or_default();
        let next = if st.connection == ConnectionState::Failed {
            "the hub gave up: max_reconnect_attempts was reached; call connect again to retry"
        } else {
            "the hub keeps retrying in the background"
        };
        if st.last_error_kind == connection::FailureKind::Tls {
            return Err(Error::Tls(format!(
                "cannot connect to the event hub: {why} ({next})"
            )));
        }
        Err(Error::Connection(format!(
            "cannot connect to the event hub: {why}; check the server URL and credentials ({next})"
        )))
    }

    /// Disconnects and stops reconnecting; subscriptions are kept for the
    /// next [`EventHub::connect`].
    pub fn disconnect(&self) {
        let mut st = lock(&self.inner.state);
        st.running = false;
        st.generation += 1;
        st.outbox = None;
        st.connection = ConnectionState::Disconnected;
        self.inner.changed.notify_all();
    }

    /// Subscribes `handler` to events matching `subscription` (see
    /// [`SubscriptionExpression`]). `subscriber` is metadata other hubs can
    /// target (`id` is generated when absent); lower `priority` runs first
    /// (ftrack_api's default is 100). Returns the subscriber id.
    pub fn subscribe(
        &self,
        subscription: &str,
        handler: Handler,
        subscriber: Option<Value>,
        priority: i32,
    ) -> Result<String> {
        let expression = Expression::parse(subscription)
            .map_err(|e| Error::InvalidArgument(format!("{e}; fix the subscription")))?;
        let mut metadata = match subscriber {
            Some(Value::Object(m)) => Value::Object(m),
            None | Some(Value::Null) => json!({}),
            Some(other) => {
                return Err(Error::InvalidArgument(format!(
                    "subscriber metadata must be a JSON object, not {other}"
                )));
            }
        };
        let id = match metadata.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => uuid::Uuid::new_v4().simple().to_string(),
        };
        metadata["id"] = Value::from(id.clone());
        if metadata.get("applicationId").is_none() {
            metadata["applicationId"] = Value::from("libftrack");
        }
        let mut st = lock(&self.inner.state);
        if st.subscribers.iter().any(|s| s.id == id) {
            return Err(Error::InvalidArgument(format!(
                "a subscriber with id {id} is already subscribed; unsubscribe it first or use another id"
            )));
        }
        let packet = self.subscribe_packet(subscription, &metadata);
        st.subscribers.push(Subscriber {
            serial: in_flight::serial(),
            id: id.clone(),
            subscription: subscription.to_string(),
            expression,
            metadata,
            priority,
            handler,
        });
        if let Some(tx) = &st.outbox {
            let _ = tx.send(packet);
        }
        Ok(id)
    }

    fn subscribe_packet(&self, subscription: &str, metadata: &Value) -> String {
        event_packet(
            &self
                .stamp(Event::new(
                    "ftrack.meta.subscribe",
                    json!({"subscriber": metadata, "subscription": subscription}),
                ))
                .to_json(),
            None,
        )
    }

    /// Removes the subscriber; false when there was none with that id. When
    /// it returns, the subscriber's handler is not running on any other thread
    /// and is never called again; called from inside that handler, it returns
    /// without waiting for the call in progress (see the module documentation).
    pub fn unsubscribe(&self, subscriber_id: &str) -> bool {
        let mut st = lock(&self.inner.state);
        let Some(at) = st.subscribers.iter().position(|s| s.id == subscriber_id) else {
            return false;
        };
        let removed = st.subscribers.remove(at);
        if let Some(tx) = &st.outbox {
            let packet = event_packet(
                &self
                    .stamp(Event::new(
                        "ftrack.meta.unsubscribe",
                        json!({"subscriber": {"id": subscriber_id}}),
                    ))
                    .to_json(),
                None,
            );
            let _ = tx.send(packet);
        }
        drop(st);
        self.inner.calls.wait(|s| s == removed.serial);
        // The handler (and what it holds) goes now, after its last call.
        drop(removed);
        true
    }

    /// Disconnects (as [`EventHub::disconnect`]), removes every subscriber
    /// and reply handler, and drops the events waiting for dispatch. When it
    /// returns none of those handlers is running on another thread, and none
    /// is called again; calls in progress on this thread (it was called from
    /// a handler) finish normally. The hub can be subscribed to and connected
    /// again afterwards. For layers that must know their callbacks are done
    /// before freeing what they use (the C ABI's `ftrack_session_destroy`).
    pub fn close(&self) {
        self.disconnect();
        let (subscribers, replies) = {
            let mut st = lock(&self.inner.state);
            st.incoming.clear();
            st.reply_order.clear();
            (
                std::mem::take(&mut st.subscribers),
                std::mem::take(&mut st.reply_handlers),
            )
        };
        let mut serials: Vec<u64> = subscribers
            .iter()
            .map(|s| s.serial)
            .chain(replies.values().map(|(serial, _)| *serial))
            .collect();
        serials.sort_unstable();
        self.inner.calls.wait(|s| serials.binary_search(&s).is_ok());
        drop((subscribers, replies));
    }

    /// The subscriptions (subscriber id, expression text), in subscription order.
    pub fn subscriptions(&self) -> Vec<(String, String)> {
        lock(&self.inner.state)
            .subscribers
            .iter()
            .map(|s| (s.id.clone(), s.subscription.clone()))
            .collect()
    }

    /// Fills in the source (this hub's id, the user) and an id.
    fn stamp(&self, mut event: Event) -> Event {
        if event.id.is_empty() {
            event.id = uuid::Uuid::new_v4().simple().to_string();
        }
        if !event.source.is_object() {
            event.source = json!({});
        }
        if event.source.get("id").is_none() {
            event.source["id"] = Value::from(self.inner.id.clone());
        }
        if event.source.get("user").is_none() {
            event.source["user"] = json!({"username": self.inner.api_user});
        }
        if event.source.get("applicationId").is_none() {
            event.source["applicationId"] = Value::from("libftrack");
        }
        event
    }

    /// Publishes `event` to the server (a local-only topic, see
    /// [`LOCAL_TOPICS`], is handled locally instead). While disconnected it
    /// is queued (see the module documentation); fails with `Connection`
    /// when the queue is full or the hub was never connected.
    pub fn publish(&self, event: Event) -> Result<String> {
        let event = self.stamp(event);
        let id = event.id.clone();
        if LOCAL_TOPICS.contains(&event.topic.as_str()) {
            self.publish_local(event);
            return Ok(id);
        }
        let packet = event_packet(&event.to_json(), None);
        let max = lock(&self.inner.options).max_queued;
        let mut st = lock(&self.inner.state);
        if let Some(tx) = &st.outbox
            && tx.send(packet.clone()).is_ok()
        {
            return Ok(id);
        }
        if !st.running {
            return Err(Error::Connection(
                "the event hub is not connected; call connect first (or set auto_connect_event_hub)"
                    .into(),
            ));
        }
        if st.queued.len() >= max {
            return Err(Error::Connection(format!(
                "the event hub is disconnected and {max} events already wait to be sent (the limit); retry once it has reconnected"
            )));
        }
        st.queued.push_back(packet);
        Ok(id)
    }

    /// Publishes `event` and waits up to `timeout` for the first reply.
    pub fn publish_and_wait(&self, event: Event, timeout: Duration) -> Result<Event> {
        let event = self.stamp(event);
        let id = event.id.clone();
        lock(&self.inner.state).waiting.insert(id.clone(), None);
        if let Err(e) = self.publish(event) {
            lock(&self.inner.state).waiting.remove(&id);
            return Err(e);
        }
        let until = Instant::now() + timeout;
        let mut st = lock(&self.inner.state);
        loop {
            if let Some(Some(_)) = st.waiting.get(&id) {
                let reply = st.waiting.remove(&id).flatten();
                return reply.ok_or_else(|| Error::Internal("reply vanished".into()));
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                st.waiting.remove(&id);
                return Err(Error::Timeout(format!(
                    "no reply to the event {id} within {} ms; check that a subscriber for its topic is connected",
                    timeout.as_millis()
                )));
            }
            st = self
                .inner
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Publishes `event` (as [`EventHub::publish`]) and runs `on_reply` for
    /// every reply to it (`ftrack.meta.reply` whose `in_reply_to_event` is its
    /// id), where handlers run: in [`EventHub::dispatch`], or on the dispatch
    /// thread. `on_reply`'s result is not sent anywhere; a failure is logged.
    /// The handlers of the latest [`MAX_REPLY_HANDLERS`] events are kept.
    /// Returns the event's id.
    pub fn publish_with_reply(&self, event: Event, on_reply: Handler) -> Result<String> {
        let event = self.stamp(event);
        let id = event.id.clone();
        {
            let mut st = lock(&self.inner.state);
            let entry = (in_flight::serial(), on_reply);
            if st.reply_handlers.insert(id.clone(), entry).is_none() {
                st.reply_order.push_back(id.clone());
            }
            while st.reply_order.len() > MAX_REPLY_HANDLERS {
                if let Some(oldest) = st.reply_order.pop_front() {
                    st.reply_handlers.remove(&oldest);
                }
            }
        }
        self.publish(event).inspect_err(|_| {
            let mut st = lock(&self.inner.state);
            st.reply_handlers.remove(&id);
            st.reply_order.retain(|i| *i != id);
        })
    }

    /// Sends `data` as the reply to `to` (topic `ftrack.meta.reply`,
    /// targeted at the publisher's hub).
    pub fn publish_reply(&self, to: &Event, data: Value, source: Option<Value>) -> Result<String> {
        let Some(hub) = to.source.get("id").and_then(Value::as_str) else {
            return Err(Error::InvalidArgument(format!(
                "the event {} has no source.id to reply to",
                to.id
            )));
        };
        let mut reply = Event::new("ftrack.meta.reply", data).with_target(format!("id={hub}"));
        reply.in_reply_to_event = Some(to.id.clone());
        if let Some(s) = source {
            reply.source = s;
        }
        self.publish(reply)
    }

    /// Runs the handlers of `event` now, on this thread, without the server
    /// (how `ftrack.api.session.ready` is delivered); returns their non-null results.
    pub fn publish_local(&self, event: Event) -> Vec<Value> {
        let event = self.stamp(event);
        self.handle(&event, false)
    }

    /// Queues a received event for dispatch (drops the oldest past the bound).
    pub(crate) fn received(&self, event: Event) {
        let max = lock(&self.inner.options).max_incoming.max(1);
        let mut st = lock(&self.inner.state);
        if event.topic == "ftrack.meta.reply"
            && let Some(original) = &event.in_reply_to_event
            && let Some(slot) = st.waiting.get_mut(original)
        {
            if slot.is_none() {
                *slot = Some(event);
            }
            self.inner.changed.notify_all();
            return;
        }
        if st.incoming.len() >= max {
            st.incoming.pop_front();
            drop(st);
            self.log(LogLevel::Warn, || {
                format!("{max} events wait for dispatch (the limit); the oldest was dropped: call dispatch more often")
            });
            st = lock(&self.inner.state);
        }
        st.incoming.push_back(event);
        self.inner.changed.notify_all();
    }

    /// Events waiting for dispatch.
    pub fn pending_events(&self) -> usize {
        lock(&self.inner.state).incoming.len()
    }

    /// Runs the handlers of every event that arrived, waiting up to
    /// `timeout` for the first one; returns the number of events handled.
    /// Call it from the thread that should run the handlers (the default
    /// mode). A second thread calling at the same time returns 0 at once.
    pub fn dispatch(&self, timeout: Duration) -> usize {
        if self.inner.dispatching.swap(true, Ordering::SeqCst) {
            return 0;
        }
        let until = Instant::now() + timeout;
        let mut handled = 0;
        loop {
            let next = {
                let mut st = lock(&self.inner.state);
                loop {
                    if let Some(e) = st.incoming.pop_front() {
                        break Some(e);
                    }
                    let left = until.saturating_duration_since(Instant::now());
                    if handled > 0 || left.is_zero() {
                        break None;
                    }
                    st = self
                        .inner
                        .changed
                        .wait_timeout(st, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            };
            let Some(event) = next else { break };
            self.handle(&event, true);
            handled += 1;
        }
        self.inner.dispatching.store(false, Ordering::SeqCst);
        handled
    }

    /// Runs the reply handler registered by `publish_with_reply` for
    /// `original`, logging a failure.
    fn run_reply_handler(&self, original: &str, on_reply: &Handler, event: &Event) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_reply(event)));
        let failure = match outcome {
            Ok(Ok(_)) => return,
            Ok(Err(message)) => message,
            Err(_) => "it panicked".to_string(),
        };
        self.log(LogLevel::Error, || {
            format!(
                "the reply handler of event {original} failed on reply {}: {failure}",
                event.id
            )
        });
    }

    /// Runs the matching handlers of `event` by priority; `reply`: send
    /// non-null results back to the publisher.
    fn handle(&self, event: &Event, reply: bool) -> Vec<Value> {
        if event.topic == "ftrack.meta.reply"
            && let Some(original) = &event.in_reply_to_event
        {
            let found = {
                let st = lock(&self.inner.state);
                st.reply_handlers
                    .get(original)
                    .map(|(serial, h)| (Arc::clone(h), self.inner.calls.enter(*serial)))
            };
            if let Some((on_reply, call)) = found {
                self.run_reply_handler(original, &on_reply, event);
                drop(on_reply);
                drop(call);
            }
        }
        let wire = event.to_json();
        let target = if event.target.trim().is_empty() {
            None
        } else {
            match Expression::parse(&event.target) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.log(LogLevel::Warn, || {
                        format!(
                            "event {} has an invalid target ({e}); not handled",
                            event.id
                        )
                    });
                    return Vec::new();
                }
            }
        };
        let mut matching: Vec<(i32, usize, u64, String, Value)> = {
            let st = lock(&self.inner.state);
            st.subscribers
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.expression.matches(&wire)
                        && target.as_ref().is_none_or(|t| t.matches(&s.metadata))
                })
                .map(|(i, s)| (s.priority, i, s.serial, s.id.clone(), s.metadata.clone()))
                .collect()
        };
        matching.sort_by_key(|(p, i, ..)| (*p, *i));
        let mut results = Vec::new();
        for (_, _, serial, sub_id, metadata) in matching {
            // Still subscribed? An earlier handler, or another thread, may have
            // unsubscribed it since the list was made. Unsubscribe waits for a
            // call entered here, and none starts after it removed the subscriber.
            let (handler, call) = {
                let st = lock(&self.inner.state);
                let Some(s) = st.subscribers.iter().find(|s| s.serial == serial) else {
                    continue;
                };
                (Arc::clone(&s.handler), self.inner.calls.enter(serial))
            };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(event)));
            // This clone goes before the call ends, so the one unsubscribe
            // holds is the last: what the handler captured is dropped there.
            drop(handler);
            drop(call);
            match outcome {
                Ok(Ok(Some(v))) if !v.is_null() => {
                    if reply
                        && event.topic != "ftrack.meta.reply"
                        && let Err(e) = self.publish_reply(event, v.clone(), Some(metadata))
                    {
                        self.log(LogLevel::Warn, || {
                            format!(
                                "the reply of subscriber {sub_id} to event {} was not sent: {e}",
                                event.id
                            )
                        });
                    }
                    results.push(v);
                }
                Ok(Ok(_)) => {}
                Ok(Err(message)) => self.log(LogLevel::Error, || {
                    format!(
                        "the handler of subscriber {sub_id} failed on event {} ({}): {message}",
                        event.id, event.topic
                    )
                }),
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".into());
                    self.log(LogLevel::Error, || {
                        format!(
                            "the handler of subscriber {sub_id} panicked on event {} ({}): {what}",
                            event.id, event.topic
                        )
                    });
                }
            }
        }
        results
    }
}

/// Per-session slot holding the hub (created on first use). Dropped with
/// the session's last clone, it disconnects the hub, so its threads end.
#[derive(Default)]
pub(crate) struct HubSlot(std::sync::OnceLock<EventHub>);

impl Drop for HubSlot {
    fn drop(&mut self) {
        if let Some(hub) = self.0.get() {
            hub.disconnect();
        }
    }
}

impl crate::Session {
    /// This session's event hub (created on first use, not connected until
    /// [`EventHub::connect`] or `auto_connect_event_hub`). It disconnects
    /// (and its threads end) when the session's last clone is dropped.
    pub fn event_hub(&self) -> EventHub {
        let slot = self.extension::<HubSlot>();
        slot.0
            .get_or_init(|| {
                let t = &self.inner.transport;
                EventHub::new(
                    t.server_url(),
                    t.api_user(),
                    t.api_key(),
                    self.inner.options.ca_bundle.clone(),
                    Arc::clone(t.hooks()),
                    self.inner.options.event_hub.clone(),
                )
            })
            .clone()
    }

    /// Removes every callback of this session: its event hub's subscribers
    /// and reply handlers (the hub is disconnected, see [`EventHub::close`]),
    /// the logger and the progress callback. When it returns none of them is
    /// running on another thread and none is called again, even though clones
    /// of the session (and its entities) live on: they then log nothing. For
    /// layers whose callbacks use memory they free after (the C ABI's
    /// `ftrack_session_destroy`).
    pub fn remove_callbacks(&self) {
        if let Some(hub) = self.extension::<HubSlot>().0.get() {
            hub.close();
        }
        self.set_logger(None);
        self.set_progress(None);
    }
}

/// Called at the end of session start-up: connects when asked to, runs the
/// Rust plugins and then, when there are any, publishes
/// `ftrack.api.session.ready` locally (layers that load plugins of their
/// own, like the C ABI, publish it after loading theirs).
pub(crate) fn session_started(session: &crate::Session) {
    let options = &session.inner.options;
    if options.plugins.is_empty() && !options.auto_connect_event_hub {
        return;
    }
    let hub = session.event_hub();
    if options.auto_connect_event_hub
        && let Err(e) = hub.connect(Duration::ZERO)
    {
        hub.log(LogLevel::Error, || {
            format!("automatic connection failed: {e}")
        });
    }
    if options.plugins.is_empty() {
        return;
    }
    for (name, plugin) in &options.plugins {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plugin(session)));
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("it panicked".to_string()),
        };
        if let Some(why) = failure {
            hub.log(LogLevel::Error, || {
                format!("plugin {name} failed to register and was skipped: {why}")
            });
        }
    }
    hub.publish_ready();
}

impl EventHub {
    /// Publishes `ftrack.api.session.ready` locally (to this process's
    /// subscribers only), as a session does once its plugins registered.
    pub fn publish_ready(&self) -> Vec<Value> {
        self.publish_local(Event::new("ftrack.api.session.ready", json!({})))
    }
}

/// A plugin run when a session starts: its name (for the log) and its
/// registration function (an `Err` is logged and the plugin skipped).
pub type Plugin = Arc<dyn Fn(&crate::Session) -> std::result::Result<(), String> + Send + Sync>;
