//! The C-ABI call-sequence fuzzer, `ffi/tests/c/abi_fuzz.c` (issue 11): compiled by
//! the system `cc` against `include/ftrack.h` and `libftrack.so`, then run against
//! the sandbox started in-process. It makes random calls with live and NULL
//! handles (never destroyed ones: that is undefined behaviour by contract), NULL
//! pointers, invalid UTF-8, tiny and zero buffers, wrong entity types and
//! sessions, and destroys interleaved with use; every status must be one the
//! header documents for the function, never PANIC, POISONED or INTERNAL, and
//! string outputs must keep the buffer contract.
//!
//! The bulk runs offline (no network: options, status names, last error,
//! entity and list accessors of entities queried once, local edits, the pending
//! batch), a share against the sandbox (queries, auto-populate, roles API, raw
//! calls, commits, sessions created and destroyed).
//!
//! Sizes, from the environment:
//! - `FTRACK_FUZZ_CALLS`: offline calls (default 1,000,000);
//! - `FTRACK_FUZZ_ONLINE_CALLS`: calls against the sandbox (default 10,000);
//! - `FTRACK_FUZZ_VALGRIND_CALLS` / `FTRACK_FUZZ_VALGRIND_ONLINE_CALLS`: the
//!   run under valgrind memcheck (defaults 20,000 / 300);
//! - `FTRACK_FUZZ_SEED`: the random sequence (printed; replays a failure).
//!
//! Longer runs, e.g. a hundred million calls on a release build:
//! `FTRACK_FUZZ_CALLS=100000000 cargo test --release -p ftrack-ffi --test c_fuzz -- --nocapture`.
//!
//! Without `cc` (or `valgrind` for the memcheck run) the tests print SKIPPED and
//! pass, unless `FTRACK_REQUIRE_ALL=1` (as in CI).

#[path = "ffi_support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Instant;

use support::{Link, c_source, compile_c, need, run, scratch};

const CC_HINT: &str = "apt-get install -y gcc";

fn env_or(name: &str, default: u64) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| v.parse::<u64>().is_ok())
        .unwrap_or_else(|| default.to_string())
}

/// Compiles the fuzzer and runs it (optionally under valgrind) with `calls`
/// offline and `online` sandbox calls; returns its report lines.
fn fuzz(calls: &str, online: &str, valgrind: bool) -> String {
    let sandbox = support::start_sandbox();
    let dir = scratch(if valgrind {
        "c-fuzz-valgrind"
    } else {
        "c-fuzz"
    });
    let exe = dir.join("abi_fuzz");
    compile_c(&[&c_source("abi_fuzz.c")], &exe, Link::Shared);
    let mut cmd = if valgrind {
        let mut c = Command::new("valgrind");
        c.args([
            "-q",
            "--leak-check=full",
            "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=definite",
            "--error-exitcode=99",
        ])
        .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    support::sandbox_env(&mut cmd, &sandbox);
    cmd.env("FTRACK_FUZZ_CALLS", calls)
        .env("FTRACK_FUZZ_ONLINE_CALLS", online)
        .env("FTRACK_FUZZ_DIR", &dir)
        .env("FTRACK_FUZZ_EXACT", if valgrind { "1" } else { "0" });
    if let Ok(seed) = std::env::var("FTRACK_FUZZ_SEED") {
        cmd.env("FTRACK_FUZZ_SEED", seed);
    }
    let out = run("abi_fuzz", &mut cmd);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn c_abi_call_sequences_return_documented_statuses() {
    if !need(
        "c_abi_call_sequences_return_documented_statuses",
        "cc",
        CC_HINT,
    ) {
        return;
    }
    let started = Instant::now();
    let calls = env_or("FTRACK_FUZZ_CALLS", 1_000_000);
    let online = env_or("FTRACK_FUZZ_ONLINE_CALLS", 10_000);
    let report = fuzz(&calls, &online, false);
    eprint!("{report}");
    eprintln!(
        "c_fuzz: {calls} offline + {online} sandbox calls, 0 crashes, 0 undocumented \
         statuses, in {:.1} s (debug library unless --release)",
        started.elapsed().as_secs_f64()
    );
}

/// A smaller share under valgrind memcheck: no invalid read or write across the
/// ABI (buffers are allocated at their exact size), no definitely-lost handle.
#[test]
fn c_abi_fuzzer_under_valgrind() {
    if !need(
        "c_abi_fuzzer_under_valgrind",
        "valgrind",
        "apt-get install -y valgrind",
    ) || !need("c_abi_fuzzer_under_valgrind", "cc", CC_HINT)
    {
        return;
    }
    let started = Instant::now();
    let calls = env_or("FTRACK_FUZZ_VALGRIND_CALLS", 20_000);
    let online = env_or("FTRACK_FUZZ_VALGRIND_ONLINE_CALLS", 300);
    let report = fuzz(&calls, &online, true);
    eprint!("{report}");
    eprintln!(
        "c_fuzz under valgrind: {calls} offline + {online} sandbox calls, 0 memcheck \
         errors, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
