//! The entity types the sandbox serves: attribute names, kinds, keys and
//! projections follow the real ftrack schema for every supported attribute.

use serde_json::{Map, Value, json};

/// The scalar type of a stored attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    /// JSON string.
    String,
    /// JSON boolean, stored as 0/1.
    Boolean,
    /// JSON integer.
    Integer,
    /// UTC datetime, stored as `YYYY-MM-DDTHH:MM:SS` text.
    DateTime,
}

/// What an attribute is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    /// A stored value; `column` is the SQL column (twin attributes share one).
    Scalar {
        /// Value type.
        ty: ScalarType,
        /// SQL column name.
        column: &'static str,
        /// Whether the schema marks it as a foreign key.
        foreign_key: bool,
    },
    /// A single relation stored in the foreign-key attribute `fk` of this type.
    Reference {
        /// Target entity type.
        target: &'static str,
        /// Name of the foreign-key attribute (and column) on this type.
        fk: &'static str,
    },
    /// A one-to-many relation: rows of `target` whose column `remote_fk` holds this id.
    Collection {
        /// Target entity type.
        target: &'static str,
        /// Foreign-key column on the target type.
        remote_fk: &'static str,
    },
}

/// One attribute of an entity type.
#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    /// Attribute name on the wire.
    pub name: &'static str,
    /// Kind and storage.
    pub kind: AttrKind,
    /// Schema default (`"{uid}"` means a generated UUID).
    pub default: Option<DefaultValue>,
    /// Server-side alias from the real schema.
    pub alias_for: Option<&'static str>,
    /// Description from the real schema (deprecations, foreign keys).
    pub description: Option<&'static str>,
}

/// A schema default value.
#[derive(Debug, Clone, Copy)]
pub enum DefaultValue {
    /// A generated UUID (`"{uid}"`).
    Uid,
    /// A fixed string.
    Str(&'static str),
    /// A fixed boolean.
    Bool(bool),
}

/// One entity type.
#[derive(Debug)]
pub struct EntityType {
    /// Type name (`__entity_type__`).
    pub name: &'static str,
    /// Server-side table alias in the real schema.
    pub alias_for: Option<&'static str>,
    /// Attributes in declaration order.
    pub attributes: Vec<Attribute>,
    /// Primary-key attributes.
    pub primary_key: &'static [&'static str],
    /// Attributes that must have values.
    pub required: &'static [&'static str],
    /// Attributes that cannot change once set.
    pub immutable: &'static [&'static str],
    /// Server-derived attributes.
    pub computed: &'static [&'static str],
    /// Distinct stored columns, derived from the attributes.
    columns: Vec<(&'static str, ScalarType)>,
    /// Projections used when a query has no `select`.
    pub default_projections: &'static [&'static str],
    /// API attributes always added to encoded entities.
    pub system_projections: &'static [&'static str],
}

impl EntityType {
    /// Looks up an attribute by name.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The SQL table name (quoted).
    pub fn table(&self) -> String {
        format!("\"{}\"", self.name)
    }

    /// Distinct scalar columns (SQL order) with their types.
    pub fn columns(&self) -> &[(&'static str, ScalarType)] {
        &self.columns
    }

    /// Position of `column` in [`EntityType::columns`].
    pub fn column_index(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|(c, _)| *c == column)
    }

    fn compute_columns(&self) -> Vec<(&'static str, ScalarType)> {
        let mut out: Vec<(&'static str, ScalarType)> = Vec::new();
        for a in &self.attributes {
            if let AttrKind::Scalar { ty, column, .. } = a.kind
                && !out.iter().any(|(c, _)| *c == column)
            {
                out.push((column, ty));
            }
        }
        out
    }

    /// Scalar attributes (including deprecated twins).
    pub fn scalar_attributes(&self) -> impl Iterator<Item = &Attribute> {
        self.attributes
            .iter()
            .filter(|a| matches!(a.kind, AttrKind::Scalar { .. }))
    }
}

const fn scalar(name: &'static str, ty: ScalarType) -> Attribute {
    Attribute {
        name,
        kind: AttrKind::Scalar {
            ty,
            column: name,
            foreign_key: false,
        },
        default: None,
        alias_for: None,
        description: None,
    }
}

const fn fk(name: &'static str, target_desc: &'static str) -> Attribute {
    Attribute {
        name,
        kind: AttrKind::Scalar {
            ty: ScalarType::String,
            column: name,
            foreign_key: true,
        },
        default: None,
        alias_for: None,
        description: Some(target_desc),
    }
}

const fn reference(name: &'static str, target: &'static str, fk: &'static str) -> Attribute {
    Attribute {
        name,
        kind: AttrKind::Reference { target, fk },
        default: None,
        alias_for: None,
        description: None,
    }
}

const fn collection(
    name: &'static str,
    target: &'static str,
    remote_fk: &'static str,
) -> Attribute {
    Attribute {
        name,
        kind: AttrKind::Collection { target, remote_fk },
        default: None,
        alias_for: None,
        description: None,
    }
}

const fn id_attr() -> Attribute {
    Attribute {
        default: Some(DefaultValue::Uid),
        ..scalar("id", ScalarType::String)
    }
}

const fn alias(mut a: Attribute, alias: &'static str) -> Attribute {
    a.alias_for = Some(alias);
    a
}

const fn with_default(mut a: Attribute, d: DefaultValue) -> Attribute {
    a.default = Some(d);
    a
}

use ScalarType::{Boolean, DateTime, String as Str};

/// Builds the list of supported entity types.
pub fn entity_types() -> Vec<EntityType> {
    vec![
        EntityType {
            name: "User",
            alias_for: None,
            attributes: vec![
                scalar("email", Str),
                alias(scalar("first_name", Str), "firstname"),
                id_attr(),
                alias(scalar("is_active", Boolean), "isactive"),
                alias(scalar("is_otp_enabled", Boolean), "otp_enabled"),
                alias(scalar("is_totp_enabled", Boolean), "totp_enabled"),
                alias(scalar("last_name", Str), "lastname"),
                alias(
                    collection("memberships", "Membership", "user_id"),
                    "user_memberships",
                ),
                scalar("require_details_update", Boolean),
                with_default(scalar("resource_type", Str), DefaultValue::Str("user")),
                alias(
                    collection("user_security_roles", "UserSecurityRole", "user_id"),
                    "userRoles",
                ),
                scalar("username", Str),
            ],
            primary_key: &["id"],
            required: &["username", "is_active", "resource_type", "id"],
            immutable: &["resource_type", "id"],
            computed: &[],
            columns: Vec::new(),
            default_projections: &["id"],
            system_projections: &["resource_type"],
        },
        EntityType {
            name: "SecurityRole",
            alias_for: Some("Auth_Role"),
            attributes: vec![
                alias(id_attr(), "roleid"),
                scalar("name", Str),
                alias(fk("type", "Foreign key(s): SecurityRoleType.id"), "typeid"),
                alias(
                    collection(
                        "user_security_roles",
                        "UserSecurityRole",
                        "security_role_id",
                    ),
                    "userRoles",
                ),
            ],
            primary_key: &["id"],
            required: &["id"],
            immutable: &["id"],
            computed: &[],
            columns: Vec::new(),
            default_projections: &["id", "name"],
            system_projections: &[],
        },
        EntityType {
            name: "UserSecurityRole",
            alias_for: Some("Auth_UserRole"),
            attributes: vec![
                id_attr(),
                alias(scalar("is_all_open_projects", Boolean), "isallprojects"),
                Attribute {
                    name: "is_all_projects",
                    kind: AttrKind::Scalar {
                        ty: Boolean,
                        column: "is_all_open_projects",
                        foreign_key: false,
                    },
                    default: None,
                    alias_for: Some("isallprojects"),
                    description: Some(
                        "This attribute has been deprecated, use `is_all_open_projects` attribute instead.",
                    ),
                },
                alias(
                    reference("security_role", "SecurityRole", "security_role_id"),
                    "role",
                ),
                alias(
                    fk("security_role_id", "Foreign key(s): SecurityRole.id"),
                    "roleid",
                ),
                reference("user", "User", "user_id"),
                alias(fk("user_id", "Foreign key(s): User.id"), "userid"),
                alias(
                    collection(
                        "user_security_role_projects",
                        "UserSecurityRoleProject",
                        "user_security_role_id",
                    ),
                    "user_role_projects",
                ),
            ],
            primary_key: &["id"],
            required: &["id"],
            immutable: &["id"],
            computed: &[],
            columns: Vec::new(),
            default_projections: &["id", "user_id", "security_role_id"],
            system_projections: &[],
        },
        EntityType {
            name: "UserSecurityRoleProject",
            alias_for: Some("UserRoleProject"),
            attributes: vec![
                id_attr(),
                reference("project", "Project", "project_id"),
                fk("project_id", "Foreign key(s): Project.id"),
                alias(
                    reference(
                        "user_security_role",
                        "UserSecurityRole",
                        "user_security_role_id",
                    ),
                    "user_role",
                ),
                alias(
                    fk(
                        "user_security_role_id",
                        "Foreign key(s): UserSecurityRole.id",
                    ),
                    "user_role_id",
                ),
            ],
            primary_key: &["id"],
            required: &["id"],
            immutable: &["id"],
            computed: &[],
            columns: Vec::new(),
            default_projections: &["id", "user_security_role_id", "project_id"],
            system_projections: &[],
        },
        EntityType {
            name: "Project",
            alias_for: Some("Show"),
            attributes: vec![
                scalar("color", Str),
                with_default(scalar("context_type", Str), DefaultValue::Str("show")),
                scalar("created_at", DateTime),
                alias(scalar("end_date", DateTime), "enddate"),
                alias(scalar("full_name", Str), "fullname"),
                id_attr(),
                alias(
                    with_default(scalar("is_global", Boolean), DefaultValue::Bool(false)),
                    "isglobal",
                ),
                alias(
                    with_default(scalar("is_private", Boolean), DefaultValue::Bool(false)),
                    "private",
                ),
                with_default(scalar("name", Str), DefaultValue::Str("")),
                scalar("root", Str),
                alias(scalar("start_date", DateTime), "startdate"),
                with_default(scalar("status", Str), DefaultValue::Str("active")),
                alias(
                    collection(
                        "user_security_role_projects",
                        "UserSecurityRoleProject",
                        "project_id",
                    ),
                    "user_role_projects",
                ),
            ],
            primary_key: &["id"],
            required: &["is_global", "status", "context_type", "id", "name"],
            immutable: &["id", "created_at"],
            computed: &[],
            columns: Vec::new(),
            default_projections: &["context_type", "id", "name"],
            system_projections: &["context_type"],
        },
        EntityType {
            name: "Group",
            alias_for: None,
            attributes: vec![
                collection("children", "Group", "parent_id"),
                id_attr(),
                scalar("local", Boolean),
                alias(
                    collection("memberships", "Membership", "group_id"),
                    "group_memberships",
                ),
                with_default(scalar("name", Str), DefaultValue::Str("")),
                reference("parent", "Group", "parent_id"),
                alias(fk("parent_id", "Foreign key(s): Group.id"), "group_id"),
                with_default(scalar("resource_type", Str), DefaultValue::Str("group")),
            ],
            primary_key: &["id"],
            required: &["name", "local", "resource_type", "id"],
            immutable: &["resource_type", "id"],
            computed: &[],
            columns: Vec::new(),
            default_projections: &["id"],
            system_projections: &["resource_type"],
        },
        EntityType {
            name: "Membership",
            alias_for: None,
            attributes: vec![
                alias(reference("group", "Group", "group_id"), "membership_group"),
                fk("group_id", "Foreign key(s): Group.id"),
                id_attr(),
                alias(reference("user", "User", "user_id"), "membership_user"),
                fk("user_id", "Foreign key(s): User.id"),
            ],
            primary_key: &["id"],
            required: &["group_id", "user_id", "id"],
            immutable: &["id"],
            computed: &[],
            columns: Vec::new(),
            default_projections: &["id"],
            system_projections: &[],
        },
        EntityType {
            name: "Location",
            alias_for: None,
            attributes: vec![
                scalar("description", Str),
                id_attr(),
                scalar("label", Str),
                scalar("name", Str),
            ],
            primary_key: &["id"],
            required: &["name", "id"],
            immutable: &["id"],
            computed: &[],
            columns: Vec::new(),
            default_projections: &["id"],
            system_projections: &[],
        },
    ]
}

/// The supported entity types, with lookups and the `query_schemas` answer.
#[derive(Debug)]
pub struct Schema {
    types: Vec<EntityType>,
    json: Value,
    hash: String,
}

impl Default for Schema {
    fn default() -> Self {
        Self::new()
    }
}

impl Schema {
    /// Builds the schema and its hash.
    pub fn new() -> Self {
        let mut types = entity_types();
        for t in &mut types {
            t.columns = t.compute_columns();
        }
        let json = Value::Array(types.iter().map(type_json).collect());
        let hash = crate::pyjson::md5_hex(&crate::pyjson::dumps_sorted(&json));
        Schema { types, json, hash }
    }

    /// Looks up an entity type by name.
    pub fn get(&self, name: &str) -> Option<&EntityType> {
        self.types.iter().find(|t| t.name == name)
    }

    /// All entity types.
    pub fn types(&self) -> &[EntityType] {
        &self.types
    }

    /// The `query_schemas` answer.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// MD5 of the schema list dumped like Python's `json.dumps(..., sort_keys=True)`.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

fn strs(list: &[&str]) -> Value {
    Value::Array(list.iter().map(|s| Value::from(*s)).collect())
}

fn type_json(t: &EntityType) -> Value {
    let mut props = Map::new();
    for a in &t.attributes {
        let mut p = Map::new();
        match a.kind {
            AttrKind::Scalar {
                ty, foreign_key, ..
            } => {
                let ty_name = match ty {
                    ScalarType::String | ScalarType::DateTime => "string",
                    ScalarType::Boolean => "boolean",
                    ScalarType::Integer => "integer",
                };
                p.insert("type".into(), ty_name.into());
                if ty == ScalarType::DateTime {
                    p.insert("format".into(), "date-time".into());
                }
                if foreign_key {
                    p.insert("format".into(), "foreign_key".into());
                }
            }
            AttrKind::Reference { target, .. } => {
                p.insert("$ref".into(), target.into());
            }
            AttrKind::Collection { target, .. } => {
                p.insert("type".into(), "array".into());
                p.insert("items".into(), json!({ "$ref": target }));
            }
        }
        match a.default {
            Some(DefaultValue::Uid) => {
                p.insert("default".into(), "{uid}".into());
            }
            Some(DefaultValue::Str(s)) => {
                p.insert("default".into(), s.into());
            }
            Some(DefaultValue::Bool(b)) => {
                p.insert("default".into(), b.into());
            }
            None => {}
        }
        if let Some(al) = a.alias_for {
            p.insert("alias_for".into(), al.into());
        }
        if let Some(d) = a.description {
            p.insert("description".into(), d.into());
        }
        props.insert(a.name.into(), Value::Object(p));
    }
    let mut o = Map::new();
    o.insert("id".into(), t.name.into());
    o.insert("type".into(), "object".into());
    o.insert("properties".into(), Value::Object(props));
    o.insert("primary_key".into(), strs(t.primary_key));
    o.insert("required".into(), strs(t.required));
    o.insert("immutable".into(), strs(t.immutable));
    if !t.computed.is_empty() {
        o.insert("computed".into(), strs(t.computed));
    }
    o.insert("default_projections".into(), strs(t.default_projections));
    if !t.system_projections.is_empty() {
        o.insert("system_projections".into(), strs(t.system_projections));
    }
    if let Some(al) = t.alias_for {
        o.insert("alias_for".into(), al.into());
    }
    Value::Object(o)
}
