//! Session options and their resolution from the environment.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// Where the schema cache file lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SchemaCache {
    /// `FTRACK_API_SCHEMA_CACHE_PATH` when set, else the per-user cache directory
    /// (`$XDG_CACHE_HOME`, `~/.cache`, `%LOCALAPPDATA%`, `~/Library/Caches`).
    #[default]
    Default,
    /// This directory.
    Path(PathBuf),
    /// No schema cache: every session start fetches the schemas.
    Disabled,
}

/// Options for [`crate::Session::with_options`]. A builder: every setter takes and
/// returns `self`. Unset credentials are read from the environment.
///
/// `Debug` never shows the API key.
#[derive(Clone)]
pub struct SessionOptions {
    pub(crate) server_url: Option<String>,
    pub(crate) api_key: Option<String>,
    pub(crate) api_user: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) cookies: Vec<(String, String)>,
    pub(crate) strict_api: bool,
    pub(crate) auto_populate: bool,
    pub(crate) record_operations: bool,
    pub(crate) schema_cache: SchemaCache,
    pub(crate) page_size: usize,
    pub(crate) max_concurrent_pages: usize,
    pub(crate) max_attempts: u32,
    pub(crate) retry_delay: Duration,
    pub(crate) ca_bundle: Option<PathBuf>,
    pub(crate) persistent_cache: Option<PathBuf>,
    pub(crate) idempotent_role_changes: bool,
    pub(crate) allow_insecure_http: bool,
    pub(crate) max_reply_bytes: u64,
    pub(crate) request_deadline: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) logger: Option<crate::hooks::Logger>,
    pub(crate) auto_connect_event_hub: bool,
    pub(crate) event_hub: crate::event::EventHubOptions,
    pub(crate) plugins: Vec<(String, crate::event::Plugin)>,
    pub(crate) plugin_paths: Option<Vec<PathBuf>>,
    pub(crate) plugin_arguments: serde_json::Value,
    pub(crate) security_roles_all_open_projects: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            server_url: None,
            api_key: None,
            api_user: None,
            timeout: Duration::from_secs(60),
            headers: Vec::new(),
            cookies: Vec::new(),
            strict_api: false,
            auto_populate: true,
            record_operations: true,
            schema_cache: SchemaCache::Default,
            page_size: 500,
            max_concurrent_pages: 4,
            max_attempts: 4,
            retry_delay: Duration::from_millis(200),
            ca_bundle: None,
            persistent_cache: None,
            idempotent_role_changes: false,
            allow_insecure_http: false,
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
            request_deadline: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(10),
            logger: None,
            auto_connect_event_hub: false,
            event_hub: crate::event::EventHubOptions::default(),
            plugins: Vec::new(),
            plugin_paths: None,
            plugin_arguments: serde_json::Value::Object(Default::default()),
            security_roles_all_open_projects: false,
        }
    }
}

impl fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionOptions")
            .field("server_url", &self.server_url.as_deref().map(redact_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api_user", &self.api_user)
            .field("timeout", &self.timeout)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field(
                "cookies",
                &self.cookies.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("strict_api", &self.strict_api)
            .field("auto_populate", &self.auto_populate)
            .field("record_operations", &self.record_operations)
            .field("schema_cache", &self.schema_cache)
            .field("page_size", &self.page_size)
            .field("max_concurrent_pages", &self.max_concurrent_pages)
            .field("max_attempts", &self.max_attempts)
            .field("retry_delay", &self.retry_delay)
            .field("ca_bundle", &self.ca_bundle)
            .field("persistent_cache", &self.persistent_cache)
            .field("idempotent_role_changes", &self.idempotent_role_changes)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("max_reply_bytes", &self.max_reply_bytes)
            .field("request_deadline", &self.request_deadline)
            .field("connect_timeout", &self.connect_timeout)
            .field("logger", &self.logger)
            .field("auto_connect_event_hub", &self.auto_connect_event_hub)
            .field("event_hub", &self.event_hub)
            .field(
                "plugins",
                &self.plugins.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("plugin_paths", &self.plugin_paths)
            .field(
                "security_roles_all_open_projects",
                &self.security_roles_all_open_projects,
            )
            .finish_non_exhaustive()
    }
}

impl SessionOptions {
    /// Default options: everything from the environment, 60 s timeout, auto-populate
    /// and operation recording on, default schema cache, page size 500, 4 attempts.
    pub fn new() -> Self {
        Self::default()
    }
    /// The server URL, e.g. `https://studio.ftrackapp.com` (else `FTRACK_SERVER`).
    pub fn server_url(mut self, url: impl Into<String>) -> Self {
        self.server_url = Some(url.into());
        self
    }
    /// The API key (else `FTRACK_API_KEY`, or the legacy `FTRACK_APIKEY`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }
    /// The API user (else `FTRACK_API_USER`, or the login name).
    pub fn api_user(mut self, user: impl Into<String>) -> Self {
        self.api_user = Some(user.into());
        self
    }
    /// Timeout for connecting and for waiting for each answer (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// An extra HTTP header sent with every request.
    ///
    /// The extra headers and cookies, with the server URL and the
    /// credentials, must leave a request head under 32 KiB: creating the
    /// session fails with [`crate::Error::InvalidArgument`] otherwise.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// A cookie sent with every request.
    ///
    /// The extra headers and cookies, with the server URL and the
    /// credentials, must leave a request head under 32 KiB: creating the
    /// session fails with [`crate::Error::InvalidArgument`] otherwise.
    pub fn cookie(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.cookies.push((name.into(), value.into()));
        self
    }
    /// Strict API mode (`ftrack-strict-api: true`; default false, always sent).
    pub fn strict_api(mut self, strict: bool) -> Self {
        self.strict_api = strict;
        self
    }
    /// Fetch attributes that are not loaded yet when read (default true).
    pub fn auto_populate(mut self, on: bool) -> Self {
        self.auto_populate = on;
        self
    }
    /// Record changes as pending operations for `commit` (default true).
    pub fn record_operations(mut self, on: bool) -> Self {
        self.record_operations = on;
        self
    }
    /// Where to keep the schema cache file.
    pub fn schema_cache(mut self, cache: SchemaCache) -> Self {
        self.schema_cache = cache;
        self
    }
    /// Rows per query page (default 500; 0 is treated as 1).
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = size.max(1);
        self
    }
    /// Page requests of one query on the wire at once (default 4; 0 is treated
    /// as 1, one page after the other). The first page goes alone; once it
    /// says more rows follow, the next pages are requested `n - 1` ahead at the
    /// offsets paging will ask for, so the server's latency and its work
    /// overlap with decoding. A page requested ahead is also decoded on the
    /// thread that fetched it (up to `n - 1` such threads per query, each
    /// taking one page after another), while the calling thread merges the
    /// pages before it into the cache in order. At the end of a result at most
    /// `n - 1` requests for pages past it were sent (they answer no rows);
    /// fewer once the last page is decoded before the loop reaches it, since
    /// nothing past it is requested after that.
    pub fn max_concurrent_pages(mut self, n: usize) -> Self {
        self.max_concurrent_pages = n.max(1);
        self
    }
    /// Attempts per request including the first (default 4; 1 disables retries).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }
    /// Base delay of the exponential retry back-off (default 200 ms).
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }
    /// A PEM file of CA certificates to trust instead of the platform's, for the
    /// HTTPS requests and the event hub's `wss://` connection (read when the
    /// session starts, and again by each connection attempt of the hub).
    pub fn ca_bundle(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_bundle = Some(path.into());
        self
    }
    /// A JSON file used as a persistent entity cache under the in-memory one.
    pub fn persistent_cache(mut self, path: impl Into<PathBuf>) -> Self {
        self.persistent_cache = Some(path.into());
        self
    }
    /// With `true`, security-role changes that would be no-ops (append a role the
    /// user holds, remove one they do not, grant a granted project, revoke one not
    /// granted) are skipped instead of refused: the default of every
    /// [`crate::roles::Roles`] of the session (see [`crate::roles::Roles::idempotent`]).
    /// Off by default.
    pub fn idempotent_role_changes(mut self, on: bool) -> Self {
        self.idempotent_role_changes = on;
        self
    }

    /// Allows `http://` to a host that is not loopback (`127.0.0.0/8`, `::1`,
    /// `localhost`). Off by default: the API key would travel in clear text.
    pub fn allow_insecure_http(mut self, on: bool) -> Self {
        self.allow_insecure_http = on;
        self
    }

    /// The largest reply accepted, in bytes (default 256 MiB); a larger one fails
    /// with a protocol error that says so, instead of exhausting memory. Page big
    /// queries (`page_size`) rather than raising it far.
    pub fn max_reply_bytes(mut self, bytes: u64) -> Self {
        self.max_reply_bytes = bytes.max(1);
        self
    }

    /// The longest one request may take from start to end, whatever its phases
    /// (default 600 s). `timeout` bounds each phase (connect, each read, each
    /// write); this bounds their sum, so a server that trickles bytes cannot hold
    /// a call forever.
    pub fn request_deadline(mut self, deadline: Duration) -> Self {
        self.request_deadline = deadline;
        self
    }

    /// How long establishing a connection (TCP, proxy, TLS) may take (default
    /// 10 s, never more than `timeout`). Separate from `timeout` so a host can fail
    /// fast on an unreachable server yet wait long for a slow answer.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sends log lines of `level` and more severe to `log` (see
    /// [`crate::hooks`]): requests, retries and warnings, from session start-up on.
    pub fn logger(mut self, level: crate::hooks::LogLevel, log: crate::hooks::LogFn) -> Self {
        self.logger = Some(crate::hooks::Logger { level, log });
        self
    }

    /// Connects the session's event hub when the session starts (in the
    /// background: the session does not wait for it; see [`crate::event`]).
    pub fn auto_connect_event_hub(mut self, on: bool) -> Self {
        self.auto_connect_event_hub = on;
        self
    }

    /// Reconnection, queue and threading settings of the event hub.
    pub fn event_hub_options(mut self, options: crate::event::EventHubOptions) -> Self {
        self.event_hub = options;
        self
    }

    /// Registers a plugin: `register` runs when the session has started,
    /// before `ftrack.api.session.ready` is published locally, so it can
    /// subscribe to that event. A plugin returning `Err` (or panicking) is
    /// logged and skipped.
    pub fn plugin(mut self, name: impl Into<String>, register: crate::event::Plugin) -> Self {
        self.plugins.push((name.into(), register));
        self
    }

    /// Directories searched (recursively) for plugins by the layers that
    /// load them (the C ABI loads shared libraries; see the README). When
    /// never set, `FTRACK_EVENT_PLUGIN_PATH` is used (see
    /// [`SessionOptions::plugin_search_paths`]).
    pub fn plugin_paths(mut self, paths: Vec<PathBuf>) -> Self {
        self.plugin_paths = Some(paths);
        self
    }

    /// Arguments handed to every plugin when it registers (a JSON object).
    pub fn plugin_arguments(mut self, arguments: serde_json::Value) -> Self {
        self.plugin_arguments = arguments;
        self
    }

    /// The plugin directories: those given to [`SessionOptions::plugin_paths`],
    /// else the entries of `FTRACK_EVENT_PLUGIN_PATH` (separated by `:`, `;` on Windows).
    pub fn plugin_search_paths(&self) -> Vec<PathBuf> {
        match &self.plugin_paths {
            Some(p) => p.clone(),
            None => std::env::var_os("FTRACK_EVENT_PLUGIN_PATH")
                .map(|v| {
                    std::env::split_paths(&v)
                        .filter(|p| !p.as_os_str().is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The plugin directories given to [`SessionOptions::plugin_paths`], if any.
    pub fn plugin_search_paths_given(&self) -> Option<Vec<PathBuf>> {
        self.plugin_paths.clone()
    }

    /// The arguments for plugins (see [`SessionOptions::plugin_arguments`]).
    pub fn plugin_arguments_json(&self) -> &serde_json::Value {
        &self.plugin_arguments
    }

    /// Whether the event hub connects when the session starts.
    pub fn auto_connects_event_hub(&self) -> bool {
        self.auto_connect_event_hub
    }

    /// The scope of a role appended through the derived collection
    /// `User.security_roles` (`user.collection_append("security_roles", role)`,
    /// `user['security_roles'].append(role)` in Python): with `true` the role
    /// covers every open project; with `false` (the default, least privilege) it
    /// covers no project until one is granted. The roles API's
    /// [`crate::roles::Roles::append`] takes the scope explicitly instead.
    pub fn security_roles_all_open_projects(mut self, on: bool) -> Self {
        self.security_roles_all_open_projects = on;
        self
    }

    /// The scope given to roles appended through `User.security_roles` (see
    /// [`SessionOptions::security_roles_all_open_projects`]).
    pub fn appended_roles_cover_all_open_projects(&self) -> bool {
        self.security_roles_all_open_projects
    }

    /// Whether role changes skip no-ops by default (see
    /// [`SessionOptions::idempotent_role_changes`]).
    pub fn role_changes_are_idempotent(&self) -> bool {
        self.idempotent_role_changes
    }
}

/// Resolved credentials. `Debug` never shows the key.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub server_url: String,
    pub api_key: String,
    pub api_user: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("server_url", &redact_url(&self.server_url))
            .field("api_key", &"<redacted>")
            .field("api_user", &self.api_user)
            .finish()
    }
}

/// `url` as it may be shown in messages and `Debug`: a password or token in the
/// userinfo (`https://user:secret@host`) is replaced by `<redacted>`, as is the
/// user name with it. Every place that shows the server URL goes through this.
/// `url` without its userinfo (`https://user:secret@host` → `https://host`): what
/// files on disk may store and be keyed by.
pub(crate) fn without_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &url[..start], &url[start + at + 1..]),
        None => url.to_owned(),
    }
}

pub(crate) fn redact_url(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &url[..start], &url[start + at..]),
        None => url.to_owned(),
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn missing(argument: &'static str, variable: &'static str, extra: &str) -> Error {
    Error::MissingConfiguration {
        argument,
        variable,
        message: format!(
            "no {argument} given: pass it as the {argument} argument or set the \
             {variable} environment variable{extra}"
        ),
    }
}

/// The default of [`SessionOptions::max_reply_bytes`]: 256 MiB.
pub const DEFAULT_MAX_REPLY_BYTES: u64 = 256 * 1024 * 1024;

/// Whether `url` (`http://host[:port]...`) names a loopback host.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Resolves the three credentials from the options, then the environment.
/// An explicitly given empty string is not replaced from the environment; it fails.
pub(crate) fn resolve(options: &SessionOptions) -> Result<Credentials> {
    let server_url = match &options.server_url {
        Some(v) => v.clone(),
        None => std::env::var("FTRACK_SERVER").unwrap_or_default(),
    };
    let server_url = server_url.trim().trim_end_matches('/').to_owned();
    if server_url.is_empty() {
        return Err(missing("server_url", "FTRACK_SERVER", ""));
    }
    if !(server_url.starts_with("http://") || server_url.starts_with("https://")) {
        return Err(Error::InvalidArgument(format!(
            "server_url \"{}\" must start with http:// or https://, \
             e.g. https://studio.ftrackapp.com",
            redact_url(&server_url)
        )));
    }
    if server_url.starts_with("http://")
        && !options.allow_insecure_http
        && !is_loopback_url(&server_url)
    {
        return Err(Error::InvalidArgument(format!(
            "server_url \"{}\" is plain http:// to a host that is not this machine: the API \
             key would travel in clear text. Use https://, or allow it explicitly with \
             SessionOptions::allow_insecure_http (ftrack_session_options_set_allow_insecure_http \
             in C) on a network you trust",
            redact_url(&server_url)
        )));
    }
    let api_key = match &options.api_key {
        Some(v) => v.clone(),
        None => match std::env::var_os("FTRACK_API_KEY") {
            Some(v) => v.to_string_lossy().into_owned(),
            None => std::env::var("FTRACK_APIKEY").unwrap_or_default(),
        },
    };
    if api_key.is_empty() {
        return Err(missing(
            "api_key",
            "FTRACK_API_KEY",
            " (the legacy FTRACK_APIKEY is read only when FTRACK_API_KEY is absent)",
        ));
    }
    let api_user = match &options.api_user {
        Some(v) => v.clone(),
        None => env_nonempty("FTRACK_API_USER")
            .or_else(login_name)
            .unwrap_or_default(),
    };
    if api_user.is_empty() {
        return Err(missing(
            "api_user",
            "FTRACK_API_USER",
            " (the login name from LOGNAME, USER, LNAME or USERNAME is used otherwise)",
        ));
    }
    Ok(Credentials {
        server_url,
        api_key,
        api_user,
    })
}

/// The login name, as Python's `getpass.getuser()` finds it.
fn login_name() -> Option<String> {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|v| env_nonempty(v))
}

/// The per-user cache directory.
pub(crate) fn user_cache_dir() -> Option<PathBuf> {
    if let Some(d) = env_nonempty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d));
    }
    if cfg!(windows) {
        return env_nonempty("LOCALAPPDATA").map(PathBuf::from);
    }
    let home = env_nonempty("HOME")?;
    if cfg!(target_os = "macos") {
        Some(PathBuf::from(home).join("Library").join("Caches"))
    } else {
        Some(PathBuf::from(home).join(".cache"))
    }
}

/// The schema cache directory the options designate, or `None` when disabled.
pub(crate) fn schema_cache_dir(cache: &SchemaCache) -> Option<PathBuf> {
    match cache {
        SchemaCache::Disabled => None,
        SchemaCache::Path(p) => Some(p.clone()),
        SchemaCache::Default => env_nonempty("FTRACK_API_SCHEMA_CACHE_PATH")
            .map(PathBuf::from)
            .or_else(user_cache_dir),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_recognised() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3/api",
            "http://localhost",
            "http://LOCALHOST:1/x",
            "http://[::1]:99",
            "http://user:pw@127.0.0.1:5",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "http://studio.example.com",
            "http://10.0.0.1:80",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example",
            "http://[::2]",
            "http://127.0.0.1@evil.example",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn plain_http_to_another_host_is_refused_unless_allowed() {
        let opts = SessionOptions::new()
            .server_url("http://studio.example.com")
            .api_key("k")
            .api_user("u");
        let e = resolve(&opts).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("clear text"), "{e}");
        assert!(resolve(&opts.clone().allow_insecure_http(true)).is_ok());
        assert!(
            resolve(
                &SessionOptions::new()
                    .server_url("https://studio.example.com")
                    .api_key("k")
                    .api_user("u")
            )
            .is_ok()
        );
    }

    #[test]
    fn urls_are_shown_without_userinfo() {
        assert_eq!(
            redact_url("https://user:pass@studio.ftrackapp.com/x?a=b@c"),
            "https://<redacted>@studio.ftrackapp.com/x?a=b@c"
        );
        assert_eq!(redact_url("http://tok@h:1"), "http://<redacted>@h:1");
        assert_eq!(redact_url("u:p@host"), "<redacted>@host");
        assert_eq!(
            redact_url("https://studio.ftrackapp.com/a@b"),
            "https://studio.ftrackapp.com/a@b"
        );
        assert_eq!(redact_url("http://127.0.0.1:80"), "http://127.0.0.1:80");
        let secret = "https://user:S3CRET@h";
        let o = SessionOptions::new().server_url(secret);
        assert!(!format!("{o:?}").contains("S3CRET"));
        let c = Credentials {
            server_url: secret.into(),
            api_key: "k".into(),
            api_user: "u".into(),
        };
        assert!(!format!("{c:?}").contains("S3CRET"));
        let e = resolve(&SessionOptions::new().server_url("ftp://user:S3CRET@h"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("<redacted>@h") && !e.contains("S3CRET"), "{e}");
    }

    #[test]
    fn debug_hides_key() {
        let o = SessionOptions::new()
            .api_key("SECRET-KEY-123")
            .header("x", "y");
        let d = format!("{o:?}");
        assert!(!d.contains("SECRET-KEY-123"), "{d}");
        let c = Credentials {
            server_url: "http://x".into(),
            api_key: "SECRET-KEY-123".into(),
            api_user: "u".into(),
        };
        assert!(!format!("{c:?}").contains("SECRET-KEY-123"));
    }

    #[test]
    fn explicit_values_resolve_without_env() {
        let o = SessionOptions::new()
            .server_url("http://127.0.0.1:1/")
            .api_key("k")
            .api_user("u");
        let c = resolve(&o).unwrap();
        assert_eq!(c.server_url, "http://127.0.0.1:1");
        let e = resolve(&o.clone().api_key("")).unwrap_err();
        assert!(matches!(
            e,
            Error::MissingConfiguration {
                argument: "api_key",
                variable: "FTRACK_API_KEY",
                ..
            }
        ));
    }
}
