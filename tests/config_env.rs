//! Session configuration from the environment. Every test here changes process
//! environment variables, so they are serialised by one lock.

use std::sync::Mutex;

use ftrack::{Error, ErrorKind, Session};
use ftrack_sandbox::{Sandbox, SandboxConfig};

static ENV: Mutex<()> = Mutex::new(());

const VARS: &[&str] = &[
    "FTRACK_SERVER",
    "FTRACK_API_KEY",
    "FTRACK_APIKEY",
    "FTRACK_API_USER",
    "FTRACK_API_SCHEMA_CACHE_PATH",
    "LOGNAME",
    "USER",
    "LNAME",
    "USERNAME",
];

/// Runs `f` with exactly `vars` set (the others removed), restoring afterwards.
fn with_env(vars: &[(&str, &str)], f: impl FnOnce()) {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let saved: Vec<(&str, Option<String>)> =
        VARS.iter().map(|v| (*v, std::env::var(v).ok())).collect();
    // SAFETY: the ENV lock serialises every test of this binary that touches the
    // environment, and no other thread reads it meanwhile.
    unsafe {
        for v in VARS {
            std::env::remove_var(v);
        }
        for (k, v) in vars {
            std::env::set_var(k, v);
        }
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    unsafe {
        for (k, v) in saved {
            match v {
                Some(v) => std::env::set_var(k, v),
                None => std::env::remove_var(k),
            }
        }
    }
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

fn missing(e: Error) -> (&'static str, &'static str, String) {
    let msg = e.to_string();
    match e {
        Error::MissingConfiguration {
            argument, variable, ..
        } => (argument, variable, msg),
        other => panic!("expected MissingConfiguration, got {other:?}"),
    }
}

#[test]
fn session_from_environment() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = sb.url();
    with_env(
        &[
            ("FTRACK_SERVER", &url),
            ("FTRACK_API_KEY", sb.admin_key()),
            ("FTRACK_API_USER", sb.admin_user()),
            ("FTRACK_API_SCHEMA_CACHE_PATH", dir.path().to_str().unwrap()),
        ],
        || {
            let s = Session::new(None, None, None).unwrap();
            assert!(!s.query("Project").unwrap().is_empty());
            // The schema cache went to FTRACK_API_SCHEMA_CACHE_PATH, so a second
            // start is one request.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
            let before = sb.request_count();
            Session::new(None, None, None).unwrap();
            assert_eq!(sb.request_count() - before, 1);
        },
    );
}

#[test]
fn legacy_key_only_when_new_name_absent() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    let url = sb.url();
    with_env(
        &[
            ("FTRACK_SERVER", &url),
            ("FTRACK_APIKEY", sb.admin_key()),
            ("FTRACK_API_USER", sb.admin_user()),
        ],
        || {
            Session::new(None, None, None).unwrap();
        },
    );
    with_env(
        &[
            ("FTRACK_SERVER", &url),
            ("FTRACK_API_KEY", ""),
            ("FTRACK_APIKEY", sb.admin_key()),
            ("FTRACK_API_USER", sb.admin_user()),
        ],
        || {
            let (arg, var, _) = missing(Session::new(None, None, None).unwrap_err());
            assert_eq!((arg, var), ("api_key", "FTRACK_API_KEY"));
        },
    );
}

#[test]
fn api_user_falls_back_to_login_name() {
    let sb = Sandbox::start(SandboxConfig::demo()).unwrap();
    let url = sb.url();
    with_env(
        &[
            ("FTRACK_SERVER", &url),
            ("FTRACK_API_KEY", sb.admin_key()),
            ("USER", sb.admin_user()),
        ],
        || {
            Session::new(None, None, None).unwrap();
        },
    );
}

#[test]
fn each_missing_value_is_its_own_error() {
    with_env(&[], || {
        let (arg, var, msg) = missing(Session::new(None, Some("k"), Some("u")).unwrap_err());
        assert_eq!((arg, var), ("server_url", "FTRACK_SERVER"));
        assert!(
            msg.contains("server_url") && msg.contains("FTRACK_SERVER"),
            "{msg}"
        );

        let (arg, var, msg) =
            missing(Session::new(Some("http://127.0.0.1:9"), None, Some("u")).unwrap_err());
        assert_eq!((arg, var), ("api_key", "FTRACK_API_KEY"));
        assert!(msg.contains("FTRACK_API_KEY"), "{msg}");

        let (arg, var, msg) =
            missing(Session::new(Some("http://127.0.0.1:9"), Some("k"), None).unwrap_err());
        assert_eq!((arg, var), ("api_user", "FTRACK_API_USER"));
        assert!(msg.contains("FTRACK_API_USER"), "{msg}");

        // An explicit empty string is not replaced from the environment.
        let e = Session::new(Some(""), Some("k"), Some("u")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingConfiguration);
        let e = Session::new(Some("ftp://x"), Some("k"), Some("u")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    });
}
