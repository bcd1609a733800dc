//! Lazy paged query results: [`QueryCursor`] sends the first page when asked for
//! it and each next page as the caller goes on.

use std::sync::Arc;

use super::{Inner, Session};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::query;
use crate::schema::FastMap;

/// The pages of one query, fetched one request at a time as they are asked for
/// (see [`Session::query_cursor`]). Nothing is sent before the first
/// [`QueryCursor::next_page`].
///
/// The rows of every page count as one result: reading an attribute that is not
/// loaded on one of them auto-populates it for all rows fetched so far, in one
/// request.
pub struct QueryCursor {
    inner: Arc<Inner>,
    base: String,
    offset: u64,
    /// Rows still allowed by the expression's `limit`.
    remaining: Option<u64>,
    page: u64,
    done: bool,
    first_result: Option<u32>,
    seen: FastMap<u32, ()>,
}

impl std::fmt::Debug for QueryCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryCursor")
            .field("expression", &self.base)
            .field("offset", &self.offset)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl QueryCursor {
    pub(super) fn new(
        inner: Arc<Inner>,
        base: String,
        offset: u64,
        limit: Option<u64>,
        page: Option<u64>,
    ) -> QueryCursor {
        let page = page
            .unwrap_or(inner.options.page_size.max(1) as u64)
            .min(limit.unwrap_or(u64::MAX))
            .max(1);
        QueryCursor {
            inner,
            base,
            offset,
            remaining: limit,
            page,
            done: limit == Some(0),
            first_result: None,
            seen: FastMap::default(),
        }
    }

    /// The expression as sent (without its paging clauses).
    pub fn expression(&self) -> &str {
        &self.base
    }

    /// Whether every page has been fetched.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Sends the request for the next page and returns its rows, or `None` when
    /// the previous page was the last. A page may be empty only when the result is.
    ///
    /// Errors: as [`Session::query`]; a server whose paging never ends (a page of
    /// rows already returned that announces another) is an [`Error::Protocol`];
    /// a progress callback ([`Session::set_progress`]) that returns `false` after
    /// the page ends the cursor with [`Error::Cancelled`].
    pub fn next_page(&mut self) -> Result<Option<Vec<Entity>>> {
        if self.done {
            return Ok(None);
        }
        let off = self.offset;
        let page = self.page.min(self.remaining.unwrap_or(u64::MAX)).max(1);
        let (mut slots, next, result) = self
            .inner
            .query_once_slots(&format!("{} offset {off} limit {page}", self.base))?;
        match self.first_result {
            Some(first) => self.inner.lock().map.merge_result(first, result),
            None => self.first_result = Some(result),
        }
        let got = slots.len() as u64;
        if let Err(e) =
            super::queries::check_page_is_new(&mut self.seen, &slots, next, off, &self.base)
        {
            self.done = true;
            return Err(e);
        }
        if let Some(r) = &mut self.remaining {
            slots.truncate((*r).min(got) as usize);
            *r -= slots.len() as u64;
            if *r == 0 {
                self.done = true;
            }
        }
        match next {
            Some(n) if got > 0 && n > off => self.offset = n,
            _ => self.done = true,
        }
        // Progress as for a whole query: the rows delivered so far.
        if !self
            .inner
            .transport
            .hooks()
            .progress("query", self.seen.len() as u64, None)
        {
            self.done = true;
            return Err(Error::Cancelled { sent: false });
        }
        Ok(Some(
            slots
                .into_iter()
                .map(|s| self.inner.entity_from(s))
                .collect(),
        ))
    }
}

impl Iterator for QueryCursor {
    type Item = Result<Vec<Entity>>;

    /// The next page, as [`QueryCursor::next_page`].
    fn next(&mut self) -> Option<Self::Item> {
        self.next_page().transpose()
    }
}

impl Session {
    /// A lazy result of `expression`: nothing is sent until the first
    /// [`QueryCursor::next_page`], then one request per page of the session's page
    /// size (or `page_size` when given). An `offset` / `limit` in the expression
    /// is honoured. The expression is checked (and rewritten, see
    /// [`crate::DerivedCollection`]) now.
    pub fn query_cursor(&self, expression: &str, page_size: Option<usize>) -> Result<QueryCursor> {
        let prepared = self.inner.prepare(expression)?;
        let (base, offset, limit) = query::split_paging(&prepared)?;
        Ok(QueryCursor::new(
            self.inner.clone(),
            base,
            offset.unwrap_or(0),
            limit,
            page_size.map(|p| p.max(1) as u64),
        ))
    }
}
