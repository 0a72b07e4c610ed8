//! Spool benchmark (`cargo bench --bench spool`): prints figures, asserts nothing.
//!
//! * backlog: N small 2.2 appeals (distinct) in inbound, one `run --once` (in process):
//!   packages/s with every receipt durable, divided by the create+write+fsync+rename+dir-fsync
//!   cycle rate of the same disk measured in the same run;
//! * latency: an idle service (settle_ms = 100); a package lands (atomic rename into inbound)
//!   → its receipt appears in outbound; p50 / p99 over M packages;
//! * memory: peak RSS of `medo-gateway run --once` on a container with a 1 GiB attachment.
//!
//! * a region's hub (issue 28): the same backlog with `BENCH_HUB_BODIES` (489) `[[bodies]]`,
//!   each appeal addressed by name to one of them in turn (routed by the addressee's name,
//!   the costliest rule): registrations/s beside the one-body backlog's of the same run
//!   (goal ≥ 0.7 of it).
//!
//! Environment: `BENCH_BACKLOG` (10000), `BENCH_HUB_BODIES` (489; 0 skips the hub's run),
//! `BENCH_HUB_ROUNDS` (3 pairs of one body's run and the hub's, back to back),
//! `BENCH_LATENCY` (200), `BENCH_BIG_MIB` (1024), `BENCH_DIR` (where the spools are made;
//! default the current folder).

#[path = "common/backlog.rs"]
mod backlog;
#[path = "common/hide_sha_ni.rs"]
mod hide_sha_ni;
#[path = "common/hub.rs"]
mod hub;
use backlog::{bench_dir, bin, distinct_appeal, env_usize, samples, write_config, write_config_of};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use medo_gateway::config::Config;
use medo_gateway::gateway;

/// create + write + fsync + rename + dir fsync, per second, on the same filesystem.
fn fsync_cycle_rate(root: &Path, n: usize) -> f64 {
    let tmp = root.join("cycle-tmp");
    let out = root.join("cycle-out");
    fs::create_dir_all(&tmp).unwrap();
    fs::create_dir_all(&out).unwrap();
    let payload = vec![b'x'; 1024];
    let t = Instant::now();
    for i in 0..n {
        let p = tmp.join(format!("f{i}"));
        let mut f = fs::File::create(&p).unwrap();
        f.write_all(&payload).unwrap();
        f.sync_all().unwrap();
        fs::rename(&p, out.join(format!("f{i}"))).unwrap();
        fs::File::open(&out).unwrap().sync_all().unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// The backlog of `n` appeals (`bodies` > 0: a hub's, each addressed to a body in turn);
/// its registrations/s.
fn backlog(n: usize, bodies: usize) -> f64 {
    let root = tempfile::tempdir_in(bench_dir()).unwrap();
    let config_path = write_config_of(root.path(), 1, bodies);
    samples(&config_path, &root.path().join("samples"));
    let sample = root.path().join("samples/urog-appeal-2.2");
    for i in 0..n {
        let to = (bodies > 0).then(|| hub::body_name(i % bodies));
        let dst = root.path().join("in").join(format!("{i:06}"));
        distinct_appeal(&sample, &dst, i, to.as_deref());
    }
    let config = Config::load(&config_path).unwrap();
    // the disk's fsync rate drifts by tens of percent within minutes: measured just before
    // and just after the run, the ratio uses their mean
    let before = fsync_cycle_rate(root.path(), 500);
    let cpu_before = cpu_secs();
    let t = Instant::now();
    let report = gateway::run_once(config).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let (user, system) = cpu_secs();
    let cpu = (user - cpu_before.0, system - cpu_before.1);
    let after = fsync_cycle_rate(&root.path().join("after"), 500);
    let cycle = (before + after) / 2.0;
    assert_eq!(
        report.published,
        2 * n,
        "a receipt and a «Зарегистрирован» per appeal"
    );
    let rate = n as f64 / secs;
    let what = match bodies {
        0 => "backlog".to_string(),
        b => format!("a hub's backlog ({b} bodies, routed by name)"),
    };
    println!(
        "{what}: {n} appeals in {secs:.1} s = {rate:.0} registrations/s (receipt + notice + archive durable); fsync cycle {cycle:.0}/s (mean of {before:.0} before and {after:.0} after); ratio = {:.2} (goal ≥ 0.7); CPU per appeal {:.0} µs (user {:.0}, system {:.0}; goal: half of 1,580)",
        rate / cycle,
        (cpu.0 + cpu.1) * 1e6 / n as f64,
        cpu.0 * 1e6 / n as f64,
        cpu.1 * 1e6 / n as f64
    );
    if bodies == 0 {
        storage(root.path(), n);
    }
    rate
}

/// This process's user and system CPU time so far, seconds (all its threads).
fn cpu_secs() -> (f64, f64) {
    // SAFETY: getrusage writes one rusage into the zeroed struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

/// What the backlog left on disk, scaled to 10,000 appeals (OPERATIONS.md's sizing).
fn storage(root: &Path, n: usize) {
    let per = |bytes: u64| bytes as f64 * 10_000.0 / n as f64 / 1_048_576.0;
    let state = root.join("state");
    let parts = [
        ("journal", dir_bytes(&state.join("journal"))),
        ("store", dir_bytes(&state.join("store"))),
        ("archive", dir_bytes(&state.join("archive"))),
        ("outbound", dir_bytes(&root.join("out"))),
    ];
    let shown: Vec<String> = parts
        .iter()
        .map(|(what, b)| format!("{what} {:.1} MiB", per(*b)))
        .collect();
    println!(
        "storage per 10,000 appeals received and registered (sample appeal, {} KiB): {}",
        dir_bytes(&root.join("samples/urog-appeal-2.2")) / 1024,
        shown.join(", ")
    );
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

fn latency(m: usize) {
    let root = tempfile::tempdir_in(bench_dir()).unwrap();
    let settle = 100;
    let config_path = write_config(root.path(), settle);
    samples(&config_path, &root.path().join("samples"));
    let staging = root.path().join("staging");
    let mut service = std::process::Command::new(bin())
        .arg("--config")
        .arg(&config_path)
        .arg("run")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let sample = root.path().join("samples/urog-appeal-2.2");
    let out = root.path().join("out");
    let mut lat = Vec::with_capacity(m);
    for i in 0..m {
        let s = staging.join(i.to_string());
        distinct_appeal(&sample, &s, 1_000_000 + i, None);
        let before = fs::read_dir(&out).unwrap().count();
        let t = Instant::now();
        fs::rename(&s, root.path().join("in").join(format!("p{i}"))).unwrap();
        while fs::read_dir(&out).unwrap().count() == before {
            std::thread::sleep(Duration::from_millis(1));
            assert!(t.elapsed() < Duration::from_secs(30), "no receipt");
        }
        lat.push(t.elapsed());
    }
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(service.id().to_string())
        .status();
    let _ = service.wait();
    lat.sort();
    let p =
        |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1].as_millis();
    println!("latency (settle_ms = {settle}): {m} packages, p50 = {} ms, p99 = {} ms, max = {} ms; goal p99 ≤ settle_ms + 150 = {} ms", p(0.5), p(0.99), lat.last().unwrap().as_millis(), settle + 150);
}

fn memory(mib: usize) {
    use zip::write::SimpleFileOptions;
    let root = tempfile::tempdir_in(bench_dir()).unwrap();
    let config_path = write_config(root.path(), 1);
    samples(&config_path, &root.path().join("samples"));
    // the 2.7.1 sample with a big attachment added to its container
    let pkg = root.path().join("in/big");
    fs::create_dir_all(&pkg).unwrap();
    let src = root.path().join("samples/urog-appeal-2.7.1");
    let zip_name = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.ends_with(".zip"))
        .unwrap();
    for f in ["envelope.ini", "message.xml"] {
        fs::copy(src.join(f), pkg.join(f)).unwrap();
    }
    let mut old = zip::ZipArchive::new(fs::File::open(src.join(&zip_name)).unwrap()).unwrap();
    let mut z = zip::ZipWriter::new(fs::File::create(pkg.join(&zip_name)).unwrap());
    for i in 0..old.len() {
        z.raw_copy_file(old.by_index(i).unwrap()).unwrap();
    }
    z.start_file(
        "big-attachment.bin",
        SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(true),
    )
    .unwrap();
    let mut block = vec![0u8; 1 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..mib {
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        z.write_all(&block).unwrap();
    }
    z.finish().unwrap();
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(bin())
        .arg("--config")
        .arg(&config_path)
        .args(["run", "--once"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib: u64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    println!(
        "memory: run --once on a container with a {mib} MiB attachment: peak RSS {:.1} MiB (goal ≤ 64 MiB); {}",
        kib as f64 / 1024.0,
        String::from_utf8_lossy(&out.stdout).trim()
    );
}

/// The hub's backlog against one body's, in `BENCH_HUB_ROUNDS` (3) pairs run back to back —
/// this machine's disk varies threefold within minutes, so each hub run is compared with the
/// one-body run beside it, and the median of the pairs' ratios is the figure.
fn hub_against_one(b: usize, bodies: usize, first: f64) {
    let settle = || {
        // the previous run's writeback settles first: the next must not pay for it
        // SAFETY: sync(2) takes no arguments and cannot fail
        unsafe { libc::sync() };
        std::thread::sleep(Duration::from_secs(5));
    };
    let mut ratios = Vec::new();
    let mut one = first;
    for round in 0..env_usize("BENCH_HUB_ROUNDS", 3).max(1) {
        if round > 0 {
            settle();
            one = backlog(b, 0);
        }
        settle();
        let hub = backlog(b, bodies);
        println!(
            "a hub of {bodies} bodies against one body, pair {}: {hub:.0} / {one:.0} registrations/s = {:.2}",
            round + 1,
            hub / one
        );
        ratios.push(hub / one);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "a hub of {bodies} bodies against one body, the median of {} pairs: {:.2} (goal ≥ 0.7)",
        ratios.len(),
        ratios[ratios.len() / 2]
    );
}

fn main() {
    println!("{}", hide_sha_ni::cpu_line());
    // a size of 0 skips that part
    let (b, l, m) = (
        env_usize("BENCH_BACKLOG", 10_000),
        env_usize("BENCH_LATENCY", 200),
        env_usize("BENCH_BIG_MIB", 1024),
    );
    let hub_bodies = env_usize("BENCH_HUB_BODIES", 489);
    if b > 0 {
        let one = backlog(b, 0);
        if hub_bodies > 0 {
            hub_against_one(b, hub_bodies, one);
        }
    }
    if l > 0 {
        latency(l);
    }
    if m > 0 {
        memory(m);
    }
}
