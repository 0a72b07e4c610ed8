//! Streaming SHA-256: of a file, of any reader, and a pass-through reader that hashes what it
//! reads (so a file is hashed while it is being copied or parsed, never read twice).
//! Touches only the file or reader it is given.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Buffer size for streaming reads: large enough to amortise syscalls, small enough to keep
/// memory flat whatever the file size.
pub const BUFFER: usize = 256 * 1024;

/// A reader that hashes and counts everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// The lower-case hex SHA-256 of everything read, and the byte count.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Hashes a reader to its end: (hex SHA-256, bytes).
pub fn sha256_reader(reader: impl Read) -> io::Result<(String, u64)> {
    FileHasher::new(BUFFER).hash_reader(reader)
}

/// Hashes a file: (hex SHA-256, bytes).
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    FileHasher::new(BUFFER).hash_file(path)
}

/// Hashes many files with one reusable buffer (no per-file allocation or zeroing).
pub struct FileHasher {
    buf: Vec<u8>,
}

impl FileHasher {
    pub fn new(buffer: usize) -> Self {
        FileHasher {
            buf: vec![0u8; buffer.max(4096)],
        }
    }

    pub fn hash_reader(&mut self, reader: impl Read) -> io::Result<(String, u64)> {
        let mut hashing = HashingReader::new(reader);
        while hashing.read(&mut self.buf)? != 0 {}
        Ok(hashing.finish())
    }

    pub fn hash_file(&mut self, path: &Path) -> io::Result<(String, u64)> {
        self.hash_reader(File::open(path)?)
    }
}

/// Hex SHA-256 of a byte slice.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let (h, n) = sha256_reader(&b"abc"[..]).unwrap();
        assert_eq!((h.as_str(), n), (sha256_bytes(b"abc").as_str(), 3));
    }
}
