//! Building the runtimes: lamina's examples (stable `release` and `release-size`, the nightly
//! min-size build) and bench/official, each copied out of its target directory as soon as it is
//! built (a later build with other features overwrites the same path).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The nightly min-size flags. `-Cpanic=immediate-abort` is a panic strategy behind
/// `-Zunstable-options` on current nightlies; older ones had `-Zbuild-std-features=panic_immediate_abort`.
pub const NIGHTLY_RUSTFLAGS: &str =
    "-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none";
pub const NIGHTLY_RUSTFLAGS_OLD: &str = "-Zlocation-detail=none -Zfmt-debug=none";
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Where things are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The lamina workspace root.
    pub root: PathBuf,
    /// bench/official/Cargo.toml.
    pub official_manifest: PathBuf,
    /// lamina's target directory (stable builds).
    pub target: PathBuf,
    /// The runner's own scratch directory (copies of binaries, valgrind logs).
    pub work: PathBuf,
}

impl Paths {
    pub fn new() -> Paths {
        let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let root = bench
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or(bench.clone());
        let target = root.join("target");
        Paths {
            official_manifest: bench.join("official").join("Cargo.toml"),
            work: target.join("lamina-bench"),
            target,
            root,
        }
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.work.join("bin").join(name)
    }
}

/// One cargo invocation's result, for the log and the report.
#[derive(Debug, Clone)]
pub struct BuildLog {
    pub what: String,
    pub ok: bool,
    pub secs: f64,
    pub note: String,
}

fn cargo() -> Command {
    // The cargo that runs us (same toolchain); `rustup run nightly cargo` for nightly.
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    clean_env(&mut c);
    c
}

fn clean_env(c: &mut Command) {
    for v in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "CARGO_MANIFEST_DIR",
        "CARGO_PKG_NAME",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        c.env_remove(v);
    }
    c.env("CARGO_TERM_COLOR", "never");
}

/// Runs a build; its output goes to a log file, the last lines into the note on failure.
fn run(paths: &Paths, what: &str, mut cmd: Command, logs: &mut Vec<BuildLog>) -> bool {
    let log = paths.work.join("logs").join(format!(
        "build-{}.log",
        what.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    ));
    let _ = fs::create_dir_all(log.parent().unwrap_or(&paths.work));
    eprintln!("[build] {what}");
    let t = Instant::now();
    let out = match fs::File::create(&log) {
        Ok(f) => {
            let f2 = f.try_clone();
            cmd.stdout(Stdio::from(f));
            if let Ok(f2) = f2 {
                cmd.stderr(Stdio::from(f2));
            }
            cmd.current_dir(&paths.root).status()
        }
        Err(e) => Err(e),
    };
    let secs = t.elapsed().as_secs_f64();
    let (ok, note) = match out {
        Ok(s) if s.success() => (true, String::new()),
        Ok(s) => (false, format!("{s}; {}", tail(&log, 6))),
        Err(e) => (false, format!("could not run cargo: {e}")),
    };
    eprintln!(
        "[build] {what}: {} in {secs:.0} s{}",
        if ok { "ok" } else { "FAILED" },
        if ok {
            String::new()
        } else {
            format!(" ({note})")
        }
    );
    logs.push(BuildLog {
        what: what.to_string(),
        ok,
        secs,
        note,
    });
    ok
}

fn tail(path: &Path, n: usize) -> String {
    let s = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

/// Copies a built binary into the work dir under `name`; returns its path.
fn keep(paths: &Paths, from: &Path, name: &str) -> Option<PathBuf> {
    let to = paths.bin(name);
    let _ = fs::create_dir_all(to.parent()?);
    let _ = fs::remove_file(&to);
    fs::copy(from, &to).ok()?;
    Some(to)
}

/// A binary copied out and `strip`ped; its size.
pub fn stripped_size(paths: &Paths, bin: &Path) -> Result<u64, String> {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let to = paths.work.join("stripped").join(&name);
    let _ = fs::create_dir_all(to.parent().unwrap_or(&paths.work));
    fs::copy(bin, &to).map_err(|e| format!("copy {}: {e}", bin.display()))?;
    match Command::new("strip").arg(&to).status() {
        Ok(s) if s.success() => {}
        Ok(s) => return Err(format!("strip failed: {s}")),
        Err(e) => return Err(format!("strip not found: {e}")),
    }
    fs::metadata(&to)
        .map(|m| m.len())
        .map_err(|e| e.to_string())
}

/// What the builds produced: the binary copies, by name.
#[derive(Debug, Default)]
pub struct Built {
    pub logs: Vec<BuildLog>,
    /// (key, path) e.g. ("release/hello", ...), ("release-size/hello-lean", ...).
    pub bins: Vec<(String, PathBuf)>,
    /// Why the nightly build was skipped or failed, if it was.
    pub nightly_note: Option<String>,
    pub nightly_flags: Option<String>,
}

impl Built {
    pub fn get(&self, key: &str) -> Option<&Path> {
        self.bins
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| p.as_path())
    }

    fn add(&mut self, paths: &Paths, key: &str, from: &Path) {
        let name = key.replace('/', "--");
        match keep(paths, from, &name) {
            Some(p) => self.bins.push((key.to_string(), p)),
            None => eprintln!("[build] missing {}", from.display()),
        }
    }
}

/// lamina's example bins used by the runner (default features), and the lean hellos.
const LAMINA_BINS: &[&str] = &["hello", "echo", "std-hello", "std-echo", "alloc-count"];
const LEAN_BINS: &[&str] = &["hello", "std-hello"];

/// Builds lamina (stable) in `profile`: every bin the runner needs with default features, then
/// the lean hellos.
fn lamina_stable(paths: &Paths, profile: &str, all_bins: bool, built: &mut Built) {
    let dir = paths.target.join(profile);
    let bins: &[&str] = if all_bins { LAMINA_BINS } else { LEAN_BINS };
    let mut cmd = cargo();
    cmd.args(["build", "--profile", profile, "-p", "lamina-examples"])
        .arg("--target-dir")
        .arg(&paths.target);
    for b in bins {
        cmd.args(["--bin", b]);
    }
    if run(
        paths,
        &format!("lamina {profile} (default features)"),
        cmd,
        &mut built.logs,
    ) {
        for b in bins {
            built.add(paths, &format!("lamina/{profile}/{b}"), &dir.join(b));
        }
    }
    // The lean hellos, and the bare std TCP loop (the floor) with them.
    let mut cmd = cargo();
    cmd.args(["build", "--profile", profile, "-p", "lamina-examples"])
        .args([
            "-p",
            "lamina-bench",
            "--no-default-features",
            "--bin",
            "bare",
            "--bin",
            "null",
        ])
        .arg("--target-dir")
        .arg(&paths.target);
    for b in LEAN_BINS {
        cmd.args(["--bin", b]);
    }
    if run(
        paths,
        &format!("lamina {profile} (--no-default-features) and the bare loop"),
        cmd,
        &mut built.logs,
    ) {
        for b in LEAN_BINS {
            built.add(paths, &format!("lamina/{profile}/{b}-lean"), &dir.join(b));
        }
        built.add(paths, &format!("bare/{profile}/bare"), &dir.join("bare"));
        built.add(paths, &format!("bare/{profile}/null"), &dir.join("null"));
    }
}

fn official_stable(paths: &Paths, profile: &str, built: &mut Built) {
    let mut cmd = cargo();
    cmd.args(["build", "--profile", profile, "--manifest-path"])
        .arg(&paths.official_manifest)
        .args(["--locked"]);
    let dir = official_target(paths).join(profile);
    if run(paths, &format!("official {profile}"), cmd, &mut built.logs) {
        for b in ["hello", "echo"] {
            built.add(paths, &format!("official/{profile}/{b}"), &dir.join(b));
        }
    }
}

fn official_target(paths: &Paths) -> PathBuf {
    paths
        .official_manifest
        .parent()
        .map(|p| p.join("target"))
        .unwrap_or_default()
}

fn rustup() -> Command {
    let mut c = Command::new("rustup");
    clean_env(&mut c);
    c.env_remove("RUSTUP_TOOLCHAIN").env_remove("CARGO");
    c
}

/// Makes sure the nightly toolchain has `rust-src`; `Err` says why not.
fn nightly_ready() -> Result<(), String> {
    let out = rustup()
        .args(["component", "list", "--installed", "--toolchain", "nightly"])
        .output()
        .map_err(|e| format!("rustup not found: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "no nightly toolchain ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.starts_with("rust-src"))
    {
        return Ok(());
    }
    eprintln!("[build] rustup component add rust-src --toolchain nightly");
    let st = rustup()
        .args(["component", "add", "rust-src", "--toolchain", "nightly"])
        .status()
        .map_err(|e| e.to_string())?;
    if st.success() {
        Ok(())
    } else {
        Err(format!(
            "`rustup component add rust-src --toolchain nightly` failed ({st}): cannot build std from source"
        ))
    }
}

fn nightly_cmd(flags: &str, extra_z: &[&str]) -> Command {
    let mut c = rustup();
    c.args(["run", "nightly", "cargo", "build"])
        .args(["-Z", "build-std=std,panic_abort"])
        .args(extra_z)
        .args(["--target", TARGET, "--profile", "release-size"])
        .env("RUSTFLAGS", flags);
    c
}

/// The nightly min-size builds of lamina's hellos (default and lean) and the official hello.
fn nightly(paths: &Paths, built: &mut Built) {
    if let Err(e) = nightly_ready() {
        eprintln!("[build] nightly min-size builds skipped: {e}");
        built.nightly_note = Some(e);
        return;
    }
    let lamina_target = paths.target.join("bench-nightly");
    let variants: [(&str, &[&str]); 2] = [("", &[]), ("-lean", &["--no-default-features"])];
    // Find the flag set this nightly accepts, on the first build.
    let mut flags: Option<(&str, &[&str])> = None;
    for (suffix, feat) in variants {
        let candidates: Vec<(&str, &[&str])> = match flags {
            Some(f) => vec![f],
            None => vec![
                (NIGHTLY_RUSTFLAGS, &[]),
                (
                    NIGHTLY_RUSTFLAGS_OLD,
                    &["-Z", "build-std-features=panic_immediate_abort"],
                ),
            ],
        };
        for (rf, z) in candidates {
            let mut cmd = nightly_cmd(rf, z);
            cmd.args(["-p", "lamina-examples"])
                .args(feat)
                .args(["--bin", "hello", "--bin", "std-hello", "--target-dir"])
                .arg(&lamina_target);
            if !suffix.is_empty() {
                cmd.args(["-p", "lamina-bench", "--bin", "bare"]);
            }
            let what = format!(
                "lamina nightly min-size{suffix} [RUSTFLAGS={rf} {}]",
                z.join(" ")
            );
            if run(paths, &what, cmd, &mut built.logs) {
                flags = Some((rf, z));
                let dir = lamina_target.join(TARGET).join("release-size");
                for b in ["hello", "std-hello"] {
                    built.add(paths, &format!("lamina/nightly/{b}{suffix}"), &dir.join(b));
                }
                if !suffix.is_empty() {
                    built.add(paths, "bare/nightly/bare", &dir.join("bare"));
                }
                break;
            }
        }
    }
    let Some((rf, z)) = flags else {
        built.nightly_note = Some(
            "the nightly min-size build failed with every flag set tried (see the build log)"
                .into(),
        );
        return;
    };
    built.nightly_flags = Some(format!(
        "RUSTFLAGS=\"{rf}\" cargo +nightly build -Z build-std=std,panic_abort {} --target {TARGET} --profile release-size",
        z.join(" ")
    ));
    let mut cmd = nightly_cmd(rf, z);
    cmd.arg("--manifest-path")
        .arg(&paths.official_manifest)
        .arg("--bin")
        .arg("hello");
    if run(paths, "official nightly min-size", cmd, &mut built.logs) {
        let dir = official_target(paths).join(TARGET).join("release-size");
        built.add(paths, "official/nightly/hello", &dir.join("hello"));
    }
}

/// The same axum app (`examples/axum/src/app.rs`) on lamina-http and on the official lambda_http,
/// both `release-size`: projects of their own (axum stays out of lamina's lockfile), built with
/// their own lockfiles into their own target directories.
fn axum(paths: &Paths, built: &mut Built) {
    for (key, dir) in [
        (
            "lamina/release-size/axum-app",
            paths.root.join("examples/axum"),
        ),
        (
            "official/release-size/axum-app",
            paths.root.join("bench/official/http-axum"),
        ),
    ] {
        let mut cmd = cargo();
        cmd.args([
            "build",
            "--profile",
            "release-size",
            "--locked",
            "--bin",
            "axum-app",
        ])
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"));
        let what = format!(
            "{} axum app release-size",
            key.split('/').next().unwrap_or("")
        );
        if run(paths, &what, cmd, &mut built.logs) {
            built.add(paths, key, &dir.join("target/release-size/axum-app"));
        }
    }
}

/// Builds everything the run needs. `full`: also `release-size` and the nightly min-size builds.
pub fn build_all(paths: &Paths, full: bool, nightly_too: bool) -> Built {
    let mut built = Built::default();
    lamina_stable(paths, "release", true, &mut built);
    official_stable(paths, "release", &mut built);
    if full {
        lamina_stable(paths, "release-size", false, &mut built);
        official_stable(paths, "release-size", &mut built);
        axum(paths, &mut built);
        if nightly_too {
            nightly(paths, &mut built);
        } else {
            built.nightly_note = Some("skipped (--no-nightly)".into());
        }
    }
    built
}
