//! The Python package's event hub (`bindings/python/libftrack/event/`), from
//! the checkout: `bindings/python/test_libftrack_events.py` run by `python3`
//! with `FTRACK_LIBRARY` pointing at the built `libftrack.so`, against the
//! sandbox started in-process. Without `python3` the test prints SKIPPED and
//! passes, unless `FTRACK_REQUIRE_ALL=1`. (The installed package is tested
//! by `tests/conformance/test_libftrack_events.py`.)

#[path = "ffi_support/mod.rs"]
mod support;

use std::process::Command;

#[test]
fn python_event_hub_against_sandbox() {
    if !support::need(
        "python_event_hub_against_sandbox",
        "python3",
        "apt-get install -y python3",
    ) {
        return;
    }
    let sandbox = support::start_sandbox();
    let mut cmd = Command::new("python3");
    cmd.arg(support::root().join("bindings/python/test_libftrack_events.py"))
        .env("FTRACK_LIBRARY", support::shared_lib())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    support::sandbox_env(&mut cmd, &sandbox);
    let out = support::run("Python event hub test", &mut cmd);
    support::show(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("python event hub test passed"));
}
