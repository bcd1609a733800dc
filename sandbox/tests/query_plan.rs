//! Lookups by id, by username and along relations use indexes: the SQL the
//! translator produces is checked with SQLite's EXPLAIN QUERY PLAN.

use ftrack_sandbox::query::parse;
use ftrack_sandbox::query::sql::SqlBuilder;
use ftrack_sandbox::schema::Schema;
use ftrack_sandbox::store;

fn plan(expression: &str, visible: Option<&[String]>) -> Vec<String> {
    let schema = Schema::new();
    let conn = store::open(None, &schema).unwrap();
    let q = parse(expression).unwrap();
    let t = schema.get(&q.entity).unwrap();
    let mut b = SqlBuilder::new(&schema, visible);
    let from_where = b.from_where(t, &q).unwrap();
    let sql = format!("EXPLAIN QUERY PLAN SELECT t0.id {from_where}");
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map(rusqlite::params_from_iter(b.params.iter()), |r| {
        r.get::<_, String>(3)
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn indexed_lookups_never_scan_a_table() {
    let visible = vec!["p1".to_string(), "p2".to_string()];
    let cases: [(&str, Option<&[String]>); 9] = [
        ("User where id is \"abc\"", None),
        ("User where id in (a,b,c)", None),
        ("User where username is jane", None),
        ("UserSecurityRole where user.username is \"jane\"", None),
        ("UserSecurityRole where user has (username is jane)", None),
        (
            "User where user_security_roles any (security_role.name is Administrator)",
            None,
        ),
        (
            "User where user_security_roles.user_security_role_projects.project.name is alpha",
            None,
        ),
        (
            "User where id in (select user_id from UserSecurityRole where security_role.name is API)",
            None,
        ),
        (
            "UserSecurityRoleProject where project.name is alpha",
            Some(&visible),
        ),
    ];
    let mut scans = Vec::new();
    for (expression, visible) in cases {
        let lines = plan(expression, visible);
        if lines.iter().any(|l| l.starts_with("SCAN")) {
            scans.push(format!("{expression}: {lines:#?}"));
        }
    }
    assert!(scans.is_empty(), "{scans:#?}");
}

#[test]
fn unselective_criteria_do_scan() {
    // The check above can fail: a filter on an unindexed column scans.
    let lines = plan("User where first_name is Jane", None);
    assert!(lines.iter().any(|l| l.starts_with("SCAN")), "{lines:?}");
}

#[test]
fn projections_load_one_statement_per_level_and_chunk() {
    use ftrack_sandbox::SeedData;
    use ftrack_sandbox::query::load::{Loader, Projection};
    let schema = Schema::new();
    let mut conn = store::open(None, &schema).unwrap();
    SeedData::synthetic(1195).load(&mut conn).unwrap();
    let q = parse(
        "select username, user_security_roles.security_role.name, user_security_roles.user_security_role_projects.project.name from User",
    )
    .unwrap();
    let t = schema.get("User").unwrap();
    let mut loader = Loader::new(&conn, &schema, None);
    let (rows, more) = loader.query(&q).unwrap();
    assert_eq!((rows.len(), more), (1200, false));
    loader
        .project(&rows, &Projection::build(&schema, t, &q.select).unwrap())
        .unwrap();
    // users: 1; their roles: 3 chunks of 500 ids; roles: 1; grants: 3 chunks
    // of role ids; projects: 1.
    assert_eq!(loader.statements(), 1 + 3 + 1 + 3 + 1);
}
