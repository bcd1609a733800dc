//! Shared by the Rust integration tests of the core and the roles API: a demo
//! sandbox on 127.0.0.1:0 and sessions on it (schema cache disabled, so every
//! test starts cold and counts its own requests).
// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use ftrack::{SchemaCache, Session, SessionOptions};
use ftrack_sandbox::{Sandbox, SandboxConfig};

/// Starts the sandbox with the demo studio.
pub fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::demo()).expect("sandbox starts")
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
