//! `lamina-server`: run a Lambda `bootstrap` against a local fake Runtime API, or just serve one.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::{Child, ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use lamina_server::{Invocation, OutcomeKind, Server, ServerConfig};

const USAGE: &str = "\
usage: lamina-server [OPTIONS]

Runs a local fake AWS Lambda Runtime API on 127.0.0.1. With --bootstrap, starts that runtime,
sends it the events, prints each response body on stdout (one line each; a streamed response
chunk by chunk as it arrives, when one invocation runs at a time) and exits. As on Lambda, an
invocation that outlives its timeout is reported as timed out and the bootstrap is killed and
started again, and so is a bootstrap that exits: the remaining events are still sent. A failed
invocation's line is Lambda's error payload (errorType Sandbox.Timedout or Runtime.ExitError).
Without --bootstrap, prints the environment for a runtime and serves until interrupted; then
`curl -d '{}' http://127.0.0.1:PORT/2015-03-31/functions/function/invocations` invokes it.

options:
  --bootstrap PATH       the runtime to start (its stderr is shown, its stdout goes to stderr)
  --event JSON           an event to send (repeatable)
  --events-file FILE     events to send, one per line
                         (with --bootstrap and neither of these: events from stdin, one per line)
  --repeat N             send the events N times, then print a summary on stderr
  --concurrency N        set AWS_LAMBDA_MAX_CONCURRENCY=N and keep N invocations outstanding
  --timeout SECS         per-invocation deadline (default 3)
  --init-timeout SECS    how long a (re)started bootstrap may take to ask for its first
                         invocation (default 10, Lambda's init limit)
  --function-name NAME   AWS_LAMBDA_FUNCTION_NAME (default test-function)
  --memory MB            AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 128)
  --port P               port to listen on (default: an ephemeral one)
  --prefix PATH          path prefix, e.g. /.rt (as cargo-lambda does)
  --http                 put http:// in front of AWS_LAMBDA_RUNTIME_API
  --snap-start           answer /restore/next (AWS_LAMBDA_INITIALIZATION_TYPE=snap-start)
  -h, --help             show this help

exit status: 0 all answered, 1 some invocation answered with an error, 2 the runtime failed at
least once (exited before answering, or an invocation timed out), or bad usage.";

#[derive(Debug)]
struct Args {
    bootstrap: Option<PathBuf>,
    events: Vec<Vec<u8>>,
    events_file: Option<PathBuf>,
    repeat: Option<usize>,
    concurrency: Option<u32>,
    init_timeout: Duration,
    cfg: ServerConfig,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            bootstrap: None,
            events: Vec::new(),
            events_file: None,
            repeat: None,
            concurrency: None,
            init_timeout: Duration::from_secs(10),
            cfg: ServerConfig::default(),
        }
    }
}

fn parse_num<T: std::str::FromStr>(opt: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{opt}: not a valid number: {v:?}"))
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args::default();
    while let Some(arg) = it.next() {
        let (opt, inline) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let flag = |inline: &Option<String>| -> Result<(), String> {
            match inline {
                Some(_) => Err(format!("{opt} takes no value")),
                None => Ok(()),
            }
        };
        match opt.as_str() {
            "-h" | "--help" => return Ok(None),
            "--http" => {
                flag(&inline)?;
                a.cfg.http_scheme = true;
                continue;
            }
            "--snap-start" => {
                flag(&inline)?;
                a.cfg.snap_start = true;
                continue;
            }
            _ => {}
        }
        let known = [
            "--bootstrap",
            "--event",
            "--events-file",
            "--repeat",
            "--concurrency",
            "--timeout",
            "--init-timeout",
            "--function-name",
            "--memory",
            "--port",
            "--prefix",
        ];
        if !known.contains(&opt.as_str()) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("{opt} needs a value"))?,
        };
        match opt.as_str() {
            "--bootstrap" => a.bootstrap = Some(PathBuf::from(value)),
            "--event" => a.events.push(value.into_bytes()),
            "--events-file" => a.events_file = Some(PathBuf::from(value)),
            "--repeat" => {
                let n: usize = parse_num(&opt, &value)?;
                if n == 0 {
                    return Err("--repeat must be at least 1".into());
                }
                a.repeat = Some(n);
            }
            "--concurrency" => {
                let n: u32 = parse_num(&opt, &value)?;
                if n == 0 {
                    return Err("--concurrency must be at least 1".into());
                }
                a.concurrency = Some(n);
                a.cfg.max_concurrency = Some(n);
            }
            "--timeout" | "--init-timeout" => {
                let s: f64 = parse_num(&opt, &value)?;
                if !(s > 0.0 && s <= 86_400.0) {
                    return Err(format!("{opt}: out of range: {value}"));
                }
                if opt == "--timeout" {
                    a.cfg.timeout = Duration::from_secs_f64(s);
                } else {
                    a.init_timeout = Duration::from_secs_f64(s);
                }
            }
            "--function-name" => {
                if value.is_empty() || value.bytes().any(|b| b.is_ascii_control()) {
                    return Err(
                        "--function-name: must be non-empty, without control characters".into(),
                    );
                }
                a.cfg.function_name = value;
            }
            "--memory" => a.cfg.memory_mb = parse_num(&opt, &value)?,
            "--port" => a.cfg.port = parse_num(&opt, &value)?,
            "--prefix" => {
                if !value.is_empty() && !value.starts_with('/') {
                    return Err(format!("--prefix must start with '/': {value:?}"));
                }
                a.cfg.path_prefix = value;
            }
            _ => unreachable!("option list and match disagree"),
        }
    }
    if a.bootstrap.is_none()
        && (!a.events.is_empty() || a.events_file.is_some() || a.repeat.is_some())
    {
        return Err("--event, --events-file and --repeat need --bootstrap (without it the server only serves)".into());
    }
    Ok(Some(a))
}

fn lines(r: impl BufRead) -> io::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for line in r.split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            out.push(line);
        }
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("lamina-server: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("lamina-server: {e}");
            ExitCode::from(2)
        }
    }
}

fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

fn run(mut args: Args) -> Result<u8, String> {
    let server = Server::start_with(args.cfg.clone())
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.cfg.port))?;
    let Some(bootstrap) = args.bootstrap.take() else {
        for (k, v) in server.lambda_env() {
            println!("export {k}={}", shell_quote(&v));
        }
        eprintln!(
            "lamina-server: serving the Runtime API on {addr}. The export lines on stdout are the \
             environment a bootstrap needs (it cannot start without AWS_LAMBDA_RUNTIME_API={api}): \
             run them in the shell that starts it. Then invoke with: \
             curl -d '{{}}' http://{addr}/2015-03-31/functions/function/invocations",
            addr = server.addr(),
            api = server.runtime_api(),
        );
        let _ = io::stdout().flush();
        loop {
            thread::park();
        }
    };
    if let Some(f) = &args.events_file {
        let file = std::fs::File::open(f).map_err(|e| format!("{}: {e}", f.display()))?;
        args.events
            .extend(lines(io::BufReader::new(file)).map_err(|e| format!("{}: {e}", f.display()))?);
    } else if args.events.is_empty() {
        args.events = lines(io::stdin().lock()).map_err(|e| format!("stdin: {e}"))?;
    }
    if args.events.is_empty() {
        return Err("no events to send".into());
    }
    let out = Arc::new(Mutex::new(Output {
        w: BufWriter::new(io::stdout()),
        live: None,
        printed: 0,
    }));
    if args.concurrency.unwrap_or(1) == 1 {
        // One invocation at a time: a streamed response is printed chunk by chunk, as it arrives.
        let out = Arc::clone(&out);
        server.watch_streams(move |id, chunk| {
            let mut o = lock(&out);
            if o.live.as_deref() == Some(id) {
                let _ = o.w.write_all(chunk);
                let _ = o.w.flush();
                o.printed += chunk.len();
            }
        });
    }
    let mut rt = Runtime::start(&server, bootstrap)?;
    let result = drive(&server, &mut rt, &args, &out);
    let rss = args.repeat.map(|_| peak_rss_kb(rt.child.id()));
    stop(&mut rt.child);
    let _ = lock(&out).w.flush();
    let (code, stats) = result;
    if let (Some(stats), Some(rss)) = (stats, rss) {
        stats.print(rss);
    }
    Ok(code)
}

/// Standard output, shared with the callback that prints streamed chunks.
#[derive(Debug)]
struct Output {
    w: BufWriter<io::Stdout>,
    /// The request id whose streamed chunks are printed as they arrive.
    live: Option<String>,
    /// Bytes of `live`'s response printed so far.
    printed: usize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The bootstrap process, restarted as Lambda would after it exits or an invocation times out.
#[derive(Debug)]
struct Runtime {
    path: PathBuf,
    child: Child,
    /// When this process was started.
    started: Instant,
    /// Invocations this process answered.
    answered: usize,
}

impl Runtime {
    fn start(server: &Server, path: PathBuf) -> Result<Runtime, String> {
        let mut cmd = server.command(&path);
        cmd.stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", path.display()))?;
        // The runtime's stdout is its log, not a response: show it on stderr.
        if let Some(mut out) = child.stdout.take() {
            thread::spawn(move || io::copy(&mut out, &mut io::stderr()));
        }
        Ok(Runtime {
            path,
            child,
            started: Instant::now(),
            answered: 0,
        })
    }

    /// Kills the process (as Lambda does, without notice) and starts a new one.
    fn restart(&mut self, server: &Server) -> Result<(), String> {
        kill(&mut self.child);
        *self = Runtime::start(server, self.path.clone())?;
        Ok(())
    }
}

#[derive(Debug)]
struct Stats {
    /// Submission to answer, per invocation.
    latencies: Vec<Duration>,
    /// First submission to last answer (includes the runtime's start-up).
    elapsed: Duration,
    /// First answer to last answer: the warm rate leaves out start-up and the first invocation.
    warm: Duration,
}

impl Stats {
    fn print(mut self, rss_kb: Option<u64>) {
        self.latencies.sort();
        let pct = |p: f64| -> f64 {
            let n = self.latencies.len();
            if n == 0 {
                return 0.0;
            }
            let i = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            self.latencies[i].as_secs_f64() * 1000.0
        };
        let n = self.latencies.len();
        let secs = self.elapsed.as_secs_f64();
        let rate = if n >= 2 && !self.warm.is_zero() {
            (n - 1) as f64 / self.warm.as_secs_f64()
        } else if secs > 0.0 {
            n as f64 / secs
        } else {
            0.0
        };
        let rss = rss_kb.map_or_else(|| "unknown".to_string(), |kb| format!("{kb} kB"));
        eprintln!(
            "lamina-server: {n} invocations in {secs:.3} s: {rate:.0} invocations/s (warm), latency p50 {:.3} ms, p99 {:.3} ms, bootstrap peak RSS (VmHWM) {rss}",
            pct(0.50),
            pct(0.99)
        );
    }
}

/// Why an invocation got no answer from the runtime.
#[derive(Debug)]
enum Failure {
    /// Its deadline passed.
    TimedOut,
    /// The bootstrap did not ask for it within the init timeout of starting.
    InitTimedOut,
    /// The bootstrap exited before answering it.
    Exited(ExitStatus),
    /// The bootstrap was restarted (for another invocation's failure) while it ran this one.
    Lost,
}

impl Failure {
    /// What Lambda returns to the caller, as JSON.
    fn payload(&self, id: &str, args: &Args) -> String {
        let (ty, why) = match self {
            Failure::TimedOut => (
                "Sandbox.Timedout",
                format!(
                    "Task timed out after {:.2} seconds",
                    args.cfg.timeout.as_secs_f64()
                ),
            ),
            Failure::InitTimedOut => (
                "Sandbox.Timedout",
                format!(
                    "the bootstrap did not ask for the invocation within {:.2} seconds of starting (init timeout)",
                    args.init_timeout.as_secs_f64()
                ),
            ),
            Failure::Exited(status) if status.success() => (
                "Runtime.ExitError",
                "Runtime exited without providing a reason".to_string(),
            ),
            Failure::Exited(status) => (
                "Runtime.ExitError",
                format!("Runtime exited with error: {}", describe(*status)),
            ),
            Failure::Lost => (
                "Runtime.ExitError",
                "the runtime was restarted while it ran this invocation".to_string(),
            ),
        };
        format!(r#"{{"errorType":"{ty}","errorMessage":"RequestId: {id} Error: {why}"}}"#)
    }

    /// The log line's reason.
    fn describe(&self, args: &Args) -> String {
        match self {
            Failure::TimedOut => format!("timed out after {:.2} s", args.cfg.timeout.as_secs_f64()),
            Failure::InitTimedOut => format!(
                "not asked for within {:.2} s of the bootstrap's start (init timeout)",
                args.init_timeout.as_secs_f64()
            ),
            Failure::Exited(status) => {
                format!(
                    "the bootstrap exited ({}) before answering",
                    describe(*status)
                )
            }
            Failure::Lost => "lost: the bootstrap was restarted while it ran it".to_string(),
        }
    }
}

/// How waiting for an invocation ended.
#[derive(Debug)]
enum Waited {
    Answered(lamina_server::Outcome),
    Failed(Failure),
    /// The bootstrap exited between invocations (after answering some, before taking this one):
    /// start a new one, as Lambda would, and keep waiting.
    ExitedBetween(ExitStatus),
}

#[derive(Debug)]
struct Pending {
    /// 1-based event number.
    n: usize,
    id: String,
    submitted: Instant,
    /// Settled already (lost in a restart).
    failed: Option<Failure>,
}

/// Sends every event, prints every answer. Returns the exit code and, with `--repeat`, the stats.
fn drive(
    server: &Server,
    rt: &mut Runtime,
    args: &Args,
    out: &Mutex<Output>,
) -> (u8, Option<Stats>) {
    let total = args.events.len() * args.repeat.unwrap_or(1);
    let window = args.concurrency.unwrap_or(1) as usize;
    let mut pending: VecDeque<Pending> = VecDeque::with_capacity(window);
    let mut latencies = Vec::with_capacity(if args.repeat.is_some() { total } else { 0 });
    let mut sent = 0;
    let (mut any_error, mut runtime_failed) = (false, false);
    let mut first: Option<Instant> = None;
    let mut first_answer: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    loop {
        while pending.len() < window && sent < total {
            let event = &args.events[sent % args.events.len()];
            let now = Instant::now();
            first.get_or_insert(now);
            let id = server.invoke(Invocation::new(event.clone()));
            if window == 1 {
                let mut o = lock(out);
                o.live = Some(id.clone());
                o.printed = 0;
            }
            pending.push_back(Pending {
                n: sent + 1,
                id,
                submitted: now,
                failed: None,
            });
            sent += 1;
        }
        let Some(front) = pending.front_mut() else {
            break;
        };
        let waited = match front.failed.take() {
            Some(f) => Waited::Failed(f),
            None => wait(server, rt, front, args),
        };
        let (n, id, submitted) = (front.n, front.id.clone(), front.submitted);
        match waited {
            Waited::Answered(o) => {
                pending.pop_front();
                rt.answered += 1;
                let latency = o.request.at.saturating_duration_since(submitted);
                first_answer.get_or_insert(o.request.at);
                last = last.max(Some(o.request.at));
                let is_error = o.kind == OutcomeKind::Error || o.error_type().is_some();
                let what = if is_error {
                    any_error = true;
                    format!("error ({})", o.error_type().unwrap_or("no error type"))
                } else {
                    "response".to_string()
                };
                {
                    let mut o_ = lock(out);
                    let printed = if o_.live.as_deref() == Some(&id) {
                        o_.live = None;
                        std::mem::take(&mut o_.printed)
                    } else {
                        0
                    };
                    let rest = o.request.body.get(printed..).unwrap_or_default();
                    let _ = o_.w.write_all(rest);
                    let _ = o_.w.write_all(b"\n");
                    if window == 1 || pending.is_empty() {
                        let _ = o_.w.flush();
                    }
                }
                // One write per line: `eprintln!` on unbuffered stderr writes each piece separately.
                let line = format!(
                    "lamina-server: #{n} {id} {what} {} B in {:.2} ms\n",
                    o.request.body.len(),
                    latency.as_secs_f64() * 1000.0
                );
                let _ = io::stderr().write_all(line.as_bytes());
                if args.repeat.is_some() {
                    latencies.push(latency);
                }
            }
            Waited::ExitedBetween(status) => {
                let line = format!(
                    "lamina-server: the bootstrap exited ({}) between invocations; starting it again\n",
                    describe(status)
                );
                let _ = io::stderr().write_all(line.as_bytes());
                if let Err(e) = rt.restart(server) {
                    eprintln!("lamina-server: {e}");
                    return (2, None);
                }
            }
            Waited::Failed(failure) => {
                pending.pop_front();
                runtime_failed = true;
                server.time_out(&id);
                {
                    let mut o_ = lock(out);
                    if o_.live.as_deref() == Some(&id) {
                        o_.live = None;
                        if std::mem::take(&mut o_.printed) > 0 {
                            // End the line of the cut stream.
                            let _ = o_.w.write_all(b"\n");
                        }
                    }
                    let _ = o_.w.write_all(failure.payload(&id, args).as_bytes());
                    let _ = o_.w.write_all(b"\n");
                    let _ = o_.w.flush();
                }
                let more = sent < total || !pending.is_empty();
                let lost = matches!(failure, Failure::Lost);
                let line = format!(
                    "lamina-server: #{n} {id} {}{}\n",
                    failure.describe(args),
                    if more && !lost {
                        "; restarting the bootstrap"
                    } else {
                        ""
                    }
                );
                let _ = io::stderr().write_all(line.as_bytes());
                if lost {
                    continue;
                }
                if !more {
                    kill(&mut rt.child);
                    continue;
                }
                // The new process cannot answer what the old one had taken.
                for p in pending.iter_mut() {
                    if p.failed.is_none() && server.delivered_at(&p.id).is_some() {
                        server.time_out(&p.id);
                        p.failed = Some(Failure::Lost);
                    }
                }
                if let Err(e) = rt.restart(server) {
                    eprintln!("lamina-server: {e}");
                    return (2, None);
                }
            }
        }
    }
    let stats = args.repeat.map(|_| Stats {
        latencies,
        elapsed: match (first, last) {
            (Some(f), Some(l)) => l.saturating_duration_since(f),
            _ => Duration::ZERO,
        },
        warm: match (first_answer, last) {
            (Some(f), Some(l)) => l.saturating_duration_since(f),
            _ => Duration::ZERO,
        },
    });
    let code = if runtime_failed {
        2
    } else {
        u8::from(any_error)
    };
    (code, stats)
}

/// Waits for the answer to `p`, watching its deadline (from its delivery; until then the init
/// timeout from the later of its submission and the bootstrap's start) and the bootstrap process.
fn wait(server: &Server, rt: &mut Runtime, p: &Pending, args: &Args) -> Waited {
    loop {
        let delivered = server.delivered_at(&p.id);
        let deadline = match delivered {
            Some(t) => t + args.cfg.timeout,
            None => p.submitted.max(rt.started) + args.init_timeout,
        };
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        if let Some(o) = server.wait_outcome(&p.id, slice) {
            return Waited::Answered(o);
        }
        if let Ok(Some(status)) = rt.child.try_wait() {
            // It may have answered just before exiting.
            if let Some(o) = server.wait_outcome(&p.id, Duration::from_millis(50)) {
                return Waited::Answered(o);
            }
            let taken = server.delivered_at(&p.id).is_some();
            if !taken && rt.answered > 0 {
                return Waited::ExitedBetween(status);
            }
            return Waited::Failed(Failure::Exited(status));
        }
        if Instant::now() >= deadline && server.delivered_at(&p.id) == delivered {
            return Waited::Failed(if delivered.is_some() {
                Failure::TimedOut
            } else {
                Failure::InitTimedOut
            });
        }
    }
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!("killed by signal {sig}");
        }
    }
    match status.code() {
        Some(c) => format!("exit status {c}"),
        None => status.to_string(),
    }
}

/// The process's peak resident set size in kB (`VmHWM` in `/proc/PID/status`), where available.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Kills the runtime at once (SIGKILL), as Lambda does to a runtime that timed out.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Stops the runtime: SIGTERM (via `kill`), then SIGKILL after 2 s.
fn stop(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<Option<Args>, String> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn args() {
        let a = parse(&[
            "--bootstrap",
            "x",
            "--event",
            "{}",
            "--event={\"a\":1}",
            "--concurrency",
            "4",
            "--prefix=/.rt",
            "--timeout",
            "1.5",
            "--init-timeout=0.25",
            "--http",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.events.len(), 2);
        assert_eq!(a.events[1], b"{\"a\":1}");
        assert_eq!(a.cfg.max_concurrency, Some(4));
        assert_eq!(a.cfg.path_prefix, "/.rt");
        assert_eq!(a.cfg.timeout, Duration::from_millis(1500));
        assert_eq!(a.init_timeout, Duration::from_millis(250));
        assert_eq!(
            parse(&["--bootstrap", "b"]).unwrap().unwrap().init_timeout,
            Duration::from_secs(10)
        );
        assert!(a.cfg.http_scheme);
        assert!(parse(&["--help"]).unwrap().is_none());
        for bad in [
            &["--nope"][..],
            &["--port"],
            &["--port", "x"],
            &["--repeat", "0", "--bootstrap", "b"],
            &["--event", "{}"],
            &["--http=1"],
            &["--prefix", "rt"],
            &["--timeout", "-1"],
            &["--init-timeout", "0"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn event_lines() {
        let l = lines(&b"{}\r\n\n  \n{\"a\":1}"[..]).unwrap();
        assert_eq!(l, vec![b"{}".to_vec(), b"{\"a\":1}".to_vec()]);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("$LATEST"), "'$LATEST'");
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
