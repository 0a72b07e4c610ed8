//! The applicant told of each status by e-mail (`[smtp]`, issue 30): registered (with the
//! number and PIN), redirected, extended, answered (the answer attached unless ДСП) — to the
//! address of the appeal's card; a status reached while no address was known is journaled as
//! not sent (a later address gets the later changes). Russian words, the body's name.

use medo_core::book::Appeal;
use medo_model::Event;

use medo_store::Index;

use crate::{notify, Backend, Gateway, GatewayError, PassReport};

/// Statuses looked at in one pass, at most (old ones are only journaled: many at once).
const PER_PASS: usize = 256;
/// Messages handed to the mail worker in one pass, at most.
const MAILS_PER_PASS: usize = 16;
/// A status reached longer ago is not mailed (journaled as not sent): enabling `[smtp]` on a
/// long history, or rebuilding the index, never mails old news.
const NEWS_FOR: time::Duration = time::Duration::days(3);

impl<B: Backend> Gateway<B> {
    /// Sends (beside the loop) what the applicants are to be told and journals what was.
    pub(crate) fn notify_applicants(
        &mut self,
        report: &mut PassReport,
    ) -> Result<(), GatewayError> {
        if self.mailer.is_none() {
            return Ok(());
        }
        let due = self.backend.index().notifications_due(PER_PASS)?;
        let now = time::OffsetDateTime::now_utc();
        let rfc = &time::format_description::well_known::Rfc3339;
        let (mut events, mut mails) = (Vec::new(), 0);
        for (appeal, status, reached) in due {
            let old =
                time::OffsetDateTime::parse(&reached, rfc).map_or(true, |t| now - t > NEWS_FOR);
            let Some(a) = medo_core::book::Appeals::appeal(self.backend.index(), appeal) else {
                continue;
            };
            let message_id = self.message_id(appeal, &status);
            let told = |sent, reason: Option<&str>| Event::ApplicantNotified {
                appeal,
                status: status.clone(),
                message_id: message_id.clone(),
                sent,
                reason: reason.map(str::to_string),
            };
            if old {
                events.push(told(false, Some("устарело: статус старше 3 дней")));
                continue;
            }
            let Some(to) = self.applicant_address(appeal) else {
                events.push(told(false, Some("нет адреса")));
                continue;
            };
            if mails == MAILS_PER_PASS {
                continue;
            }
            mails += 1;
            let mail = self.mail(&a, &status, (to, message_id.clone()));
            let Some(mailer) = self.mailer.as_mut() else {
                break;
            };
            match mailer.status(mail) {
                notify::Status::Sent => events.push(told(true, None)),
                notify::Status::Sending => report.mailing += 1,
                notify::Status::Resting => {}
                notify::Status::Failed(why) => {
                    self.metrics.mail_failures += 1;
                    tracing::warn!(appeal, status = %status, error = %why, "the applicant's e-mail was not sent; tried again in a minute");
                }
            }
        }
        if events
            .iter()
            .any(|e| matches!(e, Event::ApplicantNotified { sent: true, .. }))
        {
            // the window the stable Message-ID covers: sent, not yet journaled
            medo_stdx::fault::point("after-mail-sent");
        }
        self.commit(events)?;
        Ok(())
    }

    /// `<appeal-<id>-<status>@<the sender's domain>>`: the same on every try.
    fn message_id(&self, appeal: u64, status: &str) -> String {
        let from = self.config.smtp.as_ref().map_or("", |s| s.from.as_str());
        let domain = from
            .rsplit_once('@')
            .map_or("medo-gateway", |(_, d)| d.trim_end_matches('>'));
        format!("<appeal-{appeal}-{status}@{domain}>")
    }

    /// The e-mail of the appeal's card (`shared_dir/cards/<id>.json`), if one is kept.
    fn applicant_address(&self, appeal: u64) -> Option<String> {
        let path = self
            .layout
            .shared_dir
            .join("cards")
            .join(format!("{appeal}.json"));
        let card: medo_core::sstu::Card =
            serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        card.email.filter(|e| e.contains('@'))
    }

    /// The message for `status` of `a`, in Russian.
    fn mail(&self, a: &Appeal, status: &str, (to, message_id): (String, String)) -> notify::Mail {
        let policy = self.policy_of(a.body.as_str()).clone();
        let body = &policy.sender.organization;
        let number = a.number.clone().unwrap_or_default();
        let day = |d: Option<&str>| d.map(medo_wire::time::show_date_ru).unwrap_or_default();
        let (subject, text, attachment) = match status {
            "registered" => {
                let pin = medo_core::appeals::pin(&self.pin_secret, a.id);
                (
                    format!("Обращение зарегистрировано: № {number}"),
                    format!(
                        "Уважаемый заявитель!\n\nВаше обращение зарегистрировано в {body}: № {number} от {}.\n\
                         Узнать, как оно рассматривается, можно на сайте органа в разделе «Статус обращения»: \
                         регистрационный номер {number}, PIN-код {pin}.\nPIN-код никому не сообщайте.\n",
                        day(a.registered_on.as_deref())
                    ),
                    None,
                )
            }
            "redirected" => (
                format!("Обращение № {number} направлено по компетенции"),
                format!(
                    "Уважаемый заявитель!\n\nВаше обращение № {number} направлено для рассмотрения по компетенции: {}.\n\
                     Ответ Вам даст орган, в который оно направлено.\n",
                    a.redirected_to.as_deref().unwrap_or("—")
                ),
                medo_core::letters::applicant_redirect_pdf(a, &policy)
                    .map(|pdf| ("Уведомление о переадресации.pdf".to_string(), pdf)),
            ),
            "extended" => (
                format!("Срок рассмотрения обращения № {number} продлён"),
                format!(
                    "Уважаемый заявитель!\n\nСрок рассмотрения Вашего обращения № {number} продлён до {}.\n{}",
                    day(a.extended_to.as_deref()),
                    a.extension_reason
                        .as_deref()
                        .map(|r| format!("Причина: {r}\n"))
                        .unwrap_or_default()
                ),
                None,
            ),
            _ => (
                format!("Ответ на обращение № {number}"),
                format!(
                    "Уважаемый заявитель!\n\nВаше обращение № {number} рассмотрено. {}\n",
                    match a.restricted {
                        true => "Ответ направлен Вам в установленном порядке.",
                        false => "Ответ — во вложении.",
                    }
                ),
                self.answer_file(a),
            ),
        };
        notify::Mail {
            about: (a.id, status.to_string()),
            message_id,
            to,
            subject,
            text: format!("{text}\n{body}\n"),
            attachment,
        }
    }

    /// The answer kept with its step, unless the appeal is ДСП.
    fn answer_file(&self, a: &Appeal) -> Option<(String, Vec<u8>)> {
        if a.restricted {
            return None;
        }
        let name = a.answer_file.as_ref()?;
        let kept = self
            .layout
            .shared_dir
            .join(medo_model::kept_path(a.id, name));
        std::fs::read(kept).ok().map(|b| (name.clone(), b))
    }
}
