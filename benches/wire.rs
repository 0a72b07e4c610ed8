//! Wire-layer benchmark (`cargo bench --bench wire`): prints its figures, asserts nothing.
//!
//! * parse throughput of a typical 2.2 package and a 2.7.1 container package (`read_package`,
//!   i.e. what `inspect` does: envelope, XML, hashing every file, ZIP + passport), in packages/s
//!   and MB/s, next to the rate of merely reading the same bytes (warm cache), same run;
//! * streaming SHA-256 of a 1 GiB file next to `openssl speed -evp sha256` (one core), same
//!   run, interleaved rounds, with SHA-NI and without (hidden from a child process by CPUID
//!   faulting, from OpenSSL by `OPENSSL_ia32cap`): the CPU model and which is which printed.
//!
//! Environment: `BENCH_PACKAGES` (default 10,000 per kind), `BENCH_SHA_MIB` (default 1024),
//! `BENCH_SHA_ROUNDS` (default 5),
//! `BENCH_PROFILE_PARSE` (extra parse rounds to profile, default 0), `BENCH_PROFILE_KIND`
//! (`2.2` or `2.7.1`: profile rounds of one kind only).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use medo_gateway::samples::{generate, Parties};
use medo_gateway::wire::hash::{backend_name, sha256_bytes, sha256_file};

#[path = "common/hide_sha_ni.rs"]
mod hide_sha_ni;
use medo_gateway::wire::message::Sender;
use medo_gateway::wire::package::read_package;
use medo_gateway::wire::Limits;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn folder_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

/// Reads every file of every folder (the "just read the bytes" baseline).
fn read_all(folders: &[PathBuf]) -> u64 {
    let mut n = 0;
    for d in folders {
        for e in fs::read_dir(d).unwrap() {
            n += fs::read(e.unwrap().path()).unwrap().len() as u64;
        }
    }
    n
}

/// CPU time of this process so far: (user, system) seconds.
fn cpu_times() -> (f64, f64) {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

/// Runs `work` and returns (wall, user, system) seconds spent in it.
fn timed(work: impl FnOnce()) -> (f64, f64, f64) {
    let (u0, s0) = cpu_times();
    let t = Instant::now();
    work();
    let wall = t.elapsed().as_secs_f64();
    let (u1, s1) = cpu_times();
    (wall, u1 - u0, s1 - s0)
}

/// Rounds of (plain read, parse) per kind; the round with the median ratio is reported, so
/// one noisy moment of a shared machine does not decide the figure.
const PARSE_ROUNDS: usize = 3;

/// One round: (read wall, user, system), (parse wall, user, system) in seconds.
type Round = ((f64, f64, f64), (f64, f64, f64));

fn parse_round(folders: &[PathBuf], bytes: u64, limits: &Limits) -> Round {
    let mut baseline_bytes = 0;
    let read = timed(|| baseline_bytes = read_all(folders));
    let parse = timed(|| {
        for d in folders {
            read_package(d, limits).expect("sample packages read");
        }
    });
    assert_eq!(bytes, baseline_bytes);
    (read, parse)
}

fn parse_bench(label: &str, folders: &[PathBuf]) {
    let limits = Limits::default();
    let bytes: u64 = folders.iter().map(|d| folder_bytes(d)).sum();
    read_all(folders); // warm the page cache
    let mut rounds: Vec<Round> = (0..PARSE_ROUNDS)
        .map(|_| parse_round(folders, bytes, &limits))
        .collect();
    let ratio = |r: &Round| r.0 .0 / r.1 .0;
    let all: Vec<String> = rounds.iter().map(|r| format!("{:.2}", ratio(r))).collect();
    rounds.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
    let ((read_secs, read_user, read_sys), (parse_secs, parse_user, parse_sys)) =
        rounds[PARSE_ROUNDS / 2];
    let n = folders.len() as f64;
    let micros = |secs: f64| secs / n * 1e6;
    println!(
        "parse {label}: {} packages, {:.1} KiB each: {:.0} packages/s, {:.1} MB/s; plain read {:.0} folders/s; ratio parse/read = {:.2} (median of rounds {})",
        folders.len(),
        bytes as f64 / n / 1024.0,
        n / parse_secs,
        bytes as f64 / parse_secs / 1e6,
        n / read_secs,
        read_secs / parse_secs,
        all.join(", ")
    );
    println!(
        "  per package: parse {:.0} µs (user {:.0}, system {:.0}); plain read {:.0} µs (user {:.0}, system {:.0})",
        micros(parse_secs),
        micros(parse_user),
        micros(parse_sys),
        micros(read_secs),
        micros(read_user),
        micros(read_sys)
    );
}

/// `openssl speed -evp sha256` on one core, 1 MiB blocks, bytes/s; `hide_sha_ni`: with the
/// SHA extensions masked out of OpenSSL's capability vector (`OPENSSL_ia32cap`, CPUID.7 EBX
/// bit 29), the code path of CPUs without them.
fn openssl_sha256_bytes_per_sec(hide_sha_ni: bool) -> Option<f64> {
    let args = [
        "speed", "-evp", "sha256", "-seconds", "2", "-bytes", "1048576",
    ];
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0", "openssl"]).args(args);
    if hide_sha_ni {
        cmd.env("OPENSSL_ia32cap", ":~0x20000000");
    }
    let out = cmd
        .output()
        .ok()
        .filter(|o| o.status.success())
        .or_else(|| {
            let mut cmd = Command::new("openssl");
            cmd.args(args);
            if hide_sha_ni {
                cmd.env("OPENSSL_ia32cap", ":~0x20000000");
            }
            cmd.output().ok()
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with("sha256"))?;
    let k: f64 = line
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(k * 1000.0)
}

/// The baseline: `sha2` alone (what the gateway used before), streaming `path`, bytes/s.
fn sha2_alone(path: &Path) -> f64 {
    use sha2::Digest;
    use std::io::Read;
    let mut f = fs::File::open(path).unwrap();
    let (mut h, mut buf, mut n) = (sha2::Sha256::new(), vec![0u8; 256 * 1024], 0usize);
    let t = Instant::now();
    loop {
        let k = f.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k;
    }
    std::hint::black_box(h.finalize());
    n as f64 / t.elapsed().as_secs_f64()
}

/// The gateway's streaming SHA-256 of `path` (bytes/s), its rate on journal-record-sized
/// inputs (300 B, hashes/s), and `sha2` alone on the same file (bytes/s).
fn ours(path: &Path) -> (f64, f64, f64) {
    let before = sha2_alone(path);
    let t = Instant::now();
    let (_, n) = sha256_file(path).unwrap();
    let stream = n as f64 / t.elapsed().as_secs_f64();
    let record: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let count = 200_000;
    let t = Instant::now();
    for _ in 0..count {
        std::hint::black_box(sha256_bytes(std::hint::black_box(&record)));
    }
    (stream, count as f64 / t.elapsed().as_secs_f64(), before)
}

/// [`ours`] in a child process of this bench with SHA-NI hidden (`hide_sha_ni`).
fn ours_without_sha_ni(path: &Path) -> Option<(f64, f64, f64, String)> {
    let out = Command::new(std::env::current_exe().ok()?)
        .env("BENCH_SHA_CHILD", path)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    let stream = parts.next()?.parse().ok()?;
    let records = parts.next()?.parse().ok()?;
    let before = parts.next()?.parse().ok()?;
    Some((stream, records, before, parts.next()?.to_string()))
}

/// The child of [`ours_without_sha_ni`]: hides SHA-NI, then measures.
fn sha_child(path: &Path) {
    if !hide_sha_ni::hide() || hide_sha_ni::cpu_has_sha_ni() {
        return; // no output: the parent says it could not measure
    }
    let (stream, records, before) = ours(path);
    println!("{stream} {records} {before} {}", backend_name());
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Streaming SHA-256 against OpenSSL, with and without SHA-NI, interleaved rounds (the
/// median of the per-round ratios: each pair measured at the same moment of a noisy VM).
fn sha_bench(dir: &Path) {
    let mib = env_usize("BENCH_SHA_MIB", 1024);
    let rounds = env_usize("BENCH_SHA_ROUNDS", 5);
    let path = dir.join("big.bin");
    {
        use std::io::Write;
        let mut f = fs::File::create(&path).unwrap();
        let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i * 31 % 251) as u8).collect();
        for _ in 0..mib {
            f.write_all(&chunk).unwrap();
        }
    }
    sha256_file(&path).unwrap(); // warm cache
    let native = hide_sha_ni::cpu_has_sha_ni();
    println!(
        "cpu: {}; SHA-NI: {}; the gateway's SHA-256 here: {} (without SHA-NI: ring)",
        cpu_model(),
        if native { "yes" } else { "no" },
        backend_name()
    );
    type Round = Vec<(f64, f64, f64, f64)>; // ours, openssl, ours on 300 B records, sha2 alone
    let (mut with, mut without): (Round, Round) = (Vec::new(), Vec::new());
    let mut child_backend = String::new();
    for _ in 0..rounds {
        if native {
            let (stream, records, before) = ours(&path);
            if let Some(o) = openssl_sha256_bytes_per_sec(false) {
                with.push((stream, o, records, before));
            }
        }
        let measured = match native {
            true => ours_without_sha_ni(&path),
            false => Some(ours(&path)).map(|(s, r, b)| (s, r, b, backend_name().to_string())),
        };
        if let (Some((stream, records, before, backend)), Some(o)) =
            (measured, openssl_sha256_bytes_per_sec(true))
        {
            without.push((stream, o, records, before));
            child_backend = backend;
        }
    }
    fs::remove_file(&path).unwrap();
    let line = |what: &str, r: &Round| {
        if r.is_empty() {
            println!("sha256 {what}: not measured (no openssl, or CPUID faulting unavailable)");
            return;
        }
        let ratios: Vec<f64> = r.iter().map(|x| x.0 / x.1).collect();
        println!(
            "sha256 {what}, {mib} MiB file: {:.0} MB/s; openssl speed -evp sha256 (1 MiB blocks, one core): {:.0} MB/s; ratio = {:.2} (goal ≥ 0.8; rounds {}); baseline sha2 alone {:.0} MB/s = {:.2} of openssl; 300-byte inputs: {:.0} k hashes/s",
            median(r.iter().map(|x| x.0 / 1e6).collect()),
            median(r.iter().map(|x| x.1 / 1e6).collect()),
            median(ratios.clone()),
            ratios.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(" "),
            median(r.iter().map(|x| x.3 / 1e6).collect()),
            median(r.iter().map(|x| x.3 / x.1).collect()),
            median(r.iter().map(|x| x.2 / 1e3).collect()),
        );
    };
    if native {
        line("with SHA-NI", &with);
    }
    line(
        &format!(
            "without SHA-NI ({}{})",
            if native {
                "hidden by CPUID faulting, "
            } else {
                ""
            },
            child_backend
        ),
        &without,
    );
}

fn main() {
    if let Some(path) = std::env::var_os("BENCH_SHA_CHILD") {
        return sha_child(Path::new(&path));
    }
    // `cargo bench` passes --bench; ignore arguments.
    let n = env_usize("BENCH_PACKAGES", 10_000);
    let tmp = tempfile::tempdir().unwrap();
    let urog = Sender {
        uid: "2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d".into(),
        organization: "Управление Президента Российской Федерации по работе с обращениями граждан и организаций".into(),
    };
    let us = Sender {
        uid: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b".into(),
        organization: "Федеральное агентство по образцам (пример)".into(),
    };
    let parties = Parties {
        urog: &urog,
        urog_address: "WH-MEDO~APRF",
        us: &us,
        our_address: "SAMPLE_AGENCY~MEDOGU",
    };
    let mut v22 = Vec::new();
    let mut v271 = Vec::new();
    for i in 0..n {
        let out = tmp.path().join(i.to_string());
        let made = generate(&out, &parties).unwrap();
        v22.push(made[0].clone());
        v271.push(made[1].clone());
    }
    // BENCH_PROFILE_PARSE=N: parse everything N more times first (a long parse-only phase to
    // profile with perf; figures below are unaffected but for a warmer cache)
    // BENCH_PROFILE_KIND=2.2 or 2.7.1: profile rounds of that kind only
    let kind = std::env::var("BENCH_PROFILE_KIND").unwrap_or_default();
    let profiled: Vec<&PathBuf> = match kind.as_str() {
        "2.2" => v22.iter().collect(),
        "2.7.1" => v271.iter().collect(),
        _ => v22.iter().chain(&v271).collect(),
    };
    for _ in 0..env_usize("BENCH_PROFILE_PARSE", 0) {
        for d in &profiled {
            read_package(d, &Limits::default()).unwrap();
        }
    }
    parse_bench("2.2 document (envelope + cp1251 XML + 2 PDFs)", &v22);
    parse_bench(
        "2.7.1 container (envelope + XML + ZIP with passport, PDF x2, p7s)",
        &v271,
    );
    sha_bench(tmp.path());
}
