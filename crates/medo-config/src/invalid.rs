//! What is wrong with a key of the configuration file, one variant per mistake; said in
//! Russian with the key as the file writes it (`[spool] rescan_secs`, `[[partners]] "ФНС"`).
//! [`ConfigError`](crate::ConfigError) adds the file's path.

use std::path::PathBuf;

use medo_stdx::words;

#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    /// Not TOML at all (the parser's words, with the line).
    #[error("{0}")]
    Toml(String),
    /// TOML syntax or a value of the wrong type, with the key it was read for.
    #[error("{key}: {message}")]
    Syntax { key: String, message: String },
    #[error("{0} должен быть GUID")]
    NotGuid(&'static str),
    #[error("[storage] backend {0:?}: допустимы \"files\" или \"postgres\"")]
    StorageBackend(String),
    #[error("[storage] url и url_file — только при backend = \"postgres\"")]
    StorageUrlForFiles,
    #[error(
        "[storage] backend = \"postgres\" требует адреса базы: url или url_file (один из них)"
    )]
    StorageUrlOne,
    #[error("[storage] url: укажите postgresql://пользователь:пароль@узел:порт/база")]
    StorageUrlForm,
    #[error("[storage] url_file {}: {}", path.display(), medo_stdx::words::io(source))]
    StorageUrlFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("[storage] {key} = {value}: допустимо от {} до {}", range.0, range.1)]
    StorageRange {
        key: &'static str,
        value: u64,
        range: (u64, u64),
    },
    #[error("{0} не может быть пустым")]
    Empty(&'static str),
    #[error("{section} approval {value:?}: допустимы \"auto\" (отправлять сразу) или \"operator\" (ждать утверждения)")]
    Approval {
        section: &'static str,
        value: String,
    },
    #[error("[smtp] from {0:?}: укажите адрес отправителя, например priem@berdsk.ru")]
    SmtpFrom(String),
    #[error("[smtp] tls {0:?}: допустимы \"starttls\", \"implicit\" или \"none\"")]
    SmtpTls(String),
    #[error("[smtp] username_file и password_file — оба или ни одного")]
    SmtpLogin,
    #[error("[smtp] {}: {why}", path.display())]
    SmtpFile { path: PathBuf, why: String },
    #[error("[signing] command: укажите в аргументах {{file}} (подписываемый файл) и {{signature}} (куда записать открепленную подпись)")]
    SigningPlaceholders,
    #[error("[signing] timeout_secs = {0}: допустимо от 1 до 600")]
    SigningTimeout(u64),
    #[error("[signing] certificate {}: {why}", path.display())]
    SigningCertificate { path: PathBuf, why: String },
    #[error("[registration] require_signature = true требует signature_verifier: без проверяющей программы видно лишь, что файл подписи есть, но он не проверяется (прошёл бы любой .p7s) — задайте signature_verifier или require_signature = false")]
    SignatureNeedsVerifier,
    #[error("[registration] mode {0:?}: допустимы \"auto\" или \"manual\"")]
    Mode(String),
    #[error("[http] {key} {value:?}: укажите АДРЕС:ПОРТ, например 127.0.0.1:8080")]
    Address { key: &'static str, value: String },
    #[error("{key}: шаблон должен содержать {{seq}}")]
    NoSeq { key: &'static str },
    #[error("[[partners]] {name:?}: uid должен быть GUID")]
    PartnerUid { name: String },
    #[error("[[partners]] {name:?}: format {format:?}: допустимы 2.2, 2.7, 2.7.1 или mirror")]
    PartnerFormat { name: String, format: String },
    #[error("[gateway] utc_offset {0:?}: укажите ±чч:мм от -12:00 до +14:00")]
    UtcOffset(String),
    #[error("{key} должен быть больше нуля")]
    Zero { key: &'static str },
    #[error("{key} должен быть не меньше 1")]
    BelowOne { key: &'static str },
    #[error("область {0:?}: допустимы read, write, dsp")]
    Scope(String),
    #[error("[[api.clients]] имя {0:?} пустое или повторяется")]
    ClientName(String),
    #[error("[[api.clients]] {0:?}: token_sha256 — 64 шестнадцатеричные цифры (их выводит `medo-gateway api token {0}`)")]
    TokenDigest(String),
    #[error("[[api.clients]] {name:?}: {scope}")]
    ClientScope { name: String, scope: Box<Invalid> },
    #[error("[[api.clients]] {0:?}: webhook_url должен быть адресом http:// или https://")]
    WebhookUrl(String),
    #[error("[[api.clients]] {0:?}: вебхук отправляет то же, что показывает лента: клиенту нужна область read")]
    WebhookScope(String),
    #[error("[[api.clients]] {name:?}: bodies: нет органа {body:?} в [[bodies]] этого узла")]
    ClientBody { name: String, body: String },
    #[error("[[api.clients]] {0:?}: webhook_url и webhook_secret_file задаются вместе")]
    WebhookPair(String),
    #[error("[http] trusted_proxies: {0:?} — не адрес и не диапазон CIDR")]
    Proxy(String),
    #[error("[registration] holidays: {0:?} — не дата ГГГГ-ММ-ДД")]
    Holiday(String),
    #[error("[registration] calendar_dir {}: {}", path.display(), words::io(source))]
    CalendarDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {}", path.display(), words::io(source))]
    CalendarFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Calendar(#[from] medo_core::deadlines::CalendarError),
    #[error("[[bodies]] id {0:?}: короткое имя из строчных латинских букв, цифр и дефисов (до 63 знаков), например \"mo-berdsk\"")]
    BodyId(String),
    #[error("[[bodies]] {0:?}: uid должен быть GUID участника МЭДО")]
    BodyUid(String),
    #[error("[[bodies]] {id:?}: {key} не может быть пустым")]
    BodyEmpty { id: String, key: &'static str },
    #[error("[[bodies]] {id:?}: mode {mode:?}: допустимы \"auto\" или \"manual\"")]
    BodyMode { id: String, mode: String },
    #[error("[[bodies]]: {what} {value:?} повторяется")]
    BodyRepeated { what: &'static str, value: String },
    #[error("[[bodies]] {id:?}: имя {name:?} совпадает с именем органа {other:?} (без учёта регистра, кавычек, «ё», «администрация»/«адм.») — по такому имени нельзя понять, кому адресован пакет")]
    BodyName {
        id: String,
        other: String,
        name: String,
    },
    #[error("[[bodies]] {id:?}: тот же uid, что у партнёра {partner:?} — орган узла не может быть и внешним партнёром")]
    BodyIsPartner { id: String, partner: String },
    #[error("[[bodies]]: {0} органов — узел обслуживает не больше 1000")]
    TooManyBodies(usize),
    #[error("[gateway] participant_uid {0:?}: при [[bodies]] это uid одного из органов узла или его нет вовсе (uid и organization каждого органа задаются в [[bodies]])")]
    GatewayNotABody(String),
}
