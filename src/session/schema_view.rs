//! The schemas as the session exposes them: entity types, primary keys, default
//! projections and attributes with their kinds, derived collections included.

use super::Session;
use crate::error::Result;

/// One attribute of an [`EntitySchema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeSchema {
    /// The attribute name, e.g. `"username"`.
    pub name: String,
    /// What its values are: `"string"`, `"boolean"`, `"integer"`, `"number"`,
    /// `"datetime"`, `"json"`, `"reference"` or `"collection"`.
    pub kind: &'static str,
    /// For references and collections: the entity type of the items.
    pub target: Option<String>,
    /// Whether the client derives it from other attributes (see
    /// [`crate::DerivedCollection`]); the server's schema does not have it and
    /// it is never sent under this name.
    pub derived: bool,
}

/// An entity type as the session knows it (see [`Session::entity_schema`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitySchema {
    /// The type name, e.g. `"User"`.
    pub entity_type: String,
    /// The primary-key attributes.
    pub primary_key: Vec<String>,
    /// What a query without `select` loads.
    pub default_projections: Vec<String>,
    /// Every attribute, sorted by name, derived ones included.
    pub attributes: Vec<AttributeSchema>,
}

impl EntitySchema {
    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&AttributeSchema> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The schema as JSON: `{"id", "primary_key", "default_projections",
    /// "properties": {name: {"kind", "target"?, "derived"}}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let props: serde_json::Map<String, serde_json::Value> = self
            .attributes
            .iter()
            .map(|a| {
                let mut o = serde_json::json!({"kind": a.kind, "derived": a.derived});
                if let Some(t) = &a.target {
                    o["target"] = t.as_str().into();
                }
                (a.name.clone(), o)
            })
            .collect();
        serde_json::json!({
            "id": self.entity_type,
            "primary_key": self.primary_key,
            "default_projections": self.default_projections,
            "properties": props,
        })
    }
}

impl Session {
    /// The names of the entity types the server's schemas describe, sorted.
    pub fn entity_types(&self) -> Vec<String> {
        let st = self.inner.lock();
        let mut out: Vec<String> = st
            .schema
            .types
            .iter()
            .filter(|t| t.known)
            .map(|t| t.name.clone())
            .collect();
        out.sort();
        out
    }

    /// The schema of `entity_type`, with the derived collections registered on
    /// it listed and marked `derived`.
    ///
    /// Errors: [`Error::UnknownEntityType`](crate::Error::UnknownEntityType).
    pub fn entity_schema(&self, entity_type: &str) -> Result<EntitySchema> {
        let mut schema = {
            let st = self.inner.lock();
            let tid = st.schema.require_type(entity_type)?;
            let info = st.schema.ty(tid);
            let attributes = info
                .attrs
                .iter()
                .map(|(&a, kind)| AttributeSchema {
                    name: st.schema.attrs.name(a).to_owned(),
                    kind: kind.name(),
                    target: kind.target().map(str::to_owned),
                    derived: false,
                })
                .collect();
            EntitySchema {
                entity_type: info.name.clone(),
                primary_key: info.primary_key.clone(),
                default_projections: info.default_projections.clone(),
                attributes,
            }
        };
        for d in self.inner.derived_list() {
            if d.entity_type() == schema.entity_type {
                schema.attributes.push(AttributeSchema {
                    name: d.name().to_owned(),
                    kind: "collection",
                    target: Some(d.target_type().to_owned()),
                    derived: true,
                });
            }
        }
        schema.attributes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(schema)
    }
}
