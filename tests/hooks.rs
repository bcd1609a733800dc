//! Host hooks over real HTTP: cancelling a call that a silent server never
//! answers, progress of paged queries and commits (and cancelling through it),
//! and log lines that report requests and retries without ever showing the key.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ftrack::hooks::LogLevel;
use ftrack::{ErrorKind, SchemaCache, Session, SessionOptions};

const SECRET: &str = "SECRET-KEY-hooks-0123456789";

fn opts(url: &str) -> SessionOptions {
    SessionOptions::new()
        .server_url(url)
        .api_key(SECRET)
        .api_user("admin")
        .schema_cache(SchemaCache::Disabled)
        .timeout(Duration::from_secs(30))
}

/// Starts `call` on another thread, cancels after `after`, and returns the
/// error and the time from the cancel to the call's return.
fn cancel_during<T: Send + 'static>(
    session: &Session,
    after: Duration,
    call: impl FnOnce(Session) -> ftrack::Result<T> + Send + 'static,
) -> (ftrack::Error, Duration) {
    let (tx, rx) = std::sync::mpsc::channel();
    let s = session.clone();
    std::thread::spawn(move || {
        let r = call(s);
        let _ = tx.send((r.err(), Instant::now()));
    });
    std::thread::sleep(after);
    let cancelled_at = Instant::now();
    session.cancel();
    let (err, returned_at) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the cancelled call returns");
    (
        err.expect("a cancelled call fails"),
        returned_at.saturating_duration_since(cancelled_at),
    )
}

#[test]
fn a_call_to_a_silent_server_returns_cancelled_within_100_ms_of_the_cancel() {
    let url = support::silent_after_start();
    let s = Session::with_options(opts(&url)).unwrap();
    // A read waiting for its answer.
    let (err, took) = cancel_during(&s, Duration::from_millis(300), |s| {
        s.query("select username from User")
    });
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(
        took <= Duration::from_millis(100),
        "returned {took:?} after the cancel"
    );
    eprintln!("query cancelled: returned {took:?} after the cancel");

    // A commit waiting for its answer: the batch may have arrived, and it stays pending.
    let user = s
        .create(
            "User",
            serde_json::json!({"username": "x"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
    let (err, took) = cancel_during(&s, Duration::from_millis(300), |s| s.commit());
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(
        matches!(err, ftrack::Error::Cancelled { sent: true }),
        "{err:?}"
    );
    assert!(err.to_string().contains("may have received"), "{err}");
    assert!(
        took <= Duration::from_millis(100),
        "returned {took:?} after the cancel"
    );
    assert_eq!(s.pending_len(), 1, "a cancelled commit keeps its operation");
    assert_eq!(user.get_string("username").unwrap(), "x");
    eprintln!("commit cancelled: returned {took:?} after the cancel");

    // Calls started after a cancel are not affected by it.
    s.cancel();
    let (err, _) = cancel_during(&s, Duration::from_millis(150), |s| {
        s.query("select username from User")
    });
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
}

#[test]
fn a_retry_wait_is_cancelled_too() {
    let sb = support::sandbox();
    let s = Session::with_options(
        support::admin_options(&sb)
            .max_attempts(50)
            .retry_delay(Duration::from_secs(5)),
    )
    .unwrap();
    drop(sb); // the server goes away: the next read fails to connect, then waits to retry
    let (err, took) = cancel_during(&s, Duration::from_millis(300), |s| {
        s.query("select username from User")
    });
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(
        took <= Duration::from_millis(100),
        "returned {took:?} after the cancel"
    );
}

#[test]
fn progress_reports_pages_and_commits_and_can_cancel() {
    let sb = support::synthetic_sandbox(1200);
    let s = Session::with_options(support::admin_options(&sb).page_size(500)).unwrap();
    type Calls = Arc<Mutex<Vec<(String, u64, Option<u64>)>>>;
    let seen: Calls = Arc::default();
    let log = seen.clone();
    s.set_progress(Some(Arc::new(
        move |op: &str, done: u64, total: Option<u64>| {
            log.lock().unwrap().push((op.to_owned(), done, total));
            true
        },
    )));
    let users = s.query("select username from User").unwrap();
    let n = users.len() as u64;
    assert!(n > 1200);
    let pages: Vec<u64> = seen.lock().unwrap().iter().map(|(_, d, _)| *d).collect();
    assert_eq!(pages, vec![500, 1000, n], "rows after each page");

    // A commit: 0 of N before sending, N of N once applied.
    seen.lock().unwrap().clear();
    for u in users.iter().take(3) {
        u.set("first_name", ftrack::Value::from("P")).unwrap();
    }
    s.commit().unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("commit".to_owned(), 0, Some(3)),
            ("commit".to_owned(), 3, Some(3))
        ]
    );

    // Returning false cancels: the query stops after the first page.
    s.set_progress(Some(Arc::new(|_: &str, _: u64, _: Option<u64>| false)));
    let before = sb.request_count();
    let err = s.query("select username from User").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    // Pages are requested ahead: three (max_concurrent_pages 4 - 1) were on
    // the wire when the callback saw the first; nothing is sent after the cancel.
    assert_eq!(
        sb.request_count() - before,
        1 + 3,
        "the first page and the three in flight"
    );
    // And a commit is not sent at all.
    users[0]
        .set("first_name", ftrack::Value::from("Q"))
        .unwrap();
    let before = sb.request_count();
    let err = s.commit().unwrap_err();
    assert!(
        matches!(err, ftrack::Error::Cancelled { sent: false }),
        "{err:?}"
    );
    assert_eq!(sb.request_count(), before, "nothing sent");
    assert_eq!(s.pending_len(), 1);
}

#[test]
fn log_lines_report_requests_and_retries_and_never_the_key() {
    let lines: Arc<Mutex<Vec<(LogLevel, String)>>> = Arc::default();
    let sink = lines.clone();
    let logger = Arc::new(move |level: LogLevel, line: &str| {
        sink.lock().unwrap().push((level, line.to_owned()));
    });
    let sb = support::sandbox();
    // 1. Normal requests, as the admin (its real key is the secret here).
    let s =
        Session::with_options(support::admin_options(&sb).logger(LogLevel::Debug, logger.clone()))
            .unwrap();
    s.query("select username from User").unwrap();
    // 2. A wrong key: authentication failure.
    let _ = Session::with_options(
        support::admin_options(&sb)
            .api_key(SECRET)
            .logger(LogLevel::Debug, logger.clone()),
    );
    // 3. A server that echoes the request (and so the key) back as garbage.
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let echo_url = format!("http://{}", echo.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in echo.incoming().flatten() {
            let mut w = conn.try_clone().unwrap();
            let mut r = BufReader::new(conn);
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                head.extend_from_slice(line.as_bytes());
                if line == "\r\n" {
                    break;
                }
            }
            let mut out = format!(
                "HTTP/1.1 503 Busy\r\ncontent-length: {}\r\n\r\n",
                head.len()
            )
            .into_bytes();
            out.extend_from_slice(&head);
            let _ = w.write_all(&out);
        }
    });
    let _ = Session::with_options(
        opts(&echo_url)
            .max_attempts(3)
            .retry_delay(Duration::from_millis(1))
            .logger(LogLevel::Debug, logger.clone()),
    );
    let lines = lines.lock().unwrap();
    assert!(
        lines
            .iter()
            .any(|(l, t)| *l == LogLevel::Info && t.contains("[query]") && t.contains("HTTP 200")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|(l, t)| *l == LogLevel::Warn && t.contains("retrying") && t.contains("HTTP 503")),
        "{lines:#?}"
    );
    for (_, t) in lines.iter() {
        assert!(!t.contains(SECRET), "{t}");
        assert!(!t.contains(sb.admin_key()), "{t}");
        assert!(!t.to_ascii_lowercase().contains("ftrack-api-key"), "{t}");
    }
    eprintln!("{} log lines checked", lines.len());
}

#[test]
fn log_lines_of_pages_fetched_ahead_come_from_fetcher_threads_before_the_query_returns() {
    let sb = support::synthetic_sandbox(1200);
    type Lines = Arc<Mutex<Vec<(std::thread::ThreadId, String)>>>;
    let lines: Lines = Arc::default();
    let sink = lines.clone();
    let logger = Arc::new(move |_: LogLevel, line: &str| {
        sink.lock()
            .unwrap()
            .push((std::thread::current().id(), line.to_owned()));
    });
    let s = Session::with_options(
        support::admin_options(&sb)
            .page_size(500)
            .logger(LogLevel::Info, logger),
    )
    .unwrap();
    lines.lock().unwrap().clear();
    let before = sb.request_count();
    assert!(s.query("select username from User").unwrap().len() > 1200);
    let requests = (sb.request_count() - before) as usize;
    // Everything is logged before the query returns: one line per request.
    let logged = std::mem::take(&mut *lines.lock().unwrap());
    assert_eq!(logged.len(), requests, "{logged:#?}");
    // The first page is fetched by the calling thread; the pages after it,
    // requested ahead, by fetcher threads, whose lines are logged there.
    let caller = std::thread::current().id();
    let on_caller = logged.iter().filter(|(t, _)| *t == caller).count();
    assert_eq!(on_caller, 1, "{logged:#?}");
    // Nothing more is sent or logged once the query has returned.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(lines.lock().unwrap().len(), 0);
    assert_eq!(sb.request_count() - before, requests as u64);
}
