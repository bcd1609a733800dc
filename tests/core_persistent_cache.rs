//! The persistent entity cache: a journal whose writes follow the changes, not the
//! size of the cache.

use ftrack::{Session, SessionOptions, Value};
use ftrack_sandbox::{Sandbox, SandboxConfig, Seed, SeedData};

#[path = "support/mod.rs"]
mod support;

fn options(sb: &Sandbox, file: &std::path::Path) -> SessionOptions {
    support::admin_options(sb).persistent_cache(file)
}

fn records(bytes: &[u8]) -> usize {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
        - 1
}

#[test]
fn a_commit_appends_only_what_changed() {
    let sb = Sandbox::start(SandboxConfig {
        seed: Seed::Data(SeedData::synthetic(300)),
        ..SandboxConfig::demo()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("entities.jsonl");
    let id = {
        let s = Session::with_options(options(&sb, &file)).unwrap();
        let users = s.query("select username, email from User").unwrap();
        assert!(users.len() >= 300);
        let pm = users
            .iter()
            .find(|u| u.get_string("username").unwrap() == "pm")
            .unwrap()
            .id();
        s.close().unwrap();
        pm
    };
    let full = std::fs::read(&file).unwrap();
    assert!(records(&full) >= 300);

    let s = Session::with_options(options(&sb, &file)).unwrap();
    let before = sb.request_count();
    let pm = s
        .get("User", &id)
        .unwrap()
        .expect("in the persistent cache");
    assert_eq!(sb.request_count(), before, "served from the file");
    pm.set("email", Value::from("pm@journal.example")).unwrap();
    s.commit().unwrap();

    let after = std::fs::read(&file).unwrap();
    assert!(
        after.starts_with(&full),
        "the file was appended to, not rewritten"
    );
    let added = &after[full.len()..];
    assert!(records(&[b"{}", added].concat()) <= 3, "{added:?}");
    assert!(added.len() < 2048, "{} bytes appended", added.len());
    assert!(String::from_utf8_lossy(added).contains("pm@journal.example"));

    // Closing a barely-changed journal does not rewrite it either.
    drop(pm);
    drop(s);
    assert!(std::fs::read(&file).unwrap().starts_with(&full));

    // The next session sees the committed value without asking the server.
    let s = Session::with_options(options(&sb, &file)).unwrap();
    let before = sb.request_count();
    let pm = s.get("User", &id).unwrap().unwrap();
    assert_eq!(pm.get_string("email").unwrap(), "pm@journal.example");
    assert_eq!(sb.request_count(), before);
}

#[test]
fn deletions_are_journaled_and_closing_compacts() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("entities.jsonl");
    let s = Session::with_options(options(&sb, &file)).unwrap();
    let alpha = s
        .query_one("select name, full_name from Project where name is \"alpha\"")
        .unwrap();
    // Many commits of the same entity: one record each.
    for i in 0..40 {
        alpha
            .set("full_name", Value::from(format!("Alpha {i}")))
            .unwrap();
        s.commit().unwrap();
    }
    let u = s
        .create("User", {
            let mut m = serde_json::Map::new();
            m.insert("username".into(), "journaled".into());
            m
        })
        .unwrap();
    s.commit().unwrap();
    let uid = u.id();
    assert!(s.get("User", &uid).unwrap().is_some());
    s.delete(&u).unwrap();
    s.commit().unwrap();
    let grown = records(&std::fs::read(&file).unwrap());
    assert!(grown >= 40, "{grown}");
    s.close().unwrap();
    let compacted = records(&std::fs::read(&file).unwrap());
    assert!(
        compacted < grown,
        "{compacted} records after close, {grown} before"
    );

    let s = Session::with_options(options(&sb, &file)).unwrap();
    let before = sb.request_count();
    let a = s.get("Project", &alpha.id()).unwrap().unwrap();
    assert_eq!(a.get_string("full_name").unwrap(), "Alpha 39");
    assert_eq!(sb.request_count(), before);
    assert!(
        s.get("User", &uid).unwrap().is_none(),
        "deleted stays deleted"
    );
}

#[test]
fn a_file_in_another_format_is_replaced() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("entities.json");
    std::fs::write(&file, br#"{"server_url": "x", "entities": []}"#).unwrap();
    let s = Session::with_options(options(&sb, &file)).unwrap();
    let pm = s.query_one("User where username is \"pm\"").unwrap();
    s.close().unwrap();
    let s = Session::with_options(options(&sb, &file)).unwrap();
    let before = sb.request_count();
    assert!(s.get("User", &pm.id()).unwrap().is_some());
    assert_eq!(sb.request_count(), before);
}
