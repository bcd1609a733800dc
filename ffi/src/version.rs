//! Library version: `ftrack_version_string`, `ftrack_version_number` and the
//! `FTRACK_VERSION_*` macros of `ftrack.h` (in `cbindgen.toml`, checked against
//! `Cargo.toml` by `ffi/tests/ffi_header.rs`).

use std::ffi::c_char;

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

fn number() -> u32 {
    let part = |s: &str| s.parse::<u32>().unwrap_or(0);
    part(env!("CARGO_PKG_VERSION_MAJOR")) * 1_000_000
        + part(env!("CARGO_PKG_VERSION_MINOR")) * 1_000
        + part(env!("CARGO_PKG_VERSION_PATCH"))
}

/// @brief Returns the library version as static NUL-terminated text, e.g. `"0.1.0"`
///        (never NULL, never freed).
///
/// Compare it with `FTRACK_VERSION_STRING` to detect a header/library mismatch. Thread-
/// safe; never fails.
///
/// @return the library version as static NUL-terminated text; never NULL, never to be
///         freed.
#[unsafe(no_mangle)]
pub extern "C" fn ftrack_version_string() -> *const c_char {
    ffi_boundary!(value: c"".as_ptr(), { VERSION.as_ptr().cast::<c_char>() })
}

/// @brief Returns the library version as `MAJOR * 1000000 + MINOR * 1000 + PATCH`, the
///        same formula as `FTRACK_VERSION_NUMBER`: `assert(ftrack_version_number() ==
///        FTRACK_VERSION_NUMBER);` checks that the header matches the loaded library.
///
/// Thread-safe; never fails.
///
/// @return MAJOR * 1000000 + MINOR * 1000 + PATCH of the loaded library.
#[unsafe(no_mangle)]
pub extern "C" fn ftrack_version_number() -> u32 {
    ffi_boundary!(value: 0, { number() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn number_matches_the_string() {
        let s = super::VERSION.trim_end_matches('\0');
        let parts: Vec<u32> = s
            .split(['.', '-'])
            .take(3)
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(
            super::number(),
            parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]
        );
    }

    /// The exported functions give the version of Cargo.toml, which is also the
    /// one `include/ftrack.h`'s macros state (checked by tests/ffi_header.rs).
    #[test]
    fn exported_functions_give_the_cargo_version() {
        let major: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap();
        let minor: u32 = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap();
        let patch: u32 = env!("CARGO_PKG_VERSION_PATCH").parse().unwrap();
        assert_eq!(
            super::ftrack_version_number(),
            major * 1_000_000 + minor * 1_000 + patch
        );
        let s = unsafe { std::ffi::CStr::from_ptr(super::ftrack_version_string()) };
        assert_eq!(s.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
