//! Hostile folders: envelopes, special files, names, growth, sheer numbers.

use std::fs;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use crate::common::env::{Env, Service};
use crate::{
    appeal_22, assert_outcome, case, good_beside, list_in_envelope, overdue_at_once,
    quarantine_codes, From,
};

/// The envelope is VipNet's transport note; the message decides. A package whose envelope is
/// empty or undecodable is read from its message, with warnings in the journal — never
/// quarantined for that alone, never a crash.
fn envelope_case(name: &str, envelope: Vec<u8>) {
    let env = Env::new();
    let dir = appeal_22(&env, name);
    fs::write(dir.join("envelope.ini"), envelope).unwrap();
    good_beside(&env, From::V22);
    let rss = crate::once_measured(&env);
    assert!(rss <= crate::MAX_RSS_MIB, "peak RSS {rss} MiB");
    assert!(crate::quarantine_codes(&env).is_empty());
    assert_eq!(env.records_of_kind("appeal_registered").len(), 2, "{name}");
    let warned = env
        .records_of_kind("parsed")
        .iter()
        .any(|r| r["warnings"].as_u64().unwrap_or(0) > 0);
    assert!(warned, "{name}: no warning journaled");
    env.verify_all();
}

#[test]
fn an_empty_envelope() {
    envelope_case("empty-envelope", Vec::new());
}

#[test]
fn an_empty_listed_file() {
    case(
        "empty listed file",
        &["malformed-xml", "not-medo"],
        From::V22,
        |env| {
            let dir = appeal_22(env, "empty-file");
            fs::write(dir.join("document.xml"), b"").unwrap();
            fs::write(dir.join("appeal.pdf"), b"").unwrap();
        },
    );
}

#[test]
fn an_envelope_listing_itself() {
    case(
        "envelope lists itself",
        &["bad-envelope", "unsafe-name"],
        From::V22,
        |env| {
            let dir = appeal_22(env, "self");
            list_in_envelope(&dir, "envelope.ini");
        },
    );
}

/// Issue 26 item 15: an envelope listing the same file twice (a known quirk) is read and
/// answered — registered, its Квитанция sent — not quarantined without a receipt.
#[test]
fn an_envelope_listing_a_file_twice() {
    let env = Env::new();
    let dir = appeal_22(&env, "twice");
    list_in_envelope(&dir, "appeal.pdf");
    env.once();
    assert!(
        quarantine_codes(&env).is_empty(),
        "{:?}",
        quarantine_codes(&env)
    );
    assert_eq!(env.records_of_kind("appeal_registered").len(), 1);
    let parsed = env.records_of_kind("parsed");
    assert!(parsed[0]["warnings"].as_u64().unwrap() >= 1, "{parsed:?}");
    assert!(env
        .outbound_names()
        .iter()
        .any(|n| n.starts_with("receipt")));
    env.verify_all();
}

#[test]
fn files_pointing_outside_the_folder() {
    case(
        "[ФАЙЛЫ] ../",
        &["unsafe-name", "bad-envelope"],
        From::V22,
        |env| {
            let outside = env.root.path().join("outside");
            fs::create_dir_all(&outside).unwrap();
            fs::write(outside.join("secret.txt"), b"secret").unwrap();
            let dir = appeal_22(env, "dotdot");
            list_in_envelope(&dir, "../../outside/secret.txt");
        },
    );
}

#[test]
fn files_named_by_an_absolute_path_are_reduced_to_names() {
    // a Windows or Unix path in [ФАЙЛЫ] names the file in the folder, never the path: the
    // file is not in the folder, so the package is incomplete-then-missing, never read
    // from outside
    case(
        "[ФАЙЛЫ] /abs",
        &["missing-file", "incomplete"],
        From::V22,
        |env| {
            let outside = env.root.path().join("outside");
            fs::create_dir_all(&outside).unwrap();
            fs::write(outside.join("secret.txt"), b"secret").unwrap();
            let dir = appeal_22(env, "abs");
            list_in_envelope(&dir, outside.join("secret.txt").to_str().unwrap());
            overdue_at_once(env);
        },
    );
}

#[test]
fn a_fifo_in_a_package() {
    case("FIFO in package", &["not-regular-file"], From::V22, |env| {
        let dir = appeal_22(env, "fifo");
        let p = std::ffi::CString::new(dir.join("pipe.pdf").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path
        assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o644) }, 0);
        list_in_envelope(&dir, "pipe.pdf");
    });
}

#[test]
fn a_socket_in_a_package() {
    let env = Env::new();
    let dir = appeal_22(&env, "socket");
    let _listener = std::os::unix::net::UnixListener::bind(dir.join("sock.pdf")).unwrap();
    list_in_envelope(&dir, "sock.pdf");
    good_beside(&env, From::V22);
    let rss = crate::once_measured(&env);
    assert!(rss <= crate::MAX_RSS_MIB, "peak RSS {rss} MiB");
    assert_outcome(&env, "socket in package", &["not-regular-file"]);
}

#[test]
fn a_symlink_in_a_package() {
    case(
        "symlink in package",
        &["not-regular-file"],
        From::V22,
        |env| {
            let dir = appeal_22(env, "symlink");
            fs::remove_file(dir.join("appeal.pdf")).unwrap();
            symlink("/etc/passwd", dir.join("appeal.pdf")).unwrap();
        },
    );
}

#[test]
fn a_hard_link_in_a_package() {
    case("hard link in package", &["unsafe-name"], From::V22, |env| {
        let outside = env.root.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("secret.pdf"), b"%PDF secret").unwrap();
        let dir = appeal_22(env, "hardlink");
        fs::remove_file(dir.join("appeal.pdf")).unwrap();
        fs::hard_link(outside.join("secret.pdf"), dir.join("appeal.pdf")).unwrap();
    });
}

#[test]
fn a_file_name_with_control_characters() {
    case("control characters", &["unsafe-name"], From::V22, |env| {
        let dir = appeal_22(env, "ctrl");
        fs::write(dir.join("evil\u{7}\u{1b}[2J.pdf"), b"%PDF").unwrap();
    });
}

#[test]
fn fifos_sockets_and_symlinks_directly_in_inbound_are_left_alone() {
    // not package folders: never claimed, never opened (a FIFO would block a reader)
    let env = Env::new();
    let outside = env.root.path().join("outside");
    fs::create_dir_all(outside.join("victim")).unwrap();
    fs::write(outside.join("victim/file.txt"), b"keep").unwrap();
    let p = std::ffi::CString::new(env.inbound.join("pipe").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path
    assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o644) }, 0);
    let _listener = std::os::unix::net::UnixListener::bind(env.inbound.join("sock")).unwrap();
    symlink(outside.join("victim"), env.inbound.join("linked-folder")).unwrap();
    good_beside(&env, From::V271);
    let rss = crate::once_measured(&env);
    assert!(rss <= crate::MAX_RSS_MIB, "peak RSS {rss} MiB");
    assert_outcome(&env, "special entries in inbound", &[]);
    for name in ["pipe", "sock", "linked-folder"] {
        assert!(
            fs::symlink_metadata(env.inbound.join(name)).is_ok(),
            "{name} was moved"
        );
    }
    assert_eq!(fs::read(outside.join("victim/file.txt")).unwrap(), b"keep");
}

#[test]
fn a_package_that_keeps_growing_is_quarantined_once_overdue() {
    let env = Env::with(200, 2, "");
    let dir = appeal_22(&env, "growing");
    let grower = dir.join("appeal.pdf");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = fs::OpenOptions::new().append(true).open(&grower).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if f.write_all(&[b'x'; 512]).is_err() {
                    break; // the folder was claimed away
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let service = Service::start(&env);
    good_beside(&env, From::V22);
    let t = Instant::now();
    while crate::quarantine_codes(&env).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "still waiting after 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    while env.records_of_kind("appeal_registered").is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "good appeal not registered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // still serving after it
    assert!(service.0.id() > 0);
    let status = service.stop();
    assert!(status.success(), "{status:?}");
    assert_outcome(&env, "growing forever", &["incomplete"]);
}

#[test]
fn a_hundred_thousand_empty_folders_in_inbound() {
    let env = Env::new();
    let t = Instant::now();
    for i in 0..100_000 {
        fs::create_dir(env.inbound.join(format!("e{i:06}"))).unwrap();
    }
    eprintln!("created 100,000 folders in {:?}", t.elapsed());
    good_beside(&env, From::V22);
    env.once();
    // empty folders are incomplete (no envelope): left waiting, never claimed, nothing lost
    assert_outcome(&env, "100,000 empty folders", &[]);
    assert_eq!(
        fs::read_dir(&env.inbound).unwrap().count(),
        100_000,
        "empty folders must stay in inbound until overdue"
    );
}

#[test]
fn an_envelope_in_utf16_without_a_bom() {
    let mut bytes = Vec::new();
    for u in "[ПИСЬМО КП ПС СЗИ]\r\n[ФАЙЛЫ]\r\n0=document.xml\r\n".encode_utf16()
    {
        bytes.extend(u.to_le_bytes());
    }
    envelope_case("utf16-envelope", bytes);
}
