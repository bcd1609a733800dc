//! The panic boundary that wraps the body of EVERY exported function.
//!
//! ```ignore
//! #[unsafe(no_mangle)]
//! pub unsafe extern "C" fn ftrack_thing_do(thing: *mut ftrack_thing, out: *mut *mut ftrack_x) -> ftrack_status {
//!     ffi_boundary!({
//!         let out = unsafe { out_handle(out, "out")? };      // *out = NULL first
//!         let thing = unsafe { borrow(thing, "thing")? };     // NULL / poisoned checks
//!         let x = thing.core.do_it()?;                        // core Error -> status via `?`
//!         *out = into_handle(ftrack_x::new(x, thing.header.secret()));
//!         Ok(())
//!     })
//! }
//! ```
//!
//! * `ffi_boundary!({ .. })` — the body returns `FfiResult<()>`; the function returns
//!   `ftrack_status`. An `Err` is recorded as this thread's last error (prefixed with
//!   the function name, API keys redacted) and its status returned.
//! * `ffi_boundary!(value: FALLBACK, { .. })` — for destructors and pure getters that
//!   return a plain value and cannot fail; a panic returns `FALLBACK`.
//! * `ffi_boundary!(silent: { .. })` — like the first form but never writes the last
//!   error (only `ftrack_last_error_message` uses it).
//!
//! A panic is caught, recorded as the last error with status `FTRACK_STATUS_PANIC`,
//! and every handle the call borrowed through [`super::handle::borrow`] is poisoned:
//! later calls on it return `FTRACK_STATUS_POISONED`.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::error::{FfiResult, set_last_error};
use super::handle::HandleHeader;
use super::status::ftrack_status;

/// Runs `$body` inside the panic boundary; see the module docs for the three forms.
macro_rules! ffi_boundary {
    (value: $fallback:expr, $body:block) => {{
        fn __here() {}
        $crate::boundary::run_value(
            ::std::any::type_name_of_val(&__here),
            || $fallback,
            || $body,
        )
    }};
    (silent: $body:block) => {{ $crate::boundary::run_silent(|| -> $crate::error::FfiResult<()> { $body }) }};
    ($body:block) => {{
        fn __here() {}
        $crate::boundary::run_status(
            ::std::any::type_name_of_val(&__here),
            || -> $crate::error::FfiResult<()> { $body },
        )
    }};
}

/// What the current call touched: handles to poison on a panic, secrets to redact.
struct CallContext {
    handles: Vec<*const HandleHeader>,
    secrets: Vec<Arc<str>>,
}

thread_local! {
    static CONTEXT: RefCell<CallContext> = const {
        RefCell::new(CallContext { handles: Vec::new(), secrets: Vec::new() })
    };
}

#[derive(Clone, Copy)]
struct Mark {
    handles: usize,
    secrets: usize,
}

/// Runs `body` with the mark of the context at entry, then forgets what the
/// call registered: one thread-local lookup for both ends of the call (the
/// lookup is a function call in a shared library, and this runs on every call).
fn within<R>(body: impl FnOnce(Mark) -> R) -> R {
    CONTEXT.with(|cell| {
        let mark = {
            let c = cell.borrow();
            Mark {
                handles: c.handles.len(),
                secrets: c.secrets.len(),
            }
        };
        let out = body(mark);
        let mut c = cell.borrow_mut();
        c.handles.truncate(mark.handles);
        c.secrets.truncate(mark.secrets);
        out
    })
}

/// Registers a handle used by the current call (done by `handle::borrow`).
/// Its secret is not copied: [`redact`] reads it from the handle, which the
/// caller keeps alive for the whole call, so a successful call costs one push
/// and no reference-count traffic.
pub(crate) fn touch(header: &HandleHeader) {
    CONTEXT.with_borrow_mut(|c| c.handles.push(header as *const HandleHeader));
}

/// Registers a secret (an API key) that must never appear in this call's error message.
pub(crate) fn note_secret(secret: Arc<str>) {
    if secret.len() >= 4 {
        CONTEXT.with_borrow_mut(|c| c.secrets.push(secret));
    }
}

/// Replaces every secret noted by the current call, and the secret of every
/// handle it borrowed, in `message`.
fn redact(message: String, mark: Mark) -> String {
    CONTEXT.with_borrow(|c| {
        let mut message = message;
        // SAFETY: the handles were borrowed by this very call, and the caller must
        // keep them alive for the whole call (documented on every function).
        let handle_secrets = c.handles[mark.handles..]
            .iter()
            .filter_map(|h| unsafe { (**h).secret() })
            .filter(|s| s.len() >= 4);
        for secret in c.secrets[mark.secrets..].iter().chain(handle_secrets) {
            if message.contains(&**secret) {
                message = message.replace(&**secret, "[redacted]");
            }
        }
        message
    })
}

fn poison_touched(mark: Mark) {
    CONTEXT.with_borrow(|c| {
        for header in &c.handles[mark.handles..] {
            // SAFETY: the handle was borrowed by this very call, and the caller must
            // keep it alive for the whole call (documented on every function).
            unsafe { (**header).poison() };
        }
    });
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}

fn function_name(path: &'static str) -> &'static str {
    // "ftrack::session::ftrack_session_query::__here" -> "ftrack_session_query"
    let path = path.strip_suffix("::__here").unwrap_or(path);
    path.rsplit("::").next().unwrap_or(path)
}

fn record_panic(path: &'static str, payload: Box<dyn Any + Send>, mark: Mark) {
    let text = panic_text(&*payload);
    let message = format!(
        "{}: internal panic ({}); the handles used by this call are poisoned: destroy them \
         and report this bug",
        function_name(path),
        text
    );
    set_last_error(ftrack_status::Panic, redact(message, mark));
    // The payload may itself panic when dropped; never let that escape.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
}

/// Runs a status-returning body. Used through `ffi_boundary!({ .. })`.
pub fn run_status(path: &'static str, body: impl FnOnce() -> FfiResult<()>) -> ftrack_status {
    within(|mark| match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ftrack_status::Ok,
        Ok(Err(e)) => {
            let message = format!("{}: {}", function_name(path), e.message);
            set_last_error(e.status, redact(message, mark));
            e.status
        }
        Err(payload) => {
            poison_touched(mark);
            record_panic(path, payload, mark);
            ftrack_status::Panic
        }
    })
}

/// Runs a status-returning body that must never touch the last error.
pub fn run_silent(body: impl FnOnce() -> FfiResult<()>) -> ftrack_status {
    within(|mark| match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ftrack_status::Ok,
        Ok(Err(e)) => e.status,
        Err(payload) => {
            poison_touched(mark);
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            ftrack_status::Panic
        }
    })
}

/// Runs a value-returning body (destructors, pure getters); a panic gives `fallback()`.
pub fn run_value<T>(
    path: &'static str,
    fallback: impl FnOnce() -> T,
    body: impl FnOnce() -> T,
) -> T {
    within(|mark| match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            poison_touched(mark);
            record_panic(path, payload, mark);
            fallback()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::error::{FfiError, last_error};
    use super::super::handle::{Handle, HandleHeader, borrow};
    use super::*;

    struct Thing {
        header: HandleHeader,
    }
    impl Handle for Thing {
        const WHAT: &'static str = "thing";
        fn header(&self) -> &HandleHeader {
            &self.header
        }
    }

    fn use_thing(thing: *const Thing, panic: bool) -> ftrack_status {
        ffi_boundary!({
            let _thing = unsafe { borrow(thing, "thing")? };
            if panic {
                panic!("boom");
            }
            Ok(())
        })
    }

    #[test]
    fn panic_becomes_status_and_poisons_the_handle() {
        let thing = Thing {
            header: HandleHeader::new(None),
        };
        assert_eq!(use_thing(&thing, false), ftrack_status::Ok);
        assert_eq!(use_thing(&thing, true), ftrack_status::Panic);
        let message = last_error();
        assert!(
            message.starts_with("use_thing: internal panic (boom)"),
            "{message}"
        );
        assert_eq!(use_thing(&thing, false), ftrack_status::Poisoned);
        assert!(last_error().contains("poisoned"));
    }

    #[test]
    fn errors_name_the_function_and_redact_secrets() {
        fn failing() -> ftrack_status {
            ffi_boundary!({
                note_secret(Arc::from("KEY-1234-SECRET"));
                Err(FfiError::invalid("bad value KEY-1234-SECRET given"))
            })
        }
        assert_eq!(failing(), ftrack_status::InvalidArgument);
        let message = last_error();
        assert_eq!(message, "failing: bad value [redacted] given");
    }

    #[test]
    fn value_form_returns_fallback_on_panic() {
        fn getter(panic: bool) -> usize {
            ffi_boundary!(value: 0, {
                if panic {
                    panic!("getter");
                }
                5
            })
        }
        assert_eq!(getter(false), 5);
        assert_eq!(getter(true), 0);
        assert!(last_error().contains("getter: internal panic (getter)"));
    }
}
