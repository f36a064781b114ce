//! A fixed pool of worker threads, one per connection, for concurrent invocations.
//!
//! Connection `i` hands its `Work` (machine, buffers and event) to worker `i` through a mutex
//! slot and gets it back the same way; the worker wakes the event loop with a `mio::Waker`.
//! Moving a `Box` through a mutex allocates nothing, so warm invocations stay allocation-free.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(feature = "workers")]
use std::thread;

use lamina_std::handler::Handler;
use lamina_std::runtime::Exit;
use mio::Waker;

use crate::work::{Invoked, Work};

#[derive(Default)]
struct Job {
    todo: Option<Box<Work>>,
    done: Option<(Box<Work>, Result<Invoked, Exit>)>,
    stop: bool,
}

struct Channel {
    job: Mutex<Job>,
    ready: Condvar,
}

impl Channel {
    fn lock(&self) -> MutexGuard<'_, Job> {
        // A worker that panicked outside the handler (impossible: handlers run under
        // catch_unwind) would poison the lock; the job data is still consistent.
        self.job.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The workers.
pub struct Pool<H> {
    channels: Vec<Arc<Channel>>,
    _handler: std::marker::PhantomData<H>,
}

impl<H: Handler> Pool<H> {
    /// Starts `n` workers sharing `handler`.
    #[cfg(feature = "workers")]
    pub fn start(
        n: usize,
        handler: Arc<H>,
        waker: Arc<Waker>,
        max_response: usize,
    ) -> std::io::Result<Self> {
        let mut channels = Vec::with_capacity(n);
        for i in 0..n {
            let ch = Arc::new(Channel {
                job: Mutex::new(Job::default()),
                ready: Condvar::new(),
            });
            channels.push(ch.clone());
            let handler = handler.clone();
            let waker = waker.clone();
            thread::Builder::new()
                .name(format!("lamina-worker-{i}"))
                .spawn(move || worker(&ch, &*handler, &waker, max_response))?;
        }
        Ok(Pool {
            channels,
            _handler: std::marker::PhantomData,
        })
    }

    /// Gives worker `i` an invocation.
    pub fn submit(&self, i: usize, work: Box<Work>) {
        if let Some(ch) = self.channels.get(i) {
            ch.lock().todo = Some(work);
            ch.ready.notify_one();
        }
    }

    /// Takes worker `i`'s finished invocation, if any.
    pub fn take_done(&self, i: usize) -> Option<(Box<Work>, Result<Invoked, Exit>)> {
        self.channels.get(i)?.lock().done.take()
    }

    /// Without the `workers` feature there are no workers (the loop never asks for any).
    #[cfg(not(feature = "workers"))]
    pub fn start(
        _n: usize,
        _handler: Arc<H>,
        _waker: Arc<Waker>,
        _max_response: usize,
    ) -> std::io::Result<Self> {
        Err(std::io::Error::other("built without the `workers` feature"))
    }
}

impl<H> Drop for Pool<H> {
    fn drop(&mut self) {
        for ch in &self.channels {
            ch.lock().stop = true;
            ch.ready.notify_one();
        }
    }
}

#[cfg(feature = "workers")]
fn worker<H: Handler>(ch: &Channel, handler: &H, waker: &Waker, max_response: usize) {
    loop {
        let mut work = {
            let mut job = ch.lock();
            loop {
                if job.stop {
                    return;
                }
                if let Some(w) = job.todo.take() {
                    break w;
                }
                job = ch.ready.wait(job).unwrap_or_else(|p| p.into_inner());
            }
        };
        let result = work.invoke(handler, max_response, false);
        ch.lock().done = Some((work, result));
        let _ = waker.wake();
    }
}
