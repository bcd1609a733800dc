//! String inputs (NUL-terminated UTF-8, checked) and outputs (copied into a
//! caller buffer: `char *buffer, size_t buffer_len, size_t *out_len`).

use std::ffi::{CStr, c_char};

use super::error::{FfiError, FfiResult};
use super::status::ftrack_status;

/// Strings up to this length take the ASCII fast path of [`str_arg`].
const SHORT: usize = 64;

/// A required NUL-terminated UTF-8 input: NULL → `NULL_POINTER`, bad UTF-8 → `INVALID_UTF8`.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that stays valid for `'a`.
pub unsafe fn str_arg<'a>(ptr: *const c_char, argument: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(FfiError::null(argument));
    }
    // Fast path for short ASCII strings (attribute names, most arguments): one
    // pass finds the NUL and checks the bytes, instead of strlen + UTF-8 validation.
    let mut ascii = 0u8;
    for len in 0..SHORT {
        // SAFETY: NUL-terminated per the caller's contract, and every byte
        // before this one was not NUL, so this byte is part of the string.
        let b = unsafe { *ptr.add(len) } as u8;
        if b == 0 {
            if ascii < 0x80 {
                // SAFETY: `len` readable bytes before the NUL, all ASCII.
                return Ok(unsafe {
                    std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr.cast(), len))
                });
            }
            break;
        }
        ascii |= b;
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|e| {
        FfiError::new(
            ftrack_status::InvalidUtf8,
            format!(
                "argument `{argument}` is not valid UTF-8 (invalid byte at offset {}); \
                 pass UTF-8 text",
                e.valid_up_to()
            ),
        )
    })
}

/// An optional input: NULL → `None`; otherwise as [`str_arg`].
///
/// # Safety
/// As [`str_arg`].
pub unsafe fn opt_str_arg<'a>(ptr: *const c_char, argument: &str) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(ptr, argument) }.map(Some)
    }
}

/// A JSON input: as [`str_arg`], then parsed; a parse error → `INVALID_ARGUMENT`.
///
/// # Safety
/// As [`str_arg`].
pub unsafe fn json_arg(ptr: *const c_char, argument: &str) -> FfiResult<serde_json::Value> {
    // SAFETY: forwarded contract.
    let text = unsafe { str_arg(ptr, argument)? };
    serde_json::from_str(text)
        .map_err(|e| FfiError::invalid(format!("argument `{argument}` is not valid JSON: {e}")))
}

/// A checked caller buffer. Create it with [`out_buffer`] BEFORE doing the work, so
/// invalid buffer arguments fail before anything is sent to the server.
#[derive(Debug)]
pub struct OutBuffer {
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
}

/// Validates `(buffer, buffer_len, out_len)`: `buffer` may be NULL only when
/// `buffer_len` is 0; `out_len` may be NULL. Sets `*out_len = 0` and, when there is
/// room, `buffer[0] = '\0'`, so outputs are defined on every failure path.
///
/// # Safety
/// `buffer` must be NULL or point to `buffer_len` writable bytes; `out_len` NULL or
/// writable; both valid until [`OutBuffer::write`] returns.
pub unsafe fn out_buffer(
    buffer: *mut c_char,
    buffer_len: usize,
    out_len: *mut usize,
) -> FfiResult<OutBuffer> {
    if buffer.is_null() && buffer_len > 0 {
        return Err(FfiError::new(
            ftrack_status::NullPointer,
            format!(
                "argument `buffer` is NULL but `buffer_len` is {buffer_len}; pass a buffer, \
                 or 0 to ask for the size"
            ),
        ));
    }
    let out = OutBuffer {
        buffer,
        buffer_len,
        out_len,
    };
    out.set_len(0);
    if buffer_len > 0 {
        // SAFETY: at least one writable byte.
        unsafe { *buffer = 0 };
    }
    Ok(out)
}

impl OutBuffer {
    fn set_len(&self, len: usize) {
        if !self.out_len.is_null() {
            // SAFETY: checked non-NULL; writable per `out_buffer`'s contract.
            unsafe { *self.out_len = len };
        }
    }

    /// Copies `text` and a NUL into the buffer, or fails with `BUFFER_TOO_SMALL`
    /// after setting `*out_len` to the size needed (NUL included).
    pub fn write(self, text: &str) -> FfiResult<()> {
        let needed = text.len() + 1;
        self.set_len(needed);
        if needed > self.buffer_len {
            return Err(FfiError::new(
                ftrack_status::BufferTooSmall,
                format!(
                    "the buffer holds {} bytes but {needed} are needed (NUL included); \
                     call again with a buffer of at least *out_len bytes",
                    self.buffer_len
                ),
            ));
        }
        // SAFETY: `needed <= buffer_len` writable bytes, and the source is a distinct
        // Rust allocation.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), self.buffer.cast::<u8>(), text.len());
            *self.buffer.add(text.len()) = 0;
        }
        Ok(())
    }

    /// As [`OutBuffer::write`] for a result the caller may not want: with no
    /// buffer (NULL and 0) only `*out_len` is set, and the call succeeds (the
    /// work it reports on was done).
    pub fn write_if_wanted(self, text: &str) -> FfiResult<()> {
        if self.buffer.is_null() && self.buffer_len == 0 {
            self.set_len(text.len() + 1);
            return Ok(());
        }
        self.write(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_not_wanted_gives_its_size_and_succeeds() {
        let mut len = 0usize;
        let out = unsafe { out_buffer(std::ptr::null_mut(), 0, &mut len) }.unwrap();
        assert!(out.write_if_wanted("sub-1").is_ok());
        assert_eq!(len, 6);
        let mut small = [0 as c_char; 3];
        let out = unsafe { out_buffer(small.as_mut_ptr(), 3, &mut len) }.unwrap();
        let err = out.write_if_wanted("sub-1").unwrap_err();
        assert_eq!(err.status, ftrack_status::BufferTooSmall);
        assert_eq!(len, 6);
    }

    #[test]
    fn buffer_contract() {
        let mut len = 99usize;
        let out = unsafe { out_buffer(std::ptr::null_mut(), 0, &mut len) }.unwrap();
        assert_eq!(len, 0);
        let e = out.write("abc").unwrap_err();
        assert_eq!(e.status, ftrack_status::BufferTooSmall);
        assert_eq!(len, 4);

        let mut buf = [b'x' as c_char; 4];
        let out = unsafe { out_buffer(buf.as_mut_ptr(), 3, &mut len) }.unwrap();
        assert_eq!(buf[0], 0);
        assert!(out.write("abc").is_err());
        assert_eq!((len, buf[0]), (4, 0));

        let out = unsafe { out_buffer(buf.as_mut_ptr(), 4, std::ptr::null_mut()) }.unwrap();
        out.write("abc").unwrap();
        assert_eq!(
            unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap(),
            "abc"
        );

        let e = unsafe { out_buffer(std::ptr::null_mut(), 3, &mut len) }.unwrap_err();
        assert_eq!(e.status, ftrack_status::NullPointer);
    }

    #[test]
    fn string_inputs() {
        assert_eq!(unsafe { str_arg(c"ok".as_ptr(), "a") }.unwrap(), "ok");
        let e = unsafe { str_arg(std::ptr::null(), "a") }.unwrap_err();
        assert_eq!(e.status, ftrack_status::NullPointer);
        let bad = [b'a' as c_char, 0xff_u8 as c_char, 0];
        let e = unsafe { str_arg(bad.as_ptr(), "a") }.unwrap_err();
        assert_eq!(e.status, ftrack_status::InvalidUtf8);
        for text in [
            "",
            "ünïcødé",
            &"x".repeat(63),
            &"y".repeat(64),
            &"z".repeat(200),
        ] {
            let c = std::ffi::CString::new(text).unwrap();
            assert_eq!(unsafe { str_arg(c.as_ptr(), "a") }.unwrap(), text);
        }
        let mut long_bad = vec![b'a' as c_char; 100];
        long_bad.extend([0xc3_u8 as c_char, 0]);
        let e = unsafe { str_arg(long_bad.as_ptr(), "a") }.unwrap_err();
        assert_eq!(e.status, ftrack_status::InvalidUtf8);
        assert_eq!(unsafe { opt_str_arg(std::ptr::null(), "a") }.unwrap(), None);
        let e = unsafe { json_arg(c"{".as_ptr(), "j") }.unwrap_err();
        assert_eq!(e.status, ftrack_status::InvalidArgument);
    }
}
