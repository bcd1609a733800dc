//! Shared helpers of the C-ABI and binding tests (`ffi/tests/c_*.rs`,
//! `ffi_*.rs`, `roles_c_*.rs`, `bindings_*.rs`, and the unit tests in `ffi/src/tests/`): where the built library is, how to
//! compile and run foreign programs, and how to skip (or, with
//! `FTRACK_REQUIRE_ALL=1`, fail) when a tool is missing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (`include/`, `bindings/`, `examples/`, `abi/`).
pub fn root() -> PathBuf {
    crate_dir()
        .parent()
        .expect("ffi/ has a parent")
        .to_path_buf()
}

/// This crate's directory, `ffi/` (its `tests/c/`).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `include/` of the repository.
pub fn include_dir() -> PathBuf {
    root().join("include")
}

/// Builds this crate's `libftrack.so` / `libftrack.a`, once per test process.
///
/// `cargo test` does not build the library of a package whose library is only a
/// cdylib and a staticlib (nothing a test could link), so without this the tests
/// would load whatever an earlier `cargo build` left. The nested cargo uses the
/// target directory and profile of this test executable; it returns at once when
/// the library is fresh.
fn build_library(profile_dir: &Path) {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let target_dir = profile_dir.parent().expect("target dir");
        let mut cmd = Command::new(env!("CARGO"));
        // Not the variables cargo set for this test process (CARGO_PKG_NAME,
        // CARGO_MANIFEST_DIR, ...): build scripts such as ring's declare
        // rerun-if-env-changed on them, so the nested build would rerun them and
        // rebuild ring, rustls, ureq and the core, and the next `cargo test`
        // (without them) all of it again: ~40 s each time on a debug build.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_MANIFEST_")
                || [
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "OUT_DIR",
                ]
                .contains(&name.as_str())
            {
                cmd.env_remove(&name);
            }
        }
        cmd.args(["build", "--quiet", "-p", "ftrack-ffi", "--lib"])
            .arg("--manifest-path")
            .arg(crate_dir().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => {
                cmd.arg("--release");
            }
            other => panic!("unexpected profile directory {other:?} of the test executable"),
        }
        run(
            "building libftrack (cargo build -p ftrack-ffi --lib)",
            &mut cmd,
        );
    });
}

/// The directory holding the `libftrack.so` / `libftrack.a` of this build (built
/// first, see `build_library`): next to the test executable
/// (`target/<profile>/deps`), else its parent (`target/<profile>`).
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("exe dir").to_path_buf();
    build_library(deps.parent().expect("profile dir"));
    for dir in [
        deps.clone(),
        deps.parent().expect("profile dir").to_path_buf(),
    ] {
        if dir.join("libftrack.so").exists() {
            soname_link(&dir);
            return dir;
        }
    }
    panic!(
        "libftrack.so not found next to {} or in its parent; build it with `cargo build -p ftrack-ffi`",
        exe.display()
    );
}

/// The SONAME the library is built with (ffi/build.rs): `libftrack.so.<major>`.
pub fn soname() -> String {
    format!("libftrack.so.{}", env!("CARGO_PKG_VERSION_MAJOR"))
}

/// A program linked with `-lftrack` records the SONAME, `libftrack.so.<major>`,
/// and the loader looks for that name; cargo writes only `libftrack.so`. So the
/// symlink an install would make is made beside the built library.
fn soname_link(dir: &Path) {
    let link = dir.join(soname());
    if std::fs::read_link(&link).is_ok() {
        return;
    }
    match std::os::unix::fs::symlink("libftrack.so", &link) {
        Ok(()) => {}
        // Another test process made it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("symlink {} -> libftrack.so: {e}", link.display()),
    }
}

/// The shared library cargo built.
pub fn shared_lib() -> PathBuf {
    lib_dir().join("libftrack.so")
}

/// The static library cargo built.
pub fn static_lib() -> PathBuf {
    lib_dir().join("libftrack.a")
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh scratch directory for one test's build products.
pub fn scratch(name: &str) -> PathBuf {
    let base = lib_dir()
        .parent()
        .expect("target dir")
        .join("ffi-tests")
        .join(format!(
            "{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("create scratch dir");
    base
}

/// Finds an executable on PATH.
pub fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// Whether every optional-tool test must run (`FTRACK_REQUIRE_ALL=1`, set by CI).
pub fn require_all() -> bool {
    std::env::var("FTRACK_REQUIRE_ALL").as_deref() == Ok("1")
}

/// Returns true when `tool` is available. Otherwise prints a SKIPPED line and
/// returns false, or panics with the install hint under `FTRACK_REQUIRE_ALL=1`.
pub fn need(test: &str, tool: &str, install: &str) -> bool {
    if which(tool).is_some() {
        return true;
    }
    if require_all() {
        panic!(
            "{test}: `{tool}` is not installed and FTRACK_REQUIRE_ALL=1; install it with: {install}"
        );
    }
    println!("SKIPPED {test}: `{tool}` is not installed (install it with: {install})");
    eprintln!("SKIPPED {test}: `{tool}` is not installed (install it with: {install})");
    false
}

/// Runs a command, panicking with its full output when it fails.
pub fn run(what: &str, cmd: &mut Command) -> Output {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start {cmd:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\ncommand: {cmd:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// Warnings-as-errors flags for C.
pub const C_FLAGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"];

/// How a C program links libftrack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// `-lftrack` against `libftrack.so`, with an rpath to it.
    Shared,
    /// `libftrack.a` plus the system libraries Rust's std needs.
    Static,
}

/// Compiles and links C sources (from `ffi/tests/c/`, `examples/`) into `out`.
pub fn compile_c(sources: &[&Path], out: &Path, link: Link) {
    let mut cmd = Command::new("cc");
    cmd.args(C_FLAGS).arg("-I").arg(include_dir());
    if link == Link::Static {
        cmd.arg("-DFTRACK_STATIC");
    }
    cmd.args(sources).arg("-o").arg(out);
    match link {
        Link::Shared => {
            let dir = lib_dir();
            cmd.arg("-L").arg(&dir).arg("-lftrack");
            cmd.arg(format!("-Wl,-rpath,{}", dir.display()));
        }
        Link::Static => {
            cmd.arg(static_lib());
            cmd.args([
                "-lpthread",
                "-ldl",
                "-lm",
                "-lrt",
                "-lutil",
                "-lgcc_s",
                "-lc",
            ]);
        }
    }
    run(&format!("compiling {}", out.display()), &mut cmd);
}

/// `ffi/tests/c/<name>`.
pub fn c_source(name: &str) -> PathBuf {
    crate_dir().join("tests").join("c").join(name)
}

/// Makes a foreign program load THIS build's libftrack.so. `cargo test` exports an
/// LD_LIBRARY_PATH that lists `target/<profile>` (which may hold an older, uplifted
/// copy) and that the dynamic loader searches before a program's RUNPATH; so it is
/// replaced by the directory `lib_dir()` found.
pub fn library_env(cmd: &mut Command) {
    cmd.env("LD_LIBRARY_PATH", lib_dir());
}

/// Environment for a foreign test program: this build's library (`library_env`),
/// the sandbox's URL and admin credentials.
pub fn sandbox_env(cmd: &mut Command, sandbox: &ftrack_sandbox::Sandbox) {
    library_env(cmd);
    cmd.env("FTRACK_SERVER", sandbox.url())
        .env("FTRACK_API_KEY", sandbox.admin_key())
        .env("FTRACK_API_USER", sandbox.admin_user())
        .env_remove("FTRACK_APIKEY")
        .env("FTRACK_API_SCHEMA_CACHE_PATH", scratch("schema-cache"));
}

/// Starts the demo sandbox on 127.0.0.1:0.
pub fn start_sandbox() -> ftrack_sandbox::Sandbox {
    ftrack_sandbox::Sandbox::start(ftrack_sandbox::SandboxConfig::demo())
        .expect("start the sandbox")
}

/// Prints a program's output (shown by `cargo test -- --nocapture` or on failure).
pub fn show(output: &Output) {
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
}
