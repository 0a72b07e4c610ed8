//! Russian words for what an administrator reads: an OS error said in Russian, its code
//! beside it (`нет такого файла или папки (errno 2)`), so a set-up message is one language;
//! an error made with its own message keeps that message.
//! Machine output (journal, logs' keys, `--json`) never goes through here.

use std::io;

/// An I/O error in words: the kind in Russian and the OS code, or the error's own text for a
/// kind without a Russian name (those come from our own code, not the OS).
pub fn io(e: &io::Error) -> String {
    use io::ErrorKind::*;
    // an error our code (or a crate) made carries its own words: they say more than its kind
    if e.raw_os_error().is_none() && e.get_ref().is_some() {
        return e.to_string();
    }
    let said = match e.kind() {
        NotFound => "нет такого файла или папки",
        PermissionDenied => "нет доступа",
        AlreadyExists => "уже существует",
        NotADirectory => "не папка",
        IsADirectory => "это папка",
        DirectoryNotEmpty => "папка не пуста",
        ReadOnlyFilesystem => "файловая система только для чтения",
        StorageFull => "нет места на диске",
        QuotaExceeded => "превышена квота",
        CrossesDevices => "разные файловые системы",
        TimedOut => "истекло время ожидания",
        Interrupted => "прервано",
        InvalidInput => "неверный аргумент",
        InvalidData => "неверные данные",
        UnexpectedEof => "файл обрывается",
        AddrInUse => "адрес уже занят",
        AddrNotAvailable => "адрес недоступен",
        ConnectionRefused => "в соединении отказано",
        _ => return e.to_string(),
    };
    match e.raw_os_error() {
        Some(code) => format!("{said} (errno {code})"),
        None => said.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_are_said_in_russian_with_their_code() {
        let e = std::fs::read("/nonexistent/medo-words-test").unwrap_err();
        assert_eq!(io(&e), "нет такого файла или папки (errno 2)");
        let ours = io::Error::other("свой текст");
        assert_eq!(io(&ours), "свой текст");
        let kind_only = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(io(&kind_only), "нет доступа");
        // a known kind with a message of its own: the message, not the kind's word
        let made = io::Error::new(io::ErrorKind::InvalidData, "паспорт не записывается");
        assert_eq!(io(&made), "паспорт не записывается");
    }
}
