//! An optional persistent entity cache under the in-memory identity map: a JSON
//! file of encoded entities (server values only), loaded on start, written on
//! commit and close, consulted by `Session::get` on a miss.

use std::path::{Path, PathBuf};

use crate::decode::{Decoder, Expect};
use crate::identity_map::{IdentityMap, SlotState};
use crate::operations::stored_json;
use crate::schema::Schema;

pub(crate) struct PersistentCache {
    path: PathBuf,
    server_url: String,
}

impl PersistentCache {
    pub(crate) fn open(path: &Path, server_url: &str) -> PersistentCache {
        PersistentCache {
            path: path.to_owned(),
            server_url: server_url.to_owned(),
        }
    }

    /// Loads the file's entities into the map (errors mean "empty cache").
    pub(crate) fn load(&self, schema: &mut Schema, map: &mut IdentityMap) {
        let Ok(bytes) = std::fs::read(&self.path) else {
            return;
        };
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return;
        };
        if doc.get("server_url").and_then(|v| v.as_str()) != Some(self.server_url.as_str()) {
            return;
        }
        let Some(entities) = doc.get("entities") else {
            return;
        };
        let body = serde_json::json!([{"action": "query", "data": entities}]);
        if let Ok(bytes) = serde_json::to_vec(&body) {
            let _ = Decoder::new(schema, map).decode(&bytes, &[Expect::Query]);
        }
    }

    /// Entities are all loaded at start, so a miss in the map is a miss here too;
    /// kept as the hook `Session::get` calls.
    pub(crate) fn fetch(
        &self,
        _schema: &mut Schema,
        _map: &mut IdentityMap,
        _entity_type: &str,
        _key: &str,
    ) -> Option<u32> {
        None
    }

    /// Writes every persisted entity's server values.
    pub(crate) fn save(&self, schema: &Schema, map: &IdentityMap) {
        let mut entities = Vec::new();
        for s in &map.slots {
            if s.state != SlotState::Persisted {
                continue;
            }
            let ty = schema.ty(s.ty);
            let mut obj = serde_json::Map::new();
            obj.insert("__entity_type__".into(), ty.name.clone().into());
            for (k, v) in ty
                .primary_key
                .iter()
                .zip(s.key.split(crate::identity_map::KEY_SEP))
            {
                obj.insert(k.clone(), v.into());
            }
            for (a, v) in &s.remote {
                obj.insert(
                    schema.attrs.name(*a).to_owned(),
                    stored_json(schema, map, v),
                );
            }
            entities.push(serde_json::Value::Object(obj));
        }
        let doc = serde_json::json!({"server_url": self.server_url, "entities": entities});
        if let Ok(bytes) = serde_json::to_vec(&doc) {
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
}
