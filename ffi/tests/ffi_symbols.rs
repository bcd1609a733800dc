//! The shared library exports exactly the functions listed in
//! `abi/exported-symbols.txt` (all `ftrack_`-prefixed), and `include/ftrack.h`
//! declares exactly those. An intentional ABI change updates the list:
//!
//! ```sh
//! nm -D --defined-only target/debug/libftrack.so | awk '$2=="T"{print $3}' | sort > abi/exported-symbols.txt
//! ```

#[path = "ffi_support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::process::Command;

fn expected() -> BTreeSet<String> {
    let text = std::fs::read_to_string(support::root().join("abi/exported-symbols.txt"))
        .expect("abi/exported-symbols.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn shared_library_exports_exactly_the_listed_functions() {
    if !support::need("ffi_symbols", "nm", "apt-get install -y binutils") {
        return;
    }
    let lib = support::shared_lib();
    let out = support::run(
        "nm -D",
        Command::new("nm").arg("-D").arg("--defined-only").arg(&lib),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut exported = BTreeSet::new();
    let mut other = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (kind, name) = match fields.as_slice() {
            [_, kind, name] => (*kind, *name),
            [kind, name] => (*kind, *name),
            _ => continue,
        };
        if kind == "T" {
            exported.insert(name.to_owned());
        } else {
            other.push(line.to_owned());
        }
    }
    let expected = expected();
    assert!(
        expected.iter().all(|s| s.starts_with("ftrack_")),
        "the list may only hold ftrack_ functions"
    );
    let missing: Vec<_> = expected.difference(&exported).collect();
    let extra: Vec<_> = exported.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "exported functions differ from abi/exported-symbols.txt ({}):\n  missing: {missing:?}\n  \
         unexpected: {extra:?}",
        lib.display()
    );
    assert!(
        other.is_empty(),
        "unexpected non-function dynamic symbols: {other:?}"
    );
}

#[test]
fn header_declares_exactly_the_listed_functions() {
    let header = std::fs::read_to_string(support::include_dir().join("ftrack.h")).unwrap();
    let mut declared = BTreeSet::new();
    // "FTRACK_API <return type> <name>(", possibly across lines; the macro's own
    // definitions (preprocessor lines) contain '#' before any '('.
    for piece in header.split("FTRACK_API").skip(1) {
        let Some((head, _)) = piece.split_once('(') else {
            continue;
        };
        if head.contains('#') {
            continue;
        }
        if let Some(name) = head.split_whitespace().last() {
            let name = name.trim_start_matches('*');
            if name.starts_with("ftrack_") {
                declared.insert(name.to_owned());
            }
        }
    }
    assert_eq!(
        declared,
        expected(),
        "ftrack.h declarations vs abi/exported-symbols.txt"
    );
}

/// The shared library names itself `libftrack.so.<major>` (ffi/build.rs), so a
/// program linked against it records the ABI version, not the file it found.
#[test]
fn shared_library_has_the_soname() {
    if !support::need("ffi_soname", "readelf", "apt-get install -y binutils") {
        return;
    }
    let out = support::run(
        "readelf -d",
        Command::new("readelf").arg("-d").arg(support::shared_lib()),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let sonames: Vec<&str> = text.lines().filter(|l| l.contains("(SONAME)")).collect();
    let expected = format!("[{}]", support::soname());
    assert!(
        sonames.len() == 1 && sonames[0].contains(&expected),
        "expected one SONAME {expected}, found {sonames:?}"
    );
}
