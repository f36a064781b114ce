//! One blocking keep-alive connection to the Runtime API, reopened with bounded exponential
//! backoff when it fails.

use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use lamina_core::{Endpoint, Input, Machine, Recovery};

/// First pause after a failure; doubled after each further one, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// Longest pause between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The Runtime API could not be reached for longer than the reconnect timeout.
#[derive(Debug)]
pub struct GaveUp {
    /// How long it tried.
    pub after: Duration,
    /// The last error seen.
    pub last: io::Error,
}

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot reach the Runtime API: {} (gave up after {} ms)",
            self.last,
            self.after.as_millis() as u64
        )
    }
}

/// Failures in a row, and when the first of them happened.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
    since: Option<Instant>,
}

impl Backoff {
    /// Records a failure at `now`; `Err` when failures have lasted longer than `limit`.
    pub fn failed(&mut self, now: Instant, limit: Duration) -> Result<Duration, Duration> {
        let since = *self.since.get_or_insert(now);
        self.failures = self.failures.saturating_add(1);
        let elapsed = now.saturating_duration_since(since);
        if elapsed >= limit {
            return Err(elapsed);
        }
        Ok(self.delay())
    }

    /// The pause before the next attempt (zero before the first failure).
    pub fn delay(&self) -> Duration {
        match self.failures {
            0 => Duration::ZERO,
            n => FIRST_BACKOFF
                .saturating_mul(1u32 << (n - 1).min(16))
                .min(MAX_BACKOFF),
        }
    }

    /// A request went through: forget the failures.
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.since = None;
    }
}

/// A blocking connection.
#[derive(Debug)]
pub struct Conn {
    endpoint: Endpoint,
    stream: Option<TcpStream>,
    backoff: Backoff,
    timeout: Duration,
}

/// What `receive` got.
#[derive(Debug)]
pub enum Received {
    /// A complete response.
    Complete(lamina_core::Event),
    /// The connection was lost; how to go on.
    Lost(Recovery),
}

impl Conn {
    /// A connection (not yet open) to `endpoint`, giving up after `timeout` of failures.
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Conn {
        Conn {
            endpoint,
            stream: None,
            backoff: Backoff::default(),
            timeout,
        }
    }

    /// Closes the connection; the next request opens a new one.
    pub fn close(&mut self) {
        self.stream = None;
    }

    /// Counts a failure and closes; `Err` once failures have lasted too long.
    fn fail(&mut self, err: io::Error) -> Result<(), GaveUp> {
        self.stream = None;
        match self.backoff.failed(Instant::now(), self.timeout) {
            Ok(_) => Ok(()),
            Err(after) => Err(GaveUp { after, last: err }),
        }
    }

    fn connect(&mut self) -> Result<&mut TcpStream, GaveUp> {
        while self.stream.is_none() {
            std::thread::sleep(self.backoff.delay());
            match open(&self.endpoint) {
                Ok(s) => self.stream = Some(s),
                Err(e) => self.fail(e)?,
            }
        }
        match self.stream.as_mut() {
            Some(s) => Ok(s),
            // The loop above only ends with a stream.
            None => Err(GaveUp {
                after: Duration::ZERO,
                last: io::ErrorKind::NotConnected.into(),
            }),
        }
    }

    /// Writes `parts` (a head and maybe a body) in as few writes as possible. `Ok(false)` when
    /// the connection broke (it is closed; the caller asks the machine how to recover).
    pub fn send(&mut self, parts: &[&[u8]]) -> Result<bool, GaveUp> {
        let stream = self.connect()?;
        match write_all_vectored(stream, parts) {
            Ok(()) => Ok(true),
            Err(e) => {
                self.fail(e)?;
                Ok(false)
            }
        }
    }

    /// Reads one response into `buf` and feeds it to `machine`.
    pub fn receive(&mut self, machine: &mut Machine, buf: &mut [u8]) -> Result<Received, GaveUp> {
        let mut filled = 0;
        loop {
            let read = match self.stream.as_mut() {
                None => Err(io::Error::from(io::ErrorKind::NotConnected)),
                Some(s) => match buf.get_mut(filled..) {
                    Some(room) if !room.is_empty() => s.read(room),
                    _ => Err(io::Error::other("response larger than the read buffer")),
                },
            };
            let input = match read {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A reset ends the response like an EOF does: what was read before it still
                // counts (a `/next` cut after its request id is answered, not dropped).
                Ok(0) | Err(_) => {
                    let err = match read {
                        Err(e) => e,
                        Ok(_) => io::Error::from(io::ErrorKind::UnexpectedEof),
                    };
                    let eof = buf.get_mut(..filled).unwrap_or_default();
                    match machine.handle_eof(eof) {
                        Ok(Ok(input)) => input,
                        Ok(Err(recovery)) => {
                            self.fail(err)?;
                            return Ok(Received::Lost(recovery));
                        }
                        Err(_) => {
                            self.fail(err)?;
                            return Ok(Received::Lost(machine.connection_lost()));
                        }
                    }
                }
                Ok(n) => {
                    filled += n;
                    match machine.handle(buf.get_mut(..filled).unwrap_or_default()) {
                        Ok(input) => input,
                        Err(_) => {
                            self.close();
                            return Ok(Received::Lost(machine.connection_lost()));
                        }
                    }
                }
            };
            match input {
                Input::NeedMore { keep } => filled = keep,
                Input::Complete {
                    event,
                    consumed,
                    close,
                } => {
                    self.backoff.succeeded();
                    // Bytes after the response were never asked for: the connection cannot be
                    // trusted to stay in step, so it is replaced.
                    if close || consumed < filled {
                        self.close();
                    }
                    return Ok(Received::Complete(event));
                }
            }
        }
    }
}

/// Opens a connection with `TCP_NODELAY` (head and body go out in one write, but a keep-alive
/// connection must never wait on Nagle and delayed ACK).
pub fn open(endpoint: &Endpoint) -> io::Result<TcpStream> {
    // Lambda gives an IP literal: connect without name resolution (and without its
    // allocations; streamed responses open a connection per invocation).
    if let Ok(ip) = endpoint.host().parse::<std::net::IpAddr>() {
        let s = TcpStream::connect((ip, endpoint.port()))?;
        s.set_nodelay(true)?;
        return Ok(s);
    }
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host did not resolve");
    for addr in (endpoint.host(), endpoint.port()).to_socket_addrs()? {
        match TcpStream::connect(addr) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `write_all` over several buffers with `write_vectored`.
pub fn write_all_vectored(stream: &mut impl Write, parts: &[&[u8]]) -> io::Result<()> {
    let mut slices = [IoSlice::new(&[]); 4];
    let mut count = 0;
    for part in parts.iter().filter(|p| !p.is_empty()) {
        let Some(slot) = slices.get_mut(count) else {
            return Err(io::Error::other("too many parts"));
        };
        *slot = IoSlice::new(part);
        count += 1;
    }
    let mut bufs = &mut slices[..count];
    while !bufs.is_empty() {
        match stream.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_gives_up() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        let limit = Duration::from_secs(5);
        assert_eq!(b.delay(), Duration::ZERO);
        assert_eq!(b.failed(t0, limit), Ok(FIRST_BACKOFF));
        assert_eq!(b.failed(t0, limit), Ok(FIRST_BACKOFF * 2));
        for _ in 0..20 {
            let _ = b.failed(t0, limit);
        }
        assert_eq!(b.delay(), MAX_BACKOFF);
        assert!(b.failed(t0 + limit, limit).is_err());
        b.succeeded();
        assert_eq!(b.delay(), Duration::ZERO);
    }

    #[test]
    fn vectored_writes_survive_short_writes() {
        struct Trickle(Vec<u8>);
        impl Write for Trickle {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let n = buf.len().min(3);
                self.0.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut t = Trickle(Vec::new());
        write_all_vectored(&mut t, &[b"head\r\n", b"", b"body"]).unwrap();
        assert_eq!(t.0, b"head\r\nbody");
    }
}
