//! Opaque handles: how a Rust value becomes a `ftrack_x *` and back.
//!
//! Every handle struct (`ftrack_session`, `ftrack_entity`, ...) is a plain Rust
//! struct that is NOT `#[repr(C)]`, so cbindgen declares it opaque
//! (`typedef struct ftrack_x ftrack_x;`). It embeds a [`HandleHeader`] (poison flag
//! and the API key to redact) and implements [`Handle`].
//!
//! * create: `*out = into_handle(value)` (a `Box`), after `out_handle(out, "out")?`
//!   has set `*out = NULL` at the start of the call;
//! * use: `let x = unsafe { borrow(ptr, "name")? };` — NULL → `FTRACK_STATUS_NULL_POINTER`,
//!   poisoned → `FTRACK_STATUS_POISONED`, and registers the handle with the
//!   boundary so a panic poisons it;
//! * destroy: `unsafe { destroy_handle(ptr) }` — NULL is a no-op; poisoned handles
//!   are destroyed too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::boundary;
use super::error::{FfiError, FfiResult};
use super::status::ftrack_status;

/// State every handle carries besides its Rust value.
#[derive(Debug)]
pub struct HandleHeader {
    poisoned: AtomicBool,
    secret: Option<Arc<str>>,
}

impl HandleHeader {
    /// A fresh, unpoisoned header; `secret` is the API key to redact from messages.
    pub fn new(secret: Option<Arc<str>>) -> Self {
        HandleHeader {
            poisoned: AtomicBool::new(false),
            secret,
        }
    }

    /// The API key errors of calls on this handle must never show.
    pub fn secret(&self) -> Option<&Arc<str>> {
        self.secret.as_ref()
    }

    /// Marks the handle unusable after a panic.
    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::SeqCst);
    }

    /// Whether a panic poisoned the handle.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }
}

/// Implemented by every handle struct.
pub trait Handle {
    /// What the handle is, for messages (`"session"`, `"entity"`).
    const WHAT: &'static str;
    /// The handle's header.
    fn header(&self) -> &HandleHeader;
}

/// Borrows a handle passed in by C: checks NULL and poisoning and registers it with
/// the boundary (so a panic in this call poisons it).
///
/// # Safety
/// `ptr` must be NULL or a live handle of type `T` created by this library, not
/// destroyed before the call returns.
pub unsafe fn borrow<'a, T: Handle>(ptr: *const T, argument: &str) -> FfiResult<&'a T> {
    // SAFETY: the caller guarantees `ptr` is NULL or a live handle.
    let handle = unsafe { ptr.as_ref() }.ok_or_else(|| FfiError::null(argument))?;
    if handle.header().is_poisoned() {
        return Err(FfiError::new(
            ftrack_status::Poisoned,
            format!(
                "the {} handle `{argument}` was poisoned by an earlier panic; destroy it and \
                 create a new one",
                T::WHAT
            ),
        ));
    }
    boundary::touch(handle.header());
    Ok(handle)
}

/// Checks an output handle pointer and sets `*out = NULL`, so it is NULL on every
/// failure path. Call it first in the body.
///
/// # Safety
/// `out` must be NULL or point to a writable `T *`.
pub unsafe fn out_handle<'a, T>(out: *mut *mut T, argument: &str) -> FfiResult<&'a mut *mut T> {
    // SAFETY: the caller guarantees `out` is NULL or writable.
    let out = unsafe { out.as_mut() }.ok_or_else(|| FfiError::null(argument))?;
    *out = std::ptr::null_mut();
    Ok(out)
}

/// Checks a scalar output pointer and sets `*out` to its zero value.
///
/// # Safety
/// `out` must be NULL or point to a writable `T`.
pub unsafe fn out_value<'a, T: Default>(out: *mut T, argument: &str) -> FfiResult<&'a mut T> {
    // SAFETY: the caller guarantees `out` is NULL or writable.
    let out = unsafe { out.as_mut() }.ok_or_else(|| FfiError::null(argument))?;
    *out = T::default();
    Ok(out)
}

/// Moves a handle value to the heap and gives C its pointer.
pub fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle; NULL is a no-op.
///
/// # Safety
/// `ptr` must be NULL or a handle of type `T` created by this library and not yet
/// destroyed, that no other thread is using.
pub unsafe fn destroy_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the caller guarantees `ptr` came from `into_handle` and is live.
        drop(unsafe { Box::from_raw(ptr) });
    }
}
