//! Our letters as official letters (issue 30 item 3): the body's letterhead (name, address,
//! contacts), our outgoing number and date «№ ОЗ-3/26 от 07.12.2026», the addressee, the
//! subject, the text, the signer's post and name — dates as `dd.mm.yyyy`, the PDF's
//! `CreationDate` the decision time in the configured zone and its title in the metadata.
//! Pure: facts in, bytes out (`pdf` lays the lines out).

use medo_model::NoticeRef;
use medo_wire::time::format_date_ru;
use time::OffsetDateTime;

use crate::pdf::{Line, LEFT_MM};
use crate::policy::Policy;

/// One letter of ours.
#[derive(Debug, Clone)]
pub struct Letter<'a> {
    /// Our number and date («Исх.»).
    pub ours: &'a NoticeRef,
    /// To whom (an organisation, or «Заявителю»).
    pub addressee: &'a str,
    /// What it is about: the title under the addressee and in the PDF's metadata.
    pub subject: &'a str,
    /// The text: paragraphs separated by newlines.
    pub body: &'a str,
    /// When it was decided (the PDF's `CreationDate`), in the configured zone.
    pub created: OffsetDateTime,
}

/// Who writes: the body's name and letterhead, and who signs for it.
#[derive(Debug, Clone, Copy)]
pub struct Letterhead<'a> {
    pub organization: &'a str,
    pub address: Option<&'a str>,
    pub contacts: Option<&'a str>,
    pub signer_post: Option<&'a str>,
    pub signer_name: Option<&'a str>,
}

impl<'a> Letterhead<'a> {
    /// The body's (`policy`: its organisation, `[documents] address`, `contacts`,
    /// `signer_post`, `signer_name`).
    pub fn of(policy: &'a Policy) -> Letterhead<'a> {
        let docs = &policy.documents;
        Letterhead {
            organization: &policy.sender.organization,
            address: docs.address.as_deref(),
            contacts: docs.contacts.as_deref(),
            signer_post: docs.signer_post.as_deref(),
            signer_name: docs.signer_name.as_deref(),
        }
    }
}

/// The letter as an A4 PDF on the body's letterhead.
pub fn letter_pdf(letter: &Letter<'_>, policy: &Policy) -> Vec<u8> {
    let lines = lines(letter, &Letterhead::of(policy));
    crate::pdf::laid_out(&lines, letter.subject, letter.created)
}

/// Where the next line goes: a page, and the baseline in mm from its top; a line past the
/// bottom margin starts the next page.
struct Cursor {
    lines: Vec<Line>,
    page: usize,
    y: f32,
}

const TOP_MM: f32 = 20.0;
const BOTTOM_MM: f32 = 277.0;

impl Cursor {
    fn put(&mut self, x: f32, size: f32, text: String) {
        if self.y > BOTTOM_MM {
            (self.page, self.y) = (self.page + 1, TOP_MM);
        }
        self.lines.push(Line {
            page: self.page,
            x,
            y: self.y,
            size,
            text,
        });
        self.y += size * 0.5;
    }

    /// `text` wrapped at `width` characters, each line at `x`.
    fn paragraph(&mut self, x: f32, size: f32, text: &str, width: usize) {
        for part in crate::pdf::wrap(text, width) {
            self.put(x, size, part);
        }
    }

    fn skip(&mut self, mm: f32) {
        self.y += mm;
    }
}

/// The letter's lines, placed: the letterhead, our number and date, the addressee on the
/// right, the subject, the text, the signer (post on the left, name on the right).
pub(crate) fn lines(letter: &Letter<'_>, head: &Letterhead<'_>) -> Vec<Line> {
    let mut c = Cursor {
        lines: Vec::new(),
        page: 0,
        y: TOP_MM,
    };
    c.paragraph(LEFT_MM, 13.0, head.organization, 60);
    for extra in [head.address, head.contacts].into_iter().flatten() {
        c.paragraph(LEFT_MM, 9.0, extra, 95);
    }
    c.skip(6.0);
    c.put(LEFT_MM, 11.0, numbered(letter.ours));
    c.skip(4.0);
    c.paragraph(110.0, 11.0, letter.addressee, 40);
    c.skip(8.0);
    c.paragraph(LEFT_MM, 12.0, letter.subject, 70);
    c.skip(6.0);
    for paragraph in letter.body.lines() {
        c.paragraph(LEFT_MM, 11.0, paragraph, 85);
    }
    c.skip(14.0);
    if let Some(post) = head.signer_post {
        c.paragraph(LEFT_MM, 11.0, post, 55);
        c.skip(-5.5);
    }
    if let Some(name) = head.signer_name {
        c.put(140.0, 11.0, name.to_string());
    }
    c.lines
}

/// A journal time (RFC 3339) in the configured zone: a letter's `CreationDate` (the epoch
/// for a time that does not read — never the clock: a letter is the same bytes every time).
pub fn local_time(ts: &str, policy: &Policy) -> OffsetDateTime {
    OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(policy.utc_offset)
}

/// `№ ОЗ-3/26 от 07.12.2026` (the date when known).
pub fn numbered(r: &NoticeRef) -> String {
    let date = r
        .date
        .map(|d| format!(" от {}", format_date_ru(d.date())))
        .unwrap_or_default();
    format!("№ {}{date}", r.number)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The letter's parts in their places: the letterhead first, our number and date as
    /// people write it, the addressee on the right, the subject, the text, the signer's post on
    /// the left and name on the right after it; a long text runs onto a second page.
    #[test]
    fn a_letter_has_its_parts_in_their_places() {
        let ours = NoticeRef {
            organization: None,
            number: "ОЗ-3/26".into(),
            date: medo_model::Day::parse("2026-12-07"),
        };
        let head = Letterhead {
            organization: "Администрация города Бердска",
            address: Some("633010, г. Бердск, ул. М. Горького, 13"),
            contacts: Some("тел. (383) 411-00-00, adm@berdsk.ru"),
            signer_post: Some("Глава города"),
            signer_name: Some("И. И. Иванов"),
        };
        let body = "Первый абзац.\n".repeat(3);
        let created = time::macros::datetime!(2026-12-07 14:05 +03:00);
        let letter = Letter {
            ours: &ours,
            addressee: "Управление Президента Российской Федерации по работе с обращениями граждан и организаций",
            subject: "Ответ на запрос № А26-05-1 от 01.12.2026",
            body: &body,
            created,
        };
        let lines = lines(&letter, &head);
        let find = |t: &str| {
            lines
                .iter()
                .position(|l| l.text.contains(t))
                .unwrap_or_else(|| panic!("{t}: {lines:?}"))
        };
        let order = [
            "Администрация города Бердска",
            "ул. М. Горького",
            "adm@berdsk.ru",
            "№ ОЗ-3/26 от 07.12.2026",
            "Управление Президента",
            "Ответ на запрос № А26-05-1 от 01.12.2026",
            "Первый абзац.",
            "Глава города",
        ];
        let at: Vec<usize> = order.iter().map(|t| find(t)).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
        assert!(
            lines[find("Управление Президента")].x > 100.0,
            "the addressee on the right"
        );
        let (post, name) = (&lines[find("Глава города")], &lines[find("И. И. Иванов")]);
        assert!(
            name.x > post.x && (name.y - post.y).abs() < 0.01,
            "one line: {post:?} {name:?}"
        );
        let long = "Строка.\n".repeat(80);
        let letter = Letter {
            body: &long,
            ..letter
        };
        let many = super::lines(&letter, &head);
        assert!(many.iter().any(|l| l.page == 1), "a second page");
        assert!(
            many.iter().all(|l| l.y <= BOTTOM_MM + 7.0),
            "within the page"
        );
    }
}
