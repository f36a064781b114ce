//! A minimal in-process fake of the Lambda Runtime API, built for benchmarks.
//!
//! lamina-server records every request it receives (headers, body, timestamps: about 1 KB each,
//! kept for the life of the server), generates a random UUID and trace id per invocation and
//! keeps several maps per request id; over 100,000 invocations that is both a growing cost in
//! the server and noise in the figures. This one keeps only counters, one timestamp per
//! invocation (preallocated) and the latencies, and answers with pre-sized buffers:
//!
//! - one blocking thread per connection, HTTP/1.1 keep-alive, `TCP_NODELAY`;
//! - `GET .../runtime/invocation/next` takes the next queued invocation (or waits for one) and
//!   answers with fixed-width headers: request id `xxxxxxxx-0000-4000-8000-<seq in hex>`, a
//!   distinct `Lambda-Runtime-Trace-Id` per invocation, a deadline an hour ahead, an ARN and
//!   `Content-Length`; so every `/next` answer of a batch has the same length (the null client
//!   relies on it);
//! - `POST .../invocation/{id}/response` and `/error` are read completely (`Content-Length` or
//!   chunked), compared with the batch's expected body when one is set, and answered `202`;
//! - `POST .../runtime/init/error` is counted and answered `202`.
//!
//! Every wait is bounded: waiting `/next` requests and blocked reads wake every 50 ms to notice
//! the stop flag, and dropping the [`Server`] stops everything. A connection's socket is closed
//! as soon as its peer closes it (the official runtime opens thousands: see RESULTS.md).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TICK: Duration = Duration::from_millis(50);

/// The `202` every `/response`, `/error` and `/init/error` gets.
pub const ACCEPTED: &[u8] =
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}";

const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

/// The function ARN sent with every invocation.
const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:lamina-bench";

/// A run of identical invocations.
#[derive(Debug)]
struct Batch {
    remaining: u64,
    body: Arc<[u8]>,
}

/// What the responses of a range of sequence numbers are checked against.
#[derive(Debug)]
struct Expect {
    from: u64,
    to: u64,
    body: Option<Arc<[u8]>>,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Batch>,
    expects: Vec<Expect>,
    /// Sequence number of the next invocation delivered.
    next_seq: u64,
    /// `/next` requests that waited for an invocation right now.
    next_waiters: usize,
    /// Whether the runner waits for answers.
    runner_waits: bool,
    /// `/response` requests for known invocations.
    responses: u64,
    /// `/error` requests.
    errors: u64,
    /// `/init/error` requests.
    init_errors: u64,
    /// Answers whose body differed from the expected one.
    mismatches: u64,
    /// The first differing body (cut at 200 bytes) and the first `/error` body.
    first_mismatch: Option<String>,
    first_error: Option<String>,
    /// Nanoseconds since the server's base instant.
    first_next_at: Option<u64>,
    first_answer_at: Option<u64>,
    last_answer_at: u64,
    /// The body of the last answer, kept only while `keep_last` is set.
    keep_last: bool,
    last_body: Vec<u8>,
    /// Answer latencies (ns) while `record_latency` is set.
    record_latency: bool,
    latencies: Vec<u64>,
    connections: u64,
}

#[derive(Debug)]
struct Shared {
    base: Instant,
    deadline_ms: u64,
    state: Mutex<State>,
    /// `/next` requests waiting for an invocation.
    queue_cv: Condvar,
    /// The runner waiting for answers.
    answer_cv: Condvar,
    stop: AtomicBool,
    /// When each invocation's `/next` answer had been written (ns since `base`), by sequence.
    sent_at: Vec<AtomicU64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub delivered: u64,
    pub responses: u64,
    pub errors: u64,
    pub init_errors: u64,
    pub mismatches: u64,
    pub first_mismatch: Option<String>,
    pub first_error: Option<String>,
    pub first_next_at: Option<u64>,
    pub first_answer_at: Option<u64>,
    pub last_answer_at: u64,
    pub connections: u64,
}

impl Counters {
    /// `/response` + `/error` requests.
    pub fn answered(&self) -> u64 {
        self.responses + self.errors
    }
}

/// The benchmark server; dropping it stops it.
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a server on 127.0.0.1 (ephemeral port) for at most `capacity` invocations.
    pub fn start(capacity: usize) -> io::Result<Server> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let shared = Arc::new(Shared {
            base: Instant::now(),
            deadline_ms: epoch_ms + 3_600_000,
            state: Mutex::new(State::default()),
            queue_cv: Condvar::new(),
            answer_cv: Condvar::new(),
            stop: AtomicBool::new(false),
            sent_at: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
        });
        let sh = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name("bench-accept".into())
            .spawn(move || accept_loop(sh, listener))?;
        Ok(Server {
            shared,
            addr,
            acceptor: Some(acceptor),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Nanoseconds since the server's base instant (the clock of every timestamp it reports).
    pub fn now(&self) -> u64 {
        self.shared.now()
    }

    /// Queues `n` invocations with this event; their answers are checked against `expect`.
    pub fn push(&self, n: u64, body: Arc<[u8]>, expect: Option<Arc<[u8]>>) {
        let mut st = self.shared.lock();
        let from = st.next_seq + st.queue.iter().map(|b| b.remaining).sum::<u64>();
        assert!(
            from + n <= self.shared.sent_at.len() as u64,
            "server capacity exceeded"
        );
        st.expects.push(Expect {
            from,
            to: from + n,
            body: expect,
        });
        st.queue.push_back(Batch { remaining: n, body });
        let wake = st.next_waiters > 0;
        drop(st);
        if wake {
            self.shared.queue_cv.notify_all();
        }
    }

    /// Starts or stops keeping the last answer's body.
    pub fn keep_last_body(&self, on: bool) {
        self.shared.lock().keep_last = on;
    }

    /// The last answer's body (while kept).
    pub fn last_body(&self) -> Vec<u8> {
        self.shared.lock().last_body.clone()
    }

    /// Starts or stops recording latencies; starting clears the ones recorded.
    pub fn record_latency(&self, on: bool, capacity: usize) {
        let mut st = self.shared.lock();
        st.record_latency = on;
        if on {
            st.latencies = Vec::with_capacity(capacity);
        }
    }

    /// The latencies recorded (ns).
    pub fn latencies(&self) -> Vec<u64> {
        self.shared.lock().latencies.clone()
    }

    pub fn counters(&self) -> Counters {
        let st = self.shared.lock();
        Counters {
            delivered: st.next_seq,
            responses: st.responses,
            errors: st.errors,
            init_errors: st.init_errors,
            mismatches: st.mismatches,
            first_mismatch: st.first_mismatch.clone(),
            first_error: st.first_error.clone(),
            first_next_at: st.first_next_at,
            first_answer_at: st.first_answer_at,
            last_answer_at: st.last_answer_at,
            connections: st.connections,
        }
    }

    /// Waits until at least `n` answers (`/response` + `/error`) arrived, an `/init/error`
    /// arrived, `alive` returns false, or `timeout` passes. Returns the counters.
    pub fn wait_answers(
        &self,
        n: u64,
        timeout: Duration,
        mut alive: impl FnMut() -> bool,
    ) -> Counters {
        let end = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if st.responses + st.errors >= n || st.init_errors > 0 {
                break;
            }
            let now = Instant::now();
            if now >= end {
                break;
            }
            drop(st);
            let still = alive();
            st = self.shared.lock();
            if !still {
                break;
            }
            st.runner_waits = true;
            st = self
                .shared
                .answer_cv
                .wait_timeout(st, (end - now).min(TICK))
                .unwrap_or_else(|e| e.into_inner())
                .0;
            st.runner_waits = false;
        }
        drop(st);
        self.counters()
    }

    /// The full `/next` answer for invocation `seq` with a body of `body_len` bytes (its length
    /// is the same for every `seq` below 2^48).
    pub fn next_head(&self, seq: u64, body_len: usize) -> Vec<u8> {
        next_head(self.shared.deadline_ms, seq, body_len)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        drop(self.shared.lock());
        self.shared.queue_cv.notify_all();
        self.shared.answer_cv.notify_all();
        // Connection threads notice the stop flag within a tick (their reads time out every
        // 50 ms); the acceptor needs a connection to wake from accept().
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(h) = self.acceptor.take()
            && woke
        {
            let _ = h.join();
        }
    }
}

/// The request id of invocation `seq`: UUID-shaped, fixed width.
pub fn request_id(seq: u64) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", seq as u32, seq)
}

fn seq_of(id: &[u8]) -> Option<u64> {
    if id.len() != 36 {
        return None;
    }
    let s = std::str::from_utf8(&id[24..]).ok()?;
    u64::from_str_radix(s, 16).ok()
}

fn next_head(deadline_ms: u64, seq: u64, body_len: usize) -> Vec<u8> {
    // A distinct X-Ray trace header per invocation, fixed width.
    format!(
        "HTTP/1.1 200 OK\r\n\
         Content-Type: application/json\r\n\
         Lambda-Runtime-Aws-Request-Id: {}\r\n\
         Lambda-Runtime-Deadline-Ms: {deadline_ms}\r\n\
         Lambda-Runtime-Invoked-Function-Arn: {ARN}\r\n\
         Lambda-Runtime-Trace-Id: Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0\r\n\
         Content-Length: {body_len}\r\n\r\n",
        request_id(seq),
        (deadline_ms / 1000) as u32,
        seq,
        seq.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    )
    .into_bytes()
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    for stream in listener.incoming() {
        if shared.stopped() {
            break;
        }
        let Ok(stream) = stream else {
            // E.g. EMFILE: do not spin.
            thread::sleep(Duration::from_millis(5));
            continue;
        };
        let _ = stream.set_nodelay(true);
        shared.lock().connections += 1;
        let sh = Arc::clone(&shared);
        let _ = thread::Builder::new()
            .name("bench-conn".into())
            .spawn(move || {
                let _ = serve(&sh, stream);
            });
    }
}

/// A parsed request head.
struct Head {
    len: usize,
    get: bool,
    path_start: usize,
    path_end: usize,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
}

fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    buf[start..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| start + p + 4)
}

fn parse_head(buf: &[u8], len: usize) -> Option<Head> {
    let head = &buf[..len];
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = &head[..line_end];
    let sp1 = line.iter().position(|&b| b == b' ')?;
    let rest = &line[sp1 + 1..];
    let sp2 = rest.iter().position(|&b| b == b' ')?;
    let mut h = Head {
        len,
        get: &line[..sp1] == b"GET",
        path_start: sp1 + 1,
        path_end: sp1 + 1 + sp2,
        content_length: None,
        chunked: false,
        close: false,
    };
    for l in head[line_end + 2..len].split(|&b| b == b'\n') {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        let Some(colon) = l.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = &l[..colon];
        let value = std::str::from_utf8(&l[colon + 1..]).unwrap_or("").trim();
        if name.eq_ignore_ascii_case(b"content-length") {
            h.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            h.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            h.close = value.eq_ignore_ascii_case("close");
        }
    }
    Some(h)
}

/// Decodes a complete chunked body starting at `buf[0]`: `Some((body, consumed))`, or `None`
/// when incomplete. Malformed framing is an error.
fn dechunk(buf: &[u8]) -> io::Result<Option<(Vec<u8>, usize)>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad chunked body");
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[pos..pos + eol]).map_err(|_| bad())?;
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad())?;
        pos += eol + 2;
        if size == 0 {
            // Trailers until an empty line.
            loop {
                let Some(eol) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

fn serve(shared: &Shared, mut stream: TcpStream) -> io::Result<()> {
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    stream.set_read_timeout(Some(TICK))?;
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut filled = 0usize;
    let mut scanned = 0usize;
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    loop {
        // Read until a whole request is in `buf[..filled]`.
        let head = loop {
            if let Some(end) = find_head_end(&buf[..filled], scanned) {
                break parse_head(&buf, end)
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad head"))?;
            }
            scanned = filled;
            read_more(shared, &mut stream, &mut buf, &mut filled)?;
        };
        let (body, consumed): (Vec<u8>, usize) = if head.chunked {
            loop {
                if let Some((b, n)) = dechunk(&buf[head.len..filled])? {
                    break (b, head.len + n);
                }
                read_more(shared, &mut stream, &mut buf, &mut filled)?;
            }
        } else {
            let n = head.content_length.unwrap_or(0);
            if buf.capacity() < head.len + n {
                buf.reserve(head.len + n - buf.len());
            }
            while filled < head.len + n {
                read_more(shared, &mut stream, &mut buf, &mut filled)?;
            }
            (Vec::new(), head.len + n)
        };
        let done_at = shared.now();
        let path = &buf[head.path_start..head.path_end];
        if head.get && path.ends_with(b"/runtime/invocation/next") {
            handle_next(shared, &mut stream, &mut out, done_at)?;
        } else if !head.get && path.ends_with(b"/runtime/init/error") {
            let mut st = shared.lock();
            st.init_errors += 1;
            let wake = st.runner_waits;
            drop(st);
            if wake {
                shared.answer_cv.notify_all();
            }
            stream.write_all(ACCEPTED)?;
        } else if !head.get && (path.ends_with(b"/response") || path.ends_with(b"/error")) {
            let is_error = path.ends_with(b"/error");
            let suffix = if is_error { 6 } else { 9 };
            let id_end = path.len() - suffix;
            let id_start = path[..id_end]
                .iter()
                .rposition(|&b| b == b'/')
                .map_or(0, |p| p + 1);
            let seq = seq_of(&path[id_start..id_end]);
            let body: &[u8] = if head.chunked {
                &body
            } else {
                &buf[head.len..consumed]
            };
            record_answer(shared, seq, is_error, body, done_at);
            stream.write_all(ACCEPTED)?;
        } else {
            stream.write_all(NOT_FOUND)?;
        }
        if head.close {
            return Ok(());
        }
        // Keep what followed this request.
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        scanned = 0;
        if buf.capacity() > 1 << 20 && filled < 64 * 1024 {
            buf.truncate(filled);
            buf.shrink_to(64 * 1024);
        }
    }
}

/// Reads more bytes into `buf`, growing it when full; EOF and the stop flag end the connection.
fn read_more(
    shared: &Shared,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    filled: &mut usize,
) -> io::Result<()> {
    if buf.len() < buf.capacity() {
        let cap = buf.capacity();
        buf.resize(cap, 0);
    }
    if *filled == buf.len() {
        let n = (buf.len() * 2).max(64 * 1024);
        buf.resize(n, 0);
    }
    loop {
        if shared.stopped() {
            return Err(io::Error::other("stopped"));
        }
        match stream.read(&mut buf[*filled..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                *filled += n;
                return Ok(());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

fn handle_next(
    shared: &Shared,
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    done_at: u64,
) -> io::Result<()> {
    let mut st = shared.lock();
    if st.first_next_at.is_none() {
        st.first_next_at = Some(done_at);
    }
    let (seq, body) = loop {
        if shared.stopped() {
            return Err(io::Error::other("stopped"));
        }
        if let Some(b) = st.queue.front_mut() {
            b.remaining -= 1;
            let body = Arc::clone(&b.body);
            if b.remaining == 0 {
                st.queue.pop_front();
            }
            let seq = st.next_seq;
            st.next_seq += 1;
            break (seq, body);
        }
        st.next_waiters += 1;
        st = shared
            .queue_cv
            .wait_timeout(st, TICK)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        st.next_waiters -= 1;
    };
    drop(st);
    out.clear();
    out.extend_from_slice(&next_head(shared.deadline_ms, seq, body.len()));
    if body.len() <= 64 * 1024 {
        out.extend_from_slice(&body);
        stream.write_all(out)?;
    } else {
        stream.write_all(out)?;
        stream.write_all(&body)?;
    }
    if let Some(t) = shared.sent_at.get(seq as usize) {
        t.store(shared.now(), Ordering::Relaxed);
    }
    Ok(())
}

fn record_answer(shared: &Shared, seq: Option<u64>, is_error: bool, body: &[u8], at: u64) {
    let sent = seq
        .and_then(|s| shared.sent_at.get(s as usize))
        .map(|t| t.load(Ordering::Relaxed));
    let mut st = shared.lock();
    if is_error {
        st.errors += 1;
        if st.first_error.is_none() {
            st.first_error = Some(snippet(body));
        }
    } else {
        st.responses += 1;
    }
    if st.first_answer_at.is_none() {
        st.first_answer_at = Some(at);
    }
    st.last_answer_at = at;
    if let Some(seq) = seq {
        let expect = st
            .expects
            .iter()
            .rev()
            .find(|e| e.from <= seq && seq < e.to)
            .and_then(|e| e.body.clone());
        if let Some(exp) = expect
            && (is_error || *exp != *body)
        {
            st.mismatches += 1;
            if st.first_mismatch.is_none() {
                st.first_mismatch = Some(snippet(body));
            }
        }
    }
    if st.keep_last {
        st.last_body.clear();
        st.last_body.extend_from_slice(body);
    }
    if st.record_latency
        && let Some(sent) = sent.filter(|&s| s > 0)
    {
        st.latencies.push(at.saturating_sub(sent));
    }
    let wake = st.runner_waits;
    drop(st);
    if wake {
        shared.answer_cv.notify_all();
    }
}

fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned();
    if b.len() > 200 {
        format!("{s}... ({} bytes)", b.len())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for seq in [0u64, 1, 99_999, 1 << 40] {
            assert_eq!(seq_of(request_id(seq).as_bytes()), Some(seq));
        }
    }

    #[test]
    fn next_heads_have_one_length() {
        let a = next_head(1_700_000_000_000, 0, 16).len();
        let b = next_head(1_700_000_000_000, 123_456, 16).len();
        assert_eq!(a, b);
    }

    #[test]
    fn dechunks() {
        let b = b"5\r\nhello\r\n1;x=y\r\n!\r\n0\r\nT: v\r\n\r\nrest";
        let (body, n) = dechunk(b).unwrap().unwrap();
        assert_eq!(body, b"hello!");
        assert_eq!(&b[n..], b"rest");
        assert!(dechunk(b"5\r\nhel").unwrap().is_none());
    }

    #[test]
    fn serves_a_null_client() {
        let server = Server::start(10).unwrap();
        let body: Arc<[u8]> = Arc::from(&b"{\"name\":\"World\"}"[..]);
        let expect: Arc<[u8]> = Arc::from(&b"\"Hello World!\""[..]);
        server.push(2, body, Some(expect));
        let mut s = TcpStream::connect(server.addr()).unwrap();
        for seq in 0..2u64 {
            s.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
                .unwrap();
            let mut next = vec![0u8; server.next_head(seq, 16).len() + 16];
            s.read_exact(&mut next).unwrap();
            let post = format!(
                "POST /2018-06-01/runtime/invocation/{}/response HTTP/1.1\r\nContent-Length: 14\r\n\r\n\"Hello World!\"",
                request_id(seq)
            );
            s.write_all(post.as_bytes()).unwrap();
            let mut acc = vec![0u8; ACCEPTED.len()];
            s.read_exact(&mut acc).unwrap();
            assert_eq!(acc, ACCEPTED);
        }
        let c = server.wait_answers(2, Duration::from_secs(5), || true);
        assert_eq!((c.responses, c.mismatches, c.errors), (2, 0, 0));
    }
}
