//! The event hub and plugins from C, against the sandbox: `ffi/tests/c/event_host.c`
//! with the plugins of `ffi/tests/c/event_plugin.c` (one nested a level
//! down, one that refuses to register, one shared library that is not a
//! plugin), `examples/role_watch.c` printing role changes made by
//! another program (`examples/roles.c`) and another client, and
//! `ffi/tests/c/event_unsubscribe_race.c`: no callback runs after
//! `ftrack_event_hub_unsubscribe` or `ftrack_session_destroy` returned.

#[path = "ffi_support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn shared_object(source: &std::path::Path, out: &std::path::Path, defines: &[&str]) {
    let mut cmd = Command::new("cc");
    cmd.args(support::C_FLAGS)
        .args(["-shared", "-fPIC"])
        .args(defines)
        .arg("-I")
        .arg(support::include_dir())
        .arg(source)
        .arg("-o")
        .arg(out)
        .arg("-L")
        .arg(support::lib_dir())
        .arg("-lftrack");
    support::run(&format!("compiling {}", out.display()), &mut cmd);
}

#[test]
fn c_plugins_events_publish_and_wait_and_dispatch() {
    if !support::need("events_c", "cc", "apt-get install -y gcc") {
        return;
    }
    let sb = support::start_sandbox();
    let dir = support::scratch("events-c");
    let plugins = dir.join("plugins");
    let _ = std::fs::remove_dir_all(&plugins);
    std::fs::create_dir_all(plugins.join("nested/deeper")).unwrap();
    let plugin = support::c_source("event_plugin.c");
    shared_object(&plugin, &plugins.join("nested/deeper/libping.so"), &[]);
    shared_object(&plugin, &plugins.join("libfails.so"), &["-DPLUGIN_FAILS"]);
    // A shared library without the entry point.
    let other = dir.join("other.c");
    std::fs::write(&other, "int not_a_plugin(void) { return 1; }\n").unwrap();
    shared_object(&other, &plugins.join("libother.so"), &[]);
    std::fs::write(plugins.join("README.txt"), "not a library").unwrap();

    let exe = dir.join("event_host");
    support::compile_c(
        &[&support::c_source("event_host.c")],
        &exe,
        support::Link::Shared,
    );
    let mut cmd = Command::new(&exe);
    cmd.arg(&plugins);
    support::sandbox_env(&mut cmd, &sb);
    let out = support::run("the event host C program", &mut cmd);
    support::show(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("0 failure(s)"), "{stdout}");
    // session.ready reached the plugin, with its arguments.
    assert!(
        stdout.contains("plugin: session ready, arguments {\"greeting\":\"hello\"}"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("plugin: session ready").count(),
        1,
        "{stdout}"
    );
    // The refusing plugin and the non-plugin were logged and skipped.
    assert!(
        stdout.contains("libfails.so skipped: ftrack_event_plugin_register returned 3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("libother.so skipped: it does not export ftrack_event_plugin_register"),
        "{stdout}"
    );
    assert!(stdout.contains("reply: ftrack.meta.reply"), "{stdout}");
    assert!(
        stdout.contains("update: ftrack.update Alpha from C"),
        "{stdout}"
    );
}

/// Rounds of subscribe, callback running on another thread (a host thread
/// that dispatches, then the library's dispatch thread), unsubscribe and at
/// once poison the callback's user_data: no call may see the poison. Then a
/// callback unsubscribing itself, and a session destroyed while its callback
/// runs and an entity keeps its data alive (subscriber and logger).
/// `FTRACK_C_RACE_ROUNDS` sets the rounds per mode (default 150).
#[test]
fn c_callbacks_never_run_after_unsubscribe_or_destroy_returned() {
    if !support::need(
        "c_callbacks_never_run_after_unsubscribe_or_destroy_returned",
        "cc",
        "apt-get install -y gcc",
    ) {
        return;
    }
    let sb = support::start_sandbox();
    let dir = support::scratch("events-c-race");
    let exe = dir.join("event_unsubscribe_race");
    support::compile_c(
        &[&support::c_source("event_unsubscribe_race.c")],
        &exe,
        support::Link::Shared,
    );
    let rounds = std::env::var("FTRACK_C_RACE_ROUNDS").unwrap_or_else(|_| "150".into());
    let mut cmd = Command::new(&exe);
    cmd.arg(rounds);
    support::sandbox_env(&mut cmd, &sb);
    let out = cmd.output().expect("run event_unsubscribe_race");
    support::show(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("0 poisoned call(s), 0 failure(s)"),
        "event_unsubscribe_race failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn role_watch_example_prints_role_changes_made_elsewhere() {
    if !support::need("role_watch_example", "cc", "apt-get install -y gcc") {
        return;
    }
    let sb = support::start_sandbox();
    let dir = support::scratch("role-watch");
    let watch = dir.join("role_watch");
    let roles = dir.join("roles");
    let examples = support::root().join("examples");
    support::compile_c(
        &[&examples.join("role_watch.c")],
        &watch,
        support::Link::Shared,
    );
    support::compile_c(&[&examples.join("roles.c")], &roles, support::Link::Shared);

    let mut cmd = Command::new(&watch);
    cmd.arg("60")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    support::sandbox_env(&mut cmd, &sb);
    let mut child = cmd.spawn().expect("role_watch starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("role_watch printed a line within 20 s")
    };
    assert_eq!(next(), "watching role changes");
    // The subscription reaches the hub right after the connection; give it a moment.
    std::thread::sleep(Duration::from_millis(300));

    // Another libftrack program gives artist Project Manager on gamma.
    let mut give = Command::new(&roles);
    give.args(["artist", "Project Manager", "gamma"]);
    support::sandbox_env(&mut give, &sb);
    support::run("examples/roles.c", &mut give);
    let mut lines = vec![next(), next()];
    lines.sort();
    assert_eq!(
        lines,
        [
            "artist got Project Manager",
            "artist got Project Manager on gamma"
        ]
    );

    // Another client takes the project, then the role away.
    let ids = |expr: &str| -> String {
        let r = post(
            &sb,
            &format!(r#"[{{"action":"query","expression":"{expr}"}}]"#),
        );
        r[0]["data"][0]["id"].as_str().unwrap().to_string()
    };
    let artist = ids(r#"select id from User where username is \"artist\""#);
    let pm = ids(r#"select id from SecurityRole where name is \"Project Manager\""#);
    let gamma = ids(r#"select id from Project where name is \"gamma\""#);
    post(
        &sb,
        &format!(
            r#"[{{"action":"revoke_user_security_role_project","user_id":"{artist}","role_id":"{pm}","project_id":"{gamma}"}}]"#
        ),
    );
    assert_eq!(next(), "artist lost Project Manager on gamma");
    post(
        &sb,
        &format!(
            r#"[{{"action":"remove_user_security_role","user_id":"{artist}","role_id":"{pm}"}}]"#
        ),
    );
    assert_eq!(next(), "artist lost Project Manager");
    let _ = child.kill();
    let _ = child.wait();
}

/// POSTs a batch to the sandbox as admin; returns the JSON answer.
fn post(sb: &ftrack_sandbox::Sandbox, body: &str) -> serde_json::Value {
    let addr = sb.url().trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nftrack-user: {}\r\nftrack-api-key: {}\r\nContent-Length: {}\r\n\r\n{body}",
        sb.admin_user(),
        sb.admin_key(),
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    std::io::Read::read_to_string(&mut s, &mut reply).unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1;
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(v.is_array(), "{v}");
    v
}
