//! Queries: sending expressions, paging through results, fetching entities by key.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use super::replies::{protocol, protocol_parts, server_error, status_or_protocol};
use super::{Inner, Session};
use crate::decode::{self, Answer, Decoded, Expect, Staged};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::identity_map::key_of_id;
use crate::query;
use crate::schema::Keys;
use crate::transport::{Idempotence, Reply};

/// How many ids one chunked query carries.
const ID_CHUNK: usize = 500;

impl Session {
    /// Every entity matching `expression` (all pages). Default projections are
    /// injected when the expression has no `select`.
    pub fn query(&self, expression: &str) -> Result<Vec<Entity>> {
        let prepared = self.inner.prepare(expression)?;
        let (base, offset, limit) = query::split_paging(&prepared)?;
        self.inner.query_pages(&base, offset.unwrap_or(0), limit)
    }

    /// The first match (`limit 1`), or `None`.
    pub fn query_first(&self, expression: &str) -> Result<Option<Entity>> {
        let prepared = self.inner.prepare(expression)?;
        let (base, offset, limit) = query::split_paging(&prepared)?;
        if limit.is_some() {
            return Err(Error::InvalidArgument(
                "query_first adds \"limit 1\" itself; remove the limit from the expression".into(),
            ));
        }
        let expr = match offset {
            Some(o) => format!("{base} offset {o} limit 1"),
            None => format!("{base} limit 1"),
        };
        Ok(self.inner.query_once(&expr)?.0.into_iter().next())
    }

    /// Exactly one match (`limit 2`): `Error::NotFound` when none,
    /// `Error::MultipleResults` when several.
    pub fn query_one(&self, expression: &str) -> Result<Entity> {
        let prepared = self.inner.prepare(expression)?;
        let (base, offset, limit) = query::split_paging(&prepared)?;
        if offset.is_some() || limit.is_some() {
            return Err(Error::InvalidArgument(
                "query_one cannot be combined with offset or limit; remove them".into(),
            ));
        }
        let mut rows = self.inner.query_once(&format!("{base} limit 2"))?.0;
        match rows.len() {
            0 => Err(Error::NotFound(format!(
                "no entity matches \"{expression}\"; check the criteria, or use query_first to \
                 accept no result"
            ))),
            1 => Ok(rows.remove(0)),
            _ => Err(Error::MultipleResults(format!(
                "more than one entity matches \"{expression}\"; narrow the criteria, or use \
                 query_first / query"
            ))),
        }
    }

    /// The entities of `entity_type` with these ids, with `projections` loaded,
    /// querying in chunks so that expressions stay short. Order follows the server.
    pub fn query_by_ids(
        &self,
        entity_type: &str,
        projections: &[&str],
        ids: &[&str],
    ) -> Result<Vec<Entity>> {
        let (pk, proj) = {
            let st = self.inner.lock();
            let tid = st.schema.require_type(entity_type)?;
            let info = st.schema.ty(tid);
            let proj = if projections.is_empty() {
                info.default_projections.join(", ")
            } else {
                projections.join(", ")
            };
            (info.primary_key.clone(), proj)
        };
        let keys: Vec<String> = ids.iter().map(|i| key_of_id(i)).collect();
        self.inner.fetch_keys(entity_type, &pk, &keys, &proj)
    }

    /// The entity from the identity map (or the persistent cache), else from the
    /// server; `None` when it does not exist.
    pub fn get(&self, entity_type: &str, id: &str) -> Result<Option<Entity>> {
        let key = key_of_id(id);
        {
            let mut st = self.inner.lock();
            let tid = st.schema.require_type(entity_type)?;
            if let Some(slot) = st.map.find(tid, &key) {
                return Ok(Some(self.inner.entity_from(slot)));
            }
            if let Some(p) = &self.inner.persistent {
                let st = &mut *st;
                if let Some(slot) = p.fetch(&mut st.schema, &mut st.map, entity_type, &key) {
                    return Ok(Some(self.inner.entity_from(slot)));
                }
            }
        }
        Ok(self
            .query_by_ids(entity_type, &[], &[id])?
            .into_iter()
            .next())
    }

    /// Merges a raw query answer (the bytes of a `[{"action": "query", "data": [...],
    /// ...}]` reply, e.g. saved from [`Session::call`] or read from a file) into the
    /// identity map and returns its rows, exactly as [`Session::query`] would for one
    /// page. Server error objects become typed errors.
    pub fn merge_query_response(&self, body: &[u8]) -> Result<Vec<Entity>> {
        let key = self.inner.key();
        // Decoded before the session is locked (see crate::decode).
        let keys = self.inner.lock().schema.keys();
        let staged = decode::decode(body, &[Expect::Query], &keys)
            .map_err(|e| protocol_parts(200, body, &e.to_string(), key))?;
        let slots = {
            let mut st = self.inner.lock();
            let st = &mut *st;
            let (decoded, _) = staged.merge(&mut st.schema, &mut st.map);
            match decoded {
                Decoded::Error(m) => return Err(server_error(200, m, key)),
                Decoded::Answers(mut a) if !a.is_empty() => match a.swap_remove(0) {
                    Answer::Query { slots, .. } => slots,
                    _ => return Err(protocol_parts(200, body, "no query result", key)),
                },
                Decoded::Answers(_) => {
                    return Err(protocol_parts(200, body, "no query result", key));
                }
            }
        };
        Ok(slots
            .into_iter()
            .map(|s| self.inner.entity_from(s))
            .collect())
    }
}

impl Inner {
    /// The expression as sent: default projections added, derived collections
    /// rewritten to the attributes they are derived from.
    pub(super) fn prepare(&self, expression: &str) -> Result<String> {
        let (expr, ty) = {
            let st = self.lock();
            query::prepare(expression, &st.schema)?
        };
        let rules: Vec<query::DerivedPath> = self
            .derived_list()
            .iter()
            .filter(|d| d.entity_type() == ty)
            .map(|d| query::DerivedPath {
                name: d.name().to_owned(),
                through: d.through().to_owned(),
                item: d.item().to_owned(),
            })
            .collect();
        Ok(query::rewrite_derived(&expr, &rules))
    }

    /// Sends one query and merges its rows: (entities, next offset, the result id
    /// the rows were decoded into).
    pub(super) fn query_once_slots(&self, expr: &str) -> Result<(Vec<u32>, Option<u64>, u32)> {
        let keys = self.lock().schema.keys();
        let page = self.fetch_page(expr)?;
        self.merge_page(page, &keys)
    }

    /// Sends one query; its reply is not decoded yet.
    fn fetch_page(&self, expr: &str) -> Result<Page> {
        let op = serde_json::json!([{"action": "query", "expression": expr}]);
        let body = serde_json::to_vec(&op).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        let reply = self.transport.post(&body, Idempotence::ReadOnly)?;
        Ok(Page {
            reply,
            staged: None,
        })
    }

    /// Merges a decoded reply into the identity map: (entities, next offset,
    /// the result id the rows were decoded into).
    fn merge_page(&self, page: Page, keys: &Keys) -> Result<(Vec<u32>, Option<u64>, u32)> {
        let (reply, staged) = page.decode(keys);
        let reply = &reply;
        let staged = staged.map_err(|e| status_or_protocol(reply, &e, self.key()))?;
        let (decoded, result) = {
            let mut st = self.lock();
            let st = &mut *st;
            staged.merge(&mut st.schema, &mut st.map)
        };
        match decoded {
            Decoded::Error(m) => Err(server_error(reply.status, m, self.key())),
            Decoded::Answers(mut a) if reply.status < 300 && !a.is_empty() => {
                match a.swap_remove(0) {
                    Answer::Query { slots, next_offset } => Ok((slots, next_offset, result)),
                    _ => Err(protocol(reply, "no query result", self.key())),
                }
            }
            Decoded::Answers(_) => Err(status_or_protocol(reply, "no query result", self.key())),
        }
    }

    fn query_once(self: &Arc<Self>, expr: &str) -> Result<(Vec<Entity>, Option<u64>)> {
        let (slots, next, _) = self.query_once_slots(expr)?;
        Ok((
            slots.into_iter().map(|s| self.entity_from(s)).collect(),
            next,
        ))
    }

    /// Pages through `base` (an expression without offset/limit), `page` rows per
    /// request (the session's page size when `None`).
    pub(super) fn query_pages(
        self: &Arc<Self>,
        base: &str,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<Vec<Entity>> {
        let page = (self.options.page_size.max(1) as u64)
            .min(limit.unwrap_or(u64::MAX))
            .max(1);
        let hooks = self.transport.hooks().clone();
        let token = hooks.token();
        token.during(|| self.query_pages_in(base, offset, limit, page, &hooks, &token))
    }

    /// The paging loop. The first page is fetched alone. Once a page's reply
    /// says more rows follow (its next offset, read from the bytes), the pages
    /// after it are requested ahead, each on its own connection, by the
    /// [`Fetchers`], so that up to `max_concurrent_pages` requests are in
    /// flight and their replies decoded (see [`decode::decode`]) while this
    /// thread merges the pages in order. A page whose offset differs from the one the server
    /// announces is discarded and the announced one fetched. A fetcher that
    /// decodes the last page (no next offset) says so at once: nothing past it
    /// is requested from then on, so the requests that are sent past the end
    /// are only those already in flight when it arrived.
    fn query_pages_in(
        self: &Arc<Self>,
        base: &str,
        offset: u64,
        limit: Option<u64>,
        page: u64,
        hooks: &crate::hooks::Hooks,
        token: &crate::hooks::CallToken,
    ) -> Result<Vec<Entity>> {
        let expr = |off: u64| format!("{base} offset {off} limit {page}");
        let window = self.options.max_concurrent_pages.max(1);
        // Whether a page at `at` may hold rows the caller asked for.
        let wanted = |at: u64| limit.is_none_or(|l| at - offset < l);
        let mut out: Vec<Entity> = Vec::new();
        let mut seen: crate::schema::FastMap<u32, ()> = Default::default();
        let mut off = offset;
        // The pages of one query form one result, so auto-populate (and derived
        // collections) cover every row of the query in one request.
        let mut first_result: Option<u32> = None;
        let keys = self.lock().schema.keys();
        let keys = &*keys;
        // The offset of the last page, once a fetcher has decoded it (made
        // before the jobs queue: the jobs borrow it).
        let last = AtomicU64::new(u64::MAX);
        let last = &last;
        let (queue, jobs) = mpsc::channel();
        let jobs = Mutex::new(jobs);
        std::thread::scope(|scope| {
            // Closed before the last page merges, or dropped when this closure
            // returns: either lets the fetchers end.
            let mut fetchers = Fetchers {
                queue: Some(queue),
                jobs: &jobs,
                started: 0,
            };
            let mut ahead = std::collections::VecDeque::new();
            // The offset of the next page to request ahead, once known.
            let mut next_ahead: Option<u64> = None;
            let mut reply = self.fetch_page(&expr(off));
            loop {
                if token.cancelled() {
                    return Err(Error::Cancelled { sent: false });
                }
                let current = reply?;
                if next_ahead.is_none() {
                    next_ahead = peek_next_offset(&current.reply.body).filter(|&n| n > off);
                }
                while ahead.len() + 1 < window
                    && let Some(at) =
                        next_ahead.filter(|&at| wanted(at) && at < last.load(Ordering::Relaxed))
                {
                    let (e, t) = (expr(at), token.clone());
                    ahead.push_back((
                        at,
                        fetchers.submit(scope, window - 1, move || {
                            let page = t.during(|| self.fetch_page(&e)).map(|p| p.decoded(keys));
                            if page.as_ref().is_ok_and(Page::is_last) {
                                last.fetch_min(at, Ordering::Relaxed);
                            }
                            page
                        }),
                    ));
                    next_ahead = Some(at + page);
                }
                if current.is_last() {
                    fetchers.close();
                }
                let (slots, next, result) = self.merge_page(current, keys)?;
                match first_result {
                    Some(first) => self.lock().map.merge_result(first, result),
                    None => first_result = Some(result),
                }
                let got = slots.len() as u64;
                check_page_is_new(&mut seen, &slots, next, off, base)?;
                out.extend(slots.into_iter().map(|s| self.entity_from(s)));
                if !hooks.progress("query", out.len() as u64, None) {
                    return Err(Error::Cancelled { sent: false });
                }
                if let Some(l) = limit
                    && out.len() as u64 >= l
                {
                    out.truncate(l as usize);
                    return Ok(out);
                }
                match next {
                    Some(n) if got > 0 && n > off => {
                        off = n;
                        reply = match ahead.pop_front() {
                            Some((at, fetched)) if at == n => fetched.recv().unwrap_or_else(|_| {
                                Err(Error::Internal("a page fetch panicked".into()))
                            }),
                            // The server pages differently from the guess: drop
                            // what was requested ahead and follow the server.
                            _ => {
                                ahead.clear();
                                next_ahead = None;
                                self.fetch_page(&expr(n))
                            }
                        };
                    }
                    _ => return Ok(out),
                }
            }
        })
    }

    /// `select <projections> from <ty> where <keys>`, in chunks of [`ID_CHUNK`] keys
    /// so that expressions stay short; the entities in the server's order.
    pub(super) fn fetch_keys(
        self: &Arc<Self>,
        ty: &str,
        pk: &[String],
        keys: &[String],
        projections: &str,
    ) -> Result<Vec<Entity>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(ID_CHUNK) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let expr = format!(
                "select {projections} from {ty} where {}",
                query::key_condition(pk, &refs)
            );
            out.extend(self.query_pages(&expr, 0, None)?);
        }
        Ok(out)
    }
}

/// A page fetch (and decode) handed to a [`Fetchers`] thread; `'j` is what it
/// borrows (the session, the schema's keys).
type Job<'j> = Box<dyn FnOnce() + Send + 'j>;

/// The threads that fetch and decode the pages requested ahead. They are
/// started as the window first needs them and then take one page after
/// another, rather than a thread per page: a new thread costs its stack's
/// mapping and unmapping, a fresh allocator cache and a scheduler round trip
/// (on the 10,000-row query their end took an eighth off the client's time).
struct Fetchers<'q, 'j> {
    /// Where jobs are queued; dropping it ends the threads once they are idle
    /// (`None` once [`Fetchers::close`]d).
    queue: Option<mpsc::Sender<Job<'j>>>,
    /// Where the threads take them from, one thread waiting at a time.
    jobs: &'q Mutex<mpsc::Receiver<Job<'j>>>,
    /// The threads started so far.
    started: usize,
}

impl<'q, 'j> Fetchers<'q, 'j> {
    /// Runs `fetch` on a fetcher thread (one more is started while fewer than
    /// `most` run); its result arrives on the receiver returned, or the
    /// receiver's sender is dropped if it panicked.
    fn submit<'scope, 'env, T: Send + 'j>(
        &mut self,
        scope: &'scope std::thread::Scope<'scope, 'env>,
        most: usize,
        fetch: impl FnOnce() -> T + Send + 'j,
    ) -> mpsc::Receiver<T>
    where
        'q: 'scope,
        'j: 'scope,
    {
        let (done, result) = mpsc::sync_channel(1);
        let job: Job<'j> = Box::new(move || {
            // A panic drops `done`: the paging loop sees an error, not a hang.
            if let Ok(v) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(fetch)) {
                let _ = done.send(v);
            }
        });
        // The receiver outlives the paging loop; sending cannot fail. After
        // `close` (never followed by a submit) the job would be dropped, which
        // the paging loop sees as an error, not a hang.
        debug_assert!(self.queue.is_some(), "a page submitted after close");
        if let Some(queue) = &self.queue {
            let _ = queue.send(job);
        }
        if self.started < most {
            self.started += 1;
            let jobs = self.jobs;
            scope.spawn(move || {
                loop {
                    let next = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match next {
                        Ok(job) => job(),
                        // The paging loop ended.
                        Err(_) => return,
                    }
                }
            });
        }
        result
    }

    /// No page will be submitted any more: the threads end as soon as they
    /// are idle, while the paging loop still merges, rather than when it
    /// returns (the scope waits for them; on the 10,000-row query their
    /// waking up one after the other took 0.3 ms after the last merge).
    fn close(&mut self) {
        self.queue = None;
    }
}

/// A query reply and, once decoded, what decoding it gave.
struct Page {
    reply: Reply,
    staged: Option<std::result::Result<Staged, String>>,
}

impl Page {
    /// The page with its reply decoded (see [`decode::decode`]).
    fn decoded(self, keys: &Keys) -> Page {
        let (reply, staged) = self.decode(keys);
        Page {
            reply,
            staged: Some(staged),
        }
    }

    /// Whether this is a successful query reply that announces no next page.
    fn is_last(&self) -> bool {
        self.reply.status < 300
            && matches!(&self.staged, Some(Ok(staged)) if staged.query_next_offset() == Some(None))
    }

    /// The reply and what decoding it gave (decoded now unless it was already).
    fn decode(self, keys: &Keys) -> (Reply, std::result::Result<Staged, String>) {
        let staged = self.staged.unwrap_or_else(|| {
            decode::decode(&self.reply.body, &[Expect::Query], keys).map_err(|e| e.to_string())
        });
        (self.reply, staged)
    }
}

/// Refuses a page of a server whose paging never ends: one that brings only rows
/// already returned (remembered in `seen`) while announcing another page.
pub(super) fn check_page_is_new(
    seen: &mut crate::schema::FastMap<u32, ()>,
    slots: &[u32],
    next: Option<u64>,
    offset: u64,
    base: &str,
) -> Result<()> {
    let fresh = slots
        .iter()
        .filter(|&&s| seen.insert(s, ()).is_none())
        .count();
    if fresh == 0 && !slots.is_empty() && next.is_some() {
        return Err(Error::Protocol {
            status: 200,
            message: format!(
                "the server's paging does not end: the page at offset {offset} of \"{base}\" \
                 holds only rows already returned, yet announces another page; check the \
                 server, or add an explicit limit to the query"
            ),
        });
    }
    Ok(())
}

/// The `metadata.next.offset` of a query reply, read from its bytes without
/// decoding them: the last `"next"` key, then `{"offset": N}` (`None` for null,
/// or when the bytes do not have that shape; the decoder has the last word).
fn peek_next_offset(body: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"next\"";
    let at = body.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let mut rest = body[at..]
        .iter()
        .copied()
        .skip_while(u8::is_ascii_whitespace);
    if rest.next()? != b':' {
        return None;
    }
    let rest: Vec<u8> = rest.take(64).collect();
    let text = std::str::from_utf8(&rest).ok()?.trim_start();
    let inner = text.strip_prefix('{')?.trim_start();
    let inner = inner.strip_prefix("\"offset\"")?.trim_start();
    let digits = inner.strip_prefix(':')?.trim_start();
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::peek_next_offset;

    #[test]
    fn the_next_offset_is_read_from_the_bytes() {
        let b = br#"[{"action": "query", "data": [], "metadata": {"next": {"offset": 500}}}]"#;
        assert_eq!(peek_next_offset(b), Some(500));
        let b = br#"[{"data":[],"metadata":{"next":{"offset":1000}}}]"#;
        assert_eq!(peek_next_offset(b), Some(1000));
        assert_eq!(peek_next_offset(br#"[{"metadata": {"next": null}}]"#), None);
        assert_eq!(peek_next_offset(br#"[{"data": []}]"#), None);
        assert_eq!(peek_next_offset(br#"{"next": "x"}"#), None);
    }
}
