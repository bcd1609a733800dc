//! Chaos between the client and the sandbox (issue 11, "A chaos proxy"): a TCP
//! proxy on 127.0.0.1 (`support/chaos_proxy.rs`) injects delays, stalls past the
//! client's timeout, resets mid-request and mid-reply, truncated replies and
//! garbage, while a session commits hundreds of randomized batches through it.
//! Each batch creates groups (one of them the batch's marker), updates groups
//! of earlier batches (their parent becomes the marker) and, every other batch,
//! changes a user's security role with the roles API.
//!
//! Checked for every batch, with a direct session that bypasses the proxy:
//! - no partial batch: after a failed commit the server holds the whole batch
//!   (marker, every group, every update, the role change) or none of it;
//! - no operation applied twice: each group name exists exactly once at the end,
//!   and the sandbox received each batch at most as often as the test committed it;
//! - a defined status for every call: each error kind is one the injected fault
//!   can cause (listed in `commit_kinds` / `READ_KINDS`);
//! - writes never blindly resent: each `commit()` makes exactly one attempt; a
//!   failed commit leaves its operations pending, and the TEST decides: marker on
//!   the server, `rollback()`; else commit again;
//! - reads retried: reads hit by connection faults still succeed.
//!
//! `FTRACK_CHAOS_BATCHES` (default 300), `FTRACK_CHAOS_SECONDS` (time budget,
//! default 150) and `FTRACK_CHAOS_SEED` size and replay the run; e.g.
//! `FTRACK_CHAOS_BATCHES=5000 FTRACK_CHAOS_SECONDS=3600 cargo test -p ftrack --test chaos -- --nocapture`.

#[path = "support/chaos_proxy.rs"]
mod chaos_proxy;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chaos_proxy::{ChaosProxy, Fault, Mix, Rng};
use ftrack::roles::Roles;
use ftrack::{ErrorKind, Session, Value};
use support::{admin, admin_options, sandbox};

const MAX_ATTEMPTS: u32 = 4;
/// The chaos session's timeout: ample for the sandbox on a loaded debug CI
/// machine, so only a stall makes a call time out.
const TIMEOUT: Duration = Duration::from_millis(2000);
/// How long a stalled request is held before it goes on to the sandbox.
const STALL: Duration = Duration::from_millis(2600);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn map(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

/// The error kinds a commit may return when its one request met `fault`.
fn commit_kinds(fault: Fault) -> &'static [ErrorKind] {
    match fault {
        // A clean or slightly delayed request must succeed.
        Fault::None | Fault::Delay => &[],
        Fault::Stall => &[ErrorKind::Timeout],
        Fault::ResetRequest => &[ErrorKind::Connection],
        // A partial head can be an HTTP parse error (protocol).
        Fault::ResetReply => &[ErrorKind::Connection, ErrorKind::Protocol],
        Fault::Truncate => &[ErrorKind::Protocol],
        // Non-HTTP bytes, a body that is not JSON, or JSON of another shape (an
        // object is read as a server error object).
        Fault::Garbage => &[
            ErrorKind::Protocol,
            ErrorKind::Server,
            ErrorKind::Connection,
        ],
    }
}

/// The error kinds a read may return once its retries are spent (Connection
/// and Timeout only after `MAX_ATTEMPTS` attempts; checked separately).
const READ_KINDS: &[ErrorKind] = &[
    ErrorKind::Connection,
    ErrorKind::Timeout,
    ErrorKind::Protocol,
    ErrorKind::Server,
];

/// What the server holds of one batch.
#[derive(Debug, PartialEq)]
struct Held {
    /// Names of the batch's groups on the server.
    names: Vec<String>,
    /// How many of the batch's updates the server shows.
    updated: usize,
    /// Whether the chaos user holds the role.
    role_held: bool,
}

struct Batch {
    n: u64,
    names: Vec<String>,
    ids: Vec<String>,
    updates: Vec<String>,
    /// The role state the batch sets, when it changes it.
    role_to: Option<bool>,
}

impl Batch {
    fn marker(&self) -> String {
        format!("chaos-b{}-m", self.n)
    }
    /// The id of the marker group, which the batch's updates make the parent.
    fn tag(&self) -> String {
        self.ids[0].clone()
    }
}

fn held(direct: &Session, batch: &Batch, user_id: &str, role_id: &str) -> Held {
    let mut ops = vec![serde_json::json!({"action": "query", "expression":
        format!("select name from Group where name like \"chaos-b{}-%\"", batch.n)})];
    ops.push(serde_json::json!({"action": "query", "expression": format!(
        "select id from UserSecurityRole where user.id is \"{user_id}\" and security_role.id is \"{role_id}\"")}));
    if !batch.updates.is_empty() {
        let ids: Vec<String> = batch.updates.iter().map(|i| format!("\"{i}\"")).collect();
        ops.push(serde_json::json!({"action": "query", "expression": format!(
            "select parent_id from Group where id in ({})", ids.join(", "))}));
    }
    let answers = direct
        .call(&serde_json::Value::Array(ops))
        .expect("direct query");
    let rows = |i: usize| answers[i]["data"].as_array().cloned().unwrap_or_default();
    let mut names: Vec<String> = rows(0)
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    let role_held = !rows(1).is_empty();
    let updated = if batch.updates.is_empty() {
        0
    } else {
        rows(2)
            .iter()
            .filter(|r| r["parent_id"].as_str() == Some(batch.tag().as_str()))
            .count()
    };
    Held {
        names,
        updated,
        role_held,
    }
}

#[derive(Default)]
struct Figures {
    batches: u64,
    commit_calls: u64,
    commits_ok_first: u64,
    failed_commits: u64,
    applied_then_rolled_back: u64,
    committed_again: u64,
    /// (fault of the commit's request, error kind) → count.
    commit_errors: BTreeMap<(Fault, &'static str), u64>,
    reads: u64,
    reads_failed: BTreeMap<&'static str, u64>,
    reads_recovered: u64,
    operations: u64,
    role_changes: u64,
    updates: u64,
}

#[test]
fn commits_through_a_chaos_proxy_are_all_or_nothing_and_never_resent() {
    let started = Instant::now();
    let batches = env_u64("FTRACK_CHAOS_BATCHES", 300);
    let budget = Duration::from_secs(env_u64("FTRACK_CHAOS_SECONDS", 150));
    let seed = env_u64("FTRACK_CHAOS_SEED", 0xc4a0_5eed);
    let sb = sandbox();
    let direct = admin(&sb);

    // A user whose role the batches toggle, and groups for the first updates.
    let user = direct
        .create(
            "User",
            map(serde_json::json!({"username": "chaos-user", "is_active": true})),
        )
        .unwrap();
    let mut committed: Vec<String> = (0..5)
        .map(|i| {
            direct
                .create(
                    "Group",
                    map(serde_json::json!({"name": format!("chaos-seed-{i}"), "local": false})),
                )
                .unwrap()
                .id()
        })
        .collect();
    direct.commit().unwrap();
    let user_id = user.id();
    let role_id = direct
        .query_one("SecurityRole where name is \"Project Manager\"")
        .unwrap()
        .id();

    let mix = Mix {
        delay: 100,
        stall: 8,
        reset_request: 70,
        reset_reply: 70,
        truncate: 60,
        garbage: 60,
    };
    let proxy = ChaosProxy::start(&sb.url(), mix, STALL, seed);
    let chaos = Session::with_options(
        admin_options(&sb)
            .server_url(proxy.url())
            .timeout(TIMEOUT)
            .max_attempts(MAX_ATTEMPTS)
            .retry_delay(Duration::from_millis(5)),
    )
    .unwrap();
    let roles = Roles::new(&chaos);
    let chaos_user = chaos.get("User", &user_id).unwrap().unwrap();
    let role = chaos.get("SecurityRole", &role_id).unwrap().unwrap();
    let (sandbox_before, direct_before, forwarded_before) = (
        sb.request_count(),
        direct.request_count(),
        proxy.forwarded(),
    );
    let (client_before, seen_before) = (chaos.request_count(), proxy.seen());
    proxy.set_enabled(true);

    let mut rng = Rng::seeded(seed);
    let mut fig = Figures::default();
    let mut holds = false;
    let mut all_names: Vec<String> = Vec::new();
    let mut commits_per_batch: HashMap<u64, u64> = HashMap::new();

    // A read through the proxy: Ok, or a read kind (Connection / Timeout only
    // once every attempt failed). Counts reads that recovered from a fault.
    let read = |fig: &mut Figures, what: &dyn Fn() -> ftrack::Result<usize>| {
        let (c0, f0) = (chaos.request_count(), proxy.seen());
        let r = what();
        let attempts = chaos.request_count() - c0;
        let faults = proxy.faults_since(f0);
        fig.reads += 1;
        match &r {
            Ok(_) => {
                if faults
                    .iter()
                    .any(|f| matches!(f, Fault::ResetRequest | Fault::ResetReply | Fault::Stall))
                {
                    fig.reads_recovered += 1;
                }
            }
            Err(e) => {
                assert!(
                    READ_KINDS.contains(&e.kind()),
                    "a read failed with {:?}: {e} (faults {faults:?})",
                    e.kind()
                );
                if matches!(e.kind(), ErrorKind::Connection | ErrorKind::Timeout) {
                    assert!(
                        attempts >= u64::from(MAX_ATTEMPTS),
                        "a read gave up after {attempts} attempts: {e} (faults {faults:?})"
                    );
                }
                *fig.reads_failed.entry(e.kind().as_str()).or_default() += 1;
            }
        }
        r
    };

    for n in 0..batches {
        if started.elapsed() > budget {
            eprintln!("chaos: time budget of {budget:?} reached after {n} batches");
            break;
        }
        // Record the batch: creates (the marker first), updates, a role change.
        let mut batch = Batch {
            n,
            names: Vec::new(),
            ids: Vec::new(),
            updates: Vec::new(),
            role_to: None,
        };
        let mut marker = None;
        for i in 0..1 + rng.below(4) {
            let name = if i == 0 {
                batch.marker()
            } else {
                format!("chaos-b{n}-{i}")
            };
            let g = chaos
                .create(
                    "Group",
                    map(serde_json::json!({"name": name.clone(), "local": false})),
                )
                .unwrap();
            batch.ids.push(g.id());
            batch.names.push(name);
            marker.get_or_insert(g);
        }
        for _ in 0..rng.below(3) {
            let id = committed[rng.below(committed.len() as u64) as usize].clone();
            if batch.updates.contains(&id) {
                continue;
            }
            let got = read(&mut fig, &|| {
                chaos.get("Group", &id).map(|g| usize::from(g.is_some()))
            });
            if got.is_ok() {
                let g = chaos.get("Group", &id).unwrap().expect("group exists");
                // Each update makes the group a child of this batch's marker.
                let parent = marker.clone().expect("the marker is created first");
                g.set("parent", Value::Entity(parent)).unwrap();
                batch.updates.push(id);
            }
        }
        if rng.below(2) == 0 {
            let r = read(&mut fig, &|| {
                if holds {
                    roles.remove(&chaos_user, &role).map(usize::from)
                } else {
                    roles.append(&chaos_user, &role, false).map(usize::from)
                }
            });
            if r.is_ok() {
                batch.role_to = Some(!holds);
            }
        }
        let expected_ops = chaos.pending_len();
        fig.operations += expected_ops as u64;
        fig.updates += batch.updates.len() as u64;
        fig.role_changes += u64::from(batch.role_to.is_some());
        batch.names.sort();

        // Commit until the server has the batch, deciding after each failure.
        let mut tries = 0;
        loop {
            tries += 1;
            assert!(tries <= 30, "batch {n}: not committed after 30 commits");
            let (c0, f0) = (chaos.request_count(), proxy.seen());
            let r = chaos.commit();
            fig.commit_calls += 1;
            *commits_per_batch.entry(n).or_default() += 1;
            proxy.quiesce(Duration::from_secs(10));
            assert_eq!(
                chaos.request_count() - c0,
                1,
                "batch {n}: a commit made more than one attempt (a write was resent)"
            );
            let faults = proxy.faults_since(f0);
            assert_eq!(faults.len(), 1, "batch {n}: one request per commit");
            let fault = faults[0];
            match r {
                Ok(()) => {
                    assert_eq!(chaos.pending_len(), 0);
                    assert!(
                        matches!(fault, Fault::None | Fault::Delay),
                        "batch {n}: commit succeeded through {fault:?}"
                    );
                    if tries == 1 {
                        fig.commits_ok_first += 1;
                    }
                    break;
                }
                Err(e) => {
                    fig.failed_commits += 1;
                    assert!(
                        commit_kinds(fault).contains(&e.kind()),
                        "batch {n}: commit through {fault:?} failed with {:?}: {e}",
                        e.kind()
                    );
                    *fig.commit_errors
                        .entry((fault, e.kind().as_str()))
                        .or_default() += 1;
                    assert_eq!(
                        chaos.pending_len(),
                        expected_ops,
                        "batch {n}: a failed commit must leave its operations pending ({e})"
                    );
                    // All or nothing, whatever the fault.
                    let h = held(&direct, &batch, &user_id, &role_id);
                    if h.names.contains(&batch.marker()) {
                        assert_eq!(h.names, batch.names, "batch {n}: partial batch");
                        assert_eq!(h.updated, batch.updates.len(), "batch {n}: partial batch");
                        if let Some(to) = batch.role_to {
                            assert_eq!(h.role_held, to, "batch {n}: partial batch (role)");
                        }
                        // Applied before the connection broke: drop the local copy.
                        chaos.rollback();
                        fig.applied_then_rolled_back += 1;
                        break;
                    }
                    assert!(h.names.is_empty(), "batch {n}: partial batch {:?}", h.names);
                    assert_eq!(h.updated, 0, "batch {n}: partial batch (updates)");
                    if batch.role_to.is_some() {
                        assert_eq!(h.role_held, holds, "batch {n}: partial batch (role)");
                    }
                    fig.committed_again += 1;
                }
            }
        }

        // The batch is on the server exactly once.
        let h = held(&direct, &batch, &user_id, &role_id);
        assert_eq!(h.names, batch.names, "batch {n}: not applied exactly once");
        assert_eq!(h.updated, batch.updates.len(), "batch {n}: updates");
        if let Some(to) = batch.role_to {
            assert_eq!(h.role_held, to, "batch {n}: role");
            holds = to;
        }
        assert_eq!(h.role_held, holds, "batch {n}: role state");
        committed.extend(batch.ids.iter().cloned());
        all_names.extend(batch.names.iter().cloned());
        fig.batches += 1;

        // A read of the batch through the proxy.
        let pattern = format!("select name from Group where name like \"chaos-b{n}-%\"");
        if let Ok(k) = read(&mut fig, &|| chaos.query(&pattern).map(|v| v.len())) {
            assert_eq!(k, batch.names.len(), "batch {n}: a read through the proxy");
        }
    }
    proxy.set_enabled(false);
    proxy.quiesce(Duration::from_secs(10));

    // Every group once; each batch received at most as often as it was committed.
    let all = direct
        .query("select name from Group where name like \"chaos-b%\"")
        .unwrap();
    let mut count: HashMap<String, u64> = HashMap::new();
    for g in &all {
        *count.entry(g.get_string("name").unwrap()).or_default() += 1;
    }
    assert!(count.values().all(|&c| c == 1), "a group exists twice");
    assert_eq!(count.len(), all_names.len(), "groups missing or extra");
    let mut received: HashMap<u64, u64> = HashMap::new();
    for body in sb.received() {
        let text = body.to_string();
        for part in text.split("chaos-b").skip(1) {
            let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
            if part[digits.len()..].starts_with("-m\"")
                && let Ok(b) = digits.parse::<u64>()
            {
                *received.entry(b).or_default() += 1;
            }
        }
    }
    for (b, got) in &received {
        let sent = commits_per_batch.get(b).copied().unwrap_or(0);
        assert!(
            *got <= sent,
            "batch {b} reached the sandbox {got} times but was committed {sent} times"
        );
    }
    // Requests: every client attempt reached the proxy; the sandbox saw exactly
    // what the proxy forwarded plus the direct session's requests.
    let client_attempts = chaos.request_count() - client_before;
    let seen = (proxy.seen() - seen_before) as u64;
    let forwarded = proxy.forwarded() - forwarded_before;
    let direct_requests = direct.request_count() - direct_before;
    let sandbox_requests = sb.request_count() - sandbox_before;
    assert_eq!(
        client_attempts, seen,
        "client attempts vs requests at the proxy"
    );
    assert_eq!(
        sandbox_requests,
        forwarded + direct_requests,
        "requests at the sandbox vs forwarded by the proxy + direct"
    );
    assert!(fig.batches >= 100.min(batches), "too few batches ran");
    assert!(fig.failed_commits > 0, "no commit met a fault");
    assert!(fig.applied_then_rolled_back > 0 && fig.committed_again > 0);
    assert!(
        fig.reads_recovered > 0,
        "no read recovered from a fault by retrying"
    );

    let tally = proxy.tally();
    eprintln!(
        "chaos: {} batches ({} operations: {} groups created, {} updates, {} role changes) \
         in {:.1} s, seed {seed:#x}",
        fig.batches,
        fig.operations,
        all_names.len(),
        fig.updates,
        fig.role_changes,
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "chaos: requests through the proxy {seen} (faults by kind {tally:?}); forwarded to \
         the sandbox {forwarded}; client attempts {client_attempts}"
    );
    eprintln!(
        "chaos: {} commit calls, {} batches committed at the first try, {} failed commits \
         (by fault and kind {:?}); of those {} had been applied (test rolled back) and {} \
         had not (test committed again); 0 partial batches, 0 operations applied twice, \
         0 writes resent by the client",
        fig.commit_calls,
        fig.commits_ok_first,
        fig.failed_commits,
        fig.commit_errors,
        fig.applied_then_rolled_back,
        fig.committed_again
    );
    eprintln!(
        "chaos: {} reads through the proxy, {} recovered from a connection fault by \
         retrying, failed by kind {:?}",
        fig.reads, fig.reads_recovered, fig.reads_failed
    );
}
