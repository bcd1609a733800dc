//! Every function of `include/ftrack.h` has a wrapper in each binding: the C++
//! header (`bindings/cpp/ftrack.hpp`), the Python ctypes module
//! (`bindings/python/ftrack_ctypes.py`) and the C# binding
//! (`bindings/csharp/Ftrack.cs`). A function added to the C ABI without its
//! wrappers fails here, naming the function and the binding.
//!
//! The only exceptions are listed in [`SUPERSEDED`]: a binding may offer a
//! capability through a newer function instead (the C++ wrapper reads large
//! results through library-owned strings, not caller buffers); the test then
//! requires the newer function in that binding. And [`AWAITING_WRAPPER`]
//! lists new functions whose wrapper in one binding is still to come.

#[path = "ffi_support/mod.rs"]
mod support;

use std::collections::BTreeSet;

/// The function names the header declares (`ftrack_...(` at the start of a
/// declaration's name).
fn header_functions() -> BTreeSet<String> {
    let header = std::fs::read_to_string(support::include_dir().join("ftrack.h")).unwrap();
    let mut out = BTreeSet::new();
    for line in header.lines() {
        if line.trim_start().starts_with("//") || line.trim_start().starts_with('*') {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("ftrack_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            if tail[end..].starts_with('(') {
                out.insert(tail[..end].to_owned());
            }
            rest = &tail[end..];
        }
    }
    out
}

/// Whether `text` uses `name` as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !word(before) && !word(after)
    })
}

/// (binding, function it does not wrap, the function it wraps instead).
const SUPERSEDED: [(&str, &str, &str); 3] = [
    (
        "bindings/cpp/ftrack.hpp",
        "ftrack_session_pending_json",
        "ftrack_session_pending_json_string",
    ),
    (
        "bindings/cpp/ftrack.hpp",
        "ftrack_session_call",
        "ftrack_session_call_string",
    ),
    (
        "bindings/cpp/ftrack.hpp",
        "ftrack_last_call_reply",
        "ftrack_session_call_string",
    ),
];

/// Functions new in the C ABI whose wrapper in one binding is still to be
/// written by that binding's owner: (binding, function). Listed, they may be
/// missing; once wrapped, the entry must go (the test fails on a stale one),
/// so the list only shrinks. Empty: every binding wraps every function.
const AWAITING_WRAPPER: [(&str, &str); 0] = [];

#[test]
fn every_header_function_has_a_wrapper_in_every_binding() {
    let functions = header_functions();
    assert!(
        functions.len() > 50 && functions.contains("ftrack_session_create"),
        "the header parser found {} functions: {functions:?}",
        functions.len()
    );
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for binding in [
        "bindings/cpp/ftrack.hpp",
        "bindings/python/ftrack_ctypes.py",
        "bindings/csharp/Ftrack.cs",
    ] {
        let text = std::fs::read_to_string(support::root().join(binding)).unwrap();
        for f in &functions {
            let wrapped = match SUPERSEDED
                .iter()
                .find(|(b, old, _)| *b == binding && old == f)
            {
                Some((_, _, newer)) => mentions(&text, newer),
                None => mentions(&text, f),
            };
            let awaited = AWAITING_WRAPPER.contains(&(binding, f.as_str()));
            if !wrapped && !awaited {
                missing.push(format!("{f} in {binding}"));
            }
            if wrapped && awaited {
                stale.push(format!("{f} in {binding}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "header functions without a wrapper (add one to each binding):\n  {}",
        missing.join("\n  ")
    );
    assert!(
        stale.is_empty(),
        "wrapped now, so remove them from AWAITING_WRAPPER:\n  {}",
        stale.join("\n  ")
    );
    for (binding, f) in AWAITING_WRAPPER {
        assert!(
            functions.contains(f),
            "AWAITING_WRAPPER names {f} ({binding}), which ftrack.h does not declare"
        );
    }
}

#[test]
fn the_check_notices_a_missing_wrapper() {
    assert!(mentions("x = ftrack_session_get(s)", "ftrack_session_get"));
    assert!(!mentions(
        "x = ftrack_session_get_auto_populate(s)",
        "ftrack_session_get"
    ));
}
