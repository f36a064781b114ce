//! A fixed pool of worker threads, one per lane, for concurrent invocations.
//!
//! Lane `i` hands its buffers (with the event and a copy of the context) to worker `i` through
//! a mutex slot and gets them back the same way; the worker wakes the event loop with a
//! `mio::Waker`. Moving a `Box` through a mutex allocates nothing, so warm invocations stay
//! allocation-free.

use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use lamina_core::{Endpoint, Stream};
use lamina_std::Handler;
use lamina_std::transport::{LaneBuf, Outcome, call, spawn_worker};
use mio::Waker;

/// An invocation handed to a worker.
pub(crate) struct Job {
    pub(crate) buf: Box<LaneBuf>,
    pub(crate) event: Range<usize>,
    pub(crate) stream: Option<Stream>,
}

#[derive(Default)]
struct Slot {
    todo: Option<Job>,
    done: Option<(Box<LaneBuf>, Outcome)>,
    stop: bool,
}

struct Channel {
    slot: Mutex<Slot>,
    ready: Condvar,
}

impl Channel {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // Handlers run under catch_unwind: a worker cannot poison the lock while holding it,
        // and the slot's data is consistent either way.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The workers.
pub(crate) struct Pool {
    channels: Vec<Arc<Channel>>,
}

impl Pool {
    /// Starts `n` workers sharing `handler`.
    pub(crate) fn start<H: Handler>(
        n: usize,
        handler: Arc<H>,
        waker: Arc<Waker>,
        endpoint: Endpoint,
    ) -> std::io::Result<Pool> {
        let mut channels = Vec::with_capacity(n);
        for i in 0..n {
            let ch = Arc::new(Channel {
                slot: Mutex::new(Slot::default()),
                ready: Condvar::new(),
            });
            channels.push(ch.clone());
            let (handler, waker, endpoint) = (handler.clone(), waker.clone(), endpoint.clone());
            spawn_worker(
                i,
                Box::new(move || worker(&ch, &*handler, &waker, &endpoint)),
            )?;
        }
        Ok(Pool { channels })
    }

    /// How many workers there are (worker `i` serves lane `i`).
    pub(crate) fn len(&self) -> usize {
        self.channels.len()
    }

    /// Gives worker `i` (below [`len`](Pool::len)) an invocation.
    pub(crate) fn submit(&self, i: usize, job: Job) {
        if let Some(ch) = self.channels.get(i) {
            ch.lock().todo = Some(job);
            ch.ready.notify_one();
        }
    }

    /// Takes worker `i`'s finished invocation, if any.
    pub(crate) fn take_done(&self, i: usize) -> Option<(Box<LaneBuf>, Outcome)> {
        self.channels.get(i)?.lock().done.take()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for ch in &self.channels {
            ch.lock().stop = true;
            ch.ready.notify_one();
        }
    }
}

fn worker<H: Handler>(ch: &Channel, handler: &H, waker: &Waker, endpoint: &Endpoint) {
    loop {
        let job = {
            let mut slot = ch.lock();
            loop {
                if slot.stop {
                    return;
                }
                if let Some(job) = slot.todo.take() {
                    break job;
                }
                slot = ch.ready.wait(slot).unwrap_or_else(|p| p.into_inner());
            }
        };
        let Job {
            mut buf,
            event,
            stream,
        } = job;
        // With several invocations in flight the trace id lives in the Context alone.
        let ctx = std::mem::take(&mut buf.ctx);
        let outcome = call(handler, &ctx, event, &mut buf, stream, false, endpoint);
        buf.ctx = ctx;
        ch.lock().done = Some((buf, outcome));
        let _ = waker.wake();
    }
}
