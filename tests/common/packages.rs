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
