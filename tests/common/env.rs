//! A gateway environment in a temp folder: config, inbound, outbound, state; helpers to drop
//! packages and run the binary.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use super::bin;

pub const UROG_UID: &str = "2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d";

pub struct Env {
    pub root: tempfile::TempDir,
    pub config: PathBuf,
    pub inbound: PathBuf,
    pub outbound: PathBuf,
    pub state: PathBuf,
    /// Sample packages generated once, to copy from.
    pub samples: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        Env::with(1, 3600, "")
    }

    /// `settle_ms` and `incomplete_after_secs`, plus extra TOML for the [spool] section.
    pub fn with(settle_ms: u64, incomplete_after_secs: u64, extra: &str) -> Env {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let (inbound, outbound, state, samples) = (
            r.join("in"),
            r.join("out"),
            r.join("state"),
            r.join("samples"),
        );
        for d in [&inbound, &outbound] {
            fs::create_dir_all(d).unwrap();
        }
        let config = r.join("gateway.toml");
        fs::write(
            &config,
            format!(
                r#"[gateway]
participant_uid = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
organization = "Федеральное агентство по образцам (пример)"
transport_address = "SAMPLE_AGENCY~MEDOGU"

[spool]
inbound = "{}"
outbound = "{}"
state_dir = "{}"
settle_ms = {settle_ms}
rescan_secs = 1
incomplete_after_secs = {incomplete_after_secs}
{extra}

[[partners]]
name = "УРОГ"
uid = "{UROG_UID}"
transport_address = "WH-MEDO~APRF"
role = "urog"
format = "mirror"
"#,
                inbound.display(),
                outbound.display(),
                state.display()
            ),
        )
        .unwrap();
        let env = Env {
            root,
            config,
            inbound,
            outbound,
            state,
            samples,
        };
        let out = env.cmd(&["samples", "--out", env.samples.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        env
    }

    /// Turns the operators' HTTP listener on, at a free local port (returned).
    pub fn listen_http(&self) -> u16 {
        let port = free_port();
        self.add_sections(&format!("[http]\nlisten = \"127.0.0.1:{port}\""));
        port
    }

    /// `api token NAME --scopes …`: the token printed once, and the `[[api.clients]]` lines
    /// to paste.
    pub fn api_client(&self, name: &str, scopes: &str) -> (String, String) {
        let out = self.ok(&["api", "token", name, "--scopes", scopes]);
        let lines: Vec<&str> = out.lines().collect();
        let token = lines[1].trim().to_string();
        let at = lines.iter().position(|l| *l == "[[api.clients]]").unwrap();
        (token, lines[at..].join("\n") + "\n")
    }

    /// Adds `key = value` lines (TOML) to the `[spool]` section.
    pub fn add_spool(&self, lines: &str) {
        let text = fs::read_to_string(&self.config).unwrap().replacen(
            "[spool]\n",
            &format!("[spool]\n{lines}\n"),
            1,
        );
        fs::write(&self.config, text).unwrap();
    }

    /// Adds config sections (TOML) before the partners.
    pub fn add_sections(&self, toml: &str) {
        let text = fs::read_to_string(&self.config)
            .unwrap()
            .replace("[[partners]]", &format!("{toml}\n[[partners]]"));
        fs::write(&self.config, text).unwrap();
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        bin()
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap()
    }

    /// A command with environment variables `vars` (fault hooks) too.
    #[allow(dead_code)]
    pub fn cmd_env(&self, args: &[&str], vars: &[(&str, &std::ffi::OsStr)]) -> Output {
        bin()
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    }

    /// A command under libfaketime, the clock moved by `offset` (`+12d`, `-3d`): what this
    /// process's clock would say is not what the command's says.
    #[allow(dead_code)]
    pub fn cmd_at(&self, offset: &str, args: &[&str]) -> Output {
        let lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
        assert!(
            Path::new(lib).exists(),
            "libfaketime missing: apt-get install faketime (.ci/run does)"
        );
        let one = std::ffi::OsStr::new("1");
        self.cmd_env(
            args,
            &[
                ("LD_PRELOAD", lib.as_ref()),
                ("FAKETIME", offset.as_ref()),
                ("FAKETIME_DONT_FAKE_MONOTONIC", one),
                ("FAKETIME_DONT_RESET", one),
            ],
        )
    }

    /// The binary stopped at a named fault point (`MEDO_FAULT_STOP`, see `src/fault.rs`):
    /// asserts it stopped there, as a crash would.
    pub fn crash_at(&self, point: &str, args: &[&str]) {
        let out = bin()
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("MEDO_FAULT_STOP", point)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(&format!("fault point {point} reached")),
            "{args:?} did not stop at {point}: {:?}\n{stderr}",
            out.status
        );
    }

    /// `run --once`, asserting success; returns stdout.
    pub fn once(&self) -> String {
        let out = self.cmd(&["run", "--once"]);
        assert!(
            out.status.success(),
            "run --once failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Drops a sample into inbound and processes it at once (`run --once`).
    pub fn deliver(&self, name: &str, as_name: &str) {
        self.drop_sample(name, as_name);
        self.once();
    }

    /// Copies sample `name` (`urog-appeal-2.2`, `urog-appeal-2.7.1`, `urog-receipt-2.7.1`)
    /// into inbound as `as_name`.
    pub fn drop_sample(&self, name: &str, as_name: &str) -> PathBuf {
        let dst = self.inbound.join(as_name);
        copy_dir(&self.samples.join(name), &dst);
        dst
    }

    /// Folders in outbound (hidden names — the spool's marker — are not packages).
    pub fn outbound_names(&self) -> Vec<String> {
        let mut all = names(&self.outbound);
        all.retain(|n| !n.starts_with('.'));
        all
    }

    /// Points this environment's config at `other`'s inbound and outbound (one spool, two
    /// gateways; each keeps its own state folder).
    pub fn share_spool_of(&self, other: &Env) {
        let mut text = fs::read_to_string(&self.config).unwrap();
        for (mine, theirs) in [
            (&self.inbound, &other.inbound),
            (&self.outbound, &other.outbound),
        ] {
            text = text.replace(
                &format!("{:?}", mine.display().to_string()),
                &format!("{:?}", theirs.display().to_string()),
            );
        }
        fs::write(&self.config, text).unwrap();
    }

    /// Moves inbound and outbound to `base` (another filesystem: a share stood in by
    /// `/dev/shm`) and points the config there; the state stays where it is.
    pub fn move_spool_to(&mut self, base: &Path) {
        let mut text = fs::read_to_string(&self.config).unwrap();
        for (dir, name) in [(&mut self.inbound, "in"), (&mut self.outbound, "out")] {
            let moved = base.join(name);
            fs::create_dir_all(&moved).unwrap();
            text = text.replace(
                &format!("{:?}", dir.display().to_string()),
                &format!("{:?}", moved.display().to_string()),
            );
            let _ = fs::remove_dir_all(&*dir);
            *dir = moved;
        }
        fs::write(&self.config, text).unwrap();
    }

    /// Receipt folders in outbound.
    pub fn receipts(&self) -> Vec<String> {
        self.outbound_names()
            .into_iter()
            .filter(|n| n.starts_with("receipt-"))
            .collect()
    }

    pub fn journal_lines(&self) -> Vec<serde_json::Value> {
        if !self.state.join("journal").exists() {
            return Vec::new();
        }
        let out = self.cmd(&["journal", "export", "--format", "jsonl"]);
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn records_of_kind(&self, kind: &str) -> Vec<serde_json::Value> {
        self.journal_lines()
            .into_iter()
            .filter(|r| r["kind"] == kind)
            .collect()
    }

    /// Runs a command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The one outbound package whose name starts with `prefix`, as `inspect` sees it.
    pub fn notice(&self, prefix: &str) -> serde_json::Value {
        let found: Vec<String> = self
            .outbound_names()
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .collect();
        assert_eq!(found.len(), 1, "{prefix}: {:?}", self.outbound_names());
        inspect(&self.outbound.join(&found[0]))
    }

    /// The last journal segment file.
    pub fn last_segment(&self) -> std::path::PathBuf {
        let dir = self.state.join("journal");
        let seg = names(&dir)
            .into_iter()
            .rfind(|n| n.ends_with(".jsonl"))
            .expect("a journal segment");
        dir.join(seg)
    }

    /// `service_stop` records so far.
    pub fn count_stops(&self) -> usize {
        self.records_of_kind("service_stop").len()
    }

    pub fn verify_all(&self) {
        let out = self.cmd(&["journal", "verify"]);
        assert!(
            out.status.success(),
            "journal verify: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let out = self.cmd(&["store", "verify"]);
        assert!(
            out.status.success(),
            "store verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A running `medo-gateway run`, killed when dropped (also when a test panics). Its log goes
/// to `service.log` in the environment's folder, out of the test output; a failing test
/// prints the log's tail.
pub struct Service(pub std::process::Child, pub PathBuf);

impl Service {
    /// Starts the service and waits until it has journaled `service_start`.
    pub fn start(env: &Env) -> Service {
        Service::start_with(env, None)
    }

    /// Starts `run` with at most `nofile` open file descriptors (as `LimitNOFILE` would).
    pub fn start_with(env: &Env, nofile: Option<u64>) -> Service {
        Service::start_env(env, nofile, &[])
    }

    /// Starts `run` with environment variables `vars` (fault hooks) too.
    pub fn start_env(env: &Env, nofile: Option<u64>, vars: &[(&str, &std::ffi::OsStr)]) -> Service {
        let mut cmd = bin();
        cmd.arg("--config").arg(&env.config).arg("run");
        cmd.envs(vars.iter().copied());
        #[cfg(unix)]
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let log_path = env.root.path().join("service.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
        let child = cmd.spawn().unwrap();
        let service = Service(child, log_path);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while env.records_of_kind("service_start").len() <= env.count_stops() {
            assert!(
                std::time::Instant::now() < deadline,
                "service did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        service
    }

    /// SIGTERM, and the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.0.wait().unwrap();
        std::mem::forget(self);
        exit
    }
}

impl Service {
    /// What the service logged so far (all its runs in this environment).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.1).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- the service's log ({}), last lines:", self.1.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// A local port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `inspect --compact` of a package folder: it must read, and its report.
pub fn inspect(dir: &Path) -> serde_json::Value {
    let out = bin()
        .args(["inspect", "--compact"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Copies a folder with its subfolders.
pub fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        match e.file_type().unwrap().is_dir() {
            true => copy_dir(&e.path(), &dst.join(e.file_name())),
            false => {
                fs::copy(e.path(), dst.join(e.file_name())).unwrap();
            }
        }
    }
}

/// A copy of a folder as `cp -a` makes it (modes, owners, times kept): a backup of a
/// `state_dir` and its restore.
#[allow(dead_code)]
pub fn copy_preserving(from: &Path, to: &Path) {
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status();
    assert!(
        ok.unwrap().success(),
        "cp -a {} {}",
        from.display(),
        to.display()
    );
}
