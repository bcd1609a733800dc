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
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

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

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;
type FastMap<K, V> = HashMap<K, V, FxBuild>;
type FastSet<K> = HashSet<K, FxBuild>;

/// A few entries kept sorted by name: a `BTreeMap`'s order and last-insert-wins
/// without a node allocation per record.
#[derive(Debug)]
struct Sorted<V>(Vec<(&'static str, V)>);

impl<V> Default for Sorted<V> {
    fn default() -> Self {
        Sorted(Vec::new())
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

enum Rel {
    One(Option<usize>),
    Many(Vec<usize>),
}

struct Record<'s> {
    t: &'s EntityType,
    id: String,
    columns: Vec<Sql>,
    projected: Sorted<()>,
    rels: Sorted<Rel>,
}

/// The entities loaded for one response.
pub struct Loader<'s> {
    conn: &'s Connection,
    schema: &'s Schema,
    visible: Option<&'s [String]>,
    records: Vec<Record<'s>>,
    index: FastMap<(&'static str, String), usize>,
    statements: usize,
}

fn select_list(t: &EntityType, alias: &str) -> String {
    t.columns()
        .iter()
        .map(|(c, _)| format!("{alias}.\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'s> Loader<'s> {
    /// A loader limited to the projects in `visible` (None = all).
    pub fn new(conn: &'s Connection, schema: &'s Schema, visible: Option<&'s [String]>) -> Self {
        Loader {
            conn,
            schema,
            visible,
            records: Vec::new(),
            index: FastMap::default(),
            statements: 0,
        }
    }

    fn fetch(
        &mut self,
        t: &'s EntityType,
        sql: &str,
        params: &[Sql],
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
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut columns = Vec::with_capacity(ncols);
            for i in 0..ncols {
                columns.push(row.get::<_, Sql>(i)?);
            }
            let id = match &columns[t.column_index("id").unwrap_or(0)] {
                Sql::Text(s) => s.clone(),
                other => format!("{other:?}"),
            };
            let key = (t.name, id.clone());
            let idx = match self.index.get(&key) {
                Some(i) => *i,
                None => {
                    self.records.push(Record {
                        t,
                        id,
                        columns,
                        projected: Sorted::default(),
                        rels: Sorted::default(),
                    });
                    self.index.insert(key, self.records.len() - 1);
                    self.records.len() - 1
                }
            };
            out.push(idx);
        }
        Ok(out)
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
            select_list(t, "t0")
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
        let mut rows = self.fetch(t, &sql, &b.params)?;
        let more = q.limit.is_some_and(|l| rows.len() as u64 > l);
        if let Some(l) = q.limit {
            rows.truncate(l as usize);
        }
        Ok((rows, more))
    }

    /// Loads records of `t` by id (visible ones only), in the given order.
    pub fn by_ids(&mut self, t: &'s EntityType, ids: &[String]) -> Result<Vec<usize>, ApiError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let mut b = SqlBuilder::new(self.schema, self.visible);
            let list = b.placeholders(chunk.iter().map(|s| Sql::Text(s.clone())));
            let scope = b.scope(t, "t0");
            let sql = format!(
                "SELECT {} FROM {} t0 WHERE t0.id IN ({list}) AND ({scope})",
                select_list(t, "t0"),
                t.table()
            );
            out.extend(self.fetch(t, &sql, &b.params)?);
        }
        let pos: FastMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        out.sort_by_key(|i| {
            pos.get(self.records[*i].id.as_str())
                .copied()
                .unwrap_or(usize::MAX)
        });
        Ok(out)
    }

    fn column_value(&self, idx: usize, column: &str) -> Option<&Sql> {
        let r = &self.records[idx];
        r.t.column_index(column).map(|i| &r.columns[i])
    }

    /// Loads `proj` below the records `rows` (all of one type), level by level.
    pub fn project(&mut self, rows: &[usize], proj: &Projection) -> Result<(), ApiError> {
        let mut seen = FastSet::default();
        let rows: Vec<usize> = rows.iter().copied().filter(|r| seen.insert(*r)).collect();
        let Some(&first) = rows.first() else {
            return Ok(());
        };
        let t = self.records[first].t;
        for r in &rows {
            for name in &proj.scalars {
                self.records[*r].projected.insert(name, ());
            }
        }
        for (name, child) in &proj.relations {
            let attr = attribute(t, name)?;
            let children = match attr.kind {
                AttrKind::Reference { target, fk } => {
                    let tt = entity_type(self.schema, target)?;
                    let mut ids: Vec<String> = Vec::new();
                    let mut uniq = FastSet::default();
                    for r in &rows {
                        if let Some(Sql::Text(v)) = self.column_value(*r, fk)
                            && uniq.insert(v.clone())
                        {
                            ids.push(v.clone());
                        }
                    }
                    let loaded = self.by_ids(tt, &ids)?;
                    let by_id: FastMap<String, usize> = loaded
                        .iter()
                        .map(|i| (self.records[*i].id.clone(), *i))
                        .collect();
                    for r in &rows {
                        let target = match self.column_value(*r, fk) {
                            Some(Sql::Text(v)) => by_id.get(v).copied(),
                            _ => None,
                        };
                        self.records[*r].rels.insert(attr.name, Rel::One(target));
                    }
                    loaded
                }
                AttrKind::Collection { target, remote_fk } => {
                    let tt = entity_type(self.schema, target)?;
                    let ids: Vec<String> =
                        rows.iter().map(|r| self.records[*r].id.clone()).collect();
                    let mut loaded = Vec::new();
                    for chunk in ids.chunks(CHUNK) {
                        let mut b = SqlBuilder::new(self.schema, self.visible);
                        let list = b.placeholders(chunk.iter().map(|s| Sql::Text(s.clone())));
                        let scope = b.scope(tt, "t0");
                        let sql = format!(
                            "SELECT {} FROM {} t0 WHERE t0.\"{remote_fk}\" IN ({list}) AND ({scope}) ORDER BY t0.rowid",
                            select_list(tt, "t0"),
                            tt.table()
                        );
                        loaded.extend(self.fetch(tt, &sql, &b.params)?);
                    }
                    let mut groups: FastMap<String, Vec<usize>> = FastMap::default();
                    for i in &loaded {
                        if let Some(Sql::Text(owner)) = self.column_value(*i, remote_fk) {
                            groups.entry(owner.clone()).or_default().push(*i);
                        }
                    }
                    for r in &rows {
                        let members = groups
                            .get(&self.records[*r].id)
                            .cloned()
                            .unwrap_or_default();
                        self.records[*r].rels.insert(attr.name, Rel::Many(members));
                    }
                    loaded
                }
                AttrKind::Scalar { .. } => continue,
            };
            self.project(&children, child)?;
        }
        Ok(())
    }

    fn head(&self, idx: usize) -> Map<String, Value> {
        let r = &self.records[idx];
        let mut o = Map::new();
        o.insert("__entity_type__".into(), r.t.name.into());
        o.insert("id".into(), r.id.clone().into());
        o
    }

    fn put_scalar(&self, idx: usize, o: &mut Map<String, Value>, name: &str) {
        if let Some((name, ty, v)) = self.scalar(idx, name) {
            o.insert(name.to_string(), sql_to_json(ty, v));
        }
    }

    /// The attribute `name` of a record when it is a loaded scalar.
    fn scalar(&self, idx: usize, name: &str) -> Option<(&'static str, ScalarType, &Sql)> {
        let r = &self.records[idx];
        let attr = r.t.attribute(name)?;
        let AttrKind::Scalar { ty, column, .. } = attr.kind else {
            return None;
        };
        Some((attr.name, ty, self.column_value(idx, column)?))
    }

    /// The members of a record in the order a `serde_json::Map` (sorted by
    /// key, the last value of a repeated key winning) would serialise them.
    fn members<'f>(
        &'f self,
        idx: usize,
        mut fields: Vec<(&'f str, Field<'f>)>,
    ) -> Vec<(&'f str, Field<'f>)> {
        let r = &self.records[idx];
        fields.splice(
            0..0,
            [
                ("__entity_type__", Field::Text(r.t.name)),
                ("id", Field::Text(&r.id)),
            ],
        );
        fields.reverse();
        // Stable: among equal keys the last pushed (first after reversing) stays first.
        fields.sort_by(|a, b| a.0.cmp(b.0));
        fields.dedup_by(|later, first| later.0 == first.0);
        fields
    }

    /// The members of one occurrence of a record: normalised, fully the
    /// first time (`seen` spans one response) with every attribute loaded
    /// for it and as a bare reference after; denormalised, exactly the
    /// projections of the given tree.
    fn fields<'f>(
        &'f self,
        idx: usize,
        mode: Mode<'f>,
        seen: &mut Vec<bool>,
    ) -> Vec<(&'f str, Field<'f>)> {
        let r = &self.records[idx];
        let mut fields = Vec::new();
        match mode {
            Mode::Normalized => {
                if seen.len() <= idx {
                    seen.resize(self.records.len().max(idx + 1), false);
                }
                if !std::mem::replace(&mut seen[idx], true) {
                    fields.reserve(
                        r.t.system_projections.len() + r.projected.len() + r.rels.len() + 2,
                    );
                    for name in
                        r.t.system_projections
                            .iter()
                            .copied()
                            .chain(r.projected.iter().map(|(n, _)| n))
                    {
                        if let Some((name, ty, v)) = self.scalar(idx, name) {
                            fields.push((name, Field::Scalar(ty, v)));
                        }
                    }
                    for (name, rel) in r.rels.iter() {
                        fields.push((name, Field::Rel(rel)));
                    }
                }
            }
            Mode::Denormalized(proj) => {
                fields.reserve(
                    r.t.system_projections.len() + proj.scalars.len() + proj.relations.len() + 2,
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
                    fields.push((name, Field::Child(r.rels.get(name), child)));
                }
            }
        }
        self.members(idx, fields)
    }

    /// Writes one root record of a query answer and everything below it.
    ///
    /// The walk keeps its own stack instead of recursing, so no answer can
    /// exhaust a thread's stack, and counts the entity objects it writes
    /// against `budget`: `denormalize:1` repeats an entity wherever it
    /// occurs, so its output can grow exponentially with the path length.
    pub fn write_record(
        &self,
        root: usize,
        mode: Mode<'_>,
        seen: &mut Vec<bool>,
        budget: &mut Budget,
        out: &mut Vec<u8>,
    ) -> Result<(), ApiError> {
        enum Frame<'f> {
            Object(std::vec::IntoIter<(&'f str, Field<'f>)>, bool),
            Array(&'f [usize], usize, Mode<'f>),
        }
        enum Step<'f> {
            Open(usize, Mode<'f>),
            OpenArray(&'f [usize], Mode<'f>),
            Close(u8),
            Next,
            Done,
        }
        let mut stack: Vec<Frame<'_>> = Vec::new();
        let mut step = Step::Open(root, mode);
        loop {
            match step {
                Step::Open(idx, mode) => {
                    budget.entity(mode, out.len())?;
                    out.push(b'{');
                    stack.push(Frame::Object(
                        self.fields(idx, mode, seen).into_iter(),
                        false,
                    ));
                }
                Step::OpenArray(items, mode) => {
                    out.push(b'[');
                    stack.push(Frame::Array(items, 0, mode));
                }
                Step::Close(c) => {
                    out.push(c);
                    stack.pop();
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
                Some(Frame::Object(fields, started)) => match fields.next() {
                    None => Step::Close(b'}'),
                    Some((name, field)) => {
                        if std::mem::replace(started, true) {
                            out.push(b',');
                        }
                        write_str(out, name);
                        out.push(b':');
                        match field {
                            Field::Rel(Rel::One(Some(i))) => Step::Open(*i, Mode::Normalized),
                            Field::Rel(Rel::Many(items)) => {
                                Step::OpenArray(items, Mode::Normalized)
                            }
                            Field::Child(Some(Rel::One(Some(i))), child) => {
                                Step::Open(*i, Mode::Denormalized(child))
                            }
                            Field::Child(Some(Rel::Many(items)), child) => {
                                Step::OpenArray(items, Mode::Denormalized(child))
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
                Some(Rel::Many(items)) => Value::Array(
                    items
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
enum Field<'f> {
    Text(&'f str),
    Scalar(ScalarType, &'f Sql),
    Rel(&'f Rel),
    Child(Option<&'f Rel>, &'f Projection),
}

impl Field<'_> {
    /// Writes a text or scalar member exactly as `serde_json` would write
    /// [`sql_to_json`]'s value (relations are written by the caller).
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Field::Text(s) => write_str(out, s),
            Field::Scalar(ty, v) => match (ty, v) {
                (_, Sql::Null) => out.extend_from_slice(b"null"),
                (ScalarType::Boolean, Sql::Integer(i)) => {
                    out.extend_from_slice(if *i != 0 { b"true" } else { b"false" })
                }
                (ScalarType::DateTime, Sql::Text(s)) => {
                    out.extend_from_slice(br#"{"__type__":"datetime","value":"#);
                    write_str(out, s);
                    out.push(b'}');
                }
                (_, Sql::Text(s)) => write_str(out, s),
                _ => write_value(out, &sql_to_json(*ty, v)),
            },
            Field::Rel(_) | Field::Child(..) => out.extend_from_slice(b"null"),
        }
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    write_value(out, s);
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
    let (rows, more) = loader.query(&q)?;
    loader.project(&rows, &proj)?;
    // Written straight from the records, in the order (keys sorted) and
    // format serde_json gives the equivalent `Value`: no tree per entity.
    let mut out = Vec::with_capacity(64 + rows.len() * 256);
    out.extend_from_slice(br#"{"action":"query","data":["#);
    let mut seen = vec![false; loader.records.len()];
    let mut budget = Budget::new(bytes_before);
    let mode = if denormalize {
        Mode::Denormalized(&proj)
    } else {
        Mode::Normalized
    };
    for (n, r) in rows.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        loader.write_record(*r, mode, &mut seen, &mut budget, &mut out)?;
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
