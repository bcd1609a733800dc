//! HTTP transport: one pooled ureq agent per session, auth headers, timeouts,
//! proxies from the environment, TLS roots, and bounded retries.
//!
//! ureq sets `TCP_NODELAY` on every connection it opens (`Config::no_delay`
//! defaults to true, checked in ureq 3.5's `unversioned/transport/tcp.rs`), and we
//! set it explicitly too. ureq itself writes the request head and the body with
//! separate `write` calls (`run.rs`: `send_request` then `send_body`), which with
//! Nagle disabled means two TCP segments per request. [`Coalescing`] wraps ureq's
//! default connector and holds the output back until ureq starts reading the
//! answer, so head and body leave in one `write` (one segment for small batches).

use std::fmt;
use std::io::ErrorKind as IoKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ureq::Agent;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout,
    Transport as UreqTransport,
};

use std::sync::Arc;

use crate::config::{Credentials, SessionOptions};
use crate::error::{Error, Result};
use crate::hooks::{self, Hooks, LogLevel};

/// The largest reply buffer allocated up front from a Content-Length (a
/// bigger reply grows its buffer as it arrives, up to the reply limit).
const PRESIZE_MAX: u64 = 16 << 20;

/// Whether a batch only reads (safe to send twice) or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotence {
    ReadOnly,
    Writes,
}

pub(crate) struct Transport {
    agent: Agent,
    url: String,
    creds: Credentials,
    strict: &'static str,
    headers: Vec<(String, String)>,
    cookie: Option<String>,
    max_attempts: u32,
    retry_delay: Duration,
    timeout: Duration,
    deadline: Duration,
    max_reply_bytes: u64,
    count: AtomicU64,
    hooks: Arc<Hooks>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("url", &crate::config::redact_url(&self.url))
            .field("creds", &self.creds)
            .field("strict", &self.strict)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// A reply: HTTP status and body bytes.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Transport {
    pub(crate) fn new(
        options: &SessionOptions,
        creds: Credentials,
        hooks: Arc<Hooks>,
    ) -> Result<Transport> {
        check_head_size(options, &creds)?;
        let mut tls = TlsConfig::builder();
        if let Some(path) = &options.ca_bundle {
            let certs: Vec<Certificate<'static>> = crate::tls::ca_bundle_certificates(path)?
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        } else {
            tls = tls.root_certs(RootCerts::PlatformVerifier);
        }
        let t = Some(options.timeout);
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .no_delay(true)
            .proxy(ureq::Proxy::try_from_env())
            .tls_config(tls.build())
            .timeout_connect(Some(options.connect_timeout.min(options.timeout)))
            // IP literals need no lookup (`LiteralResolver`).
            .timeout_send_request(t)
            .timeout_send_body(t)
            .timeout_recv_response(t)
            .timeout_per_read(t)
            .timeout_global(Some(options.request_deadline))
            .user_agent(concat!("libftrack/", env!("CARGO_PKG_VERSION")))
            .accept("application/json")
            .max_redirects(0)
            // `CoalescingTransport` gathers a request's output itself, so
            // ureq's output buffer only passes it through: 32 KiB instead of
            // 128 KiB is less memory for each connection to zero (a request
            // head, custom headers and cookies included, must fit).
            .output_buffer_size(OUTPUT_BUFFER_BYTES)
            .build();
        let cookie = if options.cookies.is_empty() {
            None
        } else {
            Some(
                options
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        };
        Ok(Transport {
            agent: Agent::with_parts(config, Coalescing::default(), LiteralResolver::default()),
            url: format!("{}/api", creds.server_url),
            creds,
            strict: if options.strict_api { "true" } else { "false" },
            headers: options.headers.clone(),
            cookie,
            max_attempts: options.max_attempts.max(1),
            retry_delay: options.retry_delay,
            timeout: options.timeout,
            deadline: options.request_deadline,
            max_reply_bytes: options.max_reply_bytes,
            count: AtomicU64::new(0),
            hooks,
        })
    }

    pub(crate) fn request_count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The key, only for scrubbing it out of error excerpts.
    pub(crate) fn api_key(&self) -> &str {
        &self.creds.api_key
    }

    /// The server URL (as configured, without `/api`).
    pub(crate) fn server_url(&self) -> &str {
        &self.creds.server_url
    }

    /// The API user.
    pub(crate) fn api_user(&self) -> &str {
        &self.creds.api_user
    }

    /// The hooks (logger, progress, cancellation) this transport reports to.
    pub(crate) fn hooks(&self) -> &Arc<Hooks> {
        &self.hooks
    }

    /// POSTs `body` to `/api`, retrying as the idempotence allows. The call can
    /// be cancelled through the hooks while it sends, waits, reads or sleeps.
    pub(crate) fn post(&self, body: &[u8], idem: Idempotence) -> Result<Reply> {
        let token = self.hooks.token();
        let actions = if self.hooks.logs(LogLevel::Warn) {
            action_names(body)
        } else {
            String::new()
        };
        let mut attempt = 0u32;
        loop {
            if token.cancelled() {
                return Err(Error::Cancelled { sent: false });
            }
            attempt += 1;
            let started = std::time::Instant::now();
            let outcome = token.during(|| self.post_once(body));
            let elapsed = started.elapsed();
            match &outcome {
                Ok(r) => self.hooks.log(LogLevel::Info, || {
                    format!(
                        "POST /api [{actions}] {} B -> HTTP {} {} B in {:.1} ms (attempt {attempt})",
                        body.len(),
                        r.status,
                        r.body.len(),
                        elapsed.as_secs_f64() * 1e3
                    )
                }),
                Err(f) => self.hooks.log(LogLevel::Info, || {
                    format!(
                        "POST /api [{actions}] {} B failed after {:.1} ms (attempt {attempt}): {}",
                        body.len(),
                        elapsed.as_secs_f64() * 1e3,
                        f.error
                    )
                }),
            }
            let last = attempt >= self.max_attempts;
            let wait = match &outcome {
                Ok(reply) => match reply.status {
                    429 | 502 | 503 | 504 if idem == Idempotence::ReadOnly && !last => Some((
                        reply.retry_after.unwrap_or_else(|| self.backoff(attempt)),
                        format!("HTTP {}", reply.status),
                    )),
                    _ => None,
                },
                Err(Failure {
                    never_sent, error, ..
                }) => {
                    let retryable = matches!(error, Error::Connection(_) | Error::Timeout(_));
                    if !last && retryable && (idem == Idempotence::ReadOnly || *never_sent) {
                        Some((self.backoff(attempt), error.to_string()))
                    } else {
                        None
                    }
                }
            };
            match wait {
                Some((d, reason)) => {
                    let d = d.min(Duration::from_secs(30));
                    self.hooks.log(LogLevel::Warn, || {
                        format!(
                            "retrying [{actions}] in {} ms after {reason} (attempt {attempt} of {})",
                            d.as_millis(),
                            self.max_attempts
                        )
                    });
                    if !token.sleep(d) {
                        return Err(Error::Cancelled { sent: false });
                    }
                }
                None => {
                    return match outcome {
                        Ok(r) => Ok(Reply {
                            status: r.status,
                            body: r.body,
                        }),
                        Err(f) => {
                            self.hooks.log(LogLevel::Warn, || {
                                format!("POST /api [{actions}] failed: {}", f.error)
                            });
                            Err(f.error)
                        }
                    };
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.retry_delay.as_micros() as u64;
        let exp = base.saturating_mul(1u64 << (attempt - 1).min(10));
        // Full jitter in [exp/2, exp].
        let jitter = if exp > 1 {
            jitter_u64() % (exp / 2 + 1)
        } else {
            0
        };
        Duration::from_micros(exp / 2 + jitter)
    }

    fn post_once(&self, body: &[u8]) -> std::result::Result<RawReply, Failure> {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut req = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("ftrack-strict-api", self.strict)
            .header("ftrack-user", &self.creds.api_user)
            .header("ftrack-api-key", &self.creds.api_key);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c.as_str());
        }
        let mut resp = req.send(body).map_err(|e| self.failure(e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        // Sized from Content-Length (within the reply limit, and at most
        // PRESIZE_MAX, whatever a server announces): a page is read without
        // growing and copying its buffer a dozen times.
        let announced = resp.body().content_length().unwrap_or(0);
        let mut body =
            Vec::with_capacity(announced.min(self.max_reply_bytes).min(PRESIZE_MAX) as usize);
        std::io::Read::read_to_end(
            &mut resp
                .body_mut()
                .with_config()
                .limit(self.max_reply_bytes)
                .reader(),
            &mut body,
        )
        .map_err(ureq::Error::from)
        .map_err(|e| {
            let mut f = self.failure(e);
            f.never_sent = false;
            if let Error::Connection(m) = &mut f.error {
                *m = format!(
                    "the connection to {} broke while reading the reply (HTTP {status}): {m}",
                    crate::config::redact_url(&self.creds.server_url)
                );
            }
            f
        })?;
        Ok(RawReply {
            status,
            body,
            retry_after,
        })
    }

    fn failure(&self, e: ureq::Error) -> Failure {
        let server = crate::config::redact_url(&self.creds.server_url);
        let secs = self.timeout.as_secs_f64();
        let timed_out = |what: String| {
            Error::Timeout(format!(
                "{what} after {secs} s (the session timeout); check that the server is up and \
                 reachable, or raise the timeout with SessionOptions::timeout \
                 (ftrack_session_options_set_timeout_ms in C; default 60 s)"
            ))
        };
        // ureq hands rustls's handshake failures (an untrusted certificate
        // among them) over as I/O errors: they are TLS errors, never retried.
        if let ureq::Error::Io(io) = &e
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Failure {
                error: Error::Tls(crate::tls::handshake_failure(&server, tls)),
                never_sent: true,
            };
        }
        let (error, never_sent) = match e {
            ureq::Error::Io(io) if hooks::is_cancelled_io(&io) => {
                // Cancelled while sending or waiting: the server may have the batch.
                (Error::Cancelled { sent: true }, false)
            }
            ureq::Error::Timeout(t) => {
                use ureq::Timeout as T;
                let (what, before) = match t {
                    T::Connect | T::Resolve => (format!("connecting to {server} timed out"), true),
                    T::SendRequest | T::SendBody | T::PerWrite => {
                        (format!("sending the request to {server} timed out"), false)
                    }
                    T::Global => {
                        return Failure {
                            error: Error::Timeout(format!(
                                "the request to {server} did not complete within the request \
                                 deadline of {} s; check the server, or raise it with \
                                 SessionOptions::request_deadline (default 600 s)",
                                self.deadline.as_secs_f64()
                            )),
                            never_sent: false,
                        };
                    }
                    _ => (format!("{server} sent no complete answer"), false),
                };
                (timed_out(what), before)
            }
            ureq::Error::BodyExceedsLimit(limit) => (
                Error::Protocol {
                    status: 0,
                    message: format!(
                        "the reply from {server} is larger than the maximum reply size of \
                         {limit} bytes; page the query (a smaller page size), select fewer \
                         attributes, or raise SessionOptions::max_reply_bytes"
                    ),
                },
                false,
            ),
            ureq::Error::HostNotFound => (
                Error::Connection(format!(
                    "cannot resolve the host of {server}; check FTRACK_SERVER / server_url and DNS"
                )),
                true,
            ),
            ureq::Error::ConnectionFailed => (
                Error::Connection(format!(
                    "cannot connect to {server}; check that the server is running and reachable"
                )),
                true,
            ),
            ureq::Error::ConnectProxyFailed(m) => (
                Error::Connection(format!(
                    "the proxy refused the connection to {server} ({m}); check HTTPS_PROXY / HTTP_PROXY"
                )),
                true,
            ),
            ureq::Error::Io(io) => {
                let before = matches!(
                    io.kind(),
                    IoKind::ConnectionRefused | IoKind::AddrNotAvailable | IoKind::NotFound
                );
                if matches!(io.kind(), IoKind::TimedOut | IoKind::WouldBlock) {
                    (
                        timed_out(format!("the connection to {server} stalled")),
                        false,
                    )
                } else {
                    (
                        Error::Connection(format!(
                            "connection to {server} failed ({}: {io}); check that the server is \
                             running and reachable",
                            kind_name(io.kind())
                        )),
                        before,
                    )
                }
            }
            ureq::Error::Tls(m) => (
                Error::Tls(format!(
                    "TLS with {server} failed ({m}); check the certificate or pass a CA bundle"
                )),
                true,
            ),
            ureq::Error::Rustls(r) => (
                Error::Tls(format!(
                    "TLS with {server} failed ({r}); check the server certificate, or {}",
                    crate::tls::TRUST_HINT
                )),
                true,
            ),
            ureq::Error::Pem(p) => (
                Error::Tls(format!(
                    "invalid certificate data ({p}); pass a valid PEM file"
                )),
                true,
            ),
            ureq::Error::BadUri(u) => (
                Error::InvalidArgument(format!(
                    "the server URL is not valid ({u}); use e.g. https://studio.ftrackapp.com"
                )),
                true,
            ),
            ureq::Error::InvalidProxyUrl => (
                Error::InvalidArgument(
                    "the proxy URL in HTTPS_PROXY / HTTP_PROXY / ALL_PROXY is not valid; fix it"
                        .into(),
                ),
                true,
            ),
            other => (
                Error::Protocol {
                    status: 0,
                    message: format!(
                        "HTTP exchange with {server} failed ({other}); check that server_url \
                         points at an ftrack server"
                    ),
                },
                false,
            ),
        };
        Failure { error, never_sent }
    }
}

/// A `Retry-After` value: delay-seconds, or an HTTP date (a date in the past means now).
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = crate::datetime::parse_http_date(value)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(Duration::from_secs(at.max(0) as u64).saturating_sub(now))
}

fn kind_name(k: IoKind) -> &'static str {
    match k {
        IoKind::ConnectionRefused => "connection refused",
        IoKind::ConnectionReset => "connection reset",
        IoKind::ConnectionAborted => "connection aborted",
        IoKind::UnexpectedEof => "connection closed",
        IoKind::BrokenPipe => "broken pipe",
        _ => "I/O error",
    }
}

struct RawReply {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<Duration>,
}

struct Failure {
    error: Error,
    /// True when the request provably never reached the server (connect failed).
    never_sent: bool,
}

/// Cheap jitter source: hashes time and a counter with the std random state.
fn jitter_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static N: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(N.fetch_add(1, Ordering::Relaxed));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

/// Takes IP literals as they are, without a lookup, and hands names to
/// ureq's resolver. That one spawns a thread per lookup whenever a deadline
/// is set (`request_deadline` always is), so that a slow DNS answer respects
/// the deadline and cancellation; for an address that needs no lookup the
/// thread was pure cost (a third of a warm session start on 127.0.0.1).
#[derive(Debug, Default)]
struct LiteralResolver(DefaultResolver);

impl Resolver for LiteralResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("");
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>();
        let (Ok(ip), Some(scheme)) = (literal, uri.scheme()) else {
            return self.0.resolve(uri, config, timeout);
        };
        let Some(port) = uri.port_u16().or_else(|| match scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        }) else {
            return self.0.resolve(uri, config, timeout);
        };
        let addr = std::net::SocketAddr::new(ip, port);
        let mut out = self.empty();
        for addr in config.ip_family().keep_wanted(std::iter::once(addr)) {
            out.push(addr);
        }
        if out.is_empty() {
            Err(ureq::Error::HostNotFound)
        } else {
            Ok(out)
        }
    }
}

/// The size of ureq's output buffer for each connection (see [`Transport::new`]).
const OUTPUT_BUFFER_BYTES: usize = 32 * 1024;

/// What a request head holds besides the URL, the credentials and the extra
/// headers and cookies: the request line's method and version, the fixed
/// headers (user agent, accept, content type and length, strict mode), with
/// room to spare.
const FIXED_HEAD_BYTES: usize = 1024;

/// Refuses options whose request head could not be written: it must fit in
/// ureq's output buffer, else every request would fail with ureq's "output
/// too small" (found when a session starts, not on its first request).
fn check_head_size(options: &SessionOptions, creds: &Credentials) -> Result<()> {
    let extra: usize = options
        .headers
        .iter()
        .map(|(k, v)| k.len() + v.len() + 4)
        .chain(options.cookies.iter().map(|(k, v)| k.len() + v.len() + 2))
        .sum();
    let head = FIXED_HEAD_BYTES
        + creds.server_url.len()
        + creds.api_user.len()
        + creds.api_key.len()
        + extra;
    if head > OUTPUT_BUFFER_BYTES {
        return Err(Error::InvalidArgument(format!(
            "a request head would take about {head} bytes (the extra headers and cookies \
             {extra}, the server URL, user name and API key {}), more than the {} KiB a \
             request head may have: send less in the extra headers and cookies",
            head - FIXED_HEAD_BYTES - extra,
            OUTPUT_BUFFER_BYTES / 1024
        )));
    }
    Ok(())
}

/// A connector that wraps ureq's default chain (TCP, proxies, rustls) in a
/// transport that sends the request head and body in one write.
#[derive(Debug, Default)]
struct Coalescing {
    inner: DefaultConnector,
}

impl Connector<()> for Coalescing {
    type Out = CoalescingTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> std::result::Result<Option<CoalescingTransport>, ureq::Error> {
        Ok(self
            .inner
            .connect(details, chained)?
            .map(|inner| CoalescingTransport {
                inner,
                pending: Vec::new(),
            }))
    }
}

#[derive(Debug)]
struct CoalescingTransport {
    inner: Box<dyn UreqTransport>,
    /// Output ureq asked to transmit, not written yet.
    pending: Vec<u8>,
}

impl CoalescingTransport {
    fn flush(&mut self, timeout: NextTimeout) -> std::result::Result<(), ureq::Error> {
        if hooks::current_cancelled() {
            self.pending.clear();
            return Err(hooks::cancelled_io().into());
        }
        let mut at = 0;
        while at < self.pending.len() {
            let out = self.inner.buffers().output();
            let n = out.len().min(self.pending.len() - at);
            out[..n].copy_from_slice(&self.pending[at..at + n]);
            self.inner.transmit_output(n, timeout)?;
            at += n;
            if hooks::current_cancelled() {
                self.pending.clear();
                return Err(hooks::cancelled_io().into());
            }
        }
        self.pending.clear();
        Ok(())
    }

    /// Waits for input in slices of [`hooks::CANCEL_CHECK_INTERVAL`], so a cancel
    /// is noticed while the server is silent; the overall budget is `timeout`'s.
    fn await_sliced(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        use ureq::unversioned::transport::time::Duration as UDuration;
        let budget = timeout.for_read();
        let end = match budget.after {
            UDuration::Exact(d) => Some(std::time::Instant::now() + d),
            UDuration::NotHappening => None,
        };
        loop {
            if hooks::current_cancelled() {
                return Err(hooks::cancelled_io().into());
            }
            let left = end.map(|e| e.saturating_duration_since(std::time::Instant::now()));
            let slice = match left {
                Some(l) if l <= hooks::CANCEL_CHECK_INTERVAL => {
                    // Only what is left of the budget: the budget itself would
                    // wait up to its whole length again (nearly twice the timeout).
                    let last = NextTimeout {
                        after: UDuration::Exact(l),
                        ..budget
                    };
                    return self.inner.await_input(last);
                }
                _ => hooks::CANCEL_CHECK_INTERVAL,
            };
            let sliced = NextTimeout {
                after: UDuration::Exact(slice),
                per_read: None,
                ..budget
            };
            match self.inner.await_input(sliced) {
                Err(ureq::Error::Timeout(_)) => continue,
                other => return other,
            }
        }
    }
}

impl UreqTransport for CoalescingTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        _timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        let out = &self.inner.buffers().output()[..amount];
        self.pending.extend_from_slice(out);
        Ok(())
    }

    fn maybe_await_input(
        &mut self,
        timeout: NextTimeout,
    ) -> std::result::Result<bool, ureq::Error> {
        self.flush(timeout)?;
        self.inner.maybe_await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.flush(timeout)?;
        self.await_sliced(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// The `"action"` names of a batch, comma-separated, for log lines (a cheap scan
/// of the bytes; user data cannot inject a key, only odd names).
fn action_names(body: &[u8]) -> String {
    const NEEDLE: &[u8] = b"\"action\":\"";
    let mut names: Vec<&str> = Vec::new();
    let mut i = 0;
    while let Some(pos) = body[i..].windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        let start = i + pos + NEEDLE.len();
        let len = body[start..]
            .iter()
            .position(|&b| b == b'"')
            .unwrap_or(0)
            .min(64);
        if let Ok(name) = std::str::from_utf8(&body[start..start + len]) {
            names.push(name);
        }
        i = start + len;
    }
    if names.len() > 8 {
        let n = names.len();
        names.truncate(8);
        return format!("{}, ... ({n} operations)", names.join(", "));
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(url: &str) -> Vec<std::net::SocketAddr> {
        let uri: ureq::http::Uri = url.parse().unwrap();
        let config = Agent::config_builder().build();
        LiteralResolver::default()
            .resolve(&uri, &config, NextTimeout::default())
            .unwrap()
            .to_vec()
    }

    #[test]
    fn addresses_need_no_lookup_and_names_are_resolved() {
        assert_eq!(
            resolve("http://127.0.0.1:8080/api"),
            ["127.0.0.1:8080".parse().unwrap()]
        );
        assert_eq!(resolve("https://[::1]/api"), ["[::1]:443".parse().unwrap()]);
        assert_eq!(
            resolve("http://10.1.2.3/api"),
            ["10.1.2.3:80".parse().unwrap()]
        );
        // A name goes to the system resolver.
        assert!(
            resolve("http://localhost:8080/api")
                .iter()
                .all(|a| a.port() == 8080 && a.ip().is_loopback())
        );
    }
}
