//! The persistent entity cache: a journal whose writes follow the changes, not the
//! size of the cache.

use ftrack::{Session, SessionOptions, Value};
use ftrack_sandbox::{Sandbox, SandboxConfig};

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
    let sb = support::synthetic_sandbox(300);
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

#[test]
#[cfg(unix)]
fn cache_files_are_private_and_hold_no_userinfo() {
    use std::os::unix::fs::PermissionsExt;
    let sb = support::sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cache/entities.jsonl");
    let schemas = dir.path().join("schemas");
    // The URL carries userinfo, as some studios' proxies expect.
    let url = sb
        .url()
        .replace("http://", "http://proxyuser:proxy-secret-123@");
    let s = Session::with_options(
        options(&sb, &file)
            .server_url(&url)
            .schema_cache(ftrack::SchemaCache::Path(schemas.clone())),
    )
    .unwrap();
    s.query("select username from User").unwrap();
    s.close().unwrap();
    drop(s);
    let schema_file = std::fs::read_dir(&schemas)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a schema cache file");
    for path in [&file, &schema_file] {
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        assert!(!text.contains("proxy-secret-123"), "{}", path.display());
        assert!(!text.contains("proxyuser"), "{}", path.display());
        assert!(!text.contains(sb.admin_key()), "{}", path.display());
    }
    for dir in [file.parent().unwrap(), schemas.as_path()] {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
    }
}

#[test]
#[cfg(unix)]
fn a_cache_file_owned_by_another_user_is_never_read() {
    // Changing a file's owner needs root (CI runs as root); elsewhere this test
    // proves nothing, so it says so instead of passing silently.
    if unsafe { libc::geteuid() } != 0 {
        if std::env::var_os("FTRACK_REQUIRE_ALL").is_some() {
            panic!("this test needs root to chown a file (FTRACK_REQUIRE_ALL is set)");
        }
        eprintln!("skipped: needs root to give a file to another user");
        return;
    }
    let sb = support::sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("entities.jsonl");
    let id = {
        let s = Session::with_options(options(&sb, &file)).unwrap();
        let u = s.query_one("User where username is \"pm\"").unwrap();
        u.get_string("username").unwrap();
        s.close().unwrap();
        u.id()
    };
    // Served from the file while it is ours...
    {
        let s = Session::with_options(options(&sb, &file)).unwrap();
        let before = sb.request_count();
        s.get("User", &id).unwrap().unwrap();
        assert_eq!(sb.request_count(), before);
    }
    // ...and ignored once another user owns it (65534: nobody).
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    let s = Session::with_options(options(&sb, &file)).unwrap();
    let before = sb.request_count();
    s.get("User", &id).unwrap().unwrap();
    assert_eq!(
        sb.request_count(),
        before + 1,
        "read from the server instead"
    );
}

#[test]
fn two_sessions_sharing_a_file_lose_nothing() {
    // Each session opens the file itself, as two processes would.
    let sb = support::sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("entities.jsonl");
    let a = Session::with_options(options(&sb, &file)).unwrap();
    let b = Session::with_options(options(&sb, &file)).unwrap();
    let pm = a
        .query_one("select username from User where username is \"pm\"")
        .unwrap();
    let alpha = b
        .query_one("select name from Project where name is \"alpha\"")
        .unwrap();
    b.close().unwrap();
    a.close().unwrap(); // rewrites the file: it must keep what b wrote
    drop((a, b));
    let c = Session::with_options(options(&sb, &file)).unwrap();
    let before = sb.request_count();
    assert!(c.get("User", &pm.id()).unwrap().is_some());
    assert!(c.get("Project", &alpha.id()).unwrap().is_some());
    assert_eq!(sb.request_count(), before, "both come from the shared file");
}
