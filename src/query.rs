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
    let tid = schema.require_type(ty)?;
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

/// A derived collection as the query rewrite sees it: `name` on the queried type
/// stands for `through.item` (e.g. `security_roles` for
/// `user_security_roles.security_role`).
pub(crate) struct DerivedPath {
    pub name: String,
    pub through: String,
    pub item: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    Word(usize, usize),
    Open(usize),
    Close(usize),
}

/// Words and parentheses of `expr` outside quoted literals, with byte offsets.
fn tokens(expr: &str) -> Vec<Tok> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == b'(' {
            out.push(Tok::Open(i));
            i += 1;
        } else if c == b')' {
            out.push(Tok::Close(i));
            i += 1;
        } else if c.is_ascii_whitespace() || c == b',' {
            i += 1;
        } else {
            let start = i;
            while i < b.len()
                && !b[i].is_ascii_whitespace()
                && !matches!(b[i], b'"' | b'\'' | b'(' | b')' | b',')
            {
                i += 1;
            }
            out.push(Tok::Word(start, i));
        }
    }
    out
}

/// Rewrites the derived collections of `rules` in a prepared expression to the
/// attributes they derive from, so that the server never sees their names. Only
/// paths that start at the queried type are rewritten (not those inside an
/// `any (...)` / `has (...)` about another type):
///
/// * `name.rest` becomes `through.item.rest` (projections, conditions, order by);
/// * `name any (cond)` / `name has (cond)` becomes
///   `through any (item has (cond))`;
/// * a bare `name` becomes `through.item`.
pub(crate) fn rewrite_derived(expr: &str, rules: &[DerivedPath]) -> String {
    if rules.is_empty() {
        return expr.to_owned();
    }
    let toks = tokens(expr);
    // (byte position, bytes removed, text inserted)
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    // One entry per open parenthesis: whether it opens another type's scope.
    let mut scopes: Vec<bool> = Vec::new();
    // Open parentheses (by depth) whose closing one needs an extra `)`.
    let mut extra_close: Vec<usize> = Vec::new();
    let word = |t: &Tok| match *t {
        Tok::Word(s, e) => Some(&expr[s..e]),
        _ => None,
    };
    let mut i = 0;
    while i < toks.len() {
        match toks[i] {
            Tok::Open(_) => {
                let nested = i > 0
                    && word(&toks[i - 1]).is_some_and(|w| {
                        w.eq_ignore_ascii_case("any") || w.eq_ignore_ascii_case("has")
                    });
                scopes.push(nested);
            }
            Tok::Close(pos) => {
                if extra_close.last() == Some(&scopes.len()) {
                    extra_close.pop();
                    edits.push((pos, 0, ")".into()));
                }
                scopes.pop();
            }
            Tok::Word(s, e) if !scopes.iter().any(|&n| n) => {
                let w = &expr[s..e];
                for r in rules {
                    if w == r.name {
                        let op = toks.get(i + 1).and_then(word);
                        if let (Some(op), Some(Tok::Open(p))) = (op, toks.get(i + 2))
                            && (op.eq_ignore_ascii_case("any") || op.eq_ignore_ascii_case("has"))
                        {
                            edits.push((s, e - s, r.through.clone()));
                            edits.push((*p + 1, 0, format!("{} has (", r.item)));
                            // The `(` is consumed here: its scope is another type's.
                            scopes.push(true);
                            extra_close.push(scopes.len());
                            i += 2;
                        } else {
                            edits.push((s, e - s, format!("{}.{}", r.through, r.item)));
                        }
                        break;
                    } else if let Some(rest) = w.strip_prefix(r.name.as_str())
                        && rest.starts_with('.')
                    {
                        edits.push((s, r.name.len(), format!("{}.{}", r.through, r.item)));
                        break;
                    }
                }
            }
            Tok::Word(..) => {}
        }
        i += 1;
    }
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(expr.len() + 64);
    let mut pos = 0;
    for (at, removed, text) in edits {
        out.push_str(&expr[pos..at]);
        out.push_str(&text);
        pos = at + removed;
    }
    out.push_str(&expr[pos..]);
    out
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
    fn derived_paths_rewritten() {
        let rules = [DerivedPath {
            name: "security_roles".into(),
            through: "user_security_roles".into(),
            item: "security_role".into(),
        }];
        let r = |e: &str| rewrite_derived(e, &rules);
        assert_eq!(
            r("select username, security_roles.name from User"),
            "select username, user_security_roles.security_role.name from User"
        );
        assert_eq!(
            r(r#"select id from User where security_roles any (name is "Project Manager")"#),
            r#"select id from User where user_security_roles any (security_role has (name is "Project Manager"))"#
        );
        assert_eq!(
            r(
                r#"select id from User where (security_roles any (name is "a" and (type is "b"))) and username is "security_roles""#
            ),
            r#"select id from User where (user_security_roles any (security_role has (name is "a" and (type is "b")))) and username is "security_roles""#
        );
        assert_eq!(
            r("select security_roles from User order by security_roles.name"),
            "select user_security_roles.security_role from User order by user_security_roles.security_role.name"
        );
        // Inside another type's scope the name is that type's business.
        assert_eq!(
            r("select id from User where memberships any (security_roles.name is \"x\")"),
            "select id from User where memberships any (security_roles.name is \"x\")"
        );
        assert_eq!(
            r("select my_security_roles from User"),
            "select my_security_roles from User"
        );
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
