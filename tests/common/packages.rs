//! Editing copies of the sample packages as other senders would write them.

use std::fs;
use std::path::Path;

/// Rewrites a windows-1251 file through `edit` (decoded, edited, encoded again).
pub fn cp1251_edit(path: &Path, edit: impl Fn(String) -> String) {
    let bytes = fs::read(path).unwrap();
    let text = encoding_rs::WINDOWS_1251.decode(&bytes).0.into_owned();
    fs::write(path, encoding_rs::WINDOWS_1251.encode(&edit(text)).0).unwrap();
}

/// Makes a copy of the 2.2 sample appeal a new document: fresh header and document uids
/// (from `n`), its kind, its cover-letter number and its annotation replaced.
pub fn new_document(dir: &Path, n: u32, kind: &str, number: &str, annotation: &str) {
    cp1251_edit(&dir.join("document.xml"), |mut t| {
        for (element, tag) in [("<xdms:header ", "0001"), ("<xdms:document ", "0002")] {
            let el = t.find(element).unwrap();
            let at = t[el..].find("xdms:uid=\"").unwrap() + el + 10;
            t.replace_range(
                at..at + 36,
                &format!("{n:08x}-{tag}-4000-8000-000000000000"),
            );
        }
        t.replace(
            "<xdms:kind>Письмо</xdms:kind>",
            &format!("<xdms:kind>{kind}</xdms:kind>"),
        )
        .replace(
            "О направлении обращения гражданина для рассмотрения по компетенции",
            annotation,
        )
        .replace(
            "<xdms:number>А26-02-1234567</xdms:number>",
            &format!("<xdms:number>{number}</xdms:number>"),
        )
    });
}

/// Rewrites the container (`*.zip`) of a package folder: each entry through `edit` (name,
/// bytes → new bytes), then the `extra` entries appended.
pub fn rewrite_container(
    dir: &Path,
    edit: impl Fn(&str, Vec<u8>) -> Vec<u8>,
    extra: &[(&str, &[u8])],
) {
    use std::io::Write;
    let zip_name = super::env::names(dir)
        .into_iter()
        .find(|n| n.ends_with(".zip"))
        .unwrap();
    let mut old = zip::ZipArchive::new(fs::File::open(dir.join(&zip_name)).unwrap()).unwrap();
    let mut entries = Vec::new();
    for i in 0..old.len() {
        let mut e = old.by_index(i).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut bytes).unwrap();
        let name = e.name().unwrap().to_string();
        let bytes = edit(&name, bytes);
        entries.push((name, bytes));
    }
    drop(old);
    entries.extend(extra.iter().map(|(n, b)| (n.to_string(), b.to_vec())));
    let mut z = zip::ZipWriter::new(fs::File::create(dir.join(&zip_name)).unwrap());
    for (name, bytes) in entries {
        z.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(&bytes).unwrap();
    }
    z.finish().unwrap();
}

/// Addresses a copy of the 2.7.1 sample to another МЭДО participant (its `deliveryIndex`
/// names someone else: «Ошибка адресации»).
pub fn address_elsewhere(dir: &Path) {
    let msg = dir.join("message.xml");
    let text = fs::read_to_string(&msg).unwrap().replace(
        "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "99999999-1111-4222-8333-444444444444",
    );
    fs::write(&msg, text).unwrap();
}

/// Classifies a copy of the 2.7.1 sample ДСП (its passport: DC00000001).
pub fn make_restricted(dir: &Path) {
    rewrite_container(
        dir,
        |name, bytes| match name {
            "passport.xml" => String::from_utf8(bytes)
                .unwrap()
                .replace("DC00000000", "DC00000001")
                .replace(
                    "Обычная информация",
                    "Информация ограниченного распространения",
                )
                .into_bytes(),
            _ => bytes,
        },
        &[],
    );
}
