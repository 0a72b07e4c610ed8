//! Scale benchmark (`cargo bench --bench appeals`): a store of N appeals. Prints figures,
//! asserts only that the service answered.
//!
//! A journal of `BENCH_APPEALS` (100,000) registered appeals is written through the journal
//! API, record for record what `run` journals for an appeal (received, parsed,
//! appeal_received, appeal_registered, decided, two published, archived), plus receipts-only
//! arrivals up to `BENCH_RECORDS` (1,000,000) records in all. Then, through the binary:
//!
//! * `store rebuild`: records/s;
//! * `journal verify`: records/s (goal ≥ 500,000/s at 1,000,000 records);
//! * `appeals list` (first page) and `appeals show` three ways: the journal folded (the
//!   baseline: no store yet), the store with the journal's tail (no service), the running
//!   service's socket — best of three each (goal ≤ 200 ms);
//! * restart: `run` started, `kill -9`, started again → `/healthz` answers (goal ≤ 1 s);
//! * the dashboard page and a search, timed;
//! * memory: peak RSS of the service after start and after answering a query (goal ≤ 128 MiB);
//! * УРОГ query naming 1,000 appeals: claimed → answer durable in outbound, from the
//!   journal's own timestamps (goal ≤ 100 ms).
//!
//! `BENCH_BODIES=489` makes it a region's hub (issue 28): that many `[[bodies]]`, the
//! appeals spread over them round-robin, each body numbering its own; the config's load is
//! timed in process, and `appeals list` / `show` ask one body (`--body`); the query is left
//! out (its sample names no body of the hub). `run.sh` runs it at 250,000 appeals and
//! 2,500,000 records.
//!
//! Under `pg_virtualenv` (a PostgreSQL server named by `PGHOST`; said and skipped without
//! one) the same journal is also moved into a database (`storage migrate`, records/s), its
//! index built there (`store rebuild`, records/s), and `appeals list` / `show` timed on the
//! database's index beside the files store's figures of the same run (issue 29: goal
//! ≤ 200 ms at 1,000,000 records).
//!
//! `BENCH_QUERY` sets how many appeals the query names (1,000); `BENCH_KEEP=1` leaves the
//! generated spool behind (its path is printed) to profile the service by hand;
//! `BENCH_ONLY=verify` stops after the journal verify lines.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use medo_gateway::journal::{Event, Journal, NoticeRef, Output};
use medo_gateway::model::{Format, OutputKind};

#[path = "common/hide_sha_ni.rs"]
mod hide_sha_ni;
#[path = "common/hub.rs"]
mod hub;
use hub::{as_hub, body_id};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("medo-gateway")
}

const PORT: u16 = 18_917;

/// Bodies of the hub (`BENCH_BODIES`; 0: one body).
fn bodies() -> usize {
    env_usize("BENCH_BODIES", 0)
}

fn write_config(root: &Path) -> PathBuf {
    let text = fs::read_to_string("config/gateway.toml")
        .unwrap()
        .replace("\"spool/in\"", &format!("{:?}", root.join("in")))
        .replace("\"spool/out\"", &format!("{:?}", root.join("out")))
        .replace("\"spool/state\"", &format!("{:?}", root.join("state")))
        .replace("settle_ms = 1000", "settle_ms = 1");
    let text = format!("{text}\n");
    // the soak's 256 readers all come from 127.0.0.1: the per-address cap raised for them
    let http = format!("[http]\nlisten = \"127.0.0.1:{PORT}\"\nmax_connections_per_address = 300");
    let text = if text.contains("[http]") {
        text.replace("[http]", &http)
    } else {
        format!("{text}\n{http}\n")
    };
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        SOAK_TOKEN.as_bytes(),
    ));
    let text = format!(
        "{text}\n[[api.clients]]\nname = \"soak\"\ntoken_sha256 = \"{digest}\"\nscopes = [\"read\"]\n"
    );
    for d in ["in", "out", "samples"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    let path = root.join("gateway.toml");
    let text = match bodies() {
        0 => text,
        n => as_hub(&text, n),
    };
    fs::write(&path, text).unwrap();
    path
}

/// The soak's API client's token (`[[api.clients]] soak`, scope read).
const SOAK_TOKEN: &str = "soak-token-of-the-bench";

/// Readers at once in the soak, and requests each.
const SOAK_READERS: usize = 256;
const SOAK_ROUNDS: usize = 4;

/// The soak of issue 26 item 9: `SOAK_READERS` threads at once, each `SOAK_ROUNDS` heavy
/// reads — every other one the API list at its largest page (`limit=500`), the rest the
/// dashboard; how many were served (200) and turned away (503 + Retry-After).
fn soak() -> (usize, usize) {
    let readers: Vec<_> = (0..SOAK_READERS)
        .map(|i| {
            std::thread::spawn(move || {
                let mut codes = Vec::new();
                for round in 0..SOAK_ROUNDS {
                    let path = match (i + round) % 2 {
                        0 => "/api/v1/appeals?limit=500",
                        _ => "/",
                    };
                    codes.push(status_of(path));
                }
                codes
            })
        })
        .collect();
    let codes: Vec<u16> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    let served = codes.iter().filter(|c| **c == 200).count();
    let busy = codes.iter().filter(|c| **c == 503).count();
    (served, busy)
}

/// A GET with the soak's token; its status (0 when the connection failed).
fn status_of(path: &str) -> u16 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", PORT)) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {SOAK_TOKEN}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn hex64(n: u64, tag: u8) -> String {
    format!("{tag:02x}{n:062x}")
}

fn uid(n: u64, tag: u16) -> String {
    format!("{n:08x}-{tag:04x}-4000-8000-000000000000")
}

fn output(kind: OutputKind, key: &str, arrival: u64, tag: u16) -> Output {
    Output {
        name: format!("{kind}-{}-{arrival}", &key[..16]),
        kind,
        message_uid: uid(arrival, tag).into(),
        format: Format::V22,
        created: "2026-11-23T08:46:22+03:00".into(),
        recipient_uid: "2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d".into(),
        about_uid: uid(arrival, 1).into(),
        accepted: true,
        comment: None,
        foundation: (kind == OutputKind::Registered).then(|| NoticeRef {
            organization: Some("Управление Президента Российской Федерации по работе с обращениями граждан и организаций".into()),
            number: format!("А26-02-{arrival:07}"),
            date: medo_gateway::model::Day::parse("2026-11-19"),
        }),
        registration: (kind == OutputKind::Registered).then(|| NoticeRef {
            organization: None,
            number: format!("ОГ-{arrival}/26"),
            date: medo_gateway::model::Day::parse("2026-11-23"),
        }),
        reason: None,
        text: None,
        post: None,
        files: Vec::new(),
        restricted: false,
        document_kind: None,
        document: None,
        body: None,
    }
}

/// The records `run` journals for one registered appeal (arrival = the next seq).
fn appeal_events(arrival: u64, year_seq: u64, body: Option<String>) -> Vec<Event> {
    let key = hex64(arrival, 0xa1);
    let receipt = output(OutputKind::Receipt, &key, arrival, 2);
    let notice = output(OutputKind::Registered, &key, arrival, 3);
    vec![
        Event::Received {
            key: key.as_str().into(),
            src: format!("{arrival:08}"),
            claim: format!("c{arrival}-1-1"),
            files: 4,
            bytes: 3889,
        },
        Event::Parsed {
            arrival,
            key: key.as_str().into(),
            header_uid: uid(arrival, 1).into(),
            header_type: "Документ".into(),
            format: Format::V22,
            source_uid: "2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d".into(),
            document_uid: Some(uid(arrival, 4).into()),
            warnings: 0,
        },
        Event::AppealReceived {
            appeal: arrival,
            key: key.as_str().into(),
            urog_number: format!("А26-02-{arrival:07}").into(),
            urog_number_norm: format!("А26-02-{arrival:07}").into(),
            urog_date: medo_gateway::model::Day::parse("2026-11-19"),
            urog_organization: Some("Управление Президента Российской Федерации по работе с обращениями граждан и организаций".into()),
            document_uid: uid(arrival, 4).into(),
            source_uid: "2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d".into(),
            format: Format::V22,
            restricted: false,
            signatures: Vec::new(),
            held: None,
            cites: Vec::new(),
            files: arrived_files(arrival),
            body: body.map(Into::into),
            redirected_from: None,
            via: None,
        },
        Event::AppealRegistered {
            appeal: arrival,
            number: format!("ОГ-{year_seq}/26").into(),
            year: 2026,
            year_seq,
            date: medo_gateway::model::Day::parse("2026-11-23").unwrap(),
            pin_hash: hex64(arrival, 0xb2).into(),
            by: medo_gateway::model::DecidedBy::Auto,
            outputs: vec![notice.clone()],
            overrides: None,
            comment: None,
            operator: None,
            command: None,
        },
        Event::Decided {
            arrival,
            key: key.as_str().into(),
            outputs: vec![receipt.clone()],
        },
        Event::Published {
            arrival,
            key: key.as_str().into(),
            name: receipt.name,
            sha256: hex64(arrival, 0xc3).into(),
        },
        Event::Published {
            arrival,
            key: key.as_str().into(),
            name: notice.name,
            sha256: hex64(arrival, 0xc4).into(),
        },
        Event::Archived {
            arrival,
            key: key.as_str().into(),
            dir: format!("archive/2026-11-23/{key}"),
        },
    ]
}

/// A receipt from the partner about one of ours: received, parsed, decided, archived.
fn receipt_events(arrival: u64) -> Vec<Event> {
    let key = hex64(arrival, 0xd5);
    vec![
        Event::Received {
            key: key.as_str().into(),
            src: format!("{arrival:08}"),
            claim: format!("c{arrival}-1-1"),
            files: 2,
            bytes: 1287,
        },
        Event::Parsed {
            arrival,
            key: key.as_str().into(),
            header_uid: uid(arrival, 1).into(),
            header_type: "Квитанция".into(),
            format: Format::V271,
            source_uid: "2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d".into(),
            document_uid: None,
            warnings: 0,
        },
        Event::Decided {
            arrival,
            key: key.as_str().into(),
            outputs: Vec::new(),
        },
        Event::Archived {
            arrival,
            key: key.as_str().into(),
            dir: format!("archive/2026-11-23/{key}"),
        },
    ]
}

/// Writes the synthetic journal; returns the number of records.
fn generate(state: &Path, appeals: usize, records: usize) -> u64 {
    let (mut journal, _) = Journal::open(&state.join("journal")).unwrap();
    let ts = "2026-11-23T05:46:22.795752263Z";
    let mut made = 0usize;
    let mut batch = Vec::new();
    let mut next = journal.next_seq();
    let flush = |journal: &mut Journal, batch: &mut Vec<Event>| {
        journal.append(std::mem::take(batch), ts).unwrap();
    };
    let receipts = records.saturating_sub(appeals * 8) / 4;
    let total = appeals + receipts;
    // a hub: round-robin over the bodies, each numbering its own
    let mut per_body = vec![0u64; bodies().max(1)];
    for i in 0..total {
        // receipts spread evenly among the appeals
        let is_appeal = (i * appeals) / total != ((i + 1) * appeals) / total;
        let events = if is_appeal {
            made += 1;
            let b = (made - 1) % per_body.len();
            per_body[b] += 1;
            let body = (bodies() > 0).then(|| body_id(b));
            appeal_events(next, per_body[b], body)
        } else {
            receipt_events(next)
        };
        next += events.len() as u64;
        batch.extend(events);
        if batch.len() >= 4_000 {
            flush(&mut journal, &mut batch);
        }
    }
    flush(&mut journal, &mut batch);
    journal.next_seq()
}

fn run(config: &Path, args: &[&str]) -> (Duration, String) {
    let t = Instant::now();
    let out = std::process::Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `appeals list` (its first page) and `appeals show`: the best of three runs each.
fn operator_cli(config: &Path) -> (Duration, Duration) {
    let best = |args: &[&str]| (0..3).map(|_| run(config, args).0).min().unwrap();
    if bodies() > 0 {
        // one body of the hub, its 7th registration (a number every body gave)
        let body = body_id(bodies() / 2);
        return (
            best(&["appeals", "list", "--body", &body]),
            best(&["appeals", "show", "ОГ-7/26", "--body", &body]),
        );
    }
    (
        best(&["appeals", "list"]),
        best(&["appeals", "show", "ОГ-777/26"]),
    )
}

/// A hub's config of `bodies()` bodies loaded in process: the best of five, beside the
/// one-body config's.
fn config_load(config: &Path) {
    let best = |path: &Path| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                medo_gateway::config::Config::load(path).unwrap();
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    let hub = best(config);
    let one = best(Path::new("config/gateway.toml"));
    println!(
        "config of {} bodies loads in {:.1} ms (goal ≤ 100 ms; baseline, the one-body config: {:.1} ms)",
        bodies(),
        hub.as_secs_f64() * 1000.0,
        one.as_secs_f64() * 1000.0
    );
}

fn print_cli(
    n: u64,
    way: &str,
    (list, show): (Duration, Duration),
    (l0, s0): (Duration, Duration),
) {
    println!(
        "operator CLI over {n} records, {way}: appeals list (first page) {:.0} ms, appeals show {:.0} ms (goal ≤ 200 ms each; baseline, the journal folded: {:.0} / {:.0} ms)",
        list.as_secs_f64() * 1000.0,
        show.as_secs_f64() * 1000.0,
        l0.as_secs_f64() * 1000.0,
        s0.as_secs_f64() * 1000.0
    );
}

/// GET `path`; the time it took and the body's length.
fn get(path: &str) -> (Duration, usize) {
    let t = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", PORT)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    (t.elapsed(), buf.len())
}

fn healthz() -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", PORT)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

fn start(config: &Path) -> (std::process::Child, Duration) {
    let t = Instant::now();
    let mut child = std::process::Command::new(bin())
        .arg("--config")
        .arg(config)
        .arg("run")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while !healthz() {
        std::thread::sleep(Duration::from_millis(2));
        assert!(t.elapsed() < Duration::from_secs(600), "never served");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the service stopped at start: {status}");
        }
    }
    (child, t.elapsed())
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |k| k / 1024.0)
}

/// A query (kind «Запрос») naming `n` appeals in an attached query.xml.
fn drop_query(root: &Path, config: &Path, n: usize) {
    let samples = root.join("samples");
    run(config, &["samples", "--out", samples.to_str().unwrap()]);
    let q = root.join("staging-query");
    fs::create_dir_all(&q).unwrap();
    let src = samples.join("urog-appeal-2.2");
    for e in fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), q.join(e.file_name())).unwrap();
    }
    let path = q.join("document.xml");
    let bytes = fs::read(&path).unwrap();
    let mut t = encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned();
    for (element, tag) in [("<xdms:header ", "0e01"), ("<xdms:document ", "0e02")] {
        let el = t.find(element).unwrap();
        let at = t[el..].find("xdms:uid=\"").unwrap() + el + 10;
        t.replace_range(
            at..at + 36,
            &format!("ffffffff-{tag}-4000-8000-000000000000"),
        );
    }
    t = t.replace(
        "<xdms:kind>Письмо</xdms:kind>",
        "<xdms:kind>Запрос</xdms:kind>",
    );
    fs::write(&path, encoding_rs::WINDOWS_1251.encode(&t).0).unwrap();
    let numbers: String = (0..n)
        .map(|i| format!("<appeal><number>ОГ-{}/26</number></appeal>", i * 97 + 1))
        .collect();
    fs::write(
        q.join("query.xml"),
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><query xmlns=\"urn:medo-gateway:urog-query:1\" version=\"1\">{numbers}</query>"),
    )
    .unwrap();
    // the envelope must list query.xml too
    let env_path = q.join("envelope.ini");
    let env = encoding_rs::WINDOWS_1251
        .decode(&fs::read(&env_path).unwrap())
        .0
        .into_owned();
    let files_at = env.find("[ФАЙЛЫ]").unwrap();
    let count = env[files_at..]
        .lines()
        .skip(1)
        .filter(|l| l.contains('='))
        .count();
    let env = format!("{}\r\n{count}=query.xml\r\n", env.trim_end());
    fs::write(&env_path, encoding_rs::WINDOWS_1251.encode(&env).0).unwrap();
    fs::rename(&q, root.join("in/query")).unwrap();
}

/// ms from a query's `received` record to the last `published` of its answer.
fn query_latency_ms(state: &Path) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let segs = medo_gateway::journal::segments(&state.join("journal")).ok()?;
    let text = fs::read_to_string(segs.last()?).ok()?;
    let mut received = None;
    let mut published = None;
    for line in text.lines().rev() {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let ts = time::OffsetDateTime::parse(v["ts"].as_str()?, &Rfc3339).ok()?;
        match v["kind"].as_str()? {
            "published" if v["name"].as_str()?.starts_with("response") && published.is_none() => {
                published = Some(ts)
            }
            "received" if v["src"] == "query" => {
                received = Some(ts);
                break;
            }
            _ => {}
        }
    }
    Some((published? - received?).as_seconds_f64() * 1000.0)
}

/// `journal::verify` of `dir` in a child process of this bench with SHA-NI hidden: records/s.
fn verify_without_sha_ni(dir: &Path) -> Option<f64> {
    let out = std::process::Command::new(std::env::current_exe().ok()?)
        .env("BENCH_VERIFY_CHILD", dir)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The child of [`verify_without_sha_ni`].
fn verify_child(dir: &Path) {
    if !hide_sha_ni::hide() || hide_sha_ni::cpu_has_sha_ni() {
        return;
    }
    let t = Instant::now();
    let report = medo_gateway::journal::verify(dir).unwrap();
    assert!(report.first_bad.is_none());
    println!("{}", report.records as f64 / t.elapsed().as_secs_f64());
}

/// `BENCH_KEEP`: leaves the spool behind for profiling the service by hand.
fn keep_if_asked(root: tempfile::TempDir) {
    if std::env::var_os("BENCH_KEEP").is_some() {
        eprintln!("kept: {}", root.path().display());
        std::mem::forget(root);
    }
}

fn main() {
    if let Some(dir) = std::env::var_os("BENCH_VERIFY_CHILD") {
        return verify_child(Path::new(&dir));
    }
    println!("{}", hide_sha_ni::cpu_line());
    let appeals = env_usize("BENCH_APPEALS", 100_000);
    let records = env_usize("BENCH_RECORDS", 1_000_000).max(appeals * 8 + 1);
    let root = tempfile::tempdir_in(".").unwrap();
    let config = write_config(root.path());
    if bodies() > 0 {
        config_load(&config);
    }
    let state = root.path().join("state");
    let t = Instant::now();
    let n = generate(&state, appeals, records);
    println!(
        "scale: journal of {n} records ({appeals} registered appeals) written in {:.1} s, {:.0} MB",
        t.elapsed().as_secs_f64(),
        dir_bytes(&state.join("journal")) as f64 / 1e6
    );
    quiet_disk();
    let (took, _) = run(&config, &["journal", "verify"]);
    println!(
        "journal verify: {n} records in {:.2} s = {:.0} records/s (goal ≥ 500,000/s; SHA-NI {})",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        if hide_sha_ni::cpu_has_sha_ni() {
            "used"
        } else {
            "absent"
        }
    );
    if hide_sha_ni::cpu_has_sha_ni() {
        match verify_without_sha_ni(&state.join("journal")) {
            Some(rate) => println!(
                "journal verify without SHA-NI (hidden by CPUID faulting, in a child process): {rate:.0} records/s (goal ≥ 500,000/s)"
            ),
            None => println!("journal verify without SHA-NI: not measured (no CPUID faulting)"),
        }
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("verify") {
        return keep_if_asked(root);
    }
    // the operator's commands: the baseline folds the whole journal (no store yet)
    let folded = operator_cli(&config);
    let (took, _) = run(&config, &["store", "rebuild"]);
    println!(
        "store rebuild: {n} records in {:.1} s = {:.0} records/s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    let from_store = operator_cli(&config);
    print_cli(
        n,
        "no service: the store + the journal's tail",
        from_store,
        folded,
    );
    on_postgres(root.path(), &config, n, from_store);
    // a journal written through the API has no anchor and no keys beside it: the service
    // refuses such a state (issue 26) until an operator accepts that they are missing
    run(
        &config,
        &[
            "journal",
            "recover",
            "--accept-missing",
            "anchor",
            "--accept-missing",
            "checkpoint-key",
            "--accept-missing",
            "pin-key",
            "--comment",
            "bench: a journal written through the journal API",
        ],
    );
    quiet_disk();
    let (mut first, cold) = start(&config);
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let (service, warm) = start(&config);
    println!(
        "restart with {appeals} appeals stored: first start {:.0} ms; after kill -9 → /healthz answers in {:.0} ms (goal ≤ 1000 ms)",
        cold.as_secs_f64() * 1000.0,
        warm.as_secs_f64() * 1000.0
    );
    let from_service = operator_cli(&config);
    print_cli(n, "the service running: its socket", from_service, folded);
    let after_start = peak_rss_mib(service.id());
    std::thread::sleep(Duration::from_secs(3)); // a few idle passes
    let idle = peak_rss_mib(service.id());
    let (page, bytes) = get("/");
    let after_page = peak_rss_mib(service.id());
    let (search, _) = get("/?q=%D0%9E%D0%93-777%2F26");
    println!(
        "dashboard over {appeals} appeals (all open: the worst case): page {:.0} ms ({} KB), search by number {:.0} ms",
        page.as_secs_f64() * 1000.0,
        bytes / 1024,
        search.as_secs_f64() * 1000.0
    );
    let asked = env_usize("BENCH_QUERY", 1_000).min(appeals);
    if bodies() > 0 {
        println!("УРОГ query: not measured in a hub run (the sample names no body of it)");
        stop(service);
        println!("memory with {appeals} appeals over {} bodies: peak RSS {after_start:.1} MiB after start, {idle:.1} MiB after idle passes, {after_page:.1} MiB after a dashboard view (goal ≤ 256 MiB)", bodies());
        return keep_if_asked(root);
    }
    drop_query(root.path(), &config, asked);
    let t = Instant::now();
    while !fs::read_dir(root.path().join("out")).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("response")
    }) {
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no answer to the query"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let after_query = peak_rss_mib(service.id());
    let t = Instant::now();
    let (served, busy) = soak();
    let after_soak = peak_rss_mib(service.id());
    println!(
        "soak: {SOAK_READERS} concurrent heavy readers × {SOAK_ROUNDS} (API list limit=500 / dashboard) over {appeals} appeals in {:.1} s: {served} served, {busy} turned away (503); peak RSS {after_soak:.1} MiB (goal ≤ 256 MiB)",
        t.elapsed().as_secs_f64()
    );
    stop(service);
    println!(
        "memory with {appeals} appeals stored: peak RSS {after_start:.1} MiB after start, {idle:.1} MiB after idle passes, {after_page:.1} MiB after a dashboard view, {after_query:.1} MiB after a {asked}-appeal query (goal ≤ 128 MiB)"
    );
    match query_latency_ms(&state) {
        Some(ms) => println!(
            "УРОГ query naming {asked} appeals over {appeals}: claimed → answer published in {ms:.0} ms (goal ≤ 100 ms for 1,000)"
        ),
        None => println!("УРОГ query: no timing found in the journal"),
    }
    keep_if_asked(root);
}

/// The journal moved into a PostgreSQL database, its index built there, and the operator's
/// commands timed on it beside the files store's figures (`baseline`) of the same run.
fn on_postgres(root: &Path, config: &Path, n: u64, baseline: (Duration, Duration)) {
    let Some(url) = medo_pg::testing::database("bench_appeals") else {
        println!("PostgreSQL: not measured (no server: run under pg_virtualenv)");
        return;
    };
    let url_file = root.join("db.url");
    fs::write(&url_file, &url).unwrap();
    let (took, _) = run(
        config,
        &[
            "storage",
            "migrate",
            "--to",
            "postgres",
            "--url-file",
            url_file.to_str().unwrap(),
        ],
    );
    println!(
        "PostgreSQL: storage migrate of {n} records in {:.1} s = {:.0} records/s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    let pg_config = root.join("gateway-pg.toml");
    let text = fs::read_to_string(config).unwrap();
    let storage = format!("\n[storage]\nbackend = \"postgres\"\nurl_file = {url_file:?}\n");
    fs::write(&pg_config, text + &storage).unwrap();
    let (took, _) = run(&pg_config, &["store", "rebuild"]);
    println!(
        "PostgreSQL: store rebuild (the index's table from the database's journal) of {n} records in {:.1} s = {:.0} records/s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    let on_db = operator_cli(&pg_config);
    println!(
        "operator CLI over {n} records on PostgreSQL (the database's index): appeals list (first page) {:.0} ms, appeals show {:.0} ms (goal ≤ 200 ms each; baseline, the files store of this run: {:.0} / {:.0} ms)",
        on_db.0.as_secs_f64() * 1000.0,
        on_db.1.as_secs_f64() * 1000.0,
        baseline.0.as_secs_f64() * 1000.0,
        baseline.1.as_secs_f64() * 1000.0
    );
}

/// Stops the service cleanly (SIGTERM) and waits for it.
fn stop(mut service: std::process::Child) {
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(service.id().to_string())
        .status();
    let _ = service.wait();
}

/// Flushes what the setup wrote (~1 GB) so that its writeback does not land in a timed part.
fn quiet_disk() {
    // SAFETY: sync(2) takes no arguments and cannot fail
    unsafe { libc::sync() };
}

fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The files a 2.2 appeal arrives with (the message, the cover letter, the appeal), as the
/// gateway journals them.
fn arrived_files(arrival: u64) -> Vec<medo_gateway::model::ArrivedFile> {
    use medo_gateway::model::{ArrivedFile, FileRole};
    [
        ("document.xml", FileRole::Message, 6_210),
        ("letter.pdf", FileRole::Document, 48_113),
        ("appeal.pdf", FileRole::Attachment, 131_072),
    ]
    .into_iter()
    .map(|(name, role, size)| ArrivedFile {
        name: name.into(),
        role,
        size,
        sha256: format!("{arrival:064x}").into(),
        container: None,
    })
    .collect()
}
