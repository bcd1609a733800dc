//! `ftrack_session_options_set_idempotent_role_changes` from C: a tiny program,
//! compiled with the project's strict flags against `include/ftrack.h` and linked
//! to this build's `libftrack.so`, run against the sandbox. Appending a role the
//! user holds returns OK and records nothing; without the option it is refused.

#[path = "ffi_support/mod.rs"]
mod support;

use std::process::Command;

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include "ftrack.h"

static int failures = 0;

static void expect(const char *what, ftrack_status got, ftrack_status want) {
    char message[1024] = "";
    if (got != want) {
        ftrack_last_error_message(message, sizeof message, NULL);
        fprintf(stderr, "FAIL %s: %s, expected %s (%s)\n", what, ftrack_status_name(got),
                ftrack_status_name(want), message);
        failures++;
    } else {
        printf("ok   %s: %s\n", what, ftrack_status_name(got));
    }
}

/* A session from the environment (FTRACK_SERVER, ...), idempotent or not. */
static ftrack_session *open_session(bool idempotent) {
    ftrack_session_options *o = NULL;
    ftrack_session *s = NULL;
    expect("options", ftrack_session_options_create(&o), FTRACK_STATUS_OK);
    expect("set idempotent", ftrack_session_options_set_idempotent_role_changes(o, idempotent),
           FTRACK_STATUS_OK);
    expect("session", ftrack_session_create_with_options(o, &s), FTRACK_STATUS_OK);
    ftrack_session_options_destroy(o);
    if (!s) exit(2);
    return s;
}

static size_t pending(ftrack_session *s) {
    size_t n = 99;
    expect("pending count", ftrack_session_pending_count(s, &n), FTRACK_STATUS_OK);
    return n;
}

int main(void) {
    expect("NULL options", ftrack_session_options_set_idempotent_role_changes(NULL, true),
           FTRACK_STATUS_NULL_POINTER);

    ftrack_session *s = open_session(true);
    ftrack_entity *artist = NULL, *user_role = NULL, *pm_role = NULL;
    expect("find artist", ftrack_user_find(s, "artist", &artist), FTRACK_STATUS_OK);
    expect("find User", ftrack_security_role_find(s, "User", &user_role), FTRACK_STATUS_OK);
    expect("find Project Manager", ftrack_security_role_find(s, "Project Manager", &pm_role),
           FTRACK_STATUS_OK);
    /* artist holds User on all open projects: a no-op, OK, nothing recorded. */
    expect("idempotent append of a held role",
           ftrack_user_role_append(s, artist, user_role, true), FTRACK_STATUS_OK);
    expect("idempotent remove of a role not held",
           ftrack_user_role_remove(s, artist, pm_role), FTRACK_STATUS_OK);
    size_t n = pending(s);
    printf("pending after no-ops: %zu\n", n);
    if (n != 0) failures++;
    /* A real change is still recorded. */
    expect("idempotent append of a new role",
           ftrack_user_role_append(s, artist, pm_role, false), FTRACK_STATUS_OK);
    n = pending(s);
    printf("pending after a change: %zu\n", n);
    if (n != 1) failures++;
    ftrack_entity_destroy(artist);
    ftrack_entity_destroy(user_role);
    ftrack_entity_destroy(pm_role);
    ftrack_session_destroy(s);

    /* Default (strict): the same append is refused. */
    s = open_session(false);
    expect("find artist", ftrack_user_find(s, "artist", &artist), FTRACK_STATUS_OK);
    expect("find User", ftrack_security_role_find(s, "User", &user_role), FTRACK_STATUS_OK);
    expect("strict append of a held role", ftrack_user_role_append(s, artist, user_role, true),
           FTRACK_STATUS_ROLE_ALREADY_ASSIGNED);
    ftrack_entity_destroy(artist);
    ftrack_entity_destroy(user_role);
    ftrack_session_destroy(s);

    printf("%d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
"#;

#[test]
fn c_sessions_with_the_option_skip_no_op_role_changes() {
    if !support::need("roles_c_idempotent", "cc", "apt-get install -y gcc") {
        return;
    }
    let sb = support::start_sandbox();
    let dir = support::scratch("roles-idempotent");
    let source = dir.join("idempotent.c");
    std::fs::write(&source, PROGRAM).unwrap();
    let exe = dir.join("idempotent");
    support::compile_c(&[&source], &exe, support::Link::Shared);

    let mut cmd = Command::new(&exe);
    support::sandbox_env(&mut cmd, &sb);
    let out = support::run("the idempotent C program", &mut cmd);
    support::show(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("pending after no-ops: 0"), "{stdout}");
    assert!(stdout.contains("pending after a change: 1"), "{stdout}");
    assert!(stdout.contains("0 failure(s)"), "{stdout}");
    // Nothing was committed: no role action reached the server.
    let sent_role_action = sb.received().iter().any(|batch| {
        batch.as_array().into_iter().flatten().any(|op| {
            op["action"]
                .as_str()
                .is_some_and(|a| a.contains("user_security_role"))
        })
    });
    assert!(!sent_role_action);
}
