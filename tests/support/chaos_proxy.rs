//! A chaos proxy for the integration tests: a TCP proxy on 127.0.0.1 between a
//! client and an HTTP/1.1 server (the sandbox) that injects faults per request.
//!
//! Faults (one is drawn per request, from a seeded generator, once enabled):
//! - `Delay`: waits 1-40 ms before forwarding, then behaves normally;
//! - `Stall`: waits longer than the client's timeout, THEN forwards the request
//!   (the server applies it after the client gave up) and drops the reply;
//! - `ResetRequest`: forwards only a prefix of the request, then resets both
//!   connections (RST): the server never sees a complete request;
//! - `ResetReply`: forwards the request, sends a prefix of the reply, then resets;
//! - `Truncate`: forwards the request, sends the reply's head with a shortened
//!   `Content-Length` and the body cut to that length (valid framing, cut JSON);
//! - `Garbage`: forwards the request, replies with garbage: random bytes instead
//!   of the whole response, or instead of the body (valid framing), or a JSON
//!   value of the wrong shape.
//!
//! Each request goes to the server on a fresh connection, so a fault never
//! leaves a stale connection upstream. `quiesce` waits until no request is in
//! the proxy's hands, so a test can look at the server knowing nothing is still
//! on its way there. Only 127.0.0.1 is ever bound or dialled.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The fault applied to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    None,
    Delay,
    Stall,
    ResetRequest,
    ResetReply,
    Truncate,
    Garbage,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::None,
        Fault::Delay,
        Fault::Stall,
        Fault::ResetRequest,
        Fault::ResetReply,
        Fault::Truncate,
        Fault::Garbage,
    ];
}

/// Percentages of each fault (the rest is `None`).
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub delay: u64,
    pub stall: u64,
    pub reset_request: u64,
    pub reset_reply: u64,
    pub truncate: u64,
    pub garbage: u64,
}

/// xorshift64*: deterministic for a given seed.
pub struct Rng(pub u64);
impl Rng {
    /// A generator whose sequence differs for every seed (`seed | 1` alone
    /// would give 2 and 3 the same one).
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x632B_E59B_D9B4_E019)
            | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct State {
    upstream: SocketAddr,
    enabled: AtomicBool,
    mix: Mix,
    stall: Duration,
    rng: Mutex<Rng>,
    /// Every request's fault, in the order requests arrived.
    log: Mutex<Vec<Fault>>,
    in_flight: AtomicUsize,
    /// Complete requests passed on to the server.
    forwarded: AtomicU64,
}

/// A running chaos proxy (its threads live as long as the test process).
pub struct ChaosProxy {
    url: String,
    state: Arc<State>,
}

impl ChaosProxy {
    /// Starts a proxy in front of `upstream_url` (`http://127.0.0.1:<port>`).
    /// `stall` must exceed the client's timeout.
    pub fn start(upstream_url: &str, mix: Mix, stall: Duration, seed: u64) -> ChaosProxy {
        let upstream: SocketAddr = upstream_url
            .trim_start_matches("http://")
            .parse()
            .expect("upstream is http://<ip>:<port>");
        assert!(
            upstream.ip().is_loopback(),
            "the chaos proxy only talks to 127.0.0.1"
        );
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            upstream,
            enabled: AtomicBool::new(false),
            mix,
            stall,
            rng: Mutex::new(Rng::seeded(seed)),
            log: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            forwarded: AtomicU64::new(0),
        });
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(&s, conn));
            }
        });
        ChaosProxy { url, state }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Turns fault injection on or off (off: a plain proxy).
    pub fn set_enabled(&self, on: bool) {
        self.state.enabled.store(on, Ordering::SeqCst);
    }

    /// Requests seen so far (each with its fault).
    pub fn seen(&self) -> usize {
        self.state.log.lock().unwrap().len()
    }

    /// The faults of the requests seen since `from` (a `seen()` value).
    pub fn faults_since(&self, from: usize) -> Vec<Fault> {
        self.state.log.lock().unwrap()[from..].to_vec()
    }

    /// Faults injected so far, by kind (`None` counts clean requests).
    pub fn tally(&self) -> BTreeMap<Fault, u64> {
        let mut t = BTreeMap::new();
        for f in self.state.log.lock().unwrap().iter() {
            *t.entry(*f).or_insert(0) += 1;
        }
        t
    }

    /// Complete requests passed on to the server.
    pub fn forwarded(&self) -> u64 {
        self.state.forwarded.load(Ordering::SeqCst)
    }

    /// Waits until no request is in the proxy's hands (at most `limit`).
    pub fn quiesce(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while self.state.in_flight.load(Ordering::SeqCst) > 0 {
            assert!(
                Instant::now() < until,
                "the chaos proxy still holds a request after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Reads one HTTP message (head, then a `Content-Length` body); None on EOF or error.
fn read_message(r: &mut impl BufRead) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut head = Vec::new();
    let mut len = 0usize;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&line).to_ascii_lowercase();
        if let Some(v) = text.strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((head, body))
}

/// Closes `s` with a TCP RST (SO_LINGER 0) instead of a FIN.
fn reset(s: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a properly sized linger struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

/// Sends one request to the server on a fresh connection; its reply.
fn exchange(state: &State, request: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut up = TcpStream::connect_timeout(&state.upstream, Duration::from_secs(5)).ok()?;
    up.set_nodelay(true).ok()?;
    up.write_all(request).ok()?;
    state.forwarded.fetch_add(1, Ordering::SeqCst);
    let mut r = BufReader::new(up);
    read_message(&mut r)
}

fn with_length(head: &[u8], len: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        if line.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(&format!("Content-Length: {len}\r\n"));
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

fn serve(state: &State, conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::new(&conn);
    loop {
        let Some((head, body)) = read_message(&mut reader) else {
            return;
        };
        state.in_flight.fetch_add(1, Ordering::SeqCst);
        let keep = handle(state, &conn, head, body);
        state.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !keep {
            // Reset faults already closed the socket; otherwise close it cleanly.
            return;
        }
    }
}

/// Handles one request; false when the client connection must end.
fn handle(state: &State, conn: &TcpStream, head: Vec<u8>, body: Vec<u8>) -> bool {
    let (fault, pick) = {
        let mut rng = state.rng.lock().unwrap();
        let fault = if state.enabled.load(Ordering::SeqCst) {
            let m = state.mix;
            let roll = rng.below(1000);
            let mut edge = 0;
            let mut pick = Fault::None;
            for (share, f) in [
                (m.delay, Fault::Delay),
                (m.stall, Fault::Stall),
                (m.reset_request, Fault::ResetRequest),
                (m.reset_reply, Fault::ResetReply),
                (m.truncate, Fault::Truncate),
                (m.garbage, Fault::Garbage),
            ] {
                edge += share;
                if roll < edge {
                    pick = f;
                    break;
                }
            }
            pick
        } else {
            Fault::None
        };
        (fault, rng.next())
    };
    state.log.lock().unwrap().push(fault);
    let mut request = head;
    request.extend_from_slice(&body);
    let mut client = conn;
    match fault {
        Fault::None | Fault::Delay | Fault::Stall => {
            if fault == Fault::Delay {
                std::thread::sleep(Duration::from_millis(1 + pick % 40));
            }
            if fault == Fault::Stall {
                std::thread::sleep(state.stall);
            }
            let Some((h, b)) = exchange(state, &request) else {
                return false;
            };
            let mut out = h;
            out.extend_from_slice(&b);
            client.write_all(&out).is_ok() && fault != Fault::Stall
        }
        Fault::ResetRequest => {
            let cut = (pick as usize) % request.len().max(1);
            if cut > 0
                && let Ok(mut up) =
                    TcpStream::connect_timeout(&state.upstream, Duration::from_secs(5))
            {
                let _ = up.write_all(&request[..cut]);
                reset(up);
            }
            // SO_LINGER 0 is set on the socket; the last close (when `serve`
            // returns) sends the RST.
            if let Ok(c) = conn.try_clone() {
                reset(c);
            }
            false
        }
        Fault::ResetReply | Fault::Truncate | Fault::Garbage => {
            let Some((h, b)) = exchange(state, &request) else {
                return false;
            };
            match fault {
                Fault::ResetReply => {
                    let mut out = h;
                    out.extend_from_slice(&b);
                    let cut = (pick as usize) % out.len().max(1);
                    let _ = client.write_all(&out[..cut]);
                    if let Ok(c) = conn.try_clone() {
                        reset(c);
                    }
                    false
                }
                Fault::Truncate => {
                    let cut = (pick as usize) % b.len().max(1);
                    let mut out = with_length(&h, cut);
                    out.extend_from_slice(&b[..cut]);
                    client.write_all(&out).is_ok()
                }
                _ => {
                    let mut noise = vec![0u8; 1 + (pick as usize) % 300];
                    let mut x = pick | 1;
                    for byte in &mut noise {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        *byte = x as u8;
                    }
                    match pick % 3 {
                        0 => {
                            // Not HTTP at all.
                            let _ = client.write_all(&noise);
                            let _ = conn.shutdown(std::net::Shutdown::Both);
                            false
                        }
                        1 => {
                            let mut out = with_length(&h, noise.len());
                            out.extend_from_slice(&noise);
                            client.write_all(&out).is_ok()
                        }
                        _ => {
                            let json: &[u8] = match pick % 4 {
                                0 => br#"{"unexpected": "shape"}"#,
                                1 => b"[{\"action\": \"create\", \"data\": ",
                                2 => b"null",
                                _ => b"\"a string\"",
                            };
                            let mut out = with_length(&h, json.len());
                            out.extend_from_slice(json);
                            client.write_all(&out).is_ok()
                        }
                    }
                }
            }
        }
    }
}
