//! Settings for a process whose main job is to serve the sandbox.

/// Makes this process keep the memory it frees for its next allocations,
/// as a server that answers one large request after another should.
///
/// By default glibc's malloc gives freed memory back to the system (it maps
/// large blocks on their own and trims the heap's free top), so the next
/// request touches fresh pages again. On the development machine (a virtual
/// machine) a page touched for the first time costs about 3 µs, and a
/// 10,000-row answer touched about 11 MB of fresh memory per request: a
/// quarter of its time went to page faults. After this call, blocks up to
/// 32 MiB come from the heap and a free heap top is kept up to 256 MiB.
///
/// The `ftrack-sandbox` and `canned-server` binaries call it first thing,
/// and so does `sandbox-bench`, which measures the sandbox as that binary
/// runs it. [`crate::Sandbox::start`] does not: a library must not change
/// its host process's allocator. Does nothing where the C library is not
/// glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's tuning parameters; it is called
    // with valid parameter numbers and values (the mmap threshold at most
    // 32 MiB, glibc's ceiling on 64-bit systems).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}
