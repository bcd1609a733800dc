//! An optional persistent entity cache under the in-memory identity map.
//!
//! Kept simple on purpose: a JSON file `{"server_url", "entities": [...]}` of
//! encoded entities (server values only, as the wire encodes them). It is read
//! once when the session starts into a side table keyed by (type, primary key);
//! `Session::get` consults it on an identity-map miss and decodes just that
//! entity into the map. On commit and close, the map's persisted entities are
//! folded into the table and the file is rewritten (temp file + rename).
//! Any I/O or format problem means "no persistent cache"; it never fails a call.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::decode::{Answer, Decoded, Decoder, Expect};
use crate::identity_map::{IdentityMap, KEY_SEP, SlotState};
use crate::operations::stored_json;
use crate::schema::{FastMap, Schema};

pub(crate) struct PersistentCache {
    path: PathBuf,
    server_url: String,
    /// "Type\u{1f}key" → encoded entity.
    table: Mutex<FastMap<String, serde_json::Value>>,
}

fn table_key(entity_type: &str, key: &str) -> String {
    format!("{entity_type}{KEY_SEP}{key}")
}

impl PersistentCache {
    pub(crate) fn open(path: &Path, server_url: &str, schema: &Schema) -> PersistentCache {
        let mut table = FastMap::default();
        if let Some(entities) = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter(|d| d.get("server_url").and_then(|v| v.as_str()) == Some(server_url))
            .and_then(|mut d| d.get_mut("entities").map(serde_json::Value::take))
            .and_then(|e| match e {
                serde_json::Value::Array(a) => Some(a),
                _ => None,
            })
        {
            for e in entities {
                let Some(ty) = e.get("__entity_type__").and_then(|t| t.as_str()) else {
                    continue;
                };
                let Some(tid) = schema.known_type(ty) else {
                    continue;
                };
                let parts: Option<Vec<String>> = schema
                    .ty(tid)
                    .primary_key
                    .iter()
                    .map(|k| e.get(k).and_then(|v| v.as_str()).map(str::to_owned))
                    .collect();
                if let Some(parts) = parts {
                    let key = parts.join(&KEY_SEP.to_string());
                    table.insert(table_key(ty, &key), e);
                }
            }
        }
        PersistentCache {
            path: path.to_owned(),
            server_url: server_url.to_owned(),
            table: Mutex::new(table),
        }
    }

    /// Decodes the cached entity into the map, if the file had it.
    pub(crate) fn fetch(
        &self,
        schema: &mut Schema,
        map: &mut IdentityMap,
        entity_type: &str,
        key: &str,
    ) -> Option<u32> {
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let entity = table.get(&table_key(entity_type, key))?;
        let body =
            serde_json::to_vec(&serde_json::json!([{"action": "query", "data": [entity]}])).ok()?;
        match Decoder::new(schema, map)
            .decode(&body, &[Expect::Query])
            .ok()?
        {
            Decoded::Answers(mut a) if !a.is_empty() => match a.swap_remove(0) {
                Answer::Query { slots, .. } => slots.first().copied(),
                _ => None,
            },
            _ => None,
        }
    }

    /// Folds the map's persisted entities into the table and rewrites the file.
    pub(crate) fn save(&self, schema: &Schema, map: &IdentityMap) {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        for s in &map.slots {
            let ty = schema.ty(s.ty);
            let k = table_key(&ty.name, &s.key);
            if s.state == SlotState::Removed {
                table.remove(&k);
                continue;
            }
            if s.state != SlotState::Persisted || !ty.known {
                continue;
            }
            let mut obj = match table.remove(&k) {
                Some(serde_json::Value::Object(o)) => o,
                _ => serde_json::Map::new(),
            };
            obj.insert("__entity_type__".into(), ty.name.clone().into());
            for (pk, v) in ty.primary_key.iter().zip(s.key.split(KEY_SEP)) {
                obj.insert(pk.clone(), v.into());
            }
            for (a, v) in &s.remote {
                obj.insert(
                    schema.attrs.name(*a).to_owned(),
                    stored_json(schema, map, v),
                );
            }
            table.insert(k, serde_json::Value::Object(obj));
        }
        let entities: Vec<&serde_json::Value> = table.values().collect();
        let doc = serde_json::json!({"server_url": self.server_url, "entities": entities});
        let Ok(bytes) = serde_json::to_vec(&doc) else {
            return;
        };
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, &self.path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}
