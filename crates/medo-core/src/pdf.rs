//! Human-readable PDF renderings of what the gateway sends (the answer to a УРОГ query):
//! plain paragraphs in a bundled Cyrillic font (DejaVu Sans; licence in
//! `src/assets/DejaVuSans.LICENSE`), A4, wrapped and paginated. Pure: text in, bytes out.

use printpdf::{Mm, Op, ParsedFont, PdfDocument, PdfPage, PdfSaveOptions, Point, Pt, TextItem};

pub(crate) const FONT: &[u8] = include_bytes!("assets/DejaVuSans.ttf");
/// Characters per line at 11 pt on A4 with 20 mm margins (DejaVu Sans is wide).
const LINE_CHARS: usize = 85;
const LINES_PER_PAGE: usize = 52;

/// Wraps a paragraph at word boundaries.
pub(crate) fn wrap(paragraph: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in paragraph.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

thread_local! {
    /// The bundled font, parsed once per thread (parsing costs ~5 ms; the parsed font holds
    /// `Rc`s, so it cannot be shared between threads).
    static FONT_PARSED: ParsedFont =
        ParsedFont::from_bytes(FONT, 0, &mut Vec::new()).expect("the bundled font parses");
}

/// Renders `text` (paragraphs separated by newlines) as an A4 PDF.
pub fn text_pdf(title: &str, text: &str) -> Vec<u8> {
    let mut doc = PdfDocument::new(title);
    let font_id = FONT_PARSED.with(|font| doc.add_font(font));
    let lines: Vec<String> = text
        .lines()
        .flat_map(|p| wrap(p.trim_start_matches('\u{feff}'), LINE_CHARS))
        .collect();
    let pages: Vec<PdfPage> = lines
        .chunks(LINES_PER_PAGE)
        .map(|chunk| {
            let mut ops = vec![
                Op::StartTextSection,
                Op::SetFontSize {
                    font: font_id.clone(),
                    size: Pt(11.0),
                },
                Op::SetLineHeight { lh: Pt(14.0) },
                Op::SetTextCursor {
                    pos: Point::new(Mm(20.0), Mm(277.0)),
                },
            ];
            for line in chunk {
                ops.push(Op::WriteText {
                    font: font_id.clone(),
                    items: vec![TextItem::Text(line.clone())],
                });
                ops.push(Op::AddLineBreak);
            }
            ops.push(Op::EndTextSection);
            PdfPage::new(Mm(210.0), Mm(297.0), ops)
        })
        .collect();
    let bytes = doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new());
    with_title(bytes, title)
}

/// The left margin of our pages, millimetres.
pub(crate) const LEFT_MM: f32 = 20.0;

/// A line of text placed on a page: its page (from 0), left edge and baseline in millimetres
/// from the page's top-left corner, size in points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub page: usize,
    pub x: f32,
    pub y: f32,
    pub size: f32,
    pub text: String,
}

/// An A4 PDF of placed lines, titled `title`, created at `created` (the Info dictionary's
/// `CreationDate` and `ModDate`, with the time's own offset).
pub(crate) fn laid_out(lines: &[Line], title: &str, created: time::OffsetDateTime) -> Vec<u8> {
    let mut doc = PdfDocument::new(title);
    let font_id = FONT_PARSED.with(|font| doc.add_font(font));
    let count = lines.iter().map(|l| l.page).max().unwrap_or(0) + 1;
    let pages: Vec<PdfPage> = (0..count)
        .map(|page| {
            let mut ops = Vec::new();
            // each line in a text section of its own: the cursor is absolute there
            for l in lines.iter().filter(|l| l.page == page) {
                ops.extend([
                    Op::StartTextSection,
                    Op::SetFontSize {
                        font: font_id.clone(),
                        size: Pt(l.size),
                    },
                    Op::SetTextCursor {
                        pos: Point::new(Mm(l.x), Mm(297.0 - l.y)),
                    },
                    Op::WriteText {
                        font: font_id.clone(),
                        items: vec![TextItem::Text(l.text.clone())],
                    },
                    Op::EndTextSection,
                ]);
            }
            PdfPage::new(Mm(210.0), Mm(297.0), ops)
        })
        .collect();
    let bytes = doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new());
    with_info(bytes, title, Some(created))
}

/// printpdf writes the title's UTF-8 bytes into the Info dictionary as they are, which PDF
/// readers take for PDFDocEncoding (mojibake); a text string outside that encoding is UTF-16BE
/// with a byte-order mark (ISO 32000-1, 7.9.2.2). Rewritten here with lopdf; should that fail,
/// the PDF is kept as printpdf made it.
fn with_title(bytes: Vec<u8>, title: &str) -> Vec<u8> {
    with_info(bytes, title, None)
}

/// The Info dictionary's `Title` (UTF-16BE, see [`with_title`]) and, when given, its
/// `CreationDate` and `ModDate` (`D:YYYYMMDDHHmmSS+03'00'`, ISO 32000-1 7.9.4).
fn with_info(bytes: Vec<u8>, title: &str, created: Option<time::OffsetDateTime>) -> Vec<u8> {
    let retitled = || -> Option<Vec<u8>> {
        let mut doc = lopdf::Document::load_mem(&bytes).ok()?;
        let info = doc.trailer.get(b"Info").ok()?.as_reference().ok()?;
        let utf16: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(title.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        let dict = doc.get_object_mut(info).ok()?.as_dict_mut().ok()?;
        dict.set(
            "Title",
            lopdf::Object::String(utf16, lopdf::StringFormat::Hexadecimal),
        );
        if let Some(t) = created {
            let (h, m, _) = t.offset().as_hms();
            let sign = if h < 0 || m < 0 { '-' } else { '+' };
            let date = format!(
                "D:{:04}{:02}{:02}{:02}{:02}{:02}{sign}{:02}'{:02}'",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                h.unsigned_abs(),
                m.unsigned_abs()
            );
            for key in ["CreationDate", "ModDate"] {
                let value =
                    lopdf::Object::String(date.clone().into_bytes(), lopdf::StringFormat::Literal);
                dict.set(key, value);
            }
        }
        let mut out = Vec::with_capacity(bytes.len());
        doc.save_to(&mut out).ok()?;
        Some(out)
    };
    retitled().unwrap_or(bytes)
}

/// The magic bytes every PDF starts with.
const PDF_MAGIC: &[u8] = b"%PDF-";

/// Where the header may stand: within the first 1,024 bytes (ISO 32000-1, Annex H.3, as
/// readers allow — some writers put a line of their own before it).
const HEADER_WITHIN: usize = 1024;

/// The stack the parse of a foreign PDF runs on. lopdf bounds nesting (100 levels of
/// arrays and dictionaries, of literal strings, 256 levels of the page tree); this leaves a
/// wide margin under that bound whatever the caller's own stack (a tokio worker's is 2 MiB).
const PARSE_STACK: usize = 32 << 20;

/// The most a single stream of a foreign PDF may inflate to while it is read (object and
/// cross-reference streams): a small file cannot take gigabytes of memory.
const MAX_INFLATED_STREAM: usize = 64 << 20;

/// Why a file is not a PDF we can send as an official document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotPdf {
    /// No `%PDF-` header within the first 1,024 bytes.
    NoHeader,
    /// The cross-reference table or trailer cannot be read (the file had to be rebuilt by
    /// scanning it), or it does not parse at all.
    Unreadable(String),
    /// It parses, but holds no page.
    NoPages,
}

impl std::fmt::Display for NotPdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotPdf::NoHeader => write!(f, "не PDF: нет заголовка %PDF- в первых 1024 байтах"),
            NotPdf::Unreadable(why) => write!(f, "не PDF: файл не читается ({why})"),
            NotPdf::NoPages => write!(f, "не PDF: в документе нет ни одной страницы"),
        }
    }
}

/// What is known of a foreign PDF that read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfFacts {
    pub pages: u32,
}

/// Reads a foreign PDF (an answer, extension or redirect letter an operator or a СЭД
/// attached) as a reader would, under bounds: the header within the first 1,024 bytes, a
/// readable cross-reference table and trailer, at least one page. lopdf (≥ 0.47) bounds
/// nesting and every stream's inflated size; the parse runs on a thread of its own with a
/// wide stack, and a panic in it is a refusal, so no file can take the process down.
pub fn inspect(bytes: &[u8]) -> Result<PdfFacts, NotPdf> {
    let head = &bytes[..bytes.len().min(HEADER_WITHIN)];
    if !head.windows(PDF_MAGIC.len()).any(|w| w == PDF_MAGIC) {
        return Err(NotPdf::NoHeader);
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("pdf-inspect".into())
            .stack_size(PARSE_STACK)
            .spawn_scoped(scope, || read_bounded(bytes))
            .map_err(|e| NotPdf::Unreadable(format!("нет потока для разбора: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(NotPdf::Unreadable("ошибка разбора".into())))
    })
}

/// The parse itself (on [`inspect`]'s thread).
fn read_bounded(bytes: &[u8]) -> Result<PdfFacts, NotPdf> {
    let options = lopdf::LoadOptions {
        max_decompressed_size: Some(MAX_INFLATED_STREAM),
        ..Default::default()
    };
    let doc = lopdf::Document::load_mem_with_options(bytes, options)
        .map_err(|e| NotPdf::Unreadable(e.to_string()))?;
    if matches!(
        doc.xref_recovery,
        Some(lopdf::xref::XrefRecovery::Reconstructed)
    ) {
        return Err(NotPdf::Unreadable(
            "таблица перекрёстных ссылок или трейлер".into(),
        ));
    }
    match u32::try_from(doc.page_iter().count()) {
        Ok(0) | Err(_) => Err(NotPdf::NoPages),
        Ok(pages) => Ok(PdfFacts { pages }),
    }
}

/// The number of pages of a PDF (see [`inspect`]); `None` when it is not one we can send.
pub fn page_count(bytes: &[u8]) -> Option<u32> {
    inspect(bytes).ok().map(|f| f.pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyrillic_text_renders_to_a_pdf() {
        let pdf = text_pdf(
            "Ответ",
            "Ответ на запрос № А26-05-777\nОбращение зарегистрировано",
        );
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.len() > 1000);
        assert_eq!(page_count(&pdf), Some(1));
    }

    /// The title reads back as the Russian text it is (UTF-16BE with a BOM), not mojibake.
    #[test]
    fn the_title_is_a_utf16_text_string() {
        let pdf = text_pdf("Ответ на запрос", "текст");
        let doc = lopdf::Document::load_mem(&pdf).unwrap();
        let info = doc.trailer.get(b"Info").unwrap().as_reference().unwrap();
        let title = doc.get_dictionary(info).unwrap().get(b"Title").unwrap();
        let bytes = title.as_str().unwrap();
        assert_eq!(&bytes[..2], &[0xFE, 0xFF]);
        let units: Vec<u16> = bytes[2..]
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(String::from_utf16(&units).unwrap(), "Ответ на запрос");
    }

    /// A one-page PDF whose catalog holds `filler`, with a correct cross-reference table.
    fn pdf_with(filler: &str) -> Vec<u8> {
        medo_wire::samples::minimal_pdf_with("x", filler)
    }

    #[test]
    fn a_plain_pdf_reads_with_its_pages() {
        assert_eq!(inspect(&pdf_with("1")), Ok(PdfFacts { pages: 1 }));
        let ours = text_pdf("Ответ", &"строка\n".repeat(120));
        assert_eq!(inspect(&ours).map(|f| f.pages), Ok(3));
    }

    /// Issue 26 items 2 and 3: what crashed lopdf 0.35 (3,000 nested dictionaries, 5,000
    /// nested arrays: a stack overflow, the process aborted) and what passed for a PDF by
    /// its magic bytes alone is refused with a reason, on any caller's stack.
    #[test]
    fn hostile_and_fake_pdfs_are_refused_not_crashed_on() {
        let dicts = format!("{}1{}", "<< /A ".repeat(3000), " >>".repeat(3000));
        let arrays = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
        elf.extend(b"%PDF-1.7\n");
        elf.extend(vec![0x90u8; 4096]);
        let html = b"<html><!-- %PDF-1.4 --><script>alert(1)</script></html>".to_vec();
        // the same length, so the cross-reference table stays right
        let no_pages = String::from_utf8(pdf_with("1"))
            .unwrap()
            .replace("/Kids [3 0 R] /Count 1", "/Kids []      /Count 0")
            .into_bytes();
        type Expect = fn(&NotPdf) -> bool;
        let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
            ("nested dictionaries", pdf_with(&dicts), |e| {
                matches!(e, NotPdf::Unreadable(_) | NotPdf::NoPages)
            }),
            ("nested arrays", pdf_with(&arrays), |e| {
                matches!(e, NotPdf::Unreadable(_) | NotPdf::NoPages)
            }),
            ("an ELF with a header spliced in", elf, |e| {
                matches!(e, NotPdf::Unreadable(_))
            }),
            ("an HTML page", html, |e| matches!(e, NotPdf::Unreadable(_))),
            ("no header", b"just text".to_vec(), |e| {
                *e == NotPdf::NoHeader
            }),
            (
                "header after 1 KiB",
                [vec![b' '; 1100], pdf_with("1")].concat(),
                |e| *e == NotPdf::NoHeader,
            ),
            ("no pages", no_pages, |e| *e == NotPdf::NoPages),
        ];
        for (what, bytes, expected) in cases {
            // a small stack, as a tokio worker's or less: the bound is lopdf's, not ours
            let got = std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || inspect(&bytes))
                .unwrap()
                .join()
                .unwrap();
            let err = got.expect_err(what);
            assert!(expected(&err), "{what}: {err:?}");
            assert!(err.to_string().starts_with("не PDF"), "{what}: {err}");
        }
    }

    #[test]
    fn long_paragraphs_wrap() {
        let lines = wrap(&"слово ".repeat(40), 30);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|l| l.chars().count() <= 30));
    }
}
