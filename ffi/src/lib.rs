//! The C ABI of libftrack (`libftrack.so`, `libftrack.a`, `include/ftrack.h`): the
//! only crate with `extern "C"`. Glue only: every function checks its arguments,
//! runs the core inside the panic boundary and turns the result into an
//! [`status::ftrack_status`].
//!
//! This is its own crate (`ftrack-ffi`, library name `ftrack` so the products keep
//! their names) on top of the `ftrack` core crate, so the compiler enforces that
//! the C layer uses nothing but the core's public Rust API.
//!
//! Conventions (every file here follows them; `roles.rs` too):
//! * one file per handle type (`session.rs`, `options.rs`, `entity.rs`,
//!   `entity_list.rs`) plus glue: `boundary.rs` (the `ffi_boundary!` macro that wraps
//!   EVERY exported body), `handle.rs` (borrow / out_handle / into_handle /
//!   destroy_handle), `strings.rs` (str_arg / json_arg / out_buffer), `error.rs`
//!   (`FfiError`, the thread-local last error), `status.rs` (the status enum and
//!   THE `ErrorKind` → status mapping), `version.rs`;
//! * every fallible function returns `ftrack_status`; outputs come last: `*out`
//!   handles are set to NULL first (`out_handle`), scalars to zero (`out_value`),
//!   strings go through `(buffer, buffer_len, out_len)` (`out_buffer`, checked
//!   before any work);
//! * core errors convert with `?` (`From<ftrack::Error> for FfiError`);
//! * every exported item has `///` docs (they become the Doxygen docs of
//!   `include/ftrack.h`, written for C readers, with no Rust names): `@brief`,
//!   ownership, NULL handling, a `@param` for every parameter (what a valid
//!   pointer is), `@return` codes and the thread rule. Checked by
//!   `tests/ffi_header.rs` and by Doxygen with warnings as errors (`scripts/docs`);
//! * `const` pointers for handles a function only reads.
//!
//! # Adding functions
//!
//! 1. Add a module below (as `roles.rs` was) and write each function like the
//!    ones in `session.rs`:
//!
//! ```ignore
//! /// @brief Lists security roles, optionally of one type.
//! ///
//! /// ... (ownership, NULL handling)
//! ///
//! /// @param session the session handle.
//! /// @param role_type ... or NULL for all.
//! /// @param out receives a new list handle, freed with ftrack_entity_list_destroy(); NULL on failure.
//! /// @return `FTRACK_STATUS_OK`, ...
//! ///
//! /// Thread-safe.
//! #[unsafe(no_mangle)]
//! pub unsafe extern "C" fn ftrack_security_roles(
//!     session: *mut ftrack_session,
//!     role_type: *const c_char,
//!     out: *mut *mut ftrack_entity_list,
//! ) -> ftrack_status {
//!     ffi_boundary!({
//!         let out = unsafe { out_handle(out, "out")? };             // *out = NULL first
//!         let handle = unsafe { borrow(session.cast_const(), "session")? };
//!         let role_type = unsafe { opt_str_arg(role_type, "type")? }; // NULL = all
//!         let user = unsafe { entity_arg(user.cast_const(), "user")? }; // for entity args
//!         let roles = ftrack::roles::security_roles(&handle.session, role_type)?; // core Error -> status
//!         *out = new_list(roles, handle.secret());                 // pass the key on for redaction
//!         Ok(())
//!     })
//! }
//! ```
//!
//! 2. Errors: return core errors with `?`; [`status::status_for_kind`] maps every
//!    `ErrorKind` (the 5xx role statuses already exist). For glue-level failures use
//!    `FfiError::invalid(..)`, `FfiError::null(..)` or `FfiError::new(status, ..)`.
//!    To add a status: a variant with an explicit value in its range in `status.rs`,
//!    its name in `ftrack_status::name`, `ALL`, the `ErrorKind` arm, then the
//!    bindings' status lists (C++ uses the header; Python `Status`; C# `Status`).
//! 3. Regenerate and record the ABI: `FTRACK_UPDATE_HEADER=1 cargo test -p
//!    ftrack-ffi --test ffi_header`, then update `abi/exported-symbols.txt` (sorted;
//!    see `tests/ffi_symbols.rs`). Both are checked by tests.
//! 4. Test from C under `ffi/tests/c/` driven by a `ffi/tests/c_*.rs` (see
//!    `c_abi.rs` and `ffi/tests/ffi_support/mod.rs`: `compile_c`, `start_sandbox`,
//!    `sandbox_env`); calls from Rust go in `src/tests/`.

#![warn(missing_docs)]
// C names (`ftrack_session`, `ftrack_status`) are the ABI.
#![allow(non_camel_case_types)]
// The exported functions are called from C, not Rust (this crate builds no rlib).
// Their docs are written for C readers and become ftrack.h's Doxygen: each
// pointer's contract is in its `@param` and in the header's conventions, not in a
// Rust `# Safety` section.
#![allow(clippy::missing_safety_doc)]

#[macro_use]
pub mod boundary;
pub mod entity;
pub mod entity_list;
pub mod error;
pub mod events;
pub mod handle;
pub mod hooks;
pub mod options;
pub mod roles;
pub mod session;
pub mod session_more;
pub mod status;
pub mod string;
pub mod strings;
pub mod version;

#[cfg(test)]
mod tests;
