//! Editing copies of the sample packages as other senders would write them.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
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

/// The entries of a ZIP in order, with their bytes.
pub fn unzip(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).unwrap();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            (e.name().unwrap().to_string(), bytes)
        })
        .collect()
}

/// Every element path of an XML document by local names (`container/requisites/annotation`),
/// decoded from UTF-8 or windows-1251 as declared.
pub fn shape(bytes: &[u8]) -> BTreeSet<String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim_start_matches('\u{feff}').to_string(),
        Err(_) => encoding_rs::WINDOWS_1251.decode(bytes).0.into_owned(),
    };
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut stack: Vec<String> = Vec::new();
    let mut paths = BTreeSet::new();
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) => {
                stack.push(e.local_name().into_inner().to_string());
                paths.insert(stack.join("/"));
            }
            quick_xml::events::Event::Empty(e) => {
                let name = e.local_name().into_inner().to_string();
                paths.insert(format!("{}/{name}", stack.join("/")));
            }
            quick_xml::events::Event::End(_) => {
                stack.pop();
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    paths
}

/// The real packages' passports and messages, when the spec data is present.
pub fn real(name: &str) -> Option<Vec<u8>> {
    let dir = super::spec_data()?.join("real_packages");
    Some(fs::read(dir.join(name)).unwrap())
}
