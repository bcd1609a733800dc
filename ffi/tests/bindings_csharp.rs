//! The P/Invoke binding `bindings/csharp/Ftrack.cs`: compiled with its test by
//! `mcs`, run by `mono` with `LD_LIBRARY_PATH` at the built `libftrack.so`, against
//! the sandbox started in-process. Without mono the test prints SKIPPED and
//! passes, unless `FTRACK_REQUIRE_ALL=1` (then it fails naming the packages).

#[path = "ffi_support/mod.rs"]
mod support;

use std::process::Command;

const HINT: &str = "apt-get update && apt-get install -y mono-mcs mono-runtime";

#[test]
fn csharp_binding_against_sandbox() {
    let test = "csharp_binding_against_sandbox";
    if !support::need(test, "mcs", HINT) || !support::need(test, "mono", HINT) {
        return;
    }
    let dir = support::scratch("csharp-binding");
    let exe = dir.join("FtrackTest.exe");
    let src = support::root().join("bindings/csharp");
    support::run(
        "mcs",
        Command::new("mcs")
            .arg("-warnaserror+")
            .arg(format!("-out:{}", exe.display()))
            .arg(src.join("Ftrack.cs"))
            .arg(src.join("FtrackTest.cs")),
    );
    let sandbox = support::start_sandbox();
    let mut cmd = Command::new("mono");
    cmd.arg(&exe);
    support::sandbox_env(&mut cmd, &sandbox); // also points LD_LIBRARY_PATH at this build
    support::show(&support::run("C# binding test", &mut cmd));
}
