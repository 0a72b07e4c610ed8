//! `[storage]`: where the journal and the index live (issue 29). `backend = "files"` (the
//! default: `state_dir/journal/` + sled) or `"postgres"` with the database's `url` — or
//! `url_file`, a file holding the whole URL, so the password stays out of the config —,
//! `pool_size` (connections a node keeps) and `lease_secs` (how long a leader's lease lasts
//! unrenewed: the longest a fail-over waits).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::invalid::Invalid;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStorage {
    #[serde(default)]
    backend: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    url_file: Option<PathBuf>,
    #[serde(default)]
    pool_size: Option<u32>,
    #[serde(default)]
    lease_secs: Option<u64>,
}

/// The database's URL, password included: never printed (`Debug` hides it).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(…)")
    }
}

/// Where the system of record lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Storage {
    /// `state_dir/journal/` and the sled index beside it.
    #[default]
    Files,
    Postgres {
        url: DatabaseUrl,
        pool_size: u32,
        lease_secs: u64,
    },
}

/// Connections a node keeps, by default and at most.
pub const POOL_SIZE: (u32, u32) = (4, 64);
/// A leader's lease, seconds: by default, least, most.
pub const LEASE_SECS: (u64, u64, u64) = (15, 2, 300);

/// `[storage]` read and checked; `url_file` (relative: to the config's folder) read now.
pub(crate) fn storage(raw: Option<RawStorage>, base: Option<&Path>) -> Result<Storage, Invalid> {
    let raw = raw.unwrap_or_default();
    match raw.backend.as_deref().unwrap_or("files") {
        "files" if raw.url.is_some() || raw.url_file.is_some() => Err(Invalid::StorageUrlForFiles),
        "files" => Ok(Storage::Files),
        "postgres" => {
            let url = database_url(raw.url, raw.url_file, base)?;
            let pool_size = raw.pool_size.unwrap_or(POOL_SIZE.0);
            if !(1..=POOL_SIZE.1).contains(&pool_size) {
                return Err(Invalid::StorageRange {
                    key: "pool_size",
                    value: u64::from(pool_size),
                    range: (1, u64::from(POOL_SIZE.1)),
                });
            }
            let lease_secs = raw.lease_secs.unwrap_or(LEASE_SECS.0);
            if !(LEASE_SECS.1..=LEASE_SECS.2).contains(&lease_secs) {
                return Err(Invalid::StorageRange {
                    key: "lease_secs",
                    value: lease_secs,
                    range: (LEASE_SECS.1, LEASE_SECS.2),
                });
            }
            Ok(Storage::Postgres {
                url,
                pool_size,
                lease_secs,
            })
        }
        other => Err(Invalid::StorageBackend(other.to_string())),
    }
}

/// The URL given inline or in a file — exactly one of them —, a `postgres://` or
/// `postgresql://` URL.
fn database_url(
    url: Option<String>,
    file: Option<PathBuf>,
    base: Option<&Path>,
) -> Result<DatabaseUrl, Invalid> {
    let url = match (url, file) {
        (Some(url), None) => url,
        (None, Some(file)) => {
            let path = match base {
                Some(dir) if file.is_relative() => dir.join(&file),
                _ => file,
            };
            std::fs::read_to_string(&path)
                .map_err(|source| Invalid::StorageUrlFile { path, source })?
                .trim()
                .to_string()
        }
        _ => return Err(Invalid::StorageUrlOne),
    };
    match url.starts_with("postgres://") || url.starts_with("postgresql://") {
        true => Ok(DatabaseUrl(url)),
        false => Err(Invalid::StorageUrlForm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    const BASE: &str = include_str!("../../../config/gateway.toml");

    fn parse(storage: &str, dir: &Path) -> Result<Storage, String> {
        let text = format!("{BASE}\n[storage]\n{storage}\n");
        Config::parse(&text, &dir.join("gateway.toml"))
            .map(|c| c.storage)
            .map_err(|e| e.to_string())
    }

    /// (the `[storage]` table, what it reads as — or the words of its refusal).
    #[test]
    fn storage_reads_files_or_a_database_and_refuses_what_would_not_work() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("db.url"),
            "postgresql://medo:s3cret@db:5432/medo\n",
        )
        .unwrap();
        let pg = |url: &str, pool_size, lease_secs| {
            Ok(Storage::Postgres {
                url: DatabaseUrl(url.into()),
                pool_size,
                lease_secs,
            })
        };
        let table: [(&str, Result<Storage, &str>); 11] = [
            ("", Ok(Storage::Files)),
            ("backend = \"files\"", Ok(Storage::Files)),
            (
                "backend = \"postgres\"\nurl = \"postgres://u:p@h/d\"",
                pg("postgres://u:p@h/d", 4, 15),
            ),
            (
                "backend = \"postgres\"\nurl_file = \"db.url\"\npool_size = 8\nlease_secs = 5",
                pg("postgresql://medo:s3cret@db:5432/medo", 8, 5),
            ),
            ("backend = \"postgres\"", Err("url или url_file")),
            (
                "backend = \"postgres\"\nurl = \"x\"\nurl_file = \"db.url\"",
                Err("один из них"),
            ),
            (
                "backend = \"postgres\"\nurl = \"mysql://h/d\"",
                Err("postgresql://"),
            ),
            (
                "backend = \"postgres\"\nurl_file = \"nowhere.url\"",
                Err("nowhere.url"),
            ),
            (
                "backend = \"postgres\"\nurl = \"postgres://h/d\"\nlease_secs = 1",
                Err("lease_secs = 1: допустимо от 2 до 300"),
            ),
            (
                "url = \"postgres://h/d\"",
                Err("только при backend = \"postgres\""),
            ),
            (
                "backend = \"oracle\"",
                Err("допустимы \"files\" или \"postgres\""),
            ),
        ];
        for (toml, want) in table {
            match (parse(toml, dir.path()), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{toml}"),
                (Err(got), Err(words)) => assert!(got.contains(words), "{toml}: {got}"),
                (got, want) => panic!("{toml}: {got:?}, wanted {want:?}"),
            }
        }
        let shown = format!(
            "{:?}",
            parse("backend = \"postgres\"\nurl_file = \"db.url\"", dir.path())
        );
        assert!(
            !shown.contains("s3cret"),
            "the password is never printed: {shown}"
        );
    }
}
