//! The measurements: each spawns a runtime against its own [`Server`], with every wait bounded;
//! a runtime that crashes, stalls or answers wrongly gives `Err(reason)`.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::server::{self, ACCEPTED, Counters, Server};

pub type M<T> = Result<T, String>;

pub const HELLO_EVENT: &[u8] = br#"{"name":"World"}"#;
pub const HELLO_ANSWER: &[u8] = br#""Hello World!""#;

/// A running runtime process; dropping it kills it.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `program args..` with the Lambda environment pointing at `server`; stdout and
    /// stderr go to `log`. `spawned_at` is the server clock just before the spawn.
    pub fn spawn(server: &Server, program: &Path, args: &[&str], log: &Path) -> M<(Proc, u64)> {
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear();
        if let Some(p) = std::env::var_os("PATH") {
            cmd.env("PATH", p);
        }
        for (k, v) in [
            ("AWS_LAMBDA_RUNTIME_API", server.addr().to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", "lamina-bench".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/lamina-bench".into(),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef".into(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("_HANDLER", "bootstrap".into()),
        ] {
            cmd.env(k, v);
        }
        if let Some(dir) = log.parent() {
            let _ = fs::create_dir_all(dir);
        }
        let f = fs::File::create(log).map_err(|e| format!("log {}: {e}", log.display()))?;
        let f2 = f.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(f))
            .stderr(Stdio::from(f2));
        let at = server.now();
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", program.display()))?;
        Ok((
            Proc {
                child,
                log: log.to_path_buf(),
                status: None,
            },
            at,
        ))
    }

    pub fn alive(&mut self) -> bool {
        if self.status.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(s)) => {
                self.status = Some(s);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `VmHWM` (peak resident set) in KiB, from `/proc/PID/status`.
    pub fn hwm_kib(&self) -> M<u64> {
        let s = fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .map_err(|e| format!("/proc status: {e}"))?;
        s.lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmHWM in /proc/PID/status".to_string())
    }

    /// Sends SIGTERM (with `kill -TERM PID`: std has no way to) and waits up to `timeout`.
    pub fn terminate(&mut self, timeout: Duration) -> bool {
        if !self.alive() {
            return true;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if !self.alive() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// What became of a process that should still be running.
    pub fn describe(&mut self) -> String {
        let _ = self.alive();
        let status = match self.status {
            Some(s) => format!("exited ({s})"),
            None => "still running".into(),
        };
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let last: Vec<&str> = log.lines().rev().take(3).collect();
        if last.is_empty() {
            status
        } else {
            let mut last = last;
            last.reverse();
            format!("{status}; its output ends: {}", last.join(" / "))
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Checks that `want` answers arrived, all of them good.
fn check(c: &Counters, want: u64, p: &mut Proc, within: Duration) -> M<()> {
    if c.init_errors > 0 {
        return Err(format!("sent /init/error; {}", p.describe()));
    }
    if c.answered() < want {
        return Err(if p.alive() {
            format!(
                "stalled: {} of {want} answers within {} s ({} delivered, {} connections)",
                c.answered(),
                within.as_secs(),
                c.delivered,
                c.connections
            )
        } else {
            format!(
                "crashed after {} of {want} answers: {}",
                c.answered(),
                p.describe()
            )
        });
    }
    if c.errors > 0 {
        return Err(format!(
            "answered /error {} times: {}",
            c.errors,
            c.first_error.as_deref().unwrap_or("")
        ));
    }
    if c.mismatches > 0 {
        return Err(format!(
            "{} wrong answers, e.g. {}",
            c.mismatches,
            c.first_mismatch.as_deref().unwrap_or("")
        ));
    }
    Ok(())
}

fn arc(b: &[u8]) -> Arc<[u8]> {
    Arc::from(b)
}

fn log_path(work: &Path, what: &str) -> PathBuf {
    work.join("logs").join(what.replace(
        |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.',
        "_",
    ))
}

/// One cold start: (exec → first complete `GET /next`, exec → first `/response`), in ns.
pub fn cold_once(work: &Path, bin: &Path, tag: &str) -> M<(u64, u64)> {
    let server = Server::start(4).map_err(|e| e.to_string())?;
    server.push(1, arc(HELLO_EVENT), Some(arc(HELLO_ANSWER)));
    let within = Duration::from_secs(10);
    let (mut p, t0) = Proc::spawn(&server, bin, &[], &log_path(work, &format!("cold-{tag}")))?;
    let c = server.wait_answers(1, within, || p.alive());
    check(&c, 1, &mut p, within)?;
    let next = c.first_next_at.ok_or("no /next seen")?;
    let resp = c.first_answer_at.ok_or("no answer seen")?;
    Ok((next.saturating_sub(t0), resp.saturating_sub(t0)))
}

/// A warm run's figures.
#[derive(Debug, Clone, Copy)]
pub struct Warm {
    pub per_sec: f64,
    /// Latency from the server's `/next` answer to the `/response` it got back (ns).
    pub p50: u64,
    pub p99: u64,
    /// TCP connections the runtime opened.
    pub connections: u64,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn warm_figures(server: &Server, n: u64, t0: u64, c: &Counters) -> Warm {
    let mut lat = server.latencies();
    lat.sort_unstable();
    let secs = (c.last_answer_at.saturating_sub(t0)) as f64 / 1e9;
    Warm {
        per_sec: if secs > 0.0 { n as f64 / secs } else { 0.0 },
        p50: percentile(&lat, 0.50),
        p99: percentile(&lat, 0.99),
        connections: c.connections,
    }
}

fn run_timeout(n: u64) -> Duration {
    Duration::from_secs(60 + n / 500)
}

/// Warm throughput of the hello runtime `bin`: `warmup` invocations, then `n` timed.
pub fn warm(work: &Path, bin: &Path, tag: &str, warmup: u64, n: u64) -> M<Warm> {
    let server = Server::start((warmup + n + 4) as usize).map_err(|e| e.to_string())?;
    warm_on(&server, work, bin, &[], tag, warmup, n)
}

/// [`warm`] on `server`, `bin` started with `args`.
fn warm_on(
    server: &Server,
    work: &Path,
    bin: &Path,
    args: &[&str],
    tag: &str,
    warmup: u64,
    n: u64,
) -> M<Warm> {
    server.push(warmup, arc(HELLO_EVENT), Some(arc(HELLO_ANSWER)));
    let (mut p, _) = Proc::spawn(server, bin, args, &log_path(work, &format!("warm-{tag}")))?;
    let within = run_timeout(warmup);
    let c = server.wait_answers(warmup, within, || p.alive());
    check(&c, warmup, &mut p, within)?;
    server.record_latency(true, n as usize);
    let t0 = server.now();
    server.push(n, arc(HELLO_EVENT), Some(arc(HELLO_ANSWER)));
    let within = run_timeout(n);
    let c = server.wait_answers(warmup + n, within, || p.alive());
    check(&c, warmup + n, &mut p, within)?;
    Ok(warm_figures(server, n, t0, &c))
}

/// The null client's requests for `total` hello invocations on `server`: `GET /next`, one
/// pre-encoded `POST /response` per invocation, and the one length every `/next` answer has.
struct NullRequests {
    get: &'static [u8],
    posts: Vec<Vec<u8>>,
    next_len: usize,
}

impl NullRequests {
    fn new(server: &Server, total: u64) -> NullRequests {
        let posts = (0..total)
            .map(|seq| {
                let mut v = format!(
                    "POST /2018-06-01/runtime/invocation/{}/response HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    server::request_id(seq),
                    HELLO_ANSWER.len()
                )
                .into_bytes();
                v.extend_from_slice(HELLO_ANSWER);
                v
            })
            .collect();
        NullRequests {
            get: b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            posts,
            next_len: server.next_head(0, HELLO_EVENT.len()).len() + HELLO_EVENT.len(),
        }
    }

    /// The file bench/src/bin/null.rs reads.
    fn encode(&self) -> Vec<u8> {
        let mut f = Vec::new();
        let num = |f: &mut Vec<u8>, n: usize| f.extend_from_slice(&(n as u64).to_le_bytes());
        num(&mut f, self.next_len);
        num(&mut f, ACCEPTED.len());
        num(&mut f, self.get.len());
        f.extend_from_slice(self.get);
        num(&mut f, self.posts.len());
        for p in &self.posts {
            num(&mut f, p.len());
            f.extend_from_slice(p);
        }
        f
    }
}

/// The same server and hello invocations against the null client process `bin`
/// (bench/src/bin/null.rs): pre-encoded requests, no parsing (every `/next` answer of the run
/// has one known length), one keep-alive connection. The throughput bar's reference: like any
/// runtime, it is a process of its own.
pub fn null_process(work: &Path, bin: &Path, tag: &str, warmup: u64, n: u64) -> M<Warm> {
    let server = Server::start((warmup + n + 4) as usize).map_err(|e| e.to_string())?;
    let file = work.join(format!("null-requests-{tag}.bin"));
    let _ = fs::create_dir_all(work);
    fs::write(&file, NullRequests::new(&server, warmup + n).encode())
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let arg = file.to_string_lossy().into_owned();
    let warm = warm_on(&server, work, bin, &[&arg], tag, warmup, n);
    let _ = fs::remove_file(&file);
    warm
}

/// The null client as a thread of this process (no process switch between it and the server):
/// shown beside the throughput bar for what the process boundary costs on this machine.
pub fn null_in_process(warmup: u64, n: u64) -> M<Warm> {
    let total = warmup + n;
    let server = Server::start((total + 4) as usize).map_err(|e| e.to_string())?;
    let reqs = NullRequests::new(&server, total);
    let mut s = TcpStream::connect(server.addr()).map_err(|e| e.to_string())?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut next = vec![0u8; reqs.next_len];
    let mut acc = vec![0u8; ACCEPTED.len()];
    let mut one = |seq: u64| -> std::io::Result<()> {
        s.write_all(reqs.get)?;
        s.read_exact(&mut next)?;
        s.write_all(&reqs.posts[seq as usize])?;
        s.read_exact(&mut acc)
    };
    server.push(warmup, arc(HELLO_EVENT), Some(arc(HELLO_ANSWER)));
    for seq in 0..warmup {
        one(seq).map_err(|e| format!("null client: {e}"))?;
    }
    server.record_latency(true, n as usize);
    let t0 = server.now();
    server.push(n, arc(HELLO_EVENT), Some(arc(HELLO_ANSWER)));
    for seq in warmup..total {
        one(seq).map_err(|e| format!("null client: {e}"))?;
    }
    let c = server.wait_answers(total, Duration::from_secs(10), || true);
    if c.answered() < total || c.mismatches > 0 {
        return Err(format!("null client: {} of {total} answers", c.answered()));
    }
    Ok(warm_figures(&server, n, t0, &c))
}

/// A valgrind tool's totals over a run of `n` invocations of `event`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    /// callgrind: instructions; dhat and memcheck: heap blocks allocated.
    pub count: u64,
    /// dhat and memcheck: bytes allocated.
    pub bytes: u64,
}

/// Runs `bin` under `valgrind --tool=TOOL` for `n` invocations, stops it with SIGTERM and reads
/// valgrind's totals.
pub fn valgrind(
    work: &Path,
    tool: &str,
    bin: &Path,
    tag: &str,
    event: &[u8],
    expect: &[u8],
    n: u64,
) -> M<Totals> {
    let server = Server::start((n + 4) as usize).map_err(|e| e.to_string())?;
    server.push(n, arc(event), Some(arc(expect)));
    let vlog = log_path(work, &format!("valgrind-{tool}-{tag}-{n}.txt"));
    let _ = fs::remove_file(&vlog);
    let out_file = log_path(work, &format!("{tool}-{tag}-{n}.out"));
    let mut args = vec![
        format!("--tool={tool}"),
        format!("--log-file={}", vlog.display()),
    ];
    match tool {
        "callgrind" => args.push(format!("--callgrind-out-file={}", out_file.display())),
        "dhat" => args.push(format!("--dhat-out-file={}", out_file.display())),
        _ => args.push("--leak-check=no".into()),
    }
    args.push(bin.display().to_string());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (mut p, _) = Proc::spawn(
        &server,
        Path::new("valgrind"),
        &argv,
        &log_path(work, &format!("valgrind-{tool}-{tag}-{n}.stderr")),
    )?;
    let within = Duration::from_secs(120 + n / 20);
    let c = server.wait_answers(n, within, || p.alive());
    check(&c, n, &mut p, within)?;
    if !p.terminate(Duration::from_secs(120)) {
        return Err("did not exit within 120 s of SIGTERM under valgrind".into());
    }
    let text = fs::read_to_string(&vlog).map_err(|e| format!("valgrind log: {e}"))?;
    if tool != "callgrind" {
        // Callgrind's per-function profile stays, for `callgrind_annotate`.
        let _ = fs::remove_file(&out_file);
    }
    parse_valgrind(tool, &text).ok_or_else(|| {
        format!(
            "no totals in valgrind's log {} ({})",
            vlog.display(),
            text.lines().last().unwrap_or("")
        )
    })
}

/// Runs `bin` under `strace -f -c` for `n` invocations of `event`, stops it with SIGTERM (sent to
/// the traced runtime, not to strace) and returns the total number of syscalls of all its threads.
pub fn strace(work: &Path, bin: &Path, tag: &str, event: &[u8], expect: &[u8], n: u64) -> M<u64> {
    let server = Server::start((n + 4) as usize).map_err(|e| e.to_string())?;
    server.push(n, arc(event), Some(arc(expect)));
    let summary = log_path(work, &format!("strace-{tag}-{n}.txt"));
    let _ = fs::remove_file(&summary);
    let out = summary.display().to_string();
    let program = bin.display().to_string();
    let argv = ["-f", "-c", "-o", out.as_str(), "--", program.as_str()];
    let (mut p, _) = Proc::spawn(
        &server,
        Path::new("strace"),
        &argv,
        &log_path(work, &format!("strace-{tag}-{n}.stderr")),
    )?;
    let within = Duration::from_secs(60 + n / 100);
    let c = server.wait_answers(n, within, || p.alive());
    check(&c, n, &mut p, within)?;
    // strace's only child is the runtime; when it exits, strace writes the summary and exits.
    let children = format!("/proc/{0}/task/{0}/children", p.pid());
    let tracee = fs::read_to_string(&children)
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .ok_or_else(|| format!("cannot find strace's child in {children}"))?;
    let _ = Command::new("kill").args(["-TERM", &tracee]).status();
    let end = Instant::now() + Duration::from_secs(30);
    while p.alive() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    if p.alive() {
        return Err("did not exit within 30 s of SIGTERM under strace".into());
    }
    let text = fs::read_to_string(&summary).map_err(|e| format!("strace summary: {e}"))?;
    parse_strace(&text).ok_or_else(|| format!("no total in strace's summary {}", summary.display()))
}

/// The calls column of `strace -c`'s `total` line.
pub fn parse_strace(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_end().ends_with("total"))?;
    // "100.00    0.001234           0      5678        12 total": % time, seconds, usecs/call,
    // calls, [errors], "total".
    line.split_whitespace().nth(3)?.parse().ok()
}

fn number(s: &str) -> Option<u64> {
    let d: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    d.parse().ok()
}

pub fn parse_valgrind(tool: &str, text: &str) -> Option<Totals> {
    for line in text.lines() {
        if tool == "callgrind" {
            if let Some(rest) = line.split("Collected :").nth(1) {
                return Some(Totals {
                    count: number(rest)?,
                    bytes: 0,
                });
            }
        } else if tool == "dhat" {
            // "Total:     6,441,033 bytes in 640 blocks"
            if let Some(rest) = line.split("Total:").nth(1) {
                let bytes = number(rest.split("bytes").next()?)?;
                let blocks = number(rest.split(" in ").nth(1)?.split("blocks").next()?)?;
                return Some(Totals {
                    count: blocks,
                    bytes,
                });
            }
        } else if let Some(rest) = line.split("total heap usage:").nth(1) {
            // "N allocs, M frees, B bytes allocated" (numbers with thousands separators).
            let allocs = number(rest.split("allocs").next()?)?;
            let bytes = number(rest.split("frees").nth(1)?.split("bytes").next()?)?;
            return Some(Totals {
                count: allocs,
                bytes,
            });
        }
    }
    None
}

/// lamina's counting-allocator figure: heap allocations per warm invocation of the
/// `alloc-count` bin (mio transport, raw echo), over `n` invocations.
pub fn alloc_count(work: &Path, bin: &Path, n: u64) -> M<f64> {
    let server = Server::start((n + 100) as usize).map_err(|e| e.to_string())?;
    let (mut p, _) = Proc::spawn(&server, bin, &[], &log_path(work, "alloc-count"))?;
    let mut answered = 0u64;
    // Warm up, sizing the reused buffers with events of growing size, as examples/tests/mio.rs.
    for i in 0..50 {
        let body = format!("warm-up {i} {}", "x".repeat(i * 20)).into_bytes();
        echo_n(&server, &mut p, &body, 1, &mut answered)?;
    }
    // The first `count` sizes the output buffer its answer is written into.
    count(&server, &mut p, &mut answered)?;
    let before = count(&server, &mut p, &mut answered)?;
    echo_n(&server, &mut p, br#"{"n":12345}"#, n, &mut answered)?;
    let after = count(&server, &mut p, &mut answered)?;
    Ok(after.saturating_sub(before) as f64 / n as f64)
}

fn echo_n(server: &Server, p: &mut Proc, body: &[u8], k: u64, answered: &mut u64) -> M<()> {
    let b = arc(body);
    server.push(k, Arc::clone(&b), Some(b));
    *answered += k;
    let within = run_timeout(k);
    let c = server.wait_answers(*answered, within, || p.alive());
    check(&c, *answered, p, within)
}

fn count(server: &Server, p: &mut Proc, answered: &mut u64) -> M<u64> {
    server.keep_last_body(true);
    server.push(1, arc(b"count"), None);
    *answered += 1;
    let within = Duration::from_secs(30);
    let c = server.wait_answers(*answered, within, || p.alive());
    server.keep_last_body(false);
    check(&c, *answered, p, within)?;
    String::from_utf8_lossy(&server.last_body())
        .trim()
        .parse()
        .map_err(|_| "`count` answer is not a number".to_string())
}

/// Peak RSS (`VmHWM`, KiB) after each cumulative count of hello invocations in `checkpoints`,
/// every invocation with its own trace id.
pub fn rss_series(work: &Path, bin: &Path, tag: &str, checkpoints: &[u64]) -> M<Vec<u64>> {
    let last = checkpoints.iter().copied().max().unwrap_or(0);
    let server = Server::start((last + 4) as usize).map_err(|e| e.to_string())?;
    let (mut p, _) = Proc::spawn(&server, bin, &[], &log_path(work, &format!("rss-{tag}")))?;
    let mut done = 0;
    let mut out = Vec::new();
    for &cp in checkpoints {
        server.push(cp - done, arc(HELLO_EVENT), Some(arc(HELLO_ANSWER)));
        let within = run_timeout(cp - done);
        let c = server.wait_answers(cp, within, || p.alive());
        check(&c, cp, &mut p, within)?;
        done = cp;
        out.push(p.hwm_kib()?);
    }
    Ok(out)
}

/// Peak RSS (KiB) of the echo runtime after echoing an event of `size` bytes (a JSON string,
/// valid for the official runtime's `RawValue`) `reps` times: (before the big events, after).
pub fn rss_big_echo(work: &Path, bin: &Path, tag: &str, size: usize, reps: u64) -> M<(u64, u64)> {
    let server = Server::start((reps + 20) as usize).map_err(|e| e.to_string())?;
    let (mut p, _) = Proc::spawn(&server, bin, &[], &log_path(work, &format!("rss6mb-{tag}")))?;
    server.push(10, arc(HELLO_EVENT), Some(arc(HELLO_EVENT)));
    let within = Duration::from_secs(30);
    let c = server.wait_answers(10, within, || p.alive());
    check(&c, 10, &mut p, within)?;
    let before = p.hwm_kib()?;
    let mut big = vec![b'x'; size];
    big[0] = b'"';
    big[size - 1] = b'"';
    let big = arc(&big);
    server.push(reps, Arc::clone(&big), Some(big));
    let within = Duration::from_secs(60);
    let c = server.wait_answers(10 + reps, within, || p.alive());
    check(&c, 10 + reps, &mut p, within)?;
    Ok((before, p.hwm_kib()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valgrind_totals() {
        let cg =
            "==12== Events    : Ir\n==12== Collected : 1234567\n==12== I   refs:      1,234,567\n";
        assert_eq!(parse_valgrind("callgrind", cg).unwrap().count, 1_234_567);
        let mc = "==9==   total heap usage: 1,066 allocs, 1,001 frees, 2,345,678 bytes allocated\n";
        let t = parse_valgrind("memcheck", mc).unwrap();
        assert_eq!((t.count, t.bytes), (1066, 2_345_678));
        let dh = "==1618== Total:     6,441,033 bytes in 640 blocks\n==1618== At t-gmax: 6,432,879 bytes in 20 blocks\n";
        let t = parse_valgrind("dhat", dh).unwrap();
        assert_eq!((t.count, t.bytes), (640, 6_441_033));
    }

    #[test]
    fn parses_strace_totals() {
        let t = "% time     seconds  usecs/call     calls    errors syscall\n------ ----------- ----------- --------- --------- ----------------\n 60.00    0.000600           1       600           recvfrom\n------ ----------- ----------- --------- --------- ----------------\n100.00    0.001000           0      1234        17 total\n";
        assert_eq!(parse_strace(t), Some(1234));
        let no_errors = "100.00    0.001000           0       987           total\n";
        assert_eq!(parse_strace(no_errors), Some(987));
        assert_eq!(parse_strace("strace: exec failed\n"), None);
    }

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 51);
        assert_eq!(percentile(&v, 0.99), 99);
    }
}
