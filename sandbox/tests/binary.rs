//! The `ftrack-sandbox` binary: env lines, request log without keys, seed
//! files, a persistent database and clean shutdown on SIGTERM.

mod common;
use common::post_with;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
    url: String,
}

fn start(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftrack-sandbox"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ftrack-sandbox");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first line");
    let url = line
        .trim()
        .strip_prefix("FTRACK_SERVER=")
        .expect("FTRACK_SERVER first")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    Running { child, stdout, url }
}

/// Sends SIGTERM, waits, and returns (exit success, stderr).
fn stop(mut r: Running) -> (bool, String) {
    // SAFETY: kill(2) on the pid of our own, not yet reaped, child.
    unsafe {
        libc::kill(r.child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = r.child.wait().expect("wait");
    let mut err = String::new();
    r.child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    (status.success(), err)
}

#[test]
fn demo_print_env_log_and_sigterm() {
    let mut r = start(&["--demo", "--port", "0", "--print-env"]);
    let mut user = String::new();
    let mut key = String::new();
    r.stdout.read_line(&mut user).unwrap();
    r.stdout.read_line(&mut key).unwrap();
    assert_eq!(user.trim(), "FTRACK_API_USER=admin");
    assert_eq!(key.trim(), "FTRACK_API_KEY=demo-key-admin");
    let reply = post_with(
        &r.url,
        "admin",
        "demo-key-admin",
        &[],
        &json!([{"action": "query", "expression": "Project"}]),
    )
    .1;
    assert_eq!(reply[0]["data"].as_array().unwrap().len(), 3);
    post_with(
        &r.url,
        "admin",
        "secret-wrong-key",
        &[],
        &json!([{"action": "query_schemas"}]),
    );
    let (ok, log) = stop(r);
    assert!(ok, "exit status after SIGTERM");
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with("POST /api")).collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains("user=admin") && lines[0].contains("actions=[query]"),
        "{log}"
    );
    assert!(
        !log.contains("demo-key-admin") && !log.contains("secret-wrong-key"),
        "key in log: {log}"
    );
}

#[test]
fn seed_file_and_persistent_db() {
    let dir = std::env::temp_dir().join(format!("ftrack-sandbox-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("seed.json");
    std::fs::write(
        &seed,
        json!({
            "roles": [{"name": "Boss", "type": "PROJECT", "permissions": ["Manage users"]}],
            "users": [{"username": "zoe", "api_key": "zoe-key"}],
            "projects": [{"name": "x", "is_private": true}],
            "assignments": [{"user": "zoe", "role": "Boss", "projects": ["x"]}],
            "admin": "zoe"
        })
        .to_string(),
    )
    .unwrap();
    let db = dir.join("db.sqlite");
    let _ = std::fs::remove_file(&db);
    let args = [
        "--seed",
        seed.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--port",
        "0",
        "--quiet",
    ];
    let r = start(&args);
    let reply = post_with(&r.url, "zoe", "zoe-key", &[], &json!([
        {"action": "query", "expression": "select name from Project"},
        {"action": "create", "entity_type": "User", "entity_data": {"username": "newbie", "is_active": true}}
    ])).1;
    assert_eq!(reply[0]["data"][0]["name"], "x", "{reply}");
    let (ok, log) = stop(r);
    assert!(ok);
    assert!(!log.contains("POST /api"), "--quiet logs nothing: {log}");
    let r = start(&args);
    let reply = post_with(
        &r.url,
        "zoe",
        "zoe-key",
        &[],
        &json!([{"action": "query", "expression": "select username from User order by username"}]),
    )
    .1;
    let names: Vec<&str> = reply[0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["newbie", "zoe"]);
    assert!(stop(r).0);
    let bad = Command::new(env!("CARGO_BIN_EXE_ftrack-sandbox"))
        .args(["--port", "nope"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// With no file descriptor left, `accept` fails with EMFILE: the server logs
/// it once, backs off instead of spinning, and serves again as soon as
/// descriptors are free.
#[test]
fn accept_failures_back_off_and_recover() {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ftrack-sandbox"));
    cmd.args(["--demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; it only lowers the child's own limit.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 24,
                rlim_max: 24,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn ftrack-sandbox");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first line");
    let url = line
        .trim()
        .strip_prefix("FTRACK_SERVER=")
        .expect("url")
        .to_string();
    let addr = url.trim_start_matches("http://").to_string();
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let wait_for = |needle: &str| loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no log line containing {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    };
    // Idle connections hold descriptors until the server has none left.
    let held: Vec<std::net::TcpStream> = (0..40).map(|_| common::connect(&addr)).collect();
    let failed = wait_for("accept failed");
    assert!(failed.contains("Too many open files"), "{failed}");
    drop(held);
    wait_for("accepting connections again");
    let (status, body) = post_with(&url, "admin", "demo-key-admin", &[], &json!([]));
    assert_eq!((status, body), (200, json!([])));
    // SAFETY: kill(2) on the pid of our own, not yet reaped, child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    assert!(child.wait().expect("wait").success());
}
