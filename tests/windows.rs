//! Issue 14: the narrow windows between two durable steps, hit exactly with a named fault
//! point (`MEDO_FAULT_STOP`, `src/fault.rs`) instead of by luck; after the stop, the next run
//! must neither lose nor double anything.

mod common;

use common::env::{names, Env};

/// Item 2: a crash between an operator command's journal commit and the removal of its
/// queue file: the next run sees the command's id in the journal and does not apply it again
/// (one «Назначен исполнитель», not two).
#[test]
fn a_command_journaled_before_a_crash_is_not_applied_again() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "appeal");
    env.crash_at(
        "after-command-commit",
        &[
            "appeals",
            "event",
            "1",
            "executor-assigned",
            "--executor",
            "Иванов И.И.",
        ],
    );
    let queued: Vec<String> = names(&env.state.join("control"))
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(queued.len(), 1, "the command file outlived the crash");
    assert_eq!(env.records_of_kind("appeal_progress").len(), 1, "journaled");
    env.once();
    let progress = env.records_of_kind("appeal_progress");
    assert_eq!(progress.len(), 1, "applied once: {progress:?}");
    assert_eq!(
        progress[0]["command"],
        queued[0].trim_end_matches(".json"),
        "the event names its command"
    );
    let notices: Vec<String> = env
        .outbound_names()
        .into_iter()
        .filter(|n| n.starts_with("executor"))
        .collect();
    assert_eq!(notices.len(), 1, "one notice: {notices:?}");
    assert!(
        names(&env.state.join("control"))
            .iter()
            .all(|n| !n.ends_with(".json")),
        "the file is gone"
    );
    env.verify_all();
}

fn published_names(env: &Env) -> Vec<String> {
    let mut n: Vec<String> = env
        .records_of_kind("published")
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

/// Item 1: a crash right after the packages appeared in outbound, before `published` was
/// journaled, and VipNet took them meanwhile: the restart does not send them again — their
/// intents say they were renamed into outbound.
#[test]
fn a_crash_after_publishing_does_not_send_the_batch_again() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "appeal");
    env.crash_at("after-publish", &["run", "--once"]);
    let mut sent = env.outbound_names();
    sent.sort();
    assert_eq!(sent.len(), 2, "receipt and notice: {sent:?}");
    assert!(env.records_of_kind("published").is_empty());
    for n in &sent {
        std::fs::remove_dir_all(env.outbound.join(n)).unwrap(); // VipNet took them
    }
    env.once();
    assert!(
        env.outbound_names().is_empty(),
        "sent again: {:?}",
        env.outbound_names()
    );
    assert_eq!(
        published_names(&env),
        sent,
        "each journaled as published once"
    );
    assert!(
        names(&env.state.join("publishing")).is_empty(),
        "no intent left"
    );
    env.verify_all();
}

/// Item 1, the other side: a crash after the intents are durable but before any rename: the
/// staged copies survive the restart's clean-up and are published, once.
#[test]
fn a_crash_before_the_rename_publishes_the_staged_packages_once() {
    let env = Env::new();
    env.drop_sample("urog-appeal-2.2", "appeal");
    env.crash_at("after-publish-intents", &["run", "--once"]);
    assert!(env.outbound_names().is_empty());
    env.once();
    let mut sent = env.outbound_names();
    sent.sort();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(published_names(&env), sent);
    assert!(
        names(&env.state.join("publishing")).is_empty(),
        "no intent left"
    );
    env.verify_all();
}

/// Item 6: inbound replaced by a symbolic link into state_dir (an admin's mistake): the
/// gateway refuses to run (exit 2) and claims nothing of its own state; the journal keeps
/// every record.
#[cfg(unix)]
#[test]
fn inbound_linked_into_state_dir_is_refused() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "appeal");
    let records = env.journal_lines().len();
    std::fs::remove_dir_all(&env.inbound).unwrap();
    std::os::unix::fs::symlink(&env.state, &env.inbound).unwrap();
    let out = env.cmd(&["run", "--once"]);
    assert_eq!(out.status.code(), Some(2), "refused at start");
    assert!(String::from_utf8_lossy(&out.stderr).contains("символическая ссылка"));
    assert_eq!(
        env.journal_lines().len(),
        records,
        "nothing claimed or journaled"
    );
    env.verify_all();
}

/// Item 6: folders that overlap without any link (inbound configured inside state_dir, or
/// state_dir inside inbound) are refused too — compared by device and inode.
#[test]
fn overlapping_spool_folders_are_refused() {
    for (inbound_in_state, expect) in [(true, "inbound"), (false, "state_dir")] {
        let env = Env::new();
        let text = std::fs::read_to_string(&env.config).unwrap();
        let (from, to) = if inbound_in_state {
            let inner = env.state.join("in");
            std::fs::create_dir_all(&inner).unwrap();
            (
                format!("inbound = \"{}\"", env.inbound.display()),
                format!("inbound = \"{}\"", inner.display()),
            )
        } else {
            let inner = env.inbound.join("state");
            (
                format!("state_dir = \"{}\"", env.state.display()),
                format!("state_dir = \"{}\"", inner.display()),
            )
        };
        std::fs::write(&env.config, text.replace(&from, &to)).unwrap();
        let out = env.cmd(&["run", "--once"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("{expect} ")) && err.contains("лежит внутри"),
            "{err}"
        );
    }
}

fn registered_numbers(env: &Env) -> Vec<String> {
    env.records_of_kind("appeal_registered")
        .iter()
        .map(|r| r["number"].as_str().unwrap().to_string())
        .collect()
}

/// Item 3: the journal's tail cut from the last registration on. `journal verify` says so
/// (the signed anchor names a longer journal), the service refuses to start (exit 2) — the
/// next appeal does not get the lost number a second time.
#[test]
fn a_journal_cut_from_the_last_registration_on_is_refused() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "a");
    env.deliver("urog-appeal-2.7.1", "b");
    assert_eq!(registered_numbers(&env).len(), 2);
    let segment = env.last_segment();
    let text = std::fs::read_to_string(&segment).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cut = lines
        .iter()
        .rposition(|l| l.contains("\"kind\":\"appeal_registered\""))
        .unwrap();
    std::fs::write(&segment, lines[..cut].join("\n") + "\n").unwrap();
    let verify = env.cmd(&["journal", "verify"]);
    let said = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(1), "{said}");
    assert!(said.contains("контрольная точка"), "{said}");
    env.drop_sample("urog-appeal-2.2", "c");
    let out = env.cmd(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "refused: {err}");
    assert!(err.contains("служба не запускается"), "{err}");
    assert_eq!(
        registered_numbers(&env).len(),
        1,
        "nothing registered after the cut"
    );
}

/// Item 3: an older copy of the journal restored (its own checkpoints with it): the store,
/// and the anchor outside the journal folder, have seen more — refused.
#[test]
fn an_older_journal_restored_is_refused() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "a");
    let backup = env.root.path().join("journal-backup");
    let cp = |from: &std::path::Path, to: &std::path::Path| {
        let ok = std::process::Command::new("cp")
            .arg("-a")
            .arg(from)
            .arg(to)
            .status();
        assert!(ok.unwrap().success());
    };
    cp(&env.state.join("journal"), &backup);
    env.deliver("urog-appeal-2.7.1", "b");
    std::fs::remove_dir_all(env.state.join("journal")).unwrap();
    cp(&backup, &env.state.join("journal"));
    let out = env.cmd(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "refused: {err}");
    assert!(err.contains("старая копия"), "{err}");
}

/// Item 5: names are bytes. A folder named in windows-1251 holding an appeal whose attachment
/// is stored under its windows-1251 name is claimed, read (the names matched by decoding both
/// ways) and registered; beside it a package whose 250-letter Cyrillic file name cannot be
/// given in UTF-8 is quarantined with the reason — the good appeal beside them is answered, and
/// the next start does not fail.
#[cfg(unix)]
#[test]
fn names_written_in_windows_1251_never_stall_the_gateway() {
    use common::packages::{cp1251_edit, new_document};
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let cp1251 = |s: &str| {
        std::ffi::OsStr::from_bytes(&encoding_rs::WINDOWS_1251.encode(s).0).to_os_string()
    };
    let package = |n: u32, label: &str, attachment: &str| {
        let staging = env.root.path().join(format!("staging-{n}"));
        common::env::copy_dir(&env.samples.join("urog-appeal-2.2"), &staging);
        new_document(
            &staging,
            n,
            "Письмо",
            &format!("А26-02-{n}"),
            "Обращение гражданина",
        );
        std::fs::rename(staging.join("appeal.pdf"), staging.join(cp1251(attachment))).unwrap();
        for file in ["envelope.ini", "document.xml"] {
            cp1251_edit(&staging.join(file), |t| t.replace("appeal.pdf", attachment));
        }
        std::fs::rename(&staging, env.inbound.join(cp1251(label))).unwrap();
    };
    package(5001, "Пакет-1", "обращение.pdf");
    package(5002, "Пакет-2", &format!("{}.pdf", "я".repeat(246)));
    env.drop_sample("urog-appeal-2.7.1", "good");
    env.once();
    let sources: Vec<String> = env
        .records_of_kind("received")
        .iter()
        .map(|r| r["src"].as_str().unwrap().to_string())
        .collect();
    assert!(sources.contains(&"Пакет-1".to_string()), "{sources:?}");
    assert_eq!(sources.len(), 3, "every folder claimed: {sources:?}");
    let registered: Vec<String> = env
        .records_of_kind("appeal_received")
        .iter()
        .map(|r| r["urog_number"].as_str().unwrap().to_string())
        .collect();
    assert!(
        registered.contains(&"А26-02-5001".to_string()),
        "{registered:?}"
    );
    assert_eq!(env.records_of_kind("appeal_registered").len(), 2);
    let quarantined = env.records_of_kind("quarantined");
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0]["code"], "unsafe-name");
    env.once(); // starts again
    env.verify_all();
}

/// Item 5: readiness reads names both ways too — a windows-1251 package whose listed
/// attachment has not arrived yet is waited for, not claimed (and refused «Приложение
/// отсутствует»); once the file is there it is registered.
#[cfg(unix)]
#[test]
fn a_windows_1251_package_is_waited_for_until_complete() {
    use common::packages::cp1251_edit;
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let cp1251 = |s: &str| {
        std::ffi::OsStr::from_bytes(&encoding_rs::WINDOWS_1251.encode(s).0).to_os_string()
    };
    let dir = env.inbound.join(cp1251("Пакет-3"));
    common::env::copy_dir(&env.samples.join("urog-appeal-2.2"), &dir);
    // the cover letter is there under its windows-1251 name, the appeal text not yet
    std::fs::rename(dir.join("cover-letter.pdf"), dir.join(cp1251("письмо.pdf"))).unwrap();
    let pdf = std::fs::read(dir.join("appeal.pdf")).unwrap();
    std::fs::remove_file(dir.join("appeal.pdf")).unwrap();
    for file in ["envelope.ini", "document.xml"] {
        cp1251_edit(&dir.join(file), |t| {
            t.replace("appeal.pdf", "обращение.pdf")
                .replace("cover-letter.pdf", "письмо.pdf")
        });
    }
    let out = env.once();
    assert!(
        env.records_of_kind("received").is_empty(),
        "claimed incomplete: {out}"
    );
    let listed = env.ok(&["spool", "list"]);
    assert!(
        listed.contains("Пакет-3") && listed.contains("обращение.pdf listed but missing"),
        "operators see it waiting, by its name: {listed}"
    );
    std::fs::write(dir.join(cp1251("обращение.pdf")), pdf).unwrap();
    env.once();
    assert_eq!(env.records_of_kind("appeal_registered").len(), 1);
    assert!(env.records_of_kind("appeal_refused").is_empty());
}
