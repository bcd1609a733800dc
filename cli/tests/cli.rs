//! The built `ftrack-roles` binary against a sandbox started by each test.

use std::process::{Command, Output};

use ftrack_sandbox::{Sandbox, SandboxConfig};

const BIN: &str = env!("CARGO_BIN_EXE_ftrack-roles");

fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::demo()).expect("sandbox starts")
}

/// Runs the binary with explicit credentials (no FTRACK_* from the environment).
fn run_as(sb: &Sandbox, user: &str, args: &[&str]) -> Output {
    let key = format!("demo-key-{user}");
    let url = sb.url();
    let mut all = vec!["--server", &url, "--api-user", user, "--api-key", &key];
    all.extend_from_slice(args);
    Command::new(BIN)
        .args(&all)
        .env_remove("FTRACK_SERVER")
        .env_remove("FTRACK_API_KEY")
        .env_remove("FTRACK_API_USER")
        .env(
            "FTRACK_API_SCHEMA_CACHE_PATH",
            std::env::temp_dir().join("ftrack-roles-cli-tests"),
        )
        .output()
        .expect("run ftrack-roles")
}

fn run(sb: &Sandbox, args: &[&str]) -> Output {
    run_as(sb, "admin", args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// Batches sent to the sandbox that carry a security-role action.
fn role_batches(sb: &Sandbox) -> Vec<serde_json::Value> {
    sb.received()
        .into_iter()
        .filter(|b| {
            b.as_array().is_some_and(|ops| {
                ops.iter().any(|op| {
                    op["action"]
                        .as_str()
                        .is_some_and(|a| a.contains("user_security_role"))
                })
            })
        })
        .collect()
}

#[test]
fn audit_as_table() {
    let sb = sandbox();
    let o = run(&sb, &["audit"]);
    ok(&o);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("USER") && lines[0].contains("GRANTED PROJECTS"),
        "{out}"
    );
    assert!(lines[1].trim_start().starts_with("----"), "{out}");
    let pm = lines
        .iter()
        .find(|l| l.trim_start().starts_with("pm "))
        .unwrap();
    assert!(
        pm.contains("Project Manager") && pm.contains("alpha, gamma"),
        "{out}"
    );
    // Columns are aligned: ROLE starts at the same offset on every line.
    let col = lines[0].find("ROLE").unwrap();
    for l in &lines[2..] {
        assert!(l[..col].ends_with("  "), "misaligned: {l:?}\n{out}");
    }
    assert!(stderr(&o).contains("== Audit: 5 users, 5 role assignments =="));
}

#[test]
fn audit_as_csv() {
    let sb = sandbox();
    let o = run(&sb, &["audit", "--format", "csv"]);
    ok(&o);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "username,active,role,role_type,all_open_projects,projects"
    );
    assert!(
        lines.contains(&"pm,true,Project Manager,PROJECT,false,alpha;gamma"),
        "{out}"
    );
    assert!(
        lines.contains(&"inactive,false,User,PROJECT,true,"),
        "{out}"
    );
    assert_eq!(lines.len(), 6, "header + 5 users:\n{out}");
}

#[test]
fn audit_as_json() {
    let sb = sandbox();
    let o = run(&sb, &["audit", "--format=json"]);
    ok(&o);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("stdout is JSON");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let restricted = rows.iter().find(|r| r["username"] == "restricted").unwrap();
    assert_eq!(restricted["role"], "Restricted User");
    assert_eq!(restricted["all_open_projects"], false);
    assert_eq!(restricted["projects"], serde_json::json!(["beta"]));
    assert_eq!(restricted["active"], true);
}

#[test]
fn roles_and_user_commands() {
    let sb = sandbox();
    let o = run(&sb, &["roles", "--type", "API", "+", "user", "pm"]);
    ok(&o);
    let out = stdout(&o);
    assert!(out.contains("API"), "{out}");
    assert!(!out.contains("Administrator"), "{out}");
    assert!(
        out.contains("alpha (Project Alpha), gamma (Project Gamma)"),
        "{out}"
    );
}

const CHAIN: &[&str] = &[
    "audit",
    "+",
    "assign",
    "artist",
    "Project Manager",
    "+",
    "grant",
    "artist",
    "Project Manager",
    "gamma",
    "+",
    "replace",
    "restricted",
    "Restricted User",
    "User",
    "+",
    "revoke",
    "pm",
    "Project Manager",
    "alpha",
    "+",
    "commit",
    "+",
    "audit",
    "--format",
    "csv",
];

#[test]
fn a_chained_invocation_commits_in_one_request() {
    let sb = sandbox();
    let o = run(&sb, CHAIN);
    ok(&o);
    let batches = role_batches(&sb);
    assert_eq!(batches.len(), 1, "{batches:#?}");
    let actions: Vec<_> = batches[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "add_user_security_role",
            "grant_user_security_role_project",
            "update_user_security_role",
            "revoke_user_security_role_project"
        ]
    );
    assert!(
        stderr(&o).contains("committed 4 operations in 1 request"),
        "{}",
        stderr(&o)
    );
    let out = stdout(&o);
    assert!(
        out.contains("artist,true,Project Manager,PROJECT,false,gamma"),
        "{out}"
    );
    assert!(
        out.contains("restricted,true,User,PROJECT,false,beta"),
        "{out}"
    );
    assert!(
        out.contains("pm,true,Project Manager,PROJECT,false,gamma"),
        "{out}"
    );
}

#[test]
fn changes_left_pending_at_the_end_are_committed() {
    let sb = sandbox();
    let o = run(
        &sb,
        &["assign", "artist", "Project Manager", "--all-open-projects"],
    );
    ok(&o);
    assert_eq!(role_batches(&sb).len(), 1);
    let o = run(&sb, &["user", "artist"]);
    assert!(stdout(&o).contains("Project Manager"), "{}", stdout(&o));
}

#[test]
fn dry_run_prints_the_batch_and_sends_no_write() {
    let sb = sandbox();
    let o = run(
        &sb,
        &[
            "--dry-run",
            "assign",
            "artist",
            "Project Manager",
            "+",
            "grant",
            "artist",
            "Project Manager",
            "Project Gamma",
        ],
    );
    ok(&o);
    assert!(role_batches(&sb).is_empty(), "no role action sent");
    for batch in sb.received() {
        for op in batch.as_array().unwrap() {
            let a = op["action"].as_str().unwrap();
            assert!(
                ["query", "query_schemas", "query_server_information"].contains(&a),
                "only reads are sent, got {a}"
            );
        }
    }
    let batch: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("the batch as JSON");
    let ops = batch.as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["action"], "add_user_security_role");
    assert_eq!(ops[1]["action"], "grant_user_security_role_project");
    assert!(stderr(&o).contains("nothing was sent"));
    let o = run(&sb, &["user", "artist"]);
    assert!(!stdout(&o).contains("Project Manager"));
}

#[test]
fn a_bad_role_name_exits_non_zero_naming_it_and_sends_nothing() {
    let sb = sandbox();
    let o = run(
        &sb,
        &[
            "assign",
            "artist",
            "Project Manager",
            "+",
            "assign",
            "artist",
            "Supervisor",
        ],
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("\"Supervisor\""), "{err}");
    assert!(err.contains("nothing was committed"), "{err}");
    assert!(role_batches(&sb).is_empty());
}

#[test]
fn validation_refusals_and_permission_denied_have_their_own_exit_codes() {
    let sb = sandbox();
    let o = run(&sb, &["grant", "pm", "Project Manager", "alpha"]);
    assert_eq!(o.status.code(), Some(6));
    assert!(stderr(&o).contains("already granted"), "{}", stderr(&o));
    // --idempotent: the same no-op is skipped, exit 0, nothing sent.
    let o = run(
        &sb,
        &["--idempotent", "grant", "pm", "Project Manager", "alpha"],
    );
    ok(&o);
    assert!(stderr(&o).contains("skipped"));
    assert!(role_batches(&sb).is_empty());

    let o = run_as(&sb, "restricted", &["assign", "artist", "Project Manager"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("PermissionError"), "{}", stderr(&o));

    let o = run_as(&sb, "admin", &["--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(BIN)
        .args([
            "--server",
            &sb.url(),
            "--api-user",
            "admin",
            "--api-key",
            "wrong",
            "audit",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

#[test]
fn credentials_come_from_the_environment_too() {
    let sb = sandbox();
    let o = Command::new(BIN)
        .arg("audit")
        .env("FTRACK_SERVER", sb.url())
        .env("FTRACK_API_USER", "admin")
        .env("FTRACK_API_KEY", "demo-key-admin")
        .output()
        .unwrap();
    ok(&o);
    assert!(stdout(&o).contains("Administrator"));
}

#[test]
fn help_documents_commands_and_exit_codes() {
    let o = Command::new(BIN).arg("--help").output().unwrap();
    ok(&o);
    let out = stdout(&o);
    for word in [
        "assign",
        "replace",
        "revoke",
        "--dry-run",
        "keeps the changes queued",
        "--sandbox",
        "EXIT CODES",
        "  7  permission denied",
    ] {
        assert!(out.contains(word), "{word} in help");
    }
}

#[test]
fn the_sandbox_demo_walkthrough() {
    let mut args = vec!["--sandbox"];
    args.extend_from_slice(CHAIN);
    let o = Command::new(BIN).args(&args).output().unwrap();
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("Sandbox: demo studio at http://127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("committed 4 operations in 1 request"), "{err}");
    assert!(err.contains("== Audit after the commit"), "{err}");
}

#[test]
fn dry_run_keeps_changes_queued_across_commit_and_prints_one_batch() {
    let sb = sandbox();
    let o = run(
        &sb,
        &[
            "--dry-run",
            "assign",
            "artist",
            "Project Manager",
            "+",
            "commit",
            // Valid only if the append above still counts after `commit`.
            "+",
            "grant",
            "artist",
            "Project Manager",
            "gamma",
            "+",
            "commit",
            "+",
            "revoke",
            "pm",
            "Project Manager",
            "alpha",
        ],
    );
    ok(&o);
    assert!(role_batches(&sb).is_empty(), "nothing sent");
    // One batch on stdout, with every change of the chain, in order.
    let batch: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON batch");
    let actions: Vec<&str> = batch
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "add_user_security_role",
            "grant_user_security_role_project",
            "revoke_user_security_role_project"
        ]
    );
    let err = stderr(&o);
    assert_eq!(err.matches("stay queued").count(), 2, "{err}");
    assert!(err.contains("nothing was sent"), "{err}");

    // And a change that conflicts with one queued before a dry-run commit is refused.
    let o = run(
        &sb,
        &[
            "--dry-run",
            "assign",
            "artist",
            "Project Manager",
            "+",
            "commit",
            "+",
            "assign",
            "artist",
            "Project Manager",
        ],
    );
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("already holds"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "no batch printed on failure");
    assert!(role_batches(&sb).is_empty());
}

#[test]
fn a_chain_looks_up_each_name_once_and_validates_without_extra_requests() {
    let sb = sandbox();
    // What connecting costs, plus one request: `roles` lists the roles.
    ok(&run(&sb, &["roles"]));
    let connect = sb.request_count() - 1;
    let before = sb.request_count();
    ok(&run(
        &sb,
        &[
            "assign",
            "artist",
            "Project Manager",
            "+",
            "grant",
            "artist",
            "Project Manager",
            "gamma",
            "+",
            "replace",
            "restricted",
            "Restricted User",
            "User",
            "+",
            "revoke",
            "pm",
            "Project Manager",
            "alpha",
            "+",
            "grant",
            "pm",
            "Project Manager",
            "beta",
        ],
    ));
    // 1 role list + 3 users + 3 projects + 3 reads of a user's roles + 1 commit.
    assert_eq!(sb.request_count() - before - connect, 11);
}
