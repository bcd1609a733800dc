//! The ctypes binding `bindings/python/ftrack_ctypes.py`, run by `python3` with
//! `FTRACK_LIBRARY` pointing at the built `libftrack.so`, against the sandbox
//! started in-process. Without `python3` the test prints SKIPPED and passes,
//! unless `FTRACK_REQUIRE_ALL=1`.

#[path = "ffi_support/mod.rs"]
mod support;

use std::process::Command;

#[test]
fn python_ctypes_binding_against_sandbox() {
    if !support::need(
        "python_ctypes_binding_against_sandbox",
        "python3",
        "apt-get install -y python3",
    ) {
        return;
    }
    let sandbox = support::start_sandbox();
    let mut cmd = Command::new("python3");
    cmd.arg(support::root().join("bindings/python/test_ftrack_ctypes.py"))
        .env("FTRACK_LIBRARY", support::shared_lib())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    support::sandbox_env(&mut cmd, &sandbox);
    support::show(&support::run("Python binding test", &mut cmd));
}
