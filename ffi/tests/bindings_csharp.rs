//! The P/Invoke binding `bindings/csharp/Ftrack.cs`: compiled with its test by
//! `mcs`, run by `mono` with `LD_LIBRARY_PATH` at the built `libftrack.so`, against
//! the sandbox started in-process. Without mono the test prints SKIPPED and
//! passes, unless `FTRACK_REQUIRE_ALL=1` (then it fails naming the packages).

#[path = "ffi_support/mod.rs"]
mod support;

use std::collections::BTreeSet;
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

/// Converts `INVALID_UTF8` to `InvalidUtf8` (the C# enum member names).
fn pascal(screaming: &str) -> String {
    screaming
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

/// `NAME = VALUE` pairs of `prefix`-ed enum members in C, e.g. FTRACK_STATUS_.
fn c_enum(header: &str, prefix: &str) -> BTreeSet<(String, u64)> {
    header
        .lines()
        .filter_map(|l| l.trim().strip_prefix(prefix))
        .filter_map(|rest| {
            let (name, value) = rest.split_once(" = ")?;
            let value = value.trim_end_matches(',').trim().parse().ok()?;
            Some((pascal(name), value))
        })
        .collect()
}

/// `Name = VALUE` members of the C# enum `name`.
fn cs_enum(source: &str, name: &str) -> BTreeSet<(String, u64)> {
    let start = source
        .find(&format!("enum {name} "))
        .unwrap_or_else(|| panic!("no enum {name} in Ftrack.cs"));
    let body = &source[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find('}').unwrap()];
    body.lines()
        .filter_map(|l| {
            let (n, v) = l.trim().trim_end_matches(',').split_once(" = ")?;
            Some((n.trim().to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// The C# binding declares every function of `ftrack.h` (P/Invoke, Cdecl), and
/// every status and log level with its value: adding one to the C ABI without
/// the binding fails here.
#[test]
fn csharp_binding_covers_the_whole_header() {
    let header = std::fs::read_to_string(support::include_dir().join("ftrack.h")).unwrap();
    let cs = std::fs::read_to_string(support::root().join("bindings/csharp/Ftrack.cs")).unwrap();

    let mut functions = BTreeSet::new();
    for piece in header.split("FTRACK_API").skip(1) {
        let Some((head, _)) = piece.split_once('(') else {
            continue;
        };
        if head.contains('#') {
            continue;
        }
        if let Some(name) = head.split_whitespace().last() {
            let name = name.trim_start_matches('*');
            // FTRACK_API also appears in prose (FTRACK_API_KEY) and macro definitions.
            if name.starts_with("ftrack_") {
                functions.insert(name.to_string());
            }
        }
    }
    assert!(
        functions.len() > 60,
        "found only {} functions",
        functions.len()
    );

    let mut declared = BTreeSet::new();
    let mut problems = Vec::new();
    for line in cs.lines().filter(|l| l.contains("[DllImport(")) {
        let Some(name) = line
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .find(|w| w.starts_with("ftrack_"))
        else {
            continue;
        };
        if !line.contains("CallingConvention = CallingConvention.Cdecl") {
            problems.push(format!("{name}: DllImport without CallingConvention.Cdecl"));
        }
        declared.insert(name.to_string());
    }
    for missing in functions.difference(&declared) {
        problems.push(format!("Ftrack.cs lacks {missing}"));
    }
    for extra in declared.difference(&functions) {
        problems.push(format!(
            "Ftrack.cs declares {extra}, which ftrack.h does not"
        ));
    }
    for (c_prefix, cs_name) in [
        ("FTRACK_STATUS_", "Status"),
        ("FTRACK_LOG_LEVEL_", "LogLevel"),
    ] {
        let c = c_enum(&header, c_prefix);
        assert!(!c.is_empty(), "no {c_prefix} values in ftrack.h");
        let cs = cs_enum(&cs, cs_name);
        for missing in c.difference(&cs) {
            problems.push(format!("C# {cs_name} lacks {} = {}", missing.0, missing.1));
        }
        for extra in cs.difference(&c) {
            problems.push(format!(
                "C# {cs_name} has {} = {}, not in ftrack.h",
                extra.0, extra.1
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
