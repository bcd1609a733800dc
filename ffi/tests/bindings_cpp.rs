//! The header-only C++17 wrapper `bindings/cpp/ftrack.hpp`: compiled with
//! `c++ -std=c++17 -Wall -Wextra -Werror -pedantic`, linked to `libftrack.so`, run
//! against the sandbox started in-process. Without `c++` the test prints SKIPPED
//! and passes, unless `FTRACK_REQUIRE_ALL=1`.

#[path = "ffi_support/mod.rs"]
mod support;

use std::process::Command;

#[test]
fn cpp_wrapper_against_sandbox() {
    if !support::need(
        "cpp_wrapper_against_sandbox",
        "c++",
        "apt-get install -y g++",
    ) {
        return;
    }
    let dir = support::scratch("cpp-binding");
    let exe = dir.join("test_ftrack_cpp");
    let lib_dir = support::lib_dir();
    support::run(
        "compiling bindings/cpp/test_ftrack.cpp",
        Command::new("c++")
            .args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg("-I")
            .arg(support::include_dir())
            .arg("-I")
            .arg(support::root().join("bindings/cpp"))
            .arg(support::root().join("bindings/cpp/test_ftrack.cpp"))
            .arg("-o")
            .arg(&exe)
            .arg("-L")
            .arg(&lib_dir)
            .arg("-lftrack")
            .arg(format!("-Wl,-rpath,{}", lib_dir.display())),
    );
    let sandbox = support::start_sandbox();
    let mut cmd = Command::new(&exe);
    support::sandbox_env(&mut cmd, &sandbox);
    support::show(&support::run("C++ binding test", &mut cmd));
}
