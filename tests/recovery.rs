//! Issue 26 item 7(b): the pieces of trust next to a non-empty journal — the anchor, the
//! checkpoint key, the PIN key — are never made anew silently: missing, garbage or too
//! short, the start is refused (exit 2, saying how to recover); `journal recover
//! --accept-missing … --comment …` is the operator's word, journaled at the next start.

mod common;

use std::fs;

use common::env::Env;

fn refused(env: &Env, what: &str) {
    let out = env.cmd(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(
        err.contains("journal recover --accept-missing"),
        "{what}: {err}"
    );
}

#[test]
fn lost_anchor_or_keys_stop_the_start_until_an_operator_accepts_it() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "a");
    let state = &env.state;
    let cases: [(&str, &str, &[u8]); 4] = [
        ("anchor", "anchor.note", b""),
        ("anchor", "anchor.note", b"garbage\n\nnot signed"),
        ("pin-key", "pin.key", b""),
        ("checkpoint-key", "checkpoint.key", b""),
    ];
    for (piece, file, replacement) in cases {
        let path = state.join(file);
        let kept = fs::read(&path).unwrap();
        if replacement.is_empty() {
            fs::remove_file(&path).unwrap();
        } else {
            fs::write(&path, replacement).unwrap();
        }
        refused(&env, &format!("{piece}: {file}"));
        assert!(
            !path.exists() || fs::read(&path).unwrap() == replacement,
            "{file}: not made anew"
        );
        fs::write(&path, &kept).unwrap();
        env.once();
    }
    // accepted: made anew once, journaled with who and why
    fs::remove_file(state.join("pin.key")).unwrap();
    refused(&env, "pin.key");
    let out = common::bin()
        .arg("--config")
        .arg(&env.config)
        .args([
            "journal",
            "recover",
            "--accept-missing",
            "pin-key",
            "--comment",
            "диск заменён",
        ])
        .env("USER", "ivanova")
        .env_remove("SUDO_USER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.once();
    let recovered = env.records_of_kind("journal_recovered");
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0]["missing"][0], "pin-key");
    assert_eq!(recovered[0]["comment"], "диск заменён");
    assert_eq!(recovered[0]["operator"], "ivanova");
    assert!(state.join("pin.key").exists());
    assert!(!state.join("recover.json").exists(), "taken once");
    env.once();
    assert_eq!(env.records_of_kind("journal_recovered").len(), 1);
    env.verify_all();
}

/// The cut of issue 26: the journal's tail cut, the store deleted and the anchor deleted with
/// them — no longer starts (it gave ОГ-2 a second time to another appeal).
#[test]
fn a_cut_that_took_the_anchor_with_it_is_refused() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "a");
    fs::remove_dir_all(env.state.join("store")).unwrap();
    fs::remove_file(env.state.join("anchor.note")).unwrap();
    refused(&env, "anchor.note");
}

/// OPERATIONS «Journal behind», step 2, as an operator would follow it: the journal's end is
/// truly lost; `journal recover --accept-missing anchor` and `store rebuild` let the service
/// start again, the notes that named the longer journal are kept aside, and the loss is
/// journaled.
#[test]
fn the_loss_of_the_journals_end_is_accepted_in_words_not_by_deleting_files() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "a");
    let segment = env.last_segment();
    let text = fs::read_to_string(&segment).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    fs::write(&segment, lines[..lines.len() - 3].join("\n") + "\n").unwrap();
    let out = env.cmd(&["run", "--once"]);
    assert_eq!(out.status.code(), Some(2));
    let said = env.ok(&[
        "journal",
        "recover",
        "--accept-missing",
        "anchor",
        "--comment",
        "конец журнала утрачен",
    ]);
    assert!(said.contains("принято"), "{said}");
    env.ok(&["store", "rebuild"]);
    env.once();
    let recovered = env.records_of_kind("journal_recovered");
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0]["missing"][0], "anchor");
    let aside: Vec<String> = common::env::names(&env.state)
        .into_iter()
        .filter(|n| n.starts_with("anchor.note.accepted-"))
        .collect();
    assert_eq!(aside.len(), 1, "the old anchor kept for the audit");
    env.once();
    env.verify_all();
}

/// Issue 26 item 7(a): a record edited in the middle of the journal (its hash no longer its
/// line's) refuses the start — nothing is registered or signed over a broken chain.
#[test]
fn a_record_edited_in_the_middle_refuses_the_start() {
    let env = Env::new();
    env.deliver("urog-appeal-2.2", "a");
    env.deliver("urog-appeal-2.7.1", "b");
    let segment = env.last_segment();
    let text = fs::read_to_string(&segment).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let middle = lines
        .iter()
        .position(|l| l.contains("\"kind\":\"appeal_registered\""))
        .unwrap();
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[middle] = edited[middle].replacen("ОГ-1/", "ОГ-9/", 1);
    assert_ne!(edited[middle], lines[middle]);
    fs::write(&segment, edited.join("\n") + "\n").unwrap();
    let before = fs::metadata(env.state.join("anchor.note"))
        .unwrap()
        .modified()
        .unwrap();
    env.drop_sample("urog-appeal-2.2", "c");
    let out = env.cmd(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("цепочка журнала нарушена"), "{err}");
    let after = fs::metadata(env.state.join("anchor.note"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "nothing signed over it");
    assert!(env.inbound.join("c").exists(), "nothing claimed");
}

/// Issue 26 item 7(c): evidence off the box. Every group commit's signed note goes to the
/// witness (a folder and a command); a whole older `state_dir` restored from backup — its
/// own anchor with it — is caught at start and by `journal verify --witness`; `journal recover
/// --from-witness` continues with the numbering past every number the witness saw.
#[test]
fn a_restored_backup_is_caught_by_the_witness_and_no_number_is_given_twice() {
    let env = Env::new();
    let worm = env.root.path().join("worm");
    fs::create_dir(&worm).unwrap();
    let logged = env.root.path().join("logged");
    env.add_sections(&format!(
        "[audit]\nwitness_dir = {worm:?}\nwitness_command = \"tee -a {}\"",
        logged.display()
    ));
    env.deliver("urog-appeal-2.2", "a");
    let notes = common::env::names(&worm);
    assert!(
        !notes.is_empty() && notes.iter().all(|n| n.ends_with(".note")),
        "{notes:?}"
    );
    // one per group commit, named by the journal's size then
    let size = env.journal_lines().len();
    assert!(worm.join(format!("{size}.note")).exists(), "{notes:?}");
    let text = fs::read_to_string(&logged).unwrap();
    assert!(
        text.contains("sequences "),
        "the command got the notes: {text}"
    );
    // a backup of the whole state_dir, then one more appeal (ОГ-2)
    let backup = env.root.path().join("state-backup");
    let cp = common::env::copy_preserving;
    cp(&env.state, &backup);
    let b = env.drop_sample("urog-appeal-2.7.1", "b");
    let _ = b;
    env.once();
    let numbers = |env: &Env| -> Vec<String> {
        env.records_of_kind("appeal_registered")
            .iter()
            .map(|r| r["number"].as_str().unwrap().to_string())
            .collect()
    };
    let given = numbers(&env);
    assert_eq!(given.len(), 2);
    // the restore: the older state_dir, anchor and all
    fs::remove_dir_all(&env.state).unwrap();
    cp(&backup, &env.state);
    let out = env.cmd(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("witness"), "{err}");
    let w = worm.to_str().unwrap();
    let verify = env.cmd(&["journal", "verify", "--witness", w]);
    assert_eq!(
        verify.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    // continue after the restore: the numbering moves past what the witness saw
    // (a restore from the witness needs no --comment: it says what it is)
    env.ok(&["journal", "recover", "--from-witness", w]);
    let c = env.drop_sample("urog-appeal-2.2", "c");
    common::packages::new_document(&c, 3, "Обращение", "А26-02-3333333", "третье");
    env.once();
    let recovered = env.records_of_kind("journal_recovered");
    assert_eq!(recovered.len(), 1);
    assert!(recovered[0]["sequences"][0]["registered"].as_u64().unwrap() >= 2);
    assert!(recovered[0]["comment"]
        .as_str()
        .unwrap()
        .contains("from-witness"));
    let after = numbers(&env);
    let newest = after.last().unwrap();
    assert!(
        !given.contains(newest),
        "{newest} was given before the restore: {given:?}"
    );
    // and the witness accepts the state from now on
    env.once();
    let verify = env.cmd(&["journal", "verify", "--witness", w]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
