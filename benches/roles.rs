//! Benchmarks of security-role changes, printed beside their baselines:
//!
//! 1. client time of N appends (validation + recording) and of encoding the
//!    batch, for 1,000 and 10,000 users whose roles one paged query read; the
//!    ratio 10,000 / 1,000 shows the cost is linear;
//! 2. the same 1,000 appends validated the way the previous implementation did
//!    (encode the whole pending batch to JSON and parse it back per change);
//! 3. end to end on the sandbox: 1,000 appends and the commit.
//!
//! Run: `cargo bench -p ftrack --bench roles` (release build); `-- --quick` for
//! fewer runs; `-- --appends` to stop after the appends (to profile them).

use std::time::{Duration, Instant};

use ftrack::roles::Roles;
use ftrack::{Entity, SchemaCache, Session, SessionOptions};
use ftrack_sandbox::{Sandbox, SandboxConfig, Seed, SeedData};

const USERS: usize = 10_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Appends `role` to each user and encodes the batch; returns (appends, encode).
fn append_all(roles: &Roles, users: &[Entity], role: &Entity) -> (Duration, Duration) {
    let t = Instant::now();
    for u in users {
        roles.append(u, role, false).expect("append validates");
    }
    let appends = t.elapsed();
    let t = Instant::now();
    let json = roles.session().pending_json().unwrap();
    let encode = t.elapsed();
    assert!(json.len() > users.len() * 50);
    (appends, encode)
}

/// Rolls the batch back and lets the role store let go of its state for it
/// (which it does on its next use, in time proportional to what was rolled
/// back), so that the next timed run starts from an empty batch either way.
fn discard(roles: &Roles, user: &Entity, role: &Entity) {
    roles.session().rollback();
    roles.append(user, role, false).expect("append validates");
    roles.session().rollback();
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 3 } else { 9 };
    let t = Instant::now();
    let sb = Sandbox::start(SandboxConfig {
        seed: Seed::Data(SeedData::synthetic(USERS)),
        record_requests: false,
        ..SandboxConfig::demo()
    })
    .expect("sandbox starts");
    eprintln!("sandbox with {USERS} users seeded in {:?}", t.elapsed());
    let options = SessionOptions::new()
        .server_url(sb.url())
        .api_key(sb.admin_key())
        .api_user(sb.admin_user())
        .schema_cache(SchemaCache::Disabled);
    let session = Session::with_options(options.clone()).unwrap();
    let roles = Roles::new(&session);
    let pm = roles.find_role("Project Manager").unwrap();

    let before = sb.request_count();
    let t = Instant::now();
    let users = roles.users(Some("username like \"user%\"")).unwrap();
    let read = t.elapsed();
    let requests = sb.request_count() - before;
    assert_eq!(users.len(), USERS);
    println!(
        "\n== reading {USERS} users with their roles: {:.1} ms in {requests} requests ==",
        ms(read)
    );

    println!("\n== client time of N appends + encoding the batch (median of {runs}) ==");
    // The two sizes take turns, so that both see the machine in the same state
    // (a run of either size alone drifts with it by 10-30 %).
    let sizes = [1_000, USERS];
    let mut appends = vec![Vec::new(); sizes.len()];
    let mut encodes = vec![Vec::new(); sizes.len()];
    for _ in 0..runs {
        for (i, &n) in sizes.iter().enumerate() {
            let before = sb.request_count();
            let (a, e) = append_all(&roles, &users[..n], &pm);
            assert_eq!(sb.request_count(), before, "validation sent a request");
            appends[i].push(a);
            encodes[i].push(e);
            discard(&roles, &users[0], &pm);
        }
    }
    let mut totals = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let (a, e) = (
            median(std::mem::take(&mut appends[i])),
            median(std::mem::take(&mut encodes[i])),
        );
        println!(
            "{n:>6} appends: validate+record {:>8.3} ms, encode {:>7.3} ms, total {:>8.3} ms \
             ({:.2} µs per change){}",
            ms(a),
            ms(e),
            ms(a + e),
            (a + e).as_secs_f64() * 1e6 / n as f64,
            if n == USERS {
                format!(
                    "  (target <= 20 ms: {})",
                    if ms(a + e) <= 20.0 { "ok" } else { "MISSED" }
                )
            } else {
                String::new()
            }
        );
        totals.push(a + e);
    }
    if std::env::args().any(|a| a == "--appends") {
        return; // only the appends (to profile them)
    }
    let linear = totals[1].as_secs_f64() / totals[0].as_secs_f64();
    println!(
        "10,000 / 1,000 changes: {linear:.2}x  (target <= 12x: {})",
        if linear <= 12.0 { "ok" } else { "MISSED" }
    );

    // The previous implementation's validation: per change, encode the whole
    // pending batch and parse it back.
    let n = 1_000;
    let mut previous = Vec::new();
    for _ in 0..runs.min(3) {
        let t = Instant::now();
        for u in &users[..n] {
            let pending: serde_json::Value =
                serde_json::from_str(&session.pending_json().unwrap()).unwrap();
            std::hint::black_box(pending);
            roles.append(u, &pm, false).unwrap();
        }
        previous.push(t.elapsed());
        session.rollback();
    }
    let previous = median(previous);
    println!(
        "{n:>6} appends, previous validation (batch re-encoded and parsed per change): \
         {:.3} ms  -> now {:.2}x faster",
        ms(previous),
        previous.as_secs_f64() / totals[0].as_secs_f64()
    );

    println!("\n== end to end on the sandbox: 1,000 appends + commit (median of {runs}) ==");
    let mut e2e = Vec::new();
    let mut commit_only = Vec::new();
    for run in 0..runs {
        // Alternate between granting and taking the role back, so every run
        // changes 1,000 users.
        let t = Instant::now();
        for u in &users[..1_000] {
            if run % 2 == 0 {
                roles.append(u, &pm, false).unwrap();
            } else {
                roles.remove(u, &pm).unwrap();
            }
        }
        let c = Instant::now();
        let before = sb.request_count();
        session.commit().unwrap();
        assert_eq!(sb.request_count() - before, 1, "one batch");
        commit_only.push(c.elapsed());
        e2e.push(t.elapsed());
        // The next run's validation reads the 1,000 users again (the commit
        // wrote); do that outside the timing, as one paged query.
        roles.users(Some("username like \"user%\"")).unwrap();
    }
    let (e2e, commit) = (median(e2e), median(commit_only));
    println!(
        "1,000 role changes committed: {:.2} ms end to end (of which the commit request \
         {:.2} ms); benches/side_by_side runs the official clients on the same task",
        ms(e2e),
        ms(commit),
    );
}
