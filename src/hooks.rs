//! What a host hooks into a session: a logger, a progress callback and
//! cancellation.
//!
//! - **Logging.** [`SessionOptions::logger`](crate::SessionOptions::logger) (or
//!   [`crate::Session::set_logger`]) receives one line per request (its actions,
//!   sizes, status and time), each retry with its reason and delay, and warnings.
//!   Lines never contain the API key or any header value.
//! - **Progress.** [`crate::Session::set_progress`] receives `(operation, done,
//!   total)` during long operations: rows as the pages of a query arrive (total
//!   unknown), operations of a commit (before it is sent and when it is applied).
//!   Returning `false` cancels the operation.
//! - **Cancellation.** [`crate::Session::cancel`], from any thread, makes every
//!   call of the session in flight at that moment return
//!   [`Error::Cancelled`](crate::Error::Cancelled) within about
//!   [`CANCEL_CHECK_INTERVAL`] while it sends, waits or reads, or sleeps before a
//!   retry; a TCP connect in progress is abandoned when it completes or when the
//!   connect timeout ([`crate::SessionOptions::connect_timeout`]) expires. A
//!   cancelled commit keeps its pending operations, and the error says whether the
//!   server may have received the batch.
//!
//! Callbacks run on the thread of the call that reports, before it returns;
//! the log lines of the pages a paged query fetches ahead come from the threads
//! that fetch them, still before the query returns. They must not call back
//! into the same session.
//!
//! Replacing or removing a callback ([`crate::Session::set_logger`],
//! [`crate::Session::set_progress`]) waits until the old one is not running on
//! any other thread: once it returns, the old callback is never called again
//! (so what it uses may be freed). A call in progress on the replacing thread
//! itself is not waited for.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::in_flight::{self, InFlight};

/// How often a waiting call checks whether it was cancelled.
pub const CANCEL_CHECK_INTERVAL: Duration = Duration::from_millis(20);

/// The severity of a log line; a logger registered for a level receives that
/// level and the more severe ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// A call failed.
    Error = 1,
    /// Something went wrong and was handled: a retry, an ignored cache file.
    Warn = 2,
    /// One line per request: actions, sizes, status, time.
    Info = 3,
    /// Details for troubleshooting.
    Debug = 4,
}

impl LogLevel {
    /// `"error"`, `"warn"`, `"info"` or `"debug"`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// A log callback: the level and the line (without the API key).
pub type LogFn = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// A progress callback: `(operation, done, total)`, where `operation` is
/// `"query"` or `"commit"`; returns `false` to cancel.
pub type ProgressFn = Arc<dyn Fn(&str, u64, Option<u64>) -> bool + Send + Sync>;

/// A logger with the most verbose level it wants.
#[derive(Clone)]
pub(crate) struct Logger {
    pub level: LogLevel,
    pub log: LogFn,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

/// The hooks of one session, shared with its transport.
#[derive(Default)]
pub(crate) struct Hooks {
    /// The logger and progress callback, each with its serial (see [`InFlight`]).
    logger: RwLock<Option<(u64, Logger)>>,
    progress: RwLock<Option<(u64, ProgressFn)>>,
    /// Their calls in progress, so that replacing one waits for them.
    calls: InFlight,
    /// Moves on every `cancel()`; a call is cancelled when it differs from the
    /// value at the call's start.
    cancels: AtomicU64,
    /// The key, scrubbed from every line in case a message quotes it.
    secret: std::sync::OnceLock<Arc<str>>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks").finish_non_exhaustive()
    }
}

/// Puts `new` (with a fresh serial) in `slot` and returns the serial of the
/// callback it replaced.
fn replace<T>(slot: &RwLock<Option<(u64, T)>>, new: Option<T>) -> Option<u64> {
    let new = new.map(|f| (in_flight::serial(), f));
    let old = std::mem::replace(&mut *slot.write().unwrap_or_else(|e| e.into_inner()), new);
    old.map(|(serial, _)| serial)
}

impl Hooks {
    pub(crate) fn new(logger: Option<Logger>, secret: &str) -> Arc<Hooks> {
        let hooks = Hooks::default();
        replace(&hooks.logger, logger);
        let _ = hooks.secret.set(secret.into());
        Arc::new(hooks)
    }

    /// Replaces the logger; returns once the old one is not running on
    /// another thread (see the module documentation).
    pub(crate) fn set_logger(&self, logger: Option<Logger>) {
        if let Some(old) = replace(&self.logger, logger) {
            self.calls.wait(|s| s == old);
        }
    }

    /// Replaces the progress callback, as [`Hooks::set_logger`].
    pub(crate) fn set_progress(&self, progress: Option<ProgressFn>) {
        if let Some(old) = replace(&self.progress, progress) {
            self.calls.wait(|s| s == old);
        }
    }

    /// Whether a line of `level` would be delivered (to skip building it).
    pub(crate) fn logs(&self, level: LogLevel) -> bool {
        self.logger
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|(_, l)| level <= l.level)
    }

    /// Delivers a line built by `line` if the logger wants `level`.
    pub(crate) fn log(&self, level: LogLevel, line: impl FnOnce() -> String) {
        let (log, _call) = {
            let logger = self.logger.read().unwrap_or_else(|e| e.into_inner());
            match &*logger {
                Some((serial, l)) if level <= l.level => {
                    (Arc::clone(&l.log), self.calls.enter(*serial))
                }
                _ => return,
            }
        };
        let mut text = line();
        if let Some(secret) = self.secret.get()
            && !secret.is_empty()
        {
            text = text.replace(&**secret, "<redacted>");
        }
        log(level, &text);
    }

    /// Reports progress; `false` when the callback asks to cancel.
    pub(crate) fn progress(&self, operation: &str, done: u64, total: Option<u64>) -> bool {
        let (progress, _call) = {
            let slot = self.progress.read().unwrap_or_else(|e| e.into_inner());
            match &*slot {
                Some((serial, p)) => (Arc::clone(p), self.calls.enter(*serial)),
                None => return true,
            }
        };
        progress(operation, done, total)
    }

    pub(crate) fn cancel(&self) {
        self.cancels.fetch_add(1, Ordering::SeqCst);
    }

    /// The token of the call running on this thread (a request inside a paged
    /// query or a commit belongs to that call), else one for a call starting now.
    pub(crate) fn token(self: &Arc<Self>) -> CallToken {
        let outer = CURRENT.with(|c| {
            c.borrow()
                .as_ref()
                .filter(|t| Arc::ptr_eq(&t.hooks, self))
                .cloned()
        });
        outer.unwrap_or_else(|| CallToken {
            hooks: self.clone(),
            at: self.cancels.load(Ordering::SeqCst),
        })
    }
}

/// Identifies one call, to tell whether the session was cancelled since it began.
#[derive(Clone)]
pub(crate) struct CallToken {
    hooks: Arc<Hooks>,
    at: u64,
}

impl CallToken {
    pub(crate) fn cancelled(&self) -> bool {
        self.hooks.cancels.load(Ordering::SeqCst) != self.at
    }

    /// Sleeps for `d`, waking early (false) when the call is cancelled.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let end = std::time::Instant::now() + d;
        loop {
            if self.cancelled() {
                return false;
            }
            let now = std::time::Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(CANCEL_CHECK_INTERVAL));
        }
    }

    /// Runs `f` with this token visible to the transport on this thread (ureq
    /// performs the exchange on the calling thread).
    pub(crate) fn during<T>(&self, f: impl FnOnce() -> T) -> T {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        let out = f();
        CURRENT.with(|c| *c.borrow_mut() = previous);
        out
    }
}

thread_local! {
    static CURRENT: RefCell<Option<CallToken>> = const { RefCell::new(None) };
}

/// Whether the call running on this thread has been cancelled.
pub(crate) fn current_cancelled() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(CallToken::cancelled))
}

/// The marker inside the `io::Error` a cancelled exchange fails with.
#[derive(Debug)]
pub(crate) struct CancelledMarker;

impl fmt::Display for CancelledMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for CancelledMarker {}

pub(crate) fn cancelled_io() -> std::io::Error {
    std::io::Error::other(CancelledMarker)
}

pub(crate) fn is_cancelled_io(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<CancelledMarker>())
}
