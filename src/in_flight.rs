//! Calls of host callbacks in progress, so that removing a callback can wait
//! until it has returned on every other thread.
//!
//! Each registered callback gets a [`serial`]. A caller looks the callback up
//! under the lock that guards the registrations and, still under that lock,
//! [`InFlight::enter`]s the call; the returned [`Call`] marks it in progress
//! until dropped. A remover takes the callback out under the same lock, lets
//! go of it and [`InFlight::wait`]s: any call that found the callback entered
//! before the removal and is waited for, any later lookup no longer finds it.
//! Calls on the remover's own thread are not waited for (the thread is inside
//! them, further up its stack), so a callback may remove itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;

/// A number naming one registered callback, unique in the process.
pub(crate) fn serial() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The calls in progress: (callback serial, calling thread), one entry per call.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    calls: Mutex<Vec<(u64, ThreadId)>>,
    returned: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl InFlight {
    /// Marks a call of callback `serial` on this thread as in progress until
    /// the returned guard is dropped. Call it while holding the lock under
    /// which the callback was found.
    pub(crate) fn enter(&self, serial: u64) -> Call<'_> {
        let thread = std::thread::current().id();
        lock(&self.calls).push((serial, thread));
        Call {
            owner: self,
            serial,
            thread,
        }
    }

    /// Returns once no call of a callback that `removed` selects is in
    /// progress on another thread. Call it after taking the callbacks out, and
    /// without holding the lock under which calls are entered.
    pub(crate) fn wait(&self, removed: impl Fn(u64) -> bool) {
        let me = std::thread::current().id();
        let mut calls = lock(&self.calls);
        while calls.iter().any(|&(s, t)| t != me && removed(s)) {
            calls = self.returned.wait(calls).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A call in progress (see [`InFlight::enter`]); dropping it ends the call.
#[must_use = "the call counts as in progress only while the guard lives"]
pub(crate) struct Call<'a> {
    owner: &'a InFlight,
    serial: u64,
    thread: ThreadId,
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        let mut calls = lock(&self.owner.calls);
        if let Some(i) = calls
            .iter()
            .position(|&(s, t)| s == self.serial && t == self.thread)
        {
            calls.swap_remove(i);
        }
        drop(calls);
        self.owner.returned.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    #[test]
    fn wait_blocks_until_a_call_on_another_thread_returns() {
        let calls = Arc::new(InFlight::default());
        let done = Arc::new(AtomicBool::new(false));
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let worker = {
            let (calls, done) = (Arc::clone(&calls), Arc::clone(&done));
            std::thread::spawn(move || {
                let call = calls.enter(7);
                entered_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
                done.store(true, Ordering::SeqCst);
                drop(call);
            })
        };
        entered_rx.recv().unwrap();
        calls.wait(|s| s == 8); // another callback: no wait
        assert!(!done.load(Ordering::SeqCst));
        calls.wait(|s| s == 7);
        assert!(done.load(Ordering::SeqCst));
        worker.join().unwrap();
    }

    #[test]
    fn wait_ignores_calls_on_its_own_thread() {
        let calls = InFlight::default();
        let _outer = calls.enter(3);
        let _again = calls.enter(3);
        calls.wait(|_| true);
    }
}
