//! Hostile queries: every bound the query language puts on a request
//! answers with an ftrack error naming the limit, and the server keeps
//! serving.

mod common;
use common::*;
use serde_json::json;

/// Asserts the sandbox still answers an ordinary query on a new connection.
fn still_serving(sb: &ftrack_sandbox::Sandbox) {
    let r = call(
        sb,
        json!([{"action": "query", "expression": "select username from User where username is pm"}]),
    );
    assert_eq!(r[0]["data"][0]["username"], "pm", "{r}");
}

/// `user_security_roles.user.user_security_roles.user...`: a valid path of `n` segments.
fn cyclic_path(n: usize) -> String {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                "user_security_roles"
            } else {
                "user"
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The reproduction: one authenticated request from the least
/// privileged demo user with a 200,000-segment select path used to overflow
/// a thread's stack and abort the whole process.
#[test]
fn a_200000_segment_select_path_is_a_parse_error_not_a_crash() {
    let sb = demo();
    let expression = format!("select {} from User", cyclic_path(200_000));
    for strict in ["false", "true"] {
        let (status, body) = post_with(
            &sb.url(),
            "restricted",
            "demo-key-restricted",
            &[("ftrack-strict-api", strict)],
            &json!([{"action": "query", "expression": expression}]),
        );
        assert_eq!(status, if strict == "true" { 400 } else { 200 });
        let (exception, content) = error(&body);
        assert_eq!(exception, "ParseError", "{content}");
        assert!(
            content.contains("200000 segments") && content.contains("at most 32"),
            "{content}"
        );
    }
    still_serving(&sb);
}

/// Long paths in a criterion and in `order by` are refused the same way;
/// 32 segments still run.
#[test]
fn long_paths_in_criteria_and_order_by_are_refused() {
    let sb = demo();
    for expression in [
        format!("User where {}.username is pm", cyclic_path(200_000)),
        format!("User order by {}", cyclic_path(100_001)),
        format!("User where {} any ()", cyclic_path(33)),
    ] {
        let r = call_as(
            &sb,
            "restricted",
            json!([{"action": "query", "expression": expression}]),
        );
        let (exception, content) = error(&r);
        assert_eq!(exception, "ParseError", "{content}");
        assert!(content.contains("at most 32"), "{content}");
    }
    let r = call_as(
        &sb,
        "restricted",
        json!([{"action": "query", "expression": format!("select {} from User where username is restricted", cyclic_path(32))}]),
    );
    assert!(r.is_array(), "{r}");
    still_serving(&sb);
}

/// Criteria nest at most 20 SQL subqueries (SQLite refuses expression trees
/// deeper than 1000, reached at about 23): the deepest accepted ones run,
/// with the deepest parser nesting around them, and one more subquery is a
/// ValidationError naming the limit instead of a database error.
#[test]
fn the_deepest_accepted_criteria_run() {
    let sb = demo();
    // Innermost on UserSecurityRole: user.user_security_roles.user....username.
    let nested = |wraps: usize, segments: usize| {
        let mut expr = format!("user.{}.username is restricted", cyclic_path(segments - 2));
        for level in 0..wraps {
            expr = if level % 2 == 0 {
                format!("user_security_roles any ({expr})")
            } else {
                format!("user has ({expr})")
            };
        }
        expr
    };
    let query = |expr: &str| {
        call_as(
            &sb,
            "restricted",
            json!([{"action": "query", "expression": format!("select username from User where {expr}")}]),
        )
    };
    // 5 wraps + a 16-segment path: 5 + 15 = 20 subqueries; with 28 `not (`, two
    // parentheses and the `where` itself, 64 levels of nesting: both limits exactly.
    let deepest = format!(
        "{}(({}){}",
        "not (".repeat(28),
        nested(5, 16),
        ")".repeat(29)
    );
    let ok = query(&deepest);
    assert_eq!(ok[0]["data"][0]["username"], "restricted", "{ok}");
    for too_deep in [nested(7, 16), nested(1, 22)] {
        let (exception, content) = error(&query(&too_deep));
        assert_eq!(exception, "ValidationError", "{content}");
        assert!(content.contains("more than 20 subqueries"), "{content}");
    }
    // Nesting past the parser's limit is refused before any SQL.
    let (exception, content) = error(&query(&format!("{}username is pm", "not ".repeat(70))));
    assert_eq!(exception, "ParseError", "{content}");
    assert!(
        content.contains("more than 64 levels of nesting"),
        "{content}"
    );
    still_serving(&sb);
}

/// `denormalize:1` repeats every occurrence: a group with 5 members, walked
/// `memberships.group.memberships.group...`, multiplies by 5 every two
/// segments. Within the 100,000-entity cap it answers in full; past it the
/// answer is a ValidationError naming the cap, not an exhausted server.
#[test]
fn denormalized_expansion_is_capped() {
    let sb = demo();
    let mut ops = vec![
        json!({"action": "create", "entity_type": "Group", "entity_data": {"id": "g", "name": "Comp", "local": true}}),
    ];
    for user in ["admin", "pm", "artist", "restricted", "inactive"] {
        ops.push(json!({"action": "create", "entity_type": "Membership", "entity_data": {"group_id": "g", "user_id": user_id(&sb, user)}}));
    }
    assert!(call(&sb, json!(ops)).is_array());
    let path = |n: usize| {
        (0..n)
            .map(|i| if i % 2 == 0 { "memberships" } else { "group" })
            .collect::<Vec<_>>()
            .join(".")
    };
    let denormalized = |expression: String, strict: &str| {
        post_with(
            &sb.url(),
            "admin",
            "demo-key-admin",
            &[(
                "ftrack-api-options",
                &format!("denormalize:1;strict:{strict}"),
            )],
            &json!([{"action": "query", "expression": expression}]),
        )
    };
    // 5 + 5 + 25 + 25 + ... + 5^7: about 2 x 97,656 = 195,000 entities. Too many.
    for strict in ["0", "1"] {
        let (status, body) = denormalized(format!("select {} from Group", path(14)), strict);
        assert_eq!(status, if strict == "1" { 400 } else { 200 }, "{body}");
        let (exception, content) = error(&body);
        assert_eq!(exception, "ValidationError", "{content}");
        assert!(content.contains("more than 100000 entities"), "{content}");
    }
    // 5^6 = 15,625 memberships at the deepest level: within the cap, in full.
    let (status, body) = denormalized(format!("select {} from Group", path(12)), "1");
    assert_eq!(status, 200);
    let mut level = vec![&body[0]["data"][0]];
    for step in 0..12 {
        let name = if step % 2 == 0 {
            "memberships"
        } else {
            "group"
        };
        level = level
            .iter()
            .flat_map(|e| match &e[name] {
                serde_json::Value::Array(items) => items.iter().collect::<Vec<_>>(),
                other => vec![other],
            })
            .collect();
    }
    assert_eq!(level.len(), 15_625);
    // Normalised, the same path is one group and five memberships.
    let r = call(
        &sb,
        json!([{"action": "query", "expression": format!("select {} from Group", path(32))}]),
    );
    assert_eq!(
        r[0]["data"][0]["memberships"].as_array().map(Vec::len),
        Some(5),
        "{r}"
    );
    still_serving(&sb);
}

/// `or` and `and` chains are translated as balanced trees: 2,000 alternatives
/// stay far from SQLite's expression-depth limit.
#[test]
fn long_or_chains_run() {
    let sb = demo();
    let alternatives = (0..2000)
        .map(|i| format!("username is u{i}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let r = call(
        &sb,
        json!([{"action": "query", "expression": format!("select username from User where {alternatives} or username is pm")}]),
    );
    assert_eq!(r[0]["data"][0]["username"], "pm", "{r}");
}

/// A batch holds a database connection while it runs, so it runs under a
/// deadline (`Limits::batch_timeout`): past it the batch is interrupted,
/// rolled back, and answered with a ValidationError naming the limit.
#[test]
fn batches_run_under_a_deadline() {
    use ftrack_sandbox::{Limits, Sandbox, SandboxConfig};
    use std::time::Duration;
    let start = |limit: Duration| {
        Sandbox::start(SandboxConfig {
            record_requests: false,
            limits: Limits {
                batch_timeout: limit,
                ..Limits::default()
            },
            ..SandboxConfig::demo()
        })
        .expect("start sandbox")
    };
    // A deadline already passed when the batch starts: refused before any
    // operation, in both modes.
    let none = start(Duration::ZERO);
    for strict in ["false", "true"] {
        let (status, body) = post_with(
            &none.url(),
            "admin",
            "demo-key-admin",
            &[("ftrack-strict-api", strict)],
            &json!([{"action": "query_server_information"}]),
        );
        assert_eq!(status, if strict == "true" { 400 } else { 200 });
        let (exception, content) = error(&body);
        assert_eq!(exception, "ValidationError");
        assert!(
            content.contains("The batch ran longer than 0 ms (the limit)"),
            "{content}"
        );
    }
    // 50,000 creates take seconds; with a 100 ms deadline the batch stops
    // early and applies nothing, and the server goes on serving.
    let sb = start(Duration::from_millis(100));
    let creates: Vec<_> = (0..50_000)
        .map(|i| json!({"action": "create", "entity_type": "User", "entity_data": {"username": format!("bulk{i:05}")}}))
        .collect();
    let (exception, content) = error(&call(&sb, json!(creates)));
    assert_eq!(exception, "ValidationError", "{content}");
    assert!(
        content.contains("longer than 100 ms (the limit) and was rolled back"),
        "{content}"
    );
    assert_eq!(data(&sb, "select id from User").len(), 5);
    still_serving(&sb);
}

/// An `in` list binds one SQL value per item: 30,000 run, and past 32,000
/// the query is refused by name instead of failing inside SQLite ("too many
/// SQL variables", which came back as a ServerError).
#[test]
fn in_lists_are_bounded_by_the_sql_value_limit() {
    let sb = demo();
    let list = |n: usize| {
        (0..n)
            .map(|i| format!("u{i}"))
            .chain(["pm".to_string()])
            .collect::<Vec<_>>()
            .join(", ")
    };
    let r = call_as(
        &sb,
        "restricted",
        json!([{"action": "query", "expression": format!("select username from User where username in ({})", list(30_000))}]),
    );
    assert_eq!(r[0]["data"][0]["username"], "pm", "{r}");
    let (exception, content) = error(&call_as(
        &sb,
        "restricted",
        json!([{"action": "query", "expression": format!("User where username in ({})", list(40_000))}]),
    ));
    assert_eq!(exception, "ValidationError", "{content}");
    assert!(
        content.contains("needs 40001 values in one SQL statement; at most 32000"),
        "{content}"
    );
    still_serving(&sb);
}
