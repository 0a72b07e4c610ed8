//! Human-readable PDF renderings of what the gateway sends (the answer to a УРОГ query):
//! plain paragraphs in a bundled Cyrillic font (DejaVu Sans; licence in
//! `src/assets/DejaVuSans.LICENSE`), A4, wrapped and paginated. Pure: text in, bytes out.

use printpdf::{Mm, Op, ParsedFont, PdfDocument, PdfPage, PdfSaveOptions, Point, Pt, TextItem};

const FONT: &[u8] = include_bytes!("assets/DejaVuSans.ttf");
/// Characters per line at 11 pt on A4 with 20 mm margins (DejaVu Sans is wide).
const LINE_CHARS: usize = 85;
const LINES_PER_PAGE: usize = 52;

/// Wraps a paragraph at word boundaries.
fn wrap(paragraph: &str, width: usize) -> Vec<String> {
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

/// printpdf writes the title's UTF-8 bytes into the Info dictionary as they are, which PDF
/// readers take for PDFDocEncoding (mojibake); a text string outside that encoding is UTF-16BE
/// with a byte-order mark (ISO 32000-1, 7.9.2.2). Rewritten here with lopdf; should that fail,
/// the PDF is kept as printpdf made it.
fn with_title(bytes: Vec<u8>, title: &str) -> Vec<u8> {
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
        let mut out = Vec::with_capacity(bytes.len());
        doc.save_to(&mut out).ok()?;
        Some(out)
    };
    retitled().unwrap_or(bytes)
}

/// The magic bytes every PDF starts with.
const PDF_MAGIC: &[u8] = b"%PDF-";

/// Whether `bytes` are a PDF by its magic bytes (within the first KiB, as readers allow).
pub fn is_pdf(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    head.windows(PDF_MAGIC.len()).any(|w| w == PDF_MAGIC)
}

/// The number of pages of a PDF, read with lopdf; `None` when it does not parse.
pub fn page_count(bytes: &[u8]) -> Option<u32> {
    let doc = lopdf::Document::load_mem(bytes).ok()?;
    u32::try_from(doc.get_pages().len()).ok().filter(|n| *n > 0)
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

    #[test]
    fn long_paragraphs_wrap() {
        let lines = wrap(&"слово ".repeat(40), 30);
        assert!(lines.len() > 5);
        assert!(lines.iter().all(|l| l.chars().count() <= 30));
    }
}
