//! Minimal HTTP/1.1: reads a request head (via `httparse`), then its body by
//! Content-Length or chunked within a size limit the caller chooses, each
//! phase under a deadline, and writes a response with a single (vectored)
//! write.

use std::io::{self, IoSlice, Read, Write};
use std::time::{Duration, Instant};

/// Largest request body accepted from an authenticated client (the default
/// of [`crate::Limits::max_body`]).
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest request head (request line and headers) accepted (the default of
/// [`crate::Limits::max_head`]).
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header lines a request head may have.
pub const MAX_HEADERS: usize = 64;

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Head {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Request target without the query string.
    pub path: String,
    /// The query string (after `?`, undecoded; empty when none).
    pub query: String,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// How the body is framed.
    pub framing: Framing,
    /// The client waits for `100 Continue` before sending the body.
    pub expect_continue: bool,
}

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` bytes (0 without the header).
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

impl Head {
    /// The first header named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One parsed request.
#[derive(Debug)]
pub struct Request {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Request target without the query string.
    pub path: String,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    /// Decoded body.
    pub body: Vec<u8>,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
}

impl Request {
    /// A request made of a head and its body.
    pub fn new(head: Head, body: Vec<u8>) -> Self {
        Request {
            method: head.method,
            path: head.path,
            headers: head.headers,
            body,
            keep_alive: head.keep_alive,
        }
    }

    /// The first header named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read. Every variant but `Io` is answered
/// (see [`ReadError::status`]) before the connection is closed.
#[derive(Debug)]
pub enum ReadError {
    /// The connection failed or closed in the middle of a request.
    Io(io::Error),
    /// A deadline passed: the phase (`request head`, `request body`) and its limit.
    Timeout {
        /// What was being read.
        phase: &'static str,
        /// The deadline.
        limit: Duration,
    },
    /// A part of the request is larger than its limit.
    TooLarge {
        /// What was too large (`request head`, `request body`, ...).
        what: &'static str,
        /// Its size when known (a declared Content-Length).
        size: Option<u128>,
        /// The limit in bytes.
        limit: usize,
    },
    /// Not HTTP/1.x as this server reads it.
    Malformed(String),
}

impl ReadError {
    /// The HTTP status the error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ReadError::Io(_) | ReadError::Malformed(_) => 400,
            ReadError::Timeout { .. } => 408,
            ReadError::TooLarge {
                what: "request head",
                ..
            } => 431,
            ReadError::TooLarge { .. } => 413,
        }
    }

    /// Whether the peer is gone (no answer can reach it).
    pub fn is_io(&self) -> bool {
        matches!(self, ReadError::Io(_))
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Timeout { phase, limit } => write!(
                f,
                "the {phase} did not arrive within {} ms (the limit)",
                limit.as_millis()
            ),
            ReadError::TooLarge { what, size, limit } => match size {
                Some(size) => write!(
                    f,
                    "the {what} of {size} bytes is larger than the limit of {limit} bytes"
                ),
                None => write!(f, "the {what} is larger than the limit of {limit} bytes"),
            },
            ReadError::Malformed(m) => write!(f, "{m}"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn malformed(msg: &str) -> ReadError {
    ReadError::Malformed(msg.to_string())
}

/// How long each phase of reading a request may take.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// Waiting for the first byte of a request (a fresh or kept-alive connection).
    pub idle: Duration,
    /// From the first byte of a request head to its end.
    pub head: Duration,
    /// From the end of the head to the end of the body.
    pub body: Duration,
}

impl Default for Deadlines {
    /// Generous enough never to trigger in tests: an hour each.
    fn default() -> Self {
        let hour = Duration::from_secs(3600);
        Deadlines {
            idle: hour,
            head: hour,
            body: hour,
        }
    }
}

/// A connection that retries timed-out reads until `stop()` says to give up
/// or the deadline of the current phase passes.
pub struct Conn<'a, S: Read + Write> {
    stream: S,
    buf: Vec<u8>,
    stop: &'a dyn Fn() -> bool,
    deadlines: Deadlines,
    max_head: usize,
    /// The current phase's deadline, its name and length.
    deadline: Option<(Instant, &'static str, Duration)>,
}

impl<'a, S: Read + Write> Conn<'a, S> {
    /// Wraps a stream (which should have a read timeout so `stop` and the
    /// deadlines are polled).
    pub fn new(stream: S, stop: &'a dyn Fn() -> bool) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
            stop,
            deadlines: Deadlines::default(),
            max_head: MAX_HEAD,
            deadline: None,
        }
    }

    /// Sets the phase deadlines and the largest head accepted.
    pub fn with_limits(mut self, deadlines: Deadlines, max_head: usize) -> Self {
        self.deadlines = deadlines;
        self.max_head = max_head;
        self
    }

    /// Takes the bytes read past the last request head or body (what a
    /// client sent after an upgrade request, for the WebSocket).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The wrapped stream.
    pub fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    fn start_phase(&mut self, phase: &'static str, limit: Duration) {
        self.deadline = Some((Instant::now() + limit, phase, limit));
    }

    fn check_deadline(&self) -> Result<(), ReadError> {
        match self.deadline {
            Some((at, phase, limit)) if Instant::now() >= at => {
                Err(ReadError::Timeout { phase, limit })
            }
            _ => Ok(()),
        }
    }

    /// Reads more bytes into the buffer; Ok(false) on end of stream or stop.
    fn fill(&mut self) -> Result<bool, ReadError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            self.check_deadline()?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if (self.stop)() {
                        return Ok(false);
                    }
                }
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    fn take_exact(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(malformed("connection closed inside the body"));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// One CRLF-terminated line of at most `max` bytes (chunk sizes, trailers).
    fn take_line(&mut self, max: usize) -> Result<String, ReadError> {
        let mut searched: usize = 0;
        loop {
            let from = searched.saturating_sub(1);
            if let Some(i) = self.buf[from..].windows(2).position(|w| w == b"\r\n") {
                let i = from + i;
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return Ok(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            searched = self.buf.len();
            if self.buf.len() > max {
                return Err(malformed("bad chunked encoding: line too long"));
            }
            if !self.fill()? {
                return Err(malformed("bad chunked encoding"));
            }
        }
    }

    /// Reads the next request head; Ok(None) when the peer closed the
    /// connection, the server stops, or no request began within the idle
    /// deadline.
    pub fn read_head(&mut self) -> Result<Option<Head>, ReadError> {
        let mut started = false;
        if self.buf.is_empty() {
            self.start_phase("request", self.deadlines.idle);
        }
        loop {
            if !self.buf.is_empty() && !started {
                started = true;
                self.start_phase("request head", self.deadlines.head);
            }
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut slots);
            match req.parse(&self.buf) {
                Ok(httparse::Status::Complete(used)) => {
                    if used > self.max_head {
                        return Err(ReadError::TooLarge {
                            what: "request head",
                            size: Some(used as u128),
                            limit: self.max_head,
                        });
                    }
                    let head = head_from(&req)?;
                    self.buf.drain(..used);
                    return Ok(Some(head));
                }
                Ok(httparse::Status::Partial) => {
                    if self.buf.len() > self.max_head {
                        return Err(ReadError::TooLarge {
                            what: "request head",
                            size: None,
                            limit: self.max_head,
                        });
                    }
                    let more = match self.fill() {
                        Err(ReadError::Timeout { .. }) if self.buf.is_empty() => return Ok(None),
                        other => other?,
                    };
                    if !more {
                        if self.buf.is_empty() {
                            return Ok(None);
                        }
                        return Err(malformed("connection closed inside the request head"));
                    }
                }
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(malformed(&format!(
                        "malformed request: more than {MAX_HEADERS} headers"
                    )));
                }
                Err(e) => return Err(malformed(&format!("malformed request: {e}"))),
            }
        }
    }

    /// Reads the body `head` announces, refusing one larger than `limit`
    /// bytes before reading past it (a declared length is refused unread).
    /// Sends `100 Continue` first when the client asked for it.
    pub fn read_body(&mut self, head: &Head, limit: usize) -> Result<Vec<u8>, ReadError> {
        let too_large = |size: Option<u128>| ReadError::TooLarge {
            what: "request body",
            size,
            limit,
        };
        if let Framing::Length(len) = head.framing
            && len > limit
        {
            return Err(too_large(Some(len as u128)));
        }
        if head.expect_continue && head.framing != Framing::Length(0) {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        self.start_phase("request body", self.deadlines.body);
        match head.framing {
            Framing::Length(len) => self.take_exact(len),
            Framing::Chunked => {
                let mut body = Vec::new();
                loop {
                    let line = self.take_line(self.max_head)?;
                    let size_text = line.split(';').next().unwrap_or("").trim();
                    if size_text.is_empty() || !size_text.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(malformed("bad chunk size"));
                    }
                    // A size too large for u128 is certainly over the limit.
                    let size = u128::from_str_radix(size_text, 16).unwrap_or(u128::MAX);
                    if size == 0 {
                        let mut trailers = 0usize;
                        loop {
                            let t = self.take_line(self.max_head)?;
                            if t.is_empty() {
                                break;
                            }
                            trailers += t.len() + 2;
                            if trailers > self.max_head {
                                return Err(ReadError::TooLarge {
                                    what: "request trailer",
                                    size: None,
                                    limit: self.max_head,
                                });
                            }
                        }
                        return Ok(body);
                    }
                    let total = (body.len() as u128).saturating_add(size);
                    if total > limit as u128 {
                        return Err(too_large(None));
                    }
                    // total <= limit, so size fits in usize.
                    let size = size as usize;
                    body.extend(self.take_exact(size)?);
                    if self.take_exact(2)? != b"\r\n" {
                        return Err(malformed("bad chunked encoding: no CRLF after a chunk"));
                    }
                }
            }
        }
    }

    /// Reads the next whole request with a body of at most [`MAX_BODY`]
    /// bytes; Ok(None) when the connection ends between requests.
    pub fn read_request(&mut self) -> Result<Option<Request>, ReadError> {
        let Some(head) = self.read_head()? else {
            return Ok(None);
        };
        let body = self.read_body(&head, MAX_BODY)?;
        Ok(Some(Request::new(head, body)))
    }
}

fn head_from(req: &httparse::Request<'_, '_>) -> Result<Head, ReadError> {
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (path, query) = (path.to_string(), query.to_string());
    let method = req.method.unwrap_or("").to_string();
    let http10 = req.version == Some(0);
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let connection = get("connection").unwrap_or("").to_ascii_lowercase();
    let keep_alive = if http10 {
        connection == "keep-alive"
    } else {
        connection != "close"
    };
    let expect_continue = get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let chunked =
        get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let framing = if chunked {
        Framing::Chunked
    } else {
        let lengths: Vec<&str> = headers
            .iter()
            .filter(|(k, _)| k == "content-length")
            .map(|(_, v)| v.as_str())
            .collect();
        match lengths.as_slice() {
            [] => Framing::Length(0),
            [first, rest @ ..] if rest.iter().all(|v| v == first) => {
                if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(malformed("bad Content-Length"));
                }
                // Digits only: a failure can only be an overflow, which is
                // larger than any limit.
                Framing::Length(first.parse::<usize>().unwrap_or(usize::MAX))
            }
            _ => return Err(malformed("conflicting Content-Length headers")),
        }
    };
    Ok(Head {
        method,
        path,
        query,
        headers,
        keep_alive,
        framing,
        expect_continue,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

/// Writes a JSON response (head and body in one write call).
pub fn write_response(
    out: &mut impl Write,
    status: u16,
    body: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    write_response_with(out, status, body, keep_alive, &[])
}

/// Writes a JSON response with extra header lines (e.g. `Retry-After`).
pub fn write_response_with(
    out: &mut impl Write,
    status: u16,
    body: &[u8],
    keep_alive: bool,
    extra: &[(&str, &str)],
) -> io::Result<()> {
    write_response_parts(out, status, &[body], keep_alive, extra)
}

/// Writes a JSON response whose body is `parts` back to back. Head and body
/// go out in one vectored write, so the parts are never copied into one
/// buffer (a 10,000-row query answer is megabytes) and the head never travels
/// alone in a packet of its own.
pub fn write_response_parts(
    out: &mut impl Write,
    status: u16,
    parts: &[&[u8]],
    keep_alive: bool,
    extra: &[(&str, &str)],
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n",
        reason(status),
        parts.iter().map(|p| p.len()).sum::<usize>(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut slices: Vec<IoSlice<'_>> = std::iter::once(head.as_bytes())
        .chain(parts.iter().copied())
        .map(IoSlice::new)
        .collect();
    let mut pending = &mut slices[..];
    IoSlice::advance_slices(&mut pending, 0);
    while !pending.is_empty() {
        match out.write_vectored(pending) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut pending, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `step` bytes per write, as a full send
    /// buffer does, and counts the calls.
    struct Trickle {
        sent: Vec<u8>,
        step: usize,
        calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            let mut room = self.step;
            for b in bufs {
                let n = b.len().min(room);
                self.sent.extend_from_slice(&b[..n]);
                room -= n;
                if room == 0 {
                    break;
                }
            }
            Ok(self.step - room)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_response_in_parts_arrives_whole_through_partial_writes() {
        let parts: [&[u8]; 5] = [b"[", br#"{"a":1}"#, b",", &[b'7'; 1000], b"]"];
        let whole: Vec<u8> = parts.concat();
        for step in [1, 3, 64, 100_000] {
            let mut out = Trickle {
                sent: Vec::new(),
                step,
                calls: 0,
            };
            write_response_parts(&mut out, 200, &parts, true, &[("Retry-After", "1")]).unwrap();
            let text = String::from_utf8(out.sent).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
            assert!(
                head.contains(&format!("\r\nContent-Length: {}\r\n", whole.len())),
                "{head}"
            );
            assert!(head.ends_with("\r\nRetry-After: 1"), "{head}");
            assert_eq!(body.as_bytes(), &whole[..], "step {step}");
            if step == 100_000 {
                assert_eq!(out.calls, 1, "head and body in one write");
            }
        }
    }

    #[test]
    fn a_socket_that_takes_nothing_is_an_error_not_a_loop() {
        let mut out = Trickle {
            sent: Vec::new(),
            step: 0,
            calls: 0,
        };
        let e = write_response_parts(&mut out, 200, &[b"[]"], true, &[]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WriteZero);
    }
}
