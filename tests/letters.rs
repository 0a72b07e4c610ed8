//! Issue 30 item 3: every PDF we make is an official letter — the body's letterhead (name,
//! address, contacts), our outgoing number and date «№ ОЗ-1/26 от 07.12.2026», the addressee,
//! the subject, the signer's post and name, dates as dd.mm.yyyy, `CreationDate` the decision
//! time in the configured zone, the title in the metadata. Read back with pdftotext and
//! pdfinfo, and rendered as a page (pdftoppm) for a person to look at.

mod common;

use std::fs;
use std::process::Command;

use common::env::Env;

/// The answer to a query, with the letterhead and the signer configured: its PDF reads as a
/// letter and carries the decision time and its subject in its metadata.
#[test]
fn the_answer_to_a_query_is_an_official_letter() {
    let env = Env::new();
    env.add_sections(
        "[documents]\nsigner_post = \"Руководитель приёмной\"\nsigner_name = \"И. И. Иванов\"\n\
         address = \"633010, г. Бердск, ул. М. Горького, 13\"\ncontacts = \"тел. (383) 411-00-00, priem@berdsk.ru\"\n",
    );
    env.drop_sample("urog-appeal-2.2", "appeal");
    env.once();
    let q = env.drop_sample("urog-appeal-2.2", "query");
    common::packages::new_document(&q, 305, "Запрос", "А26-05-305", "О ходе А26-02-1234567");
    env.once();
    let answered = env.records_of_kind("query_answered");
    assert_eq!(answered.len(), 1);
    let output = &answered[0]["outputs"][0];
    let number = output["registration"]["number"].as_str().unwrap();
    let day = output["registration"]["date"].as_str().unwrap(); // YYYY-MM-DD
    let ru_day = format!("{}.{}.{}", &day[8..10], &day[5..7], &day[..4]);
    let dir = env
        .outbound_names()
        .into_iter()
        .find(|n| n.starts_with("response"))
        .map(|n| env.outbound.join(n))
        .expect("the answer was sent");
    let pdf = dir.join("response.pdf");
    for words in [
        "Федеральное агентство по образцам",
        "633010, г. Бердск, ул. М. Горького, 13",
        "priem@berdsk.ru",
        &format!("№ {number} от {ru_day}"),
        "УРОГ", // the partner's name in the test's config: the addressee
        "Ответ на запрос № А26-05-305",
        "Руководитель приёмной",
        "И. И. Иванов",
    ] {
        common::pdf_text_contains(&pdf, words);
    }
    // a registration date in the answer's lines is written as people write it
    let Ok(text) = Command::new("pdftotext").arg(&pdf).arg("-").output() else {
        assert!(!common::in_ci(), "pdftotext is required in CI");
        common::skipped("the letter's metadata: no poppler-utils");
        return;
    };
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        !text.contains(&format!("от {day}")),
        "an ISO date in the letter: {text}"
    );
    let info = Command::new("pdfinfo")
        .arg("-isodates")
        .arg(&pdf)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.lines()
            .any(|l| l.starts_with("Title:") && l.contains("Ответ на запрос № А26-05-305")),
        "{info}"
    );
    // the decision time (journaled as the output's `created`) in the configured zone, +03:00
    let created = output["created"].as_str().unwrap();
    let decided =
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .to_offset(time::macros::offset!(+3));
    let iso = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+03",
        decided.year(),
        u8::from(decided.month()),
        decided.day(),
        decided.hour(),
        decided.minute(),
        decided.second()
    );
    assert!(
        info.lines()
            .any(|l| l.starts_with("CreationDate:") && l.ends_with(&iso)),
        "{iso} in {info}"
    );
    // the page as a person sees it (kept beside the test's run for a look)
    let png = env.root.path().join("letter");
    let rendered = Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-singlefile"])
        .arg(&pdf)
        .arg(&png)
        .status()
        .unwrap();
    assert!(rendered.success());
    let image = fs::read(png.with_extension("png")).unwrap();
    assert!(image.starts_with(b"\x89PNG"), "a rendered page");
    if let Ok(out) = std::env::var("MEDO_LETTER_PNG") {
        fs::write(out, &image).unwrap();
    }
}
