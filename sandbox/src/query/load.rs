//! Runs a query: selects the matching rows, loads projections through
//! references and collections in batches (one SQL statement per path level
//! and chunk, never one per row) and encodes the entities, de-duplicated
//! like a real server or fully denormalised.

use super::ast::Query;
use super::sql::{SqlBuilder, attribute, entity_type};
use crate::error::ApiError;
use crate::schema::{AttrKind, EntityType, ScalarType, Schema};
use crate::store::sql_to_json;
use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};
use smallvec::SmallVec;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// FxHash (as in rustc): a multiply-rotate hash, several times faster than
/// the default SipHash on the short id strings the loader hashes per row.
/// The sandbox is a local test server, so HashDoS resistance is not needed.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(n.into());
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;
type FastMap<K, V> = HashMap<K, V, FxBuild>;
type FastSet<K> = HashSet<K, FxBuild>;

/// A few entries kept sorted by name: a `BTreeMap`'s order and last-insert-wins
/// without a node allocation per record (one entry, the usual case, is
/// kept inline).
#[derive(Debug)]
struct Sorted<V>(SmallVec<[(&'static str, V); 1]>);

impl<V> Default for Sorted<V> {
    fn default() -> Self {
        Sorted(SmallVec::new())
    }
}

impl<V> Sorted<V> {
    fn insert(&mut self, name: &'static str, value: V) {
        match self.0.binary_search_by(|(n, _)| (*n).cmp(name)) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    fn get(&self, name: &str) -> Option<&V> {
        self.0
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn iter(&self) -> impl Iterator<Item = (&'static str, &V)> {
        self.0.iter().map(|(n, v)| (*n, v))
    }
}

const CHUNK: usize = 500;

/// The answer's buffer is sized for all its rows after this many are
/// written, from their size.
const SAMPLE_ROWS: usize = 32;

/// Ids bound as one value, read by SQL as the table `rarray(?1)` (column
/// `value`): SQLite walks them in order and looks each one up by index.
type IdArray = std::rc::Rc<Vec<Sql>>;

/// The ids `ids` as an [`IdArray`].
fn id_array(ids: impl Iterator<Item = String>) -> IdArray {
    std::rc::Rc::new(ids.map(Sql::Text).collect())
}

/// The projections requested below one entity: scalar attributes and relations.
#[derive(Debug, Default, Clone)]
pub struct Projection {
    scalars: BTreeSet<&'static str>,
    relations: BTreeMap<&'static str, Projection>,
}

impl Projection {
    /// Builds the projection tree for dotted `paths` on type `t`.
    pub fn build(schema: &Schema, t: &EntityType, paths: &[Vec<String>]) -> Result<Self, ApiError> {
        let mut root = Projection::default();
        for path in paths {
            root.add(schema, t, path)?;
        }
        Ok(root)
    }

    /// Exactly the given scalar attributes.
    pub fn from_scalars(names: impl IntoIterator<Item = &'static str>) -> Self {
        Projection {
            scalars: names.into_iter().collect(),
            relations: BTreeMap::new(),
        }
    }

    /// All scalar attributes of `t`.
    pub fn all_scalars(t: &EntityType) -> Self {
        Projection {
            scalars: t.scalar_attributes().map(|a| a.name).collect(),
            relations: BTreeMap::new(),
        }
    }

    /// Whether no entity type occurs at two places of the tree below (and
    /// including) `t`: then every entity of the answer is projected the same
    /// way wherever it occurs, and rows can be loaded and written a chunk at
    /// a time (an entity written in full by an early chunk gets no attribute
    /// from a later one).
    fn each_type_once(&self, schema: &Schema, t: &EntityType) -> bool {
        fn walk<'a>(
            p: &Projection,
            schema: &'a Schema,
            t: &'a EntityType,
            types: &mut Vec<&'a str>,
        ) -> bool {
            if types.contains(&t.name) {
                return false;
            }
            types.push(t.name);
            p.relations.iter().all(|(name, child)| {
                let target = match attribute(t, name).map(|a| a.kind) {
                    Ok(
                        AttrKind::Reference { target, .. } | AttrKind::Collection { target, .. },
                    ) => target,
                    _ => return false,
                };
                entity_type(schema, target).is_ok_and(|tt| walk(child, schema, tt, types))
            })
        }
        walk(self, schema, t, &mut Vec::new())
    }

    fn add(&mut self, schema: &Schema, t: &EntityType, path: &[String]) -> Result<(), ApiError> {
        let attr = attribute(t, &path[0])?;
        match attr.kind {
            AttrKind::Scalar { .. } if path.len() == 1 => {
                self.scalars.insert(attr.name);
            }
            AttrKind::Scalar { .. } => {
                return Err(ApiError::validation(format!(
                    "'{}' on '{}' is not a relation and has no attribute '{}'",
                    attr.name, t.name, path[1]
                )));
            }
            AttrKind::Reference { target, .. } | AttrKind::Collection { target, .. } => {
                let child = self.relations.entry(attr.name).or_default();
                if path.len() > 1 {
                    child.add(schema, entity_type(schema, target)?, &path[1..])?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Rel {
    One(Option<usize>),
    /// `Loader::member_ids[start..end]`.
    Many(u32, u32),
}

/// One column of a loaded row. Text lives in the loader's arena, so loading a
/// row allocates nothing per column (the allocator was the largest cost of
/// serving a page).
#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    Int(i64),
    Real(f64),
    /// `arena[start..end]`.
    Text(u32, u32),
    /// `blobs[i]`.
    Blob(u32),
}

/// A column value borrowed from the loader.
#[derive(Debug, Clone, Copy)]
enum CellRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl<'a> CellRef<'a> {
    fn to_sql(self) -> Sql {
        match self {
            CellRef::Null => Sql::Null,
            CellRef::Int(i) => Sql::Integer(i),
            CellRef::Real(f) => Sql::Real(f),
            CellRef::Text(s) => Sql::Text(s.to_owned()),
            CellRef::Blob(b) => Sql::Blob(b.to_vec()),
        }
    }

    fn text(self) -> Option<&'a str> {
        match self {
            CellRef::Text(s) => Some(s),
            _ => None,
        }
    }
}

struct Record<'s> {
    t: &'s EntityType,
    /// The id column's text, `arena[id.0..id.1]`.
    id: (u32, u32),
    /// The first of this record's `t.columns().len()` cells in `Loader::cells`.
    first: u32,
    /// The scalar attributes projected on this record:
    /// `Loader::scalar_sets[projected]`.
    projected: u32,
    /// The scalar members written for it: `Loader::shapes[shape]`.
    shape: u32,
    rels: Sorted<Rel>,
}

/// The loader's buffers that borrow nothing, kept by each thread from one
/// answer to the next (emptied): a worker serving pages does not grow them
/// again from nothing for each, which copies what they hold each time they
/// double. Buffers holding more than [`KEPT_BYTES`] are not kept.
#[derive(Default)]
struct Buffers {
    arena: String,
    cells: Vec<Cell>,
    index: FastMap<u64, usize>,
    member_ids: Vec<usize>,
}

/// The most a thread keeps in [`Buffers`] between answers: enough for a
/// 500-row page (about 250 KiB), little beside the pages a worker's stack
/// reserves.
const KEPT_BYTES: usize = 512 * 1024;

thread_local! {
    static KEPT: std::cell::RefCell<Buffers> = std::cell::RefCell::default();
}

impl Buffers {
    /// This thread's kept buffers (empty ones the first time).
    fn take() -> Self {
        KEPT.try_with(|kept| std::mem::take(&mut *kept.borrow_mut()))
            .unwrap_or_default()
    }

    /// Keeps the buffers for this thread's next answer, emptied, unless
    /// they hold more than [`KEPT_BYTES`].
    fn keep(mut self) {
        let bytes = self.arena.capacity()
            + self.cells.capacity() * size_of::<Cell>()
            + self.index.capacity() * (size_of::<(u64, usize)>() + 1)
            + self.member_ids.capacity() * size_of::<usize>();
        if bytes > KEPT_BYTES {
            return;
        }
        self.arena.clear();
        self.cells.clear();
        self.index.clear();
        self.member_ids.clear();
        // During the thread's exit the buffers are simply dropped.
        let _ = KEPT.try_with(|kept| *kept.borrow_mut() = self);
    }
}

/// The entities loaded for one response.
pub struct Loader<'s> {
    conn: &'s Connection,
    schema: &'s Schema,
    visible: Option<&'s [String]>,
    records: Vec<Record<'s>>,
    /// The text of every loaded column, back to back.
    arena: String,
    /// Binary columns (rare).
    blobs: Vec<Vec<u8>>,
    /// The columns of every record, back to back.
    cells: Vec<Cell>,
    /// Hash of (type, id) → record; `spill` holds the (astronomically rare)
    /// records whose hash another record already took.
    index: FastMap<u64, usize>,
    spill: FastMap<(&'static str, String), usize>,
    /// Per type, the columns to read (see [`Loader::read_only_what`]); all of
    /// them for a type not listed.
    needed: FastMap<&'static str, Vec<bool>>,
    /// The members of every loaded collection, back to back (see [`Rel::Many`]).
    member_ids: Vec<usize>,
    /// Each distinct set of projected scalar names, sorted; the first is
    /// empty. Records share them: a 500-row page has one or two.
    scalar_sets: Vec<Vec<&'static str>>,
    /// The number of each set in `scalar_sets`.
    scalar_set_ids: FastMap<Vec<&'static str>, u32>,
    /// Per type and set of projected names, the scalar members a record
    /// written in full has: its type's system projections and the
    /// projected names, each with its type and column number, found once
    /// rather than by name for every record written.
    shapes: Vec<Vec<(&'static str, ScalarType, usize)>>,
    /// The number in `shapes` of each (type name, set number).
    shape_ids: FastMap<(&'static str, u32), u32>,
    statements: usize,
}

impl Drop for Loader<'_> {
    /// Gives the buffers that borrow nothing back to the thread, for its
    /// next answer.
    fn drop(&mut self) {
        Buffers {
            arena: std::mem::take(&mut self.arena),
            cells: std::mem::take(&mut self.cells),
            index: std::mem::take(&mut self.index),
            member_ids: std::mem::take(&mut self.member_ids),
        }
        .keep();
    }
}

/// The scalar attribute `name` of `t`: its name, type and column number
/// (None when `t` has no such scalar).
fn scalar_column(t: &EntityType, name: &str) -> Option<(&'static str, ScalarType, usize)> {
    let attr = t.attribute(name)?;
    let AttrKind::Scalar { ty, column, .. } = attr.kind else {
        return None;
    };
    Some((attr.name, ty, t.column_index(column)?))
}

fn record_hash(t: &str, id: &str) -> u64 {
    let mut h = FxBuild::default().build_hasher();
    h.write(t.as_bytes());
    h.write_u8(0xff);
    h.write(id.as_bytes());
    h.finish()
}

/// The columns of `t` (alias `t0`) to select, in the order of `t.columns()`;
/// those not in `needed` (when given) are selected as NULL, so every row
/// keeps the same layout and costs nothing for them.
fn select_list(t: &EntityType, needed: Option<&[bool]>) -> String {
    t.columns()
        .iter()
        .enumerate()
        .map(|(i, (c, _))| match needed {
            Some(needed) if !needed[i] => "NULL".to_owned(),
            _ => format!("t0.\"{c}\""),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Marks in `out` the columns the answer to `proj` below `t` reads: each
/// type's id and the columns of its system projections and projected
/// scalars, and the keys its relations are followed by. One set per type,
/// whatever the places it occurs at, so every record of a type is loaded
/// alike (a record met again is not read again).
fn needed_columns(
    schema: &Schema,
    t: &EntityType,
    proj: &Projection,
    out: &mut FastMap<&'static str, Vec<bool>>,
) -> Result<(), ApiError> {
    fn mark(out: &mut FastMap<&'static str, Vec<bool>>, t: &EntityType, column: &str) {
        let needed = out
            .entry(t.name)
            .or_insert_with(|| vec![false; t.columns().len()]);
        if let Some(i) = t.column_index(column) {
            needed[i] = true;
        }
    }
    mark(out, t, "id");
    for name in t.system_projections.iter().chain(&proj.scalars) {
        if let Some(AttrKind::Scalar { column, .. }) = t.attribute(name).map(|a| a.kind) {
            mark(out, t, column);
        }
    }
    for (name, child) in &proj.relations {
        match attribute(t, name)?.kind {
            AttrKind::Reference { target, fk } => {
                mark(out, t, fk);
                needed_columns(schema, entity_type(schema, target)?, child, out)?;
            }
            AttrKind::Collection { target, remote_fk } => {
                let tt = entity_type(schema, target)?;
                mark(out, tt, remote_fk);
                needed_columns(schema, tt, child, out)?;
            }
            AttrKind::Scalar { .. } => {}
        }
    }
    Ok(())
}

impl<'s> Loader<'s> {
    /// A loader limited to the projects in `visible` (None = all).
    pub fn new(conn: &'s Connection, schema: &'s Schema, visible: Option<&'s [String]>) -> Self {
        let Buffers {
            arena,
            cells,
            index,
            member_ids,
        } = Buffers::take();
        Loader {
            conn,
            schema,
            visible,
            records: Vec::new(),
            arena,
            blobs: Vec::new(),
            cells,
            index,
            spill: FastMap::default(),
            needed: FastMap::default(),
            member_ids,
            scalar_sets: vec![Vec::new()],
            scalar_set_ids: FastMap::default(),
            shapes: Vec::new(),
            shape_ids: FastMap::default(),
            statements: 0,
        }
    }

    /// Runs `sql` (which selects [`Loader::select_list`] of `t`, then as many
    /// integer columns as `extra` holds vectors) and returns the records of
    /// its rows in order, pushing each row's extra columns to `extra`'s
    /// vectors. `ids` (when given) is bound as `rarray(?1)`, `params` after
    /// it.
    fn fetch(
        &mut self,
        t: &'s EntityType,
        sql: &str,
        ids: Option<IdArray>,
        params: &[Sql],
        expected_rows: usize,
        extra: &mut [&mut Vec<i64>],
    ) -> Result<Vec<usize>, ApiError> {
        self.statements += 1;
        if params.len() > super::sql::MAX_SQL_PARAMS {
            return Err(ApiError::validation(format!(
                "The query needs {} values in one SQL statement; at most {} are allowed (split long 'in' lists)",
                params.len(),
                super::sql::MAX_SQL_PARAMS
            )));
        }
        let mut stmt = self.conn.prepare_cached(sql)?;
        let ncols = t.columns().len();
        // Room for about as many rows as values were given (ids, or the
        // limit): the maps and arenas grow once, not by doubling.
        let expected = expected_rows.min(CHUNK);
        self.records.reserve(expected);
        self.cells.reserve(expected * ncols);
        self.index.reserve(expected);
        let id_col = t.column_index("id").unwrap_or(0);
        let base_shape = self.shape(t, 0);
        let read: Vec<usize> = match self.needed.get(t.name) {
            Some(needed) => (0..ncols).filter(|&i| needed[i]).collect(),
            None => (0..ncols).collect(),
        };
        if let Some(ids) = &ids {
            stmt.raw_bind_parameter(1, ids)?;
        }
        let first_param = usize::from(ids.is_some()) + 1;
        for (i, p) in params.iter().enumerate() {
            stmt.raw_bind_parameter(first_param + i, p)?;
        }
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let text_mark = self.arena.len();
            let first = self.cells.len();
            // Columns selected as NULL (not needed) are not asked for.
            self.cells.resize(first + ncols, Cell::Null);
            for &i in &read {
                use rusqlite::types::ValueRef;
                let cell = match row.get_ref(i)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Real(v),
                    ValueRef::Text(b) => {
                        let text = std::str::from_utf8(b).map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(
                                i,
                                rusqlite::types::Type::Text,
                                Box::new(e),
                            )
                        })?;
                        let start = self.arena.len() as u32;
                        self.arena.push_str(text);
                        Cell::Text(start, self.arena.len() as u32)
                    }
                    ValueRef::Blob(b) => {
                        self.blobs.push(b.to_vec());
                        Cell::Blob(self.blobs.len() as u32 - 1)
                    }
                };
                self.cells[first + i] = cell;
            }
            for (n, column) in extra.iter_mut().enumerate() {
                column.push(row.get(ncols + n)?);
            }
            let id = match self.cells[first + id_col] {
                Cell::Text(a, b) => (a, b),
                other => {
                    let start = self.arena.len() as u32;
                    let text = format!("{:?}", self.cell_ref(other).to_sql());
                    self.arena.push_str(&text);
                    (start, self.arena.len() as u32)
                }
            };
            let hash = record_hash(t.name, self.text(id));
            let idx = match self.lookup(t, id, hash) {
                Some(i) => {
                    // Known already: forget the copy just read.
                    self.arena.truncate(text_mark);
                    self.cells.truncate(first);
                    i
                }
                None => {
                    let i = self.records.len();
                    self.records.push(Record {
                        t,
                        id,
                        first: first as u32,
                        projected: 0,
                        shape: base_shape,
                        rels: Sorted::default(),
                    });
                    self.remember(i, hash);
                    i
                }
            };
            if out.is_empty() {
                // Text room for the rows expected at the first one's size.
                let text = self.arena.len() - text_mark;
                self.arena.reserve(expected.saturating_sub(1) * text);
                out.reserve(expected);
            }
            out.push(idx);
        }
        Ok(out)
    }

    fn text(&self, (a, b): (u32, u32)) -> &str {
        &self.arena[a as usize..b as usize]
    }

    fn cell_ref(&self, c: Cell) -> CellRef<'_> {
        match c {
            Cell::Null => CellRef::Null,
            Cell::Int(i) => CellRef::Int(i),
            Cell::Real(f) => CellRef::Real(f),
            Cell::Text(a, b) => CellRef::Text(self.text((a, b))),
            Cell::Blob(i) => CellRef::Blob(&self.blobs[i as usize]),
        }
    }

    /// The id of record `idx`.
    fn id(&self, idx: usize) -> &str {
        self.text(self.records[idx].id)
    }

    /// The record of type `t` whose id is `arena[id]`, if loaded; `hash` is
    /// their [`record_hash`].
    fn lookup(&self, t: &EntityType, id: (u32, u32), hash: u64) -> Option<usize> {
        let text = self.text(id);
        let i = *self.index.get(&hash)?;
        let r = &self.records[i];
        if r.t.name == t.name && self.text(r.id) == text {
            return Some(i);
        }
        self.spill.get(&(t.name, text.to_owned())).copied()
    }

    /// Indexes the new record `i`, whose [`record_hash`] is `hash`.
    fn remember(&mut self, i: usize, hash: u64) {
        if let std::collections::hash_map::Entry::Vacant(v) = self.index.entry(hash) {
            v.insert(i);
        } else {
            let r = &self.records[i];
            let key = (r.t.name, self.text(r.id).to_owned());
            self.spill.insert(key, i);
        }
    }

    /// Reads, from here on, only the columns that the answer to `proj` on
    /// the type `t` reads; the others are loaded as null.
    pub fn read_only_what(&mut self, t: &EntityType, proj: &Projection) -> Result<(), ApiError> {
        self.needed.clear();
        needed_columns(self.schema, t, proj, &mut self.needed)
    }

    /// The select list of `t`, limited as [`Loader::read_only_what`] says.
    fn select_list(&self, t: &EntityType) -> String {
        select_list(t, self.needed.get(t.name).map(Vec::as_slice))
    }

    /// SQL statements executed so far (projections cost one per path level and chunk).
    pub fn statements(&self) -> usize {
        self.statements
    }

    /// Runs `q` and returns the root records plus whether more rows match.
    pub fn query(&mut self, q: &Query) -> Result<(Vec<usize>, bool), ApiError> {
        let t = entity_type(self.schema, &q.entity)?;
        let mut b = SqlBuilder::new(self.schema, self.visible);
        let from_where = b.from_where(t, q)?;
        let order = b.order_by(t, q)?;
        let mut sql = format!(
            "SELECT {} {from_where} ORDER BY {order}",
            self.select_list(t)
        );
        if q.limit.is_some() || q.offset.is_some() {
            let limit = q
                .limit
                .map_or(-1, |l| l.saturating_add(1).min(i64::MAX as u64) as i64);
            sql.push_str(&format!(
                " LIMIT {limit} OFFSET {}",
                q.offset.unwrap_or(0).min(i64::MAX as u64)
            ));
        }
        let expected = q.limit.map_or(CHUNK, |l| l.min(CHUNK as u64) as usize);
        let mut rows = self.fetch(t, &sql, None, &b.params, expected, &mut [])?;
        let more = q.limit.is_some_and(|l| rows.len() as u64 > l);
        if let Some(l) = q.limit {
            rows.truncate(l as usize);
        }
        Ok((rows, more))
    }

    /// Loads records of `t` by id (visible ones only), in the given order;
    /// `ids` are distinct.
    pub fn by_ids(&mut self, t: &'s EntityType, ids: &[String]) -> Result<Vec<usize>, ApiError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let array = id_array(chunk.iter().cloned());
            let mut b = SqlBuilder::new(self.schema, self.visible);
            let scope = b.scope(t, "t0");
            let sql = format!(
                "SELECT {} FROM rarray(?1) ids JOIN {} t0 ON t0.id = ids.value WHERE ({scope})",
                self.select_list(t),
                t.table()
            );
            out.extend(self.fetch(t, &sql, Some(array), &b.params, chunk.len(), &mut [])?);
        }
        let pos: FastMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        out.sort_by_cached_key(|i| pos.get(self.id(*i)).copied().unwrap_or(usize::MAX));
        Ok(out)
    }

    /// The value of record `idx` in its column number `column`.
    fn value_at(&self, idx: usize, column: usize) -> CellRef<'_> {
        let r = &self.records[idx];
        self.cell_ref(self.cells[r.first as usize + column])
    }

    /// The text of record `idx` in column number `column` (of its type, found
    /// once for many records of that type), if any.
    fn text_at(&self, idx: usize, column: Option<usize>) -> Option<&str> {
        self.value_at(idx, column?).text()
    }

    /// Loads `proj` below the records `rows` (all of one type), level by level.
    pub fn project(&mut self, rows: &[usize], proj: &Projection) -> Result<(), ApiError> {
        let mut seen = FastSet::default();
        let rows: Vec<usize> = rows.iter().copied().filter(|r| seen.insert(*r)).collect();
        let Some(&first) = rows.first() else {
            return Ok(());
        };
        let t = self.records[first].t;
        let scalars = self.scalar_set(proj.scalars.iter().copied().collect());
        // The rows usually all had the same set: the last union and its
        // shape are reused.
        let mut last: Option<(u32, u32, u32)> = None;
        for r in &rows {
            let had = self.records[*r].projected;
            let (set, shape) = match last {
                Some((h, set, shape)) if h == had => (set, shape),
                _ => {
                    let set = self.scalar_union(had, scalars);
                    let shape = self.shape(t, set);
                    last = Some((had, set, shape));
                    (set, shape)
                }
            };
            let record = &mut self.records[*r];
            record.projected = set;
            record.shape = shape;
        }
        for (name, child) in &proj.relations {
            let attr = attribute(t, name)?;
            let children = match attr.kind {
                AttrKind::Reference { target, fk } => {
                    let tt = entity_type(self.schema, target)?;
                    let fk_col = t.column_index(fk);
                    // The distinct target ids in the order met, and each
                    // row's number among them: one hash per row (the rows
                    // of a page share a few targets).
                    let mut ids: Vec<String> = Vec::new();
                    let numbers: Vec<Option<usize>> = {
                        let mut number_of: FastMap<&str, usize> = FastMap::default();
                        rows.iter()
                            .map(|r| {
                                let id = self.text_at(*r, fk_col)?;
                                Some(*number_of.entry(id).or_insert_with(|| {
                                    ids.push(id.to_owned());
                                    ids.len() - 1
                                }))
                            })
                            .collect()
                    };
                    let loaded = self.by_ids(tt, &ids)?;
                    // The record loaded for each id (None: missing, or not
                    // visible).
                    let targets: Vec<Option<usize>> = {
                        let by_id: FastMap<&str, usize> =
                            loaded.iter().map(|i| (self.id(*i), *i)).collect();
                        ids.iter()
                            .map(|id| by_id.get(id.as_str()).copied())
                            .collect()
                    };
                    for (r, number) in rows.iter().zip(numbers) {
                        let target = number.and_then(|n| targets[n]);
                        self.records[*r].rels.insert(attr.name, Rel::One(target));
                    }
                    loaded
                }
                AttrKind::Collection { target, remote_fk } => {
                    let tt = entity_type(self.schema, target)?;
                    // (owner's position in `rows`, rowid, record) of each
                    // member loaded.
                    let mut members: Vec<(usize, i64, usize)> = Vec::new();
                    for (c, chunk) in rows.chunks(CHUNK).enumerate() {
                        let array = id_array(chunk.iter().map(|r| self.id(*r).to_owned()));
                        let mut b = SqlBuilder::new(self.schema, self.visible);
                        let scope = b.scope(tt, "t0");
                        // Joined to the owners' ids rather than `IN (?, ...)`,
                        // which SQLite first copies into a temporary index
                        // (about a fifth of a 500-row page's time). The row
                        // of the id array (1-based) names each member's
                        // owner, the member's rowid its place among the
                        // owner's members.
                        let sql = format!(
                            "SELECT {}, t0.rowid, ids.rowid FROM rarray(?1) ids JOIN {} t0 ON t0.\"{remote_fk}\" = ids.value WHERE ({scope})",
                            self.select_list(tt),
                            tt.table()
                        );
                        let (mut rowids, mut owners) = (Vec::new(), Vec::new());
                        let loaded = self.fetch(
                            tt,
                            &sql,
                            Some(array),
                            &b.params,
                            chunk.len(),
                            &mut [&mut rowids, &mut owners],
                        )?;
                        let first = c * CHUNK;
                        members.extend(
                            owners
                                .into_iter()
                                .zip(rowids)
                                .zip(loaded)
                                .map(|((o, rowid), i)| (first + o as usize - 1, rowid, i)),
                        );
                    }
                    // Each owner's members together, in insertion (rowid)
                    // order, as one run of `member_ids`: no list per owner.
                    members.sort_unstable();
                    let base = self.member_ids.len();
                    self.member_ids.extend(members.iter().map(|m| m.2));
                    let mut end = 0;
                    for (p, r) in rows.iter().enumerate() {
                        let start = end;
                        while members.get(end).is_some_and(|m| m.0 == p) {
                            end += 1;
                        }
                        self.records[*r].rels.insert(
                            attr.name,
                            Rel::Many((base + start) as u32, (base + end) as u32),
                        );
                    }
                    members.into_iter().map(|m| m.2).collect()
                }
                AttrKind::Scalar { .. } => continue,
            };
            self.project(&children, child)?;
        }
        Ok(())
    }

    /// The number of the set of projected scalar names `names` (sorted).
    fn scalar_set(&mut self, names: Vec<&'static str>) -> u32 {
        if names.is_empty() {
            return 0;
        }
        if let Some(&id) = self.scalar_set_ids.get(&names) {
            return id;
        }
        let id = self.scalar_sets.len() as u32;
        self.scalar_sets.push(names.clone());
        self.scalar_set_ids.insert(names, id);
        id
    }

    /// The number in `shapes` of the scalar members of records of type `t`
    /// with the projected names `scalar_sets[set]`.
    fn shape(&mut self, t: &EntityType, set: u32) -> u32 {
        if let Some(&id) = self.shape_ids.get(&(t.name, set)) {
            return id;
        }
        let names = t.system_projections.iter().copied();
        let members = names
            .chain(self.scalar_sets[set as usize].iter().copied())
            .filter_map(|name| scalar_column(t, name))
            .collect();
        let id = self.shapes.len() as u32;
        self.shapes.push(members);
        self.shape_ids.insert((t.name, set), id);
        id
    }

    /// The number of the union of two sets of projected scalar names.
    fn scalar_union(&mut self, a: u32, b: u32) -> u32 {
        if a == b || b == 0 {
            return a;
        }
        if a == 0 {
            return b;
        }
        let (a, b) = (&self.scalar_sets[a as usize], &self.scalar_sets[b as usize]);
        let mut names: Vec<&'static str> = a.iter().chain(b).copied().collect();
        names.sort_unstable();
        names.dedup();
        self.scalar_set(names)
    }

    /// The members of a collection (see [`Rel::Many`]).
    fn items(&self, start: u32, end: u32) -> &[usize] {
        &self.member_ids[start as usize..end as usize]
    }

    fn head(&self, idx: usize) -> Map<String, Value> {
        let r = &self.records[idx];
        let mut o = Map::new();
        o.insert("__entity_type__".into(), r.t.name.into());
        o.insert("id".into(), self.text(r.id).into());
        o
    }

    fn put_scalar(&self, idx: usize, o: &mut Map<String, Value>, name: &str) {
        if let Some((name, ty, v)) = self.scalar(idx, name) {
            o.insert(name.to_string(), sql_to_json(ty, &v.to_sql()));
        }
    }

    /// The attribute `name` of a record when it is a loaded scalar.
    fn scalar(&self, idx: usize, name: &str) -> Option<(&'static str, ScalarType, CellRef<'_>)> {
        let (name, ty, column) = scalar_column(self.records[idx].t, name)?;
        Some((name, ty, self.value_at(idx, column)))
    }

    /// The members of one occurrence of a record: normalised, fully the
    /// first time (`seen` spans one response) with every attribute loaded
    /// for it and as a bare reference after; denormalised, exactly the
    /// projections of the given tree. In the order [`sort_members`] gives.
    fn fields<'f>(
        &'f self,
        idx: usize,
        mode: Mode<'f>,
        seen: &mut Vec<bool>,
        mut fields: Vec<(&'static str, Field<'f>)>,
    ) -> Vec<(&'static str, Field<'f>)> {
        let r = &self.records[idx];
        fields.push(("__entity_type__", Field::Name(r.t.name)));
        fields.push(("id", Field::Text(self.text(r.id))));
        match mode {
            Mode::Normalized => {
                if seen.len() <= idx {
                    seen.resize(self.records.len().max(idx + 1), false);
                }
                if !std::mem::replace(&mut seen[idx], true) {
                    let shape = &self.shapes[r.shape as usize];
                    fields.reserve(shape.len() + r.rels.len());
                    for &(name, ty, column) in shape {
                        fields.push((name, Field::Scalar(ty, self.value_at(idx, column))));
                    }
                    for (name, rel) in r.rels.iter() {
                        fields.push((name, Field::Rel(*rel)));
                    }
                }
            }
            Mode::Denormalized(proj) => {
                fields.reserve(
                    r.t.system_projections.len() + proj.scalars.len() + proj.relations.len(),
                );
                for name in
                    r.t.system_projections
                        .iter()
                        .copied()
                        .chain(proj.scalars.iter().copied())
                {
                    if let Some((name, ty, v)) = self.scalar(idx, name) {
                        fields.push((name, Field::Scalar(ty, v)));
                    }
                }
                for (name, child) in &proj.relations {
                    fields.push((name, Field::Child(r.rels.get(name).copied(), child)));
                }
            }
        }
        sort_members(&mut fields);
        fields
    }

    /// Writes one root record of a query answer and everything below it.
    ///
    /// The walk keeps its own stack instead of recursing, so no answer can
    /// exhaust a thread's stack, and counts the entity objects it writes
    /// against `budget`: `denormalize:1` repeats an entity wherever it
    /// occurs, so its output can grow exponentially with the path length.
    pub fn write_record<'f>(
        &'f self,
        root: usize,
        mode: Mode<'f>,
        seen: &mut Vec<bool>,
        budget: &mut Budget,
        scratch: &mut WriteScratch<'f>,
        out: &mut Vec<u8>,
    ) -> Result<(), ApiError> {
        enum Step<'f> {
            Open(usize, Mode<'f>),
            OpenArray(&'f [usize], Mode<'f>),
            Close(u8),
            Next,
            Done,
        }
        let WriteScratch { stack, spare } = scratch;
        stack.clear();
        let mut step = Step::Open(root, mode);
        loop {
            match step {
                Step::Open(idx, mode) => {
                    budget.entity(mode, out.len())?;
                    out.push(b'{');
                    let fields = self.fields(idx, mode, seen, spare.pop().unwrap_or_default());
                    stack.push(Frame::Object(fields, 0));
                }
                Step::OpenArray(items, mode) => {
                    out.push(b'[');
                    stack.push(Frame::Array(items, 0, mode));
                }
                Step::Close(c) => {
                    out.push(c);
                    if let Some(Frame::Object(mut fields, _)) = stack.pop() {
                        fields.clear();
                        spare.push(fields);
                    }
                }
                Step::Next => {}
                Step::Done => return Ok(()),
            }
            step = match stack.last_mut() {
                None => Step::Done,
                Some(Frame::Array(items, next, mode)) => match items.get(*next) {
                    None => Step::Close(b']'),
                    Some(&i) => {
                        if *next > 0 {
                            out.push(b',');
                        }
                        *next += 1;
                        Step::Open(i, *mode)
                    }
                },
                Some(Frame::Object(fields, next)) => match fields.get(*next).copied() {
                    None => Step::Close(b'}'),
                    Some((name, field)) => {
                        if *next > 0 {
                            out.push(b',');
                        }
                        *next += 1;
                        write_key(out, name);
                        match field {
                            Field::Rel(Rel::One(Some(i))) => Step::Open(i, Mode::Normalized),
                            Field::Rel(Rel::Many(a, b)) => {
                                Step::OpenArray(self.items(a, b), Mode::Normalized)
                            }
                            Field::Child(Some(Rel::One(Some(i))), child) => {
                                Step::Open(i, Mode::Denormalized(child))
                            }
                            Field::Child(Some(Rel::Many(a, b)), child) => {
                                Step::OpenArray(self.items(a, b), Mode::Denormalized(child))
                            }
                            other => {
                                other.write(out);
                                Step::Next
                            }
                        }
                    }
                },
            };
        }
    }

    /// Encodes a record with exactly the projections of `proj`, repeating
    /// entities wherever they occur (`denormalize:1`).
    pub fn encode_denormalized(&self, idx: usize, proj: &Projection) -> Value {
        let r = &self.records[idx];
        let mut o = self.head(idx);
        for name in
            r.t.system_projections
                .iter()
                .copied()
                .chain(proj.scalars.iter().copied())
        {
            self.put_scalar(idx, &mut o, name);
        }
        for (name, child) in &proj.relations {
            let v = match r.rels.get(name) {
                Some(Rel::One(Some(i))) => self.encode_denormalized(*i, child),
                Some(Rel::Many(a, b)) => Value::Array(
                    self.items(*a, *b)
                        .iter()
                        .map(|i| self.encode_denormalized(*i, child))
                        .collect(),
                ),
                _ => Value::Null,
            };
            o.insert((*name).to_string(), v);
        }
        Value::Object(o)
    }
}

/// How a record is encoded in a query answer.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'p> {
    /// Fully the first time, as a bare reference after.
    Normalized,
    /// Exactly these projections, wherever the record occurs (`denormalize:1`).
    Denormalized(&'p Projection),
}

/// Most entity objects one query answer may hold with `denormalize:1`.
pub const MAX_DENORMALIZED_ENTITIES: usize = 100_000;

/// Most bytes the answers of one batch may take together.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024 * 1024;

/// What a batch's answers may still take: entity objects written with
/// `denormalize:1` by the current query, and bytes of the whole batch.
#[derive(Debug)]
pub struct Budget {
    /// Bytes of answers already complete in this batch.
    pub bytes_before: usize,
    /// Denormalised entity objects written by the current query.
    pub denormalized: usize,
}

impl Budget {
    /// A budget for a batch whose earlier answers took `bytes_before` bytes.
    pub fn new(bytes_before: usize) -> Self {
        Budget {
            bytes_before,
            denormalized: 0,
        }
    }

    /// Accounts for one more entity object, the current answer being
    /// `written` bytes long; fails once a limit is passed.
    fn entity(&mut self, mode: Mode<'_>, written: usize) -> Result<(), ApiError> {
        if let Mode::Denormalized(_) = mode {
            self.denormalized += 1;
            if self.denormalized > MAX_DENORMALIZED_ENTITIES {
                return Err(ApiError::validation(format!(
                    "The denormalized answer would hold more than {MAX_DENORMALIZED_ENTITIES} entities (the limit): every occurrence is repeated in full; select shorter paths, add a limit or drop denormalize:1"
                )));
            }
        }
        self.bytes(written)
    }

    /// Fails when the batch's answers would pass [`MAX_ANSWER_BYTES`] with
    /// `written` more bytes.
    pub fn bytes(&self, written: usize) -> Result<(), ApiError> {
        if self.bytes_before.saturating_add(written) > MAX_ANSWER_BYTES {
            return Err(ApiError::validation(format!(
                "The answer to this batch would be larger than {MAX_ANSWER_BYTES} bytes (the limit); query fewer rows or projections per batch"
            )));
        }
        Ok(())
    }
}

/// One member of an encoded record, before it is written.
#[derive(Clone, Copy)]
enum Field<'f> {
    /// A name of the compiled-in schema (an entity type's): written as is,
    /// see [`write_name`].
    Name(&'static str),
    Text(&'f str),
    Scalar(ScalarType, CellRef<'f>),
    Rel(Rel),
    Child(Option<Rel>, &'f Projection),
}

/// An object or array [`Loader::write_record`] is inside of: the object's
/// members and how many are written, or the array's items, how many are
/// written and how they are written.
enum Frame<'f> {
    Object(Vec<(&'static str, Field<'f>)>, usize),
    Array(&'f [usize], usize, Mode<'f>),
}

/// What [`Loader::write_record`] keeps from one record to the next: its stack
/// and the member lists of the objects it has written, so that writing a
/// record allocates nothing once a few have been written.
#[derive(Default)]
pub struct WriteScratch<'f> {
    stack: Vec<Frame<'f>>,
    spare: Vec<Vec<(&'static str, Field<'f>)>>,
}

impl Field<'_> {
    /// Writes a text or scalar member exactly as `serde_json` would write
    /// [`sql_to_json`]'s value (relations are written by the caller).
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Field::Name(s) => write_name(out, s),
            Field::Text(s) => write_str(out, s),
            Field::Scalar(ty, v) => match (ty, v) {
                (_, CellRef::Null) => out.extend_from_slice(b"null"),
                (ScalarType::Boolean, CellRef::Int(i)) => {
                    out.extend_from_slice(if *i != 0 { b"true" } else { b"false" })
                }
                (ScalarType::DateTime, CellRef::Text(s)) => {
                    out.extend_from_slice(br#"{"__type__":"datetime","value":"#);
                    write_str(out, s);
                    out.push(b'}');
                }
                (_, CellRef::Text(s)) => write_str(out, s),
                _ => write_value(out, &sql_to_json(*ty, &v.to_sql())),
            },
            Field::Rel(_) | Field::Child(..) => out.extend_from_slice(b"null"),
        }
    }
}

/// Puts a record's members in the order a `serde_json::Map` built by
/// inserting them in turn would serialise them: sorted by key, the last
/// value of a repeated key winning.
fn sort_members(fields: &mut Vec<(&str, Field<'_>)>) {
    // Stable, so a repeated key's values stay in the order pushed; the first
    // byte is compared first, which most keys differ in.
    fields.sort_by(|a, b| {
        (a.0.as_bytes().first())
            .cmp(&b.0.as_bytes().first())
            .then_with(|| a.0.cmp(b.0))
    });
    fields.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            std::mem::swap(later, kept);
        }
        same
    });
}

/// Whether JSON needs an escape for any byte of `bytes` (a control
/// character, a quote or a backslash), checked eight bytes at a time (but
/// for strings shorter than eight): most strings (ids, names) need none,
/// and byte by byte the check cost more than the copy.
fn needs_escape(bytes: &[u8]) -> bool {
    let word = |at: usize| {
        u64::from_le_bytes(
            bytes[at..at + 8]
                .try_into()
                .expect("a range of 8 bytes gives 8 bytes"),
        )
    };
    if bytes.len() < 8 {
        return bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
    }
    // Whole words, then the last eight bytes (overlapping the last word).
    let mut found = escapes_in(word(bytes.len() - 8));
    for at in (0..bytes.len() - 8).step_by(8) {
        found |= escapes_in(word(at));
    }
    found != 0
}

/// Non-zero when one of the eight bytes of `word` is below 0x20, a quote or
/// a backslash. `(x - 0x01..01 * n) & !x & 0x80..80` is non-zero exactly
/// when some byte of `x` is below `n` (for n <= 0x80): only such a byte
/// starts a borrow, and the lowest one sets its own top bit.
fn escapes_in(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & TOPS;
    below(word, 0x20)
        | below(word ^ (ONES * u64::from(b'"')), 1)
        | below(word ^ (ONES * u64::from(b'\\')), 1)
}

/// Writes `s` as a JSON string exactly as serde_json does. Most strings
/// (names, ids, usernames) need no escape ([`needs_escape`]) and are copied
/// in one piece.
fn write_str(out: &mut Vec<u8>, s: &str) {
    if needs_escape(s.as_bytes()) {
        return write_value(out, s);
    }
    write_quoted(out, s);
}

/// Writes `s`, which needs no escape, between quotes (with room for the
/// colon after a key).
#[inline]
fn write_quoted(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 3);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Writes a name of the compiled-in schema (an entity type's or an
/// attribute's) as a JSON string without looking for bytes to escape: none
/// has any (`schema_names_need_no_escape` checks every one).
#[inline]
fn write_name(out: &mut Vec<u8>, name: &'static str) {
    debug_assert!(!needs_escape(name.as_bytes()), "{name:?}");
    write_quoted(out, name);
}

/// Writes the key of an object member, a name of the compiled-in schema (see
/// [`write_name`]), and the colon after it.
fn write_key(out: &mut Vec<u8>, name: &'static str) {
    write_name(out, name);
    out.push(b':');
}

fn write_value(out: &mut Vec<u8>, v: &(impl serde::Serialize + ?Sized)) {
    serde_json::to_writer(out, v).expect("serialising to a Vec cannot fail");
}

/// Answers a `query` operation with its encoded JSON; `bytes_before` is the
/// size of the batch's earlier answers (see [`MAX_ANSWER_BYTES`]).
pub fn run(
    conn: &Connection,
    schema: &Schema,
    visible: Option<&[String]>,
    expression: &str,
    denormalize: bool,
    bytes_before: usize,
) -> Result<Vec<u8>, ApiError> {
    answer(
        conn,
        schema,
        visible,
        expression,
        denormalize,
        bytes_before,
        Plan::SERVE,
    )
}

/// How [`answer`] loads and writes. [`run`] serves with [`Plan::SERVE`];
/// tests vary it to check that its shortcuts give the same answer.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// At most this many root rows loaded and written at a time, where that
    /// gives the same answer.
    chunk: usize,
    /// Every column of every record read, not only those the answer needs.
    all_columns: bool,
}

impl Plan {
    const SERVE: Plan = Plan {
        chunk: CHUNK,
        all_columns: false,
    };

    /// Loading `chunk` rows at a time, reading only the columns needed.
    #[cfg(test)]
    fn chunked(chunk: usize) -> Plan {
        Plan {
            chunk,
            ..Plan::SERVE
        }
    }
}

/// [`run`], as `plan` says.
fn answer(
    conn: &Connection,
    schema: &Schema,
    visible: Option<&[String]>,
    expression: &str,
    denormalize: bool,
    bytes_before: usize,
    plan: Plan,
) -> Result<Vec<u8>, ApiError> {
    let q = super::parse(expression)?;
    let t = entity_type(schema, &q.entity)?;
    let paths: Vec<Vec<String>> = if q.select.is_empty() {
        t.default_projections
            .iter()
            .map(|p| vec![p.to_string()])
            .collect()
    } else {
        q.select.clone()
    };
    let proj = Projection::build(schema, t, &paths)?;
    let mut loader = Loader::new(conn, schema, visible);
    if !plan.all_columns {
        loader.read_only_what(t, &proj)?;
    }
    let (rows, more) = loader.query(&q)?;
    // Written straight from the records, in the order (keys sorted) and
    // format serde_json gives the equivalent `Value`: no tree per entity.
    // Room for the first rows (at up to 1 KiB each), then for the others at
    // their size (below): realloc copies the whole old buffer.
    let mut out = Vec::with_capacity(64 + rows.len().min(SAMPLE_ROWS) * 1024);
    out.extend_from_slice(br#"{"action":"query","data":["#);
    let mut seen = Vec::new();
    let mut budget = Budget::new(bytes_before);
    let mode = if denormalize {
        Mode::Denormalized(&proj)
    } else {
        Mode::Normalized
    };
    // Projected and written a chunk of rows at a time when that gives the same
    // answer (see `each_type_once`), so what is written was just loaded and is
    // still in the CPU's caches: a 10,000-row answer costs per row what a
    // 500-row page does.
    let chunk_rows = if proj.each_type_once(schema, t) {
        plan.chunk
    } else {
        rows.len().max(1)
    };
    for (c, chunk) in rows.chunks(chunk_rows).enumerate() {
        loader.project(chunk, &proj)?;
        seen.resize(loader.records.len(), false);
        let mut scratch = WriteScratch::default();
        for (n, r) in chunk.iter().enumerate() {
            if c > 0 || n > 0 {
                out.push(b',');
            }
            loader.write_record(*r, mode, &mut seen, &mut budget, &mut scratch, &mut out)?;
            if c == 0 && n + 1 == SAMPLE_ROWS && rows.len() > SAMPLE_ROWS {
                // Room for the rest at the size of the first rows, plus a
                // quarter: growing an answer by doubling copies it again
                // each time.
                let per_row = out.len() / SAMPLE_ROWS;
                out.reserve((rows.len() - SAMPLE_ROWS) * (per_row + per_row / 4));
            }
        }
    }
    out.extend_from_slice(br#"],"metadata":{"next":{"offset":"#);
    if more {
        write_value(&mut out, &(q.offset.unwrap_or(0) + rows.len() as u64));
    } else {
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b"}}}");
    Ok(out)
}

/// Encodes one stored entity with the given scalar attributes (for create and
/// update answers); None when it does not exist.
pub fn entity(
    conn: &Connection,
    schema: &Schema,
    t: &EntityType,
    id: &str,
    proj: &Projection,
) -> Result<Option<Value>, ApiError> {
    let mut loader = Loader::new(conn, schema, None);
    let rows = loader.by_ids(t, &[id.to_string()])?;
    loader.project(&rows, proj)?;
    Ok(rows.first().map(|r| loader.encode_denormalized(*r, proj)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeedData;

    /// A synthetic studio of `users` users (and the demo's five) in memory.
    fn studio(users: usize) -> (Schema, Connection) {
        let schema = Schema::new();
        let mut conn = crate::store::open(None, &schema).unwrap();
        SeedData::synthetic(users).load(&mut conn).unwrap();
        (schema, conn)
    }

    /// The answer to `expression` as written under `plan`.
    fn answer_with(
        conn: &Connection,
        schema: &Schema,
        expression: &str,
        denormalize: bool,
        plan: Plan,
    ) -> Vec<u8> {
        answer(conn, schema, None, expression, denormalize, 0, plan).unwrap()
    }

    /// Fails, naming the first byte where they differ and the text around
    /// it in each, unless `a` and `b` (labelled) are the same bytes.
    fn assert_same_bytes(what: &str, (a_name, a): (&str, &[u8]), (b_name, b): (&str, &[u8])) {
        if let Some(at) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
            let around = |x: &[u8]| {
                let start = at.saturating_sub(120).min(x.len());
                String::from_utf8_lossy(&x[start..(at + 60).min(x.len())]).into_owned()
            };
            panic!(
                "{what}: the answers differ at byte {at}:\n{a_name}: ...{}\n{b_name}: ...{}",
                around(a),
                around(b)
            );
        }
    }

    /// The answer to `expression` as served (100 rows a chunk), parsed.
    fn answer_json(conn: &Connection, schema: &Schema, expression: &str) -> Value {
        let bytes = answer_with(conn, schema, expression, false, Plan::chunked(100));
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for s in [
            "",
            "user00001",
            "caf\u{e9} \u{1f3ac}",
            "a\"b",
            "back\\slash",
            "tab\there",
            "\u{7f}\u{1}\n",
            "</script>",
            "a long name without anything to escape in it, longer than a vector",
            // Escapes that start a later eight-byte word, or sit in the
            // last bytes (which the overlapping last word reads).
            "a quote \" opens the second word, and a tail follows",
            "sixteen bytes ok\u{1f}then a control character",
            "thirty-two bytes with no escape.\\",
        ] {
            let mut out = b"x".to_vec();
            write_str(&mut out, s);
            assert_eq!(out[1..], serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn members_are_sorted_by_key_and_a_repeated_key_keeps_its_last_value() {
        let mut fields = vec![
            ("name", Field::Text("n")),
            ("id", Field::Text("first")),
            ("", Field::Text("empty")),
            ("__entity_type__", Field::Text("User")),
            ("id", Field::Text("second")),
            ("is_active", Field::Text("a")),
            ("id", Field::Text("third")),
        ];
        sort_members(&mut fields);
        let got: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, f)| match f {
                Field::Text(v) => (*k, *v),
                _ => unreachable!("only text members were given"),
            })
            .collect();
        assert_eq!(
            got,
            [
                ("", "empty"),
                ("__entity_type__", "User"),
                ("id", "third"),
                ("is_active", "a"),
                ("name", "n"),
            ]
        );
        // What a serde_json::Map given the same members in turn writes.
        let mut map = serde_json::Map::new();
        for (k, v) in [
            ("name", "n"),
            ("id", "first"),
            ("", "empty"),
            ("__entity_type__", "User"),
            ("id", "second"),
            ("is_active", "a"),
            ("id", "third"),
        ] {
            map.insert(k.to_owned(), Value::from(v));
        }
        let expected: Vec<(&str, &str)> = map
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn answers_are_written_with_their_keys_in_serde_json_order() {
        // serde_json (without preserve_order) writes a Map's keys sorted and
        // once each: an answer read and written again by it must come back
        // byte for byte, normalised (records in full and as references,
        // with scalars and relations around each other) and denormalised.
        let (schema, conn) = studio(40);
        for expression in [
            "select username, user_security_roles.security_role.name from User",
            "select username, email, is_active, memberships, user_security_roles.security_role.name, \
             user_security_roles.user.first_name from User",
            "select name, user_security_roles.user.username, user_security_roles.is_all_projects \
             from SecurityRole",
            "UserSecurityRole",
        ] {
            for denormalize in [false, true] {
                let bytes = answer_with(&conn, &schema, expression, denormalize, Plan::SERVE);
                let again =
                    serde_json::to_vec(&serde_json::from_slice::<Value>(&bytes).unwrap()).unwrap();
                assert_same_bytes(
                    &format!("{expression} (denormalize: {denormalize})"),
                    ("written", &bytes),
                    ("serde_json", &again),
                );
            }
        }
    }

    #[test]
    fn schema_names_need_no_escape() {
        // `write_name` and `write_key` copy these without looking.
        let schema = Schema::new();
        let mut names = vec!["__entity_type__", "id"];
        for t in schema.types() {
            names.push(t.name);
            names.extend(t.attributes.iter().map(|a| a.name));
            names.extend(t.system_projections.iter().copied());
        }
        for name in names {
            let mut out = Vec::new();
            write_key(&mut out, name);
            assert_eq!(out, format!("{}:", Value::from(name)).into_bytes());
        }
    }

    #[test]
    fn the_word_check_finds_exactly_the_bytes_json_escapes() {
        let escaped = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        // Every byte value, and every pair of neighbours (where a borrow
        // from one byte could reach the next), at every place in a word.
        for at in 0..8 {
            for a in 0..=255u8 {
                for b in 0..=255u8 {
                    let mut word = [b'a'; 8];
                    word[at] = a;
                    if at + 1 < 8 {
                        word[at + 1] = b;
                    }
                    let expected = escaped(a) || (at + 1 < 8 && escaped(b));
                    assert_eq!(
                        escapes_in(u64::from_le_bytes(word)) != 0,
                        expected,
                        "{word:?}"
                    );
                }
            }
        }
        // Strings of every length up to three words, one byte changed.
        for len in 0..24 {
            for at in 0..len {
                for c in [0x00, 0x1f, 0x20, b'"', b'\\', 0x7f, 0x80, 0xff] {
                    let mut bytes = vec![b'x'; len];
                    bytes[at] = c;
                    assert_eq!(needs_escape(&bytes), escaped(c), "{bytes:?}");
                }
            }
            assert!(!needs_escape(&vec![b'x'; len]));
        }
    }

    #[test]
    fn a_record_reached_by_two_paths_has_the_scalars_of_both() {
        let (schema, conn) = studio(20);
        let expression = "select username, user_security_roles.security_role.user_security_roles.user.email from User";
        let v = answer_json(&conn, &schema, expression);
        // Each user is written in full once, where it first occurs (at the
        // root or below another user's role), with the attribute of the
        // root's path and of the deeper one.
        fn full_users<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
            match v {
                Value::Object(o) => {
                    if o.get("__entity_type__").is_some_and(|t| t == "User") && o.len() > 2 {
                        out.push(v);
                    }
                    o.values().for_each(|m| full_users(m, out));
                }
                Value::Array(items) => items.iter().for_each(|m| full_users(m, out)),
                _ => {}
            }
        }
        let mut users = Vec::new();
        full_users(&v["data"], &mut users);
        assert_eq!(users.len(), 25, "each user once in full");
        for user in users {
            assert!(user["username"].is_string(), "{user}");
            assert!(user.get("email").is_some(), "{user}");
        }
    }

    #[test]
    fn reading_only_the_columns_an_answer_needs_gives_the_same_answer() {
        let (schema, conn) = studio(300);
        for (expression, denormalize) in [
            (
                "select username, user_security_roles.security_role.name from User",
                false,
            ),
            (
                "select username, user_security_roles.security_role.name from User",
                true,
            ),
            (
                "select username, user_security_roles.security_role.user_security_roles.user.email from User",
                false,
            ),
            (
                "select name, user_security_roles.user.username, user_security_roles.user_security_role_projects.project.full_name from SecurityRole",
                false,
            ),
            ("User", false),
            ("SecurityRole", false),
            ("UserSecurityRole", false),
            ("UserSecurityRoleProject", false),
            ("Project", false),
            (
                "select user.first_name, security_role.type from UserSecurityRole",
                true,
            ),
        ] {
            let all = answer_with(
                &conn,
                &schema,
                expression,
                denormalize,
                Plan {
                    all_columns: true,
                    ..Plan::chunked(100)
                },
            );
            let needed = answer_with(&conn, &schema, expression, denormalize, Plan::chunked(100));
            assert_same_bytes(
                &format!("{expression} (denormalize: {denormalize})"),
                ("all columns", &all),
                ("needed only", &needed),
            );
            assert!(all.len() > 300, "{expression}: {} bytes", all.len());
        }
    }

    #[test]
    fn collections_hold_each_owners_members_in_order() {
        let (schema, conn) = studio(1195);
        // Roles own many grants each (and some none); users own one each.
        for (expression, owner, fk, collection) in [
            (
                "select name, user_security_roles from SecurityRole",
                "SecurityRole",
                "security_role_id",
                "user_security_roles",
            ),
            (
                "select username, user_security_roles from User",
                "User",
                "user_id",
                "user_security_roles",
            ),
            // User twice in the tree: all 1,200 owners are projected at once,
            // their members fetched in chunks of CHUNK owners.
            (
                "select username, user_security_roles.user.username from User",
                "User",
                "user_id",
                "user_security_roles",
            ),
        ] {
            let v = answer_json(&conn, &schema, expression);
            let rows = v["data"].as_array().unwrap();
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT id FROM \"UserSecurityRole\" WHERE \"{fk}\" = ?1 ORDER BY rowid"
                ))
                .unwrap();
            let (mut empty, mut many) = (0, 0);
            for row in rows {
                assert_eq!(row["__entity_type__"], owner);
                let expected: Vec<String> = stmt
                    .query_map([row["id"].as_str().unwrap()], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let got: Vec<&str> = row[collection]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["id"].as_str().unwrap())
                    .collect();
                assert_eq!(got, expected, "{expression}: {}", row["id"]);
                empty += usize::from(got.is_empty());
                many += usize::from(got.len() > 1);
            }
            if owner == "SecurityRole" {
                assert!(many > 0, "{expression}: no owner with several members");
                assert!(empty > 0, "{expression}: no owner without members");
            }
        }
    }

    #[test]
    fn answers_written_by_chunks_equal_the_whole() {
        let (schema, conn) = studio(1195);
        let user = schema.get("User").unwrap();
        let tree = |e: &str| {
            let q = super::super::parse(e).unwrap();
            Projection::build(&schema, user, &q.select).unwrap()
        };
        let roles = "select username, user_security_roles.security_role.name from User";
        let back = "select username, user_security_roles.security_role.user_security_roles.user.email from User";
        assert!(tree(roles).each_type_once(&schema, user));
        assert!(!tree(back).each_type_once(&schema, user));
        // (`back` with denormalize:1 would repeat each role's users for each user.)
        for (expression, denormalize) in [(roles, false), (roles, true), (back, false)] {
            let whole = answer_with(
                &conn,
                &schema,
                expression,
                denormalize,
                Plan::chunked(usize::MAX),
            );
            let chunked = answer_with(&conn, &schema, expression, denormalize, Plan::chunked(100));
            assert_eq!(whole, chunked, "{expression} denormalize {denormalize}");
            assert!(
                whole.len() > 1200 * 40,
                "{expression}: {} bytes",
                whole.len()
            );
        }
        // A limit that ends inside a chunk, with more rows after it, and one
        // past the last row.
        for (tail, rows, next) in [
            (" offset 10 limit 250", 250, "260"),
            (" offset 1100 limit 250", 100, "null"),
        ] {
            let expression = format!("{roles}{tail}");
            let whole = answer_with(
                &conn,
                &schema,
                &expression,
                false,
                Plan::chunked(usize::MAX),
            );
            let chunked = answer_with(&conn, &schema, &expression, false, Plan::chunked(100));
            assert_eq!(whole, chunked, "{expression}");
            let v: Value = serde_json::from_slice(&chunked).unwrap();
            assert_eq!(v["data"].as_array().unwrap().len(), rows, "{expression}");
            assert_eq!(
                v["metadata"]["next"]["offset"].to_string(),
                next,
                "{expression}"
            );
        }
    }
}
