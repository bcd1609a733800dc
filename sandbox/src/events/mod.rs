//! The event hub: the Socket.IO 0.9-over-WebSocket endpoint the official
//! ftrack clients speak (`GET /socket.io/1/` handshake, WebSocket at
//! `/socket.io/1/websocket/<sid>`), routing of published events to
//! subscribers by subscription expression and `target`, and the
//! `ftrack.update` event published after every committed write batch
//! ([`update`]).
//!
//! WebSocket framing is done by `tungstenite`; this module only speaks the
//! Socket.IO 0.9 packets (`type:id:endpoint:data`) inside text messages.

pub mod update;

use crate::http::Head;
use crate::permissions::{Actor, authenticate};
use ftrack_event_expression::Expression;
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

/// Bounds of the event hub; the README's "Event hub" section lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLimits {
    /// WebSocket connections served at once; each holds one connection
    /// worker, so this must stay below [`crate::Limits::workers`]. One more
    /// is answered 503.
    pub connections: usize,
    /// Handshakes (session ids) waiting for their WebSocket; the oldest is
    /// dropped past this.
    pub pending_sessions: usize,
    /// Time a session id from the handshake stays valid for its WebSocket.
    pub session_timeout: Duration,
    /// Largest WebSocket message (and frame) a client may send, in bytes;
    /// a larger one closes the connection.
    pub max_message: usize,
    /// Packets queued for one client that reads too slowly; past it the
    /// client is disconnected (it reconnects and subscribes again).
    pub outbox: usize,
    /// Subscriptions one connection may hold.
    pub subscriptions: usize,
    /// How often the server sends a heartbeat (`2::`).
    pub heartbeat_interval: Duration,
    /// A connection that sends nothing (not even a heartbeat) for this
    /// long is closed; announced in the handshake.
    pub heartbeat_timeout: Duration,
}

impl Default for EventLimits {
    fn default() -> Self {
        EventLimits {
            connections: 64,
            pending_sessions: 1024,
            session_timeout: Duration::from_secs(60),
            max_message: 1024 * 1024,
            outbox: 1024,
            subscriptions: 256,
            heartbeat_interval: Duration::from_secs(10),
            heartbeat_timeout: Duration::from_secs(60),
        }
    }
}

/// A session created by a handshake, waiting for its WebSocket.
struct Pending {
    actor: Actor,
    created: Instant,
}

/// One subscription of a connection.
struct Subscription {
    subscriber: Value,
    expression: Expression,
}

/// One connected client.
struct Client {
    actor: Actor,
    subscriptions: Vec<Subscription>,
    outbox: SyncSender<String>,
    /// Set to make the connection close (slow consumer, server stop).
    kill: Arc<AtomicBool>,
}

#[derive(Default)]
struct State {
    pending: HashMap<String, Pending>,
    clients: HashMap<u64, Client>,
}

/// The hub: pending handshakes and connected clients.
pub struct Hub {
    limits: EventLimits,
    state: Mutex<State>,
    next_id: AtomicU64,
    /// Events routed so far (for tests and the log).
    pub routed: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Decodes `%XX` and `+` in a query-string component.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit() =>
            {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `name` in a query string (`a=1&b=2`), decoded.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// The credentials of a request: the `ftrack-user` / `ftrack-api-key`
/// headers (Python client) or the `api_user` / `api_key` query parameters
/// (JavaScript client).
fn credentials(header: &dyn Fn(&str) -> Option<String>, query: &str) -> (String, String) {
    match (header("ftrack-user"), header("ftrack-api-key")) {
        (Some(u), Some(k)) if !u.is_empty() && !k.is_empty() => (u, k),
        _ => (
            query_param(query, "api_user").unwrap_or_default(),
            query_param(query, "api_key").unwrap_or_default(),
        ),
    }
}

/// Writes a plain-text HTTP answer and closes.
fn answer_text(stream: &mut TcpStream, status: u16, reason: &str, body: &str) {
    let msg = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(msg.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// A parsed Socket.IO 0.9 packet.
#[derive(Debug, PartialEq)]
pub struct Packet<'a> {
    /// `0` disconnect … `7` error.
    pub kind: &'a str,
    /// Message id (`5+` asks for an acknowledgement).
    pub id: &'a str,
    /// Endpoint (always empty for ftrack).
    pub endpoint: &'a str,
    /// Payload.
    pub data: &'a str,
}

/// Splits `type:id:endpoint:data`; missing parts are empty.
pub fn parse_packet(text: &str) -> Packet<'_> {
    let mut parts = text.splitn(4, ':');
    Packet {
        kind: parts.next().unwrap_or(""),
        id: parts.next().unwrap_or(""),
        endpoint: parts.next().unwrap_or(""),
        data: parts.next().unwrap_or(""),
    }
}

/// The event packet (`5:::{"name":"ftrack.event","args":[event]}`) for `event`.
pub fn event_packet(event: &Value) -> String {
    format!("5:::{}", json!({"name": "ftrack.event", "args": [event]}))
}

/// Whether `event`'s `target` expression (empty: everyone) matches a subscriber.
fn target_matches(event: &Value, subscriber: &Value) -> bool {
    let target = event.get("target").and_then(Value::as_str).unwrap_or("");
    if target.trim().is_empty() {
        return true;
    }
    Expression::parse(target).is_ok_and(|e| e.matches(subscriber))
}

impl Hub {
    /// A hub with no client.
    pub fn new(limits: EventLimits) -> Self {
        Hub {
            limits,
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            routed: AtomicU64::new(0),
        }
    }

    /// The bounds in force.
    pub fn limits(&self) -> &EventLimits {
        &self.limits
    }

    /// Connected WebSocket clients.
    pub fn connections(&self) -> usize {
        lock(&self.state).clients.len()
    }

    /// Asks every connection to close (server stop).
    pub fn close_all(&self) {
        for c in lock(&self.state).clients.values() {
            c.kill.store(true, Ordering::SeqCst);
        }
    }

    /// Answers `GET /socket.io/1/`: `<sid>:<heartbeat timeout>:<close timeout>:websocket`
    /// for valid credentials, 401 otherwise.
    pub fn handshake(
        &self,
        conn: &Connection,
        stream: &mut TcpStream,
        header: &dyn Fn(&str) -> Option<String>,
        query: &str,
    ) {
        let (user, key) = credentials(header, query);
        let actor = match authenticate(conn, &user, &key) {
            Ok(a) => a,
            Err(e) => {
                return answer_text(stream, 401, "Unauthorized", &e.message);
            }
        };
        let sid = uuid::Uuid::new_v4().simple().to_string();
        {
            let mut st = lock(&self.state);
            let timeout = self.limits.session_timeout;
            st.pending.retain(|_, p| p.created.elapsed() < timeout);
            while st.pending.len() >= self.limits.pending_sessions.max(1) {
                let oldest = st
                    .pending
                    .iter()
                    .min_by_key(|(_, p)| p.created)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => st.pending.remove(&k),
                    None => break,
                };
            }
            st.pending.insert(
                sid.clone(),
                Pending {
                    actor,
                    created: Instant::now(),
                },
            );
        }
        let t = self.limits.heartbeat_timeout.as_secs().max(1);
        answer_text(stream, 200, "OK", &format!("{sid}:{t}:{t}:websocket"));
    }

    /// Serves the WebSocket at `/socket.io/1/websocket/<sid>` until it
    /// closes: `stream` has the request head read; `buffered` holds bytes
    /// read after it.
    /// `claimed` is the user of credentials sent with the upgrade (None:
    /// none sent; Some(None): they did not check out).
    #[allow(clippy::too_many_arguments)]
    pub fn websocket(
        &self,
        mut stream: TcpStream,
        buffered: Vec<u8>,
        sid: &str,
        ws_key: Option<String>,
        claimed: Option<Option<String>>,
        stopping: &dyn Fn() -> bool,
        log: bool,
    ) {
        let Some(ws_key) = ws_key else {
            return answer_text(
                &mut stream,
                400,
                "Bad Request",
                "Expected a WebSocket upgrade (Sec-WebSocket-Key missing)",
            );
        };
        let actor = {
            let mut st = lock(&self.state);
            let timeout = self.limits.session_timeout;
            st.pending.retain(|_, p| p.created.elapsed() < timeout);
            if st.clients.len() >= self.limits.connections {
                drop(st);
                return answer_text(
                    &mut stream,
                    503,
                    "Service Unavailable",
                    &format!(
                        "The event hub serves {} connections, the limit; try again shortly",
                        self.limits.connections
                    ),
                );
            }
            st.pending.remove(sid).map(|p| p.actor)
        };
        let Some(actor) = actor else {
            return answer_text(
                &mut stream,
                401,
                "Unauthorized",
                "Unknown or expired session id: do the GET /socket.io/1/ handshake first",
            );
        };
        // Credentials sent again with the upgrade must be the session's.
        if claimed.is_some_and(|c| c.as_deref() != Some(actor.username.as_str())) {
            return answer_text(
                &mut stream,
                401,
                "Unauthorized",
                "The credentials do not match the session's",
            );
        }
        let accept = tungstenite::handshake::derive_accept_key(ws_key.as_bytes());
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(self.limits.max_message))
            .max_frame_size(Some(self.limits.max_message));
        let mut ws = WebSocket::from_partially_read(stream, buffered, Role::Server, Some(config));
        let (tx, rx) = sync_channel(self.limits.outbox.max(1));
        let kill = Arc::new(AtomicBool::new(false));
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let username = actor.username.clone();
        lock(&self.state).clients.insert(
            id,
            Client {
                actor,
                subscriptions: Vec::new(),
                outbox: tx,
                kill: Arc::clone(&kill),
            },
        );
        if log {
            eprintln!("event hub: {username} connected (connection {id})");
        }
        let why = self.run(&mut ws, id, &rx, &kill, stopping);
        lock(&self.state).clients.remove(&id);
        let _ = ws.send(Message::text("0::"));
        let _ = ws.close(None);
        let _ = ws.flush();
        if log {
            eprintln!("event hub: {username} disconnected (connection {id}): {why}");
        }
    }

    fn run(
        &self,
        ws: &mut WebSocket<TcpStream>,
        id: u64,
        rx: &Receiver<String>,
        kill: &AtomicBool,
        stopping: &dyn Fn() -> bool,
    ) -> String {
        let _ = ws
            .get_mut()
            .set_read_timeout(Some(Duration::from_millis(50)));
        if ws.send(Message::text("1::")).is_err() {
            return "write failed".into();
        }
        let mut last_heard = Instant::now();
        let mut last_beat = Instant::now();
        loop {
            if stopping() {
                return "the server stops".into();
            }
            if kill.load(Ordering::SeqCst) {
                return format!(
                    "more than {} packets waited for the client (it reads too slowly)",
                    self.limits.outbox
                );
            }
            while let Ok(packet) = rx.try_recv() {
                if ws.write(Message::text(packet)).is_err() {
                    return "write failed".into();
                }
            }
            if last_beat.elapsed() >= self.limits.heartbeat_interval {
                last_beat = Instant::now();
                if ws.write(Message::text("2::")).is_err() {
                    return "write failed".into();
                }
            }
            if ws.flush().is_err() {
                return "write failed".into();
            }
            if last_heard.elapsed() >= self.limits.heartbeat_timeout {
                return format!(
                    "nothing received for {} s (the heartbeat timeout)",
                    self.limits.heartbeat_timeout.as_secs()
                );
            }
            match ws.read() {
                Ok(Message::Text(text)) => {
                    last_heard = Instant::now();
                    if let Some(reply) = self.packet(id, text.as_str()) {
                        if reply == "0::" {
                            return "the client disconnected".into();
                        }
                        if ws.send(Message::text(reply)).is_err() {
                            return "write failed".into();
                        }
                    }
                }
                Ok(Message::Close(_)) => return "the client closed the WebSocket".into(),
                Ok(_) => last_heard = Instant::now(),
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return format!("{e}"),
            }
        }
    }

    /// Handles one packet from connection `id`; returns the packet to answer with.
    fn packet(&self, id: u64, text: &str) -> Option<String> {
        let p = parse_packet(text);
        match p.kind {
            "0" => Some("0::".into()),
            "5" => {
                let ack = p.id.strip_suffix('+').map(str::to_string);
                let result = self.client_event(id, p.data);
                let ack_id = ack.filter(|a| !a.is_empty())?;
                let body = match result {
                    Ok(()) => json!([{"success": true}]),
                    Err(message) => json!([{"success": false, "message": message}]),
                };
                Some(format!("6:::{ack_id}+{body}"))
            }
            "7" | "1" | "2" | "3" | "4" | "6" => None,
            _ => Some("7:::unknown packet type".into()),
        }
    }

    /// An event packet from a client: subscribe, unsubscribe, or publish.
    fn client_event(&self, id: u64, data: &str) -> Result<(), String> {
        let payload: Value = serde_json::from_str(data)
            .map_err(|e| format!("The event packet is not valid JSON: {e}"))?;
        let Some(Value::Object(mut event)) = payload
            .get("args")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .cloned()
        else {
            return Err("The event packet has no event in 'args'".into());
        };
        let topic = event
            .get("topic")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if topic.is_empty() {
            return Err("The event has no topic".into());
        }
        let mut st = lock(&self.state);
        let client = st
            .clients
            .get_mut(&id)
            .ok_or_else(|| "not connected".to_string())?;
        let data = event.get("data").cloned().unwrap_or(Value::Null);
        match topic.as_str() {
            "ftrack.meta.subscribe" => {
                let subscription = data
                    .get("subscription")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let expression = Expression::parse(subscription).map_err(|e| e.to_string())?;
                let subscriber = data.get("subscriber").cloned().unwrap_or(json!({}));
                let sid = subscriber.get("id").cloned();
                if sid.is_some()
                    && client
                        .subscriptions
                        .iter()
                        .any(|s| s.subscriber.get("id") == sid.as_ref())
                {
                    return Err(format!(
                        "A subscriber with id {} is already subscribed on this connection",
                        sid.unwrap_or_default()
                    ));
                }
                if client.subscriptions.len() >= self.limits.subscriptions {
                    return Err(format!(
                        "This connection holds {} subscriptions, the limit; unsubscribe some first",
                        self.limits.subscriptions
                    ));
                }
                client.subscriptions.push(Subscription {
                    subscriber,
                    expression,
                });
                Ok(())
            }
            "ftrack.meta.unsubscribe" => {
                let sid = data.get("subscriber").and_then(|s| s.get("id")).cloned();
                client
                    .subscriptions
                    .retain(|s| s.subscriber.get("id") != sid.as_ref());
                Ok(())
            }
            _ => {
                // The source names the authenticated user, whatever the client claims.
                let username = client.actor.username.clone();
                let mut source = event
                    .get("source")
                    .cloned()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({}));
                source["user"] = json!({"username": username});
                event.insert("source".into(), source);
                if event
                    .get("id")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    event.insert(
                        "id".into(),
                        Value::from(uuid::Uuid::new_v4().simple().to_string()),
                    );
                }
                let event = Value::Object(event);
                self.route_locked(&mut st, &event, &|_| true);
                Ok(())
            }
        }
    }

    /// Sends `event` to every client with a matching subscription whose
    /// metadata matches the event's target and for which `allowed` holds.
    fn route_locked(&self, st: &mut State, event: &Value, allowed: &dyn Fn(&Actor) -> bool) {
        let mut packet: Option<String> = None;
        for client in st.clients.values() {
            let wanted = client
                .subscriptions
                .iter()
                .any(|s| s.expression.matches(event) && target_matches(event, &s.subscriber));
            if !wanted || !allowed(&client.actor) {
                continue;
            }
            let text = packet.get_or_insert_with(|| event_packet(event)).clone();
            self.deliver(client, text);
        }
    }

    fn deliver(&self, client: &Client, text: String) {
        match client.outbox.try_send(text) {
            Ok(()) => {
                self.routed.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => client.kill.store(true, Ordering::SeqCst),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Publishes a server event to subscribers: `prepare` gives the event
    /// each client may see (None: none), from its actor.
    pub fn publish_filtered(&self, prepare: &mut dyn FnMut(&Actor) -> Option<Value>) {
        let st = lock(&self.state);
        for client in st.clients.values() {
            if client.subscriptions.is_empty() {
                continue;
            }
            let Some(event) = prepare(&client.actor) else {
                continue;
            };
            let wanted = client
                .subscriptions
                .iter()
                .any(|s| s.expression.matches(&event) && target_matches(&event, &s.subscriber));
            if wanted {
                self.deliver(client, event_packet(&event));
            }
        }
    }

    /// Whether any connected client subscribes to something (cheap test
    /// before building an event).
    pub fn has_subscribers(&self) -> bool {
        lock(&self.state)
            .clients
            .values()
            .any(|c| !c.subscriptions.is_empty())
    }
}

/// Serves a request under `/socket.io/`: the handshake (`GET /socket.io/1/`)
/// or the WebSocket (`/socket.io/1/websocket/<sid>`); anything else is 404.
pub fn serve(
    shared: &crate::server::Shared,
    head: &Head,
    buffered: Vec<u8>,
    mut stream: TcpStream,
) {
    let header = |n: &str| head.header(n).map(str::to_string);
    let path = head.path.trim_end_matches('/');
    if head.method == "GET" && path == "/socket.io/1" {
        let conn = shared.reader();
        return shared
            .hub
            .handshake(&conn, &mut stream, &header, &head.query);
    }
    if let Some(sid) = path.strip_prefix("/socket.io/1/websocket/")
        && head.method == "GET"
        && !sid.is_empty()
        && !sid.contains('/')
    {
        let stopping = || shared.stopping.load(Ordering::SeqCst);
        // Credentials sent again with the upgrade (JavaScript's query
        // parameters, Python's headers) are checked now, with a reader held
        // only for the check.
        let (user, key) = credentials(&header, &head.query);
        let claimed = (!user.is_empty()).then(|| {
            let conn = shared.reader();
            authenticate(&conn, &user, &key).map(|a| a.username).ok()
        });
        return shared.hub.websocket(
            stream,
            buffered,
            sid,
            header("sec-websocket-key"),
            claimed,
            &stopping,
            shared.log,
        );
    }
    answer_text(
        &mut stream,
        404,
        "Not Found",
        "The event hub answers GET /socket.io/1/ and /socket.io/1/websocket/<session id>",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_split_into_four_parts() {
        let p = parse_packet("5:1+::{\"a\":\"b:c\"}");
        assert_eq!(
            (p.kind, p.id, p.endpoint, p.data),
            ("5", "1+", "", "{\"a\":\"b:c\"}")
        );
        let p = parse_packet("2::");
        assert_eq!((p.kind, p.id, p.data), ("2", "", ""));
        assert_eq!(parse_packet("2").kind, "2");
    }

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(
            query_param("api_user=jane%40x.com&api_key=a+b%2F", "api_user").as_deref(),
            Some("jane@x.com")
        );
        assert_eq!(
            query_param("api_user=j&api_key=a+b%2F", "api_key").as_deref(),
            Some("a b/")
        );
        assert_eq!(query_param("a=%zz%4", "a").as_deref(), Some("%zz%4"));
        assert_eq!(query_param("a=1", "b"), None);
    }

    #[test]
    fn targets_match_subscriber_metadata() {
        let sub = json!({"id": "abc", "applicationId": "maya"});
        assert!(target_matches(&json!({"target": ""}), &sub));
        assert!(target_matches(&json!({}), &sub));
        assert!(target_matches(&json!({"target": "id=abc"}), &sub));
        assert!(!target_matches(&json!({"target": "id=other"}), &sub));
        assert!(target_matches(
            &json!({"target": "applicationId=ma*"}),
            &sub
        ));
        assert!(!target_matches(&json!({"target": "((("}), &sub));
    }
}
