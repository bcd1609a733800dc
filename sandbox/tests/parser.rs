//! The query parser: every clause and operator, and every error path.

use ftrack_sandbox::ErrorKind;
use ftrack_sandbox::query::ast::{Expr, Literal, Op};
use ftrack_sandbox::query::parse;

fn p(s: &str) -> Vec<String> {
    s.split('.').map(str::to_string).collect()
}

fn cmp(path: &str, op: Op, value: Literal) -> Expr {
    Expr::Compare {
        path: p(path),
        op,
        value,
    }
}

fn text(s: &str) -> Literal {
    Literal::Text(s.into())
}

#[test]
fn full_query_with_every_clause() {
    let q = parse(
        "select a, b.c, d.e.f from User where x is 1 order by a desc, b.c asc, d offset 5 limit 10",
    )
    .unwrap();
    assert_eq!(q.select, vec![p("a"), p("b.c"), p("d.e.f")]);
    assert_eq!(q.entity, "User");
    assert_eq!(
        q.filter,
        Some(cmp("x", Op::Eq, Literal::Number("1".into())))
    );
    assert_eq!(
        q.order,
        vec![(p("a"), true), (p("b.c"), false), (p("d"), false)]
    );
    assert_eq!((q.offset, q.limit), (Some(5), Some(10)));
}

#[test]
fn bare_entity_and_limit_before_offset() {
    let q = parse("User limit 3 offset 2").unwrap();
    assert!(q.select.is_empty());
    assert_eq!((q.offset, q.limit), (Some(2), Some(3)));
    assert_eq!(parse("Project").unwrap().filter, None);
}

#[test]
fn every_operator_spelling() {
    let cases = [
        ("is", Op::Eq),
        ("=", Op::Eq),
        ("is_not", Op::Ne),
        ("!=", Op::Ne),
        (">", Op::Gt),
        ("after", Op::Gt),
        ("greater_than", Op::Gt),
        ("<", Op::Lt),
        ("before", Op::Lt),
        ("less_than", Op::Lt),
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("like", Op::Like),
        ("not_like", Op::NotLike),
    ];
    for (spelling, op) in cases {
        let q = parse(&format!("User where name {spelling} \"v\"")).unwrap();
        assert_eq!(q.filter, Some(cmp("name", op, text("v"))), "{spelling}");
    }
    // No spaces around symbols.
    let q = parse("User where name=\"v\"and b!=2").unwrap();
    assert_eq!(
        q.filter,
        Some(Expr::And(vec![
            cmp("name", Op::Eq, text("v")),
            cmp("b", Op::Ne, Literal::Number("2".into()))
        ]))
    );
}

#[test]
fn literals() {
    let lit = |s: &str| match parse(&format!("User where a is {s}")).unwrap().filter {
        Some(Expr::Compare { value, .. }) => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(lit("None"), Literal::Null);
    assert_eq!(lit("true"), Literal::Bool(true));
    assert_eq!(lit("False"), Literal::Bool(false));
    assert_eq!(lit("-12.5"), Literal::Number("-12.5".into()));
    assert_eq!(lit("NOT_STARTED"), text("NOT_STARTED"));
    assert_eq!(lit("1111-2222-abcd"), text("1111-2222-abcd"));
    assert_eq!(
        lit(r#""a \"quoted\" \\ word""#),
        text(r#"a "quoted" \ word"#)
    );
    assert_eq!(lit("'single'"), text("single"));
    assert_eq!(
        lit("\"2015-06-01T00:00:00+02:00\""),
        text("2015-06-01T00:00:00+02:00")
    );
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_group() {
    let q = parse("User where a is 1 or b is 2 and c is 3").unwrap();
    let n = |s: &str| Literal::Number(s.into());
    assert_eq!(
        q.filter,
        Some(Expr::Or(vec![
            cmp("a", Op::Eq, n("1")),
            Expr::And(vec![cmp("b", Op::Eq, n("2")), cmp("c", Op::Eq, n("3"))])
        ]))
    );
    let q = parse("User where (a is 1 or b is 2) and not c is 3").unwrap();
    assert_eq!(
        q.filter,
        Some(Expr::And(vec![
            Expr::Or(vec![cmp("a", Op::Eq, n("1")), cmp("b", Op::Eq, n("2"))]),
            Expr::Not(Box::new(cmp("c", Op::Eq, n("3"))))
        ]))
    );
}

#[test]
fn in_lists_subqueries_has_and_any() {
    let q = parse("User where id in (a,b, \"c\") and name not_in ()").unwrap();
    assert_eq!(
        q.filter,
        Some(Expr::And(vec![
            Expr::InList {
                path: p("id"),
                values: vec![text("a"), text("b"), text("c")],
                negated: false
            },
            Expr::InList {
                path: p("name"),
                values: vec![],
                negated: true
            },
        ]))
    );
    let q = parse("User where id in (select user_id from UserSecurityRole where security_role.name is Administrator limit 5)")
        .unwrap();
    match q.filter {
        Some(Expr::InQuery {
            path,
            query,
            negated,
        }) => {
            assert_eq!(path, p("id"));
            assert!(!negated);
            assert_eq!(query.entity, "UserSecurityRole");
            assert_eq!(query.limit, Some(5));
        }
        other => panic!("{other:?}"),
    }
    let q = parse("UserSecurityRole where user has (username is x) and not user_security_role_projects any ()")
        .unwrap();
    assert_eq!(
        q.filter,
        Some(Expr::And(vec![
            Expr::Has {
                path: p("user"),
                expr: Box::new(cmp("username", Op::Eq, text("x")))
            },
            Expr::Not(Box::new(Expr::Any {
                path: p("user_security_role_projects"),
                expr: None
            })),
        ]))
    );
}

#[test]
fn errors_quote_the_position() {
    let cases = [
        ("select from User", 7),
        ("select name User", 12),
        ("User where", 10),
        ("User where name", 15),
        ("User where name is", 18),
        ("User where name == 1", 17),
        ("User where (name is 1", 21),
        ("User where name in (1, 2", 24),
        ("User where name is 1 extra", 21),
        ("User limit x", 11),
        ("User offset -1", 12),
        ("User order name", 11),
        ("User where a has b", 17),
        ("User where a any b", 17),
        ("", 0),
        ("User where name is \"open", 19),
        ("User where name is 1 ; drop", 21),
        ("User where name ! 1", 16),
    ];
    let mut wrong = Vec::new();
    for (q, pos) in cases {
        match parse(q) {
            Err(e)
                if e.kind == ErrorKind::Parse && e.message.contains(&format!("position {pos}")) => {
            }
            other => wrong.push(format!("{q:?}: {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn nesting_is_bounded() {
    let deep = format!(
        "User where {}a is 1{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let e = parse(&deep).unwrap_err();
    assert!(e.message.contains("levels of nesting"), "{}", e.message);
    let nots = format!("User where {}a is 1", "not ".repeat(100_000));
    assert!(
        parse(&nots)
            .unwrap_err()
            .message
            .contains("levels of nesting")
    );
    let ok = format!("User where {}a is 1{}", "(".repeat(30), ")".repeat(30));
    assert!(parse(&ok).is_ok());
}
