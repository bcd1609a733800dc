//! Query expressions: default projections, offset/limit extraction, id conditions.

use crate::error::{Error, Result};
use crate::schema::Schema;

/// Byte ranges of the words of `expr` outside double-quoted literals.
fn words(expr: &str) -> Vec<(usize, usize)> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' {
            let q = c;
            i += 1;
            while i < b.len() && b[i] != q {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_whitespace() || c == b'(' || c == b')' || c == b',' {
            i += 1;
        } else {
            let start = i;
            while i < b.len()
                && !b[i].is_ascii_whitespace()
                && !matches!(b[i], b'"' | b'\'' | b'(' | b')' | b',')
            {
                i += 1;
            }
            out.push((start, i));
        }
    }
    out
}

/// Prepends `select <default projections> from` when the expression has no select.
/// Returns the expression and the entity type it targets.
pub(crate) fn prepare(expr: &str, schema: &Schema) -> Result<(String, String)> {
    let expr = expr.trim();
    let w = words(expr);
    let Some(&(s0, e0)) = w.first() else {
        return Err(Error::InvalidArgument(
            "the query expression is empty; write e.g. \"select username from User\"".into(),
        ));
    };
    if expr[s0..e0].eq_ignore_ascii_case("select") {
        let ty = w
            .iter()
            .position(|&(s, e)| expr[s..e].eq_ignore_ascii_case("from"))
            .and_then(|i| w.get(i + 1))
            .map(|&(s, e)| expr[s..e].to_owned())
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "the query \"{expr}\" has a select but no \"from <EntityType>\"; add it"
                ))
            })?;
        if schema.known_type(&ty).is_none() {
            return Err(Error::UnknownEntityType(ty));
        }
        return Ok((expr.to_owned(), ty));
    }
    let ty = &expr[s0..e0];
    let tid = schema
        .known_type(ty)
        .ok_or_else(|| Error::UnknownEntityType(ty.to_owned()))?;
    let info = schema.ty(tid);
    let proj = if info.default_projections.is_empty() {
        info.primary_key.join(", ")
    } else {
        info.default_projections.join(", ")
    };
    Ok((format!("select {proj} from {expr}"), ty.to_owned()))
}

/// Removes the first `offset <n>` and `limit <n>` (outside literals) and returns them.
pub(crate) fn split_paging(expr: &str) -> Result<(String, Option<u64>, Option<u64>)> {
    let w = words(expr);
    let mut offset = None;
    let mut limit = None;
    let mut cut: Vec<(usize, usize)> = Vec::new();
    for i in 0..w.len().saturating_sub(1) {
        let word = &expr[w[i].0..w[i].1];
        let which = if word.eq_ignore_ascii_case("offset") && offset.is_none() {
            &mut offset
        } else if word.eq_ignore_ascii_case("limit") && limit.is_none() {
            &mut limit
        } else {
            continue;
        };
        let n = &expr[w[i + 1].0..w[i + 1].1];
        let v: u64 = n.parse().map_err(|_| {
            Error::InvalidArgument(format!(
                "\"{word} {n}\" in the query needs a non-negative integer"
            ))
        })?;
        *which = Some(v);
        cut.push((w[i].0, w[i + 1].1));
    }
    let mut out = String::with_capacity(expr.len());
    let mut pos = 0;
    for (s, e) in cut {
        out.push_str(&expr[pos..s]);
        pos = e;
    }
    out.push_str(&expr[pos..]);
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok((out, offset, limit))
}

/// `id in ("a","b")` (single key) or `(k1 is "a" and k2 is "b") or (...)`.
pub(crate) fn key_condition(primary_key: &[String], keys: &[&str]) -> String {
    if primary_key.len() == 1 {
        let list: Vec<String> = keys.iter().map(|k| crate::quote(k)).collect();
        return format!("{} in ({})", primary_key[0], list.join(","));
    }
    keys.iter()
        .map(|k| {
            let parts: Vec<String> = primary_key
                .iter()
                .zip(k.split(crate::identity_map::KEY_SEP))
                .map(|(n, v)| format!("{n} is {}", crate::quote(v)))
                .collect();
            format!("({})", parts.join(" and "))
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_split_ignores_literals() {
        let (e, o, l) =
            split_paging(r#"select id from User where name is "limit 5" offset 10 limit 20"#)
                .unwrap();
        assert_eq!(e, r#"select id from User where name is "limit 5""#);
        assert_eq!((o, l), (Some(10), Some(20)));
        assert!(split_paging("User limit x").is_err());
    }

    #[test]
    fn projections_injected() {
        let s = Schema::from_json(&serde_json::json!([
            {"id": "User", "primary_key": ["id"], "default_projections": ["id", "username"]}
        ]));
        assert_eq!(
            prepare("User where is_active is true", &s).unwrap().0,
            "select id, username from User where is_active is true"
        );
        assert_eq!(prepare("select x from User", &s).unwrap().1, "User");
        assert!(matches!(
            prepare("Nope", &s),
            Err(Error::UnknownEntityType(_))
        ));
    }

    #[test]
    fn conditions() {
        assert_eq!(
            key_condition(&["id".into()], &["a", "b"]),
            r#"id in ("a","b")"#
        );
        assert_eq!(
            key_condition(&["p".into(), "k".into()], &["1\u{1f}x"]),
            r#"(p is "1" and k is "x")"#
        );
    }
}
