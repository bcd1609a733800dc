//! Defects found by the fuzzers (`tests/decode_fuzz.rs`, `ffi/tests/c_fuzz.rs`),
//! kept as plain tests.

mod support;

use ftrack::roles::Roles;
use ftrack::{ErrorKind, Value};
use support::{admin, sandbox};

/// The C-ABI fuzzer (seed 8) set a security role's `name` to null locally, then
/// removed that role from a user who does not hold it: the refusal
/// (ROLE_NOT_ASSIGNED) came out as TYPE_MISMATCH, because building its message
/// read the name as a string and `?` replaced the refusal with that error.
#[test]
fn a_role_refusal_survives_a_role_whose_name_is_not_a_string() {
    let sb = sandbox();
    let s = admin(&sb);
    let user = s
        .create(
            "User",
            serde_json::json!({"username": "fuzz-no-role", "is_active": true})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
    s.commit().unwrap();
    let roles = Roles::new(&s);
    let role = roles.find_role("Project Manager").unwrap();
    role.set("name", Value::Null).unwrap();
    let e = roles.remove(&user, &role).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RoleNotAssigned, "{e}");
    // The message names the role by its id instead.
    assert!(e.to_string().contains(&role.id()), "{e}");
    s.rollback();
}
