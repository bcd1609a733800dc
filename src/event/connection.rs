//! The hub's connection thread: handshake, WebSocket (tungstenite), the
//! Socket.IO 0.9 packets, heartbeats, and reconnection with backoff.
//!
//! An `https://` server URL means TLS (rustls, verified as the HTTP side
//! verifies: [`crate::SessionOptions::ca_bundle`] when set, else the platform's
//! verifier) for both the handshake and the WebSocket (`wss://`).

use super::{ConnectionState, Event, EventHub, lock};
use crate::hooks::LogLevel;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

/// Why a connection ended or could not start.
struct Failure {
    message: String,
    kind: FailureKind,
}

/// What kind of failure: decides the log level and the error `connect` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailureKind {
    Other,
    /// Credentials were refused: retrying is pointless until they change,
    /// but the hub still retries (a key may be re-enabled).
    Auth,
    /// TLS could not be set up or the server's certificate is not trusted.
    Tls,
}

fn fail(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        kind: FailureKind::Other,
    }
}

fn tls_fail(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        kind: FailureKind::Tls,
    }
}

/// The connection's byte stream: plain TCP for `http://`, TLS over TCP for
/// `https://`. Timeouts are set on the TCP socket underneath ([`Stream::socket`]).
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    /// The TCP socket underneath, for its timeouts.
    fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Where to connect: host (as in the URL, brackets of an IPv6 literal
/// included), port, and the TLS configuration for an `https://` server.
struct Target {
    host: String,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Target {
    /// The host without the brackets of an IPv6 literal: for resolving and
    /// for verifying the certificate.
    fn bare_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }
}

/// Host, port and whether TLS is asked for, from the server URL.
fn host_port(url: &str) -> Result<(String, u16, bool), Failure> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| fail("the server URL has no scheme"))?;
    let secure = match scheme {
        "http" => false,
        "https" => true,
        other => return Err(fail(format!("unsupported URL scheme {other}"))),
    };
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => match p.parse() {
            Ok(p) => (h.to_string(), p),
            Err(_) => (authority.to_string(), if secure { 443 } else { 80 }),
        },
        _ => (authority.to_string(), if secure { 443 } else { 80 }),
    };
    Ok((host, port, secure))
}

fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Failure> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| fail(format!("cannot resolve {host}: {e}")))?;
    let mut last = fail(format!("{host} has no address"));
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(timeout));
                let _ = s.set_write_timeout(Some(timeout));
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = fail(format!("cannot connect to {host}:{port}: {e}")),
        }
    }
    Err(last)
}

/// Opens a connection to the target; for TLS, completes the handshake (and
/// so the certificate check) before returning.
fn open(target: &Target, timeout: Duration) -> Result<Stream, Failure> {
    let host = target.bare_host();
    let mut socket = connect_tcp(host, target.port, timeout)?;
    let Some(config) = &target.tls else {
        return Ok(Stream::Plain(socket));
    };
    let name = rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
        tls_fail(format!(
            "{host} is not a valid name for TLS ({e}); check the server URL"
        ))
    })?;
    let mut conn = rustls::ClientConnection::new(Arc::clone(config), name)
        .map_err(|e| tls_fail(format!("TLS with {host} cannot start ({e})")))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut socket) {
            let message = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(tls) => crate::tls::handshake_failure(host, tls),
                None if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
                {
                    format!(
                        "the TLS handshake with {host}:{} timed out after {} ms",
                        target.port,
                        timeout.as_millis()
                    )
                }
                None => format!(
                    "the TLS handshake with {host}:{} failed ({e}); check that the server speaks \
                     HTTPS on that port",
                    target.port
                ),
            };
            return Err(tls_fail(message));
        }
    }
    Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(
        conn, socket,
    ))))
}

/// Reads one HTTP answer of at most 64 KiB: up to the end of the body its
/// `Content-Length` announces, else to the end of the stream (a TLS peer
/// that closes without `close_notify` counts as the end then).
fn read_answer(s: &mut Stream) -> std::io::Result<Vec<u8>> {
    const LIMIT: usize = 64 * 1024;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            if let Some(n) = length
                && buf.len() >= end + 4 + n
            {
                buf.truncate(end + 4 + n);
                return Ok(buf);
            }
        }
        if buf.len() >= LIMIT {
            return Ok(buf);
        }
        match s.read(&mut chunk) {
            Ok(0) => return Ok(buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n.min(LIMIT - buf.len())]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {
                return Ok(buf);
            }
            Err(e) => return Err(e),
        }
    }
}

/// `GET /socket.io/1/`: the session id (and that websocket is offered).
fn handshake(hub: &EventHub, target: &Target, timeout: Duration) -> Result<String, Failure> {
    let inner = &hub.inner;
    let (host, port) = (&target.host, target.port);
    let mut s = open(target, timeout)?;
    let req = format!(
        "GET /socket.io/1/ HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nftrack-user: {}\r\nftrack-api-key: {}\r\nUser-Agent: libftrack/{}\r\n\r\n",
        inner.api_user,
        inner.api_key,
        env!("CARGO_PKG_VERSION")
    );
    s.write_all(req.as_bytes())
        .map_err(|e| fail(format!("the handshake could not be sent: {e}")))?;
    let buf = read_answer(&mut s)
        .map_err(|e| fail(format!("the handshake answer did not arrive: {e}")))?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| fail("the handshake answer is not HTTP"))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if status == 401 || status == 403 {
        return Err(Failure {
            message: format!(
                "the server refused the credentials of {} (HTTP {status}); check the API user and key",
                inner.api_user
            ),
            kind: FailureKind::Auth,
        });
    }
    if status != 200 {
        return Err(fail(format!("the handshake answered HTTP {status}")));
    }
    let parts: Vec<&str> = body.trim().split(':').collect();
    let sid = parts.first().copied().unwrap_or("");
    if sid.is_empty() {
        return Err(fail("the handshake answer holds no session id"));
    }
    if let Some(transports) = parts.get(3)
        && !transports.split(',').any(|t| t.trim() == "websocket")
    {
        return Err(fail("the server does not offer the websocket transport"));
    }
    Ok(sid.to_string())
}

fn connect_once(hub: &EventHub) -> Result<WebSocket<Stream>, Failure> {
    let timeout = hub.options().connect_timeout;
    let (host, port, secure) = host_port(&hub.inner.server_url)?;
    let tls = if secure {
        Some(
            crate::tls::client_config(hub.inner.ca_bundle.as_deref())
                .map_err(|e| tls_fail(e.to_string()))?,
        )
    } else {
        None
    };
    let target = Target { host, port, tls };
    let sid = handshake(hub, &target, timeout)?;
    let stream = open(&target, timeout)?;
    let scheme = if secure { "wss" } else { "ws" };
    let url = format!(
        "{scheme}://{}:{}/socket.io/1/websocket/{sid}",
        target.host, target.port
    );
    let mut request = url
        .into_client_request()
        .map_err(|e| fail(format!("bad WebSocket URL: {e}")))?;
    let headers = request.headers_mut();
    for (name, value) in [
        ("ftrack-user", hub.inner.api_user.as_str()),
        ("ftrack-api-key", hub.inner.api_key.as_str()),
    ] {
        if let Ok(v) = value.parse() {
            headers.insert(name, v);
        }
    }
    let (ws, _) = tungstenite::client::client(request, stream).map_err(|e| match e {
        tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))
            if r.status().as_u16() == 401 =>
        {
            Failure {
                message: "the server refused the WebSocket (HTTP 401)".into(),
                kind: FailureKind::Auth,
            }
        }
        tungstenite::HandshakeError::Failure(e) => {
            fail(format!("the WebSocket upgrade failed: {e}"))
        }
        tungstenite::HandshakeError::Interrupted(_) => fail("the WebSocket upgrade timed out"),
    })?;
    let mut ws = ws;
    await_connect_packet(&mut ws)?;
    Ok(ws)
}

/// Waits for the server's Socket.IO connect packet (`1::`), which it sends
/// once the connection is registered: only then does the hub count itself
/// connected (reading stops at the socket's connect timeout).
fn await_connect_packet(ws: &mut WebSocket<Stream>) -> Result<(), Failure> {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) if t.as_str().starts_with("1:") => return Ok(()),
            Ok(Message::Text(t)) if t.as_str().starts_with("0:") => {
                return Err(fail(
                    "the server closed the Socket.IO session before connecting",
                ));
            }
            Ok(Message::Close(_)) => {
                return Err(fail("the server closed the WebSocket before connecting"));
            }
            // Heartbeats, pings and anything else before the connect packet.
            Ok(_) => {}
            Err(e) => {
                return Err(fail(format!(
                    "the server did not confirm the connection: {e}"
                )));
            }
        }
    }
}

/// The wait before attempt `n` (1-based): doubling from `min` to `max`,
/// then ±50 % jitter.
pub(crate) fn backoff(n: u32, min: Duration, max: Duration) -> Duration {
    let base = min
        .saturating_mul(1u32 << n.saturating_sub(1).min(16))
        .min(max);
    // Jitter from the clock's nanoseconds and a counter: no RNG dependency needed.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let frac = f64::from((nanos ^ n.wrapping_mul(2_654_435_761)) % 1000) / 1000.0; // 0..1
    base.mul_f64(0.5 + frac)
}

/// The connection thread: connects, serves, reconnects until stopped.
pub(super) fn run(hub: EventHub, generation: u64) {
    let current = |hub: &EventHub| {
        let st = lock(&hub.inner.state);
        st.running && st.generation == generation
    };
    let mut failures: u32 = 0;
    while current(&hub) {
        match connect_once(&hub) {
            Ok(ws) => {
                failures = 0;
                let why = serve(&hub, ws, generation);
                {
                    let mut st = lock(&hub.inner.state);
                    st.outbox = None;
                    if st.generation == generation && st.running {
                        st.connection = ConnectionState::Connecting;
                    }
                    hub.inner.changed.notify_all();
                }
                hub.log(LogLevel::Warn, || format!("disconnected: {why}"));
                hub.received(Event::new(
                    "ftrack.meta.disconnected",
                    json!({"reason": why}),
                ));
                if !current(&hub) {
                    break;
                }
            }
            Err(f) => {
                failures += 1;
                let last = hub
                    .options()
                    .max_reconnect_attempts
                    .is_some_and(|max| failures >= max.max(1));
                {
                    let mut st = lock(&hub.inner.state);
                    st.last_error = Some(f.message.clone());
                    st.last_error_kind = f.kind;
                    if last && st.generation == generation {
                        // Said together with the error, so a caller waiting in
                        // connect() learns that no retry follows.
                        st.connection = ConnectionState::Failed;
                        st.running = false;
                    }
                    hub.inner.changed.notify_all();
                }
                hub.log(
                    if f.kind == FailureKind::Auth {
                        LogLevel::Error
                    } else {
                        LogLevel::Warn
                    },
                    || format!("connection attempt {failures} failed: {}", f.message),
                );
            }
        }
        let options = hub.options();
        if let Some(max) = options.max_reconnect_attempts
            && failures >= max.max(1)
        {
            let mut st = lock(&hub.inner.state);
            if st.generation == generation {
                st.connection = ConnectionState::Failed;
                st.running = false;
                hub.inner.changed.notify_all();
            }
            hub.log(LogLevel::Error, || {
                format!("gave up after {failures} failed connection attempts (the limit)")
            });
            return;
        }
        let wait = backoff(failures.max(1), options.backoff_min, options.backoff_max);
        hub.log(LogLevel::Info, || {
            format!("reconnecting in {} ms", wait.as_millis())
        });
        let until = Instant::now() + wait;
        let mut st = lock(&hub.inner.state);
        while st.running && st.generation == generation {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = hub
                .inner
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// After a connection: marks it connected, subscribes every subscriber
/// (and this hub for replies), sends the queued events in order.
fn on_connected(hub: &EventHub, ws: &mut WebSocket<Stream>) -> Result<Receiver<String>, String> {
    let (tx, rx) = channel();
    let mut st = lock(&hub.inner.state);
    let mut packets = vec![hub.subscribe_packet(
        "topic=ftrack.meta.reply",
        &json!({"id": hub.inner.id, "applicationId": "libftrack"}),
    )];
    for s in &st.subscribers {
        packets.push(hub.subscribe_packet(&s.subscription, &s.metadata));
    }
    packets.extend(st.queued.drain(..));
    for p in packets {
        ws.write(Message::text(p)).map_err(|e| e.to_string())?;
    }
    ws.flush().map_err(|e| e.to_string())?;
    st.outbox = Some(tx);
    st.connection = ConnectionState::Connected;
    st.last_error = None;
    hub.inner.changed.notify_all();
    Ok(rx)
}

fn serve(hub: &EventHub, mut ws: WebSocket<Stream>, generation: u64) -> String {
    let rx = match on_connected(hub, &mut ws) {
        Ok(rx) => rx,
        Err(e) => return e,
    };
    hub.log(LogLevel::Info, || "connected".to_string());
    hub.received(Event::new("ftrack.meta.connected", json!({})));
    let heartbeat_timeout = hub.options().heartbeat_timeout;
    let _ = ws
        .get_ref()
        .socket()
        .set_read_timeout(Some(Duration::from_millis(50)));
    let mut last_heard = Instant::now();
    let why = loop {
        {
            let st = lock(&hub.inner.state);
            if !st.running || st.generation != generation {
                break "disconnect requested".to_string();
            }
        }
        let mut failed = None;
        while let Ok(p) = rx.try_recv() {
            if let Err(e) = ws.write(Message::text(p)) {
                failed = Some(e.to_string());
                break;
            }
        }
        if let Some(e) = failed.or_else(|| ws.flush().err().map(|e| e.to_string())) {
            break format!("write failed: {e}");
        }
        if last_heard.elapsed() >= heartbeat_timeout {
            break format!(
                "nothing received for {} ms (the heartbeat timeout)",
                heartbeat_timeout.as_millis()
            );
        }
        match ws.read() {
            Ok(Message::Text(t)) => {
                last_heard = Instant::now();
                if let Some(stop) = packet(hub, &mut ws, t.as_str()) {
                    break stop;
                }
            }
            Ok(Message::Close(_)) => break "the server closed the connection".to_string(),
            Ok(_) => last_heard = Instant::now(),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => break format!("{e}"),
        }
    };
    {
        // Stop publishers from sending into a dead connection before the
        // last packets are tried.
        lock(&hub.inner.state).outbox = None;
    }
    // Packets that were sent to the channel but not written go back to
    // the front of the queue, in order.
    let unsent: Vec<String> = rx.try_iter().collect();
    if !unsent.is_empty() {
        let mut st = lock(&hub.inner.state);
        for p in unsent.into_iter().rev() {
            if !p.contains("\"ftrack.meta.subscribe\"")
                && !p.contains("\"ftrack.meta.unsubscribe\"")
            {
                st.queued.push_front(p);
            }
        }
    }
    let _ = ws.send(Message::text("0::"));
    let _ = ws.close(None);
    why
}

/// Handles one packet; Some(reason) ends the connection.
fn packet(hub: &EventHub, ws: &mut WebSocket<Stream>, text: &str) -> Option<String> {
    let mut parts = text.splitn(4, ':');
    let kind = parts.next().unwrap_or("");
    let _id = parts.next().unwrap_or("");
    let _endpoint = parts.next().unwrap_or("");
    let data = parts.next().unwrap_or("");
    match kind {
        "0" => Some("the server disconnected".into()),
        "2" => ws
            .send(Message::text("2::"))
            .err()
            .map(|e| format!("heartbeat answer failed: {e}")),
        "5" => {
            let payload: Value = match serde_json::from_str(data) {
                Ok(v) => v,
                Err(e) => {
                    hub.log(LogLevel::Warn, || {
                        format!("ignored an event packet that is not JSON: {e}")
                    });
                    return None;
                }
            };
            match payload
                .get("args")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Event::from_json)
            {
                Some(event) => hub.received(event),
                None => hub.log(LogLevel::Warn, || {
                    "ignored an event packet without an event".into()
                }),
            }
            None
        }
        "6" => {
            if let Some((_, args)) = data.split_once('+')
                && let Ok(Value::Array(a)) = serde_json::from_str::<Value>(args)
                && let Some(first) = a.first()
                && first.get("success") == Some(&Value::Bool(false))
            {
                let message = first
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                hub.log(LogLevel::Warn, || {
                    format!("the server refused a packet: {message}")
                });
            }
            None
        }
        "7" => {
            hub.log(LogLevel::Warn, || {
                format!("the server reported an error: {data}")
            });
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_port_and_tls() {
        assert_eq!(
            host_port("http://127.0.0.1:8080").ok(),
            Some(("127.0.0.1".to_string(), 8080, false))
        );
        assert_eq!(
            host_port("https://x.ftrackapp.com/").ok(),
            Some(("x.ftrackapp.com".to_string(), 443, true))
        );
        assert_eq!(
            host_port("http://u:p@h:81/a").ok().map(|(h, p, _)| (h, p)),
            Some(("h".to_string(), 81))
        );
        assert!(host_port("ftp://h").is_err());
    }

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for n in 1..20 {
            let w = backoff(n, min, max);
            let base = min.saturating_mul(1 << (n - 1).min(16)).min(max);
            assert!(
                w >= base.mul_f64(0.5) && w <= base.mul_f64(1.5),
                "{n}: {w:?}"
            );
        }
    }
}
