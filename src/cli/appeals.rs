//! `appeals …`: list and show (from the running service, the store or the journal), register,
//! refuse, the applicant's card, steps of consideration — each queued as an operator command
//! ([`control`]) and applied at once when no service runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::book::Appeals;
use crate::config::Config;
use crate::control;
use crate::gateway::{self, GatewayError};
use crate::operator;
use crate::operator_view;
use crate::spool::{self, Layout, SpoolError};

use super::refused;

#[derive(Debug, Subcommand)]
pub enum AppealsCommand {
    /// List appeals with their status and next deadline.
    List {
        /// Only those past their deadline.
        #[arg(long)]
        overdue: bool,
        /// Only those registered more than 7 days ago with no step — neither taken into work
        /// nor redirected (59-ФЗ ст. 8 ч. 3: a redirect is due within 7 days).
        #[arg(long)]
        undecided: bool,
        /// Only those whose next deadline is within this many days.
        #[arg(long, value_name = "DAYS")]
        due_within: Option<i64>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Rows per page (the next page: `--after` the id the note names).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        limit: u64,
        /// Start after this appeal id.
        #[arg(long, value_name = "ID", default_value_t = 0)]
        after: u64,
        /// Every appeal, not a page.
        #[arg(long, conflicts_with_all = ["limit", "after"])]
        all: bool,
    },
    /// Show one appeal: status, numbers, deadlines, signatures, history.
    /// ID: our registration number, the УРОГ number (A26-… or А26-…), or the internal id.
    Show {
        /// Our registration number, the УРОГ number or the internal id.
        id: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also print the applicant's status PIN.
        #[arg(long)]
        pin: bool,
    },
    /// Register an appeal waiting for an operator; notifies УРОГ «Зарегистрирован».
    Register {
        /// Our registration number, the УРОГ number or the internal id.
        id: String,
        /// Use this registration number instead of the next one from the template.
        #[arg(long)]
        number: Option<String>,
        /// Register although a refusal rule applies (the override is journaled; needs --comment).
        #[arg(long, requires = "comment")]
        force: bool,
        /// Why the appeal is registered despite the rule.
        #[arg(long)]
        comment: Option<String>,
        /// The registration date (YYYY-MM-DD) when it was registered earlier (not after today,
        /// not before it arrived).
        #[arg(long)]
        date: Option<String>,
    },
    /// Refuse an appeal waiting for an operator; notifies УРОГ «Отказано в регистрации».
    Refuse {
        /// The УРОГ number or the internal id.
        id: String,
        /// One of the nine official reasons, exactly: «Не подлежит регистрации», «Ошибка
        /// адресации», «Не указан корреспондент», «Нет искового заявления», «Отсутствует
        /// текст», «Нет подписи», «Приложение отсутствует», «Листаж приложения указан
        /// ошибочно», «Несовпадение реквизитов приложения с приложенными документами».
        #[arg(long)]
        reason: String,
        /// A comment sent with the refusal.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Redirect by competence (59-ФЗ ст. 8 ч. 3): to another body of this hub (registered anew
    /// there, its own number and deadlines) or to a МЭДО partner of role `body` (the appeal
    /// sent there with our cover letter and its files as they arrived); УРОГ notified
    /// «направлено» naming it. (A redirect made outside МЭДО: `appeals event ID redirected
    /// --to ORG`.)
    Redirect {
        /// Our registration number, the УРОГ number or the internal id.
        id: String,
        /// The receiving body: a body's id (`[[bodies]] id`, or `body:ID`) or a partner's name
        /// or uid (`partner:NAME`); a body's id wins.
        #[arg(long)]
        to: String,
        /// Why (kept in the appeal's history).
        #[arg(long)]
        comment: Option<String>,
    },
    /// A region's hub: decide a package held «адресат не определён» as BODY's (its receipt
    /// and notices go from that body).
    /// (`--body BODY` is required: the body it is for.)
    Assign {
        /// The arrival number (`spool list`, the supervision page).
        id: u64,
    },
    /// Record the applicant card used by the ССТУ.РФ export (personal data: kept in
    /// state_dir/cards/, mode 0600, never in the journal).
    Card {
        /// Our registration number, the УРОГ number or the internal id.
        id: String,
        /// The applicant's full name.
        #[arg(long)]
        name: String,
        /// A ТОТК classifier code; one per question (repeat the option).
        #[arg(long = "code", required = true)]
        codes: Vec<String>,
        /// The applicant's postal address.
        #[arg(long)]
        address: Option<String>,
        /// The applicant's e-mail.
        #[arg(long)]
        email: Option<String>,
    },
    /// Write the applicant's notice of a redirect by competence (PDF: to whom, when, under
    /// which number of ours) to FILE — for the applicant (its delivery is the СЭД's or the
    /// post's).
    Notice {
        /// Our registration number, the УРОГ number or the internal id.
        id: String,
        /// Where to write the PDF.
        #[arg(long)]
        out: PathBuf,
        /// Which notice: of the redirect (default), of the extension, or of the registration
        /// (with the PIN: for an applicant without e-mail).
        #[arg(long, value_enum, default_value_t = NoticeKind::Redirect)]
        kind: NoticeKind,
    },
    /// Report a step of consideration of a registered appeal (what the SED does); notifies УРОГ.
    Event {
        /// Our registration number, the УРОГ number or the internal id.
        id: String,
        #[command(subcommand)]
        step: EventStep,
    },
}

/// Which of the applicant's notices `appeals notice` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoticeKind {
    Redirect,
    Extension,
    Registration,
}

#[derive(Debug, Subcommand)]
pub enum EventStep {
    /// «Назначен исполнитель»; status «рассматривается».
    ExecutorAssigned {
        /// The executor's name, e.g. "Иванов И.И.".
        #[arg(long)]
        executor: String,
        /// The executor's post.
        #[arg(long)]
        post: Option<String>,
    },
    /// «Исполнение»: the term extended (once, at most 30 days past the due date).
    Extended {
        /// The new due date, YYYY-MM-DD.
        #[arg(long)]
        until: String,
        /// Why the term is extended (sent to УРОГ).
        #[arg(long)]
        reason: String,
        /// The extension letter (a PDF), sent to УРОГ as our document before the notice.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// «Исполнение»: redirected to the competent body; status «направлено».
    Redirected {
        /// The competent body it is redirected to.
        #[arg(long)]
        to: String,
        /// The body's GUID in the ССТУ.РФ directory.
        #[arg(long)]
        sstu_id: Option<String>,
        /// Our cover letter's number.
        #[arg(long)]
        number: Option<String>,
        /// The redirect letter (a PDF), sent to УРОГ as our document before the notice.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// «Доклад направлен»; status «рассмотрено».
    Answered {
        /// explained | supported | supported-measures | not-supported | answered | left-without-answer
        #[arg(long)]
        result: String,
        /// The answer file (a PDF): sent to УРОГ as our document «Доклад» before the notice,
        /// kept under state_dir/answers/.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

pub(super) fn run(
    config: Config,
    command: AppealsCommand,
    body: Option<String>,
) -> Result<ExitCode, String> {
    if let Some(b) = body.as_deref().filter(|b| config.policy.body(b).is_none()) {
        return Ok(no_such_body(b));
    }
    match command {
        AppealsCommand::List {
            overdue,
            undecided,
            due_within,
            json,
            limit,
            after,
            all,
        } => {
            let query = operator_view::Query::List {
                overdue,
                undecided,
                due_within,
                after,
                limit: (!all).then_some(limit as usize),
                json,
                body,
            };
            print_answer(&config, &query)
        }
        AppealsCommand::Show { id, json, pin } => {
            let query = operator_view::Query::Show {
                id,
                json,
                pin,
                body,
            };
            print_answer(&config, &query)
        }
        AppealsCommand::Register {
            id,
            number,
            force,
            comment,
            date,
        } => {
            let operator = cli_operator();
            let command = control::Command::Register {
                id,
                number,
                force,
                comment,
                operator,
                date,
            };
            submit(config, command, body.as_deref())
        }
        AppealsCommand::Refuse {
            id,
            reason,
            comment,
        } => {
            let command = control::Command::Refuse {
                id,
                reason,
                comment,
                operator: cli_operator(),
            };
            submit(config, command, body.as_deref())
        }
        AppealsCommand::Redirect { id, to, comment } => {
            let command = control::Command::Redirect {
                id,
                to,
                comment,
                operator: cli_operator(),
            };
            submit(config, command, body.as_deref())
        }
        AppealsCommand::Assign { id } => {
            let Some(body) = body else {
                eprintln!("medo-gateway: appeals assign: укажите орган: --body ОРГАН");
                return Ok(ExitCode::from(2));
            };
            let operator = cli_operator();
            let command = control::Command::Assign {
                arrival: id,
                body,
                operator,
            };
            submit(config, command, None)
        }
        AppealsCommand::Card {
            id,
            name,
            codes,
            address,
            email,
        } => {
            let book = operator::load(&config)?;
            let appeal = match book.find_of(body.as_deref(), &id) {
                Ok(a) => a,
                Err(why) => return Ok(not_found(&why)),
            };
            let card = crate::sstu::Card {
                name,
                codes,
                address,
                email,
            };
            operator::write_card(&config, appeal.id, &card)?;
            println!("карточка обращения {} сохранена", appeal.id);
            Ok(ExitCode::SUCCESS)
        }
        AppealsCommand::Notice { id, out, kind } => {
            let book = operator::load(&config)?;
            let appeal = match book.find_of(body.as_deref(), &id) {
                Ok(a) => a,
                Err(why) => return Ok(not_found(&why)),
            };
            notice(&config, &appeal, kind, &out)
        }
        AppealsCommand::Event { id, step } => event(config, id, step, body.as_deref()),
    }
}

/// `appeals notice ID --kind K --out FILE`: the applicant's notice, as a letter of the
/// appeal's body.
fn notice(
    config: &Config,
    appeal: &crate::book::Appeal,
    kind: NoticeKind,
    out: &std::path::Path,
) -> Result<ExitCode, String> {
    let policy = config
        .policy
        .for_body(&appeal.body)
        .unwrap_or_else(|| config.policy.clone());
    let (pdf, what, none) = match kind {
        NoticeKind::Redirect => (
            crate::letters::applicant_redirect_pdf(appeal, &policy),
            "о переадресации",
            "не направлялось по компетенции",
        ),
        NoticeKind::Extension => (
            crate::letters::applicant_extension_pdf(appeal, &policy),
            "о продлении срока",
            "срок его рассмотрения не продлевался",
        ),
        NoticeKind::Registration => {
            let pin = crate::operator::pin_secret(config)
                .map(|secret| medo_core::appeals::pin(&secret, appeal.id))
                .ok_or("ключа ПИН-кодов ещё нет (pin.key): запустите службу один раз")?;
            let facts = medo_core::book::DeadlineFacts::from(appeal);
            let today = operator::today(config);
            let (due, _) = medo_core::due::deadlines(&facts, &policy, today);
            (
                crate::letters::applicant_registration_pdf(appeal, &pin, due.answer_by, &policy),
                "о регистрации",
                "не зарегистрировано",
            )
        }
    };
    let Some(pdf) = pdf else {
        return Ok(refused(&format!(
            "обращение {} {none}: уведомлять заявителя не о чем",
            appeal.id
        )));
    };
    std::fs::write(out, pdf).map_err(|e| format!("{}: {}", out.display(), crate::words::io(&e)))?;
    println!(
        "уведомление заявителю {what} (обращение {}) записано в {}",
        appeal.id,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `appeals event ID STEP`: the step queued with its file attached (read here, with the
/// operator's own rights; the service gets a copy).
fn event(
    config: Config,
    id: String,
    step: EventStep,
    body: Option<&str>,
) -> Result<ExitCode, String> {
    let (step, file) = match step {
        EventStep::ExecutorAssigned { executor, post } => {
            (control::Step::ExecutorAssigned { executor, post }, None)
        }
        EventStep::Extended {
            until,
            reason,
            file,
        } => (
            control::Step::Extended {
                until,
                reason,
                file: None,
            },
            file,
        ),
        EventStep::Redirected {
            to,
            sstu_id,
            number,
            file,
        } => (
            control::Step::Redirected {
                to,
                sstu_id,
                number,
                file: None,
            },
            file,
        ),
        EventStep::Answered { result, file } => {
            (control::Step::Answered { result, file: None }, file)
        }
    };
    // read here, with the operator's own rights; the service gets a copy
    let state = config.spool.shared_root();
    let max = config.limits.max_answer_bytes;
    let step = match file
        .map(|f| {
            control::attach(state, &f, max, is_pdf)
                .map_err(|e| format!("--file {}: {e}", f.display()))
        })
        .transpose()
    {
        Ok(Some(reference)) => step.with_file(reference).unwrap_or_else(|s| s),
        Ok(None) => step,
        Err(why) => {
            eprintln!("medo-gateway: {why}");
            return Ok(ExitCode::from(1));
        }
    };
    let attachment = step.file().cloned();
    let state = config.spool.shared_root().to_path_buf();
    let operator = cli_operator();
    let command = control::Command::Progress { id, step, operator };
    let submitted = submit(config, command, body);
    if let (Err(_), Some(a)) = (&submitted, &attachment) {
        control::detach(&state, a);
    }
    submitted
}

/// `appeals list` / `show`: from the running service, else the store caught up, else the
/// journal folded ([`operator_view`]).
fn print_answer(config: &Config, query: &operator_view::Query) -> Result<ExitCode, String> {
    let layout = Layout::new(&config.spool);
    let db = crate::postgres::index(config)?;
    let answer = match operator_view::ask(&layout, query) {
        Some(answer) => answer,
        None if db.is_some() => {
            // the database's index: consistent whoever leads, no lock to take
            let secret = operator_view::pin_secret_for(query, config);
            let store = db.as_ref().expect("checked");
            operator_view::answer(query, store, config, secret.as_deref())
        }
        None => {
            let secret = operator_view::pin_secret_for(query, config);
            match operator_view::store_view(&layout) {
                Some((_lock, store)) => {
                    operator_view::answer(query, &store, config, secret.as_deref())
                }
                None => {
                    let book = operator::load(config)?;
                    operator_view::answer(query, &book, config, secret.as_deref())
                }
            }
        }
    };
    // an appeal that is not there is a refused request (exit 1), as any refused command; a
    // number that needs --body is a question to ask again (exit 2)
    let answer = match answer {
        Ok(a) => a,
        Err(u) if u.ambiguous => {
            eprintln!("medo-gateway: {}", u.why);
            return Ok(ExitCode::from(2));
        }
        Err(u) => return Ok(refused(&u.why)),
    };
    print!("{}", answer.stdout);
    if let Some(note) = answer.note {
        eprintln!("{note}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Queues an operator command; applies it at once when no service is running, otherwise
/// waits a little for the service to apply it.
pub(super) fn submit(
    config: Config,
    mut command: control::Command,
    body: Option<&str>,
) -> Result<ExitCode, String> {
    // the appeal shown when it is done: an assigned arrival becomes its appeal
    let (mut id, about_an_appeal) = match &command {
        control::Command::Retried { .. } | control::Command::Approve { .. } => {
            (String::new(), false)
        }
        control::Command::Assign { arrival, .. } => (arrival.to_string(), false),
        _ => (command.id().to_string(), true),
    };
    // fail fast on what can be checked without the service; a number is sent as the
    // internal id it resolves to here (unique across a hub's bodies)
    if about_an_appeal {
        let book = operator::load(&config)?;
        match book.find_of(body, command.id()) {
            Ok(a) => {
                id = a.id.to_string();
                command = command.about(id.clone());
            }
            Err(why) => return Ok(not_found(&why)),
        }
    }
    let state = config.spool.shared_root().to_path_buf();
    let path = control::submit(&state, &command).map_err(|e| {
        format!(
            "не удалось поставить команду в очередь в {}: {}",
            control::dir(&state).display(),
            crate::words::io(&e)
        )
    })?;
    let wait_for_the_service = || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while control::outcome(&path).is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    // on PostgreSQL only the leading node carries commands out (a gateway opened here would
    // be the files backend: another journal); the queue is in shared_dir, the leader's reach
    let on_database = matches!(config.storage, crate::config::Storage::Postgres { .. });
    match on_database {
        true => wait_for_the_service(),
        false => match gateway::Gateway::open(config.clone()) {
            Ok(mut gw) => {
                let applied = gw.apply_operator_commands();
                let closed = gw.close();
                applied.map_err(|e| e.to_string())?;
                closed.map_err(|e| e.to_string())?;
            }
            Err(GatewayError::Spool(SpoolError::Setup(spool::Setup::LockHeld { .. }))) => {
                wait_for_the_service()
            }
            Err(e) => return Err(e.to_string()),
        },
    }
    match control::outcome(&path) {
        None => {
            println!("поставлено в очередь: работающая служба (на PostgreSQL — ведущий узел) выполнит на следующем проходе");
            Ok(ExitCode::SUCCESS)
        }
        Some(Err(why)) => {
            eprintln!("medo-gateway: {why}");
            Ok(ExitCode::from(1))
        }
        Some(Ok(())) if id.is_empty() => {
            println!("записано в журнал");
            Ok(ExitCode::SUCCESS)
        }
        Some(Ok(())) => {
            let book = operator::load(&config)?;
            let a = match book.find(&id) {
                Ok(a) => a,
                // an assigned arrival that was no appeal (a query answered)
                Err(_) if !about_an_appeal => {
                    println!("записано в журнал");
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(e.to_string()),
            };
            println!(
                "обращение {} ({}): {}{}",
                a.id,
                a.urog_number,
                a.state.label(),
                a.number
                    .as_deref()
                    .map(|n| format!(
                        " под номером {n} от {}",
                        a.registered_on.as_deref().unwrap_or("?")
                    ))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An appeal not found: refused (exit 1); a number several bodies of a hub gave, without
/// `--body`, is a question to ask again (exit 2).
fn not_found(why: &crate::book::Lookup) -> ExitCode {
    match why {
        crate::book::Lookup::OursInBodies { .. } => {
            eprintln!("medo-gateway: {why}");
            ExitCode::from(2)
        }
        _ => refused(&why.to_string()),
    }
}

/// `--body` names no body of this node (exit 2).
fn no_such_body(body: &str) -> ExitCode {
    eprintln!("medo-gateway: нет органа {body:?} в [[bodies]] этого узла (--body)");
    ExitCode::from(2)
}

/// An operator's answer file must be a PDF that reads (the service checks again).
fn is_pdf(bytes: &[u8]) -> Result<(), crate::pdf::NotPdf> {
    crate::pdf::inspect(bytes).map(drop)
}

/// Who runs an operator command from the CLI: the login behind `sudo`, else the user.
pub(super) fn cli_operator() -> Option<String> {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .ok()
        .filter(|u| !u.trim().is_empty() && !u.chars().any(char::is_control))
}
