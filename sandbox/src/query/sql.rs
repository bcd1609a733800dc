//! Translates parsed criteria and sort keys into SQL over the entity tables.
//! Dotted paths, `has` and `any` become uncorrelated `IN (SELECT ...)` subqueries on indexed foreign
//! keys, so lookups by id, username and along relations use indexes.

use super::ast::{Expr, Literal, Op, Query};
use crate::datetime;
use crate::error::ApiError;
use crate::schema::{AttrKind, Attribute, EntityType, ScalarType, Schema};
use rusqlite::types::Value as Sql;

/// Builds the test on the last attribute of a path (builder, owner type, owner alias, attribute).
type LeafFn<'f, 'a> =
    dyn FnMut(&mut SqlBuilder<'a>, &EntityType, &str, &Attribute) -> Result<String, ApiError> + 'f;

/// Builds SQL fragments and collects their bound parameters.
pub struct SqlBuilder<'a> {
    schema: &'a Schema,
    visible: Option<&'a [String]>,
    /// Parameters in the order their `?` placeholders appear.
    pub params: Vec<Sql>,
    aliases: usize,
    /// Subqueries open around the fragment being built.
    depth: usize,
}

/// Most SQL subqueries one criterion or sort key may nest (every step along
/// a dotted path, `has`, `any` and `in (select ...)` opens one). SQLite
/// refuses an expression tree deeper than 1000, which these subqueries
/// reach at about 23 levels; 20 leaves a margin for `not`, parentheses and
/// `and`/`or` around them.
pub const MAX_SUBQUERY_DEPTH: usize = 20;

/// Most values (`?` parameters) one SQL statement may bind; SQLite's own
/// limit is 32766.
pub const MAX_SQL_PARAMS: usize = 32_000;

/// Looks up an attribute or fails with a validation error naming the type.
pub fn attribute<'s>(t: &'s EntityType, name: &str) -> Result<&'s Attribute, ApiError> {
    t.attribute(name).ok_or_else(|| {
        ApiError::validation(format!(
            "Unknown attribute '{name}' on entity type '{}'",
            t.name
        ))
    })
}

/// Looks up an entity type or fails with a not-found error.
pub fn entity_type<'s>(schema: &'s Schema, name: &str) -> Result<&'s EntityType, ApiError> {
    schema
        .get(name)
        .ok_or_else(|| ApiError::not_found(format!("Unknown entity type '{name}'")))
}

impl<'a> SqlBuilder<'a> {
    /// A builder; `visible` limits projects (and project-scoped rows) to those ids.
    pub fn new(schema: &'a Schema, visible: Option<&'a [String]>) -> Self {
        SqlBuilder {
            schema,
            visible,
            params: Vec::new(),
            aliases: 0,
            depth: 0,
        }
    }

    /// A fresh table alias.
    pub fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("t{}", self.aliases)
    }

    /// The visibility predicate for rows of `t` under `alias` (`1` when unrestricted).
    pub fn scope(&mut self, t: &EntityType, alias: &str) -> String {
        let column = match t.name {
            "Project" => "id",
            "UserSecurityRoleProject" => "project_id",
            _ => return "1".into(),
        };
        match self.visible {
            None => "1".into(),
            Some(ids) => {
                let list = self.placeholders(ids.iter().map(|s| Sql::Text(s.clone())));
                format!("{alias}.\"{column}\" IN ({list})")
            }
        }
    }

    fn enter(&mut self) -> Result<(), ApiError> {
        self.depth += 1;
        if self.depth > MAX_SUBQUERY_DEPTH {
            return Err(ApiError::validation(format!(
                "The criteria nest more than {MAX_SUBQUERY_DEPTH} subqueries (the limit): every step of a dotted path, has, any and in (select ...) opens one"
            )));
        }
        Ok(())
    }

    /// Adds parameters and returns `?, ?, ...` (or `NULL` for none).
    pub fn placeholders(&mut self, values: impl IntoIterator<Item = Sql>) -> String {
        let start = self.params.len();
        self.params.extend(values);
        let n = self.params.len() - start;
        if n == 0 {
            "NULL".into()
        } else {
            vec!["?"; n].join(", ")
        }
    }

    /// The SQL `FROM`/`WHERE` part for a whole query on alias `t0`.
    pub fn from_where(&mut self, t: &EntityType, q: &Query) -> Result<String, ApiError> {
        let scope = self.scope(t, "t0");
        let filter = match &q.filter {
            Some(e) => self.expr(t, "t0", e)?,
            None => "1".into(),
        };
        Ok(format!(
            "FROM {} t0 WHERE ({scope}) AND ({filter})",
            t.table()
        ))
    }

    /// The `ORDER BY` list (always ending with the insertion order).
    pub fn order_by(&mut self, t: &EntityType, q: &Query) -> Result<String, ApiError> {
        let mut keys = Vec::new();
        for (path, desc) in &q.order {
            let key = self.order_key(t, "t0", path)?;
            keys.push(format!("{key} {}", if *desc { "DESC" } else { "ASC" }));
        }
        keys.push("t0.rowid ASC".into());
        Ok(keys.join(", "))
    }

    fn order_key(
        &mut self,
        t: &EntityType,
        alias: &str,
        path: &[String],
    ) -> Result<String, ApiError> {
        let attr = attribute(t, &path[0])?;
        match (attr.kind, path.len()) {
            (AttrKind::Scalar { column, .. }, 1) => Ok(format!("{alias}.\"{column}\"")),
            (AttrKind::Reference { fk, .. }, 1) => Ok(format!("{alias}.\"{fk}\"")),
            (AttrKind::Reference { target, fk }, _) => {
                let tt = entity_type(self.schema, target)?;
                self.enter()?;
                let a = self.alias();
                let inner = self.order_key(tt, &a, &path[1..])?;
                self.depth -= 1;
                Ok(format!(
                    "(SELECT {inner} FROM {} {a} WHERE {a}.id = {alias}.\"{fk}\")",
                    tt.table()
                ))
            }
            _ => Err(ApiError::validation(format!(
                "Cannot order by '{}': only attributes and references can be sorted",
                path.join(".")
            ))),
        }
    }

    /// Translates a criterion on rows of `t` under `alias`.
    pub fn expr(&mut self, t: &EntityType, alias: &str, e: &Expr) -> Result<String, ApiError> {
        Ok(match e {
            Expr::And(parts) => self.join(t, alias, parts, " AND ")?,
            Expr::Or(parts) => self.join(t, alias, parts, " OR ")?,
            Expr::Not(inner) => format!("NOT ({})", self.expr(t, alias, inner)?),
            Expr::Compare { path, op, value } => {
                self.along(t, alias, path, &mut |b, t, alias, attr| {
                    let (column, ty) = leaf_column(t, attr)?;
                    b.compare(&format!("{alias}.\"{column}\""), ty, attr.name, *op, value)
                })?
            }
            Expr::InList {
                path,
                values,
                negated,
            } => self.along(t, alias, path, &mut |b, t, alias, attr| {
                let (column, ty) = leaf_column(t, attr)?;
                let mut sqls = Vec::new();
                for v in values {
                    sqls.push(literal_to_sql(ty, attr.name, v)?);
                }
                if sqls.is_empty() {
                    return Ok(if *negated { "1" } else { "0" }.into());
                }
                let list = b.placeholders(sqls);
                let not = if *negated { "NOT " } else { "" };
                Ok(format!("{alias}.\"{column}\" {not}IN ({list})"))
            })?,
            Expr::InQuery {
                path,
                query,
                negated,
            } => self.along(t, alias, path, &mut |b, t, alias, attr| {
                let (column, _) = leaf_column(t, attr)?;
                let sub = b.subquery(query)?;
                let not = if *negated { "NOT " } else { "" };
                Ok(format!("{alias}.\"{column}\" {not}IN ({sub})"))
            })?,
            Expr::Has { path, expr } => self.along(t, alias, path, &mut |b, _t, alias, attr| {
                let AttrKind::Reference { target, fk } = attr.kind else {
                    return Err(ApiError::validation(format!(
                        "'has' needs a reference attribute, '{}' is not one",
                        attr.name
                    )));
                };
                b.related(alias, target, fk, "id", &mut |b, tt, a| b.expr(tt, a, expr))
            })?,
            Expr::Any { path, expr } => self.along(t, alias, path, &mut |b, _t, alias, attr| {
                let AttrKind::Collection { target, remote_fk } = attr.kind else {
                    return Err(ApiError::validation(format!(
                        "'any' needs a collection attribute, '{}' is not one",
                        attr.name
                    )));
                };
                b.related(alias, target, "id", remote_fk, &mut |b, tt, a| match expr {
                    Some(e) => b.expr(tt, a, e),
                    None => Ok("1".into()),
                })
            })?,
        })
    }

    /// Joins the translated parts with `sep` as a balanced tree of
    /// parentheses: SQLite parses `a OR b OR c ...` as a chain as deep as
    /// it is long and refuses one deeper than its expression-depth limit.
    fn join(
        &mut self,
        t: &EntityType,
        alias: &str,
        parts: &[Expr],
        sep: &str,
    ) -> Result<String, ApiError> {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            out.push(format!("({})", self.expr(t, alias, p)?));
        }
        while out.len() > 2 {
            let mut paired = Vec::with_capacity(out.len().div_ceil(2));
            let mut items = out.into_iter();
            while let Some(a) = items.next() {
                paired.push(match items.next() {
                    Some(b) => format!("({a}{sep}{b})"),
                    None => a,
                });
            }
            out = paired;
        }
        Ok(out.join(sep))
    }

    /// Walks `path` from `t`: every step but the last becomes an `IN` subquery
    /// over the related table; `leaf` builds the test on the last attribute.
    fn along(
        &mut self,
        t: &EntityType,
        alias: &str,
        path: &[String],
        leaf: &mut LeafFn<'_, 'a>,
    ) -> Result<String, ApiError> {
        let attr = attribute(t, &path[0])?;
        if path.len() == 1 {
            return leaf(self, t, alias, attr);
        }
        let (target, column, remote) = match attr.kind {
            AttrKind::Reference { target, fk } => (target, fk, "id"),
            AttrKind::Collection { target, remote_fk } => (target, "id", remote_fk),
            AttrKind::Scalar { .. } => {
                return Err(ApiError::validation(format!(
                    "'{}' on '{}' is not a relation and has no attribute '{}'",
                    attr.name, t.name, path[1]
                )));
            }
        };
        self.related(alias, target, column, remote, &mut |b, tt, a| {
            b.along(tt, a, &path[1..], leaf)
        })
    }

    /// `<alias>.<column> IN (SELECT <remote> FROM <target> WHERE <inner>)`:
    /// an uncorrelated subquery, so SQLite evaluates it once through the
    /// indexes of the inner criteria and then looks the outer rows up by key.
    fn related(
        &mut self,
        alias: &str,
        target: &str,
        column: &str,
        remote: &str,
        inner: &mut dyn FnMut(&mut Self, &EntityType, &str) -> Result<String, ApiError>,
    ) -> Result<String, ApiError> {
        let tt = entity_type(self.schema, target)?;
        self.enter()?;
        let a = self.alias();
        let scope = self.scope(tt, &a);
        let inner = inner(self, tt, &a)?;
        self.depth -= 1;
        Ok(format!(
            "({alias}.\"{column}\" IS NOT NULL AND {alias}.\"{column}\" IN (SELECT {a}.\"{remote}\" FROM {} {a} WHERE {a}.\"{remote}\" IS NOT NULL AND ({scope}) AND ({inner})))",
            tt.table()
        ))
    }

    fn subquery(&mut self, q: &Query) -> Result<String, ApiError> {
        let t = entity_type(self.schema, &q.entity)?;
        if q.select.len() != 1 || q.select[0].len() != 1 {
            return Err(ApiError::validation(
                "A subquery must select exactly one attribute of its entity type",
            ));
        }
        let attr = attribute(t, &q.select[0][0])?;
        let (column, _) = leaf_column(t, attr)?;
        self.enter()?;
        let a = self.alias();
        let scope = self.scope(t, &a);
        let filter = match &q.filter {
            Some(e) => self.expr(t, &a, e)?,
            None => "1".into(),
        };
        self.depth -= 1;
        let mut sql = format!(
            "SELECT {a}.\"{column}\" FROM {} {a} WHERE ({scope}) AND ({filter})",
            t.table()
        );
        if q.limit.is_some() || q.offset.is_some() {
            sql.push_str(&format!(
                " LIMIT {} OFFSET {}",
                q.limit.map_or(-1, |l| l as i64),
                q.offset.unwrap_or(0)
            ));
        }
        Ok(sql)
    }

    fn compare(
        &mut self,
        col: &str,
        ty: ScalarType,
        attr: &str,
        op: Op,
        value: &Literal,
    ) -> Result<String, ApiError> {
        if *value == Literal::Null {
            return match op {
                Op::Eq => Ok(format!("{col} IS NULL")),
                Op::Ne => Ok(format!("{col} IS NOT NULL")),
                _ => Err(ApiError::validation(format!(
                    "Operator cannot compare '{attr}' with None"
                ))),
            };
        }
        let sql_op = match op {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Like => "LIKE",
            Op::NotLike => "NOT LIKE",
        };
        let v = if matches!(op, Op::Like | Op::NotLike) {
            Sql::Text(literal_text(value))
        } else {
            literal_to_sql(ty, attr, value)?
        };
        let p = self.placeholders([v]);
        Ok(format!("{col} {sql_op} {p}"))
    }
}

/// The column a comparison on `attr` uses (a reference compares its foreign key).
fn leaf_column(t: &EntityType, attr: &Attribute) -> Result<(&'static str, ScalarType), ApiError> {
    match attr.kind {
        AttrKind::Scalar { ty, column, .. } => Ok((column, ty)),
        AttrKind::Reference { fk, .. } => Ok((fk, ScalarType::String)),
        AttrKind::Collection { .. } => Err(ApiError::validation(format!(
            "Cannot compare the collection '{}' of '{}'; use 'any'",
            attr.name, t.name
        ))),
    }
}

fn literal_text(v: &Literal) -> String {
    match v {
        Literal::Text(s) | Literal::Number(s) => s.clone(),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => String::new(),
    }
}

/// Converts a query literal to the SQL value stored for type `ty`.
pub fn literal_to_sql(ty: ScalarType, attr: &str, v: &Literal) -> Result<Sql, ApiError> {
    let bad = || {
        ApiError::validation(format!(
            "Invalid value {} for attribute '{attr}'",
            literal_text(v)
        ))
    };
    Ok(match (ty, v) {
        (_, Literal::Null) => Sql::Null,
        (ScalarType::Boolean, Literal::Bool(b)) => Sql::Integer(*b as i64),
        (ScalarType::Boolean, Literal::Number(n) | Literal::Text(n)) => match n.as_str() {
            "1" => Sql::Integer(1),
            "0" => Sql::Integer(0),
            s if s.eq_ignore_ascii_case("true") => Sql::Integer(1),
            s if s.eq_ignore_ascii_case("false") => Sql::Integer(0),
            _ => return Err(bad()),
        },
        (ScalarType::Integer, Literal::Number(n) | Literal::Text(n)) => match n.parse::<i64>() {
            Ok(i) => Sql::Integer(i),
            Err(_) => Sql::Real(n.parse::<f64>().map_err(|_| bad())?),
        },
        (ScalarType::DateTime, Literal::Text(s)) => {
            Sql::Text(datetime::normalize(s).ok_or_else(bad)?)
        }
        (ScalarType::String, Literal::Text(s) | Literal::Number(s)) => Sql::Text(s.clone()),
        (ScalarType::String, Literal::Bool(b)) => Sql::Text(b.to_string()),
        _ => return Err(bad()),
    })
}
