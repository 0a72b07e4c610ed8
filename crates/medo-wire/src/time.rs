//! Dates and date-times as МЭДО writes them: `xsd:date` (`YYYY-MM-DD`), `xsd:dateTime` with or
//! without fraction and offset, and the envelope's `dd.MM.yyyy HH:mm:ss`. Parsing is lenient
//! (real traffic varies), writing is canonical. Pure.

use std::fmt;

use serde::{Serialize, Serializer};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

const DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");
const LOCAL: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
const LOCAL_FRACTION: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
const OFFSET: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
);
const LOCAL_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]");
const OFFSET_MILLIS: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
);
const RU_DATE: &[FormatItem<'static>] = format_description!("[day].[month].[year]");
const ENVELOPE: &[FormatItem<'static>] =
    format_description!("[day].[month].[year] [hour]:[minute]:[second]");

/// An `xsd:dateTime` as found in a message: with an offset, or local (no zone) as older
/// producers write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlDateTime {
    Offset(OffsetDateTime),
    Local(PrimitiveDateTime),
}

impl XmlDateTime {
    /// Parses `2024-03-15T11:02:30`, `…30.502`, `…30+03:00`, `…30.5+03:00`, `…30Z`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (main, offset) = split_offset(text)?;
        let local = PrimitiveDateTime::parse(main, LOCAL)
            .or_else(|_| PrimitiveDateTime::parse(main, LOCAL_FRACTION))
            .ok()?;
        Some(match offset {
            Some(offset) => XmlDateTime::Offset(local.assume_offset(offset)),
            None => XmlDateTime::Local(local),
        })
    }

    /// A date-time with offset, truncated to whole seconds (what writers emit).
    pub fn from_offset(at: OffsetDateTime) -> Self {
        XmlDateTime::Offset(at.replace_nanosecond(0).unwrap_or(at))
    }

    /// The calendar date in the value's own offset.
    pub fn date(&self) -> Date {
        match self {
            XmlDateTime::Offset(t) => t.date(),
            XmlDateTime::Local(t) => t.date(),
        }
    }

    /// The same moment as an offset date-time, assuming `default` for local values.
    pub fn assume(&self, default: UtcOffset) -> OffsetDateTime {
        match self {
            XmlDateTime::Offset(t) => *t,
            XmlDateTime::Local(t) => t.assume_offset(default),
        }
    }
}

/// Splits a trailing `Z` / `±hh:mm` offset off a date-time text.
fn split_offset(text: &str) -> Option<(&str, Option<UtcOffset>)> {
    if let Some(main) = text.strip_suffix('Z') {
        return Some((main, Some(UtcOffset::UTC)));
    }
    // an offset sign can only appear after the 'T'
    let t = text.find('T')?;
    let Some(pos) = text[t..].rfind(['+', '-']).map(|p| p + t) else {
        return Some((text, None));
    };
    let (main, off) = text.split_at(pos);
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let mut parts = off[1..].split(':');
    let hours: i8 = parts.next()?.parse().ok()?;
    let minutes: i8 = parts.next().unwrap_or("0").parse().ok()?;
    let offset = UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?;
    Some((main, Some(offset)))
}

impl fmt::Display for XmlDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // a fraction as received is kept (to the millisecond: what real receipts carry)
        let text = match self {
            XmlDateTime::Offset(t) if t.millisecond() > 0 => t.format(OFFSET_MILLIS),
            XmlDateTime::Offset(t) => t.format(OFFSET),
            XmlDateTime::Local(t) if t.millisecond() > 0 => t.format(LOCAL_MILLIS),
            XmlDateTime::Local(t) => t.format(LOCAL),
        };
        f.write_str(&text.map_err(|_| fmt::Error)?)
    }
}

impl Serialize for XmlDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parses an `xsd:date`, tolerating a trailing zone (`2024-03-15+03:00`, `…Z`) and a time part.
pub fn parse_date(text: &str) -> Option<Date> {
    let text = text.trim();
    let head = text.get(..10)?;
    Date::parse(head, DATE).ok()
}

/// The day of a journal time (RFC 3339) in the zone at `offset` — what people and partners
/// read; a bare `YYYY-MM-DD` (a day recorded by an older version) is taken as it is.
pub fn local_day(text: &str, offset: UtcOffset) -> Option<Date> {
    match OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        Ok(t) => Some(t.to_offset(offset).date()),
        Err(_) => parse_date(text),
    }
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(date: Date) -> String {
    date.format(DATE).expect("a Date always formats")
}

/// A date as people read it in Russian documents: `01.12.2026`.
pub fn format_date_ru(date: Date) -> String {
    date.format(RU_DATE).expect("a Date always formats")
}

/// An ISO date (`2026-12-01`) as people read it (`01.12.2026`); other text as it is.
pub fn show_date_ru(iso: &str) -> String {
    parse_date(iso).map_or_else(|| iso.to_string(), format_date_ru)
}

/// Parses the envelope's `ДАТА=dd.MM.yyyy HH:mm:ss`.
pub fn parse_envelope_date(text: &str) -> Option<PrimitiveDateTime> {
    PrimitiveDateTime::parse(text.trim(), ENVELOPE).ok()
}

/// Formats the envelope's `ДАТА`.
pub fn format_envelope_date(at: PrimitiveDateTime) -> String {
    at.format(ENVELOPE)
        .expect("a PrimitiveDateTime always formats")
}

/// Serde helper: a required date as `YYYY-MM-DD`.
pub fn serialize_date_req<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(*date))
}

/// Serde helper: a date as `YYYY-MM-DD`.
pub fn serialize_date<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match date {
        Some(d) => s.serialize_some(&format_date(*d)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_in_the_wild_parse_and_print_canonically() {
        for (input, output) in [
            ("2018-03-30T10:41:12.502", "2018-03-30T10:41:12"),
            ("2024-03-15T11:02:30", "2024-03-15T11:02:30"),
            ("2024-03-15T11:02:30+03:00", "2024-03-15T11:02:30+03:00"),
            ("2024-03-15T11:02:30.123+03:00", "2024-03-15T11:02:30+03:00"),
            ("2024-03-15T08:02:30Z", "2024-03-15T08:02:30+00:00"),
            ("2024-03-15T08:02:30-05:00", "2024-03-15T08:02:30-05:00"),
        ] {
            let parsed = XmlDateTime::parse(input).unwrap_or_else(|| panic!("{input}"));
            let parsed = match parsed {
                XmlDateTime::Offset(t) => XmlDateTime::from_offset(t),
                XmlDateTime::Local(t) => XmlDateTime::Local(t.replace_nanosecond(0).unwrap()),
            };
            assert_eq!(parsed.to_string(), output, "{input}");
        }
        // as received, the fraction is kept to the millisecond (real receipts carry it)
        for (input, output) in [
            ("2018-03-30T10:41:12.502", "2018-03-30T10:41:12.502"),
            ("2023-06-22T18:45:51.267", "2023-06-22T18:45:51.267"),
            (
                "2024-03-15T11:02:30.1+03:00",
                "2024-03-15T11:02:30.100+03:00",
            ),
            ("2024-03-15T11:02:30.000+03:00", "2024-03-15T11:02:30+03:00"),
        ] {
            let parsed = XmlDateTime::parse(input).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(parsed.to_string(), output, "{input}");
        }
        assert_eq!(XmlDateTime::parse("15.03.2024"), None);
        assert_eq!(XmlDateTime::parse("2024-03-15"), None);
    }

    #[test]
    fn dates_tolerate_zones() {
        let d = parse_date("2024-03-15+03:00").unwrap();
        assert_eq!(format_date(d), "2024-03-15");
        assert!(parse_date("2024-13-01").is_none());
        assert!(parse_date("").is_none());
    }

    #[test]
    fn envelope_dates() {
        let t = parse_envelope_date("26.01.2023 13:22:52").unwrap();
        assert_eq!(format_envelope_date(t), "26.01.2023 13:22:52");
    }
}
