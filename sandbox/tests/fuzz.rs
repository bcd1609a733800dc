//! Random-input testing on the stable toolchain (seeded loops, no nightly
//! fuzzer): the query parser and evaluator, the HTTP reader, and the live
//! server over TCP. Random and mutated inputs never panic and always end
//! in a result or an error of a documented kind.
//!
//! `FTRACK_FUZZ_ITERATIONS` (default 100000) sets the iterations of each
//! in-process target (the over-TCP target runs a fiftieth of them);
//! `FTRACK_FUZZ_SEED` picks the seed (default fixed, so CI runs are
//! reproducible). A failure prints the seed, iteration and input.

mod common;
use common::*;
use ftrack_sandbox::error::ErrorKind;
use ftrack_sandbox::http::{Conn, ReadError};
use ftrack_sandbox::query::{load, parse};
use ftrack_sandbox::schema::Schema;
use ftrack_sandbox::{Limits, Sandbox, SandboxConfig, SeedData, store};
use serde_json::Value;
use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

fn iterations() -> usize {
    std::env::var("FTRACK_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn seed() -> u64 {
    std::env::var("FTRACK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_f7ac)
}

const QUERIES: &[&str] = &[
    "User",
    "select username, first_name from User where username is pm",
    "select user_security_roles.security_role.name from User where is_active is true order by username desc limit 3 offset 1",
    "Project where name like \"a%\" or (is_private is false and not name in (beta, \"gamma\"))",
    "User where user_security_roles any (security_role.name is \"Project Manager\") and id in (select user_id from UserSecurityRole)",
    "UserSecurityRole where user has (username is_not None) order by user.username",
    "select memberships.group.name from User where memberships any ()",
    "Project where created_at > \"2015-06-01T00:00:00+02:00\" and created_at <= 2100-01-01",
    "select project.name from UserSecurityRoleProject where project_id != 'x' limit 0",
    "Group where children any (name not_like '%x%') or parent.name = 'g'",
];

const WORDS: &[&str] = &[
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "not_in",
    "has",
    "any",
    "is",
    "is_not",
    "like",
    "not_like",
    "order",
    "by",
    "asc",
    "desc",
    "limit",
    "offset",
    "User",
    "Project",
    "UserSecurityRole",
    "Group",
    "Membership",
    "Nope",
    "username",
    "id",
    "name",
    "user",
    "user_security_roles",
    "security_role",
    "memberships",
    "group",
    "project",
    "created_at",
    "is_private",
    "None",
    "true",
    "False",
    "(",
    ")",
    ",",
    "=",
    "!=",
    ">",
    "<",
    ">=",
    "<=",
    "\"",
    "'",
    "\\",
    ".",
    "..",
    "a.b.c",
    "0",
    "-1",
    "1e400",
    "18446744073709551616",
    "2015-06-0é",
    "é",
    "\u{0}",
    "𝔘",
    "select",
    "(select id from User)",
];

fn token_soup(rng: &mut fastrand::Rng) -> String {
    let n = rng.usize(0..24);
    (0..n)
        .map(|_| *rng.choice(WORDS).unwrap_or(&"x"))
        .collect::<Vec<_>>()
        .join(if rng.bool() { " " } else { "" })
}

fn mutate(rng: &mut fastrand::Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    // Mostly one mutation, so many inputs stay close to valid and reach
    // the evaluator; sometimes a burst.
    let count = if rng.u8(0..4) == 0 {
        rng.usize(2..8)
    } else {
        1
    };
    for _ in 0..count {
        let at = rng.usize(0..=v.len());
        match rng.u8(0..6) {
            0 if !v.is_empty() => {
                let end = (at + rng.usize(1..8)).min(v.len());
                v.drain(at.min(v.len())..end);
            }
            1 => v.insert(at, rng.u8(..)),
            2 if at < v.len() => v[at] = rng.u8(..),
            3 => {
                let w = rng.choice(WORDS).unwrap_or(&"x").as_bytes();
                v.splice(at..at, w.iter().copied());
            }
            4 if !v.is_empty() => {
                // Repeat a slice: long paths, deep nesting, big numbers.
                let start = rng.usize(0..v.len());
                let end = (start + rng.usize(1..16)).min(v.len());
                let piece = v[start..end].repeat(rng.usize(1..64));
                v.splice(at..at, piece);
            }
            _ => v.truncate(at),
        }
    }
    v
}

/// The kinds a client's query may fail with; a Server error (a database
/// failure) or a panic would be a sandbox bug.
fn acceptable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Parse | ErrorKind::Validation | ErrorKind::NotFound
    )
}

#[test]
fn query_parser_and_evaluator_never_panic() {
    let schema = Schema::new();
    let mut conn = store::open(None, &schema).expect("database");
    SeedData::demo().load(&mut conn).expect("seed");
    let (seed, n) = (seed(), iterations());
    let mut rng = fastrand::Rng::with_seed(seed);
    let started = Instant::now();
    let (mut parsed, mut evaluated) = (0, 0);
    for i in 0..n {
        let input = if rng.u8(0..4) == 0 {
            token_soup(&mut rng)
        } else {
            let base = rng.choice(QUERIES).unwrap_or(&"User");
            String::from_utf8_lossy(&mutate(&mut rng, base.as_bytes())).into_owned()
        };
        let fail = |what: &str| panic!("seed {seed} iteration {i}: {what} on {input:?}");
        match catch_unwind(|| parse(&input)) {
            Err(_) => fail("parse panicked"),
            Ok(Ok(_)) => parsed += 1,
            Ok(Err(e)) if e.kind == ErrorKind::Parse => {}
            Ok(Err(e)) => fail(&format!("parse failed with {:?}: {}", e.kind, e.message)),
        }
        // Every fourth input also runs against the demo studio, once
        // unrestricted and once as a user who sees one project.
        if i % 4 == 0 {
            let visible = vec![ftrack_sandbox::seed::stable_id("project", "beta")];
            for scope in [None, Some(visible.as_slice())] {
                let denormalize = rng.bool();
                let run = catch_unwind(AssertUnwindSafe(|| {
                    load::run(&conn, &schema, scope, &input, denormalize, 0)
                }));
                match run {
                    Err(_) => fail("evaluation panicked"),
                    Ok(Ok(bytes)) => {
                        let v: Value = serde_json::from_slice(&bytes)
                            .unwrap_or_else(|e| panic!("seed {seed} iteration {i}: bad JSON {e}"));
                        assert!(v["data"].is_array(), "{input:?}");
                        evaluated += 1;
                    }
                    Ok(Err(e)) if acceptable(e.kind) => {}
                    Ok(Err(e)) => fail(&format!(
                        "evaluation failed with {:?}: {}",
                        e.kind, e.message
                    )),
                }
            }
        }
    }
    eprintln!(
        "query fuzz: {n} inputs ({parsed} parsed, {evaluated} evaluations answered) in {:.1} s, seed {seed}",
        started.elapsed().as_secs_f64()
    );
    assert!(
        parsed > n / 50,
        "the mutations should keep some inputs valid"
    );
}

/// A stream that hands out its bytes in random small pieces, sometimes
/// "timing out" in between, and then ends.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    rng: fastrand::Rng,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rng.u8(0..8) == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self
            .rng
            .usize(1..=64)
            .min(buf.len())
            .min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn http_request(rng: &mut fastrand::Rng, body: &[u8]) -> Vec<u8> {
    let mut head = b"POST /api HTTP/1.1\r\nHost: x\r\nftrack-user: admin\r\n".to_vec();
    if rng.bool() {
        head.extend_from_slice(b"Expect: 100-continue\r\n");
    }
    if rng.bool() {
        head.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        head.extend_from_slice(body);
    } else {
        head.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        let mut rest = body;
        while !rest.is_empty() {
            let n = rng.usize(1..=rest.len());
            head.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            head.extend_from_slice(&rest[..n]);
            head.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        head.extend_from_slice(b"0\r\n\r\n");
    }
    head
}

#[test]
fn http_reader_never_panics_and_reads_valid_requests_exactly() {
    let (seed, n) = (seed(), iterations());
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x4854_5450);
    let started = Instant::now();
    let (mut exact, mut refused) = (0, 0);
    let never = || false;
    for i in 0..n {
        let bodies: Vec<Vec<u8>> = (0..rng.usize(1..4))
            .map(|_| {
                (0..rng.usize(0..300))
                    .map(|_| rng.u8(..))
                    .collect::<Vec<u8>>()
            })
            .collect();
        let mut wire = Vec::new();
        for b in &bodies {
            wire.extend(http_request(&mut rng, b));
        }
        let mutated = rng.u8(0..3) != 0;
        if mutated {
            wire = mutate(&mut rng, &wire);
        }
        let limit = rng.usize(0..400);
        let stream = Trickle {
            data: wire.clone(),
            at: 0,
            rng: fastrand::Rng::with_seed(rng.u64(..)),
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut conn = Conn::new(stream, &never);
            let mut got = Vec::new();
            loop {
                let head = match conn.read_head() {
                    Ok(Some(h)) => h,
                    Ok(None) => return (got, None),
                    Err(e) => return (got, Some(e)),
                };
                match conn.read_body(&head, limit) {
                    Ok(body) => got.push(body),
                    Err(e) => return (got, Some(e)),
                }
            }
        }));
        let Ok((got, error)) = outcome else {
            panic!("seed {seed} iteration {i}: the reader panicked on {wire:?}");
        };
        if let Some(e) = &error {
            assert!(
                matches!(e.status(), 400 | 408 | 413 | 431) && !e.to_string().is_empty(),
                "seed {seed} iteration {i}: {e:?}"
            );
            refused += 1;
        }
        if !mutated {
            // Unmutated: every body within the limit comes back exactly, in
            // order, and the first one over the limit is refused as 413.
            let within = bodies.iter().take_while(|b| b.len() <= limit).count();
            assert_eq!(got, bodies[..within], "seed {seed} iteration {i}");
            match &error {
                None => assert_eq!(within, bodies.len()),
                Some(ReadError::TooLarge { .. }) => assert!(within < bodies.len()),
                Some(e) => panic!("seed {seed} iteration {i}: valid input refused: {e}"),
            }
            exact += 1;
        }
    }
    eprintln!(
        "HTTP reader fuzz: {n} connections ({exact} checked byte for byte, {refused} refused) in {:.1} s, seed {seed}",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn live_server_survives_mutated_requests() {
    let sb = Sandbox::start(SandboxConfig {
        record_requests: false,
        limits: Limits {
            header_timeout: Duration::from_millis(200),
            body_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_millis(200),
            ..Limits::default()
        },
        ..SandboxConfig::demo()
    })
    .expect("sandbox");
    let (seed, n) = (seed(), (iterations() / 50).max(1));
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x6c69_7665);
    let addr = sb.url().trim_start_matches("http://").to_string();
    let started = Instant::now();
    let mut answered = 0;
    for i in 0..n {
        let query = rng.choice(QUERIES).unwrap_or(&"User");
        let body = serde_json::json!([{"action": "query", "expression": query}]).to_string();
        let mut wire = format!(
            "POST /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\nftrack-user: admin\r\nftrack-api-key: demo-key-admin\r\nftrack-api-options: strict:1{}\r\nContent-Length: {}\r\n\r\n{body}",
            if rng.bool() { ";denormalize:1" } else { "" },
            body.len()
        )
        .into_bytes();
        if i % 8 != 0 {
            wire = mutate(&mut rng, &wire);
        }
        let mut s = connect(&addr);
        let _ = s.write_all(&wire);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut reply = Vec::new();
        let _ = s.read_to_end(&mut reply);
        if reply.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(&reply);
        assert!(
            text.starts_with("HTTP/1.1 "),
            "seed {seed} iteration {i}: {text}"
        );
        let head_end = text.find("\r\n\r\n").map_or(text.len(), |p| p + 4);
        let status: u16 = text[9..12].parse().unwrap_or(0);
        let length = text[..head_end]
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
            })
            .unwrap_or(0);
        let json: Value = serde_json::from_slice(&reply[head_end..head_end + length])
            .unwrap_or_else(|e| panic!("seed {seed} iteration {i}: {e} in {text}"));
        if status == 200 {
            assert!(json.is_array() || json["exception"].is_string(), "{text}");
        } else {
            assert!(
                (400..600).contains(&status) && status != 500,
                "seed {seed} iteration {i}: status {status}: {text}"
            );
            assert!(
                json["exception"].is_string() && json["content"].is_string(),
                "{text}"
            );
        }
        answered += 1;
    }
    let r = call(
        &sb,
        serde_json::json!([{"action": "query", "expression": "select username from User where username is pm"}]),
    );
    assert_eq!(r[0]["data"][0]["username"], "pm", "still serving: {r}");
    eprintln!(
        "live server fuzz: {n} requests ({answered} answered) in {:.1} s, seed {seed}",
        started.elapsed().as_secs_f64()
    );
}
