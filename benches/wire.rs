//! Wire-layer benchmark (`cargo bench --bench wire`): prints its figures, asserts nothing.
//!
//! * parse throughput of a typical 2.2 package and a 2.7.1 container package (`read_package`,
//!   i.e. what `inspect` does: envelope, XML, hashing every file, ZIP + passport), in packages/s
//!   and MB/s, next to the rate of merely reading the same bytes (warm cache), same run;
//! * streaming SHA-256 of a 1 GiB file next to `openssl speed -evp sha256` (one core), same run.
//!
//! Environment: `BENCH_PACKAGES` (default 10,000 per kind), `BENCH_SHA_MIB` (default 1024),
//! `BENCH_PROFILE_PARSE` (extra parse rounds to profile, default 0), `BENCH_PROFILE_KIND`
//! (`2.2` or `2.7.1`: profile rounds of one kind only).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use medo_gateway::samples::{generate, Parties};
use medo_gateway::wire::hash::sha256_file;
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

fn openssl_sha256_bytes_per_sec() -> Option<f64> {
    let out = Command::new("taskset")
        .args([
            "-c", "0", "openssl", "speed", "-evp", "sha256", "-seconds", "3", "-bytes", "1048576",
        ])
        .output()
        .or_else(|_| {
            Command::new("openssl")
                .args([
                    "speed", "-evp", "sha256", "-seconds", "3", "-bytes", "1048576",
                ])
                .output()
        })
        .ok()?;
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

fn sha_bench(dir: &Path) {
    let mib = env_usize("BENCH_SHA_MIB", 1024);
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
    let t = Instant::now();
    let (_, n) = sha256_file(&path).unwrap();
    let ours = n as f64 / t.elapsed().as_secs_f64();
    fs::remove_file(&path).unwrap();
    match openssl_sha256_bytes_per_sec() {
        Some(theirs) => println!(
            "sha256 {mib} MiB file: {:.0} MB/s; openssl speed -evp sha256 (1 MiB blocks, one core): {:.0} MB/s; ratio = {:.2}",
            ours / 1e6,
            theirs / 1e6,
            ours / theirs
        ),
        None => println!("sha256 {mib} MiB file: {:.0} MB/s; openssl not available", ours / 1e6),
    }
}

fn main() {
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
