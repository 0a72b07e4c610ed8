//! Typed errors of the wire layer. Each names the file it concerns and has a stable,
//! machine-readable [`WireErrorKind::code`] (used in quarantine `reason.json` and by scripts).

use std::fmt;

/// A failure to read or write a МЭДО package file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {kind}")]
pub struct WireError {
    /// The file the error concerns, relative to the package folder (`envelope.ini`,
    /// `document.edc.zip!passport.xml`, …), or `-` when it is not about one file.
    pub file: String,
    /// What is wrong.
    pub kind: WireErrorKind,
}

impl WireError {
    pub fn new(file: impl Into<String>, kind: WireErrorKind) -> Self {
        WireError {
            file: file.into(),
            kind,
        }
    }

    /// Stable machine-readable code of the error kind.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// Re-attributes the error to another file name (e.g. to prefix a ZIP entry with its archive).
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = file.into();
        self
    }
}

/// What went wrong. Messages never contain personal data beyond file and element names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireErrorKind {
    #[error("cannot read: {0}")]
    Io(String),
    #[error("{what} exceeds the limit of {limit}")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("cannot decode text: {0}")]
    Encoding(String),
    #[error("malformed XML: {0}")]
    MalformedXml(String),
    #[error("XML nesting deeper than {0} levels")]
    XmlTooDeep(usize),
    #[error("XML has more than {0} elements")]
    XmlTooManyElements(usize),
    #[error("XML document type declarations (DTD) are not accepted")]
    XmlDoctype,
    #[error("not a МЭДО message: {0}")]
    NotMedo(String),
    #[error("missing required {0}")]
    Missing(String),
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("envelope: {0}")]
    Envelope(String),
    #[error("unsafe file name {0:?}: {1}")]
    UnsafeName(String, &'static str),
    #[error("listed file {0:?} is missing")]
    MissingFile(String),
    #[error("not a regular file: {0:?}")]
    NotRegularFile(String),
    #[error("broken ZIP: {0}")]
    Zip(String),
    #[error("ZIP entry {0:?}: {1}")]
    ZipEntry(String, &'static str),
    #[error("ZIP entry {name:?} decompresses more than {ratio}:1 (zip bomb?)")]
    ZipRatio { name: String, ratio: u64 },
    #[error("container has no passport (container description XML)")]
    NoPassport,
    #[error("cannot write: {0}")]
    Write(String),
}

impl WireErrorKind {
    /// Stable machine-readable code, kebab-case.
    pub fn code(&self) -> &'static str {
        use WireErrorKind::*;
        match self {
            Io(_) => "io",
            TooLarge { .. } => "too-large",
            Encoding(_) => "bad-encoding",
            MalformedXml(_) => "malformed-xml",
            XmlTooDeep(_) => "xml-too-deep",
            XmlTooManyElements(_) => "xml-too-many-elements",
            XmlDoctype => "xml-doctype",
            NotMedo(_) => "not-medo",
            Missing(_) => "missing-field",
            Invalid { .. } => "invalid-field",
            Envelope(_) => "bad-envelope",
            UnsafeName(..) => "unsafe-name",
            MissingFile(_) => "missing-file",
            NotRegularFile(_) => "not-regular-file",
            Zip(_) => "bad-zip",
            ZipEntry(..) => "bad-zip-entry",
            ZipRatio { .. } => "zip-bomb",
            NoPassport => "no-passport",
            Write(_) => "write-failed",
        }
    }
}

/// Shorthand for building an `Invalid` kind.
pub fn invalid(field: impl Into<String>, reason: impl fmt::Display) -> WireErrorKind {
    WireErrorKind::Invalid {
        field: field.into(),
        reason: reason.to_string(),
    }
}

/// A quarantine code in words, for people and for the partner's negative Квитанция
/// («Сообщение не принято: архив повреждён (bad-zip)»); an unknown code is said as it is.
pub fn code_in_words(code: &str) -> &str {
    match code {
        "io" => "ошибка чтения пакета",
        "too-large" => "файл пакета больше допустимого",
        "bad-encoding" => "неверная кодировка",
        "malformed-xml" => "XML сообщения не читается",
        "xml-too-deep" => "XML слишком глубоко вложен",
        "xml-too-many-elements" => "в XML слишком много элементов",
        "xml-doctype" => "XML с DOCTYPE не принимается",
        "not-medo" => "это не сообщение МЭДО",
        "missing-field" => "в сообщении нет обязательного поля",
        "invalid-field" => "поле сообщения неверно",
        "bad-envelope" => "конверт (envelope) не читается",
        "unsafe-name" => "недопустимое имя файла",
        "missing-file" => "нет файла, названного в пакете",
        "not-regular-file" => "в пакете не обычный файл",
        "bad-zip" => "архив повреждён",
        "bad-zip-entry" => "недопустимый файл в архиве",
        "zip-bomb" => "архив распаковывается в недопустимый объём",
        "no-passport" => "в контейнере нет паспорта",
        "incomplete" => "пакет не дособран",
        "unreadable" => "файлы пакета не читаются",
        "unknown-partner" => "отправитель не указан среди партнёров",
        "operator-receipt-not-ours" => "квитанция оператора не о нашем сообщении",
        other => other,
    }
}
