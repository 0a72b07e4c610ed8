//! The words of the letters we write about a redirect by competence (59-ФЗ ст. 8 ч. 3): the
//! cover letter the forwarded appeal travels with, and the notice to the applicant. Pure:
//! text from journaled facts; the outbox and the readers make the PDF of it.

use medo_model::NoticeRef;
use medo_wire::time::format_date_ru;

use crate::letter::numbered;

/// What a redirect letter is about.
#[derive(Debug, Clone)]
pub struct Redirect<'a> {
    /// Who writes (the body's organisation).
    pub from: &'a str,
    /// The body it goes to.
    pub to: &'a str,
    /// Our letter's number and date.
    pub ours: &'a NoticeRef,
    /// The letter the appeal came with (УРОГ's cover letter).
    pub foundation: &'a NoticeRef,
    /// Our registration of the appeal.
    pub registered: &'a NoticeRef,
    pub comment: Option<&'a str>,
}

pub const COVER_TITLE: &str = "О направлении обращения по компетенции";

/// The cover letter «О направлении обращения по компетенции», its appendix listing `files`.
pub fn cover_letter(r: &Redirect<'_>, files: &[String]) -> String {
    let from_whom = r
        .foundation
        .organization
        .as_deref()
        .map(|o| format!(" из {o}"))
        .unwrap_or_default();
    let mut s = format!(
        "В соответствии с частью 3 статьи 8 Федерального закона от 02.05.2006 № 59-ФЗ \
         «О порядке рассмотрения обращений граждан Российской Федерации» направляем для \
         рассмотрения по компетенции обращение, поступившее{from_whom} с сопроводительным \
         письмом {} и зарегистрированное {}.\n",
        numbered(r.foundation),
        numbered(r.registered),
    );
    if let Some(c) = r.comment {
        s.push_str(&format!("Основание: {c}\n"));
    }
    s.push_str(
        "Просим рассмотреть обращение и дать ответ заявителю в установленный срок.\n\n\
         Приложение:\n",
    );
    for (k, f) in files.iter().enumerate() {
        s.push_str(&format!("{}. {f}\n", k + 1));
    }
    s
}

/// The notice to the applicant that the appeal was sent to the competent body.
pub fn applicant_notice(r: &Redirect<'_>) -> String {
    let mut s = format!(
        "Уважаемый заявитель!\n\n\
         Ваше обращение, зарегистрированное {}, содержит вопросы, решение которых не входит \
         в компетенцию {}. В соответствии с частью 3 статьи 8 Федерального закона от \
         02.05.2006 № 59-ФЗ «О порядке рассмотрения обращений граждан Российской Федерации» \
         оно направлено для рассмотрения по компетенции: {}.\n",
        numbered(r.registered),
        r.from,
        r.to,
    );
    if let Some(c) = r.comment {
        s.push_str(&format!("Основание: {c}\n"));
    }
    s.push_str("Ответ на обращение Вам даст орган, в который оно направлено.\n");
    s
}

/// The title of the applicant's notice of registration.
pub const REGISTRATION_TITLE: &str = "Уведомление о регистрации обращения";

/// The printable notice of registration for an applicant without e-mail: our number and date,
/// the answer's due date, and how to look the status up with the number and `pin`; `None`
/// while the appeal is not registered.
pub fn applicant_registration_pdf(
    a: &crate::book::Appeal,
    pin: &str,
    due: Option<time::Date>,
    policy: &crate::policy::Policy,
) -> Option<Vec<u8>> {
    let number = a.number.as_deref()?;
    let registered = registered_ref(a);
    let due = due
        .map(|d| format!("Ответ будет дан не позднее {}.\n", format_date_ru(d)))
        .unwrap_or_default();
    let body = format!(
        "Уважаемый заявитель!\n\nВаше обращение, поступившее в {}, зарегистрировано {}.\n{due}\n\
         Узнать, как оно рассматривается, и получить ответ можно на сайте органа в разделе \
         «Статус обращения»: укажите регистрационный номер {number} и PIN-код {pin}.\n\
         PIN-код никому не сообщайте.\n",
        policy.sender.organization,
        numbered(&registered),
    );
    // the letter's date: the registration's day (the same bytes whenever it is printed)
    let created = a
        .registered_on
        .as_deref()
        .and_then(medo_wire::time::parse_date)
        .map(|d| d.midnight().assume_offset(policy.utc_offset))
        .unwrap_or_else(|| crate::letter::local_time(&a.received_at, policy))
        .to_offset(policy.utc_offset);
    Some(to_applicant(
        &registered,
        (REGISTRATION_TITLE, &body),
        created,
        policy,
    ))
}

/// The title of the applicant's notice of an extension.
pub const EXTENSION_TITLE: &str = "Уведомление о продлении срока рассмотрения обращения";

/// The applicant's notice that the term of `a` was extended (59-ФЗ ст. 12 ч. 2): until when
/// and why; `None` when it was not extended. The same bytes each time it is asked for (the
/// letter's date is the extension's, from the timeline).
pub fn applicant_extension_pdf(
    a: &crate::book::Appeal,
    policy: &crate::policy::Policy,
) -> Option<Vec<u8>> {
    let until = a.extended_to.as_deref()?;
    let when = a
        .timeline
        .iter()
        .rev()
        .find(|t| {
            t.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("срок продлён"))
        })
        .map(|t| t.at.as_str())
        .unwrap_or(a.received_at.as_str());
    let ours = ours_ref("", when, policy);
    let registered = registered_ref(a);
    let body = format!(
        "Уважаемый заявитель!\n\nВ соответствии с частью 2 статьи 12 Федерального закона от \
         02.05.2006 № 59-ФЗ «О порядке рассмотрения обращений граждан Российской Федерации» \
         срок рассмотрения Вашего обращения, зарегистрированного {}, продлён до {}.\n{}",
        numbered(&registered),
        medo_wire::time::show_date_ru(until),
        a.extension_reason
            .as_deref()
            .map(|r| format!("Причина: {r}\n"))
            .unwrap_or_default()
    );
    let created = crate::letter::local_time(when, policy);
    Some(to_applicant(
        &ours,
        (EXTENSION_TITLE, &body),
        created,
        policy,
    ))
}

/// The title of the applicant's notice of a redirect.
pub const NOTICE_TITLE: &str = "Уведомление о переадресации обращения";

/// The applicant's notice of `a`'s redirect as a PDF (59-ФЗ ст. 8 ч. 3), from the book and
/// the policy of its body: to whom, when, under which number of ours; `None` when the appeal
/// was not redirected. The same bytes each time it is asked for.
pub fn applicant_redirect_pdf(
    a: &crate::book::Appeal,
    policy: &crate::policy::Policy,
) -> Option<Vec<u8>> {
    let to = a.redirected_to.as_deref()?;
    let (_, when, number) = a.transfer.as_ref()?;
    let ours = ours_ref(number, when, policy);
    let registered = registered_ref(a);
    let letter = Redirect {
        from: &policy.sender.organization,
        to,
        ours: &ours,
        foundation: &ours,
        registered: &registered,
        comment: None,
    };
    let created = crate::letter::local_time(when, policy);
    let body = applicant_notice(&letter);
    Some(to_applicant(&ours, (NOTICE_TITLE, &body), created, policy))
}

/// Our registration of `a`: its number and day.
fn registered_ref(a: &crate::book::Appeal) -> NoticeRef {
    NoticeRef {
        organization: None,
        number: a.number.clone().unwrap_or_default(),
        date: a.registered_on.as_deref().and_then(medo_model::Day::parse),
    }
}

/// Our letter's number (`б/н` when it has none) and its day, from the journal time `when`.
fn ours_ref(number: &str, when: &str, policy: &crate::policy::Policy) -> NoticeRef {
    NoticeRef {
        organization: None,
        number: match number.is_empty() {
            true => "б/н".into(),
            false => number.to_string(),
        },
        date: crate::due::local_date(when, policy).map(Into::into),
    }
}

/// A letter to the applicant («Заявителю») as a PDF on the body's letterhead.
fn to_applicant(
    ours: &NoticeRef,
    (subject, body): (&str, &str),
    created: time::OffsetDateTime,
    policy: &crate::policy::Policy,
) -> Vec<u8> {
    let letter = crate::letter::Letter {
        ours,
        addressee: "Заявителю",
        subject,
        body,
        created,
    };
    crate::letter::letter_pdf(&letter, policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: &str, d: &str) -> NoticeRef {
        NoticeRef {
            organization: None,
            number: n.into(),
            date: medo_model::Day::parse(d),
        }
    }

    #[test]
    fn the_letters_name_both_numbers_the_law_and_the_files() {
        let (ours, foundation, registered) = (
            r("ИСХ-4/26", "2026-12-07"),
            r("А26-02-7", "2026-12-01"),
            r("ОГ-3/26", "2026-12-02"),
        );
        let letter = Redirect {
            from: "Администрация А",
            to: "Министерство Б",
            ours: &ours,
            foundation: &foundation,
            registered: &registered,
            comment: Some("вопросы ЖКХ"),
        };
        let cover = cover_letter(&letter, &["appeal.pdf".into(), "photo.jpg".into()]);
        for part in [
            "письмом № А26-02-7 от 01.12.2026",
            "зарегистрированное № ОГ-3/26 от 02.12.2026",
            "частью 3 статьи 8",
            "Основание: вопросы ЖКХ",
            "1. appeal.pdf\n2. photo.jpg",
        ] {
            assert!(cover.contains(part), "{part:?} in {cover}");
        }
        let notice = applicant_notice(&letter);
        for part in [
            "Министерство Б",
            "№ ОГ-3/26 от 02.12.2026",
            "Уважаемый заявитель",
        ] {
            assert!(notice.contains(part), "{part:?} in {notice}");
        }
    }
}
