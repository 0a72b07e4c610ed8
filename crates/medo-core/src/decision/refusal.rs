//! Why an operator's (or a СЭД's) command does not apply — typed, so the loop, the CLI and the
//! API decide what to do by the variant; its words (Russian, for the person who sent it) are
//! its `Display`, and name no command-line flag or HTTP field beyond the request's own names.

use medo_wire::message::RefusalReason;

use crate::book::Lookup;
use crate::deadlines::ExtensionRefused;

/// Why a command does not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The appeal is not found (or the number is ambiguous).
    #[error(transparent)]
    Lookup(#[from] Lookup),
    /// The appeal is in a state this step does not apply to.
    #[error("обращение {id} — {state}: этот шаг к нему не применим")]
    NotApplicable { id: u64, state: &'static str },
    #[error("{given:?} — не одно из девяти официальных оснований: {}", reasons())]
    UnknownReason { given: String },
    #[error("дата регистрации {0:?} — не ГГГГ-ММ-ДД")]
    BadDate(String),
    #[error("дата регистрации {0} — не раньше поступления обращения и не позже сегодняшнего дня")]
    DateOutOfRange(String),
    /// The operator's registration number cannot be given (`appeals::number_problem`).
    #[error("{0}")]
    BadNumber(String),
    #[error("номер {0} уже присвоен другому обращению")]
    NumberTaken(String),
    /// A refusal rule holds (or could not be checked): refuse, or register with a reason.
    #[error("{}", refusable(*id, *reason, why))]
    Refusable {
        id: u64,
        reason: Option<RefusalReason>,
        why: String,
    },
    #[error("регистрация вопреки правилу (force) требует комментария (comment): почему обращение регистрируется вопреки правилу")]
    ForceNeedsComment,
    /// The step's file could not be used (as the loop found it).
    #[error("{0}")]
    File(String),
    #[error("исполнитель (executor) не может быть пустым")]
    NoExecutor,
    #[error("орган по компетенции (to) должен быть назван")]
    NoRecipient,
    #[error("{0:?} — не орган этого узла и не участник МЭДО с ролью body (укажите id органа из [[bodies]], body:ID или partner:ИМЯ; направление вне МЭДО отмечается командой appeals event ID redirected --to ОРГАН)")]
    UnknownTarget(String),
    /// The appeal's files could not be read for forwarding (the words say why).
    #[error("файлы обращения не читаются ({0}): направить его по МЭДО нельзя")]
    FilesUnread(String),
    #[error("обращение уже у органа {0}: направить его туда же нельзя")]
    RedirectToItself(String),
    #[error("обращение уже было у органа {0}: направлять его туда снова нельзя")]
    AlreadyAt(String),
    #[error("sstu_id {0:?} — не GUID")]
    BadSstuId(String),
    #[error("результат (result) {given:?}: одно из {}", results())]
    UnknownResult { given: String },
    #[error("срок (until) {0:?} — не дата ГГГГ-ММ-ДД")]
    BadUntil(String),
    #[error("продление требует причины (reason)")]
    NoExtensionReason,
    #[error("у обращения нет даты регистрации")]
    NotRegistered,
    #[error("у обращения нет срока ответа")]
    NoDueDate,
    #[error(transparent)]
    Extension(#[from] ExtensionRefused),
}

fn reasons() -> String {
    RefusalReason::ALL
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn results() -> String {
    let codes: Vec<&str> = medo_model::RESULTS.iter().map(|r| r.0).collect();
    codes.join(", ")
}

/// Why a manual registration is refused: the official reason and the way forward.
fn refusable(id: u64, reason: Option<RefusalReason>, why: &str) -> String {
    match reason {
        Some(r) => format!(
            "обращение {id} подлежит отказу в регистрации: «{}» ({why}). Можно отказать с этим основанием или зарегистрировать вопреки правилу, указав почему (force с comment)",
            r.as_str()
        ),
        None => format!(
            "обращение {id}: {why}. Зарегистрировать всё равно можно, указав почему (force с comment)"
        ),
    }
}
