//! Hostile connections: sizes, deadlines and the worker pool. Each limit
//! answers with an ftrack error body naming it (or, for an idle connection,
//! a close), and the server goes on serving other connections.

mod common;
use common::*;
use ftrack_sandbox::{Limits, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn with_limits(limits: Limits) -> Sandbox {
    Sandbox::start(SandboxConfig {
        limits,
        ..SandboxConfig::demo()
    })
    .expect("start sandbox")
}

fn addr(sb: &Sandbox) -> String {
    sb.url().trim_start_matches("http://").to_string()
}

/// Reads one response to the end of the connection: status and JSON body.
fn response(s: &mut TcpStream) -> (u16, Value) {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let head_end = text.find("\r\n\r\n").expect("a response head") + 4;
    let status = text[9..12].parse().expect("status");
    (
        status,
        serde_json::from_str(&text[head_end..]).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

fn head(user: &str, key: &str, extra: &str) -> String {
    format!(
        "POST /api HTTP/1.1\r\nHost: x\r\nftrack-user: {user}\r\nftrack-api-key: {key}\r\n{extra}\r\n"
    )
}

fn still_serving(sb: &Sandbox) {
    let r = call(
        sb,
        json!([{"action": "query", "expression": "select username from User where username is pm"}]),
    );
    assert_eq!(r[0]["data"][0]["username"], "pm", "{r}");
}

/// A chunk size near `usize::MAX` used to wrap the running total past the
/// size check and then wait for 16 EiB. Both a wrapping and a too-long size
/// are refused at once: 413 naming the limit for an authenticated client,
/// the credentials error for anyone else.
#[test]
fn chunk_sizes_that_would_wrap_are_refused() {
    let sb = demo();
    for size in [
        "ffffffffffffffff",
        "fffffffffffffffffffffffffffff",
        "4000001",
    ] {
        let mut s = connect(&addr(&sb));
        let req = format!(
            "{}2\r\n[]\r\n{size}\r\nxx",
            head("admin", "demo-key-admin", "Transfer-Encoding: chunked\r\n")
        );
        s.write_all(req.as_bytes()).unwrap();
        let (status, body) = response(&mut s);
        assert_eq!(status, 413, "{size}: {body}");
        assert_eq!(body["exception"], "ParseError");
        let content = body["content"].as_str().unwrap();
        assert!(
            content.contains("request body is larger than the limit of 67108864 bytes"),
            "{content}"
        );

        let mut s = connect(&addr(&sb));
        let req = format!(
            "{}{size}\r\nxx",
            head(
                "admin",
                "wrong-key",
                "Transfer-Encoding: chunked\r\nftrack-strict-api: true\r\n"
            )
        );
        s.write_all(req.as_bytes()).unwrap();
        let (status, body) = response(&mut s);
        assert_eq!(status, 401, "{size}: {body}");
        assert_eq!(body["exception"], "InvalidCredentialsError");
    }
    still_serving(&sb);
}

/// Credentials come in the headers, so they are checked before a large
/// body is read: an unauthenticated client gets at most 64 KiB read, and
/// its answer (the credentials error) without the server waiting for the
/// rest. An authenticated client may send up to `max_body`.
#[test]
fn large_bodies_are_read_only_for_valid_credentials() {
    let sb = with_limits(Limits {
        max_body: 1024 * 1024,
        ..Limits::default()
    });
    for (user, key) in [("admin", "wrong-key"), ("nobody", "x"), ("", "")] {
        let mut s = connect(&addr(&sb));
        // Declares 1 MiB, sends 10 bytes: the answer must not wait for the rest.
        let req = format!(
            "{}0123456789",
            head(
                user,
                key,
                "Content-Length: 1048576\r\nftrack-strict-api: true\r\n"
            )
        );
        s.write_all(req.as_bytes()).unwrap();
        let (status, body) = response(&mut s);
        assert_eq!(status, 401, "{user}: {body}");
        assert_eq!(body["exception"], "InvalidCredentialsError", "{body}");
    }
    // An authenticated 200 KiB batch (over the unauthenticated limit) runs.
    let name = "x".repeat(200 * 1024);
    let batch = json!([{"action": "query", "expression": format!("select username from User where username is \"{name}\" or username is pm")}]);
    let (status, r) = post_with(&sb.url(), "admin", "demo-key-admin", &[], &batch);
    assert_eq!(status, 200);
    assert_eq!(r[0]["data"][0]["username"], "pm", "{r}");
    // Past max_body even valid credentials get 413, before the body is read.
    let mut s = connect(&addr(&sb));
    let req = head(
        "admin",
        "demo-key-admin",
        "Content-Length: 1048577\r\nExpect: 100-continue\r\n",
    );
    s.write_all(req.as_bytes()).unwrap();
    let (status, body) = response(&mut s);
    assert_eq!(status, 413, "{body}");
    assert!(
        body["content"]
            .as_str()
            .unwrap()
            .contains("request body of 1048577 bytes is larger than the limit of 1048576 bytes"),
        "{body}"
    );
    still_serving(&sb);
}

/// A head larger than the limit is refused with 431; a connection that
/// sends half a head, or half a body, and then nothing is answered 408 when
/// its deadline passes instead of holding a worker forever.
#[test]
fn heads_and_deadlines() {
    let sb = with_limits(Limits {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    });
    let mut s = connect(&addr(&sb));
    let big = head(
        "admin",
        "demo-key-admin",
        &format!("x-padding: {}\r\n", "p".repeat(70 * 1024)),
    );
    let _ = s.write_all(big.as_bytes());
    let (status, body) = response(&mut s);
    assert_eq!(status, 431, "{body}");
    assert!(
        body["content"].as_str().unwrap().contains("65536"),
        "{body}"
    );

    let mut s = connect(&addr(&sb));
    s.write_all(b"POST /api HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (status, body) = response(&mut s);
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["exception"], "ParseError");
    assert!(
        body["content"]
            .as_str()
            .unwrap()
            .contains("request head did not arrive within 300 ms"),
        "{body}"
    );

    let mut s = connect(&addr(&sb));
    let req = format!(
        "{}[{{\"acti",
        head("admin", "demo-key-admin", "Content-Length: 100\r\n")
    );
    s.write_all(req.as_bytes()).unwrap();
    let (status, body) = response(&mut s);
    assert_eq!(status, 408, "{body}");
    assert!(
        body["content"]
            .as_str()
            .unwrap()
            .contains("request body did not arrive within 300 ms"),
        "{body}"
    );
    still_serving(&sb);
}

/// A connection with no request under way, fresh or kept alive after an
/// answer, is closed once the idle deadline passes.
#[test]
fn idle_connections_are_closed() {
    let sb = with_limits(Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    });
    let mut fresh = connect(&addr(&sb));
    let mut rest = Vec::new();
    assert_eq!(
        fresh.read_to_end(&mut rest).expect("closed, not timed out"),
        0
    );

    let mut kept = connect(&addr(&sb));
    let body = "[]";
    let req = format!(
        "{}{body}",
        head(
            "admin",
            "demo-key-admin",
            &format!("Content-Length: {}\r\n", body.len())
        )
    );
    kept.write_all(req.as_bytes()).unwrap();
    let mut all = Vec::new();
    kept.read_to_end(&mut all).expect("closed, not timed out");
    let text = String::from_utf8_lossy(&all);
    assert!(
        text.starts_with("HTTP/1.1 200 OK")
            && text.contains("Connection: keep-alive")
            && text.ends_with("[]"),
        "{text}"
    );
    still_serving(&sb);
}

/// With every worker busy and the queue full, a further connection is
/// answered 503 with a ServerError naming the limits; queued connections
/// are served once a worker frees up.
#[test]
fn a_full_pool_refuses_with_503_and_queued_connections_are_served() {
    let sb = with_limits(Limits {
        workers: 1,
        queue: 1,
        ..Limits::default()
    });
    // The only worker serves `first`, kept alive and idle.
    let mut first = connect(&addr(&sb));
    let body = "[]";
    let keep = format!(
        "{}{body}",
        head(
            "admin",
            "demo-key-admin",
            &format!("Content-Length: {}\r\n", body.len())
        )
    );
    first.write_all(keep.as_bytes()).unwrap();
    let mut answer = [0u8; 15];
    first.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200 OK");
    // `queued` waits for the worker; `refused` finds the queue full.
    let mut queued = connect(&addr(&sb));
    let close = format!(
        "{}{body}",
        head(
            "admin",
            "demo-key-admin",
            &format!("Content-Length: {}\r\nConnection: close\r\n", body.len())
        )
    );
    queued.write_all(close.as_bytes()).unwrap();
    let mut refused = connect(&addr(&sb));
    let (status, reply) = response(&mut refused);
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["exception"], "ServerError");
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .contains("busy: 1 connections are being served and 1 are waiting"),
        "{reply}"
    );
    drop(first);
    let (status, reply) = response(&mut queued);
    assert_eq!(status, 200);
    assert_eq!(reply, json!([]));
    still_serving(&sb);
}

/// Slow clients that never finish their head hold a worker only until the
/// head deadline: each gets its 408, and a normal client queued behind them
/// is served.
#[test]
fn slow_clients_are_cut_off_by_the_head_deadline() {
    let sb = with_limits(Limits {
        workers: 4,
        queue: 32,
        header_timeout: Duration::from_millis(300),
        ..Limits::default()
    });
    let slow: Vec<TcpStream> = (0..12)
        .map(|_| {
            let mut s = connect(&addr(&sb));
            s.write_all(b"POST /api HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    still_serving(&sb);
    for mut s in slow {
        let (status, body) = response(&mut s);
        assert_eq!(status, 408, "{body}");
    }
    still_serving(&sb);
}

/// A client that sends requests but never reads the answers blocks the
/// server's writes; past the write deadline its connection is closed and
/// the worker serves the next connection.
#[test]
fn a_client_that_stops_reading_is_cut_off() {
    let sb = Sandbox::start(SandboxConfig {
        seed: ftrack_sandbox::Seed::Data(ftrack_sandbox::SeedData::synthetic(2000)),
        record_requests: false,
        limits: Limits {
            workers: 1,
            queue: 4,
            write_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        ..SandboxConfig::demo()
    })
    .expect("start sandbox");
    // About 300 KB per answer, 100 answers: far more than socket buffers hold.
    let body = json!([{"action": "query", "expression": "select username, first_name, last_name, email from User"}]).to_string();
    let one = format!(
        "{}{body}",
        head(
            "admin",
            "demo-key-admin",
            &format!("Content-Length: {}\r\n", body.len())
        )
    );
    let mut stalled = connect(&addr(&sb));
    stalled.write_all(one.repeat(100).as_bytes()).unwrap();
    // Served by the single worker once the stalled connection is given up.
    still_serving(&sb);
    drop(stalled);
}

/// A `max_body` below the unauthenticated limit still holds for everyone.
#[test]
fn max_body_holds_below_the_unauthenticated_limit() {
    let sb = with_limits(Limits {
        max_body: 1000,
        ..Limits::default()
    });
    let name = "x".repeat(2000);
    let body =
        json!([{"action": "query", "expression": format!("User where username is \"{name}\"")}])
            .to_string();
    let mut s = connect(&addr(&sb));
    let req = format!(
        "{}{body}",
        head(
            "admin",
            "demo-key-admin",
            &format!("Content-Length: {}\r\n", body.len())
        )
    );
    s.write_all(req.as_bytes()).unwrap();
    let (status, reply) = response(&mut s);
    assert_eq!(status, 413, "{reply}");
    assert!(
        reply["content"]
            .as_str()
            .unwrap()
            .contains("larger than the limit of 1000 bytes"),
        "{reply}"
    );
    still_serving(&sb);
}

/// Large bodies share a memory budget: while one holds most of it, another
/// is answered 503 naming the limit, and it fits again once the first is done.
#[test]
fn large_bodies_share_a_budget() {
    let sb = with_limits(Limits {
        max_body: 1024 * 1024,
        max_bodies_in_flight: 1536 * 1024,
        ..Limits::default()
    });
    // A JSON batch padded with spaces to exactly 1 MiB.
    let mut body = "[]".to_string();
    body.push_str(&" ".repeat(1024 * 1024 - body.len()));
    let large = |extra: &str| {
        head(
            "admin",
            "demo-key-admin",
            &format!(
                "Content-Length: {}\r\nConnection: close\r\n{extra}",
                body.len()
            ),
        )
    };
    // The first announces its body and gets `100 Continue`: it holds 1 MiB.
    let mut first = connect(&addr(&sb));
    first
        .write_all(large("Expect: 100-continue\r\n").as_bytes())
        .unwrap();
    let mut interim = [0u8; 25];
    first.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    let mut second = connect(&addr(&sb));
    second.write_all(large("").as_bytes()).unwrap();
    let (status, reply) = response(&mut second);
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["exception"], "ServerError");
    assert!(
        reply["content"].as_str().unwrap().contains(
            "large request bodies already take 1048576 of the 1572864 bytes allowed at once"
        ),
        "{reply}"
    );
    first.write_all(body.as_bytes()).unwrap();
    assert_eq!(response(&mut first), (200, json!([])));
    let mut again = connect(&addr(&sb));
    again
        .write_all(format!("{}{body}", large("")).as_bytes())
        .unwrap();
    assert_eq!(response(&mut again), (200, json!([])));
    still_serving(&sb);
}
