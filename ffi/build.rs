//! Gives the shared library the name it is installed under, so programs linked
//! against it record the ABI version rather than a file name:
//!
//! * Linux and other ELF targets: SONAME `libftrack.so.<major>`; the installed file
//!   is `libftrack.so.<version>` with the symlinks `libftrack.so.<major>` and
//!   `libftrack.so` (`scripts/install`).
//! * macOS: install name `@rpath/libftrack.<major>.dylib`.
//! * Windows: nothing to do; cargo writes `ftrack.dll` and its import library.
//!
//! `<major>` is the major version of Cargo.toml (0 while the version is 0.x).
//! The argument reaches only the cdylib's link, never the staticlib or the tests.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
    let os = std::env::var("CARGO_CFG_TARGET_OS").expect("set by cargo");
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    match os.as_str() {
        "macos" | "ios" => {
            println!(
                "cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libftrack.{major}.dylib"
            );
        }
        "windows" => {}
        _ if family.split(',').any(|f| f == "unix") => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libftrack.so.{major}");
        }
        _ => {}
    }
    println!("cargo:rerun-if-changed=build.rs");
}
