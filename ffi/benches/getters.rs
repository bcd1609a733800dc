//! Attribute reads through the C ABI, as a C program sees them.
//!
//! Builds `libftrack.so` (release), compiles `ffi/benches/getters.c` with
//! `cc -O2` against it and runs it on a sandbox: the C program calls
//! `ftrack_entity_get_string` (into a caller buffer) and `ftrack_entity_get_bool`
//! through the shared library's exported symbols, exactly the path a C, C++,
//! Python (ctypes/cffi) or C# caller takes. A C program was chosen over a Rust
//! bench that `dlopen`s the library so that nothing Rust-side (inlining, a
//! different calling sequence) can flatter the figure, and no extra dependency
//! is needed. The baseline is the core's `Entity::get_string` /
//! `Entity::get_bool` called from Rust on the same sandbox entity.
//!
//! Run: `cargo bench -p ftrack-ffi --bench getters` (`-- --quick` for fewer calls).
//! With `FTRACK_GETTERS_BASELINE_LIB=DIR` (a directory holding an earlier
//! build's `libftrack.so.0`), the same C program also runs against that library
//! in the same run, for a before/after comparison.

#[path = "../tests/ffi_support/mod.rs"]
mod ffi_support;

use std::process::Command;
use std::time::Instant;

use ftrack::{SchemaCache, Session, SessionOptions};
use ftrack_sandbox::{Sandbox, SandboxConfig, Seed, SeedData};

/// The target of issue 12: one attribute read through the C ABI.
const TARGET_NS: f64 = 60.0;

/// Median ns per call of `f` over 7 runs of `calls` calls.
fn per_call(calls: usize, mut f: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            t.elapsed().as_nanos() as f64 / calls as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let calls: usize = if quick { 200_000 } else { 2_000_000 };
    let sandbox = Sandbox::start(SandboxConfig {
        seed: Seed::Data(SeedData::synthetic(10)),
        ..SandboxConfig::demo()
    })
    .expect("start the sandbox");

    // Baseline: the core getters from Rust.
    let cache = ffi_support::scratch("getters-bench-cache");
    let session = Session::with_options(
        SessionOptions::new()
            .server_url(sandbox.url())
            .api_key(sandbox.admin_key())
            .api_user(sandbox.admin_user())
            .schema_cache(SchemaCache::Path(cache)),
    )
    .expect("session");
    let user = session
        .query_first("select username, is_active from User where username is \"user00001\"")
        .expect("query")
        .expect("user00001");
    let rust_string = per_call(calls, || {
        std::hint::black_box(user.get_string(std::hint::black_box("username")).unwrap());
    });
    let rust_bool = per_call(calls, || {
        std::hint::black_box(user.get_bool(std::hint::black_box("is_active")).unwrap());
    });

    // The C program against the built libftrack.so.
    let dir = ffi_support::scratch("getters-bench");
    let exe = dir.join("getters");
    let lib = ffi_support::lib_dir();
    let source = ffi_support::crate_dir().join("benches").join("getters.c");
    let mut cc = Command::new("cc");
    cc.args(ffi_support::C_FLAGS)
        .arg("-O2")
        .arg("-I")
        .arg(ffi_support::include_dir())
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib)
        .arg("-lftrack")
        .arg(format!("-Wl,-rpath,{}", lib.display()));
    ffi_support::run("compiling ffi/benches/getters.c", &mut cc);
    // Runs the C program against the libftrack.so in `lib` (this build's by
    // default) and returns its figure for each getter.
    let measure = |lib: Option<&std::path::Path>| -> (f64, f64) {
        let mut run = Command::new(&exe);
        run.arg(calls.to_string());
        ffi_support::sandbox_env(&mut run, &sandbox);
        if let Some(lib) = lib {
            run.env("LD_LIBRARY_PATH", lib);
        }
        let output = ffi_support::run("running the getters program", &mut run);
        let text = String::from_utf8_lossy(&output.stdout);
        let figure = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("no figure for {name} in:\n{text}"))
        };
        (
            figure("ftrack_entity_get_string"),
            figure("ftrack_entity_get_bool"),
        )
    };
    // FTRACK_GETTERS_BASELINE_LIB: a directory holding an earlier build's
    // libftrack.so.<major>, measured in the same run (the previous implementation).
    let earlier = std::env::var_os("FTRACK_GETTERS_BASELINE_LIB").map(std::path::PathBuf::from);
    let (c_string, c_bool) = measure(None);
    let before = earlier.as_deref().map(|dir| measure(Some(dir)));

    println!(
        "\n== attribute read through the C ABI (libftrack.so, cc -O2), {calls} calls x 7 runs, medians =="
    );
    for (name, ours, base_name, base, earlier) in [
        (
            "ftrack_entity_get_string (buffer)",
            c_string,
            "Entity::get_string (Rust)",
            rust_string,
            before.map(|b| b.0),
        ),
        (
            "ftrack_entity_get_bool",
            c_bool,
            "Entity::get_bool (Rust)",
            rust_bool,
            before.map(|b| b.1),
        ),
    ] {
        let verdict = if ours <= TARGET_NS { "ok" } else { "MISSED" };
        println!(
            "{name:<36} {ours:>7.1} ns/call   {base_name:<26} {base:>7.1} ns/call   ratio {:>5.2}x   (target <= {TARGET_NS} ns: {verdict})",
            ours / base
        );
        if let Some(earlier) = earlier {
            println!(
                "{:<36} {earlier:>7.1} ns/call   (FTRACK_GETTERS_BASELINE_LIB; this build is {:.2}x of it)",
                "  the same, baseline library",
                ours / earlier
            );
        }
    }
}
