//! Entity-type schemas from `query_schemas`: attribute kinds, primary keys,
//! default projections, interned attribute names, and the schema cache file.
//!
//! The cache file is our own format, `{"format", "server_url", "schema_hash", "types"}`
//! with a digest of the schemas (see `CacheFile`): the
//! server's hash is stored next to the schemas, so no Python-style canonical dump has
//! to be recomputed on the client.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::json_reader::{Next, Number, Reader};

/// FxHash-style hasher: fast for the short strings we intern.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let v = u64::from_le_bytes(c.try_into().unwrap());
            h = (h.rotate_left(5) ^ v).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Interned strings (attribute names, entity type names) → small integer ids.
pub(crate) struct Interner {
    /// Each name once, shared by `ids` and `names` (one allocation a name).
    ids: FastMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
    /// Recently interned names, direct-mapped by length and end bytes: the
    /// objects of a reply repeat the same few keys, and one comparison is
    /// cheaper than hashing the name (a quarter of decoding a page was that).
    recent: [u32; RECENT_NAMES],
}

impl Interner {
    /// An interner whose first ids are the names the decoder looks for
    /// ([`ATTR_ENTITY_TYPE`], [`ATTR_TYPE`], [`ATTR_VALUE`]).
    pub(crate) fn with_reserved_names() -> Interner {
        let mut names = Interner::default();
        for (id, name) in [
            (ATTR_ENTITY_TYPE, "__entity_type__"),
            (ATTR_TYPE, "__type__"),
            (ATTR_VALUE, "value"),
        ] {
            let got = names.intern(name);
            debug_assert_eq!(got, id);
        }
        names
    }

    /// The interned names, in id order.
    pub(crate) fn names(&self) -> &[Arc<str>] {
        &self.names
    }
}

/// The primary-key attribute names of the types the server describes: what
/// decoding an answer needs of the schema, shared read-only with the threads
/// that decode pages away from the session's lock. A type it does not list is
/// keyed by `id`, as [`Schema::type_id_or_register`] registers it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Keys(FastMap<Box<str>, Box<[Box<str>]>>);

impl Keys {
    /// The primary-key attribute names of `ty`, `None` for a type keyed by `id`.
    pub(crate) fn primary_key(&self, ty: &str) -> Option<&[Box<str>]> {
        self.0.get(ty).map(|k| &k[..])
    }
}

/// Entries of [`Interner::recent`] (a power of two).
const RECENT_NAMES: usize = 64;

impl Default for Interner {
    fn default() -> Self {
        Interner {
            ids: FastMap::default(),
            names: Vec::new(),
            recent: [u32::MAX; RECENT_NAMES],
        }
    }
}

#[inline]
fn recent_name_index(s: &str) -> usize {
    let b = s.as_bytes();
    let first = usize::from(b.first().copied().unwrap_or(0));
    let last = usize::from(b.last().copied().unwrap_or(0));
    (b.len().wrapping_mul(31) ^ first.wrapping_mul(7) ^ last) & (RECENT_NAMES - 1)
}

impl Interner {
    #[inline]
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        let r = recent_name_index(s);
        if let Some(name) = self.names.get(self.recent[r] as usize)
            && **name == *s
        {
            return self.recent[r];
        }
        let id = match self.ids.get(s) {
            Some(&id) => id,
            None => {
                let id = self.names.len() as u32;
                let name: Arc<str> = Arc::from(s);
                self.names.push(Arc::clone(&name));
                self.ids.insert(name, id);
                id
            }
        };
        self.recent[r] = id;
        id
    }
    /// Makes room for `additional` more names.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.ids.reserve(additional);
        self.names.reserve(additional);
    }
    #[inline]
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
    #[inline]
    pub(crate) fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// How an attribute is represented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttrKind {
    String,
    Bool,
    Int,
    Float,
    DateTime,
    /// `object` / `variable` / unknown: any JSON.
    Json,
    /// A single reference to an entity of this type.
    Ref(String),
    /// A collection of entities of this type (`array` or `mapped_array`).
    Collection(String),
}

impl AttrKind {
    /// What a value of this kind is, for messages: `"a string"`, `"an entity"`, ...
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            AttrKind::String => "a string",
            AttrKind::Bool => "a boolean",
            AttrKind::Int => "an integer",
            AttrKind::Float => "a float",
            AttrKind::DateTime => "a datetime",
            AttrKind::Ref(_) => "an entity",
            AttrKind::Collection(_) => "a collection",
            AttrKind::Json => "JSON",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TypeInfo {
    pub name: String,
    /// Whether the server's schemas describe this type.
    pub known: bool,
    pub primary_key: Vec<String>,
    /// Interned ids of the primary-key attributes.
    pub pk_ids: Vec<u32>,
    pub default_projections: Vec<String>,
    /// attribute id → kind
    pub attrs: FastMap<u32, AttrKind>,
}

/// All schemas of the server plus the interners used by the identity map.
#[derive(Default)]
pub(crate) struct Schema {
    pub attrs: Interner,
    pub types: Vec<TypeInfo>,
    pub by_name: FastMap<Box<str>, u32>,
    /// The primary keys of the described types (see [`Schema::keys`]), made
    /// on first use: a session that never decodes an entity does not pay.
    keys: std::sync::OnceLock<std::sync::Arc<Keys>>,
    /// Recent attribute-name resolutions (see [`Schema::recent_attr`]).
    recent: RecentAttrs,
}

/// Entries of [`RecentAttrs`] (a power of two).
const RECENT: usize = 32;

/// A direct-mapped cache of (type, attribute name) → attribute id for types
/// the server describes, so that a read of an attribute by name (the C ABI's
/// getters) compares one short string instead of hashing it into two maps.
/// The types of a schema never change once it is built, so an entry stays
/// true for the schema's life.
struct RecentAttrs([Option<(u32, Box<str>, u32)>; RECENT]);

impl Default for RecentAttrs {
    fn default() -> Self {
        RecentAttrs([const { None }; RECENT])
    }
}

#[inline]
fn recent_index(tid: u32, name: &str) -> usize {
    let b = name.as_bytes();
    let first = u32::from(b.first().copied().unwrap_or(0));
    let last = u32::from(b.last().copied().unwrap_or(0));
    ((b.len() as u32).wrapping_mul(31) ^ first.wrapping_mul(7) ^ last ^ tid.wrapping_mul(13))
        as usize
        & (RECENT - 1)
}

/// Attribute ids that are reserved for the wire's special keys.
pub(crate) const ATTR_ENTITY_TYPE: u32 = 0;
pub(crate) const ATTR_TYPE: u32 = 1;
pub(crate) const ATTR_VALUE: u32 = 2;

impl Schema {
    /// The attribute id of `name` on type `tid` if it was resolved recently.
    #[inline]
    pub(crate) fn recent_attr(&self, tid: u32, name: &str) -> Option<u32> {
        match &self.recent.0[recent_index(tid, name)] {
            Some((t, n, a)) if *t == tid && **n == *name => Some(*a),
            _ => None,
        }
    }

    /// Remembers that `name` on type `tid` is attribute `attr` (only for types
    /// the server describes: their attributes are fixed).
    pub(crate) fn note_attr(&mut self, tid: u32, name: &str, attr: u32) {
        if self.types.get(tid as usize).is_some_and(|t| t.known) {
            self.recent.0[recent_index(tid, name)] = Some((tid, name.into(), attr));
        }
    }

    pub(crate) fn new() -> Schema {
        Schema {
            attrs: Interner::with_reserved_names(),
            ..Schema::default()
        }
    }

    /// The primary keys of the types the server describes, to decode answers
    /// without this schema (see [`crate::decode`]).
    pub(crate) fn keys(&self) -> std::sync::Arc<Keys> {
        self.keys
            .get_or_init(|| {
                let described = self.types.iter().filter(|t| t.known).map(|t| {
                    let pk = t.primary_key.iter().map(|k| k.as_str().into()).collect();
                    (t.name.as_str().into(), pk)
                });
                std::sync::Arc::new(Keys(described.collect()))
            })
            .clone()
    }

    /// Builds the schema from the `query_schemas` answer (an array of schema objects).
    pub(crate) fn from_json(schemas: &serde_json::Value) -> Schema {
        let mut s = Schema::new();
        if let Some(list) = schemas.as_array() {
            for sch in list {
                s.add_schema(sch);
            }
        }
        s
    }

    fn add_schema(&mut self, sch: &serde_json::Value) {
        let Some(name) = sch.get("id").and_then(|v| v.as_str()) else {
            return;
        };
        let strs = |key: &str| -> Vec<String> {
            sch.get(key)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut primary_key = strs("primary_key");
        if primary_key.is_empty() {
            primary_key.push("id".into());
        }
        let mut attrs = FastMap::default();
        if let Some(props) = sch.get("properties").and_then(|v| v.as_object()) {
            for (attr, p) in props {
                if p.get("restricted_projection").and_then(|v| v.as_bool()) == Some(true) {
                    continue;
                }
                let id = self.attrs.intern(attr);
                let ty = p.get("type").and_then(|v| v.as_str());
                let fmt = p.get("format").and_then(|v| v.as_str());
                let rf = p.get("$ref").and_then(|v| v.as_str());
                let items = p
                    .get("items")
                    .and_then(|v| v.get("$ref"))
                    .and_then(|v| v.as_str());
                let kind = match (ty, fmt, rf, items) {
                    (Some("string"), Some("date-time"), _, _) => AttrKind::DateTime,
                    (Some("string"), _, _, _) => AttrKind::String,
                    (Some("boolean"), _, _, _) => AttrKind::Bool,
                    (Some("integer"), _, _, _) => AttrKind::Int,
                    (Some("number"), _, _, _) => AttrKind::Float,
                    (Some("array" | "mapped_array"), _, _, Some(t)) => {
                        AttrKind::Collection(t.to_owned())
                    }
                    (None, _, Some(t), _) => AttrKind::Ref(t.to_owned()),
                    (None, Some("foreign_key"), None, _) => AttrKind::String,
                    _ => AttrKind::Json,
                };
                attrs.insert(id, kind);
            }
        }
        let pk_ids = primary_key.iter().map(|k| self.attrs.intern(k)).collect();
        self.add_type(TypeInfo {
            name: name.to_owned(),
            known: true,
            primary_key,
            pk_ids,
            default_projections: strs("default_projections"),
            attrs,
        });
    }

    /// Adds a type the server describes, replacing one of the same name.
    fn add_type(&mut self, info: TypeInfo) {
        self.keys.take();
        if let Some(&existing) = self.by_name.get(info.name.as_str()) {
            self.types[existing as usize] = info;
        } else {
            let tid = self.types.len() as u32;
            self.by_name.insert(info.name.as_str().into(), tid);
            self.types.push(info);
        }
    }

    /// The id of a type, registering unknown types (seen in responses only) with
    /// the primary key `["id"]`.
    pub(crate) fn type_id_or_register(&mut self, name: &str) -> u32 {
        if let Some(&t) = self.by_name.get(name) {
            return t;
        }
        let id_attr = self.attrs.intern("id");
        let tid = self.types.len() as u32;
        self.types.push(TypeInfo {
            name: name.to_owned(),
            known: false,
            primary_key: vec!["id".into()],
            pk_ids: vec![id_attr],
            default_projections: vec!["id".into()],
            attrs: FastMap::default(),
        });
        self.by_name.insert(name.into(), tid);
        tid
    }

    /// The id of a type the server's schemas describe.
    pub(crate) fn known_type(&self, name: &str) -> Option<u32> {
        self.by_name
            .get(name)
            .copied()
            .filter(|&t| self.types[t as usize].known)
    }

    /// The id of a type the server describes, else [`crate::Error::UnknownEntityType`].
    pub(crate) fn require_type(&self, name: &str) -> crate::Result<u32> {
        self.known_type(name)
            .ok_or_else(|| crate::Error::UnknownEntityType(name.to_owned()))
    }

    pub(crate) fn ty(&self, tid: u32) -> &TypeInfo {
        &self.types[tid as usize]
    }

    /// The kind of `attr` on type `tid`, if the schema has it.
    pub(crate) fn kind(&self, tid: u32, attr: u32) -> Option<&AttrKind> {
        self.types[tid as usize].attrs.get(&attr)
    }
}

/// The schema cache file for a server inside `dir`.
pub(crate) fn cache_file(dir: &Path, server_url: &str) -> PathBuf {
    // FNV-1a of the URL: one file per server, stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in server_url.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    dir.join(format!("libftrack_schema_cache_{h:016x}.json"))
}

/// The version of the cache file's layout; a file of another version is
/// ignored (and replaced after the schemas are fetched again).
const CACHE_FORMAT: u32 = 2;

/// The cache file: the server's hash beside a digest of its schemas that
/// holds only what [`Schema`] keeps (kinds, keys, projections), so a warm
/// start reads a few kilobytes straight into the schema (see [`parse_cache`]).
/// Written through serde; read by [`crate::json_reader`].
#[derive(serde::Serialize)]
struct CacheFile<'a> {
    format: u32,
    server_url: &'a str,
    schema_hash: &'a str,
    types: Vec<CachedType<'a>>,
}

/// One entity type in the cache file.
#[derive(serde::Serialize)]
struct CachedType<'a> {
    id: &'a str,
    primary_key: &'a [String],
    default_projections: &'a [String],
    /// `[name, kind, target]`, kinds named as [`AttrKind::name`] does.
    attributes: Vec<(&'a str, &'static str, Option<&'a str>)>,
}

impl AttrKind {
    /// The kind's name as the schema view and the cache file spell it:
    /// `"string"`, `"boolean"`, `"integer"`, `"number"`, `"datetime"`,
    /// `"json"`, `"reference"` or `"collection"`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            AttrKind::String => "string",
            AttrKind::Bool => "boolean",
            AttrKind::Int => "integer",
            AttrKind::Float => "number",
            AttrKind::DateTime => "datetime",
            AttrKind::Json => "json",
            AttrKind::Ref(_) => "reference",
            AttrKind::Collection(_) => "collection",
        }
    }

    /// The entity type of a reference's or collection's items.
    pub(crate) fn target(&self) -> Option<&str> {
        match self {
            AttrKind::Ref(t) | AttrKind::Collection(t) => Some(t),
            _ => None,
        }
    }

    /// The kind called `name` (see [`AttrKind::name`]); `None` for a name it
    /// does not know or a reference without its target.
    fn from_name(name: &str, target: Option<&str>) -> Option<AttrKind> {
        Some(match (name, target) {
            ("string", _) => AttrKind::String,
            ("boolean", _) => AttrKind::Bool,
            ("integer", _) => AttrKind::Int,
            ("number", _) => AttrKind::Float,
            ("datetime", _) => AttrKind::DateTime,
            ("json", _) => AttrKind::Json,
            ("reference", Some(t)) => AttrKind::Ref(t.to_owned()),
            ("collection", Some(t)) => AttrKind::Collection(t.to_owned()),
            _ => return None,
        })
    }
}

/// Parses the bytes of a cache file: `(schema_hash, schema)` when it is for
/// `server_url`. Any problem (another format, another server, a kind it does
/// not know, JSON it cannot read) means "no cache".
///
/// Read with the decoder's JSON reader straight into the schema: serde's
/// typed parse of the same file built a list per type and per attribute and
/// checked each string as UTF-8 on its own, which was most of a warm start's
/// own work (`cargo bench --bench core -- --start`).
pub(crate) fn parse_cache(bytes: &[u8], server_url: &str) -> Option<(String, Schema)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut r = Reader::new(text);
    let (mut format, mut url_matches, mut hash) = (None, false, None);
    let mut schema = Schema::new();
    // About a name a line of 64 bytes: the interner grows once or not at all.
    schema.attrs.reserve(text.len() / 64);
    r.begin_object().ok()?;
    let mut first = true;
    while let Some(key) = r.next_key(first).ok()? {
        first = false;
        match key {
            "format" => format = Some(r.number().ok()?),
            "server_url" => url_matches = r.string().ok()? == server_url,
            "schema_hash" => hash = Some(r.string().ok()?.to_owned()),
            "types" => read_cached_types(&mut r, &mut schema)?,
            _ => r.skip().ok()?,
        }
    }
    r.end().ok()?;
    if format != Some(Number::Int(CACHE_FORMAT.into())) || !url_matches {
        return None;
    }
    Some((hash?, schema))
}

/// A string of the cache file: borrowed from it unless it had escapes.
fn cached_text<'a>(r: &mut Reader<'a>) -> Option<Cow<'a, str>> {
    Some(match r.string_in_reply().ok()? {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(r.unescaped().to_owned()),
    })
}

/// A list of strings of the cache file.
fn cached_texts(r: &mut Reader) -> Option<Vec<String>> {
    let mut list = Vec::new();
    r.begin_array().ok()?;
    while r.next_element(list.is_empty()).ok()? {
        list.push(r.string().ok()?.to_owned());
    }
    Some(list)
}

/// The cache file's `types`: `[{"id", "primary_key", "default_projections",
/// "attributes"}]`, each added to `schema`.
fn read_cached_types(r: &mut Reader, schema: &mut Schema) -> Option<()> {
    r.begin_array().ok()?;
    let mut first_type = true;
    // A type's attributes are gathered here first, so that its map is made
    // at its final size (one allocation, no rehashing).
    let mut gathered = Vec::new();
    while r.next_element(first_type).ok()? {
        first_type = false;
        let (mut name, mut primary_key, mut default_projections) = (None, Vec::new(), Vec::new());
        r.begin_object().ok()?;
        let mut first = true;
        while let Some(key) = r.next_key(first).ok()? {
            first = false;
            match key {
                "id" => name = Some(r.string().ok()?.to_owned()),
                "primary_key" => primary_key = cached_texts(r)?,
                "default_projections" => default_projections = cached_texts(r)?,
                "attributes" => read_cached_attributes(r, schema, &mut gathered)?,
                _ => r.skip().ok()?,
            }
        }
        if primary_key.is_empty() {
            return None;
        }
        let mut attrs = FastMap::with_capacity_and_hasher(gathered.len(), Default::default());
        attrs.extend(gathered.drain(..));
        let pk_ids = primary_key.iter().map(|k| schema.attrs.intern(k)).collect();
        schema.add_type(TypeInfo {
            name: name?,
            known: true,
            pk_ids,
            primary_key,
            default_projections,
            attrs,
        });
    }
    Some(())
}

/// A type's `attributes`: `[[name, kind, target or null]]`, pushed to
/// `attrs` as (attribute id, kind).
fn read_cached_attributes(
    r: &mut Reader,
    schema: &mut Schema,
    attrs: &mut Vec<(u32, AttrKind)>,
) -> Option<()> {
    r.begin_array().ok()?;
    let mut first = true;
    while r.next_element(first).ok()? {
        first = false;
        r.begin_array().ok()?;
        r.next_element(true).ok()?.then_some(())?;
        let name = cached_text(r)?;
        r.next_element(false).ok()?.then_some(())?;
        let kind = cached_text(r)?;
        r.next_element(false).ok()?.then_some(())?;
        let target = match r.peek().ok()? {
            Next::Null => {
                r.null().ok()?;
                None
            }
            _ => Some(cached_text(r)?),
        };
        if r.next_element(false).ok()? {
            return None;
        }
        let kind = AttrKind::from_name(&kind, target.as_deref())?;
        attrs.push((schema.attrs.intern(&name), kind));
    }
    Some(())
}

/// Writes the cache file for `schema` atomically (temp file + rename). Errors
/// are ignored: the cache is an optimisation.
pub(crate) fn save_cache(path: &Path, server_url: &str, hash: &str, schema: &Schema) {
    let types = schema
        .types
        .iter()
        .filter(|t| t.known)
        .map(|t| {
            let mut attributes: Vec<_> = t
                .attrs
                .iter()
                .map(|(&a, kind)| (schema.attrs.name(a), kind.name(), kind.target()))
                .collect();
            attributes.sort_by(|a, b| a.0.cmp(b.0));
            CachedType {
                id: &t.name,
                primary_key: &t.primary_key,
                default_projections: &t.default_projections,
                attributes,
            }
        })
        .collect();
    let file = CacheFile {
        format: CACHE_FORMAT,
        server_url,
        schema_hash: hash,
        types,
    };
    if let Ok(bytes) = serde_json::to_vec(&file) {
        crate::atomic_file::write_atomic(path, &bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_schema() {
        let s = Schema::from_json(&serde_json::json!([{
            "id": "User", "primary_key": ["id"], "default_projections": ["id"],
            "properties": {
                "id": {"type": "string", "default": "{uid}"},
                "is_active": {"type": "boolean"},
                "created": {"type": "string", "format": "date-time"},
                "user_type": {"$ref": "UserType"},
                "user_type_id": {"format": "foreign_key"},
                "memberships": {"type": "array", "items": {"$ref": "Membership"}},
                "thumbnail_url": {"type": "object"},
                "secret": {"type": "array", "restricted_projection": true, "items": {"$ref": "X"}}
            }
        }]));
        let t = s.known_type("User").unwrap();
        let k = |a: &str| s.kind(t, s.attrs.get(a).unwrap()).cloned();
        assert_eq!(k("is_active"), Some(AttrKind::Bool));
        assert_eq!(k("created"), Some(AttrKind::DateTime));
        assert_eq!(k("user_type"), Some(AttrKind::Ref("UserType".into())));
        assert_eq!(k("user_type_id"), Some(AttrKind::String));
        assert_eq!(
            k("memberships"),
            Some(AttrKind::Collection("Membership".into()))
        );
        assert_eq!(k("thumbnail_url"), Some(AttrKind::Json));
        assert!(s.attrs.get("secret").is_none());
    }

    #[test]
    fn interned_ids_hold_when_names_share_a_recent_entry() {
        let mut i = Interner::default();
        // Same length, first and last byte: the same entry of `recent`.
        let names = ["axc", "abc", "a_c", "axc", "abc", "id", "name", "a_c"];
        let ids: Vec<u32> = names.iter().map(|n| i.intern(n)).collect();
        assert_eq!(recent_name_index("axc"), recent_name_index("abc"));
        assert_eq!(ids[0], ids[3]);
        assert_eq!(ids[1], ids[4]);
        assert_eq!(ids[2], ids[7]);
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
        for (name, id) in names.iter().zip(&ids) {
            assert_eq!(i.name(*id), *name);
            assert_eq!(i.get(name), Some(*id));
        }
        for n in 0..1000 {
            let name = format!("attr_{n}");
            let id = i.intern(&name);
            assert_eq!(i.intern(&name), id);
            assert_eq!(i.name(id), name);
        }
    }

    #[test]
    fn cache_files_are_read_whatever_their_key_order_and_refused_when_malformed() {
        let user = r#"{"attributes":[["id","string",null],["user_type","reference","UserType"]],
            "extra":{"a":[1,2]},"default_projections":["id"],"id":"User","primary_key":["id"]}"#;
        let file = |types: &str| {
            format!(
                r#"{{"types":[{types}],"schema_hash":"h","future":null,"server_url":"http://a","format":{CACHE_FORMAT}}}"#
            )
        };
        let (hash, schema) = parse_cache(file(user).as_bytes(), "http://a").expect("read");
        assert_eq!(hash, "h");
        let t = schema.known_type("User").unwrap();
        let user_type = schema.attrs.get("user_type").unwrap();
        assert_eq!(
            schema.kind(t, user_type),
            Some(&AttrKind::Ref("UserType".into()))
        );
        assert_eq!(schema.ty(t).primary_key, ["id"]);
        let good = file(user);
        let bad = [
            good[..good.len() - 1].to_string(),
            format!("{good} x"),
            good.replace(r#""schema_hash":"h","#, ""),
            good.replace(&format!(r#""format":{CACHE_FORMAT}"#), r#""format":1"#),
            good.replace(r#"["id","string",null]"#, r#"["id","string"]"#),
            good.replace(r#"["id","string",null]"#, r#"["id","string",null,1]"#),
            good.replace(r#""reference","UserType""#, r#""reference",null"#),
            good.replace(r#""primary_key":["id"]"#, r#""primary_key":[]"#),
            good.replace(r#""id":"User","#, ""),
            "[]".to_string(),
        ];
        for text in bad {
            assert!(parse_cache(text.as_bytes(), "http://a").is_none(), "{text}");
        }
        assert!(parse_cache(b"\xff", "http://a").is_none());
    }

    #[test]
    fn cache_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = cache_file(dir.path(), "http://a");
        let original = Schema::from_json(&serde_json::json!([{
            "id": "User", "primary_key": ["id"], "default_projections": ["id", "username"],
            "properties": {
                "id": {"type": "string"},
                "username": {"type": "string"},
                "is_active": {"type": "boolean"},
                "created": {"type": "string", "format": "date-time"},
                "user_type": {"$ref": "UserType"},
                "memberships": {"type": "array", "items": {"$ref": "Membership"}},
                "data": {"type": "object"},
                "n": {"type": "integer"},
                "f": {"type": "number"}
            }
        }, {"id": "Link", "primary_key": ["from_id", "to_id"]}]));
        save_cache(&p, "http://a", "h1", &original);
        let bytes = std::fs::read(&p).unwrap();
        let (hash, schema) = parse_cache(&bytes, "http://a").unwrap();
        assert_eq!(hash, "h1");
        for name in ["User", "Link"] {
            let (a, b) = (
                original.ty(original.known_type(name).unwrap()),
                schema.ty(schema.known_type(name).unwrap()),
            );
            assert_eq!(a.primary_key, b.primary_key);
            assert_eq!(a.default_projections, b.default_projections);
            let kinds = |s: &Schema, t: &TypeInfo| {
                let mut v: Vec<(String, AttrKind)> = t
                    .attrs
                    .iter()
                    .map(|(&id, k)| (s.attrs.name(id).to_owned(), k.clone()))
                    .collect();
                v.sort_by(|x, y| x.0.cmp(&y.0));
                v
            };
            assert_eq!(kinds(&original, a), kinds(&schema, b));
        }
        assert_eq!(schema.ty(schema.known_type("User").unwrap()).attrs.len(), 9);
        assert!(parse_cache(&bytes, "http://b").is_none());
        // A file of the first format (the server's documents) is not used.
        let old = serde_json::to_vec(&serde_json::json!({
            "server_url": "http://a", "schema_hash": "h1", "schemas": [{"id": "X"}]
        }))
        .unwrap();
        assert!(parse_cache(&old, "http://a").is_none());
        // Nor one with a kind this version does not know.
        let odd = String::from_utf8(bytes)
            .unwrap()
            .replace("\"boolean\"", "\"bool8\"");
        assert!(parse_cache(odd.as_bytes(), "http://a").is_none());
        // Strings with escapes (which cannot be borrowed from the file) read
        // as their text.
        let escaped = String::from_utf8(std::fs::read(&p).unwrap())
            .unwrap()
            .replace("\"username\"", "\"user\\u006eame\"");
        assert!(escaped.contains("\\u006e"), "{escaped}");
        let (_, schema) = parse_cache(escaped.as_bytes(), "http://a").unwrap();
        let user = schema.ty(schema.known_type("User").unwrap());
        assert_eq!(user.default_projections, ["id", "username"]);
        let username = schema.attrs.get("username").expect("interned");
        assert!(user.attrs.contains_key(&username));
    }
}
