//! Roles as code through the built binary against a sandbox per test: export,
//! plan, apply with groups, copy-roles, offboard, bad input, and the CLI itself
//! (help, completions, man page, credentials).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ftrack::{Entity, SchemaCache, Session, SessionOptions};
use ftrack_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_ftrack-roles");

fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::demo()).expect("sandbox starts")
}

/// The binary, with the admin's credentials in the environment (the documented
/// way: no key on the command line).
fn cmd(sb: &Sandbox) -> Command {
    let mut c = Command::new(BIN);
    c.env("FTRACK_SERVER", sb.url())
        .env("FTRACK_API_USER", "admin")
        .env("FTRACK_API_KEY", "demo-key-admin")
        .env_remove("FTRACK_APIKEY")
        .env(
            "FTRACK_API_SCHEMA_CACHE_PATH",
            std::env::temp_dir().join("ftrack-roles-cli-tests"),
        );
    c
}

fn run(sb: &Sandbox, args: &[&str]) -> Output {
    cmd(sb).args(args).output().expect("run ftrack-roles")
}

fn run_stdin(sb: &Sandbox, args: &[&str], input: &str) -> Output {
    let mut child = cmd(sb)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ftrack-roles");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn code(o: &Output) -> Option<i32> {
    o.status.code()
}
fn show(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        code(o),
        stdout(o),
        stderr(o)
    )
}
fn ok(o: &Output) {
    assert_eq!(code(o), Some(0), "{}", show(o));
}

/// Batches received by the sandbox that are not pure reads.
fn writes(sb: &Sandbox) -> Vec<Value> {
    sb.received()
        .into_iter()
        .filter(|b| {
            b.as_array().is_some_and(|ops| {
                ops.iter().any(|op| {
                    !matches!(
                        op["action"].as_str(),
                        Some("query" | "query_schemas" | "query_server_information")
                    )
                })
            })
        })
        .collect()
}

fn actions(batch: &Value) -> Vec<String> {
    batch
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["action"].as_str().unwrap().to_owned())
        .collect()
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn export_json(sb: &Sandbox) -> Value {
    let o = run(sb, &["export"]);
    ok(&o);
    serde_json::from_str(&stdout(&o)).expect("export is JSON")
}

/// A session of the test itself, to set up groups and memberships.
fn admin(sb: &Sandbox) -> Session {
    Session::with_options(
        SessionOptions::new()
            .server_url(sb.url())
            .api_key(sb.admin_key())
            .api_user(sb.admin_user())
            .schema_cache(SchemaCache::Disabled),
    )
    .expect("session")
}

fn obj(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn create_group(s: &Session, name: &str, parent: Option<&Entity>) -> Entity {
    let mut data = json!({"name": name, "local": false});
    if let Some(p) = parent {
        data["parent_id"] = json!(p.id());
    }
    s.create("Group", obj(data)).expect("create group")
}

fn add_member(s: &Session, group: &Entity, username: &str) -> Entity {
    let user = s
        .query_one(&format!(
            "select id from User where username is \"{username}\""
        ))
        .unwrap();
    s.create(
        "Membership",
        obj(json!({"group_id": group.id(), "user_id": user.id()})),
    )
    .expect("create membership")
}

/// The audit as `user,role,all_open,projects` lines, for comparisons.
fn audit(sb: &Sandbox) -> Vec<String> {
    let o = run(sb, &["audit", "--format", "csv"]);
    ok(&o);
    stdout(&o)
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{} {} {} {}", f[0], f[2], f[4], f[5])
        })
        .collect()
}

#[test]
fn export_then_plan_shows_no_change_in_every_format() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "toml", "yaml"] {
        let o = run(&sb, &["export", "--format", format]);
        ok(&o);
        let file = write(dir.path(), &format!("roles.{format}"), &stdout(&o));
        let o = run(&sb, &["plan", file.to_str().unwrap()]);
        ok(&o);
        assert_eq!(stdout(&o), "", "{format}: {}", show(&o));
        assert!(stderr(&o).contains("in sync, no change"), "{}", show(&o));
        let o = run(&sb, &["apply", file.to_str().unwrap()]);
        ok(&o);
        assert!(stderr(&o).contains("nothing to change"), "{}", show(&o));
    }
    assert!(writes(&sb).is_empty(), "an unedited export changes nothing");
    // The export has every user, in the issue's shape.
    let v = export_json(&sb);
    assert_eq!(
        v["users"]["pm"],
        json!([{"role": "Project Manager", "projects": ["alpha", "gamma"]}])
    );
    assert_eq!(
        v["users"]["artist"],
        json!([{"role": "User", "all_open_projects": true}])
    );
    assert_eq!(v["users"].as_object().unwrap().len(), 5);
    // --users limits the export; an unknown name is an error naming it.
    let o = run(&sb, &["export", "--users", "pm,artist"]);
    ok(&o);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v["users"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["artist", "pm"]
    );
    let o = run(&sb, &["export", "--users", "pm,nobody"]);
    assert_eq!(code(&o), Some(5), "{}", show(&o));
    assert!(stderr(&o).contains("\"nobody\""), "{}", show(&o));
}

#[test]
fn an_edited_file_plans_exactly_its_edits_then_applies_in_one_batch() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let mut v = export_json(&sb);
    // The edits: a role added with a private project, a role dropped, a grant
    // revoked and one added, a role swapped, all open projects turned off.
    v["users"]["artist"] = json!([
        {"role": "User"},
        {"role": "Project Manager", "projects": ["Project Gamma"]}
    ]);
    v["users"]["restricted"] = json!([]);
    v["users"]["pm"] = json!([{"role": "Project Manager", "projects": ["gamma", "beta"]}]);
    v["users"]["inactive"] = json!([{"role": "Restricted User", "all_open_projects": true}]);
    let file = write(dir.path(), "roles.json", &v.to_string());
    let file = file.to_str().unwrap();

    let o = run(&sb, &["plan", file]);
    assert_eq!(code(&o), Some(9), "{}", show(&o));
    assert_eq!(
        lines(&stdout(&o)),
        [
            "~ artist: User all_open_projects true -> false",
            "+ artist: Project Manager (projects: gamma)",
            "~ inactive: User -> Restricted User",
            "~ pm: Project Manager projects +beta -alpha",
            "- restricted: Restricted User",
        ],
        "{}",
        show(&o)
    );
    assert!(writes(&sb).is_empty(), "plan only reads");

    // JSON and CSV say the same.
    let o = run(&sb, &["plan", file, "--format", "json"]);
    assert_eq!(code(&o), Some(9));
    let changes: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(changes.as_array().unwrap().len(), 5);
    assert_eq!(changes[2]["change"], "replace");
    assert_eq!(changes[2]["new_role"], "Restricted User");
    let o = run(&sb, &["plan", file, "--format", "csv"]);
    assert_eq!(code(&o), Some(9));
    assert!(
        stdout(&o).contains("\npm,scope,Project Manager,,,beta,alpha\n"),
        "{}",
        show(&o)
    );

    let o = run(&sb, &["apply", file]);
    ok(&o);
    let batches = writes(&sb);
    assert_eq!(batches.len(), 1, "one batch: {batches:#?}");
    assert_eq!(
        actions(&batches[0]),
        [
            // artist: all open projects off, then the new role and its grant
            "revoke_user_security_role_project",
            "add_user_security_role",
            "grant_user_security_role_project",
            // inactive: one replace, the scope carries over
            "update_user_security_role",
            // pm: revoke alpha, grant beta
            "revoke_user_security_role_project",
            "grant_user_security_role_project",
            // restricted
            "remove_user_security_role",
        ]
    );
    assert_eq!(batches[0][0]["all_open_projects"], true);
    assert!(batches[0][0].get("project_id").is_none());
    assert!(
        stderr(&o).contains("committed 7 operations in 1 request"),
        "{}",
        show(&o)
    );

    let o = run(&sb, &["plan", file]);
    ok(&o);
    assert_eq!(stdout(&o), "", "{}", show(&o));
    assert_eq!(
        audit(&sb),
        [
            "admin Administrator true ",
            "artist Project Manager false gamma",
            "artist User false ",
            "inactive Restricted User true ",
            "pm Project Manager false beta;gamma",
            "restricted  false ",
        ]
    );
}

#[test]
fn plan_reads_in_a_constant_number_of_requests() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let one = write(
        dir.path(),
        "one.json",
        r#"{"users": {"pm": [{"role": "Project Manager", "projects": ["beta"]}]}}"#,
    );
    let all = write(
        dir.path(),
        "all.json",
        &json!({"users": {
            "admin": [], "pm": [{"role": "User", "projects": ["beta"]}], "artist": [],
            "restricted": [{"role": "Project Manager", "projects": ["alpha", "gamma"]}],
            "inactive": []}})
        .to_string(),
    );
    let count = |file: &Path| {
        let before = sb.request_count();
        let o = run(&sb, &["plan", file.to_str().unwrap()]);
        assert_eq!(code(&o), Some(9), "{}", show(&o));
        sb.request_count() - before
    };
    let (a, b) = (count(&one), count(&all));
    assert_eq!(a, b, "one user or five: the same reads");
    // Connecting (server information, schemas) + roles + projects + users.
    let before = sb.request_count();
    ok(&run(&sb, &["roles"]));
    let connect = sb.request_count() - before - 1;
    assert_eq!(a - connect, 3);
}

#[test]
fn groups_with_nested_membership_give_their_members_roles() {
    let sb = sandbox();
    let s = admin(&sb);
    let lighting = create_group(&s, "Lighting", None);
    let senior = create_group(&s, "Senior", Some(&lighting));
    let comp = create_group(&s, "Comp", None);
    // Two groups named Senior: one must be named by its path.
    let comp_senior = create_group(&s, "Senior", Some(&comp));
    add_member(&s, &senior, "artist"); // in Lighting through its sub-group
    add_member(&s, &lighting, "restricted");
    add_member(&s, &comp_senior, "inactive");
    s.commit().unwrap();
    let before = writes(&sb).len();

    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "groups.yaml",
        "\
users:
  artist:
    - role: User
      projects: [gamma]
groups:
  Lighting:
    - role: User
      all_open_projects: true
  Comp/Senior:
    - role: Project Manager
      projects: [beta]
",
    );
    let file = file.to_str().unwrap();
    let o = run(&sb, &["plan", file]);
    assert_eq!(code(&o), Some(9), "{}", show(&o));
    assert_eq!(
        lines(&stdout(&o)),
        [
            // artist's own entry merges with Lighting's: all open + gamma
            "~ artist: User projects +gamma",
            // inactive, in Comp/Senior: User (all open) swapped for Project Manager
            // (beta): a replace and two scope fixes cost what a remove and an add
            // with its grant cost, and a swap is a replace.
            "~ inactive: User -> Project Manager, all_open_projects true -> false, projects +beta",
            // restricted, in Lighting: Restricted User (beta) gives way to User
            "- restricted: Restricted User",
            "+ restricted: User (all open projects)",
        ],
        "{}",
        show(&o)
    );
    // pm and admin are in no listed group and not under `users`: untouched.
    assert!(!stdout(&o).contains("pm:") && !stdout(&o).contains("admin:"));

    let o = run(&sb, &["apply", file]);
    ok(&o);
    assert_eq!(writes(&sb).len(), before + 1, "one batch");
    ok(&run(&sb, &["plan", file]));

    // "Senior" alone is ambiguous; an unknown group lists the groups.
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"groups": {"Senior": [], "Lightning": []}}"#,
    );
    let o = run(&sb, &["plan", bad.to_str().unwrap()]);
    assert_eq!(code(&o), Some(5), "{}", show(&o));
    let err = stderr(&o);
    assert!(
        err.contains("groups.Senior: several groups are named \"Senior\"")
            && err.contains("Comp/Senior, Lighting/Senior"),
        "{err}"
    );
    assert!(
        err.contains("groups.Lightning: there is no group \"Lightning\""),
        "{err}"
    );
}

#[test]
fn leaving_a_group_drops_its_role_only_for_users_still_managed() {
    let sb = sandbox();
    let s = admin(&sb);
    let comp = create_group(&s, "Comp", None);
    let m_artist = add_member(&s, &comp, "artist");
    let m_pm = add_member(&s, &comp, "pm");
    s.commit().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "roles.toml",
        r#"
[[users.artist]]
role = "User"
all_open_projects = true

[[groups.Comp]]
role = "Project Manager"
projects = ["beta"]
"#,
    );
    let file = file.to_str().unwrap();
    ok(&run(&sb, &["apply", file]));
    let a = audit(&sb);
    assert!(
        a.contains(&"artist Project Manager false beta".to_owned()),
        "{a:?}"
    );
    assert!(
        a.contains(&"pm Project Manager false beta".to_owned()),
        "{a:?}"
    );

    // Both leave Comp. artist is still listed under `users`, pm is no longer managed.
    s.delete(&m_artist).unwrap();
    s.delete(&m_pm).unwrap();
    s.commit().unwrap();
    let o = run(&sb, &["plan", file]);
    assert_eq!(code(&o), Some(9), "{}", show(&o));
    assert_eq!(lines(&stdout(&o)), ["- artist: Project Manager"]);
    ok(&run(&sb, &["apply", file]));
    let a = audit(&sb);
    assert!(
        !a.iter().any(|l| l.starts_with("artist Project Manager")),
        "{a:?}"
    );
    assert!(
        a.contains(&"pm Project Manager false beta".to_owned()),
        "{a:?}"
    );
}

#[test]
fn bad_names_are_all_reported_with_their_keys_and_nothing_is_sent() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "roles.json",
        r#"{
  "users": {
    "artist": [{"role": "Supervisor"}, {"role": "User", "projects": ["alpha", "delta"]}],
    "bob": [],
    "Jane Doe": []
  },
  "groups": {"Lighting": [{"role": "User"}]}
}"#,
    );
    let file = file.to_str().unwrap();
    for command in ["plan", "apply"] {
        let o = run(&sb, &[command, file]);
        assert_eq!(code(&o), Some(5), "{}", show(&o));
        let err = stderr(&o);
        for expected in [
            "roles.json: users.artist[0].role: there is no security role \"Supervisor\"",
            "roles.json: users.artist[1].projects[1]: there is no project \"delta\"",
            "roles.json: users.bob: there is no user \"bob\"",
            "roles.json: users.\"Jane Doe\": there is no user \"Jane Doe\"",
            "roles.json: groups.Lighting: there is no group \"Lighting\"",
            "nothing was sent: 5 problems",
        ] {
            assert!(err.contains(expected), "{expected}\n{err}");
        }
        assert!(stdout(&o).is_empty());
    }
    // A role that cannot be given to a user: refused (6).
    let api = write(
        dir.path(),
        "api.json",
        r#"{"users": {"artist": [{"role": "API"}]}}"#,
    );
    let o = run(&sb, &["apply", api.to_str().unwrap()]);
    assert_eq!(code(&o), Some(6), "{}", show(&o));
    assert!(
        stderr(&o).contains("users.artist[0].role: the security role \"API\" has type API"),
        "{}",
        show(&o)
    );
    assert!(writes(&sb).is_empty(), "nothing sent");
}

#[test]
fn malformed_files_name_the_line_and_nothing_is_sent() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "broken.json",
            "{\n  \"users\": {\n    \"artist\": [\n      {\"role\": \"User\",}\n    ]\n  }\n}\n",
            &["broken.json: line 4,"],
        ),
        (
            "broken.toml",
            "[users]\nartist = [\n  { role = \"User\" \n]\n",
            &["broken.toml: line 4:"],
        ),
        (
            "broken.yaml",
            "users:\n  artist:\n    - role: User\n   - role: Restricted User\n",
            &["broken.yaml: line 4,"],
        ),
        (
            "key.json",
            "{\"users\": {\n  \"artist\": [{\"role\": \"User\", \"all_open\": true}]\n}}",
            &["key.json: line 2,", "unknown field `all_open`"],
        ),
        (
            "key.yaml",
            "users: {}\ngroup:\n  Lighting: []\n",
            &["key.yaml: line 2,", "unknown field `group`"],
        ),
        (
            "key.toml",
            "[[users.artist]]\nrole = \"User\"\nprojets = [\"beta\"]\n",
            &["key.toml: line 3:", "unknown field `projets`"],
        ),
        (
            "dup.json",
            "{\"users\": {\"artist\": [],\n \"artist\": []}}",
            &["dup.json: line 2,", "duplicate name \"artist\""],
        ),
        ("roles.txt", "{}", &["roles.txt: cannot tell the format"]),
    ];
    // Files are checked before connecting: not one request reaches the server.
    let requests = sb.request_count();
    for (name, text, expected) in cases {
        let file = write(dir.path(), name, text);
        let o = run(&sb, &["apply", file.to_str().unwrap()]);
        assert_eq!(code(&o), Some(2), "{name}: {}", show(&o));
        let err = stderr(&o);
        for e in *expected {
            assert!(err.contains(e), "{name}: expected {e:?}\n{err}");
        }
    }
    let o = run(&sb, &["plan", "/nonexistent/roles.json"]);
    assert_eq!(code(&o), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("/nonexistent/roles.json: cannot read the file"));
    assert_eq!(
        sb.request_count(),
        requests,
        "nothing sent, not even a read"
    );
}

#[test]
fn stdin_is_read_as_json() {
    let sb = sandbox();
    let o = run_stdin(
        &sb,
        &["plan", "-"],
        r#"{"users": {"restricted": [{"role": "Restricted User", "projects": ["beta", "alpha"]}]}}"#,
    );
    assert_eq!(code(&o), Some(9), "{}", show(&o));
    assert_eq!(
        lines(&stdout(&o)),
        ["~ restricted: Restricted User projects +alpha"]
    );
    let o = run_stdin(&sb, &["plan", "-"], "{\"users\": 3}");
    assert_eq!(code(&o), Some(2), "{}", show(&o));
    assert!(stderr(&o).contains("<stdin>: line 1,"), "{}", show(&o));
}

#[test]
fn copy_roles_gives_exactly_the_template_roles_in_one_batch() {
    let sb = sandbox();
    let o = run(&sb, &["copy-roles", "pm", "artist"]);
    ok(&o);
    let batches = writes(&sb);
    assert_eq!(batches.len(), 1, "{batches:#?}");
    // artist's User (all open) swapped for Project Manager: one replace, then the
    // scope fixed (all open off, alpha and gamma granted).
    assert_eq!(
        actions(&batches[0]),
        [
            "update_user_security_role",
            "revoke_user_security_role_project",
            "grant_user_security_role_project",
            "grant_user_security_role_project",
        ]
    );
    let a = audit(&sb);
    assert!(
        a.contains(&"artist Project Manager false alpha;gamma".to_owned()),
        "{a:?}"
    );
    assert!(!a.iter().any(|l| l.starts_with("artist User")), "{a:?}");
    // Again: nothing left to do.
    let o = run(&sb, &["copy-roles", "pm", "artist"]);
    ok(&o);
    assert!(stderr(&o).contains("already in effect"), "{}", show(&o));
    assert_eq!(writes(&sb).len(), 1);
    // An unknown user: not found, nothing sent.
    let o = run(&sb, &["copy-roles", "pm", "nobody"]);
    assert_eq!(code(&o), Some(5), "{}", show(&o));
    assert_eq!(writes(&sb).len(), 1);
}

#[test]
fn offboard_removes_every_role_in_one_batch_and_dry_run_sends_nothing() {
    let sb = sandbox();
    // artist gets a second role first, so offboarding removes two.
    ok(&run(&sb, &["assign", "artist", "Project Manager"]));
    let before = writes(&sb).len();

    let o = run(&sb, &["offboard", "artist", "--dry-run"]);
    ok(&o);
    assert_eq!(writes(&sb).len(), before, "dry run sends nothing");
    let batch: Value = serde_json::from_str(&stdout(&o)).expect("the batch");
    assert_eq!(
        actions(&batch),
        ["remove_user_security_role", "remove_user_security_role"]
    );
    assert!(stderr(&o).contains("nothing was sent"));

    // apply and copy-roles respect --dry-run too.
    let o = run(&sb, &["--dry-run", "copy-roles", "restricted", "artist"]);
    ok(&o);
    let o2 = run_stdin(
        &sb,
        &["apply", "-", "--dry-run"],
        r#"{"users": {"artist": []}}"#,
    );
    ok(&o2);
    let batch: Value = serde_json::from_str(&stdout(&o2)).expect("the batch");
    assert_eq!(batch.as_array().unwrap().len(), 2);
    assert_eq!(writes(&sb).len(), before, "dry runs send nothing");

    // artist is in a group: offboarding says so (it does not touch groups).
    let s = admin(&sb);
    let lighting = create_group(&s, "Lighting", None);
    add_member(&s, &lighting, "artist");
    s.commit().unwrap();
    let before = writes(&sb).len();
    let o = run(&sb, &["offboard", "artist"]);
    ok(&o);
    assert_eq!(writes(&sb).len(), before + 1, "one batch");
    assert!(
        stderr(&o).contains("note: artist is still a member of Lighting"),
        "{}",
        show(&o)
    );
    assert!(audit(&sb).contains(&"artist  false ".to_owned()));
    // Offboarding someone without roles changes nothing.
    let o = run(&sb, &["offboard", "artist"]);
    ok(&o);
    assert_eq!(writes(&sb).len(), before + 1);
}

#[test]
fn help_documents_every_command_the_file_and_exit_code_9() {
    let o = Command::new(BIN).arg("--help").output().unwrap();
    ok(&o);
    let out = stdout(&o);
    for word in [
        "export",
        "plan",
        "apply",
        "copy-roles",
        "offboard",
        "completions",
        "9  plan: changes needed",
        "cli/README.md",
        "--api-key-file",
    ] {
        assert!(out.contains(word), "{word} in --help:\n{out}");
    }
    let o = Command::new(BIN).args(["plan", "--help"]).output().unwrap();
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.contains("\"all_open_projects\"") && out.contains("managed"),
        "{out}"
    );
    for command in ["apply", "copy-roles", "offboard", "export", "audit", "user"] {
        let o = Command::new(BIN)
            .args([command, "--help"])
            .output()
            .unwrap();
        ok(&o);
        assert!(stdout(&o).contains("Usage: ftrack-roles"), "{command}");
    }
    // Typos get a suggestion and the usage exit code.
    let o = Command::new(BIN).args(["aply", "x.json"]).output().unwrap();
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("similar subcommand") && stderr(&o).contains("apply"));
    let o = Command::new(BIN)
        .args(["audit", "--fromat", "csv"])
        .output()
        .unwrap();
    assert_eq!(code(&o), Some(2));
    assert!(stderr(&o).contains("--format"), "{}", stderr(&o));
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let o = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        ok(&o);
        let out = stdout(&o);
        assert!(
            out.contains("ftrack-roles") && out.contains("copy-roles"),
            "{shell}"
        );
        assert!(out.contains("--api-key-file"), "{shell}");
    }
    let o = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(code(&o), Some(2));
    let o = Command::new(BIN).arg("man").output().unwrap();
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.starts_with(".ie") || out.contains(".TH ftrack-roles"),
        "{out}"
    );
    assert!(out.contains("EXIT CODES"), "{out}");
}

#[test]
fn api_key_file_and_the_command_line_key_warning() {
    let sb = sandbox();
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "key", "demo-key-admin\n");
    let o = Command::new(BIN)
        .args(["--server", &sb.url(), "--api-user", "admin"])
        .args(["--api-key-file", key.to_str().unwrap(), "roles"])
        .env_remove("FTRACK_API_KEY")
        .env_remove("FTRACK_APIKEY")
        .output()
        .unwrap();
    ok(&o);
    assert!(!stderr(&o).contains("warning"), "{}", show(&o));

    // A key on the command line works, with a warning; a wrong one is never echoed.
    let o = Command::new(BIN)
        .args(["roles", "--server", &sb.url(), "--api-user", "admin"])
        .args(["--api-key", "demo-key-admin"])
        .env_remove("FTRACK_API_KEY")
        .output()
        .unwrap();
    ok(&o);
    assert!(
        stderr(&o).contains("warning: --api-key on the command line"),
        "{}",
        show(&o)
    );
    let secret = "s3cret-wrong-key-XYZ";
    let o = Command::new(BIN)
        .args(["audit", "--server", &sb.url(), "--api-user", "admin"])
        .args(["--api-key", secret])
        .output()
        .unwrap();
    assert_eq!(code(&o), Some(3), "{}", show(&o));
    assert!(!show(&o).contains(secret), "{}", show(&o));
    // The key from the environment is not shown by --help either.
    let o = Command::new(BIN)
        .arg("--help")
        .env("FTRACK_API_KEY", secret)
        .output()
        .unwrap();
    assert!(!show(&o).contains(secret));
    // A missing key file: configuration error, path named.
    let o = Command::new(BIN)
        .args([
            "roles",
            "--server",
            &sb.url(),
            "--api-key-file",
            "/nonexistent/key",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), Some(3), "{}", show(&o));
    assert!(stderr(&o).contains("/nonexistent/key"));
}

#[test]
fn listing_commands_take_every_format_and_pipes_get_no_progress() {
    let sb = sandbox();
    let o = run(
        &sb,
        &[
            "roles", "--format", "csv", "+", "user", "pm", "--format", "json",
        ],
    );
    ok(&o);
    let out = stdout(&o);
    assert!(
        out.starts_with("name,type\n") && out.contains("\nAdministrator,PROJECT\n"),
        "{out}"
    );
    let json_part = &out[out.find('[').unwrap()..];
    let v: Value = serde_json::from_str(json_part).unwrap();
    assert_eq!(v[0]["projects"], json!(["alpha", "gamma"]));
    let o = run(&sb, &["roles", "--format", "json"]);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
    // stderr is a pipe here: no progress bar drawing (no carriage returns, no
    // escape sequences), only the headings.
    let o = run(&sb, &["audit"]);
    let err = stderr(&o);
    assert!(!err.contains('\r') && !err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn a_terminal_gets_a_progress_line_for_paged_reads() {
    // `script` (util-linux) runs the binary on a pseudo-terminal.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("FTRACK_REQUIRE_ALL").is_none(),
            "`script` (util-linux) is needed for this test"
        );
        eprintln!("skipped: no `script` command");
        return;
    }
    let sb = sandbox();
    let o = Command::new("script")
        .args(["-qec", &format!("{BIN} audit"), "/dev/null"])
        .env("FTRACK_SERVER", sb.url())
        .env("FTRACK_API_USER", "admin")
        .env("FTRACK_API_KEY", "demo-key-admin")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    ok(&o);
    let tty = stdout(&o); // everything the terminal showed
    assert!(tty.contains("reading users and their roles"), "{tty:?}");
    assert!(tty.contains("== Audit: 5 users"), "{tty:?}");
    // The same read in a pipe: no progress line at all.
    let o = run(&sb, &["audit"]);
    ok(&o);
    assert!(!stderr(&o).contains("reading users"), "{}", show(&o));
}

#[test]
fn non_ascii_names_round_trip_and_align() {
    let sb = sandbox();
    let s = admin(&sb);
    for name in ["山田.太郎", "zoë"] {
        s.create(
            "User",
            obj(json!({"username": name, "is_active": true, "first_name": "x", "last_name": "y"})),
        )
        .expect("create user");
    }
    s.commit().unwrap();
    ok(&run(
        &sb,
        &[
            "assign",
            "山田.太郎",
            "Project Manager",
            "+",
            "grant",
            "山田.太郎",
            "Project Manager",
            "beta",
        ],
    ));
    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "toml", "yaml"] {
        let o = run(&sb, &["export", "--format", format]);
        ok(&o);
        assert!(stdout(&o).contains("山田.太郎"), "{format}: {}", stdout(&o));
        let file = write(dir.path(), &format!("roles.{format}"), &stdout(&o));
        let o = run(&sb, &["plan", file.to_str().unwrap()]);
        assert_eq!(code(&o), Some(0), "{format}: {}", show(&o));
    }
    let o = run(&sb, &["audit"]);
    ok(&o);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    // ACTIVE starts at the same display column on every line.
    let display = |s: &str| unicode_width::UnicodeWidthStr::width(s);
    // The second cell starts after the first run of two spaces past the indent.
    let col = |l: &str| {
        let start = 2 + l[2..].find("  ").unwrap();
        let rest = &l[start..];
        display(&l[..start + rest.len() - rest.trim_start().len()])
    };
    let header = col(lines[0]);
    assert_eq!(
        header,
        display(&lines[0][..lines[0].find("ACTIVE").unwrap()])
    );
    for l in lines.iter().skip(2) {
        assert_eq!(col(l), header, "misaligned: {l:?}\n{out}");
    }
    assert!(out.contains("山田.太郎"), "{out}");
}

#[test]
fn apply_costs_the_plans_reads_and_one_commit_however_many_users_change() {
    let dir = tempfile::tempdir().unwrap();
    let one = write(
        dir.path(),
        "one.json",
        r#"{"users": {"pm": [{"role": "Project Manager", "projects": ["beta"]}]}}"#,
    );
    let all = write(
        dir.path(),
        "all.json",
        &json!({"users": {
            "pm": [{"role": "User", "projects": ["beta"]}], "artist": [],
            "restricted": [{"role": "Project Manager", "projects": ["alpha", "gamma"]}],
            "inactive": [{"role": "User"}]}})
        .to_string(),
    );
    let cost = |file: &Path, command: &str| {
        let sb = sandbox();
        let before = sb.request_count();
        let o = run(&sb, &[command, file.to_str().unwrap()]);
        assert!(matches!(code(&o), Some(0 | 9)), "{}", show(&o));
        sb.request_count() - before
    };
    let plan = cost(&one, "plan");
    assert_eq!(cost(&all, "plan"), plan);
    // Validation uses the role state the plan's read kept: no read per user.
    assert_eq!(cost(&one, "apply"), plan + 1);
    assert_eq!(cost(&all, "apply"), plan + 1);
}
