//! Minimal HTTP/1.1: reads one request (head via `httparse`, body by
//! Content-Length or chunked) and writes a response with a single write.

use std::io::{self, Read, Write};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024 * 1024;
const MAX_HEAD: usize = 64 * 1024;

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
    /// The first header named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A connection that retries timed-out reads until `stop()` says to give up.
pub struct Conn<'a, S: Read + Write> {
    stream: S,
    buf: Vec<u8>,
    stop: &'a dyn Fn() -> bool,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl<'a, S: Read + Write> Conn<'a, S> {
    /// Wraps a stream (which should have a read timeout so `stop` is polled).
    pub fn new(stream: S, stop: &'a dyn Fn() -> bool) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
            stop,
        }
    }

    /// Reads more bytes into the buffer; Ok(false) on end of stream or stop.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
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
                Err(e) => return Err(e),
            }
        }
    }

    fn take_exact(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(invalid("connection closed inside the body"));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn take_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return Ok(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            if self.buf.len() > MAX_HEAD || !self.fill()? {
                return Err(invalid("bad chunked encoding"));
            }
        }
    }

    /// Reads the next request; Ok(None) when the peer closed the connection.
    pub fn read_request(&mut self) -> io::Result<Option<Request>> {
        let (method, path, headers, used) = loop {
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut slots);
            match req.parse(&self.buf) {
                Ok(httparse::Status::Complete(used)) => {
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
                    let path = target.split('?').next().unwrap_or("/").to_string();
                    let method = req.method.unwrap_or("").to_string();
                    let v10 = req.version == Some(0);
                    break (method, path, (headers, v10), used);
                }
                Ok(httparse::Status::Partial) => {
                    if self.buf.len() > MAX_HEAD {
                        return Err(invalid("request head too large"));
                    }
                    if !self.fill()? {
                        if self.buf.is_empty() {
                            return Ok(None);
                        }
                        return Err(invalid("connection closed inside the request head"));
                    }
                }
                Err(e) => return Err(invalid(&format!("malformed request: {e}"))),
            }
        };
        let (headers, http10) = headers;
        self.buf.drain(..used);
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
        if get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let chunked =
            get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let line = self.take_line()?;
                let size_text = line.split(';').next().unwrap_or("").trim();
                let size =
                    usize::from_str_radix(size_text, 16).map_err(|_| invalid("bad chunk size"))?;
                if size == 0 {
                    while !self.take_line()?.is_empty() {}
                    break;
                }
                if body.len() + size > MAX_BODY {
                    return Err(invalid("request body too large"));
                }
                body.extend(self.take_exact(size)?);
                self.take_exact(2)?;
            }
            body
        } else {
            let len = match get("content-length") {
                Some(v) => v
                    .parse::<usize>()
                    .map_err(|_| invalid("bad Content-Length"))?,
                None => 0,
            };
            if len > MAX_BODY {
                return Err(invalid("request body too large"));
            }
            self.take_exact(len)?
        };
        Ok(Some(Request {
            method,
            path,
            headers,
            body,
            keep_alive,
        }))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
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
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        reason(status),
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    let mut msg = Vec::with_capacity(head.len() + body.len());
    msg.extend_from_slice(head.as_bytes());
    msg.extend_from_slice(body);
    out.write_all(&msg)?;
    out.flush()
}
