//! Defects found by the fuzzers (`tests/decode_fuzz.rs`, `ffi/tests/c_fuzz.rs`) and
//! the chaos test (`tests/chaos.rs`),
//! kept as plain tests.

mod support;

use ftrack::roles::Roles;
use ftrack::{ErrorKind, Value};
use support::{admin, sandbox};

/// The C-ABI fuzzer (seed 8) set a security role's `name` to null locally, then
/// removed that role from a user who does not hold it: the refusal
/// (ROLE_NOT_ASSIGNED) came out as TYPE_MISMATCH, because building its message
/// read the name as a string and `?` replaced the refusal with that error.
#[test]
fn a_role_refusal_survives_a_role_whose_name_is_not_a_string() {
    let sb = sandbox();
    let s = admin(&sb);
    let user = s
        .create(
            "User",
            serde_json::json!({"username": "fuzz-no-role", "is_active": true})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
    s.commit().unwrap();
    let roles = Roles::new(&s);
    let role = roles.find_role("Project Manager").unwrap();
    role.set("name", Value::Null).unwrap();
    let e = roles.remove(&user, &role).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RoleNotAssigned, "{e}");
    // The message names the role by its id instead.
    assert!(e.to_string().contains(&role.id()), "{e}");
    s.rollback();
}

/// Found by the chaos test (a proxy that holds a request 1.5 s, client timeout
/// 1 s): the commit succeeded. Waiting for the reply in 20 ms slices (to notice
/// a cancel) ended with a last wait of the WHOLE budget instead of what was
/// left of it, so a silent server held a call for nearly twice the timeout.
#[test]
fn the_timeout_bounds_the_wait_for_a_silent_server() {
    use std::io::{BufRead, BufReader, Write};
    use std::time::{Duration, Instant};
    let sb = sandbox();
    let upstream = sb.url().trim_start_matches("http://").to_owned();
    // Forwards every request, but holds the ones after start-up for 1.5 s.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut served = 0;
        for conn in l.incoming().flatten() {
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut w = conn;
            loop {
                let mut req = Vec::new();
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    req.extend_from_slice(line.as_bytes());
                    if line == "\r\n" {
                        break;
                    }
                }
                if req.is_empty() {
                    break;
                }
                let mut body = vec![0; len];
                std::io::Read::read_exact(&mut r, &mut body).unwrap();
                req.extend_from_slice(&body);
                served += 1;
                if served > 1 {
                    std::thread::sleep(Duration::from_millis(1500));
                }
                let mut up = std::net::TcpStream::connect(&upstream).unwrap();
                up.write_all(&req).unwrap();
                let mut ur = BufReader::new(up);
                let mut reply = Vec::new();
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    ur.read_line(&mut line).unwrap();
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    reply.extend_from_slice(line.as_bytes());
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                std::io::Read::read_exact(&mut ur, &mut body).unwrap();
                reply.extend_from_slice(&body);
                if w.write_all(&reply).is_err() {
                    break;
                }
            }
        }
    });
    let s = ftrack::Session::with_options(
        support::admin_options(&sb)
            .server_url(&url)
            .timeout(Duration::from_millis(1000))
            .max_attempts(1),
    )
    .unwrap();
    let started = Instant::now();
    let e = s.query("select name from Group").unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        took < Duration::from_millis(1400),
        "a 1 s timeout took {took:?} to fire"
    );
}
