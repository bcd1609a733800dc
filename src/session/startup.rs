//! Start-up: server information, the version check and the schema cache round trip.

use std::sync::{Arc, Mutex};

use super::replies::{json_answers, protocol};
use super::{Inner, Session, State};
use crate::config::{self, SessionOptions};
use crate::error::{Error, Result};
use crate::identity_map::IdentityMap;
use crate::schema::{self, Schema};
use crate::transport::{Idempotence, Transport};

/// Python's rule: "dev" passes; a version starting with MAJOR.MINOR.PATCH must be
/// at least 3.3.11; anything else passes.
fn version_ok(version: &str) -> bool {
    if version == "dev" {
        return true;
    }
    let mut nums = [0u64; 3];
    let mut parts = version.splitn(3, '.');
    for n in nums.iter_mut() {
        let Some(part) = parts.next() else {
            return true;
        };
        let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        match digits.parse() {
            Ok(v) => *n = v,
            Err(_) => return true,
        }
    }
    (nums[0], nums[1], nums[2]) >= (3, 3, 11)
}
impl Session {
    /// Creates a session. `None` arguments are read from the environment
    /// (`FTRACK_SERVER`, `FTRACK_API_KEY` or legacy `FTRACK_APIKEY`,
    /// `FTRACK_API_USER` or the login name). Sends one request (see
    /// [`Session::with_options`]).
    pub fn new(
        server_url: Option<&str>,
        api_key: Option<&str>,
        api_user: Option<&str>,
    ) -> Result<Session> {
        let mut o = SessionOptions::new();
        if let Some(v) = server_url {
            o = o.server_url(v);
        }
        if let Some(v) = api_key {
            o = o.api_key(v);
        }
        if let Some(v) = api_user {
            o = o.api_user(v);
        }
        Session::with_options(o)
    }

    /// Creates a session from options in one round trip: with a matching schema
    /// cache only `query_server_information` is sent, else it and `query_schemas`
    /// in one batch. Fails with `IncompatibleServer` for servers older than 3.3.11.
    pub fn with_options(options: SessionOptions) -> Result<Session> {
        let creds = config::resolve(&options)?;
        let server_url = creds.server_url.clone();
        let shown_url = config::redact_url(&server_url);
        let api_key = creds.api_key.clone();
        let hooks = crate::hooks::Hooks::new(options.logger.clone(), &api_key);
        let transport = Transport::new(&options, creds, hooks)?;
        // Files on disk are keyed by, and store, the URL without userinfo.
        let cache_url = config::without_userinfo(&server_url);
        let cache_path = config::schema_cache_dir(&options.schema_cache)
            .map(|d| schema::cache_file(&d, &cache_url));
        // The cached digest is small: parsing it before the request costs less
        // than handing it to a thread would (`cargo bench --bench core -- --start`),
        // and a file that cannot be used (another format, another server) then
        // costs no second request.
        let cached = cache_path
            .as_deref()
            .and_then(crate::atomic_file::read_own)
            .and_then(|bytes| schema::parse_cache(&bytes, &cache_url));
        let with_schemas = cached.is_none();
        let body: &[u8] = if with_schemas {
            br#"[{"action":"query_server_information"},{"action":"query_schemas"}]"#
        } else {
            br#"[{"action":"query_server_information"}]"#
        };
        let reply = transport.post(body, Idempotence::ReadOnly)?;
        let mut answers = json_answers(&reply, &api_key)?;
        if answers.is_empty() {
            return Err(protocol(&reply, "the server answered no result", &api_key));
        }
        let info = answers.remove(0);
        let version = info
            .get("version")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                Error::IncompatibleServer(format!(
                    "could not determine the version of the server at {shown_url}; \
                 check that server_url points at an ftrack server"
                ))
            })?;
        if !version_ok(version) {
            return Err(Error::IncompatibleServer(format!(
                "the server at {shown_url} runs ftrack {version}; libftrack needs 3.3.11 \
                 or newer: upgrade the server"
            )));
        }
        let hash = info.get("schema_hash").and_then(|v| v.as_str());
        let schema = match cached {
            Some((h, schema)) if Some(h.as_str()) == hash => schema,
            _ => {
                // No usable cache: the schemas came with the answer. A cache whose
                // hash is stale: fetch them now.
                let (reply, mut answers) = if with_schemas {
                    (reply, answers)
                } else {
                    let reply = transport
                        .post(br#"[{"action":"query_schemas"}]"#, Idempotence::ReadOnly)?;
                    let answers = json_answers(&reply, &api_key)?;
                    (reply, answers)
                };
                if answers.is_empty() {
                    return Err(protocol(&reply, "no schemas in the answer", &api_key));
                }
                let schemas = answers.remove(0);
                if !schemas.is_array() {
                    return Err(protocol(
                        &reply,
                        "query_schemas did not answer a list",
                        &api_key,
                    ));
                }
                let schema = Schema::from_json(&schemas);
                if let (Some(p), Some(h)) = (&cache_path, hash) {
                    schema::save_cache(p, &cache_url, h, &schema);
                }
                schema
            }
        };
        let mut map = IdentityMap::default();
        map.track_changes = options.persistent_cache.is_some();
        let persistent = options
            .persistent_cache
            .as_ref()
            .map(|p| crate::persistent_cache::PersistentCache::open(p, &server_url, &schema));
        let session = Session {
            inner: Arc::new(Inner {
                transport,
                server_info: info,
                state: Mutex::new(State {
                    schema,
                    map,
                    ops: Vec::new(),
                    in_flight: Vec::new(),
                    last_seq: 0,
                    removals: 0,
                    dirty: Vec::new(),
                    derived_edits: Default::default(),
                }),
                auto_populate: options.auto_populate.into(),
                record_operations: options.record_operations.into(),
                derived: Default::default(),
                options,
                persistent,
                writes: Default::default(),
                commit_lock: Mutex::new(()),
                extensions: Mutex::new(Vec::new()),
            }),
        };
        crate::event::session_started(&session);
        Ok(session)
    }
}
