//! Transport failures: refused connections, timeouts, malformed replies, retries,
//! and secrets never leaking into errors or Debug output.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ftrack::{ErrorKind, SchemaCache, Session, SessionOptions, Value};
use ftrack_sandbox::{Sandbox, SandboxConfig};

const SECRET: &str = "SECRET-KEY-f00dfeedcafe";

fn opts(url: &str) -> SessionOptions {
    SessionOptions::new()
        .server_url(url)
        .api_key(SECRET)
        .api_user("admin")
        .schema_cache(SchemaCache::Disabled)
        .retry_delay(Duration::from_millis(1))
}

/// Reads one HTTP request (head + Content-Length body); None on EOF.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut raw = Vec::new();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
        raw.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    raw.extend_from_slice(&body);
    Some(raw)
}

/// Reads one HTTP response with a Content-Length body.
fn read_response(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    read_request(r)
}

/// A server that answers every request with `reply(request)`.
fn fake_server(reply: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let reply = Arc::new(reply);
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let reply = reply.clone();
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                while let Some(req) = read_request(&mut r) {
                    if w.write_all(&reply(&req)).is_err() {
                        break;
                    }
                }
            });
        }
    });
    url
}

/// A proxy in front of `upstream` that answers the next `fail` requests with `status`.
struct FaultProxy {
    url: String,
    fail: Arc<AtomicUsize>,
    seen: Arc<AtomicUsize>,
}

fn fault_proxy(upstream: String, status: u16, extra: &'static str) -> FaultProxy {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let fail = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(AtomicUsize::new(0));
    let (f, s) = (fail.clone(), seen.clone());
    let addr = upstream.trim_start_matches("http://").to_owned();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let (f, s, addr) = (f.clone(), s.clone(), addr.clone());
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                let up = TcpStream::connect(&addr).unwrap();
                let mut up_w = up.try_clone().unwrap();
                let mut up_r = BufReader::new(up);
                while let Some(req) = read_request(&mut r) {
                    s.fetch_add(1, Ordering::SeqCst);
                    let failing = f
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let resp = if failing {
                        format!("HTTP/1.1 {status} Unavailable\r\n{extra}content-length: 0\r\n\r\n")
                            .into_bytes()
                    } else {
                        up_w.write_all(&req).unwrap();
                        read_response(&mut up_r).unwrap()
                    };
                    if w.write_all(&resp).is_err() {
                        break;
                    }
                }
            });
        }
    });
    FaultProxy { url, fail, seen }
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET), "the API key leaked: {text}");
}

#[test]
fn refused_connection_is_a_connection_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = Session::with_options(opts(&format!("http://127.0.0.1:{port}")).max_attempts(2))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert_no_secret(&err.to_string());
    assert_no_secret(&format!("{err:?}"));
}

#[test]
fn silent_server_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming().flatten() {
            held.push(c); // accept and never answer
        }
    });
    let start = Instant::now();
    let err = Session::with_options(
        opts(&url)
            .timeout(Duration::from_millis(300))
            .max_attempts(1),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_no_secret(&err.to_string());
}

#[test]
fn malformed_reply_is_a_protocol_error_without_the_key() {
    // Echo the request (which carries the key in a header) as a non-JSON body.
    let url = fake_server(|req| {
        let mut out =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", req.len()).into_bytes();
        out.extend_from_slice(req);
        out
    });
    let err = Session::with_options(opts(&url)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("HTTP 200"), "{msg}");
    assert_no_secret(&msg);
    assert_no_secret(&format!("{err:?}"));

    let url = fake_server(|_| b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n[{\"vers".to_vec());
    // content-length says 9 but 7 bytes come: the connection then stalls, so use
    // a short timeout; either way it is not a success.
    let err = Session::with_options(
        opts(&url)
            .timeout(Duration::from_millis(500))
            .max_attempts(1),
    )
    .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Protocol | ErrorKind::Timeout),
        "{err}"
    );
    let url = fake_server(|_| b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n[{\"vers".to_vec());
    let err = Session::with_options(opts(&url)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
}

#[test]
fn old_server_is_incompatible() {
    let url = fake_server(|_| {
        let body = br#"[{"version": "3.3.10", "schema_hash": "x"}, []]"#;
        let mut out =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
        out.extend_from_slice(body);
        out
    });
    let err = Session::with_options(opts(&url)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IncompatibleServer, "{err}");
    assert!(err.to_string().contains("3.3.11"));
}

#[test]
fn reads_are_retried_after_a_transient_503_writes_are_not() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    let proxy = fault_proxy(sb.url(), 503, "");
    let s = Session::with_options(
        opts(&proxy.url)
            .api_key(sb.admin_key())
            .api_user(sb.admin_user()),
    )
    .unwrap();
    proxy.fail.store(1, Ordering::SeqCst);
    let before = proxy.seen.load(Ordering::SeqCst);
    let users = s.query("User").unwrap();
    assert!(!users.is_empty());
    assert_eq!(proxy.seen.load(Ordering::SeqCst) - before, 2, "one retry");

    let p = s.query_first("Project").unwrap().unwrap();
    p.set("color", Value::from("#123456")).unwrap();
    proxy.fail.store(1, Ordering::SeqCst);
    let before_sb = sb.request_count();
    let err = s.commit().unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Protocol | ErrorKind::Server),
        "{err}"
    );
    assert_eq!(sb.request_count(), before_sb, "a write is not retried");
    assert_eq!(s.pending_len(), 1, "the failed commit keeps its operation");
    s.commit().unwrap();
    assert_eq!(s.pending_len(), 0);
}

#[test]
fn too_many_requests_honours_retry_after() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    let proxy = fault_proxy(sb.url(), 429, "retry-after: 1\r\n");
    let s = Session::with_options(
        opts(&proxy.url)
            .api_key(sb.admin_key())
            .api_user(sb.admin_user()),
    )
    .unwrap();
    proxy.fail.store(1, Ordering::SeqCst);
    let t = Instant::now();
    s.query("Project").unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn secrets_never_leak() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    // Debug of options.
    let o = opts(&sb.url());
    assert_no_secret(&format!("{o:?}"));
    // Authentication failure with the secret as key.
    let err = Session::with_options(o).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Authentication);
    assert_no_secret(&err.to_string());
    assert_no_secret(&format!("{err:?}"));
    // A working session's Debug (key given as the secret through a global key is
    // not possible here, so check the transport's Debug with a real key too).
    let s = Session::with_options(
        SessionOptions::new()
            .server_url(sb.url())
            .api_key(sb.admin_key())
            .api_user(sb.admin_user())
            .schema_cache(SchemaCache::Disabled),
    )
    .unwrap();
    assert!(!format!("{s:?}").contains(sb.admin_key()));
    // Error paths of a running session.
    for e in [
        s.query("select from where").unwrap_err(),
        s.query("Nope").unwrap_err(),
        s.query_one("User where username is \"zz\"").unwrap_err(),
    ] {
        assert!(!e.to_string().contains(sb.admin_key()));
        assert!(!format!("{e:?}").contains(sb.admin_key()));
    }
}

#[test]
fn request_head_and_body_arrive_in_one_write() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        // The very first read must already hold the head and the whole body.
        let n = c.read(&mut buf).unwrap();
        tx.send(buf[..n].to_vec()).unwrap();
        let _ = c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]");
    });
    let _ = Session::with_options(opts(&url).max_attempts(1));
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let text = String::from_utf8_lossy(&first);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length");
    assert!(len > 0);
    assert_eq!(
        body.len(),
        len,
        "the body came in the same write as the head"
    );
    assert!(head.contains("ftrack-strict-api: false"));
    assert!(head.contains("ftrack-user: admin"));
}
