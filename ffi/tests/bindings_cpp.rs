//! The header-only C++ wrapper `bindings/cpp/ftrack.hpp`, compiled by the system
//! `c++` (g++ here) with `-Wall -Wextra -Werror -pedantic`, linked to
//! `libftrack.so`, and run against a fresh sandbox started in-process:
//!
//! * `test_ftrack.cpp` (the throwing layer) in C++17 and C++20;
//! * `test_ftrack_noexcept.cpp` (the non-throwing layer: results, iterators and
//!   `<algorithm>`, copyable entities, `std::chrono`) in C++17 and C++20, each
//!   with exceptions and with `-fno-exceptions`;
//! * with `-fno-exceptions` the throwing layer must not exist: a program that
//!   calls it must fail to compile.
//!
//! Without `c++` the tests print SKIPPED and pass, unless `FTRACK_REQUIRE_ALL=1`.

#[path = "ffi_support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn have_cxx(test: &str) -> bool {
    support::need(test, "c++", "apt-get install -y g++")
}

/// `c++ <flags> -I include -I bindings/cpp <source> -o <exe> -lftrack`.
fn compile(source: &Path, exe: &Path, flags: &[&str]) -> Command {
    let lib_dir = support::lib_dir();
    let mut cmd = Command::new("c++");
    cmd.args(["-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(flags)
        .arg("-I")
        .arg(support::include_dir())
        .arg("-I")
        .arg(support::root().join("bindings/cpp"))
        .arg(source)
        .arg("-o")
        .arg(exe)
        .arg("-L")
        .arg(&lib_dir)
        .arg("-lftrack")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()));
    cmd
}

/// Builds `bindings/cpp/<source>` with `flags` and runs it against a new sandbox.
fn build_and_run(source: &str, name: &str, flags: &[&str]) {
    let dir = support::scratch(&format!("cpp-{name}"));
    let exe = dir.join(name);
    let src = support::root().join("bindings/cpp").join(source);
    support::run(
        &format!("compiling {source} ({})", flags.join(" ")),
        &mut compile(&src, &exe, flags),
    );
    let sandbox = support::start_sandbox();
    let mut cmd = Command::new(&exe);
    support::sandbox_env(&mut cmd, &sandbox);
    let out = support::run(&format!("{source} ({})", flags.join(" ")), &mut cmd);
    support::show(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(" passed, 0 failed"),
        "{source} printed no result line: {text}"
    );
}

#[test]
fn cpp_wrapper_throwing_layer_cpp17() {
    if have_cxx("cpp_wrapper_throwing_layer_cpp17") {
        build_and_run("test_ftrack.cpp", "throwing-17", &["-std=c++17"]);
    }
}

#[test]
fn cpp_wrapper_throwing_layer_cpp20() {
    if have_cxx("cpp_wrapper_throwing_layer_cpp20") {
        build_and_run("test_ftrack.cpp", "throwing-20", &["-std=c++20"]);
    }
}

#[test]
fn cpp_wrapper_without_exceptions() {
    if !have_cxx("cpp_wrapper_without_exceptions") {
        return;
    }
    for std in ["-std=c++17", "-std=c++20"] {
        build_and_run(
            "test_ftrack_noexcept.cpp",
            &format!("noexcept{std}"),
            &[std, "-fno-exceptions", "-DEXPECT_EXCEPTIONS=0"],
        );
    }
}

#[test]
fn cpp_wrapper_non_throwing_layer_with_exceptions() {
    if !have_cxx("cpp_wrapper_non_throwing_layer_with_exceptions") {
        return;
    }
    for std in ["-std=c++17", "-std=c++20"] {
        build_and_run(
            "test_ftrack_noexcept.cpp",
            &format!("results{std}"),
            &[std, "-DEXPECT_EXCEPTIONS=1"],
        );
    }
}

/// With `-fno-exceptions` the throwing layer is absent: calling it does not
/// compile (and the same program compiles with exceptions, so the check can fail).
#[test]
fn throwing_layer_is_absent_without_exceptions() {
    if !have_cxx("throwing_layer_is_absent_without_exceptions") {
        return;
    }
    let dir = support::scratch("cpp-throwing-absent");
    let src: PathBuf = dir.join("uses_throwing_layer.cpp");
    std::fs::write(
        &src,
        "#include \"ftrack.hpp\"\n\
         int main() {\n\
         \x20   ftrack::Session session = ftrack::Session::from_environment();\n\
         \x20   return session.query(\"select id from User\").empty() ? 1 : 0;\n\
         }\n",
    )
    .unwrap();
    let exe = dir.join("uses_throwing_layer");
    support::run(
        "the throwing layer compiles with exceptions",
        &mut compile(&src, &exe, &["-std=c++17"]),
    );
    let out = compile(&src, &exe, &["-std=c++17", "-fno-exceptions"])
        .output()
        .expect("run c++");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("from_environment"),
        "with -fno-exceptions the throwing layer must not compile; c++ said:\n{stderr}"
    );
}
