//! Fault injection through the binary. Here: the disk filling up while publishing, a
//! read-only state_dir at start, the clock jumping backwards. (Also fault tests, in
//! tests/spool.rs: outbound not writable for a while, a corrupt sled store rebuilt from the
//! journal, a journal whose last record was torn by a crash.)
//!
//! The filesystem faults mount small tmpfs file systems, which needs root (CAP_SYS_ADMIN);
//! without it those tests say so and return. The clock test runs the binary under
//! libfaketime (Debian `faketime`, installed by `.ci/run`).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::env::{Env, Service};

/// A tmpfs mounted at a folder; unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, options: &str) -> Option<Mount> {
        fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("NOTE: cannot mount tmpfs (needs root/CAP_SYS_ADMIN): filesystem fault test not run");
        }
        ok.then(|| Mount(at.to_path_buf()))
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_full_disk_while_publishing_is_retried_and_loses_nothing() {
    let env = Env::new();
    let service = Service::start(&env);
    // outbound packages are built in state_dir/tmp and renamed into outbound: a full,
    // one-page file system there makes every build fail with ENOSPC
    let tmp = env.state.join("tmp");
    let Some(full) = Mount::tmpfs(&tmp, "size=4k") else {
        return;
    };
    let _ = fs::write(tmp.join("filler"), vec![0u8; 4096]);
    env.drop_sample("urog-appeal-2.2", "appeal");
    wait_for("the decision", Duration::from_secs(20), || {
        !env.records_of_kind("appeal_registered").is_empty()
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        env.outbound_names().is_empty(),
        "published onto a full disk?"
    );
    assert!(env.records_of_kind("published").is_empty());
    let claimed: Vec<_> = fs::read_dir(env.state.join("claimed")).unwrap().collect();
    assert_eq!(claimed.len(), 1, "the package must wait in claimed/");
    // space comes back
    drop(full);
    wait_for(
        "publishing after space returned",
        Duration::from_secs(90),
        || env.records_of_kind("published").len() == 2,
    );
    wait_for("archiving", Duration::from_secs(20), || {
        !env.records_of_kind("archived").is_empty()
    });
    let status = service.stop();
    assert!(status.success(), "{status:?}");
    assert_eq!(env.outbound_names().len(), 2, "{:?}", env.outbound_names());
    env.verify_all();
}

#[test]
fn a_read_only_state_dir_at_start_is_a_clear_error() {
    let env = Env::new();
    // in, out and state on one small file system, made read-only before the start
    let fs_root = env.root.path().join("fs");
    let Some(mount) = Mount::tmpfs(&fs_root, "size=16m") else {
        return;
    };
    let config = fs::read_to_string(&env.config)
        .unwrap()
        .replace(
            env.inbound.to_str().unwrap(),
            fs_root.join("in").to_str().unwrap(),
        )
        .replace(
            env.outbound.to_str().unwrap(),
            fs_root.join("out").to_str().unwrap(),
        )
        .replace(
            env.state.to_str().unwrap(),
            fs_root.join("state").to_str().unwrap(),
        );
    fs::write(&env.config, config).unwrap();
    for d in ["in", "out", "state"] {
        fs::create_dir_all(fs_root.join(d)).unwrap();
    }
    mount.remount("ro");
    let out = env.cmd(&["run", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("только для чтения") && stderr.contains("state"),
        "unclear error: {stderr}"
    );
    // and once writable, it starts
    mount.remount("rw");
    let out = env.cmd(&["run", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_clock_jumping_backwards_never_makes_the_journal_run_backwards() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "first");
    env.once();
    // three days back: the clock was set wrong, or a VM snapshot restored
    env.drop_sample("urog-appeal-2.7.1", "second");
    let out = env.cmd_at("-3d", &["run", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("clock is behind the journal"),
        "no warning: {stderr}"
    );
    let ts: Vec<String> = env
        .journal_lines()
        .iter()
        .map(|r| r["ts"].as_str().unwrap().to_string())
        .collect();
    let parsed: Vec<time::OffsetDateTime> = ts
        .iter()
        .map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).unwrap()
        })
        .collect();
    assert!(
        parsed.windows(2).all(|w| w[0] <= w[1]),
        "journal time runs backwards: {ts:?}"
    );
    // the second registration is not dated before the first
    let dates: Vec<String> = env
        .records_of_kind("appeal_registered")
        .iter()
        .map(|r| r["date"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(dates.len(), 2);
    assert!(dates[0] <= dates[1], "{dates:?}");
    env.verify_all();
    // the clock right again: business as usual, no warning
    let out = env.cmd(&["run", "--once"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("clock is behind"));
}

#[test]
fn a_claimed_folder_removed_from_outside_does_not_stall_the_others() {
    let env = Env::new();
    let service = Service::start(&env);
    // outbound unusable, so the package waits in claimed/ after its decision
    let away = env.root.path().join("out.away");
    fs::rename(&env.outbound, &away).unwrap();
    fs::write(&env.outbound, b"not a folder").unwrap();
    env.drop_sample("urog-appeal-2.2", "doomed");
    wait_for("the decision", Duration::from_secs(20), || {
        !env.records_of_kind("decided").is_empty()
    });
    // someone deletes the claimed folder by hand
    for e in fs::read_dir(env.state.join("claimed")).unwrap() {
        fs::remove_dir_all(e.unwrap().path()).unwrap();
    }
    fs::remove_file(&env.outbound).unwrap();
    fs::rename(&away, &env.outbound).unwrap();
    wait_for(
        "the vanished package to be journaled",
        Duration::from_secs(90),
        || !env.records_of_kind("archived").is_empty(),
    );
    let archived = env.records_of_kind("archived");
    assert!(
        archived[0]["dir"]
            .as_str()
            .unwrap()
            .starts_with("vanished/"),
        "{archived:?}"
    );
    // its receipt and notice still went out; the next package is processed as usual
    assert_eq!(env.records_of_kind("published").len(), 2);
    env.drop_sample("urog-appeal-2.7.1", "next");
    wait_for("the next package", Duration::from_secs(20), || {
        env.records_of_kind("archived").len() == 2
    });
    assert!(service.stop().success());
    env.verify_all();
}

/// Issue 14, item 7: restarts on a full state disk keep the store where it is (no
/// `store.corrupt-*` copy, no rebuild): a full disk is not a corrupt store.
#[test]
fn a_full_state_disk_is_not_a_corrupt_store() {
    let env = Env::new();
    let fs_root = env.root.path().join("fs");
    let Some(_mount) = Mount::tmpfs(&fs_root, "size=16m") else {
        return;
    };
    let mut config = fs::read_to_string(&env.config).unwrap();
    for (from, d) in [
        (&env.inbound, "in"),
        (&env.outbound, "out"),
        (&env.state, "state"),
    ] {
        config = config.replace(from.to_str().unwrap(), fs_root.join(d).to_str().unwrap());
        fs::create_dir_all(fs_root.join(d)).unwrap();
    }
    // a 16 MiB disk: the free-space guard lowered so that the store itself meets the full disk
    let config = config.replace("[spool]\n", "[spool]\nmin_free_mib = 1\n");
    fs::write(&env.config, config).unwrap();
    common::env::copy_dir(&env.samples.join("urog-appeal-2.2"), &fs_root.join("in/a"));
    env.once();
    // fill the file system to the last byte
    let filler = fs_root.join("filler");
    let mut f = fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while std::io::Write::write_all(&mut f, &block).is_ok() {}
    let _ = std::io::Write::write_all(&mut f, &[0u8; 512]);
    drop(f);
    for _ in 0..3 {
        let out = env.cmd(&["run", "--once"]);
        assert!(!out.status.success(), "a full disk cannot be worked on");
    }
    let aside: Vec<String> = common::env::names(&fs_root.join("state"))
        .into_iter()
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert!(
        aside.is_empty(),
        "the healthy store was moved aside: {aside:?}"
    );
    fs::remove_file(&filler).unwrap();
    let out = env.cmd(&["run", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("rebuilt"),
        "no rebuild once there is room: {stderr}"
    );
}

/// Issue 26 item 10: below `[spool] min_free_mib` nothing is claimed — `/healthz` 503 «мало
/// места», `medo_disk_free_bytes` shows it — and once there is room again the package is
/// taken; a store that will not open on a (nearly) full disk is left where it is, never
/// renamed (a full disk is stood in by `MEDO_FAULT_FREE_BYTES`).
#[test]
fn little_disk_space_stops_claims_and_never_renames_the_store() {
    let env = Env::new();
    let port = env.listen_http();
    let low = [("MEDO_FAULT_FREE_BYTES", std::ffi::OsStr::new("1000"))];
    let service = Service::start_env(&env, None, &low);
    env.drop_sample("urog-appeal-2.2", "waits");
    let get = |path: &str| -> String {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return String::new();
        };
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let _ = s.write_all(req.as_bytes());
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    wait_for(
        "503 «мало места»",
        Duration::from_secs(20),
        || {
            let h = get("/healthz");
            h.starts_with("HTTP/1.1 503") && h.contains("мало места")
        },
    );
    assert!(get("/metrics").contains("medo_disk_free_bytes 1000"));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        env.records_of_kind("received").is_empty(),
        "nothing claimed"
    );
    assert!(env.inbound.join("waits").exists());
    assert!(service.stop().success());
    // room again: taken
    env.once();
    assert_eq!(env.records_of_kind("received").len(), 1);
    // a store that does not open, on a nearly full disk: left where it is
    let db = env.state.join("store").join("db");
    fs::write(&db, vec![0xA5u8; 4096]).unwrap();
    let out = env.cmd_env(&["run", "--once"], &low);
    assert!(!out.status.success());
    let aside: Vec<String> = common::env::names(&env.state)
        .into_iter()
        .filter(|n| n.contains("corrupt"))
        .collect();
    assert!(aside.is_empty(), "moved aside on a full disk: {aside:?}");
    // with room, the same store is taken for corrupt: moved aside and rebuilt (so the
    // refusal above was the disk's doing)
    env.once();
    assert!(common::env::names(&env.state)
        .iter()
        .any(|n| n.contains("corrupt")));
}
