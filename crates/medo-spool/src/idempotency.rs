//! Idempotent writes of the API: a request with an `Idempotency-Key` is queued as a command
//! whose id derives from the client and the key, so the journal never applies it twice;
//! `state_dir/control/keys/<id>.json` remembers the request's digest and its queue file, so a
//! repeat with the same body answers the first result and one with another body is refused
//! (409). Touches only `control/keys/`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use medo_wire::hash::Sha256;

/// An idempotency key as the API takes it: its command id and the request's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    pub digest: String,
}

/// What is remembered of a keyed request.
#[derive(Debug, Serialize, Deserialize)]
struct Remembered {
    digest: String,
    /// The queue file name (without `.json`) of the first request.
    file: String,
}

/// What a keyed request is, against what was remembered.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// First time: queue it under this file name (remembered now).
    New(String),
    /// A repeat of the same request: its first queue file name.
    Same(String),
    /// The key was used with another request.
    Conflict,
}

/// An `Idempotency-Key` header that is not 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Idempotency-Key: 1 to 255 visible ASCII characters")]
pub struct BadKey;

/// The key of a request: 1 to 255 visible ASCII characters; the id is bound to the client.
pub fn key(client: &str, header: &str, request: &[&[u8]]) -> Result<Key, BadKey> {
    let header = header.trim();
    if header.is_empty() || header.len() > 255 || !header.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(BadKey);
    }
    let id = Sha256::digest(format!("{client}\n{header}").as_bytes());
    let mut digest = Sha256::new();
    for part in request {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part);
    }
    Ok(Key {
        id: format!("k{}", &hex::encode(id)[..32]),
        digest: hex::encode(digest.finalize()),
    })
}

fn path(state: &Path, id: &str) -> PathBuf {
    crate::control::dir(state)
        .join("keys")
        .join(format!("{id}.json"))
}

/// Recalls a key, or remembers it with a fresh queue file name (durably, before queuing).
pub fn recall(state: &Path, key: &Key) -> io::Result<Seen> {
    let file = path(state, &key.id);
    if let Ok(bytes) = read_small(&file) {
        return Ok(judge(&bytes, key));
    }
    fs::create_dir_all(file.parent().expect("keys dir"))?;
    let name = crate::control::keyed_name(&key.id);
    let body = serde_json::to_vec(&Remembered {
        digest: key.digest.clone(),
        file: name.clone(),
    })
    .expect("serialises");
    match OpenOptions::new().write(true).create_new(true).open(&file) {
        Ok(mut f) => {
            f.write_all(&body)?;
            f.sync_all()?;
            Ok(Seen::New(name))
        }
        // a concurrent request with the same key remembered it first
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(judge(&read_small(&file)?, key)),
        Err(e) => Err(e),
    }
}

/// Forgets a key remembered for a request that was refused before anything was queued (its
/// attachment could not be kept, say): the corrected retry under the same key is then a new
/// request, not a 409.
pub fn forget(state: &Path, key: &Key) {
    let _ = fs::remove_file(path(state, &key.id));
}

/// A remembered key's file, at most [`MAX_REMEMBERED_BYTES`] of it (ours are ~150 bytes: a
/// longer one reads as another request's, a conflict).
fn read_small(file: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    fs::File::open(file)?
        .take(MAX_REMEMBERED_BYTES)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The most of a remembered key's file read.
const MAX_REMEMBERED_BYTES: u64 = 4096;

/// The API's idempotency keys (the seam of issue 27: files in `control/keys/` today —
/// [`Folder`]; a table when the commands live in the database).
pub trait Keys {
    /// Recalls a key, or remembers it with a fresh queue file name (durably, before the
    /// request is queued).
    fn recall(&self, key: &Key) -> io::Result<Seen>;
    /// Forgets a key remembered for a request refused before anything was queued.
    fn forget(&self, key: &Key);
}

/// The keys in `state_dir/control/keys/`.
#[derive(Debug, Clone)]
pub struct Folder {
    state: PathBuf,
}

impl Folder {
    pub fn new(state: impl Into<PathBuf>) -> Folder {
        Folder {
            state: state.into(),
        }
    }
}

impl Keys for Folder {
    fn recall(&self, key: &Key) -> io::Result<Seen> {
        recall(&self.state, key)
    }
    fn forget(&self, key: &Key) {
        forget(&self.state, key)
    }
}

fn judge(bytes: &[u8], key: &Key) -> Seen {
    match serde_json::from_slice::<Remembered>(bytes) {
        Ok(r) if r.digest == key.digest => Seen::Same(r.file),
        _ => Seen::Conflict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_remembered_with_its_request() {
        let dir = tempfile::tempdir().unwrap();
        let k = key("delo", "abc-1", &[b"POST /x", b"{}"]).unwrap();
        let Seen::New(name) = recall(dir.path(), &k).unwrap() else {
            panic!("first time")
        };
        assert!(name.ends_with(&format!("~{}", k.id)));
        assert_eq!(recall(dir.path(), &k).unwrap(), Seen::Same(name));
        let other = key("delo", "abc-1", &[b"POST /x", b"{\"a\":1}"]).unwrap();
        assert_eq!(other.id, k.id);
        assert_eq!(recall(dir.path(), &other).unwrap(), Seen::Conflict);
        // another client's same key is another key
        assert_ne!(key("dir", "abc-1", &[b"POST /x", b"{}"]).unwrap().id, k.id);
        assert!(key("delo", "", &[]).is_err());
        assert!(key("delo", "ключ", &[]).is_err());
    }
}
