//! `api token NAME`: a client's bearer token and its config lines.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Print a fresh random bearer token for the client NAME (once: it is stored nowhere)
    /// and the `[[api.clients]]` lines with its SHA-256 to paste into the config.
    Token {
        /// The client's name (`delo`, `directum`…): its `[[api.clients]] name`.
        name: String,
        /// Scopes: read, write, dsp (default: read only — give write explicitly).
        #[arg(long, value_delimiter = ',', default_values = ["read"])]
        scopes: Vec<String>,
    },
}

/// `api …`.
pub(super) fn run(command: ApiCommand) -> Result<ExitCode, String> {
    let ApiCommand::Token { name, scopes } = command;
    api_token(&name, &scopes)
}

/// `api token NAME`: 32 random bytes from the OS as the token (printed once), its SHA-256 in
/// the config lines to paste.
fn api_token(name: &str, scopes: &[String]) -> Result<ExitCode, String> {
    use sha2::Digest;
    if name.trim().is_empty() || name.contains(['"', '\\', '\n']) {
        return Err("имя клиента — непустое, без кавычек и переводов строки".into());
    }
    crate::config::Scopes::parse(scopes).map_err(|e| format!("области доступа: {e}"))?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("нет случайных байтов от ОС: {e}"))?;
    let token = hex::encode(bytes);
    let digest = hex::encode(crate::wire::hash::Sha256::digest(token.as_bytes()));
    let listed: Vec<String> = scopes.iter().map(|s| format!("{s:?}")).collect();
    println!("Токен клиента «{name}» (передайте его СЭД; он нигде не хранится и больше не будет показан):");
    println!("{token}");
    println!();
    println!("Добавьте в конфигурацию:");
    println!("[[api.clients]]");
    println!("name = {name:?}");
    println!("token_sha256 = \"{digest}\"");
    println!("scopes = [{}]", listed.join(", "));
    Ok(ExitCode::SUCCESS)
}
