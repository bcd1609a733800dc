//! `sandbox-bench`: requests per second for a 500-row User page with a
//! projection through `user_security_roles.security_role.name`, on a
//! 10,000-user synthetic studio, over HTTP on loopback (keep-alive), and the
//! same query answered with all 10,000 rows in one request. Prints the median
//! latency beside the targets of issue 12: a 500-row page in at most 2 ms, and
//! the 10,000-row answer at least as fast per row. The first client sends the
//! whole answers in turn with its pages (one every REQUESTS / runs pages), so
//! that the two figures the ratio compares meet the machine at the same
//! speed. The process keeps the memory it frees
//! ([`ftrack_sandbox::process::keep_freed_memory`]), as the `ftrack-sandbox`
//! binary does.
//!
//! Usage: `cargo run --release -p ftrack-sandbox --bin sandbox-bench [-- REQUESTS [CLIENTS]]`

use ftrack_sandbox::{Sandbox, SandboxConfig, Seed, SeedData};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

const USERS: usize = 10_000;
const EXPRESSION: &str =
    "select username, user_security_roles.security_role.name from User offset 0 limit 500";
const ALL_ROWS: &str =
    "select username, user_security_roles.security_role.name from User offset 0 limit 10000";

/// Issue 12's target for one 500-row page, in ms.
const PAGE_TARGET_MS: f64 = 2.0;

/// One request for `expression`, as bytes ready to send.
fn request(user: &str, key: &str, expression: &str) -> Vec<u8> {
    let body = serde_json::json!([{"action": "query", "expression": expression}]).to_string();
    format!(
        "POST /api HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nftrack-user: {user}\r\nftrack-api-key: {key}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What one client measured: bytes received and the latency (ms) of each
/// request, pages and whole answers apart.
#[derive(Default)]
struct Measured {
    page_bytes: usize,
    pages: Vec<f64>,
    whole_bytes: usize,
    wholes: Vec<f64>,
}

/// Sends `pages` page requests on one keep-alive connection and, when
/// `whole_every` is given, one whole-answer request after every that many
/// pages.
fn client(addr: &str, user: &str, key: &str, pages: usize, whole_every: Option<usize>) -> Measured {
    let page = request(user, key, EXPRESSION);
    let whole = request(user, key, ALL_ROWS);
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut send = |request: &[u8]| -> (usize, f64) {
        let started = Instant::now();
        writer.write_all(request).expect("send");
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("head");
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().expect("length");
            }
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut buf = vec![0; length];
        reader.read_exact(&mut buf).expect("body");
        (buf.len(), started.elapsed().as_secs_f64() * 1000.0)
    };
    let mut m = Measured::default();
    for n in 1..=pages {
        let (bytes, ms) = send(&page);
        m.page_bytes += bytes;
        m.pages.push(ms);
        if whole_every.is_some_and(|every| n % every == 0) {
            let (bytes, ms) = send(&whole);
            m.whole_bytes += bytes;
            m.wholes.push(ms);
        }
    }
    m
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    ftrack_sandbox::process::keep_freed_memory();
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1).max(1);
    let started = Instant::now();
    let sandbox = Sandbox::start(SandboxConfig {
        seed: Seed::Data(SeedData::synthetic(USERS)),
        record_requests: false,
        ..SandboxConfig::demo()
    })
    .expect("start sandbox");
    println!(
        "seeded {} users in {:.2} s",
        USERS + 5,
        started.elapsed().as_secs_f64()
    );
    let addr = sandbox.url().trim_start_matches("http://").to_string();
    let (user, key) = (
        sandbox.admin_user().to_string(),
        sandbox.admin_key().to_string(),
    );
    // Warm up (prepared statement cache, page cache), the whole answer too.
    let warm = client(&addr, &user, &key, 5, Some(5));
    let page_bytes = warm.page_bytes / 5;
    let per_client = requests.div_ceil(clients);
    let runs = (requests / 20).clamp(3, 15);
    let every = (per_client / runs).max(1);
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (addr, user, key) = (addr.clone(), user.clone(), key.clone());
            let whole_every = (c == 0).then_some(every);
            std::thread::spawn(move || client(&addr, &user, &key, per_client, whole_every))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut wholes = Vec::new();
    let mut whole_bytes = 0;
    for h in handles {
        let m = h.join().expect("client thread");
        latencies.extend(m.pages);
        whole_bytes += m.whole_bytes;
        wholes.extend(m.wholes);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = per_client * clients;
    // The whole answers took their time out of the first client's run.
    let page_time = elapsed - wholes.iter().sum::<f64>() / 1000.0 / clients as f64;
    println!(
        "{done} requests, {clients} client(s), {page_bytes} bytes per 500-row page: {:.1} requests/s ({:.2} ms each)",
        done as f64 / page_time,
        page_time * 1000.0 / done as f64
    );
    let page = median(latencies);
    println!(
        "500-row page, median latency:  {page:>7.2} ms   target <= {PAGE_TARGET_MS} ms   ratio {:.2}x  ({})",
        page / PAGE_TARGET_MS,
        if page <= PAGE_TARGET_MS {
            "ok"
        } else {
            "MISSED"
        }
    );
    // The same query, every row in one request, sent in turn with the pages.
    let runs = wholes.len();
    let all = median(wholes);
    let per_row_page = page / 500.0 * 1000.0;
    let per_row_all = all / USERS as f64 * 1000.0;
    println!(
        "10,000 rows in one request ({} bytes), median of {runs} sent in turn with the pages: {all:>7.2} ms = {per_row_all:.2} us/row   \
         500-row page: {per_row_page:.2} us/row   ratio {:.2}x  (target <= 1x: {})",
        whole_bytes / runs.max(1),
        per_row_all / per_row_page,
        if per_row_all <= per_row_page {
            "ok"
        } else {
            "MISSED"
        }
    );
}
