//! Transport containers under attack: every hostile ZIP is refused with the expected error
//! code, and never written outside the extraction folder.

use std::io::{Cursor, Write};

use medo_gateway::wire::container::{read_container, write_container, ContainerFile};
use medo_gateway::wire::{Limits, WireErrorKind};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const PASSPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<c:container xmlns:c="urn:IEDMS:CONTAINER" c:uid="9c0d7e6f-1a2b-4c3d-8e9f-a0b1c2d3e4f5" c:version="2.7.1">
  <c:requisites><c:documentKind>Письмо</c:documentKind>
    <c:classification c:id="DC00000001">Информация ограниченного распространения</c:classification>
    <c:annotation>Тест</c:annotation></c:requisites>
  <c:authors><c:author><c:organization><c:title>Орг</c:title></c:organization>
    <c:registration><c:number>1</c:number><c:date>2024-01-01</c:date></c:registration>
    <c:sign><c:person><c:name>Иванов</c:name></c:person><c:documentSignature c:localName="doc.pdf.p7s" c:type="Утверждающая"/></c:sign>
  </c:author></c:authors>
  <c:document c:localName="doc.pdf"><c:pagesQuantity>1</c:pagesQuantity></c:document>
</c:container>"#;

fn opts() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

/// A ZIP with a valid passport plus whatever `extra` adds.
fn zip_with(extra: impl FnOnce(&mut ZipWriter<Cursor<Vec<u8>>>)) -> Vec<u8> {
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    z.start_file("passport.xml", opts()).unwrap();
    z.write_all(PASSPORT.as_bytes()).unwrap();
    z.start_file("doc.pdf", opts()).unwrap();
    z.write_all(b"%PDF-1.4 placeholder").unwrap();
    z.start_file("doc.pdf.p7s", opts()).unwrap();
    z.write_all(b"MIIB").unwrap();
    extra(&mut z);
    z.finish().unwrap().into_inner()
}

fn read(
    bytes: &[u8],
    limits: &Limits,
) -> Result<medo_gateway::wire::container::ContainerInfo, WireErrorKind> {
    read_container(Cursor::new(bytes), limits, None)
}

fn code(bytes: &[u8], limits: &Limits) -> &'static str {
    read(bytes, limits).expect_err("must be refused").code()
}

fn add(z: &mut ZipWriter<Cursor<Vec<u8>>>, name: &str, data: &[u8]) {
    z.start_file(name, opts()).unwrap();
    z.write_all(data).unwrap();
}

#[test]
fn a_valid_container_reads_with_passport_and_hashes() {
    let info = read(&zip_with(|_| {}), &Limits::default()).unwrap();
    assert_eq!(info.passport_name, "passport.xml");
    assert!(info.passport.is_restricted(), "DC00000001 is ДСП");
    assert_eq!(info.entries.len(), 3);
    assert!(info.missing.is_empty());
    let pdf = info.entry("doc.pdf").unwrap();
    assert_eq!(pdf.size, 20);
    assert_eq!(
        pdf.sha256,
        medo_gateway::wire::hash::sha256_bytes(b"%PDF-1.4 placeholder")
    );
}

#[test]
fn a_missing_referenced_file_is_reported() {
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    add(&mut z, "passport.xml", PASSPORT.as_bytes());
    add(&mut z, "doc.pdf", b"x");
    let info = read(&z.finish().unwrap().into_inner(), &Limits::default()).unwrap();
    assert_eq!(info.missing, vec!["doc.pdf.p7s"]);
}

#[test]
fn path_tricks_are_refused() {
    for name in [
        "../evil.txt",
        "/etc/evil",
        "..\\evil.txt",
        "C:evil.txt",
        "C:\\evil.txt",
        "sub/file.txt",
        "a\u{1}b.txt",
        "\\\\server\\share",
    ] {
        let bytes = zip_with(|z| add(z, name, b"x"));
        let err = read(&bytes, &Limits::default()).expect_err(name);
        assert_eq!(err.code(), "bad-zip-entry", "{name}: {err}");
    }
}

#[test]
fn folders_symlinks_and_special_files_are_refused() {
    let dir = zip_with(|z| z.add_directory("sub/", opts()).unwrap());
    assert_eq!(code(&dir, &Limits::default()), "bad-zip-entry");
    let link = zip_with(|z| z.add_symlink("link.pdf", "/etc/passwd", opts()).unwrap());
    assert_eq!(code(&link, &Limits::default()), "bad-zip-entry");
    let fifo = zip_with(|z| {
        z.start_file("fifo", opts().external_attributes(0o010644 << 16))
            .unwrap();
    });
    assert_eq!(code(&fifo, &Limits::default()), "bad-zip-entry");
}

#[test]
fn duplicate_names_are_refused() {
    // zip's writer refuses duplicates, so rename "b.txt" to "a.txt" in the raw bytes
    let bytes = zip_with(|z| {
        add(z, "a.txt", b"1");
        add(z, "b.txt", b"2");
    });
    let mut raw = bytes;
    let mut i = 0;
    while i + 5 <= raw.len() {
        if &raw[i..i + 5] == b"b.txt" {
            raw[i] = b'a';
        }
        i += 1;
    }
    let err = read(&raw, &Limits::default()).expect_err("duplicate");
    assert_eq!(err, WireErrorKind::Zip("two entries share a name".into()));
    // names differing only in case collide on Windows: refused too
    let bytes = zip_with(|z| {
        add(z, "a.txt", b"1");
        add(z, "A.TXT", b"2");
    });
    assert_eq!(
        read(&bytes, &Limits::default()).unwrap_err(),
        WireErrorKind::ZipEntry("A.TXT".into(), "duplicate name")
    );
}

#[test]
fn zip_bombs_are_stopped_by_counted_bytes() {
    let zeros = vec![0u8; 8 * 1024 * 1024];
    let bomb = zip_with(|z| add(z, "zeros.bin", &zeros));
    // ratio: 8 MiB of zeros deflates ~1000:1
    let limits = Limits {
        max_zip_ratio: 100,
        ..Limits::default()
    };
    assert_eq!(code(&bomb, &limits), "zip-bomb");
    // total size
    let limits = Limits {
        max_zip_total_bytes: 4 * 1024 * 1024,
        ..Limits::default()
    };
    assert_eq!(code(&bomb, &limits), "too-large");
    // per entry
    let limits = Limits {
        max_zip_entry_bytes: 1024 * 1024,
        ..Limits::default()
    };
    assert_eq!(code(&bomb, &limits), "too-large");
}

#[test]
fn too_many_entries_are_refused_before_reading() {
    let bytes = zip_with(|z| {
        for i in 0..20 {
            add(z, &format!("f{i}.txt"), b"x");
        }
    });
    let limits = Limits {
        max_zip_entries: 10,
        ..Limits::default()
    };
    assert_eq!(code(&bytes, &limits), "too-large");
}

#[test]
fn truncated_and_corrupted_zips_are_refused() {
    let bytes = zip_with(|z| add(z, "data.bin", &[7u8; 10_000]));
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 10] {
        assert_eq!(
            code(&bytes[..cut], &Limits::default()),
            "bad-zip",
            "cut at {cut}"
        );
    }
    // flip a byte inside the stored data of an uncompressed entry: the CRC check catches it
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    add(&mut z, "passport.xml", PASSPORT.as_bytes());
    z.start_file(
        "doc.pdf",
        SimpleFileOptions::default().compression_method(CompressionMethod::Stored),
    )
    .unwrap();
    z.write_all(b"UNIQUEPAYLOAD-0123456789").unwrap();
    let mut raw = z.finish().unwrap().into_inner();
    let at = raw.windows(13).position(|w| w == b"UNIQUEPAYLOAD").unwrap();
    raw[at] = b'X';
    assert_eq!(code(&raw, &Limits::default()), "bad-zip");
}

#[test]
fn containers_without_a_passport_or_with_a_broken_one_are_refused() {
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    add(&mut z, "doc.pdf", b"x");
    assert_eq!(
        code(&z.finish().unwrap().into_inner(), &Limits::default()),
        "no-passport"
    );
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    add(
        &mut z,
        "passport.xml",
        b"<c:container xmlns:c='urn:IEDMS:CONTAINER'>",
    );
    assert_eq!(
        code(&z.finish().unwrap().into_inner(), &Limits::default()),
        "invalid-field"
    );
    // a passport nested deeper than the limit
    let deep = format!(
        "<c:container xmlns:c='urn:IEDMS:CONTAINER'>{}{}</c:container>",
        "<c:x>".repeat(100),
        "</c:x>".repeat(100)
    );
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    add(&mut z, "passport.xml", deep.as_bytes());
    let err = read(&z.finish().unwrap().into_inner(), &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("deeper than 64"), "{err}");
}

#[test]
fn a_passport_under_another_name_is_found() {
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    add(&mut z, "notes.xml", b"<notes/>");
    add(&mut z, "description1.xml", PASSPORT.as_bytes());
    add(&mut z, "doc.pdf", b"x");
    add(&mut z, "doc.pdf.p7s", b"x");
    let info = read(&z.finish().unwrap().into_inner(), &Limits::default()).unwrap();
    assert_eq!(info.passport_name, "description1.xml");
}

#[test]
fn extraction_writes_only_into_the_given_folder_and_never_overwrites() {
    let out = tempfile::tempdir().unwrap();
    let bytes = zip_with(|_| {});
    read_container(Cursor::new(&bytes), &Limits::default(), Some(out.path())).unwrap();
    assert_eq!(
        std::fs::read(out.path().join("doc.pdf")).unwrap(),
        b"%PDF-1.4 placeholder"
    );
    let err =
        read_container(Cursor::new(&bytes), &Limits::default(), Some(out.path())).unwrap_err();
    assert_eq!(err.code(), "io", "existing files are not overwritten");
    let evil = zip_with(|z| add(z, "../escape.txt", b"x"));
    let inner = out.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    assert!(read_container(Cursor::new(&evil), &Limits::default(), Some(&inner)).is_err());
    assert!(!out.path().join("escape.txt").exists());
}

#[test]
fn written_containers_read_back_and_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("doc.pdf");
    std::fs::write(&pdf, b"%PDF").unwrap();
    let sig = dir.path().join("sig");
    std::fs::write(&sig, b"MIIB").unwrap();
    let files = [
        ContainerFile {
            name: "doc.pdf".into(),
            source: pdf,
        },
        ContainerFile {
            name: "doc.pdf.p7s".into(),
            source: sig,
        },
    ];
    let a = write_container(
        Cursor::new(Vec::new()),
        "passport.xml",
        PASSPORT.as_bytes(),
        &files,
    )
    .unwrap()
    .into_inner();
    let b = write_container(
        Cursor::new(Vec::new()),
        "passport.xml",
        PASSPORT.as_bytes(),
        &files,
    )
    .unwrap()
    .into_inner();
    assert_eq!(a, b);
    let info = read(&a, &Limits::default()).unwrap();
    assert_eq!(
        info.entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["passport.xml", "doc.pdf", "doc.pdf.p7s"]
    );
    let bad = [ContainerFile {
        name: "../x".into(),
        source: dir.path().join("doc.pdf"),
    }];
    assert!(write_container(Cursor::new(Vec::new()), "passport.xml", b"", &bad).is_err());
}

/// Issue 26 item 15: what the central directory declares is checked before anything is
/// inflated — a container that says an entry holds 4 GiB is refused at once (its content is
/// ten bytes: the refusal cannot have come from inflating it).
#[test]
fn declared_sizes_beyond_the_limits_are_refused_before_inflating() {
    let mut bytes = zip_with(|z| add(z, "big.bin", b"0123456789"));
    // the central directory entry of big.bin: signature PK\x01\x02, uncompressed size at +24
    let at = bytes.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    bytes[at + 24..at + 28].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let err = read(&bytes, &Limits::default()).expect_err("refused");
    assert_eq!(err.code(), "too-large", "{err}");
    assert!(err.to_string().contains("declared"), "{err}");
}
