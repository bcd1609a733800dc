//! `ensure`: get an entity by identifying values, or create it.

use super::Session;
use crate::entity::Entity;
use crate::error::{Error, Result};

/// The query literal of a JSON value for an `ensure` condition, with the
/// attribute path it compares (`attr` or `attr.<pk>` for entity references).
fn condition(attribute: &str, value: &serde_json::Value) -> Result<String> {
    use serde_json::Value as J;
    Ok(match value {
        J::String(s) => format!("{attribute} is {}", crate::quote(s)),
        J::Number(n) => format!("{attribute} is {n}"),
        J::Bool(b) => format!("{attribute} is {}", if *b { "true" } else { "false" }),
        J::Null => format!("{attribute} is none"),
        J::Object(o) if o.contains_key("__entity_type__") => {
            let mut parts = Vec::new();
            for (k, v) in o {
                if k == "__entity_type__" {
                    continue;
                }
                parts.push(condition(&format!("{attribute}.{k}"), v)?);
            }
            parts.join(" and ")
        }
        J::Object(o) if o.get("__type__").and_then(|t| t.as_str()) == Some("datetime") => {
            let v = o.get("value").and_then(|v| v.as_str()).unwrap_or_default();
            format!("{attribute} is {}", crate::quote(v))
        }
        _ => {
            return Err(Error::InvalidArgument(format!(
                "ensure cannot look {attribute} up by a list or object value; leave it out of \
                 the identifying keys"
            )));
        }
    })
}

impl Session {
    /// The entity of `entity_type` whose `identifying_keys` (all keys of `data`
    /// when empty) have the values in `data`: created with `data` and committed
    /// when none exists; when one exists, the other values of `data` that differ
    /// are set on it and committed. As `ftrack_api`'s `Session.ensure`, the commit
    /// sends every pending operation of the session.
    ///
    /// Values are JSON as for [`Session::create`]; entity references are
    /// `{"__entity_type__": T, "id": ...}`.
    ///
    /// Errors: [`Error::InvalidArgument`] (an identifying key missing from `data`,
    /// or given a list), [`Error::UnknownEntityType`], and those of query and commit.
    pub fn ensure(
        &self,
        entity_type: &str,
        data: serde_json::Map<String, serde_json::Value>,
        identifying_keys: &[&str],
    ) -> Result<Entity> {
        let keys: Vec<&str> = if identifying_keys.is_empty() {
            data.keys().map(String::as_str).collect()
        } else {
            identifying_keys.to_vec()
        };
        if keys.is_empty() {
            return Err(Error::InvalidArgument(
                "ensure needs at least one identifying value, e.g. {\"name\": \"x\"}".into(),
            ));
        }
        let mut conditions = Vec::with_capacity(keys.len());
        for k in &keys {
            let v = data.get(*k).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "the identifying key {k} is not in the data; add its value or leave it out"
                ))
            })?;
            conditions.push(condition(k, v)?);
        }
        let expr = format!("{entity_type} where {}", conditions.join(" and "));
        match self.query_first(&expr)? {
            None => {
                let entity = self.create(entity_type, data)?;
                self.commit()?;
                Ok(entity)
            }
            Some(entity) => {
                let mut changed = false;
                for (k, v) in &data {
                    if keys.contains(&k.as_str()) {
                        continue;
                    }
                    if entity.get_json(k)? != *v {
                        entity.set_json(k, v)?;
                        changed = true;
                    }
                }
                if changed {
                    self.commit()?;
                }
                Ok(entity)
            }
        }
    }
}
