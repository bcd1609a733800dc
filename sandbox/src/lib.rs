//! A local ftrack-compatible server: the JSON API on `POST /api`, the query
//! language, the schema of the user/role/project types, security-role rules
//! and SQLite storage. Start it in-process with [`Sandbox::start`] or run
//! the `ftrack-sandbox` binary.
//!
//! The demo studio's API keys (`demo-key-<username>`, `demo-global-key`)
//! exist only in the sandbox.

#![warn(missing_docs)]

pub mod actions;
pub mod datetime;
pub mod error;
pub mod events;
pub mod http;
pub mod permissions;
pub mod process;
pub mod pyjson;
pub mod query;
pub mod schema;
pub mod seed;
pub mod server;
pub mod store;

pub use error::{ApiError, ErrorKind};
pub use seed::SeedData;

use server::Shared;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Read-only connections: batches that only read run on one of these, in
/// parallel with each other and with the (single) writer.
const READERS: usize = 4;

/// Which data a fresh database starts with.
#[derive(Debug, Clone, PartialEq)]
pub enum Seed {
    /// Only the built-in locations.
    Empty,
    /// The demo studio.
    Demo,
    /// A seed in the JSON seed format.
    Data(SeedData),
}

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to bind.
    pub bind: IpAddr,
    /// Port (0 = any free port).
    pub port: u16,
    /// SQLite file; in-memory when None. A file that already holds data is not re-seeded.
    pub db: Option<PathBuf>,
    /// Data for a fresh database.
    pub seed: Seed,
    /// Log one line per request to stderr.
    pub log: bool,
    /// Keep every batch body for [`Sandbox::received`]. Memory grows with
    /// every request, so only tests should turn it on: on in
    /// [`SandboxConfig::demo`], off in the `ftrack-sandbox` binary.
    pub record_requests: bool,
    /// Bounds on connections and requests ([`Limits::default`] in
    /// [`SandboxConfig::demo`]).
    pub limits: Limits,
}

/// Bounds on connections and requests; the README's "Limits" section lists
/// them with the errors they answer with. Limits on the query language
/// itself are constants: [`query::parser::MAX_PATH_SEGMENTS`],
/// [`query::parser::MAX_DEPTH`], [`query::sql::MAX_SUBQUERY_DEPTH`],
/// [`query::sql::MAX_SQL_PARAMS`], [`query::load::MAX_DENORMALIZED_ENTITIES`]
/// and [`query::load::MAX_ANSWER_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once, one worker thread each (started as needed).
    pub workers: usize,
    /// Accepted connections that may wait for a free worker; one more is
    /// answered 503.
    pub queue: usize,
    /// Largest request head (request line and headers), in bytes.
    pub max_head: usize,
    /// Largest request body once the credentials check out, in bytes.
    pub max_body: usize,
    /// Largest request body read before the credentials check out, in bytes.
    pub max_unauthenticated_body: usize,
    /// Time a request head may take from its first byte.
    pub header_timeout: Duration,
    /// Time a request body may take from the end of its head.
    pub body_timeout: Duration,
    /// A connection with no request under way is closed after this long
    /// (a fresh one, or one kept alive after an answer).
    pub idle_timeout: Duration,
    /// Time one write of an answer may block (a client that stops reading);
    /// past it the connection is closed.
    pub write_timeout: Duration,
    /// Time one batch may run (it holds a database connection meanwhile);
    /// past it the batch is interrupted and rolled back.
    pub batch_timeout: Duration,
    /// Bounds of the event hub.
    pub events: events::EventLimits,
    /// Bytes that bodies over `max_unauthenticated_body` may take together
    /// while they are received and handled (each counted at its declared
    /// size, a chunked one at `max_body`); a body that does not fit is
    /// answered 503.
    pub max_bodies_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            workers: 128,
            queue: 128,
            max_head: http::MAX_HEAD,
            max_body: http::MAX_BODY,
            max_unauthenticated_body: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
            batch_timeout: Duration::from_secs(60),
            events: events::EventLimits::default(),
            max_bodies_in_flight: 512 * 1024 * 1024,
        }
    }
}

impl SandboxConfig {
    /// 127.0.0.1:0, in-memory, demo studio, no log, requests recorded
    /// (for tests; a long-running server should set `record_requests: false`).
    pub fn demo() -> Self {
        SandboxConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            db: None,
            seed: Seed::Demo,
            log: false,
            record_requests: true,
            limits: Limits::default(),
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug)]
pub enum SandboxError {
    /// Binding or configuring the socket failed.
    Io(std::io::Error),
    /// Opening or seeding the database failed.
    Database(String),
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::Io(e) => write!(f, "sandbox socket error: {e}"),
            SandboxError::Database(e) => write!(f, "sandbox database error: {e}"),
        }
    }
}

impl std::error::Error for SandboxError {}

impl From<ApiError> for SandboxError {
    fn from(e: ApiError) -> Self {
        SandboxError::Database(e.message)
    }
}

/// A running sandbox server; stops and joins its threads on drop.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    admin_user: String,
    admin_key: String,
    acceptor: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Opens the database, seeds it if empty, binds and starts serving.
    pub fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let schema = schema::Schema::new();
        let location = store::Location::new(config.db.as_deref());
        let mut conn = store::open_at(&location, &schema)?;
        let seed = match config.seed {
            Seed::Empty => SeedData::default(),
            Seed::Demo => SeedData::demo(),
            Seed::Data(d) => d,
        };
        let fresh: bool = conn
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM \"User\")", [], |r| {
                r.get(0)
            })
            .map_err(ApiError::from)?;
        if fresh {
            seed.load(&mut conn)?;
        }
        seed::load_locations(&conn)?;
        events::update::install_triggers(&conn, &schema)?;
        let (admin_user, admin_key) = seed.admin_credentials().unwrap_or_default();
        let readers = (0..READERS)
            .map(|_| store::open_reader(&location).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let listener = TcpListener::bind((config.bind, config.port)).map_err(SandboxError::Io)?;
        let addr = listener.local_addr().map_err(SandboxError::Io)?;
        let shared = Arc::new(Shared {
            conn: Mutex::new(conn),
            readers,
            next_reader: AtomicUsize::new(0),
            schema,
            count: AtomicU64::new(0),
            received: config.record_requests.then(|| Mutex::new(Vec::new())),
            log: config.log,
            stopping: AtomicBool::new(false),
            hub: events::Hub::new(config.limits.events.clone()),
            limits: config.limits,
            bodies_in_flight: AtomicUsize::new(0),
        });
        let s = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name("ftrack-sandbox-accept".into())
            .spawn(move || server::accept_loop(s, listener))
            .map_err(SandboxError::Io)?;
        Ok(Sandbox {
            shared,
            addr,
            admin_user,
            admin_key,
            acceptor: Some(acceptor),
        })
    }

    /// `http://<bind address>:<port>` (127.0.0.1 when bound to all interfaces).
    pub fn url(&self) -> String {
        format!("http://{}", self.connect_addr())
    }

    fn connect_addr(&self) -> SocketAddr {
        let mut a = self.addr;
        if a.ip().is_unspecified() {
            a.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        a
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The admin username ("admin" in the demo studio).
    pub fn admin_user(&self) -> &str {
        &self.admin_user
    }

    /// The admin's API key ("demo-key-admin" in the demo studio).
    pub fn admin_key(&self) -> &str {
        &self.admin_key
    }

    /// `POST /api` requests served so far.
    pub fn request_count(&self) -> u64 {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// WebSocket connections the event hub serves now.
    pub fn event_connections(&self) -> usize {
        self.shared.hub.connections()
    }

    /// Every batch body received, in order; always empty unless
    /// [`SandboxConfig::record_requests`] is set.
    pub fn received(&self) -> Vec<serde_json::Value> {
        self.shared
            .received
            .as_ref()
            .map(|r| r.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .unwrap_or_default()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.hub.close_all();
        // Wake the blocking accept() so the loop sees the flag; if that is
        // impossible, leave the thread detached rather than hang the caller.
        let woke = TcpStream::connect_timeout(&self.connect_addr(), Duration::from_secs(2)).is_ok();
        if let Some(h) = self.acceptor.take()
            && woke
        {
            let _ = h.join();
        }
    }
}
