//! The Debian package's sources: man pages and shell completions generated from the command
//! line's own definition (checked in under `packaging/`, so `cargo deb` needs no build step
//! of its own — this test says when they are stale; `MEDO_BLESS=1` rewrites them), and the
//! package metadata agreeing with the files and the unit. The package itself is built,
//! installed, purged and installed again by `packaging/check-deb.sh` (CI).

use std::fs;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use medo_gateway::cli::Cli;

fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging")
}

/// The command line as the man pages describe it: the package version only (the commit in
/// `--version` would change every page at every commit).
fn command() -> clap::Command {
    Cli::command().version(env!("CARGO_PKG_VERSION"))
}

/// Every generated file: its path under `packaging/` and its bytes.
fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let out = tempfile::tempdir().unwrap();
    clap_mangen::generate_to(command(), out.path()).unwrap();
    let mut files: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                Path::new("man").join(p.file_name().unwrap()),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    for (shell, name) in [
        (clap_complete::Shell::Bash, "medo-gateway.bash"),
        (clap_complete::Shell::Zsh, "_medo-gateway"),
    ] {
        let mut bytes = Vec::new();
        clap_complete::generate(shell, &mut command(), "medo-gateway", &mut bytes);
        files.push((Path::new("completions").join(name), bytes));
    }
    files.sort();
    files
}

fn listed(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn man_pages_and_completions_are_generated_from_the_command_line() {
    let root = packaging();
    let files = generated();
    if std::env::var_os("MEDO_BLESS").is_some() {
        for d in ["man", "completions"] {
            let _ = fs::remove_dir_all(root.join(d));
            fs::create_dir_all(root.join(d)).unwrap();
        }
        for (path, bytes) in &files {
            fs::write(root.join(path), bytes).unwrap();
        }
    }
    let stale: Vec<String> = files
        .iter()
        .filter(|(path, bytes)| fs::read(root.join(path)).ok().as_ref() != Some(bytes))
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "stale or missing under packaging/ (rewrite with MEDO_BLESS=1 cargo test --test packaging): {stale:?}"
    );
    let expected: Vec<PathBuf> = files.iter().map(|(p, _)| root.join(p)).collect();
    let mut present = listed(&root.join("man"));
    present.extend(listed(&root.join("completions")));
    present.sort();
    assert_eq!(
        present, expected,
        "a page or completion of a command that no longer exists"
    );
    // one page per command, the nine refusal reasons on the page of `appeals refuse`
    let refuse = fs::read_to_string(root.join("man/medo-gateway-appeals-refuse.1")).unwrap();
    assert!(refuse.contains("Нет подписи"), "{refuse}");
}

/// `[package.metadata.deb]` of Cargo.toml.
fn deb_metadata() -> toml::Table {
    let text =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest["package"]["metadata"]["deb"]
        .as_table()
        .unwrap()
        .clone()
}

#[test]
fn the_package_ships_what_exists_and_the_unit_runs_what_it_installs() {
    let deb = deb_metadata();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut targets = Vec::new();
    for asset in deb["assets"].as_array().unwrap() {
        let a = asset.as_array().unwrap();
        let (src, dst) = (a[0].as_str().unwrap(), a[1].as_str().unwrap());
        targets.push(dst.to_string());
        if src.starts_with("target/") {
            continue; // built by cargo deb
        }
        let matched = glob_count(root, src);
        assert!(matched > 0, "asset {src} matches no file");
    }
    for wanted in [
        "usr/bin/",
        "etc/medo-gateway/gateway.toml",
        "usr/share/man/man1/",
        "usr/share/bash-completion/completions/medo-gateway",
        "usr/share/zsh/vendor-completions/_medo-gateway",
        "usr/share/medo-gateway/calendar/",
    ] {
        assert!(
            targets.iter().any(|t| t == wanted),
            "nothing installed to {wanted}: {targets:?}"
        );
    }
    let unit = fs::read_to_string(root.join("packaging/medo-gateway.service")).unwrap();
    let postinst = fs::read_to_string(root.join("packaging/debian/postinst")).unwrap();
    for line in [
        "ExecStart=/usr/bin/medo-gateway --config /etc/medo-gateway/gateway.toml",
        "User=medo-gateway",
        "WorkingDirectory=/var/lib/medo-gateway",
        "RestartPreventExitStatus=2",
    ] {
        assert!(unit.contains(line), "the unit lacks {line}");
    }
    // the user and the state folder the unit names are the ones the package creates
    assert!(postinst.contains("adduser --system") && postinst.contains("medo-gateway"));
    assert!(postinst
        .contains("install -d -m 0700 -o medo-gateway -g medo-gateway /var/lib/medo-gateway"));
    for script in ["postinst", "postrm"] {
        let text = fs::read_to_string(root.join("packaging/debian").join(script)).unwrap();
        assert!(
            text.contains("#DEBHELPER#"),
            "{script}: cargo deb inserts the unit's snippets there"
        );
        let out = std::process::Command::new("sh")
            .args([
                "-n",
                root.join("packaging/debian").join(script).to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Files matched by a cargo-deb asset source: a path, or a folder followed by `*` / `*.ext`.
fn glob_count(root: &Path, src: &str) -> usize {
    match src.rsplit_once('/') {
        Some((dir, pattern)) if pattern.contains('*') => {
            let ext = pattern.trim_start_matches('*');
            listed(&root.join(dir))
                .iter()
                .filter(|p| p.to_string_lossy().ends_with(ext))
                .count()
        }
        _ => usize::from(root.join(src).is_file()),
    }
}

/// The packaged config made from the bundled one: its header, the folders OPERATIONS
/// describes (absolute: the unit runs in /var/lib/medo-gateway), every other line the same.
fn packaged_config(dev: &str) -> String {
    let header = "# medo-gateway configuration (the bundled default: works from the project root as is).\n# Paths are relative to the working directory.\n";
    assert!(
        dev.starts_with(header),
        "config/gateway.toml's header changed"
    );
    let production = "# medo-gateway configuration, as the Debian package installs it (/etc/medo-gateway/gateway.toml).\n# Set [gateway] participant_uid, organization and transport_address to your body's, and the\n# [[partners]] below, then `systemctl enable --now medo-gateway` (docs/OPERATIONS.md).\n# Paths are absolute: the folders OPERATIONS describes (VipNet's transport folders, the\n# service's state under /var/lib/medo-gateway).\n";
    let mut text = format!("{production}{}", &dev[header.len()..]);
    for (from, to) in [
        (
            "inbound = \"spool/in\"        #",
            "inbound = \"/var/spool/vipnet/medo/in\"        #",
        ),
        (
            "outbound = \"spool/out\"      #",
            "outbound = \"/var/spool/vipnet/medo/out\"      #",
        ),
        (
            "state_dir = \"spool/state\"   #",
            "state_dir = \"/var/lib/medo-gateway/state\"   #",
        ),
    ] {
        assert!(text.contains(from), "config/gateway.toml: {from}");
        text = text.replacen(from, to, 1);
    }
    text
}

/// Issue 26 item 18: the .deb's config works with the packaged unit — absolute folders, the
/// ones OPERATIONS describes — and is the bundled config in every other line (made from it:
/// `MEDO_BLESS=1 cargo test --test packaging` rewrites it); it parses.
#[test]
fn the_packaged_config_has_absolute_folders_and_is_the_bundled_one_otherwise() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dev = std::fs::read_to_string(root.join("config/gateway.toml")).unwrap();
    let made = packaged_config(&dev);
    let file = packaging().join("gateway.toml");
    if std::env::var_os("MEDO_BLESS").is_some() {
        std::fs::write(&file, &made).unwrap();
    }
    let packaged = std::fs::read_to_string(&file).unwrap();
    assert!(
        packaged == made,
        "packaging/gateway.toml drifted from config/gateway.toml (rewrite with MEDO_BLESS=1 cargo test --test packaging)"
    );
    let config = medo_gateway::config::Config::parse(&packaged, Path::new("gateway.toml"))
        .expect("the packaged config parses");
    assert_eq!(config.spool.inbound, Path::new("/var/spool/vipnet/medo/in"));
    assert_eq!(
        config.spool.outbound,
        Path::new("/var/spool/vipnet/medo/out")
    );
    assert_eq!(
        config.spool.state_dir,
        Path::new("/var/lib/medo-gateway/state")
    );
    let unit = std::fs::read_to_string(packaging().join("medo-gateway.service")).unwrap();
    assert!(unit.contains("--config /etc/medo-gateway/gateway.toml"));
    let deb = deb_metadata();
    let assets = deb["assets"].as_array().unwrap();
    assert!(assets
        .iter()
        .any(|a| a[0].as_str() == Some("packaging/gateway.toml")
            && a[1].as_str() == Some("etc/medo-gateway/gateway.toml")));
}
