//! Conformance of the event hub with the official ftrack-python-api: its
//! EventHub (run by `.venv/bin/python tests/conformance/event_hub_peer.py`)
//! connects to the sandbox's hub, receives the `ftrack.update` of a
//! libftrack commit, and publishes a question that a libftrack subscriber
//! answers. Without the venv the test prints SKIPPED and passes, unless
//! `FTRACK_REQUIRE_ALL=1` (as in `scripts/test`).

mod support;

use ftrack::{Event, EventHubOptions};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn python() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if p.exists() {
        return Some(p);
    }
    if std::env::var("FTRACK_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!(
            "{} is missing: run scripts/test (it creates the venv with ftrack-python-api)",
            p.display()
        );
    }
    None
}

#[test]
fn official_python_hub_receives_updates_and_gets_replies_from_libftrack() {
    let Some(python) = python() else {
        eprintln!(
            "SKIPPED official_python_hub_receives_updates_and_gets_replies_from_libftrack: no .venv"
        );
        return;
    };
    let sb = support::sandbox();
    let mut child = Command::new(python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/event_hub_peer.py"))
        .args([sb.url(), "admin".into(), "demo-key-admin".into()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .spawn()
        .expect("python starts");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| -> String {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the Python peer did not print {what} within 30 s"));
        assert!(line.starts_with(what), "expected {what}, got: {line}");
        line[what.len()..].trim().to_string()
    };
    next("READY");

    // A libftrack commit: the Python hub receives its ftrack.update.
    let session = support::admin(&sb);
    let alpha = session
        .call(&json!([{"action": "query", "expression": "select id from Project where name is \"alpha\""}]))
        .unwrap()[0]["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    session
        .call(&json!([{"action": "update", "entity_type": "Project", "entity_key": [alpha], "entity_data": {"full_name": "Seen by Python"}}]))
        .unwrap();
    let data: Value = serde_json::from_str(&next("UPDATE")).unwrap();
    assert_eq!(data["entities"][0]["entityId"], alpha.as_str());
    assert_eq!(
        data["entities"][0]["changes"]["fullname"]["new"],
        "Seen by Python"
    );

    // A libftrack subscriber answers the Python hub's question.
    let hub = session.event_hub();
    hub.set_options(EventHubOptions {
        dispatch_thread: true,
        ..EventHubOptions::default()
    });
    let (qtx, qrx) = mpsc::channel::<Event>();
    let qtx = std::sync::Mutex::new(qtx);
    hub.subscribe(
        "topic=libftrack.question",
        std::sync::Arc::new(move |e: &Event| {
            let _ = qtx.lock().unwrap().send(e.clone());
            let q = e.data["q"].as_i64().unwrap_or(0);
            Ok(Some(json!({"answer": q * 2})))
        }),
        None,
        100,
    )
    .unwrap();
    hub.connect(Duration::from_secs(15)).unwrap();
    // The subscribe packet goes out right after the connection; a round trip
    // through the hub (an event to ourselves) shows it was routed.
    let probe = hub.publish_and_wait(
        Event::new("libftrack.question", json!({"q": 0})),
        Duration::from_secs(10),
    );
    assert_eq!(probe.unwrap().data["answer"], 0);
    writeln!(stdin, "RESPONDER").unwrap();
    let reply: Value = serde_json::from_str(&next("REPLY")).unwrap();
    assert_eq!(reply, json!({"answer": 4}));
    let asked = qrx.recv_timeout(Duration::from_secs(5)).unwrap();
    let asked = if asked.data["q"] == 0 {
        qrx.recv_timeout(Duration::from_secs(5)).unwrap()
    } else {
        asked
    };
    assert_eq!(asked.data["q"], 2);
    assert_eq!(asked.source["user"]["username"], "admin");
    let status = child.wait().unwrap();
    assert!(status.success());
    hub.disconnect();
}
