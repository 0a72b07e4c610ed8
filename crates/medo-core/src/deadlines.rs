//! 59-ФЗ deadlines: registration within 3 days of receipt, redirect within 7 days of
//! registration, answer within 30 days of registration, one extension of at most 30 days.
//! Days are calendar days by default; a policy may move a due date that falls on a day off
//! to the next working day, or count working days only. Pure.

use medo_wire::time::format_date_ru;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, Weekday};

/// How days are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DayPolicy {
    /// Calendar days (59-ФЗ says «дней»).
    #[default]
    Calendar,
    /// Calendar days; a due date on a day off moves to the next working day.
    CalendarNextWorkingDay,
    /// Working days only (Monday–Friday, minus the days off of the production calendar, plus
    /// its working weekends).
    Working,
}

/// The calendar in force: the policy, the days off on weekdays (public holidays and days
/// moved by the Government's transfers) and the working Saturdays and Sundays (the days
/// moved the other way) — the production calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    pub policy: DayPolicy,
    pub holidays: Vec<Date>,
    pub working_weekends: Vec<Date>,
}

/// Statutory periods, in days.
pub const REGISTER_DAYS: i64 = 3;
pub const REDIRECT_DAYS: i64 = 7;
pub const ANSWER_DAYS: i64 = 30;
pub const MAX_EXTENSION_DAYS: i64 = 30;

impl Calendar {
    pub fn is_working_day(&self, d: Date) -> bool {
        match d.weekday() {
            Weekday::Saturday | Weekday::Sunday => self.working_weekends.contains(&d),
            _ => !self.holidays.contains(&d),
        }
    }

    fn next_working_day(&self, mut d: Date) -> Date {
        while !self.is_working_day(d) {
            d = d.next_day().unwrap_or(d);
        }
        d
    }

    /// The date `days` days after `from`, by the policy.
    pub fn add_days(&self, from: Date, days: i64) -> Date {
        match self.policy {
            DayPolicy::Calendar => from + Duration::days(days),
            DayPolicy::CalendarNextWorkingDay => self.next_working_day(from + Duration::days(days)),
            DayPolicy::Working => {
                let mut d = from;
                let mut left = days;
                while left > 0 {
                    d = d.next_day().unwrap_or(d);
                    if self.is_working_day(d) {
                        left -= 1;
                    }
                }
                d
            }
        }
    }
}

/// The due dates of one appeal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DueDates {
    /// Register by (receipt + 3 days).
    #[serde(serialize_with = "medo_wire::time::serialize_date_req")]
    pub register_by: Date,
    /// Redirect by (registration + 7 days), once registered.
    #[serde(serialize_with = "medo_wire::time::serialize_date")]
    pub redirect_by: Option<Date>,
    /// Answer by (registration + 30 days, or the extended date), once registered.
    #[serde(serialize_with = "medo_wire::time::serialize_date")]
    pub answer_by: Option<Date>,
}

/// Due dates from the receipt date, the registration date and an extension, if any.
pub fn due_dates(
    cal: &Calendar,
    received: Date,
    registered: Option<Date>,
    extended_to: Option<Date>,
) -> DueDates {
    DueDates {
        register_by: cal.add_days(received, REGISTER_DAYS),
        redirect_by: registered.map(|r| cal.add_days(r, REDIRECT_DAYS)),
        answer_by: registered.map(|r| extended_to.unwrap_or_else(|| cal.add_days(r, ANSWER_DAYS))),
    }
}

/// Why an extension is not allowed (59-ФЗ art. 12 p. 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionRefused {
    #[error("срок уже продлевался (59-ФЗ, ст. 12 ч. 2 допускает одно продление)")]
    AlreadyExtended,
    #[error("новый срок {} не позже текущего {}", format_date_ru(*until), format_date_ru(*due))]
    NotLater { until: Date, due: Date },
    #[error("продлить можно не более чем на {MAX_EXTENSION_DAYS} дней: {} позже {}", format_date_ru(*until), format_date_ru(*latest))]
    TooLong { until: Date, latest: Date },
}

/// Whether an extension to `until` is allowed: once only, later than the current due date,
/// and at most 30 days past it.
pub fn check_extension(
    current_due: Date,
    until: Date,
    already_extended: bool,
) -> Result<(), ExtensionRefused> {
    let latest = current_due + Duration::days(MAX_EXTENSION_DAYS);
    if already_extended {
        return Err(ExtensionRefused::AlreadyExtended);
    }
    if until <= current_due {
        return Err(ExtensionRefused::NotLater {
            until,
            due: current_due,
        });
    }
    if until > latest {
        return Err(ExtensionRefused::TooLong { until, latest });
    }
    Ok(())
}

/// One year of the production calendar (`calendar/ru-YYYY.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarYear {
    year: i32,
    #[allow(dead_code)]
    source: String,
    provisional: bool,
    days_off: Vec<String>,
    working_weekends: Vec<String>,
}

/// The production calendars built in (the repository's `calendar/`), used unless
/// `[registration] calendar_dir` names a folder of such files.
const BUILT_IN_CALENDARS: [(&str, &str); 2] = [
    (
        "ru-2026.toml",
        include_str!("../../../calendar/ru-2026.toml"),
    ),
    (
        "ru-2027.toml",
        include_str!("../../../calendar/ru-2027.toml"),
    ),
];

/// Days off on weekdays, working weekends, the provisional years.
pub type ProductionCalendar = (Vec<Date>, Vec<Date>, Vec<i32>);

/// The built-in years of the production calendar, as (name, TOML text).
pub fn built_in_calendars() -> Vec<(String, String)> {
    BUILT_IN_CALENDARS
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

/// The production calendar of the given year files (name, TOML text): (days off on weekdays,
/// working weekends, provisional years); an error names the file and the date.
/// A year file of the production calendar that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("{file}: {why}")]
    Unreadable { file: String, why: String },
    #[error("{file}: {what} {date:?} — не дата {year} года")]
    NotOfYear {
        file: String,
        what: &'static str,
        date: String,
        year: i32,
    },
}

pub fn production_calendar(
    files: Vec<(String, String)>,
) -> Result<ProductionCalendar, CalendarError> {
    let (mut off, mut working, mut provisional) = (Vec::new(), Vec::new(), Vec::new());
    for (name, text) in files {
        let y: CalendarYear = toml::from_str(&text).map_err(|e| CalendarError::Unreadable {
            file: name.clone(),
            why: e.to_string(),
        })?;
        let dates = |list: &[String], what: &'static str| {
            list.iter()
                .map(|d| match medo_wire::time::parse_date(d) {
                    Some(x) if x.year() == y.year => Ok(x),
                    _ => Err(CalendarError::NotOfYear {
                        file: name.clone(),
                        what,
                        date: d.clone(),
                        year: y.year,
                    }),
                })
                .collect::<Result<Vec<Date>, CalendarError>>()
        };
        off.extend(dates(&y.days_off, "days_off")?);
        working.extend(dates(&y.working_weekends, "working_weekends")?);
        if y.provisional {
            provisional.push(y.year);
        }
    }
    Ok((off, working, provisional))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn cal(policy: DayPolicy) -> Calendar {
        Calendar {
            policy,
            holidays: vec![
                date!(2027 - 01 - 01),
                date!(2027 - 01 - 04),
                date!(2027 - 01 - 05),
                date!(2027 - 01 - 06),
                date!(2027 - 01 - 07),
                date!(2027 - 01 - 08),
            ],
            working_weekends: Vec::new(),
        }
    }

    #[test]
    fn deadline_table() {
        // (policy, from, days, due)
        let table = [
            (
                DayPolicy::Calendar,
                date!(2026 - 11 - 20),
                3,
                date!(2026 - 11 - 23),
            ),
            (
                DayPolicy::Calendar,
                date!(2026 - 12 - 30),
                3,
                date!(2027 - 01 - 02),
            ), // year boundary
            (
                DayPolicy::Calendar,
                date!(2026 - 12 - 15),
                30,
                date!(2027 - 01 - 14),
            ),
            (
                DayPolicy::Calendar,
                date!(2028 - 02 - 27),
                3,
                date!(2028 - 03 - 01),
            ), // leap year
            (
                DayPolicy::Calendar,
                date!(2027 - 02 - 27),
                3,
                date!(2027 - 03 - 02),
            ),
            (
                DayPolicy::CalendarNextWorkingDay,
                date!(2026 - 11 - 18),
                3,
                date!(2026 - 11 - 23),
            ), // Sat → Mon
            (
                DayPolicy::CalendarNextWorkingDay,
                date!(2026 - 12 - 29),
                3,
                date!(2027 - 01 - 11),
            ), // New Year holidays
            (
                DayPolicy::CalendarNextWorkingDay,
                date!(2026 - 11 - 20),
                3,
                date!(2026 - 11 - 23),
            ), // Mon stays
            (
                DayPolicy::Working,
                date!(2026 - 11 - 20),
                3,
                date!(2026 - 11 - 25),
            ), // Fri + 3 working = Wed
            (
                DayPolicy::Working,
                date!(2026 - 12 - 30),
                3,
                date!(2027 - 01 - 12),
            ),
        ];
        for (policy, from, days, due) in table {
            assert_eq!(
                cal(policy).add_days(from, days),
                due,
                "{policy:?} {from} + {days}"
            );
        }
    }

    #[test]
    fn due_dates_follow_registration() {
        let c = cal(DayPolicy::Calendar);
        let d = due_dates(&c, date!(2026 - 11 - 20), None, None);
        assert_eq!(
            (d.register_by, d.redirect_by, d.answer_by),
            (date!(2026 - 11 - 23), None, None)
        );
        let d = due_dates(&c, date!(2026 - 11 - 20), Some(date!(2026 - 11 - 21)), None);
        assert_eq!(d.redirect_by, Some(date!(2026 - 11 - 28)));
        assert_eq!(d.answer_by, Some(date!(2026 - 12 - 21)));
        let d = due_dates(
            &c,
            date!(2026 - 11 - 20),
            Some(date!(2026 - 11 - 21)),
            Some(date!(2027 - 01 - 15)),
        );
        assert_eq!(d.answer_by, Some(date!(2027 - 01 - 15)));
    }

    #[test]
    fn extensions_are_once_and_at_most_thirty_days() {
        let due = date!(2026 - 12 - 21);
        assert!(check_extension(due, date!(2027 - 01 - 20), false).is_ok());
        assert!(check_extension(due, date!(2027 - 01 - 21), false).is_err());
        assert!(check_extension(due, date!(2026 - 12 - 21), false).is_err());
        assert!(check_extension(due, date!(2027 - 01 - 01), true).is_err());
    }
}
