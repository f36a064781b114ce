//! The `lamina-server` binary's `--bootstrap` mode against a runtime that misbehaves on request:
//! streamed responses printed as they arrive, deadlines enforced as Lambda does, bootstraps
//! restarted after they exit. The runtime is this test binary run again (see [`fake_runtime`]);
//! every wait is on an event (bytes on a pipe, a connection, a process exit) and bounded.

#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Client, answer_path};

/// Bound of every wait in these tests (only reached when one fails).
const WAIT: Duration = Duration::from_secs(20);

/// Set (to a scratch directory) when this binary runs as the fake runtime.
const DIR_VAR: &str = "LAMINA_BIN_TEST_DIR";
/// The fake runtime's start-up misbehaviour on its first start: `hang` or `exit`.
const INIT_VAR: &str = "LAMINA_BIN_TEST_INIT";
/// `127.0.0.1:PORT` the fake runtime connects to, between stream chunks, for a go-ahead byte.
const GO_VAR: &str = "LAMINA_BIN_TEST_GO";

/// A scratch directory with a `bootstrap` script that runs this binary as the fake runtime.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, env: &[(&str, &str)]) -> Scratch {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!(
            "lamina-server-binary-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut vars = format!("{DIR_VAR}='{}'", dir.display());
        for (k, v) in env {
            vars.push_str(&format!(" {k}='{v}'"));
        }
        let script = dir.join("bootstrap");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n{vars} exec '{}' --exact fake_runtime --nocapture --test-threads 1\n",
                std::env::current_exe().unwrap().display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch(dir)
    }

    fn bootstrap(&self) -> PathBuf {
        self.0.join("bootstrap")
    }

    /// How many times the fake runtime started.
    fn starts(&self) -> usize {
        std::fs::read_to_string(self.0.join("starts"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `lamina-server --bootstrap`, its stdout arriving on a channel as it is written.
/// Dropped before it ended (a failing test), it is killed.
struct Run {
    child: Child,
    stdout: Receiver<Vec<u8>>,
    out: Vec<u8>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Drop for Run {
    fn drop(&mut self) {
        // Not reaped before `wait` returned, so the pid is still this process's.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Run {
    fn start(bootstrap: &Path, args: &[&str]) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lamina-server"))
            .arg("--bootstrap")
            .arg(bootstrap)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, stdout) = mpsc::channel();
        let mut pipe = child.stdout.take().unwrap();
        thread::spawn(move || {
            let mut b = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut b) {
                if tx.send(b[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (err_buf, mut pipe) = (Arc::clone(&stderr), child.stderr.take().unwrap());
        thread::spawn(move || {
            let mut b = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut b) {
                err_buf.lock().unwrap().extend_from_slice(&b[..n]);
            }
        });
        Run {
            child,
            stdout,
            out: Vec::new(),
            stderr,
        }
    }

    /// Waits until stdout holds `s`.
    fn wait_stdout(&mut self, s: &str) {
        let until = Instant::now() + WAIT;
        while !String::from_utf8_lossy(&self.out).contains(s) {
            let left = until.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(b) => self.out.extend_from_slice(&b),
                Err(_) => panic!(
                    "{s:?} not on stdout: {:?}\nstderr: {}",
                    String::from_utf8_lossy(&self.out),
                    self.stderr()
                ),
            }
        }
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits for the exit; returns the exit code, the whole stdout and stderr.
    fn finish(mut self) -> (Option<i32>, String, String) {
        // Standard output ends when lamina-server exits (its runtimes do not share it).
        let until = Instant::now() + WAIT;
        loop {
            match self
                .stdout
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                Ok(b) => self.out.extend_from_slice(&b),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("lamina-server did not exit: {}", self.stderr())
                }
            }
        }
        let status = self.child.wait().unwrap();
        (
            status.code(),
            String::from_utf8_lossy(&self.out).into_owned(),
            self.stderr(),
        )
    }
}

fn run(scratch: &Scratch, args: &[&str]) -> (Option<i32>, String, String) {
    Run::start(&scratch.bootstrap(), args).finish()
}

#[test]
fn streamed_chunks_are_printed_as_they_arrive() {
    let go = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = go.local_addr().unwrap().to_string();
    let scratch = Scratch::new("stream", &[(GO_VAR, &addr)]);
    let mut run = Run::start(
        &scratch.bootstrap(),
        &["--event", r#"{"stream":["one","two"]}"#],
    );
    // "one" is on stdout while the runtime waits for our go-ahead to send "two".
    run.wait_stdout("one");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(go.accept().map(|(s, _)| s));
    });
    let mut waiting: TcpStream = rx.recv_timeout(WAIT).unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&run.out).contains("two"));
    waiting.write_all(b"g").unwrap();
    let (code, out, err) = run.finish();
    assert_eq!((code, out.as_str()), (Some(0), "onetwo\n"), "{err}");
    assert!(err.contains(" response 6 B in "), "{err}");
}

#[test]
fn a_timed_out_invocation_is_reported_and_the_bootstrap_restarted() {
    let scratch = Scratch::new("timeout", &[]);
    let (code, out, err) = run(
        &scratch,
        &[
            "--timeout",
            "0.3",
            "--event",
            r#"{"hang":1}"#,
            "--event",
            r#"{"name":"b"}"#,
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!((code, lines.len()), (Some(2), 2), "{out}\n{err}");
    assert!(
        lines[0].starts_with(r#"{"errorType":"Sandbox.Timedout","#)
            && lines[0].ends_with(r#"Task timed out after 0.30 seconds"}"#),
        "{out}"
    );
    assert_eq!(lines[1], r#""Hello b!""#);
    assert!(
        err.contains(" timed out after 0.30 s; restarting the bootstrap"),
        "{err}"
    );
    assert_eq!(scratch.starts(), 2);
}

#[test]
fn an_exited_bootstrap_is_restarted() {
    let scratch = Scratch::new("exit", &[]);
    let (code, out, err) = run(
        &scratch,
        &[
            "--event",
            r#"{"name":"a"}"#,
            "--event",
            r#"{"exit":3}"#,
            "--event",
            r#"{"name":"c","then_exit":0}"#,
            "--event",
            r#"{"name":"d"}"#,
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!((code, lines.len()), (Some(2), 4), "{out}\n{err}");
    assert_eq!(lines[0], r#""Hello a!""#);
    assert!(
        lines[1].starts_with(r#"{"errorType":"Runtime.ExitError","#)
            && lines[1].ends_with("exit status 3\"}"),
        "{out}"
    );
    // Exiting between invocations costs no event: the next one goes to a new process.
    assert_eq!(&lines[2..], [r#""Hello c!""#, r#""Hello d!""#]);
    assert!(
        err.contains("the bootstrap exited (exit status 3) before answering; restarting"),
        "{err}"
    );
    assert!(
        err.contains("the bootstrap exited (exit status 0) between invocations; starting it again"),
        "{err}"
    );
    assert_eq!(scratch.starts(), 3);

    // An exit as the last event: reported, not restarted.
    let scratch = Scratch::new("exit-last", &[]);
    let (code, out, err) = run(&scratch, &["--event", r#"{"exit":5}"#]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.contains("exit status 5"), "{out}");
    assert!(!err.contains("restarting"), "{err}");
    assert_eq!(scratch.starts(), 1);
}

#[test]
fn init_failures_cost_one_event_and_the_bootstrap_is_restarted() {
    for (how, expect) in [
        ("hang", "within 0.30 seconds of starting (init timeout)"),
        ("exit", "Runtime exited with error: exit status 4"),
    ] {
        let scratch = Scratch::new(&format!("init-{how}"), &[(INIT_VAR, how)]);
        let (code, out, err) = run(
            &scratch,
            &[
                "--init-timeout",
                "0.3",
                "--event",
                r#"{"name":"a"}"#,
                "--event",
                r#"{"name":"b"}"#,
            ],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!((code, lines.len()), (Some(2), 2), "{how}: {out}\n{err}");
        assert!(lines[0].contains(expect), "{how}: {out}");
        assert_eq!(lines[1], r#""Hello b!""#, "{how}: {err}");
        assert_eq!(scratch.starts(), 2, "{how}");
    }
}

/// Not a test on its own: when [`DIR_VAR`] is set, this binary acts as a Lambda runtime that
/// misbehaves as each event asks: `{"name":N}` answers `"Hello N!"` (then exits with code E if the
/// event has `"then_exit":E`), `{"exit":E}` exits with code E without answering, `{"hang":1}` never
/// answers, `{"stream":[..]}` streams the strings as chunks and, before each chunk after the first,
/// waits for a byte from [`GO_VAR`]. Each start appends a line to `DIR/starts`; [`INIT_VAR`] makes
/// the first start hang or exit (code 4) before asking for an invocation.
#[test]
fn fake_runtime() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let mut starts = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("starts"))
        .unwrap();
    starts.write_all(b"start\n").unwrap();
    drop(starts);
    let first = std::fs::read_to_string(dir.join("starts"))
        .unwrap()
        .lines()
        .count()
        == 1;
    match std::env::var(INIT_VAR).as_deref() {
        Ok("hang") if first => hang(),
        Ok("exit") if first => std::process::exit(4),
        _ => {}
    }
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap();
    let mut c = Client::connect(&api);
    c.s.set_read_timeout(None).unwrap();
    loop {
        c.get_next();
        let ev = c.response();
        let id = ev
            .header("Lambda-Runtime-Aws-Request-Id")
            .unwrap()
            .to_string();
        let body = ev.body_str().to_string();
        let field = |name: &str| {
            body.split_once(&format!(r#""{name}":"#))
                .map(|(_, rest)| rest.trim_start_matches('"'))
                .and_then(|rest| rest.split(['"', ',', '}']).next())
                .map(str::to_string)
        };
        if let Some(code) = field("exit") {
            std::process::exit(code.parse().unwrap());
        }
        if field("hang").is_some() {
            hang();
        }
        if let Some((_, list)) = body.split_once(r#""stream":["#) {
            let parts: Vec<&str> = list
                .split(']')
                .next()
                .unwrap()
                .split(',')
                .map(|p| p.trim_matches('"'))
                .collect();
            c.send(
                format!(
                    "POST {} HTTP/1.1\r\nLambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n",
                    answer_path(&id, "response")
                )
                .as_bytes(),
            );
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    let mut go = TcpStream::connect(std::env::var(GO_VAR).unwrap()).unwrap();
                    go.read_exact(&mut [0u8; 1]).unwrap();
                }
                c.send(format!("{:x}\r\n{p}\r\n", p.len()).as_bytes());
            }
            c.send(b"0\r\n\r\n");
        } else {
            let name = field("name").unwrap_or_default();
            let answer = format!("\"Hello {name}!\"");
            c.request(
                "POST",
                &answer_path(&id, "response"),
                &[],
                answer.as_bytes(),
            );
        }
        assert_eq!(c.response().status, 202);
        if let Some(code) = field("then_exit") {
            std::process::exit(code.parse().unwrap());
        }
    }
}

/// Hangs, as a stuck runtime does, but not forever: lamina-server kills it long before, and an
/// orphan of a failed test must not live on.
fn hang() -> ! {
    let until = Instant::now() + WAIT * 3;
    while Instant::now() < until {
        thread::park_timeout(until.saturating_duration_since(Instant::now()));
    }
    std::process::exit(9)
}
