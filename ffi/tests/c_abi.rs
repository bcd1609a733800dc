//! C programs under `ffi/tests/c/`, compiled by the system `cc` with
//! `-std=c11 -Wall -Wextra -Werror -pedantic` against `include/ftrack.h` and linked
//! to the `libftrack.so` / `libftrack.a` cargo built, then run: without a server
//! (argument checks, buffers, last error, version), and against the sandbox
//! started in-process (query / entity / commit flow), shared and static.
//! The header also compiles as C++ and survives a double include.
//!
//! Without `cc` / `c++` the tests print SKIPPED and pass, unless
//! `FTRACK_REQUIRE_ALL=1` (as in CI), where they fail naming what to install.

#[path = "ffi_support/mod.rs"]
mod support;

use std::process::Command;

use support::{Link, c_source, compile_c, need, run, scratch, show};

const CC_HINT: &str = "apt-get install -y gcc";
const CXX_HINT: &str = "apt-get install -y g++";

/// Runs `exe` directly, or under valgrind's memcheck (invalid accesses and
/// definite leaks fail the run).
fn command(exe: &std::path::Path, valgrind: bool) -> Command {
    if valgrind {
        let mut cmd = Command::new("valgrind");
        cmd.args([
            "-q",
            "--leak-check=full",
            "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=definite",
            "--error-exitcode=99",
        ])
        .arg(exe);
        cmd
    } else {
        Command::new(exe)
    }
}

fn offline(link: Link, valgrind: bool) {
    let dir = scratch(&format!("c-offline-{link:?}"));
    let exe = dir.join("abi_offline");
    compile_c(&[&c_source("abi_offline.c")], &exe, link);
    let mut cmd = command(&exe, valgrind);
    support::library_env(&mut cmd);
    cmd.arg(env!("CARGO_PKG_VERSION"));
    for var in [
        "FTRACK_SERVER",
        "FTRACK_API_KEY",
        "FTRACK_APIKEY",
        "FTRACK_API_USER",
    ] {
        cmd.env_remove(var);
    }
    // The login name would stand in for FTRACK_API_USER; it is not needed here.
    show(&run("abi_offline", &mut cmd));
}

#[test]
fn c_offline_checks_shared() {
    if need("c_offline_checks_shared", "cc", CC_HINT) {
        offline(Link::Shared, false);
    }
}

#[test]
fn c_offline_checks_static() {
    if need("c_offline_checks_static", "cc", CC_HINT) {
        offline(Link::Static, false);
    }
}

fn flow(link: Link, valgrind: bool) {
    let sandbox = support::start_sandbox();
    let dir = scratch(&format!("c-flow-{link:?}"));
    let exe = dir.join("abi_flow");
    compile_c(&[&c_source("abi_flow.c")], &exe, link);
    let mut cmd = command(&exe, valgrind);
    support::sandbox_env(&mut cmd, &sandbox);
    show(&run("abi_flow", &mut cmd));
}

#[test]
fn c_flow_against_sandbox_shared() {
    if need("c_flow_against_sandbox_shared", "cc", CC_HINT) {
        flow(Link::Shared, false);
    }
}

#[test]
fn c_flow_against_sandbox_static() {
    if need("c_flow_against_sandbox_static", "cc", CC_HINT) {
        flow(Link::Static, false);
    }
}

/// Both C programs under valgrind memcheck: no invalid access across the ABI and
/// no definitely-lost handle.
#[test]
fn c_programs_under_valgrind() {
    if !need(
        "c_programs_under_valgrind",
        "valgrind",
        "apt-get install -y valgrind",
    ) || !need("c_programs_under_valgrind", "cc", CC_HINT)
    {
        return;
    }
    offline(Link::Shared, true);
    flow(Link::Shared, true);
}

/// 8 threads on one session handle plus a session each, through the C ABI
/// (`abi_threads.c`): every created entity ends on the server exactly once or
/// rolled back, and every call returns a status its contract allows.
/// `FTRACK_C_STRESS_OPERATIONS` sets the operations per thread (default 1250,
/// 10,000 in all).
fn threads(valgrind: bool, per_thread: usize) {
    let sandbox = support::start_sandbox();
    let dir = scratch(&format!("c-threads-{valgrind}"));
    let exe = dir.join("abi_threads");
    compile_c(&[&c_source("abi_threads.c")], &exe, Link::Shared);
    let mut cmd = command(&exe, valgrind);
    support::sandbox_env(&mut cmd, &sandbox);
    cmd.arg(per_thread.to_string());
    let out = run("abi_threads", &mut cmd);
    show(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(", 0 failures"), "{text}");
}

#[test]
fn c_threads_share_a_session() {
    if need("c_threads_share_a_session", "cc", CC_HINT) {
        let n = std::env::var("FTRACK_C_STRESS_OPERATIONS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1250);
        threads(false, n);
    }
}

/// The same under valgrind memcheck (fewer operations: valgrind runs one thread
/// at a time).
#[test]
fn c_threads_under_valgrind() {
    if !need(
        "c_threads_under_valgrind",
        "valgrind",
        "apt-get install -y valgrind",
    ) || !need("c_threads_under_valgrind", "cc", CC_HINT)
    {
        return;
    }
    threads(true, 40);
}

#[test]
fn header_double_include_links() {
    if !need("header_double_include_links", "cc", CC_HINT) {
        return;
    }
    let dir = scratch("c-double-include");
    let exe = dir.join("double_include");
    compile_c(
        &[
            &c_source("double_include_a.c"),
            &c_source("double_include_b.c"),
        ],
        &exe,
        Link::Shared,
    );
    let mut cmd = Command::new(&exe);
    support::library_env(&mut cmd);
    run("double_include", &mut cmd);
}

#[test]
fn header_compiles_as_cpp() {
    if !need("header_compiles_as_cpp", "c++", CXX_HINT) {
        return;
    }
    let dir = scratch("cpp-syntax");
    let tu = dir.join("header.cpp");
    std::fs::write(
        &tu,
        "#include \"ftrack.h\"\n#include \"ftrack.h\"\n\
         static_assert(FTRACK_STATUS_OK == 0, \"ok is 0\");\n\
         int main() { ftrack_status s = FTRACK_STATUS_NOT_FOUND; return s == 401 ? 0 : 1; }\n",
    )
    .unwrap();
    for std in ["-std=c++11", "-std=c++17"] {
        run(
            "c++ -fsyntax-only",
            Command::new("c++")
                .args([
                    std,
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-pedantic",
                    "-fsyntax-only",
                ])
                .arg("-I")
                .arg(support::include_dir())
                .arg(&tu),
        );
    }
}
