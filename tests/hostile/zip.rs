//! Hostile transport containers (2.7.1 sample, its ZIP rebuilt with the original entries plus
//! the hostile ones).

use std::fs;
use std::io::Write;

use zip::write::SimpleFileOptions;
use zip::ZipWriter;

use crate::{appeal_271, case, common, From};

/// Rebuilds the sample's ZIP: the original entries (raw), then `extra`.
fn hostile_zip(
    name: &str,
    extra: impl FnOnce(&mut ZipWriter<fs::File>),
) -> impl FnOnce(&common::env::Env) {
    let name = name.to_string();
    move |env| {
        let (dir, zip_name) = appeal_271(env, &name);
        let original = fs::read(dir.join(&zip_name)).unwrap();
        let mut old = zip::ZipArchive::new(std::io::Cursor::new(original)).unwrap();
        let mut z = ZipWriter::new(fs::File::create(dir.join(&zip_name)).unwrap());
        for i in 0..old.len() {
            z.raw_copy_file(old.by_index(i).unwrap()).unwrap();
        }
        extra(&mut z);
        z.finish().unwrap();
    }
}

fn entry(z: &mut ZipWriter<fs::File>, name: &str, bytes: &[u8]) {
    z.start_file(name, SimpleFileOptions::default()).unwrap();
    z.write_all(bytes).unwrap();
}

#[test]
fn zip_slip_with_dot_dot() {
    case("zip slip ../", &["bad-zip-entry"], From::V271, |env| {
        hostile_zip("slip", |z| entry(z, "../../outside/escaped.txt", b"owned"))(env);
    });
}

#[test]
fn zip_slip_with_an_absolute_path() {
    case("zip slip /abs", &["bad-zip-entry"], From::V271, |env| {
        let target = env.root.path().join("outside/abs.txt");
        let name = target.to_str().unwrap().to_string();
        hostile_zip("abs", move |z| entry(z, &name, b"owned"))(env);
    });
}

#[test]
fn zip_slip_with_backslashes() {
    case("zip slip ..\\", &["bad-zip-entry"], From::V271, |env| {
        hostile_zip("backslash", |z| {
            entry(z, "..\\..\\outside\\escaped.txt", b"owned")
        })(env);
    });
}

#[test]
fn zip_slip_with_a_drive_letter() {
    case("zip slip C:", &["bad-zip-entry"], From::V271, |env| {
        hostile_zip("drive", |z| entry(z, "C:\\Windows\\evil.dll", b"owned"))(env);
    });
}

#[test]
fn zip_bomb_by_ratio() {
    case("zip bomb (ratio)", &["zip-bomb"], From::V271, |env| {
        hostile_zip("bomb-ratio", |z| {
            let opts = SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(true);
            z.start_file("zeros.bin", opts).unwrap();
            let block = vec![0u8; 1 << 20];
            for _ in 0..64 {
                z.write_all(&block).unwrap();
            }
        })(env);
    });
}

#[test]
fn zip_bomb_by_total_size() {
    // many entries each under the per-entry limit and compressing honestly (random bytes),
    // together over the configured total (set low for the test)
    let env = common::env::Env::with(1, 3600, "");
    let text = fs::read_to_string(&env.config).unwrap();
    fs::write(
        &env.config,
        format!("{text}\n[limits]\nmax_zip_total_bytes = 1048576\n"),
    )
    .unwrap();
    hostile_zip("bomb-total", |z| {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for i in 0..8 {
            let block: Vec<u8> = (0..200_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            entry(z, &format!("part{i}.bin"), &block);
        }
    })(&env);
    crate::good_beside(&env, From::V271);
    let rss = crate::once_measured(&env);
    assert!(rss <= crate::MAX_RSS_MIB, "peak RSS {rss} MiB");
    crate::assert_outcome(&env, "zip bomb (total)", &["too-large"]);
}

#[test]
fn a_symlink_entry() {
    case("symlink entry", &["bad-zip-entry"], From::V271, |env| {
        hostile_zip("symlink", |z| {
            z.add_symlink("link.pdf", "/etc/passwd", SimpleFileOptions::default())
                .unwrap();
        })(env);
    });
}

#[test]
fn a_hard_link_or_device_entry() {
    // ZIP has no hard links; what archivers store for them and for devices is a unix mode
    // that is not a regular file
    case(
        "special-file entry",
        &["bad-zip-entry"],
        From::V271,
        |env| {
            hostile_zip("device", |z| {
                z.start_file(
                    "dev.bin",
                    SimpleFileOptions::default().external_attributes(0o060_644 << 16),
                )
                .unwrap();
                z.write_all(b"x").unwrap();
            })(env);
        },
    );
}

#[test]
fn a_sub_folder_inside_a_container() {
    case("sub-folder", &["bad-zip-entry"], From::V271, |env| {
        hostile_zip("subdir", |z| {
            z.add_directory("nested/", SimpleFileOptions::default())
                .unwrap();
            entry(z, "nested/file.pdf", b"%PDF-1.4");
        })(env);
    });
}

#[test]
fn a_hundred_thousand_entry_zip() {
    case("100,000 entries", &["too-large"], From::V271, |env| {
        hostile_zip("many", |z| {
            let opts =
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
            for i in 0..100_000 {
                z.start_file(format!("f{i}"), opts).unwrap();
            }
        })(env);
    });
}

#[test]
fn a_truncated_zip() {
    // a ZIP without its central directory looks like one still being written: it waits, and
    // is quarantined as incomplete once over the limit (here: at once)
    case("truncated ZIP", &["incomplete"], From::V271, |env| {
        crate::overdue_at_once(env);
        let (dir, zip_name) = appeal_271(env, "truncated");
        let p = dir.join(&zip_name);
        let bytes = fs::read(&p).unwrap();
        fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    });
}

#[test]
fn an_empty_zip_file() {
    case("empty ZIP file", &["incomplete"], From::V271, |env| {
        crate::overdue_at_once(env);
        let (dir, zip_name) = appeal_271(env, "empty-zip");
        fs::write(dir.join(&zip_name), b"").unwrap();
    });
}
