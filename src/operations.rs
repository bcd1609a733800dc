//! Recorded operations, the commit optimisations of the Python client (protocol
//! §5.5), and encoding the batch straight to JSON bytes.
//!
//! Operations are kept in one ordered list, so building a commit costs time
//! proportional to the number of changes, never to the size of the cache.
//! Non-entity actions ([`crate::Action`]s, e.g. security-role actions) stay in
//! place: the optimiser never moves, merges or drops them.
//!
//! Every recorded operation carries a sequence number, unique in its session and
//! growing with each record, so a commit can name exactly the operations it took.

use std::io::Write;
use std::sync::Arc;

use crate::datetime::format_iso;
use crate::identity_map::{IdentityMap, KEY_SEP};
use crate::pending::Action;
use crate::schema::{FastMap, Schema};
use crate::value::Stored;

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Create { slot: u32, data: Vec<(u32, Stored)> },
    Update { slot: u32, data: Vec<(u32, Stored)> },
    Delete { slot: u32 },
    Action(Arc<dyn Action>),
}

/// An operation as recorded: its sequence number and what it does.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub seq: u64,
    pub op: Op,
}

impl Op {
    pub(crate) fn slot(&self) -> Option<u32> {
        match self {
            Op::Create { slot, .. } | Op::Update { slot, .. } | Op::Delete { slot } => Some(*slot),
            Op::Action(_) => None,
        }
    }
}

/// One element of the optimised batch, borrowing values from the recorded ops.
#[derive(Debug)]
pub(crate) enum Payload<'a> {
    Create {
        slot: u32,
        data: Vec<(u32, &'a Stored)>,
    },
    Update {
        slot: u32,
        data: Vec<(u32, &'a Stored)>,
    },
    Delete {
        slot: u32,
    },
    Action(&'a dyn Action),
}

impl Payload<'_> {
    pub(crate) fn action(&self) -> &'static str {
        match self {
            Payload::Create { .. } => "create",
            Payload::Update { .. } => "update",
            Payload::Delete { .. } => "delete",
            Payload::Action(_) => "action",
        }
    }
}

fn put<'a>(data: &mut Vec<(u32, &'a Stored)>, attr: u32, v: &'a Stored) {
    match data.iter_mut().find(|(a, _)| *a == attr) {
        Some(e) => e.1 = v,
        None => data.push((attr, v)),
    }
}

/// Applies the Python client's optimisations:
/// 1. drop every operation of an entity both created and deleted in the batch;
/// 2. last write wins: an attribute set by a later update is removed from earlier updates;
/// 3. drop updates left empty;
/// 4. fold an update into an immediately preceding create/update of the same entity.
pub(crate) fn optimise<'a>(ops: impl Iterator<Item = &'a Op> + Clone) -> Vec<Payload<'a>> {
    let mut created: FastMap<u32, ()> = FastMap::default();
    let mut dropped: FastMap<u32, ()> = FastMap::default();
    for op in ops.clone() {
        if let Op::Create { slot, .. } = op {
            created.insert(*slot, ());
        }
    }
    for op in ops.clone() {
        if let Op::Delete { slot } = op
            && created.contains_key(slot)
        {
            dropped.insert(*slot, ());
        }
    }
    // Step 2, backwards.
    let mut seen: FastMap<(u32, u32), ()> = FastMap::default();
    let mut payloads: Vec<Option<Payload<'a>>> = Vec::new();
    let ops: Vec<&'a Op> = ops.collect();
    for op in ops.into_iter().rev() {
        if op.slot().is_some_and(|s| dropped.contains_key(&s)) {
            continue;
        }
        let p = match op {
            Op::Create { slot, data } => Payload::Create {
                slot: *slot,
                data: data.iter().map(|(a, v)| (*a, v)).collect(),
            },
            Op::Update { slot, data } => {
                let mut kept = Vec::with_capacity(data.len());
                for (a, v) in data {
                    if seen.insert((*slot, *a), ()).is_none() {
                        kept.push((*a, v));
                    }
                }
                if kept.is_empty() {
                    continue;
                }
                Payload::Update {
                    slot: *slot,
                    data: kept,
                }
            }
            Op::Delete { slot } => Payload::Delete { slot: *slot },
            Op::Action(a) => Payload::Action(&**a),
        };
        payloads.push(Some(p));
    }
    payloads.reverse();
    // Step 4: collapse runs.
    let mut out: Vec<Payload<'a>> = Vec::with_capacity(payloads.len());
    for p in payloads.into_iter().flatten() {
        if let Payload::Update { slot, data } = &p
            && let Some(
                Payload::Create { slot: ps, data: pd } | Payload::Update { slot: ps, data: pd },
            ) = out.last_mut()
            && ps == slot
        {
            for (a, v) in data {
                put(pd, *a, v);
            }
            continue;
        }
        out.push(p);
    }
    out
}

/// Writes a JSON string.
#[inline]
fn write_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaper is fast and correct; it writes straight into `out`.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn split_key(key: &str) -> impl Iterator<Item = &str> {
    key.split(KEY_SEP)
}

/// Writes `{"__entity_type__": T, <pk>: value, ...}`.
pub(crate) fn write_ref(out: &mut Vec<u8>, schema: &Schema, map: &IdentityMap, slot: u32) {
    let s = &map.slots[slot as usize];
    let ty = schema.ty(s.ty);
    out.extend_from_slice(b"{\"__entity_type__\":");
    write_str(out, &ty.name);
    for (k, v) in ty.primary_key.iter().zip(split_key(&s.key)) {
        out.push(b',');
        write_str(out, k);
        out.push(b':');
        write_str(out, v);
    }
    out.push(b'}');
}

fn write_value(out: &mut Vec<u8>, schema: &Schema, map: &IdentityMap, v: &Stored) {
    match v {
        Stored::Null => out.extend_from_slice(b"null"),
        Stored::Bool(true) => out.extend_from_slice(b"true"),
        Stored::Bool(false) => out.extend_from_slice(b"false"),
        Stored::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Stored::Float(f) => {
            let _ = serde_json::to_writer(&mut *out, f);
        }
        Stored::Str(s) => write_str(out, s),
        Stored::DateTime(t) => {
            out.extend_from_slice(b"{\"__type__\":\"datetime\",\"value\":\"");
            out.extend_from_slice(format_iso(*t).as_bytes());
            out.extend_from_slice(b"\"}");
        }
        Stored::Ref(s) => write_ref(out, schema, map, *s),
        Stored::Coll(items) => {
            out.push(b'[');
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_ref(out, schema, map, *s);
            }
            out.push(b']');
        }
        Stored::Json(j) => {
            let _ = serde_json::to_writer(&mut *out, &**j);
        }
    }
}

fn write_head(out: &mut Vec<u8>, action: &str, schema: &Schema, map: &IdentityMap, slot: u32) {
    let s = &map.slots[slot as usize];
    out.extend_from_slice(b"{\"action\":\"");
    out.extend_from_slice(action.as_bytes());
    out.extend_from_slice(b"\",\"entity_type\":");
    write_str(out, &schema.ty(s.ty).name);
    out.extend_from_slice(b",\"entity_key\":[");
    for (i, k) in split_key(&s.key).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, k);
    }
    out.push(b']');
}

/// Encodes the optimised batch as the JSON array sent to `/api`.
pub(crate) fn encode(payloads: &[Payload<'_>], schema: &Schema, map: &IdentityMap) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + payloads.len() * 160);
    out.push(b'[');
    for (i, p) in payloads.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match p {
            Payload::Create { slot, data } | Payload::Update { slot, data } => {
                write_head(&mut out, p.action(), schema, map, *slot);
                let ty = map.slots[*slot as usize].ty;
                out.extend_from_slice(b",\"entity_data\":{\"__entity_type__\":");
                write_str(&mut out, &schema.ty(ty).name);
                for (a, v) in data {
                    out.push(b',');
                    write_str(&mut out, schema.attrs.name(*a));
                    out.push(b':');
                    write_value(&mut out, schema, map, v);
                }
                out.extend_from_slice(b"}}");
            }
            Payload::Delete { slot } => {
                write_head(&mut out, "delete", schema, map, *slot);
                out.push(b'}');
            }
            Payload::Action(a) => a.write_json(&mut out),
        }
    }
    out.push(b']');
    out
}

/// `{"__entity_type__": T, <pk>: value}` as a JSON value.
pub(crate) fn reference_json(schema: &Schema, map: &IdentityMap, slot: u32) -> serde_json::Value {
    let s = &map.slots[slot as usize];
    let ty = schema.ty(s.ty);
    reference_json_of(&ty.name, ty.primary_key.iter().map(String::as_str), &s.key)
}

/// `{"__entity_type__": T, <pk>: value}` for the type named `ty` whose
/// primary-key attributes are `primary_key`, from a slot key.
pub(crate) fn reference_json_of<'a>(
    ty: &str,
    primary_key: impl Iterator<Item = &'a str>,
    key: &str,
) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("__entity_type__".into(), ty.into());
    for (k, v) in primary_key.zip(split_key(key)) {
        obj.insert(k.to_owned(), v.into());
    }
    serde_json::Value::Object(obj)
}

/// `{"__type__": "datetime", "value": ISO UTC}`.
pub(crate) fn datetime_json(micros: i64) -> serde_json::Value {
    serde_json::json!({"__type__": "datetime", "value": format_iso(micros)})
}

/// A stored value as wire JSON.
pub(crate) fn stored_json(schema: &Schema, map: &IdentityMap, v: &Stored) -> serde_json::Value {
    match v {
        Stored::Null => serde_json::Value::Null,
        Stored::Bool(b) => (*b).into(),
        Stored::Int(i) => (*i).into(),
        Stored::Float(f) => (*f).into(),
        Stored::Str(s) => (&**s).into(),
        Stored::DateTime(t) => datetime_json(*t),
        Stored::Ref(s) => reference_json(schema, map, *s),
        Stored::Coll(items) => items
            .iter()
            .map(|s| reference_json(schema, map, *s))
            .collect(),
        Stored::Json(j) => (**j).clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Schema, IdentityMap, u32, u32) {
        let mut s = Schema::from_json(&serde_json::json!([
            {"id": "User", "primary_key": ["id"], "properties": {"id": {"type": "string"}}}
        ]));
        let t = s.type_id_or_register("User");
        let mut m = IdentityMap::default();
        let a = m.get_or_insert(t, "a").0;
        let b = m.get_or_insert(t, "b").0;
        (s, m, a, b)
    }

    #[test]
    fn python_optimisations() {
        let (mut s, m, a, b) = setup();
        let id = s.attrs.intern("id");
        let email = s.attrs.intern("email");
        let first = s.attrs.intern("first_name");
        let ops = [
            Op::Create {
                slot: a,
                data: vec![(id, Stored::Str("a".into()))],
            },
            Op::Update {
                slot: a,
                data: vec![(email, Stored::Str("x".into()))],
            },
            Op::Create {
                slot: b,
                data: vec![(id, Stored::Str("b".into()))],
            },
            Op::Update {
                slot: a,
                data: vec![(email, Stored::Str("y".into()))],
            },
            Op::Update {
                slot: a,
                data: vec![(first, Stored::Str("f".into()))],
            },
            Op::Action(Arc::new(
                crate::pending::JsonAction::new(
                    serde_json::json!({"action": "add_user_security_role"}),
                )
                .unwrap(),
            )),
        ];
        let p = optimise(ops.iter());
        let json: serde_json::Value = serde_json::from_slice(&encode(&p, &s, &m)).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"action": "create", "entity_type": "User", "entity_key": ["a"],
                 "entity_data": {"__entity_type__": "User", "id": "a"}},
                {"action": "create", "entity_type": "User", "entity_key": ["b"],
                 "entity_data": {"__entity_type__": "User", "id": "b"}},
                {"action": "update", "entity_type": "User", "entity_key": ["a"],
                 "entity_data": {"__entity_type__": "User", "email": "y", "first_name": "f"}},
                {"action": "add_user_security_role"}
            ])
        );
    }

    #[test]
    fn create_then_delete_vanishes() {
        let (mut s, m, a, b) = setup();
        let id = s.attrs.intern("id");
        let ops = [
            Op::Create {
                slot: a,
                data: vec![(id, Stored::Str("a".into()))],
            },
            Op::Update {
                slot: b,
                data: vec![(id, Stored::Str("z".into()))],
            },
            Op::Update {
                slot: a,
                data: vec![(id, Stored::Str("q".into()))],
            },
            Op::Delete { slot: a },
        ];
        let p = optimise(ops.iter());
        assert_eq!(p.len(), 1);
        assert!(matches!(p[0], Payload::Update { slot, .. } if slot == b));
        let enc = encode(&p, &s, &m);
        assert!(
            std::str::from_utf8(&enc)
                .unwrap()
                .contains("\"entity_key\":[\"b\"]")
        );
    }
}
