//! One session shared by 8 threads, plus 32 sessions of their own: 10,000 mixed
//! operations (creates, sets, role changes, commits, rollbacks, queries) against
//! the sandbox over HTTP. At the end every created entity is on the server
//! exactly once or was explicitly rolled back, the cache agrees with the server,
//! and each user's roles on the server are what the thread that changed them
//! expects. A watchdog fails the test instead of letting a deadlock hang it.
//!
//! `FTRACK_STRESS_OPERATIONS` (default 10000) and `FTRACK_STRESS_SEED` change the
//! size and the random sequence.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ftrack::roles::Roles;
use ftrack::{Entity, ErrorKind, Session, Value};
use support::{admin, admin_options, sandbox};

const THREADS: usize = 8;
const OWN_SESSIONS: usize = 4;

/// xorshift64*: deterministic per thread for a given seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn map(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    v.as_object().unwrap().clone()
}

/// What a thread knows of the role its user holds through one session.
#[derive(Default, Clone, Copy)]
struct RoleModel {
    committed: bool,
    pending: Option<bool>,
}

/// A session as one thread uses it.
struct Lane {
    session: Session,
    roles: Roles,
    user: Entity,
    /// Only this thread uses the session: its model of the role is exact.
    exclusive: bool,
    model: RoleModel,
    created: Vec<Entity>,
}

#[derive(Default)]
struct Outcome {
    created: Vec<Entity>,
    /// (user id, expected to hold the role) for users of exclusive sessions.
    roles: Vec<(String, bool)>,
    operations: u64,
}

#[test]
fn eight_threads_and_thirty_two_sessions_lose_nothing() {
    let total = env_u64("FTRACK_STRESS_OPERATIONS", 10_000);
    let seed = env_u64("FTRACK_STRESS_SEED", 0x5eed_1234_abcd);
    eprintln!("stress: {total} operations, seed {seed}");
    let sb = sandbox();

    // One user per (thread, session): role changes never race on a user.
    let setup = admin(&sb);
    let mut users = Vec::new();
    for i in 0..THREADS * (OWN_SESSIONS + 1) {
        let u = setup
            .create(
                "User",
                map(serde_json::json!({"username": format!("stress-{i}"), "is_active": true})),
            )
            .unwrap();
        users.push(u.id());
    }
    setup.commit().unwrap();

    let shared = admin(&sb);
    let pm_id = setup
        .query_one("SecurityRole where name is \"Project Manager\"")
        .unwrap()
        .id();
    let done = Arc::new(AtomicU64::new(0));
    let (tx, rx) = std::sync::mpsc::channel::<Result<Outcome, String>>();
    let per_thread = total / THREADS as u64;
    for t in 0..THREADS {
        let tx = tx.clone();
        let shared = shared.clone();
        let options = admin_options(&sb);
        let users = users.clone();
        let pm_id = pm_id.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut sessions = vec![(shared, false)];
                for _ in 0..OWN_SESSIONS {
                    sessions.push((Session::with_options(options.clone()).unwrap(), true));
                }
                let mut lanes: Vec<Lane> = sessions
                    .into_iter()
                    .enumerate()
                    .map(|(k, (session, exclusive))| {
                        let user_id = &users[t * (OWN_SESSIONS + 1) + k];
                        let user = session.get("User", user_id).unwrap().unwrap();
                        Lane {
                            roles: Roles::new(&session).idempotent(true),
                            session,
                            user,
                            exclusive,
                            model: RoleModel::default(),
                            created: Vec::new(),
                        }
                    })
                    .collect();
                let mut rng = Rng((seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
                for n in 0..per_thread {
                    let lane = &mut lanes[rng.below((OWN_SESSIONS + 1) as u64) as usize];
                    run_one(lane, &mut rng, t, n, &pm_id)
                        .map_err(|e| format!("thread {t} operation {n}: {e} ({:?})", e.kind()))?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                // Whatever is still pending goes now.
                let mut out = Outcome {
                    operations: per_thread,
                    ..Outcome::default()
                };
                for lane in &mut lanes {
                    lane.session
                        .commit()
                        .map_err(|e| format!("final commit: {e}"))?;
                    if let Some(p) = lane.model.pending.take() {
                        lane.model.committed = p;
                    }
                    if lane.exclusive {
                        out.roles.push((lane.user.id(), lane.model.committed));
                    }
                    out.created.append(&mut lane.created);
                }
                Ok(out)
            }));
            let _ = tx.send(match result {
                Ok(r) => r,
                Err(_) => Err(format!("thread {t} panicked")),
            });
        });
    }
    drop(tx);

    // Watchdog: progress must continue; a deadlock fails here instead of hanging.
    let mut outcomes = Vec::new();
    let mut last = 0;
    while outcomes.len() < THREADS {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(r) => outcomes.push(r.unwrap_or_else(|e| panic!("{e}"))),
            Err(_) => {
                let now = done.load(Ordering::Relaxed);
                assert!(
                    now > last,
                    "no progress for 60 s at {now} operations: deadlock"
                );
                last = now;
            }
        }
    }
    // The shared session's last commit (threads may have left some of its
    // operations pending behind another thread's final commit).
    shared.commit().unwrap();
    assert_eq!(shared.pending_len(), 0);
    let ops: u64 = outcomes.iter().map(|o| o.operations).sum();

    // Every live created entity is on the server exactly once, with the values
    // the cache holds; every rolled-back one is absent.
    let check = admin(&sb);
    let server: Vec<Entity> = check
        .query("select name, local from Group where name like \"stress-%\"")
        .unwrap();
    let mut on_server: HashMap<String, (usize, bool)> = HashMap::new();
    for g in &server {
        let e = on_server
            .entry(g.get_string("name").unwrap())
            .or_insert((0, false));
        e.0 += 1;
        e.1 = g.get_bool("local").unwrap();
    }
    let (mut live, mut rolled_back) = (0, 0);
    for o in &outcomes {
        for e in &o.created {
            match e.get_string("name") {
                Ok(name) => {
                    live += 1;
                    let (count, local) = on_server.get(&name).copied().unwrap_or((0, false));
                    assert_eq!(count, 1, "{name} is on the server {count} times");
                    assert_eq!(
                        e.get_bool("local").unwrap(),
                        local,
                        "{name}: cache and server disagree"
                    );
                }
                Err(err) => {
                    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
                    rolled_back += 1;
                }
            }
        }
    }
    assert_eq!(
        live,
        on_server.len(),
        "the server holds groups no live handle created"
    );
    // Roles: what each exclusive thread expects is what the server has.
    let roles = Roles::new(&check);
    let mut role_checks = 0;
    for o in &outcomes {
        for (user_id, holds) in &o.roles {
            let user = check.get("User", user_id).unwrap().unwrap();
            let held = roles
                .user_roles(&user)
                .unwrap()
                .iter()
                .any(|r| r.role.id() == pm_id);
            assert_eq!(held, *holds, "user {user_id}");
            role_checks += 1;
        }
    }
    eprintln!(
        "stress: {ops} operations by {THREADS} threads on 1 shared + {} own sessions; \
         {live} entities committed exactly once, {rolled_back} rolled back, \
         {role_checks} users' roles as expected",
        THREADS * OWN_SESSIONS
    );
    assert!(live > 0 && role_checks == THREADS * OWN_SESSIONS);
}

fn run_one(lane: &mut Lane, rng: &mut Rng, t: usize, n: u64, pm_id: &str) -> ftrack::Result<()> {
    let s = &lane.session;
    match rng.below(100) {
        0..40 => {
            let g = s.create(
                "Group",
                map(serde_json::json!({"name": format!("stress-{t}-{n}"), "local": false})),
            )?;
            lane.created.push(g);
        }
        40..60 => {
            if !lane.created.is_empty() {
                let i = rng.below(lane.created.len() as u64) as usize;
                let g = &lane.created[i];
                match g.set("local", Value::Bool(rng.below(2) == 1)) {
                    // Rolled back (by this thread or, on the shared session, another).
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    other => other?,
                }
            }
        }
        60..75 => {
            let role = s.get("SecurityRole", pm_id)?.expect("role exists");
            let holds = lane.model.pending.unwrap_or(lane.model.committed);
            if holds {
                lane.roles.remove(&lane.user, &role)?;
            } else {
                lane.roles.append(&lane.user, &role, false)?;
            }
            lane.model.pending = Some(!holds);
        }
        75..87 => {
            s.commit()?;
            if lane.exclusive
                && let Some(p) = lane.model.pending.take()
            {
                lane.model.committed = p;
            }
        }
        87..90 => {
            let r = s.rollback();
            assert!(
                !lane.exclusive || r.in_flight == 0,
                "no commit can be in flight on a session only this thread uses"
            );
            lane.model.pending = None;
        }
        _ => {
            s.query(&format!(
                "select name from Group where name like \"stress-{t}-%\""
            ))?;
        }
    }
    Ok(())
}
