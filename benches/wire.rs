//! Wire-layer benchmark (`cargo bench --bench wire`): prints its figures, asserts nothing.
//!
//! * parse: a 2.2 appeal, a small 2.7.1 container and the real Совет Федерации 2.7.1 package,
//!   each read by ours (`read_package`, what `inspect` does: envelope, XML, every file hashed,
//!   ZIP entries inflated and hashed, passport) and by the public peer's approach
//!   (`common/peer_approach.rs`: serde deserialisation, containers extracted to disk, nothing
//!   hashed) on the same folders, interleaved rounds, ours ÷ peer beside ours ÷ plain read;
//!   with SHA-NI and again in a child process with SHA-NI hidden (CPUID faulting);
//! * streaming SHA-256 of a 1 GiB file next to `openssl speed -evp sha256` (one core), same
//!   run, interleaved rounds, with SHA-NI and without (hidden from a child process by CPUID
//!   faulting, from OpenSSL by `OPENSSL_ia32cap`): the CPU model and which is which printed.
//!
//! Environment: `BENCH_PACKAGES` (default 10,000 per generated kind), `BENCH_REAL_PACKAGES`
//! (copies of the real package, default 1,000), `BENCH_SHA_MIB` (default 1024),
//! `BENCH_SHA_ROUNDS` (default 5), `BENCH_PROFILE_PARSE` (extra parse rounds to profile,
//! default 0) of `BENCH_PROFILE_KIND` (`22`, `271` or `real`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use medo_gateway::samples::{generate, Parties};
use medo_gateway::wire::hash::{backend_name, sha256_bytes, sha256_file};

#[path = "common/hide_sha_ni.rs"]
mod hide_sha_ni;
#[path = "common/peer_approach.rs"]
mod peer_approach;
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

/// Rounds of (plain read, ours, the peer's approach) per kind; the round with the median
/// ours ÷ peer ratio is reported, so one noisy moment of a shared machine does not decide.
const PARSE_ROUNDS: usize = 5;

/// (wall, user, system) seconds.
type Times = (f64, f64, f64);

/// One round: plain read, ours (`read_package`, what `inspect` does), the peer's approach.
type Round = (Times, Times, Times);

fn parse_round(folders: &[PathBuf], bytes: u64, limits: &Limits, scratch: &Path) -> Round {
    let mut baseline_bytes = 0;
    let read = timed(|| baseline_bytes = read_all(folders));
    let ours = timed(|| {
        for d in folders {
            std::hint::black_box(read_package(d, limits).expect("sample packages read"));
        }
    });
    let peer = timed(|| {
        for (i, d) in folders.iter().enumerate() {
            let parsed = peer_approach::parse(d, &scratch.join(i.to_string()));
            std::hint::black_box(parsed.expect("the peer's approach reads the package"));
        }
    });
    assert_eq!(bytes, baseline_bytes);
    (read, ours, peer)
}

/// Parses every folder with ours and with the peer's approach; `goal`: ours ÷ peer wanted.
fn parse_bench(label: &str, folders: &[PathBuf], goal: f64) {
    let limits = Limits::default();
    // the peer's extractions go to the packages' own filesystem, as they would in its use
    let scratch = tempfile::tempdir_in(folders[0].parent().unwrap()).unwrap();
    let bytes: u64 = folders.iter().map(|d| folder_bytes(d)).sum();
    read_all(folders); // warm the page cache
    let mut rounds: Vec<Round> = (0..PARSE_ROUNDS)
        .map(|_| parse_round(folders, bytes, &limits, scratch.path()))
        .collect();
    let ratio = |r: &Round| r.2 .0 / r.1 .0;
    let all: Vec<String> = rounds.iter().map(|r| format!("{:.2}", ratio(r))).collect();
    rounds.sort_by(|a, b| ratio(a).total_cmp(&ratio(b)));
    let (read, ours, peer) = rounds[PARSE_ROUNDS / 2];
    let n = folders.len() as f64;
    let micros = |secs: f64| secs / n * 1e6;
    let per = |t: Times| {
        format!(
            "{:.0}/s, {:.0} µs each (CPU: user {:.0}, system {:.0})",
            n / t.0,
            micros(t.0),
            micros(t.1),
            micros(t.2)
        )
    };
    println!(
        "parse {label}: {} packages, {:.1} KiB each: ours ÷ the peer's approach = {:.2} (goal ≥ {goal}; rounds {}); ours ÷ plain read = {:.2}",
        folders.len(),
        bytes as f64 / n / 1024.0,
        ratio(&(read, ours, peer)),
        all.join(" "),
        read.0 / ours.0,
    );
    println!("  ours {}; peer's approach {}", per(ours), per(peer));
    println!("  plain read {}", per(read));
}

/// The package kinds the parse bench compares: (folder prefix under the root, goal ours ÷
/// peer, label). [`make_packages`] writes `<prefix>.0`, `<prefix>.1` …
const KINDS: [(&str, f64, &str); 3] = [
    ("22", 1.5, "2.2 appeal (envelope + cp1251 XML + 2 PDFs)"),
    (
        "271",
        3.0,
        "small 2.7.1 container (envelope + XML + ZIP: passport, 2 PDFs, p7s)",
    ),
    (
        "real",
        1.5,
        "real 2.7.1 package, Совет Федерации 70178878 (envelope + XML + 335 KiB ZIP, 7 entries)",
    ),
];

/// The folders [`make_packages`] wrote for one kind, in order.
fn folders_of(root: &Path, prefix: &str) -> Vec<PathBuf> {
    (0..)
        .map(|i| root.join(format!("{prefix}.{i}")))
        .take_while(|d| d.exists())
        .collect()
}

/// The real Совет Федерации 2.7.1 package (`../shared/spec/data/real_packages`, read in
/// place: envelope, `container.xml`, the 7-entry ZIP) copied `count` times under `root`.
fn real_packages(root: &Path, count: usize) {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/data/real_packages");
    let files = [
        ("envelope.ltr", "70178878_envelope.ltr"),
        ("container.xml", "70178878_container.xml"),
        ("container.edc.zip", "70178878_container.edc.zip"),
    ];
    if !real.join(files[2].1).exists() {
        println!("parse real 2.7.1: SKIPPED — {} not found", real.display());
        return;
    }
    for i in 0..count {
        let dir = root.join(format!("real.{i}"));
        fs::create_dir(&dir).unwrap();
        for (name, source) in files {
            fs::copy(real.join(source), dir.join(name)).unwrap();
        }
    }
}

/// Writes the parse bench's packages under `root`, named as [`KINDS`] says.
fn make_packages(root: &Path, n: usize, real: usize) {
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
    for i in 0..n {
        let out = root.join(format!("made.{i}"));
        let made = generate(&out, &parties).unwrap();
        fs::rename(&made[0], root.join(format!("22.{i}"))).unwrap();
        fs::rename(&made[1], root.join(format!("271.{i}"))).unwrap();
        fs::remove_dir_all(&out).unwrap();
    }
    real_packages(root, real);
}

/// Every parse comparison; `which`: "with SHA-NI" or "without SHA-NI …".
fn parse_all(root: &Path, which: &str) {
    for (prefix, goal, label) in KINDS {
        let folders = folders_of(root, prefix);
        if !folders.is_empty() {
            parse_bench(&format!("{label}, {which}"), &folders, goal);
        }
    }
}

/// The parse comparisons again in a child process with SHA-NI hidden (`hide_sha_ni`).
fn parse_without_sha_ni(root: &Path) {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("BENCH_PARSE_CHILD", root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().is_empty() {
        true => println!("parse without SHA-NI: not measured (CPUID faulting unavailable)"),
        false => print!("{text}"),
    }
}

/// The child of [`parse_without_sha_ni`].
fn parse_child(root: &Path) {
    if hide_sha_ni::hide() && !hide_sha_ni::cpu_has_sha_ni() {
        parse_all(
            root,
            &format!("without SHA-NI (hidden; {})", backend_name()),
        );
    }
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
    if let Some(root) = std::env::var_os("BENCH_PARSE_CHILD") {
        return parse_child(Path::new(&root));
    }
    // `cargo bench` passes --bench; ignore arguments.
    println!(
        "{}; the gateway's SHA-256 here: {} (without SHA-NI: ring)",
        hide_sha_ni::cpu_line(),
        backend_name()
    );
    let n = env_usize("BENCH_PACKAGES", 10_000);
    // in the current folder, as benches/run.sh says (not /tmp, which may be tmpfs: the peer's
    // extractions and the 1 GiB SHA-256 file would then never touch a disk)
    let tmp = tempfile::tempdir_in(".").unwrap();
    make_packages(tmp.path(), n, env_usize("BENCH_REAL_PACKAGES", 1_000));
    // BENCH_PROFILE_PARSE=N: parse one kind (BENCH_PROFILE_KIND: 22, 271 or real) N more
    // times first (a long parse-only phase to profile with perf)
    let kind = std::env::var("BENCH_PROFILE_KIND").unwrap_or_else(|_| "22".into());
    let profiled = folders_of(tmp.path(), &kind);
    for _ in 0..env_usize("BENCH_PROFILE_PARSE", 0) {
        for dir in &profiled {
            read_package(dir, &Limits::default()).unwrap();
        }
    }
    let native = hide_sha_ni::cpu_has_sha_ni();
    parse_all(
        tmp.path(),
        &format!(
            "{} SHA-NI ({})",
            if native { "with" } else { "without" },
            backend_name()
        ),
    );
    if native {
        parse_without_sha_ni(tmp.path());
    }
    sha_bench(tmp.path());
}
