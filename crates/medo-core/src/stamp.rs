//! The stamp images a signed document of ours carries, as real senders' containers do
//! (`eds_….png`, `regnum_….png`): the «ДОКУМЕНТ ПОДПИСАН ЭЛЕКТРОННОЙ ПОДПИСЬЮ» block — the
//! certificate's serial, owner and validity — and the registration stamp — our number and
//! date. Drawn from journaled facts only (the same bytes on every send), with the bundled
//! DejaVu Sans rasterised by `ab_glyph` and written by `png`. Pure.

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use medo_model::CertificateFacts;

/// Pixels per millimetre of the images (≈ 203 dpi: sharp when printed at the stamp's size).
const PX_PER_MM: f32 = 8.0;
/// The stamps' ink: the blue of the usual electronic-signature block.
const INK: [u8; 3] = [0x1f, 0x3c, 0x88];

/// Where a stamp goes on the page, in millimetres from the top-left corner (as the passport
/// says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub page: u32,
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// The signature stamp's place: bottom right of the last page, 80 × 28 mm (the Federation
/// Council's stamp is this size and place).
pub fn signature_place(pages: u32) -> Place {
    Place {
        page: pages.max(1),
        x: 110,
        y: 244,
        w: 80,
        h: 28,
    }
}

/// The registration stamp's place: the top of the first page, above the text, 62 × 6 mm.
pub fn registration_place() -> Place {
    Place {
        page: 1,
        x: 20,
        y: 8,
        w: 62,
        h: 6,
    }
}

/// «ДОКУМЕНТ ПОДПИСАН ЭЛЕКТРОННОЙ ПОДПИСЬЮ» with the certificate's facts, framed.
pub fn signature_stamp(cert: &CertificateFacts) -> Vec<u8> {
    let place = signature_place(1);
    let mut img = Image::new(place.w, place.h);
    img.frame(3);
    let (from, to) = (
        medo_wire::time::show_date_ru(&cert.valid_from.to_string()),
        medo_wire::time::show_date_ru(&cert.valid_to.to_string()),
    );
    let lines = [
        ("ДОКУМЕНТ ПОДПИСАН".to_string(), 30.0),
        ("ЭЛЕКТРОННОЙ ПОДПИСЬЮ".to_string(), 30.0),
        (format!("Сертификат: {}", cert.serial), 21.0),
        (format!("Владелец: {}", cert.owner), 21.0),
        (format!("Действителен с {from} по {to}"), 21.0),
    ];
    let mut baseline = 44.0;
    for (text, size) in lines {
        img.text_centered(&text, size, baseline);
        baseline += size + 12.0;
    }
    img.png()
}

/// Our registration: «№ ОЗ-3/26 от 07.12.2026».
pub fn registration_stamp(number: &str, date: Option<time::Date>) -> Vec<u8> {
    let place = registration_place();
    let mut img = Image::new(place.w, place.h);
    let date = date
        .map(|d| {
            format!(
                " от {}",
                medo_wire::time::show_date_ru(&medo_wire::time::format_date(d))
            )
        })
        .unwrap_or_default();
    img.text_left(&format!("№ {number}{date}"), 34.0, 38.0);
    img.png()
}

/// An RGBA picture, transparent where nothing is drawn.
struct Image {
    w: u32,
    h: u32,
    px: Vec<u8>,
}

impl Image {
    fn new(w_mm: u32, h_mm: u32) -> Image {
        let (w, h) = (
            (w_mm as f32 * PX_PER_MM) as u32,
            (h_mm as f32 * PX_PER_MM) as u32,
        );
        Image {
            w,
            h,
            px: vec![0; (w * h * 4) as usize],
        }
    }

    /// Ink of coverage `a` (0–1) at (x, y), over what is there.
    fn ink(&mut self, x: i64, y: i64, a: f32) {
        if x < 0 || y < 0 || x >= i64::from(self.w) || y >= i64::from(self.h) {
            return;
        }
        let i = ((y as u32 * self.w + x as u32) * 4) as usize;
        let alpha = (a.clamp(0.0, 1.0) * 255.0) as u8;
        self.px[i..i + 3].copy_from_slice(&INK);
        self.px[i + 3] = self.px[i + 3].max(alpha);
    }

    /// A frame `t` pixels thick along the edges.
    fn frame(&mut self, t: u32) {
        for y in 0..self.h {
            for x in 0..self.w {
                if x < t || y < t || x >= self.w - t || y >= self.h - t {
                    self.ink(i64::from(x), i64::from(y), 1.0);
                }
            }
        }
    }

    /// `text` at `size` px, shrunk to fit the width with a margin, centred on `baseline`'s line.
    fn text_centered(&mut self, text: &str, size: f32, baseline: f32) {
        let margin = 16.0;
        let (size, width) = fit(text, size, self.w as f32 - 2.0 * margin);
        let x = (self.w as f32 - width) / 2.0;
        self.draw(text, size, (x, baseline));
    }

    fn text_left(&mut self, text: &str, size: f32, baseline: f32) {
        let (size, _) = fit(text, size, self.w as f32 - 8.0);
        self.draw(text, size, (4.0, baseline));
    }

    fn draw(&mut self, text: &str, size: f32, (mut x, baseline): (f32, f32)) {
        let font = font();
        let scaled = font.as_scaled(PxScale::from(size));
        let mut previous = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                x += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(size, point(x, baseline));
            x += scaled.h_advance(id);
            previous = Some(id);
            if let Some(outlined) = font.outline_glyph(glyph) {
                let b = outlined.px_bounds();
                outlined.draw(|gx, gy, a| {
                    self.ink(
                        b.min.x as i64 + i64::from(gx),
                        b.min.y as i64 + i64::from(gy),
                        a,
                    );
                });
            }
        }
    }

    fn png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.w, self.h);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let written = encoder
            .write_header()
            .and_then(|mut w| w.write_image_data(&self.px));
        written.expect("a PNG of a known size is written to memory");
        out
    }
}

/// The size (at most `size`) at which `text` fits `room` px, and its width then.
fn fit(text: &str, size: f32, room: f32) -> (f32, f32) {
    let width = width(text, size);
    match width > room {
        true => (size * room / width, room),
        false => (size, width),
    }
}

fn width(text: &str, size: f32) -> f32 {
    let font = font();
    let scaled = font.as_scaled(PxScale::from(size));
    text.chars()
        .map(|c| scaled.h_advance(scaled.glyph_id(c)))
        .sum()
}

fn font() -> FontRef<'static> {
    FontRef::try_from_slice(crate::pdf::FONT).expect("the bundled font reads")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert() -> CertificateFacts {
        CertificateFacts {
            serial: "01A2B3C4D5E6F70890".into(),
            owner: "Иванов Иван Иванович".into(),
            valid_from: medo_model::Day::parse("2026-01-15").unwrap(),
            valid_to: medo_model::Day::parse("2027-04-15").unwrap(),
        }
    }

    /// A PNG of the stamp's size, ink inside it, the same bytes every time.
    #[test]
    fn stamps_are_pngs_of_their_size_drawn_the_same_every_time() {
        for (png, place) in [
            (signature_stamp(&cert()), signature_place(1)),
            (
                registration_stamp(
                    "ОЗ-3/26",
                    time::Date::from_calendar_date(2026, time::Month::December, 7).ok(),
                ),
                registration_place(),
            ),
        ] {
            let decoder = png::Decoder::new(std::io::Cursor::new(png.as_slice()));
            let mut reader = decoder.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            assert_eq!(
                (info.width, info.height),
                (place.w * PX_PER_MM as u32, place.h * PX_PER_MM as u32)
            );
            let inked = buf.chunks(4).filter(|p| p[3] > 128).count();
            let share = inked as f64 / (buf.len() / 4) as f64;
            assert!((0.02..0.6).contains(&share), "ink share {share}");
        }
        assert_eq!(signature_stamp(&cert()), signature_stamp(&cert()));
        let mut other = cert();
        other.serial = "FF".into();
        assert_ne!(signature_stamp(&cert()), signature_stamp(&other));
    }
}
