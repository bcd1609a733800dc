//! The listener, a bounded pool of connection workers, and the `/api`
//! request handler.

use crate::Limits;
use crate::actions::{Deadline, EncodedAnswers, execute_batch};
use crate::error::ApiError;
use crate::http::{
    Conn, Deadlines, Framing, Head, ReadError, Request, write_response_parts, write_response_with,
};
use crate::permissions::{authenticate, credentials_valid};
use crate::schema::Schema;
use rusqlite::Connection;
use serde_json::Value;
use std::collections::VecDeque;
use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The version `query_server_information` reports.
pub const VERSION: &str = "dev";

/// Stack of each connection worker. Parsing, SQL translation and encoding
/// are bounded or iterative, so this is a margin, not a requirement.
const WORKER_STACK: usize = 8 * 1024 * 1024;

/// State shared by all connection threads.
pub struct Shared {
    /// The read-write connection; a batch that writes holds it for its
    /// whole transaction, so writes run one at a time.
    pub conn: Mutex<Connection>,
    /// Read-only connections for batches that only read.
    pub readers: Vec<Mutex<Connection>>,
    /// Where the next reader search starts.
    pub next_reader: AtomicUsize,
    /// Entity types.
    pub schema: Schema,
    /// `POST /api` requests served.
    pub count: AtomicU64,
    /// Every batch body received, in order; None when not recording.
    pub received: Option<Mutex<Vec<Value>>>,
    /// Log one line per request to stderr.
    pub log: bool,
    /// Set when the server stops.
    pub stopping: AtomicBool,
    /// Bounds on connections and requests.
    pub limits: Limits,
    /// The event hub (`/socket.io/1/`).
    pub hub: crate::events::Hub,
    /// Bytes of large request bodies being received or handled now (see
    /// [`Limits::max_bodies_in_flight`]).
    pub bodies_in_flight: AtomicUsize,
}

/// A share of [`Limits::max_bodies_in_flight`], given back on drop.
struct Reservation<'a> {
    counter: &'a AtomicUsize,
    bytes: usize,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The options of `ftrack-api-options` and `ftrack-strict-api` of a request.
struct Options {
    strict: bool,
    denormalize: bool,
}

impl Options {
    fn of(header: impl Fn(&str) -> Option<String>) -> Self {
        let options = header("ftrack-api-options")
            .unwrap_or_default()
            .to_ascii_lowercase();
        let option = |name: &str| {
            options
                .split([';', ','])
                .any(|o| o.trim().replace(' ', "") == format!("{name}:1"))
        };
        let strict = header("ftrack-strict-api")
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
            || option("strict");
        Options {
            strict,
            denormalize: option("denormalize"),
        }
    }
}

impl Shared {
    /// Answers one HTTP request: status and JSON body.
    pub fn handle(&self, req: &Request) -> (u16, Reply) {
        let started = Instant::now();
        let options = Options::of(|n| req.header(n).map(str::to_string));
        let user = req.header("ftrack-user").unwrap_or("").to_string();
        let mut actions = String::new();
        let result = if req.method != "POST" || req.path.trim_end_matches('/') != "/api" {
            Err(ApiError::not_found(format!(
                "No such endpoint: {} {}",
                req.method, req.path
            )))
        } else {
            self.count.fetch_add(1, Ordering::SeqCst);
            self.api(req, &user, options.denormalize, &mut actions)
        };
        let (status, body, error) = match result {
            Ok(answers) => (200, Reply::Answers(answers), false),
            Err(e) => (
                if options.strict {
                    e.strict_status()
                } else {
                    200
                },
                Reply::Json(error_body(&e)),
                true,
            ),
        };
        if self.log {
            eprintln!(
                "{} {} user={} actions=[{}] status={} {}{:.1}ms",
                req.method,
                req.path,
                if user.is_empty() { "-" } else { &user },
                actions,
                status,
                if error { "error " } else { "" },
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        (status, body)
    }

    fn api(
        &self,
        req: &Request,
        user: &str,
        denormalize: bool,
        actions: &mut String,
    ) -> Result<EncodedAnswers, ApiError> {
        let parsed: Result<Value, ApiError> = serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::parse(format!("The request body is not valid JSON: {e}")));
        if let (Some(received), Ok(batch)) = (&self.received, &parsed) {
            lock(received).push(batch.clone());
        }
        let ops = parsed.as_ref().ok().and_then(Value::as_array);
        if let Some(ops) = ops {
            *actions = ops
                .iter()
                .map(|o| o.get("action").and_then(Value::as_str).unwrap_or("?"))
                .collect::<Vec<_>>()
                .join(",");
        }
        let key = req.header("ftrack-api-key").unwrap_or("");
        let read_only = ops.is_none_or(|ops| {
            ops.iter().all(|o| {
                matches!(
                    o.get("action").and_then(Value::as_str),
                    Some("query" | "query_server_information" | "query_schemas")
                )
            })
        });
        let mut conn = if read_only {
            self.reader()
        } else {
            lock(&self.conn)
        };
        // Credentials first: an unauthenticated client learns nothing, not
        // even whether its body parses.
        let actor = authenticate(&conn, user, key)?;
        let batch = parsed?;
        let ops = batch.as_array().ok_or_else(|| {
            ApiError::parse("The request body must be a JSON array of operations")
        })?;
        let deadline = Deadline::after(self.limits.batch_timeout);
        let out = execute_batch(
            &mut conn,
            &self.schema,
            &actor,
            ops,
            denormalize,
            VERSION,
            deadline,
        )?;
        if !read_only {
            self.publish_update(&conn, &actor, req);
        }
        Ok(out)
    }

    /// After a committed write batch: one `ftrack.update` to the hub's
    /// subscribers (each sees only the projects it may see); a failure is
    /// logged, never fails the batch that has committed.
    fn publish_update(&self, conn: &Connection, actor: &crate::permissions::Actor, req: &Request) {
        use crate::events::update::{Update, take_changes};
        let built = take_changes(conn).and_then(|raw| {
            if raw.is_empty() || !self.hub.has_subscribers() {
                return Ok(None);
            }
            Update::build(
                conn,
                &self.schema,
                raw,
                actor,
                req.header("ftrack-clienttoken"),
                req.header("ftrack-pushtoken"),
            )
        });
        match built {
            Ok(Some(update)) => self.hub.publish_filtered(&mut |subscriber| {
                let fresh = subscriber.refreshed(conn).ok()?;
                update.for_actor(&fresh)
            }),
            Ok(None) => {}
            Err(e) => {
                if self.log {
                    eprintln!("event hub: ftrack.update not published: {}", e.message);
                }
            }
        }
    }

    /// Whether the head carries credentials that check out (a cheap test
    /// made before reading a large body).
    fn head_authenticated(&self, head: &Head) -> bool {
        let user = head.header("ftrack-user").unwrap_or("");
        let key = head.header("ftrack-api-key").unwrap_or("");
        head.method == "POST"
            && head.path.trim_end_matches('/') == "/api"
            && credentials_valid(&self.reader(), user, key).unwrap_or(false)
    }

    /// Reserves `bytes` (at most the whole budget, so one body of any
    /// accepted size fits when it is alone) of the in-flight body budget;
    /// None when other bodies hold too much of it.
    fn reserve(&self, bytes: usize) -> Option<Reservation<'_>> {
        let budget = self.limits.max_bodies_in_flight;
        let bytes = bytes.min(budget);
        self.bodies_in_flight
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|total| *total <= budget)
            })
            .ok()
            .map(|_| Reservation {
                counter: &self.bodies_in_flight,
                bytes,
            })
    }

    /// A free read-only connection, or (all busy) the next one in turn; the
    /// writer when there are none.
    pub(crate) fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        let n = self.readers.len();
        if n == 0 {
            return lock(&self.conn);
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.readers[(start + i) % n].try_lock() {
                return guard;
            }
        }
        lock(&self.readers[start % n])
    }
}

/// The body [`Shared::handle`] answers with.
#[derive(Debug)]
pub enum Reply {
    /// A batch's answers, sent as one JSON array from the buffers they were
    /// encoded into.
    Answers(EncodedAnswers),
    /// Any other JSON (an error).
    Json(Vec<u8>),
}

impl Reply {
    /// The body in pieces, to be sent back to back.
    fn parts(&self) -> Vec<&[u8]> {
        match self {
            Reply::Answers(answers) => answers.parts(),
            Reply::Json(bytes) => vec![bytes],
        }
    }
}

/// An error body for a failure outside the API (the HTTP layer itself).
fn error_body(e: &ApiError) -> Vec<u8> {
    serde_json::to_vec(&e.to_json()).unwrap_or_default()
}

/// Answers, then closes without resetting: the write side is shut and what
/// the client still sends is read and dropped (at most 1 MiB, 1 s), so the
/// answer reaches it even when its request was not read to the end.
fn answer_and_close(stream: &mut TcpStream, status: u16, body: &[&[u8]], extra: &[(&str, &str)]) {
    if write_response_parts(stream, status, body, false, extra).is_err() {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let until = Instant::now() + Duration::from_secs(1);
    let mut drained = 0usize;
    let mut buf = [0u8; 16 * 1024];
    while drained < 1024 * 1024 && Instant::now() < until {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
}

/// Serves one connection until it closes, idles past its deadline, breaks
/// a limit, or the server stops.
fn serve(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let limits = &shared.limits;
    // A client that stops reading its answers cannot hold the worker.
    let _ = stream.set_write_timeout(Some(limits.write_timeout));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let stop = || shared.stopping.load(Ordering::SeqCst);
    let deadlines = Deadlines {
        idle: limits.idle_timeout,
        head: limits.header_timeout,
        body: limits.body_timeout,
    };
    let mut conn = Conn::new(stream, &stop).with_limits(deadlines, limits.max_head);
    let refuse = |writer: &mut TcpStream, e: &ReadError| {
        if !e.is_io() {
            let err = ApiError::parse(format!("Bad HTTP request: {e}"));
            answer_and_close(writer, e.status(), &[&error_body(&err)], &[]);
        }
    };
    loop {
        let head = match conn.read_head() {
            Ok(Some(head)) => head,
            Ok(None) => return,
            Err(e) => return refuse(&mut writer, &e),
        };
        if head.path.starts_with("/socket.io/") {
            let buffered = conn.take_buffered();
            return crate::events::serve(shared, &head, buffered, writer);
        }
        // A body larger than the unauthenticated limit (or of unknown size)
        // is read only for credentials that check out.
        let small_limit = limits.max_unauthenticated_body.min(limits.max_body);
        let small = matches!(head.framing, Framing::Length(n) if n <= small_limit);
        let authenticated = !small && shared.head_authenticated(&head);
        let limit = if authenticated {
            limits.max_body
        } else {
            small_limit
        };
        // Large bodies share a budget, so concurrent uploads cannot take
        // all the memory; small ones are bounded by the worker count.
        let reservation = if authenticated {
            let size = match head.framing {
                Framing::Length(n) => n.min(limit),
                Framing::Chunked => limit,
            };
            match shared.reserve(size) {
                Some(r) => Some(r),
                None => {
                    let e = ApiError::server(format!(
                        "The sandbox is busy: large request bodies already take {} of the {} bytes allowed at once (the limit), and this one may take {size}; try again shortly",
                        shared.bodies_in_flight.load(Ordering::SeqCst),
                        limits.max_bodies_in_flight
                    ));
                    return answer_and_close(
                        &mut writer,
                        503,
                        &[&error_body(&e)],
                        &[("Retry-After", "1")],
                    );
                }
            }
        } else {
            None
        };
        let (req, keep_alive) = match conn.read_body(&head, limit) {
            Ok(body) => {
                let keep_alive = head.keep_alive;
                (Request::new(head, body), keep_alive)
            }
            Err(ReadError::TooLarge { .. }) if !authenticated => {
                // Answer as for the same request without its body: the
                // credentials error (or unknown endpoint) it deserves.
                (Request::new(head, Vec::new()), false)
            }
            Err(e) => return refuse(&mut writer, &e),
        };
        let handled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.handle(&req)));
        let (status, body) = handled.unwrap_or_else(|_| {
            let e = ApiError::server("Internal error while handling the request");
            (500, Reply::Json(error_body(&e)))
        });
        // The body is handled: its share of the budget is free again.
        drop(req);
        drop(reservation);
        if !keep_alive {
            return answer_and_close(&mut writer, status, &body.parts(), &[]);
        }
        if write_response_parts(&mut writer, status, &body.parts(), true, &[]).is_err() {
            return;
        }
    }
}

/// Waiting time between failed `accept` calls (e.g. EMFILE: no file
/// descriptor left): doubles from 10 ms up to 1 s, back to 10 ms after a
/// success, so a persistent failure never spins a core.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    /// The first wait.
    pub const MIN: Duration = Duration::from_millis(10);
    /// The longest wait.
    pub const MAX: Duration = Duration::from_secs(1);

    /// A backoff at its shortest wait.
    pub fn new() -> Self {
        Backoff { next: Self::MIN }
    }

    /// The wait after one more failure.
    pub fn failed(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        wait
    }

    /// Called after a success: the next failure waits the shortest time again.
    pub fn succeeded(&mut self) {
        self.next = Self::MIN;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// Accepted connections waiting for a worker, and the workers' bookkeeping.
struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    waiting: VecDeque<TcpStream>,
    idle: usize,
    closed: bool,
}

fn worker(shared: Arc<Shared>, pool: Arc<Pool>) {
    loop {
        let stream = {
            let mut state = lock(&pool.state);
            loop {
                if let Some(s) = state.waiting.pop_front() {
                    break s;
                }
                if state.closed {
                    return;
                }
                state.idle += 1;
                state = pool
                    .work
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                state.idle -= 1;
            }
        };
        serve(&shared, stream);
    }
}

/// Refuses a connection the pool has no room for: 503 with an ftrack error.
fn refuse_busy(mut stream: TcpStream, limits: &Limits) {
    let e = ApiError::server(format!(
        "The sandbox is busy: {} connections are being served and {} are waiting, the limits; try again shortly",
        limits.workers, limits.queue
    ));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    // Read (without waiting) what already arrived, so closing does not
    // reset the answer away; the acceptor must not block on this client.
    let mut buf = [0u8; 16 * 1024];
    let drain = |stream: &mut TcpStream, buf: &mut [u8]| {
        if stream.set_nonblocking(true).is_ok() {
            let _ = stream.read(buf);
            let _ = stream.set_nonblocking(false);
        }
    };
    drain(&mut stream, &mut buf);
    let _ = write_response_with(
        &mut stream,
        503,
        &error_body(&e),
        false,
        &[("Retry-After", "1")],
    );
    let _ = stream.shutdown(Shutdown::Write);
    drain(&mut stream, &mut buf);
}

/// Accepts connections until `shared.stopping` is set and hands them to at
/// most `limits.workers` worker threads (started as needed); at most
/// `limits.queue` more wait for a free worker, further ones are refused
/// with 503. Failed accepts back off. On stop, joins every worker.
pub fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let pool = Arc::new(Pool {
        state: Mutex::new(PoolState {
            waiting: VecDeque::new(),
            idle: 0,
            closed: false,
        }),
        work: Condvar::new(),
    });
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut backoff = Backoff::new();
    let mut failing = false;
    let stopping = || shared.stopping.load(Ordering::SeqCst);
    while !stopping() {
        let stream = match listener.accept() {
            Ok((stream, _)) => {
                backoff.succeeded();
                if failing && shared.log {
                    eprintln!("ftrack-sandbox: accepting connections again");
                }
                failing = false;
                stream
            }
            Err(e) => {
                let wait = backoff.failed();
                if !failing && shared.log {
                    eprintln!("ftrack-sandbox: accept failed: {e}; retrying with backoff");
                }
                failing = true;
                let until = Instant::now() + wait;
                while !stopping() && Instant::now() < until {
                    std::thread::sleep(
                        until
                            .saturating_duration_since(Instant::now())
                            .min(Duration::from_millis(50)),
                    );
                }
                continue;
            }
        };
        if stopping() {
            break;
        }
        let mut state = lock(&pool.state);
        if state.idle > state.waiting.len() {
            state.waiting.push_back(stream);
            pool.work.notify_one();
            continue;
        }
        workers.retain(|w| !w.is_finished());
        if workers.len() < shared.limits.workers.max(1) {
            let (s, p) = (Arc::clone(&shared), Arc::clone(&pool));
            match std::thread::Builder::new()
                .name("ftrack-sandbox-worker".into())
                .stack_size(WORKER_STACK)
                .spawn(move || worker(s, p))
            {
                Ok(handle) => {
                    workers.push(handle);
                    state.waiting.push_back(stream);
                    pool.work.notify_one();
                    continue;
                }
                Err(_) if state.waiting.len() < shared.limits.queue => {
                    state.waiting.push_back(stream);
                    continue;
                }
                Err(_) => {}
            }
        } else if state.waiting.len() < shared.limits.queue {
            state.waiting.push_back(stream);
            continue;
        }
        drop(state);
        refuse_busy(stream, &shared.limits);
    }
    lock(&pool.state).closed = true;
    pool.work.notify_all();
    for w in workers {
        let _ = w.join();
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut b = Backoff::new();
        let waits: Vec<Duration> = (0..10).map(|_| b.failed()).collect();
        assert_eq!(waits[0], Backoff::MIN);
        assert!(waits.windows(2).all(|w| w[1] >= w[0]), "{waits:?}");
        assert_eq!(waits[9], Backoff::MAX);
        assert_eq!(waits[1], Backoff::MIN * 2);
        b.succeeded();
        assert_eq!(b.failed(), Backoff::MIN);
    }
}
