//! Random-input testing of the client's response decoder on the stable toolchain
//! (issue 11, "Fuzzing on the stable toolchain").
//!
//! The decoder (`src/decode.rs`) is reached the way users reach it: through
//! [`Session::merge_query_response`] (saved or hand-made replies), and through the
//! replies to queries and commits over HTTP (a fake server that answers with
//! mutated bodies). Every input must give `Ok` or a typed [`ftrack::Error`] of a
//! kind a reply can produce, never a panic; entities it yields must be readable
//! without panicking either.
//!
//! Inputs: real replies captured from the sandbox (queries over every entity type,
//! with references, collections, dates, error objects) used as mutation seeds
//! (bit flips, interesting bytes, deletions, duplications, splices between seeds,
//! truncation, token-level replacements), plus replies generated from a small
//! grammar of the protocol (entities of known and unknown types, odd primary keys,
//! date wrappers, deep nesting, huge numbers).
//!
//! Size and randomness (defaults keep the debug run to a few seconds):
//! - `FTRACK_FUZZ_DECODE_ITERATIONS` (default 30000): inputs given to
//!   `merge_query_response`;
//! - `FTRACK_FUZZ_HTTP_ITERATIONS` (default 2000): mutated replies served to
//!   queries and commits;
//! - `FTRACK_FUZZ_SEED`: the random sequence (printed, so a failure can be replayed).
//!
//! Longer runs, e.g. ten million inputs in release mode:
//! `FTRACK_FUZZ_DECODE_ITERATIONS=10000000 cargo test --release -p ftrack --test decode_fuzz -- --nocapture`.
//! A failing input is printed (as a Rust byte string) and written to
//! `$CARGO_TARGET_TMPDIR/decode-fuzz-failure.bin`; add it to `REPRODUCERS` below.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ftrack::{ErrorKind, Session, SessionOptions};
use support::{admin_options, sandbox};

/// Inputs that once broke the decoder (or came close); always run first.
const REPRODUCERS: &[&[u8]] = &[
    br#"[{"data":[{"__entity_type__":"User","id":"x","created_at":{"__type__":"datetime","value":"9999999-99-99T99:99:99"}}]}]"#,
    br#"[{"data":[{"__entity_type__":"User","id":9223372036854775807}]}]"#,
    br#"[{"data":[{"__entity_type__":"User","id":18446744073709551615}]}]"#,
    br#"[{"data":[{"__entity_type__":"","id":""}]}]"#,
    br#"[{"data":[{"__entity_type__":"Nope","id":"1","x":[{"__entity_type__":"Nope","id":"1"}]}]}]"#,
    br#"[{"data":[{"__entity_type__":"User"}]}]"#,
    br#"[{"data":[{"__entity_type__":"User","id":null}]}]"#,
    br#"[{"data":[{"__entity_type__":"User","id":"a","__entity_type__":"Project"}]}]"#,
    br#"[{"data":[{"__entity_type__":"User","id":"a","user_security_roles":[1,{"__entity_type__":"User","id":"a"}]}]}]"#,
    br#"[{"data":[],"metadata":{"next":{"offset":-1}}}]"#,
    br#"[{"data":[{"__entity_type__":"User","id":"\ud800"}]}]"#,
    br#"{"exception":{"a":1},"content":["x"],"error_code":7}"#,
    br#"[]"#,
    br#""#,
];

/// xorshift64*: deterministic for a given seed.
struct Rng(u64);
impl Rng {
    /// A generator whose sequence differs for every seed.
    fn seeded(seed: u64) -> Rng {
        Rng(seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x632B_E59B_D9B4_E019)
            | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// POSTs `body` to the sandbox and returns the exact reply bytes.
fn raw_post(url: &str, user: &str, key: &str, body: &str) -> Vec<u8> {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /api HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         ftrack-user: {user}\r\nftrack-api-key: {key}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut out = vec![0; len];
    r.read_exact(&mut out).unwrap();
    out
}

/// Real replies of the sandbox: the mutation seeds.
fn capture_seeds(sb: &ftrack_sandbox::Sandbox) -> Vec<Vec<u8>> {
    let (user, key) = (sb.admin_user().to_owned(), sb.admin_key().to_owned());
    let q = |expr: &str| format!(r#"[{{"action":"query","expression":{}}}]"#, json_str(expr));
    let mut bodies = vec![
        q("select username, first_name, is_active, user_type, user_security_roles from User"),
        q("select id, name, full_name, is_private, created_at from Project"),
        q("select name, type from SecurityRole"),
        q(
            "select user, security_role, is_all_projects, user_security_role_projects from UserSecurityRole",
        ),
        q("select user_security_role, project from UserSecurityRoleProject"),
        q("select name, local, children, parent, memberships from Group"),
        q("select user, group from Membership"),
        q("User offset 1 limit 2"),
        q("select name from Location"),
        // Error objects.
        q("select nope from User"),
        q("select from where"),
        q("NoSuchType"),
        r#"[{"action":"no_such_action"}]"#.to_owned(),
        r#"{"not":"a list"}"#.to_owned(),
        r#"[{"action":"query_server_information"}]"#.to_owned(),
    ];
    // Replies with two answers (a query after another answer).
    bodies.push(format!(
        r#"[{{"action":"query","expression":"select name from Project"}},{}]"#,
        &q("select username from User")[1..q("select username from User").len() - 1]
    ));
    let mut seeds: Vec<Vec<u8>> = bodies
        .iter()
        .map(|b| raw_post(&sb.url(), &user, &key, b))
        .collect();
    // A denormalized reply (`ftrack-api-options: denormalize:1` is what the
    // official clients ask for) is a different shape; capture it via call().
    let s = Session::with_options(admin_options(sb)).unwrap();
    let v = s
        .call(&serde_json::json!([{"action": "query",
            "expression": "select user, security_role, user_security_role_projects.project from UserSecurityRole"}]))
        .unwrap();
    seeds.push(serde_json::to_vec_pretty(&v).unwrap());
    assert!(seeds.iter().all(|s| !s.is_empty()));
    seeds
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\xff",
    b"\x00",
    b"null",
    b"true",
    b"-0",
    b"1e999",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"0.0000000000000000000000001",
    b"\"__entity_type__\"",
    b"\"__type__\"",
    b"\"datetime\"",
    b"\"date\"",
    b"\"value\"",
    b"\"id\"",
    b"\"data\"",
    b"\"metadata\"",
    b"\"next\"",
    b"\"offset\"",
    b"\"User\"",
    b"\"Project\"",
    b"\"UserSecurityRoleProject\"",
    b"{\"__entity_type__\":\"User\",\"id\":\"u\"}",
    b"{\"__type__\":\"datetime\",\"value\":\"2024-02-30T25:61:61.9999999Z\"}",
    b"{\"__type__\":\"date\",\"value\":null}",
    b"\"2024-01-01T00:00:00+99:99\"",
];

/// One random mutation of `input` (seeds give material for splices).
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    let len = input.len();
    match rng.below(9) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = rng.next() as u8;
        }
        2 => {
            let i = rng.below(len + 1);
            let what = rng.pick(INTERESTING);
            input.splice(i..i, what.iter().copied());
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            input.drain(i..i + n);
        }
        4 if len > 0 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(256));
            let copy = input[i..i + n].to_vec();
            let at = rng.below(len + 1);
            input.splice(at..at, copy);
        }
        5 => {
            let other = rng.pick(seeds);
            if !other.is_empty() {
                let i = rng.below(other.len());
                let n = 1 + rng.below((other.len() - i).min(512));
                let at = rng.below(len + 1);
                let end = (at + rng.below(64)).min(len);
                input.splice(at..end, other[i..i + n].iter().copied());
            }
        }
        6 => input.truncate(rng.below(len + 1)),
        7 if len > 0 => {
            // Replace a JSON scalar token (a string or a number) by an interesting one.
            let i = rng.below(len);
            let (start, end) = token_at(input, i);
            let what = rng.pick(INTERESTING);
            input.splice(start..end, what.iter().copied());
        }
        _ => {
            // Deep nesting at a random place.
            let depth = 1 + rng.below(300);
            let at = rng.below(len + 1);
            let mut nest = Vec::new();
            for _ in 0..depth {
                nest.extend_from_slice(if rng.chance(50) { b"[" } else { b"{\"a\":" });
            }
            input.splice(at..at, nest);
        }
    }
}

/// The bounds of the string or number token around `i` (or just `i..i+1`).
fn token_at(b: &[u8], i: usize) -> (usize, usize) {
    if b[i] == b'"' || b[i].is_ascii_alphanumeric() {
        let mut s = i;
        while s > 0 && b[s - 1] != b'"' && !b":,[]{}".contains(&b[s - 1]) {
            s -= 1;
        }
        let mut e = i + 1;
        while e < b.len() && b[e] != b'"' && !b":,[]{}".contains(&b[e]) {
            e += 1;
        }
        let s = if s > 0 && b[s - 1] == b'"' { s - 1 } else { s };
        let e = if e < b.len() && b[e] == b'"' {
            e + 1
        } else {
            e
        };
        (s, e.max(s + 1).min(b.len()))
    } else {
        (i, i + 1)
    }
}

const TYPES: &[&str] = &[
    "User",
    "Project",
    "SecurityRole",
    "UserSecurityRole",
    "UserSecurityRoleProject",
    "Group",
    "Membership",
    "Location",
    "Unknown",
    "",
    "User\u{1f}x",
    "ü",
];
const KEYS: &[&str] = &[
    "id",
    "name",
    "username",
    "is_active",
    "created_at",
    "user",
    "security_role",
    "project",
    "user_security_roles",
    "children",
    "parent",
    "parent_id",
    "key",
    "value",
    "local",
    "__type__",
    "x",
    "",
];

/// A random JSON value from the protocol's grammar, `depth` levels at most.
fn gen_value(rng: &mut Rng, depth: usize) -> serde_json::Value {
    use serde_json::{Value as J, json};
    let top = if depth == 0 { 7 } else { 12 };
    match rng.below(top) {
        0 => J::Null,
        1 => J::Bool(rng.chance(50)),
        2 => J::from(*rng.pick(&[0i64, 1, -1, i64::MIN, i64::MAX, 1_000_000_000_000])),
        3 => J::from(rng.next()),
        4 => serde_json::Number::from_f64(*rng.pick(&[0.5, -1e300, 1e-300, 3.0]))
            .map_or(J::Null, J::Number),
        5 => J::String(
            rng.pick(&[
                "",
                "x",
                "2024-01-01T00:00:00",
                "2024-01-01T00:00:00.123456Z",
                "9999-12-31T23:59:59+14:00",
                "0000-00-00",
                "-2024-01-01T00:00:00",
                "2024-01-01T00:00:00\u{0}",
            ])
            .to_string(),
        ),
        6 => J::String(format!("s{}", rng.below(5))),
        7 => gen_entity(rng, depth - 1),
        8 => J::Array(
            (0..rng.below(4))
                .map(|_| gen_entity(rng, depth - 1))
                .collect(),
        ),
        9 => json!({"__type__": rng.pick(&["datetime", "date", "x"]), "value": gen_value(rng, 0)}),
        10 => J::Array(
            (0..rng.below(4))
                .map(|_| gen_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut m = serde_json::Map::new();
            for _ in 0..rng.below(4) {
                m.insert(rng.pick(KEYS).to_string(), gen_value(rng, depth - 1));
            }
            J::Object(m)
        }
    }
}

fn gen_entity(rng: &mut Rng, depth: usize) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    let ty = if rng.chance(5) {
        gen_value(rng, 0)
    } else {
        serde_json::Value::String(rng.pick(TYPES).to_string())
    };
    m.insert("__entity_type__".into(), ty);
    if rng.chance(90) {
        let id = if rng.chance(80) {
            serde_json::Value::String(format!("e{}", rng.below(6)))
        } else {
            gen_value(rng, 0)
        };
        m.insert("id".into(), id);
    }
    for _ in 0..rng.below(5) {
        m.insert(rng.pick(KEYS).to_string(), gen_value(rng, depth));
    }
    serde_json::Value::Object(m)
}

/// A whole reply from the grammar.
fn gen_reply(rng: &mut Rng) -> Vec<u8> {
    use serde_json::json;
    let rows: Vec<serde_json::Value> = (0..rng.below(6)).map(|_| gen_entity(rng, 3)).collect();
    let v = match rng.below(10) {
        0 => {
            json!({"exception": gen_value(rng, 1), "content": gen_value(rng, 1), "error_code": gen_value(rng, 0)})
        }
        1 => gen_value(rng, 3),
        2 => json!([{"action": "query", "data": gen_value(rng, 3)}]),
        _ => json!([{"action": "query", "data": rows,
            "metadata": {"next": {"offset": gen_value(rng, 0)}}}]),
    };
    serde_json::to_vec(&v).unwrap()
}

/// Kinds a reply may legitimately produce: a protocol error, or a server error
/// object mapped to its kind.
const REPLY_KINDS: &[ErrorKind] = &[
    ErrorKind::Protocol,
    ErrorKind::Server,
    ErrorKind::Authentication,
    ErrorKind::PermissionDenied,
    ErrorKind::Validation,
    ErrorKind::QuerySyntax,
    ErrorKind::IncompatibleServer,
];

/// Attributes read from every entity a reply yields.
const READ: &[&str] = &[
    "id",
    "name",
    "username",
    "created_at",
    "user",
    "user_security_roles",
    "children",
    "x",
    "",
];

#[derive(Default)]
struct Tally {
    inputs: u64,
    ok: u64,
    errors: std::collections::BTreeMap<&'static str, u64>,
    entities: u64,
}

/// Feeds one input to the decoder; panics (with the input) on a panic or on an
/// error kind a reply cannot produce.
fn feed(session: &Session, input: &[u8], tally: &mut Tally) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let result = session.merge_query_response(input);
        let mut read = 0u64;
        if let Ok(rows) = &result {
            for e in rows.iter().take(8) {
                read += 1;
                let _ = (e.entity_type(), e.id(), e.reference_json());
                for a in READ {
                    let _ = (e.get(a), e.get_json(a), e.is_loaded(a), e.get_list(a));
                }
                let _ = e.set("name", ftrack::Value::String("fuzz".into()));
            }
            // Encoding references to whatever was merged must not panic either.
            let _ = session.pending_json();
            session.rollback();
        }
        (result.map(|r| r.len()), read)
    }));
    match outcome {
        Ok((Ok(_), read)) => {
            // The decoder reads JSON itself: it must refuse whatever is not JSON.
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(input) {
                fail(input, &format!("accepted a reply that is not JSON ({e})"));
            }
            tally.ok += 1;
            tally.entities += read;
        }
        Ok((Err(e), _)) => {
            if !REPLY_KINDS.contains(&e.kind()) {
                fail(input, &format!("unexpected error kind {:?}: {e}", e.kind()));
            }
            *tally.errors.entry(e.kind().as_str()).or_default() += 1;
        }
        Err(_) => fail(input, "the decoder panicked"),
    }
    tally.inputs += 1;
}

fn fail(input: &[u8], what: &str) -> ! {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("decode-fuzz-failure.bin");
    let _ = std::fs::write(&path, input);
    panic!(
        "{what}\ninput ({} bytes, saved to {}): b\"{}\"",
        input.len(),
        path.display(),
        input.escape_ascii()
    );
}

#[test]
fn merge_query_response_survives_random_and_mutated_replies() {
    let started = Instant::now();
    let iterations = env_u64("FTRACK_FUZZ_DECODE_ITERATIONS", 30_000);
    let seed = env_u64("FTRACK_FUZZ_SEED", 0xdec0_de5e_ed00_0011);
    let sb = sandbox();
    let seeds = capture_seeds(&sb);
    // No auto-populate: reading the merged entities never goes to the network.
    let session = Session::with_options(admin_options(&sb).auto_populate(false)).unwrap();
    let mut tally = Tally::default();
    for r in REPRODUCERS {
        feed(&session, r, &mut tally);
    }
    for s in &seeds {
        feed(&session, s, &mut tally);
    }
    let mut rng = Rng::seeded(seed);
    let mut session = session;
    let (mut mutated, mut generated) = (0u64, 0u64);
    for i in 0..iterations {
        // A fresh identity map now and then, so it does not grow without bound.
        if i > 0 && i % 5000 == 0 {
            session = Session::with_options(admin_options(&sb).auto_populate(false)).unwrap();
        }
        let input = if rng.chance(25) {
            generated += 1;
            let mut g = gen_reply(&mut rng);
            if rng.chance(30) {
                mutate(&mut rng, &mut g, &seeds);
            }
            g
        } else {
            mutated += 1;
            let mut m = rng.pick(&seeds).clone();
            let rounds = if rng.chance(60) { 1 } else { 2 + rng.below(4) };
            for _ in 0..rounds {
                mutate(&mut rng, &mut m, &seeds);
            }
            m
        };
        feed(&session, &input, &mut tally);
    }
    assert!(tally.ok > 0, "no input decoded at all: the seeds are wrong");
    eprintln!(
        "decode fuzz: {} inputs ({} reproducers, {} sandbox seeds, {mutated} mutated, \
         {generated} generated; seed {seed:#x}) in {:.1} s: {} Ok ({} entities read back), \
         errors by kind {:?}, 0 panics",
        tally.inputs,
        REPRODUCERS.len(),
        seeds.len(),
        started.elapsed().as_secs_f64(),
        tally.ok,
        tally.entities,
        tally.errors
    );
}

/// A fake ftrack server: start-up requests get the sandbox's real answers, every
/// other request the next reply `next()` makes.
fn mutating_server(
    startup: Vec<u8>,
    next: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static,
) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let next = Arc::new(next);
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let (next, startup) = (next.clone(), startup.clone());
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                loop {
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        match r.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    let reply = if body.windows(24).any(|w| w == b"query_server_information") {
                        startup.clone()
                    } else {
                        next(&body)
                    };
                    // Head and body in one write: two small writes would wait on
                    // the client's delayed ACK (Nagle) for 40 ms each time.
                    let mut out = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        reply.len()
                    )
                    .into_bytes();
                    out.extend_from_slice(&reply);
                    if w.write_all(&out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

#[test]
fn query_and_commit_replies_over_http_survive_mutation() {
    let started = Instant::now();
    let iterations = env_u64("FTRACK_FUZZ_HTTP_ITERATIONS", 2000);
    let seed = env_u64("FTRACK_FUZZ_SEED", 0xdec0_de5e_ed00_0011) ^ 0x4854_5450;
    let sb = sandbox();
    let (user, key) = (sb.admin_user().to_owned(), sb.admin_key().to_owned());
    let startup = raw_post(
        &sb.url(),
        &user,
        &key,
        r#"[{"action":"query_server_information"},{"action":"query_schemas"}]"#,
    );
    let mut seeds = capture_seeds(&sb);
    // Real commit replies: a create and an update of a Group.
    let g = "00000000-0000-4000-8000-00000000f022";
    seeds.push(raw_post(
        &sb.url(),
        &user,
        &key,
        &format!(
            r#"[{{"action":"create","entity_type":"Group","entity_data":{{"id":"{g}","name":"fuzz","local":true}}}}]"#
        ),
    ));
    seeds.push(raw_post(
        &sb.url(),
        &user,
        &key,
        &format!(
            r#"[{{"action":"update","entity_type":"Group","entity_key":["{g}"],"entity_data":{{"local":false}}}}]"#
        ),
    ));
    let seeds = Arc::new(seeds);
    let rng = Arc::new(Mutex::new(Rng::seeded(seed)));
    let served = {
        let (seeds, rng) = (seeds.clone(), rng.clone());
        mutating_server(startup, move |_req| {
            let mut rng = rng.lock().unwrap();
            let mut m = rng.pick(&seeds).clone();
            if rng.chance(90) {
                for _ in 0..1 + rng.below(3) {
                    mutate(&mut rng, &mut m, &seeds);
                }
            }
            m
        })
    };
    let session = Session::with_options(
        SessionOptions::new()
            .server_url(&served)
            .api_key(key.as_str())
            .api_user(user.as_str())
            .schema_cache(ftrack::SchemaCache::Disabled)
            .auto_populate(false)
            .max_attempts(1)
            .timeout(Duration::from_secs(10)),
    )
    .unwrap();
    let mut kinds: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let (mut queries, mut commits, mut ok) = (0u64, 0u64, 0u64);
    let mut applied_unmerged = 0u64;
    for i in 0..iterations {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if i % 2 == 0 {
                queries += 1;
                session
                    .query("select name, local from Group")
                    .map(|rows| rows.len())
            } else {
                commits += 1;
                let made = session.create(
                    "Group",
                    serde_json::json!({"name": format!("fuzz-{i}"), "local": true})
                        .as_object()
                        .unwrap()
                        .clone(),
                );
                let r = made.and_then(|_| session.commit()).map(|()| 0);
                if let Err(e) = &r {
                    // A failed commit keeps its operations, unless it says the
                    // server applied them (a list of results that did not merge).
                    let applied = e.kind() == ErrorKind::Protocol
                        && e.to_string().contains("the server APPLIED the batch");
                    assert_eq!(
                        session.pending_len(),
                        usize::from(!applied),
                        "request {i}: a failed commit lost or kept operations wrongly: {e}"
                    );
                    applied_unmerged += u64::from(applied);
                }
                session.rollback();
                r
            }
        }));
        match outcome {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                assert!(
                    REPLY_KINDS.contains(&e.kind()),
                    "request {i}: unexpected error kind {:?}: {e}",
                    e.kind()
                );
                *kinds.entry(e.kind().as_str()).or_default() += 1;
            }
            Err(_) => panic!(
                "request {i} panicked (seed {seed:#x}); replay with FTRACK_FUZZ_SEED and \
                 FTRACK_FUZZ_HTTP_ITERATIONS={}",
                i + 1
            ),
        }
    }
    eprintln!(
        "decode fuzz over HTTP: {iterations} mutated replies ({queries} to queries, {commits} \
         to commits; seed {seed:#x}) in {:.1} s: {ok} Ok, errors by kind {kinds:?} \
         ({applied_unmerged} commits applied but not mergeable), 0 panics",
        started.elapsed().as_secs_f64()
    );
}

/// Found by the HTTP fuzzer: a commit answered with a list of results that cannot
/// be merged (here `[1]`) returned a protocol error that read like "nothing was
/// applied", while its operations had (rightly) left the pending batch; a caller
/// following the documented "commit again" would have applied them twice. The
/// error now says the server applied the batch.
#[test]
fn commit_answer_that_does_not_merge_says_the_batch_was_applied() {
    let sb = sandbox();
    let startup = raw_post(
        &sb.url(),
        sb.admin_user(),
        sb.admin_key(),
        r#"[{"action":"query_server_information"},{"action":"query_schemas"}]"#,
    );
    let url = mutating_server(startup, |_| b"[1]".to_vec());
    let session = Session::with_options(
        SessionOptions::new()
            .server_url(&url)
            .api_key(sb.admin_key())
            .api_user(sb.admin_user())
            .schema_cache(ftrack::SchemaCache::Disabled)
            .max_attempts(1),
    )
    .unwrap();
    session
        .create(
            "Group",
            serde_json::json!({"name": "x"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
    let e = session.commit().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(
        e.to_string().contains("the server APPLIED the batch"),
        "the error must say the batch was applied: {e}"
    );
    assert_eq!(session.pending_len(), 0);
}
