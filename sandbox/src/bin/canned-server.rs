//! `canned-server`: answers the ftrack API from memory, so that a benchmark
//! times a client and not the server ("client-only").
//!
//! It starts an in-process sandbox seeded with N synthetic users (10,000 by
//! default) and listens on 127.0.0.1. The first time a request is seen it is
//! forwarded to that sandbox and the answer is kept, byte for byte; every
//! later identical request is answered from memory: one hash lookup and one
//! write of a prebuilt response. Identical means the same method, target,
//! body and the headers the sandbox's answer depends on (`ftrack-user`,
//! `ftrack-api-key`, `ftrack-strict-api`, `ftrack-api-options`); other
//! headers (`ftrack-clienttoken`, `user-agent`, ...) are forwarded on a miss
//! but do not count. Write batches are forwarded too, so a replayed commit
//! is NOT committed again: use it for reads (queries, server information,
//! schemas), which is what client-only benchmarks send.
//!
//! HTTP/1.1 with keep-alive; bodies framed by Content-Length or chunked, and
//! `Expect: 100-continue` (the sandbox's own reader, [`ftrack_sandbox::http`]).
//! WebSocket upgrades (the event hub) are refused with 501.
//!
//! Prints `FTRACK_SERVER=`, `FTRACK_API_USER=` and `FTRACK_API_KEY=` lines
//! on stdout once it listens (like `ftrack-sandbox --print-env`), and one
//! `canned-server: miss N: ...` line on stderr per forwarded request, so a
//! benchmark can check that its timed runs were all answered from memory.
//! `--log` adds one line per request (hit or miss, framing, header names).
//!
//! Usage: `canned-server [--synthetic N] [--port PORT] [--log]`; stop it with
//! SIGTERM or SIGINT.

use ftrack_sandbox::http::{self, Conn, Framing, Head};
use ftrack_sandbox::{Sandbox, SandboxConfig, Seed, SeedData};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

const USAGE: &str = "usage: canned-server [--synthetic N] [--port PORT] [--log]";

/// Request headers whose values change the sandbox's answer: part of the key.
const KEY_HEADERS: [&str; 4] = [
    "ftrack-user",
    "ftrack-api-key",
    "ftrack-strict-api",
    "ftrack-api-options",
];

/// Hop-by-hop and framing headers: not forwarded, not replayed (each side
/// gets its own).
const HOP_HEADERS: [&str; 9] = [
    "host",
    "connection",
    "keep-alive",
    "content-length",
    "transfer-encoding",
    "expect",
    "te",
    "trailer",
    "upgrade",
];

/// What identifies a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    method: String,
    target: String,
    headers: Vec<Option<String>>,
    body: Vec<u8>,
}

impl Key {
    fn of(head: &Head, body: &[u8]) -> Key {
        Key {
            method: head.method.clone(),
            target: target(head),
            headers: KEY_HEADERS
                .iter()
                .map(|n| head.header(n).map(str::to_string))
                .collect(),
            body: body.to_vec(),
        }
    }
}

fn target(head: &Head) -> String {
    if head.query.is_empty() {
        head.path.clone()
    } else {
        format!("{}?{}", head.path, head.query)
    }
}

/// One recorded answer, as complete responses ready to write.
struct Canned {
    keep_alive: Vec<u8>,
    close: Vec<u8>,
}

impl Canned {
    /// Status line and headers of the upstream answer (less hop-by-hop
    /// ones), our own Content-Length and Connection, then the body.
    fn new(status_line: &str, headers: &[(String, String)], body: &[u8]) -> Canned {
        let build = |connection: &str| {
            let mut head = format!("{status_line}\r\n");
            for (name, value) in headers {
                if !HOP_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
            }
            head.push_str(&format!(
                "Content-Length: {}\r\nConnection: {connection}\r\n\r\n",
                body.len()
            ));
            let mut out = head.into_bytes();
            out.extend_from_slice(body);
            out
        };
        Canned {
            keep_alive: build("keep-alive"),
            close: build("close"),
        }
    }
}

struct State {
    upstream: SocketAddr,
    answers: RwLock<HashMap<Key, Arc<Canned>>>,
    /// Held while forwarding, so one request is forwarded once.
    forwarding: Mutex<()>,
    misses: AtomicU64,
    log: bool,
}

impl State {
    fn lookup(&self, key: &Key) -> Option<Arc<Canned>> {
        self.answers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// The canned answer, forwarding the request first when it is new.
    fn answer(&self, head: &Head, body: &[u8]) -> io::Result<(Arc<Canned>, bool)> {
        let key = Key::of(head, body);
        if let Some(c) = self.lookup(&key) {
            return Ok((c, true));
        }
        let _one = self
            .forwarding
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = self.lookup(&key) {
            return Ok((c, true));
        }
        let answer = forward(self.upstream, head, body)?;
        let n = self.misses.fetch_add(1, Ordering::SeqCst) + 1;
        eprintln!(
            "canned-server: miss {n}: {} {} ({} B) -> {} ({} B): {}",
            head.method,
            key.target,
            body.len(),
            answer.status,
            answer.body.len(),
            preview(body)
        );
        let canned = Arc::new(Canned::new(
            &answer.status_line,
            &answer.headers,
            &answer.body,
        ));
        // A busy or failing sandbox is not an answer worth replaying.
        if answer.status < 500 {
            self.answers
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, Arc::clone(&canned));
        }
        Ok((canned, false))
    }
}

/// The first 120 characters of a body, for the log.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.into_owned(),
    }
}

/// The sandbox's answer to a forwarded request.
struct Upstream {
    status: u16,
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Sends the request to the sandbox on a fresh connection and reads its answer.
fn forward(upstream: SocketAddr, head: &Head, body: &[u8]) -> io::Result<Upstream> {
    let mut request = format!(
        "{} {} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\nContent-Length: {}\r\n",
        head.method,
        target(head),
        body.len()
    );
    for (name, value) in &head.headers {
        if !HOP_HEADERS.contains(&name.as_str()) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(upstream)?;
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, format!("upstream: {m}"));
    let mut raw = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut chunk)?;
        raw.extend_from_slice(&chunk[..n]);
        let mut slots = [httparse::EMPTY_HEADER; http::MAX_HEADERS];
        let mut response = httparse::Response::new(&mut slots);
        match response.parse(&raw) {
            Ok(httparse::Status::Complete(used)) => {
                let status = response.code.unwrap_or(500);
                let status_line =
                    format!("HTTP/1.1 {status} {}", response.reason.unwrap_or("Unknown"));
                let headers: Vec<(String, String)> = response
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let length = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.trim().parse::<usize>())
                    .transpose()
                    .map_err(|_| bad("bad Content-Length"))?;
                if headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
                {
                    return Err(bad("chunked answers are not supported"));
                }
                let mut answer = raw.split_off(used);
                match length {
                    Some(len) => {
                        while answer.len() < len {
                            let n = stream.read(&mut chunk)?;
                            if n == 0 {
                                return Err(bad("closed inside the body"));
                            }
                            answer.extend_from_slice(&chunk[..n]);
                        }
                        answer.truncate(len);
                    }
                    None => {
                        stream.read_to_end(&mut answer)?;
                    }
                }
                return Ok(Upstream {
                    status,
                    status_line,
                    headers,
                    body: answer,
                });
            }
            Ok(httparse::Status::Partial) if n > 0 => {}
            Ok(httparse::Status::Partial) => return Err(bad("closed inside the head")),
            Err(e) => return Err(bad(&e.to_string())),
        }
    }
}

/// Serves one client connection until it closes.
fn serve(stream: TcpStream, state: Arc<State>) {
    let _ = stream.set_nodelay(true);
    let never = || false;
    let mut conn = Conn::new(stream, &never);
    loop {
        let head = match conn.read_head() {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => return refuse(&mut conn, e.status(), &e.to_string(), e.is_io()),
        };
        if head.header("upgrade").is_some() {
            return refuse(&mut conn, 501, "canned-server serves no event hub", false);
        }
        let body = match conn.read_body(&head, http::MAX_BODY) {
            Ok(body) => body,
            Err(e) => return refuse(&mut conn, e.status(), &e.to_string(), e.is_io()),
        };
        let (canned, hit) = match state.answer(&head, &body) {
            Ok(answer) => answer,
            Err(e) => return refuse(&mut conn, 502, &e.to_string(), false),
        };
        if state.log {
            eprintln!(
                "canned-server: {} {} {} ({}{}) headers [{}]",
                if hit { "hit " } else { "miss" },
                head.method,
                target(&head),
                match head.framing {
                    Framing::Length(n) => format!("content-length {n}"),
                    Framing::Chunked => "chunked".to_string(),
                },
                if head.expect_continue {
                    ", expect 100-continue"
                } else {
                    ""
                },
                head.headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let bytes = if head.keep_alive {
            &canned.keep_alive
        } else {
            &canned.close
        };
        if conn.stream_mut().write_all(bytes).is_err() || !head.keep_alive {
            return;
        }
    }
}

/// Answers an unreadable or unserviceable request and ends the connection.
fn refuse(conn: &mut Conn<'_, TcpStream>, status: u16, message: &str, gone: bool) {
    eprintln!("canned-server: {status}: {message}");
    if !gone {
        let body = serde_json::json!({"exception": "ServerError", "content": message});
        let _ = http::write_response(
            conn.stream_mut(),
            status,
            body.to_string().as_bytes(),
            false,
        );
    }
}

fn main() {
    ftrack_sandbox::process::keep_freed_memory();
    let mut users = 10_000;
    let mut port = 0u16;
    let mut log = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> usize {
            match args.next().map(|v| v.parse()) {
                Some(Ok(n)) => n,
                _ => {
                    eprintln!("{name} needs a number\n{USAGE}");
                    std::process::exit(2);
                }
            }
        };
        match arg.as_str() {
            "--synthetic" => users = number("--synthetic"),
            "--port" => port = number("--port").try_into().unwrap_or(0),
            "--log" => log = true,
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let sandbox = match Sandbox::start(SandboxConfig {
        seed: Seed::Data(SeedData::synthetic(users)),
        record_requests: false,
        ..SandboxConfig::demo()
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("canned-server: {e}");
            std::process::exit(1);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("canned-server: bind 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().expect("bound address");
    let upstream: SocketAddr = sandbox
        .url()
        .trim_start_matches("http://")
        .parse()
        .expect("sandbox address");
    let state = Arc::new(State {
        upstream,
        answers: RwLock::new(HashMap::new()),
        forwarding: Mutex::new(()),
        misses: AtomicU64::new(0),
        log,
    });
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "FTRACK_SERVER=http://{addr}");
    let _ = writeln!(out, "FTRACK_API_USER={}", sandbox.admin_user());
    let _ = writeln!(out, "FTRACK_API_KEY={}", sandbox.admin_key());
    let _ = out.flush();
    drop(out);
    // One thread per connection: benchmark clients open a few, kept alive.
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let state = Arc::clone(&state);
                std::thread::spawn(move || serve(stream, state));
            }
            Err(e) => eprintln!("canned-server: accept: {e}"),
        }
    }
}
