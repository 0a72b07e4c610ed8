//! Streaming SHA-256: of a file, of any reader, and a pass-through reader that hashes what it
//! reads (so a file is hashed while it is being copied or parsed, never read twice); many
//! short messages at once ([`digest_many`]: the journal's lines). Touches only the file or
//! reader it is given.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::Digest;

/// SHA-256 of streams and files: `sha2`, pure Rust — it uses the CPU's SHA extensions
/// (SHA-NI, ARMv8) where they are and its portable code elsewhere. No C or assembly library
/// for SHA (the decision on issue 18: a non-SHA-NI machine hashes attachments at `sha2`'s
/// portable speed; the journal's many short lines go to [`digest_many`]'s SIMD lanes).
pub type Sha256 = sha2::Sha256;

/// Whether the CPU has the SHA extensions (std caches the answer).
pub fn has_sha_ni() -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    {
        std::arch::is_x86_feature_detected!("sha")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
    {
        false
    }
}

/// Which implementation [`Sha256`] uses here, for benchmarks and logs.
pub fn backend_name() -> &'static str {
    match has_sha_ni() {
        true => "sha2 (SHA-NI)",
        false => "sha2",
    }
}

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

/// SHA-256 of many short messages, each a `body` then a `tail` (the journal's lines without
/// their hash member, then `}`), one digest each into `out`. Where the CPU has AVX2 and no
/// SHA-NI they go through `tape-sha256`'s multi-buffer kernels — sixteen messages at once
/// with AVX-512, eight with AVX2, one per SIMD lane (one Intel Xeon core, SHA-NI hidden,
/// 503-byte messages: 0.64 µs a message with AVX-512 and 1.09 µs with AVX2, where ring's
/// one-at-a-time code takes 1.55–1.62 µs); elsewhere one by one through [`Sha256`] (with
/// SHA-NI that is 0.49 µs, where tape's own pick on that Xeon, its AVX-512 kernel, takes
/// 0.64). Fewer than eight messages go one by one: a kernel's pass costs the same for one.
///
/// # Panics
/// If `out` is not as long as `messages`.
pub fn digest_many(messages: &[(&[u8], &[u8])], out: &mut [[u8; 32]]) {
    assert_eq!(messages.len(), out.len(), "one digest per message");
    // a kernel's pass costs as much for one message as for a lane of each
    if messages.len() >= 8 && many_lanes() {
        return digest_in_lanes(messages, out);
    }
    for (&(body, tail), digest) in messages.iter().zip(out) {
        *digest = Sha256::new()
            .chain_update(body)
            .chain_update(tail)
            .finalize()
            .into();
    }
}

/// [`digest_many`] through `tape-sha256`'s best kernel for this CPU.
fn digest_in_lanes(messages: &[(&[u8], &[u8])], out: &mut [[u8; 32]]) {
    let messages: Vec<tape_sha256::Message> = messages
        .iter()
        .map(|&(body, tail)| tape_sha256::Message {
            prefix: &[],
            body,
            tail,
        })
        .collect();
    tape_sha256::hash_messages(&messages, out);
}

/// Whether [`digest_many`] hashes in SIMD lanes here: AVX2 and no SHA-NI.
pub fn many_lanes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        !has_sha_ni() && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Hex SHA-256 of a byte slice.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many messages at once, through the SIMD lanes and one by one, agree with one hasher
    /// fed the same bytes: every length around the block boundaries, more messages than
    /// lanes, an empty tail.
    #[test]
    fn many_messages_hash_as_each_alone() {
        let data: Vec<u8> = (0..1300u32).map(|i| (i * 31 + 7) as u8).collect();
        let lengths = [
            0, 1, 54, 55, 56, 63, 64, 65, 118, 119, 120, 128, 503, 577, 1199,
        ];
        let messages: Vec<(&[u8], &[u8])> = lengths
            .iter()
            .cycle()
            .take(3 * lengths.len() + 1)
            .enumerate()
            .map(|(i, &len)| {
                let tail: &[u8] = if i % 2 == 0 { b"}" } else { b"" };
                (&data[i..i + len], tail)
            })
            .collect();
        let alone: Vec<[u8; 32]> = messages
            .iter()
            .map(|(body, tail)| {
                Sha256::new()
                    .chain_update(body)
                    .chain_update(tail)
                    .finalize()
                    .into()
            })
            .collect();
        let mut many = vec![[0u8; 32]; messages.len()];
        digest_many(&messages, &mut many);
        assert_eq!(many, alone);
        // the lanes whatever this CPU has (tape-sha256's pick for it: with SHA-NI too)
        let mut in_lanes = vec![[0u8; 32]; messages.len()];
        digest_in_lanes(&messages, &mut in_lanes);
        assert_eq!(
            in_lanes,
            alone,
            "tape-sha256 here: {}",
            tape_sha256::backend()
        );
    }

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
