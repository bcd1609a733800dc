//! `process::keep_freed_memory`: memory freed after one large answer serves
//! the next without touching fresh pages (checked with the process's count
//! of minor page faults).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn memory_freed_after_a_large_answer_serves_the_next_without_page_faults() {
    fn minor_faults() -> i64 {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage fills the struct it is given.
        assert_eq!(
            unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) },
            0
        );
        // SAFETY: initialised by the successful call above.
        unsafe { usage.assume_init() }.ru_minflt
    }
    // What a 10,000-row answer allocates, in a size glibc would map on its
    // own by default: written page by page, then freed.
    fn one_answer() -> i64 {
        let before = minor_faults();
        let mut answer: Vec<u8> = Vec::with_capacity(11 << 20);
        answer.resize(11 << 20, 1);
        std::hint::black_box(&answer);
        drop(answer);
        minor_faults() - before
    }
    ftrack_sandbox::process::keep_freed_memory();
    let first = one_answer();
    let second = one_answer();
    let pages = (11 << 20) / 4096;
    assert!(
        first > pages / 2,
        "the first answer touched fresh pages: {first} faults"
    );
    assert!(
        second < pages / 10,
        "the second answer reused the first one's memory: {second} faults (first {first})"
    );
}
