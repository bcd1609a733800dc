//! An optional persistent entity cache under the in-memory identity map.
//!
//! The file is a journal of JSON documents, one per line: a header
//! `{"libftrack_entity_journal": 1, "server_url"}`, then entity records
//! `{"__entity_type__", <primary key>, <attributes>}` (server values, as the wire
//! encodes them) and removals `{"__removed__": true, "__entity_type__", <primary key>}`;
//! later records win attribute by attribute. Each record starts with a newline, so
//! a record torn by a crash only loses itself.
//!
//! The journal is read once when the session starts into a side table keyed by
//! (type, primary key); `Session::get` consults it on an identity-map miss and
//! decodes just that entity into the map. Saving (on commit and close) appends one
//! record per entity the identity map reports as changed since the last save, so it
//! costs time proportional to the changes, never to the size of the cache. Closing
//! also compacts the file (rewrites it from the table: temp file + rename) once it
//! holds more than twice as many records as live entities, which keeps the
//! amortised cost proportional to the changes too.
//!
//! Any I/O or format problem means "no persistent cache"; it never fails a call.
//! The file is private (`0600`), never read when another user owns it, and never
//! holds the userinfo of the server URL. Sessions in several processes may share
//! it: appends and compaction take an exclusive lock, and compaction first reads
//! back what the others appended, so no one's records are lost.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value as J};

use crate::atomic_file;
use crate::decode::{Answer, Decoded, Expect, decode_into};
use crate::identity_map::{IdentityMap, KEY_SEP, SlotState};
use crate::operations::stored_json;
use crate::schema::{FastMap, Schema};

const HEADER: &str = "libftrack_entity_journal";
const REMOVED: &str = "__removed__";

pub(crate) struct PersistentCache {
    path: PathBuf,
    /// The server URL without userinfo (never stored with a secret in it).
    server_url: String,
    journal: Mutex<Journal>,
}

/// The journal in the file, if it is this user's and this server's.
fn read_journal(path: &Path, server_url: &str, schema: &Schema) -> Option<Journal> {
    let bytes = atomic_file::read_own(path)?;
    let mut lines = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let header_ok = lines
        .next()
        .and_then(|l| serde_json::from_slice::<J>(l).ok())
        .is_some_and(|h| {
            h.get(HEADER) == Some(&J::from(1))
                && h.get("server_url").and_then(J::as_str) == Some(server_url)
        });
    if !header_ok {
        return None;
    }
    let mut journal = Journal {
        table: FastMap::default(),
        records: 0,
        rewrite: false,
    };
    for line in lines {
        journal.records += 1;
        if let Ok(J::Object(record)) = serde_json::from_slice(line) {
            journal.apply(schema, record);
        }
    }
    Some(journal)
}

struct Journal {
    /// "Type<KEY_SEP>key" → the entity's attributes, as wire JSON.
    table: FastMap<String, Map<String, J>>,
    /// Records in the file.
    records: usize,
    /// The file is missing or not this server's journal: rewrite it before appending.
    rewrite: bool,
}

fn table_key(entity_type: &str, key: &str) -> String {
    format!("{entity_type}{KEY_SEP}{key}")
}

impl Journal {
    /// Folds one record of the file into the table.
    fn apply(&mut self, schema: &Schema, mut record: Map<String, J>) {
        let Some(ty) = record.get("__entity_type__").and_then(J::as_str) else {
            return;
        };
        let Some(tid) = schema.known_type(ty) else {
            return;
        };
        let parts: Option<Vec<&str>> = schema
            .ty(tid)
            .primary_key
            .iter()
            .map(|k| record.get(k).and_then(J::as_str))
            .collect();
        let Some(parts) = parts else {
            return;
        };
        let k = table_key(ty, &parts.join(&KEY_SEP.to_string()));
        if record.remove(REMOVED).is_some() {
            self.table.remove(&k);
        } else {
            self.table.entry(k).or_default().extend(record);
        }
    }
}

impl PersistentCache {
    pub(crate) fn open(path: &Path, server_url: &str, schema: &Schema) -> PersistentCache {
        let server_url = crate::config::without_userinfo(server_url);
        let journal = {
            let _shared = atomic_file::lock(path);
            read_journal(path, &server_url, schema)
        }
        .unwrap_or(Journal {
            table: FastMap::default(),
            records: 0,
            rewrite: true,
        });
        PersistentCache {
            path: path.to_owned(),
            server_url,
            journal: Mutex::new(journal),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decodes the cached entity into the map, if the file had it.
    pub(crate) fn fetch(
        &self,
        schema: &mut Schema,
        map: &mut IdentityMap,
        entity_type: &str,
        key: &str,
    ) -> Option<u32> {
        let journal = self.lock();
        let entity = journal.table.get(&table_key(entity_type, key))?;
        let body =
            serde_json::to_vec(&serde_json::json!([{"action": "query", "data": [entity]}])).ok()?;
        // What comes from the file is already in it: not a change to journal.
        let tracking = std::mem::replace(&mut map.track_changes, false);
        let decoded = decode_into(schema, map, &body, &[Expect::Query]);
        map.track_changes = tracking;
        match decoded.ok()?.0 {
            Decoded::Answers(mut a) if !a.is_empty() => match a.swap_remove(0) {
                Answer::Query { slots, .. } => slots.first().copied(),
                _ => None,
            },
            _ => None,
        }
    }

    /// Appends a record for every entity changed since the last save.
    pub(crate) fn save(&self, schema: &Schema, map: &mut IdentityMap) {
        let mut journal = self.lock();
        let mut out = Vec::new();
        for slot in map.take_changed() {
            let s = &map.slots[slot as usize];
            let ty = schema.ty(s.ty);
            if !ty.known || s.state == SlotState::Created {
                continue;
            }
            let k = table_key(&ty.name, &s.key);
            let mut record = Map::new();
            record.insert("__entity_type__".into(), ty.name.clone().into());
            for (pk, v) in ty.primary_key.iter().zip(s.key.split(KEY_SEP)) {
                record.insert(pk.clone(), v.into());
            }
            if s.state == SlotState::Removed {
                if journal.table.remove(&k).is_none() {
                    continue;
                }
                record.insert(REMOVED.into(), true.into());
            } else {
                let only_key = s.remote.iter().all(|(a, _)| ty.pk_ids.contains(a));
                if only_key && journal.table.contains_key(&k) {
                    continue; // a reference: nothing new
                }
                for (a, v) in &s.remote {
                    record.insert(
                        schema.attrs.name(*a).to_owned(),
                        stored_json(schema, map, v),
                    );
                }
                journal
                    .table
                    .entry(k)
                    .or_default()
                    .extend(record.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            out.push(b'\n');
            if serde_json::to_writer(&mut out, &record).is_err() {
                return;
            }
            journal.records += 1;
        }
        if journal.rewrite {
            self.compact(schema, &mut journal);
        } else if !out.is_empty() {
            let appended = {
                let _exclusive = atomic_file::lock(&self.path);
                atomic_file::append(&self.path, &out)
            };
            if appended.is_err() {
                self.compact(schema, &mut journal);
            }
        }
    }

    /// Saves, then compacts the file when it holds mostly superseded records.
    pub(crate) fn close(&self, schema: &Schema, map: &mut IdentityMap) {
        self.save(schema, map);
        let mut journal = self.lock();
        if journal.records > 2 * journal.table.len() + 16 {
            self.compact(schema, &mut journal);
        }
    }

    /// Rewrites the file (temp file + rename) under the exclusive lock. What other
    /// processes appended since this one read the file is read first and kept: the
    /// file itself is the journal of every writer, in order.
    fn compact(&self, schema: &Schema, journal: &mut Journal) {
        let _exclusive = atomic_file::lock(&self.path);
        if let Some(mut current) = read_journal(&self.path, &self.server_url, schema) {
            if journal.rewrite {
                // Our records never reached the file: they are the newest.
                for (k, record) in std::mem::take(&mut journal.table) {
                    current.table.entry(k).or_default().extend(record);
                }
            }
            // Else ours are in the file already, in order with everyone else's.
            journal.table = current.table;
        }
        let mut out = Vec::new();
        let header = serde_json::json!({HEADER: 1, "server_url": self.server_url});
        if serde_json::to_writer(&mut out, &header).is_err() {
            return;
        }
        for record in journal.table.values() {
            out.push(b'\n');
            if serde_json::to_writer(&mut out, record).is_err() {
                return;
            }
        }
        if atomic_file::write_atomic(&self.path, &out) {
            journal.records = journal.table.len();
            journal.rewrite = false;
        }
    }
}
