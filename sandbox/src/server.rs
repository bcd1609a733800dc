//! The listener, one thread per connection, and the `/api` request handler.

use crate::actions::{encode_answers, execute_batch};
use crate::error::ApiError;
use crate::http::{Conn, Request, write_response};
use crate::permissions::authenticate;
use crate::schema::Schema;
use rusqlite::Connection;
use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The version `query_server_information` reports.
pub const VERSION: &str = "dev";

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
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Answers one HTTP request: status and JSON body.
    pub fn handle(&self, req: &Request) -> (u16, Vec<u8>) {
        let started = Instant::now();
        let options = req
            .header("ftrack-api-options")
            .unwrap_or("")
            .to_ascii_lowercase();
        let option = |name: &str| {
            options
                .split([';', ','])
                .any(|o| o.trim().replace(' ', "") == format!("{name}:1"))
        };
        let strict = req
            .header("ftrack-strict-api")
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
            || option("strict");
        let user = req.header("ftrack-user").unwrap_or("").to_string();
        let mut actions = String::new();
        let result = if req.method != "POST" || req.path.trim_end_matches('/') != "/api" {
            Err(ApiError::not_found(format!(
                "No such endpoint: {} {}",
                req.method, req.path
            )))
        } else {
            self.count.fetch_add(1, Ordering::SeqCst);
            self.api(req, &user, option("denormalize"), &mut actions)
        };
        let (status, body, error) = match result {
            Ok(body) => (200, body, false),
            Err(e) => (
                if strict { e.strict_status() } else { 200 },
                serde_json::to_vec(&e.to_json()).unwrap_or_default(),
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
    ) -> Result<Vec<u8>, ApiError> {
        let batch: Value = serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::parse(format!("The request body is not valid JSON: {e}")))?;
        if let Some(received) = &self.received {
            lock(received).push(batch.clone());
        }
        let ops = batch.as_array().ok_or_else(|| {
            ApiError::parse("The request body must be a JSON array of operations")
        })?;
        *actions = ops
            .iter()
            .map(|o| o.get("action").and_then(Value::as_str).unwrap_or("?"))
            .collect::<Vec<_>>()
            .join(",");
        let key = req.header("ftrack-api-key").unwrap_or("");
        let read_only = ops.iter().all(|o| {
            matches!(
                o.get("action").and_then(Value::as_str),
                Some("query" | "query_server_information" | "query_schemas")
            )
        });
        let mut conn = if read_only {
            self.reader()
        } else {
            lock(&self.conn)
        };
        let actor = authenticate(&conn, user, key)?;
        let out = execute_batch(&mut conn, &self.schema, &actor, ops, denormalize, VERSION)?;
        Ok(encode_answers(&out))
    }
}

impl Shared {
    /// A free read-only connection, or (all busy) the next one in turn; the
    /// writer when there are none.
    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
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

/// Serves one connection until it closes or the server stops.
fn serve(shared: Arc<Shared>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let stop = || shared.stopping.load(Ordering::SeqCst);
    let mut conn = Conn::new(stream, &stop);
    loop {
        match conn.read_request() {
            Ok(Some(req)) => {
                let handled =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.handle(&req)));
                let (status, body) = handled.unwrap_or_else(|_| {
                    let e = ApiError::server("Internal error while handling the request");
                    (500, e.to_json().to_string().into_bytes())
                });
                if write_response(&mut writer, status, &body, req.keep_alive).is_err()
                    || !req.keep_alive
                {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let body = ApiError::parse(format!("Bad HTTP request: {e}"))
                    .to_json()
                    .to_string();
                let _ = write_response(&mut writer, 400, body.as_bytes(), false);
                return;
            }
        }
    }
}

/// Accepts connections until `shared.stopping` is set, then joins every
/// connection thread.
pub fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            continue;
        };
        workers.retain(|w| !w.is_finished());
        let s = Arc::clone(&shared);
        workers.push(std::thread::spawn(move || serve(s, stream)));
    }
    for w in workers {
        let _ = w.join();
    }
}
