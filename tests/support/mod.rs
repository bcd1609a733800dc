//! Shared by the Rust integration tests of the core and the roles API: a demo
//! sandbox on 127.0.0.1:0 and sessions on it (schema cache disabled, so every
//! test starts cold and counts its own requests).
// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

pub mod events;

use ftrack::{SchemaCache, Session, SessionOptions};
use ftrack_sandbox::{Sandbox, SandboxConfig, Seed, SeedData};

/// Starts the sandbox with the demo studio.
pub fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::demo()).expect("sandbox starts")
}

/// Starts the sandbox with the demo studio and `users` generated users more
/// (`SeedData::synthetic`).
pub fn synthetic_sandbox(users: usize) -> Sandbox {
    Sandbox::start(SandboxConfig {
        seed: Seed::Data(SeedData::synthetic(users)),
        ..SandboxConfig::demo()
    })
    .expect("sandbox starts")
}

/// Options for the demo user `user` (API key `demo-key-<user>`).
pub fn options_as(sb: &Sandbox, user: &str) -> SessionOptions {
    SessionOptions::new()
        .server_url(sb.url())
        .api_key(format!("demo-key-{user}"))
        .api_user(user)
        .schema_cache(SchemaCache::Disabled)
}

/// Options for the sandbox's administrator.
pub fn admin_options(sb: &Sandbox) -> SessionOptions {
    SessionOptions::new()
        .server_url(sb.url())
        .api_key(sb.admin_key())
        .api_user(sb.admin_user())
        .schema_cache(SchemaCache::Disabled)
}

/// A session as the demo user `user`.
pub fn session_as(sb: &Sandbox, user: &str) -> Session {
    Session::with_options(options_as(sb, user)).expect("session starts")
}

/// A session as the sandbox's administrator.
pub fn admin(sb: &Sandbox) -> Session {
    Session::with_options(admin_options(sb)).expect("session starts")
}

/// A server that answers session start-up, then reads every later request and
/// never answers it.
pub fn silent_after_start() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = std::io::BufReader::new(conn);
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if std::io::BufRead::read_line(&mut r, &mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    if std::io::Read::read_exact(&mut r, &mut body).is_err() {
                        return;
                    }
                    if !String::from_utf8_lossy(&body).contains("query_server_information") {
                        // Keep the connection open and say nothing, for a long time.
                        std::thread::sleep(std::time::Duration::from_secs(60));
                        return;
                    }
                    let reply = br#"[{"version": "4.13.8", "schema_hash": "x"}, [{"id": "User", "primary_key": ["id"], "properties": {"id": {"type": "string"}, "username": {"type": "string"}}}]]"#;
                    let head =
                        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", reply.len());
                    if std::io::Write::write_all(&mut w, head.as_bytes()).is_err()
                        || std::io::Write::write_all(&mut w, reply).is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    url
}
