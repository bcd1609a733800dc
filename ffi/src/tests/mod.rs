//! Tests that call the exported functions from Rust. They are unit tests of this
//! crate, not files of `tests/`, because the crate builds no rlib for an
//! integration test to link (see `Cargo.toml`); the C, C++, Python and C# tests,
//! which load the built `libftrack.so` / `libftrack.a`, are in `tests/`.

#[path = "../../tests/ffi_support/mod.rs"]
pub(crate) mod support;

#[path = "../../../tests/support/mod.rs"]
pub(crate) mod sessions;

mod events;
mod hooks;
mod roles_c_example;
mod secrets;
mod strings;
mod threads;
mod users;
