//! The C ABI of libftrack: the only place with `extern "C"`. Glue only: every
//! function checks its arguments, runs the core inside the panic boundary and
//! turns the result into an [`status::ftrack_status`].
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
//! * core errors convert with `?` (`From<crate::Error> for FfiError`);
//! * every exported item has `///` docs (they become the Doxygen docs of
//!   `include/ftrack.h`): what it does, ownership, NULL handling, `@return` codes,
//!   the thread rule, and a `# Safety` section.

// C names (`ftrack_session`, `ftrack_status`) are the ABI.
#![allow(non_camel_case_types)]

#[macro_use]
pub mod boundary;
pub mod entity;
pub mod entity_list;
pub mod error;
pub mod handle;
pub mod options;
pub mod roles;
pub mod session;
pub mod status;
pub mod strings;
pub mod version;
