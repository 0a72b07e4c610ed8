//! The exchange journal — the system of record. Append-only JSON-lines segment files under
//! `state_dir/journal/`, one record per line, hash-chained: each record carries `prev` (the
//! previous record's `hash`) and `hash` = SHA-256 of its own canonical bytes without the
//! `hash` field. A record is durable (fsync) before any effect that depends on it; a batch of
//! records shares one fsync (group commit).
//!
//! Touches only its own directory. Holds no personal data of applicants: numbers, names of
//! files and folders, GUIDs and hashes only. See `docs/JOURNAL.md` for the format.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::Digest;

use medo_wire::hash::{digest_many, Sha256};

pub use medo_model::GENESIS;
/// Records per segment file before a new one is started.
pub const SEGMENT_RECORDS: u64 = 100_000;

/// The journal's vocabulary lives in [`medo_model`]; re-exported here for its readers.
pub use medo_model::{Event, NoticeRef, Output, Record, SignatureFile};

/// Journal errors. Any write or fsync failure is fatal for the service.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("journal {file} line {line}: {problem}")]
    Corrupt {
        file: String,
        line: u64,
        problem: String,
    },
    /// A backend that keeps the journal in a database (PostgreSQL): what it was doing, and
    /// the database's words.
    #[error("journal in the database ({doing}): {why}")]
    Database { doing: &'static str, why: String },
    /// This node no longer holds the lease it wrote under (another node leads now, with a
    /// later epoch): its commit is refused, nothing of it written.
    #[error("this node no longer leads (its lease, epoch {epoch}, expired or was taken over): the commit is refused")]
    Fenced { epoch: u64 },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Segment files in order.
pub fn segments(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "jsonl")
                && p.file_stem().is_some_and(|s| {
                    s.len() == 20 && s.to_string_lossy().bytes().all(|b| b.is_ascii_digit())
                })
        })
        .collect();
    files.sort();
    Ok(files)
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.jsonl")
}

/// Fsyncs a directory (makes renames and new files in it durable).
pub use medo_stdx::fsync_dir;

/// The writer side: appends records, group-committed.
/// A journal's folder, to read through [`crate::seam::JournalRead`] (the files backend's
/// reader: the writer need not run, nor be this process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder(PathBuf);

impl Folder {
    pub fn new(dir: impl Into<PathBuf>) -> Folder {
        Folder(dir.into())
    }

    /// The folder itself (`state_dir/journal`).
    pub fn path(&self) -> &Path {
        &self.0
    }
}

pub struct Journal {
    dir: PathBuf,
    file: File,
    segment_first: u64,
    next_seq: u64,
    head: String,
    /// The time of the last record (RFC 3339), if any.
    last_ts: Option<String>,
}

/// What opening the journal found.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Bytes of a torn last record (a crash mid-write) cut off.
    pub torn_bytes_truncated: u64,
}

impl Journal {
    /// Opens (or creates) the journal in `dir` for appending. A torn last line — a record cut
    /// by a crash before its fsync completed, so nothing acted on it — is truncated with a
    /// warning. Anything else wrong is an error (run `journal verify`).
    pub fn open(dir: &Path) -> Result<(Journal, OpenReport), JournalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut report = OpenReport::default();
        let segs = segments(dir).map_err(io_err(dir))?;
        let (segment_first, next_seq, head, last_ts) = match segs.last() {
            None => (0, 0, GENESIS.to_string(), None),
            Some(last) => {
                report.torn_bytes_truncated = truncate_torn_tail(last)?;
                let first: u64 = last
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                match last_record(last)? {
                    Some(r) => (first, r.seq + 1, r.hash, Some(r.ts)),
                    None if segs.len() >= 2 => {
                        let prev = last_record(&segs[segs.len() - 2])?.ok_or_else(|| {
                            JournalError::Corrupt {
                                file: segs[segs.len() - 2].display().to_string(),
                                line: 0,
                                problem: "empty segment".into(),
                            }
                        })?;
                        (first, prev.seq + 1, prev.hash, Some(prev.ts))
                    }
                    None => (first, first, GENESIS.to_string(), None),
                }
            }
        };
        let path = dir.join(segment_name(segment_first));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok((
            Journal {
                dir: dir.to_path_buf(),
                file,
                segment_first,
                next_seq,
                head,
                last_ts,
            },
            report,
        ))
    }

    /// The folder of its segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The seq the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The hash of the last record (or [`GENESIS`]).
    pub fn head(&self) -> &str {
        &self.head
    }

    /// The time of the last record (RFC 3339), if any.
    pub fn last_ts(&self) -> Option<&str> {
        self.last_ts.as_deref()
    }

    /// Appends events and makes them durable with one fsync (group commit). Returns the
    /// records written. An error here is fatal: the caller must stop.
    pub fn append(&mut self, events: Vec<Event>, now: &str) -> Result<Vec<Record>, JournalError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut records = Vec::with_capacity(events.len());
        let mut buf = String::new();
        for event in events {
            if self.next_seq - self.segment_first >= SEGMENT_RECORDS {
                self.flush_buf(&mut buf)?;
                self.rotate()?;
            }
            let r = Record::new(self.next_seq, now.to_string(), self.head.clone(), event);
            buf.push_str(&r.line());
            buf.push('\n');
            self.head = r.hash.clone();
            self.next_seq += 1;
            records.push(r);
        }
        self.flush_buf(&mut buf)?;
        self.last_ts = Some(now.to_string());
        Ok(records)
    }

    /// Appends records made elsewhere, verbatim (a migration between backends): each must
    /// continue the chain (the next seq, `prev` = the head); one write and fsync.
    pub fn import(&mut self, records: &[Record]) -> Result<(), JournalError> {
        let mut buf = String::new();
        for r in records {
            if r.seq != self.next_seq || r.prev != self.head {
                self.flush_buf(&mut buf)?;
                return Err(JournalError::Corrupt {
                    file: segment_name(self.segment_first),
                    line: r.seq + 1,
                    problem: LineProblem::WrongSeq {
                        seq: r.seq,
                        expected: self.next_seq,
                    }
                    .to_string(),
                });
            }
            if self.next_seq - self.segment_first >= SEGMENT_RECORDS {
                self.flush_buf(&mut buf)?;
                self.rotate()?;
            }
            buf.push_str(&r.line());
            buf.push('\n');
            self.head = r.hash.clone();
            self.next_seq += 1;
            self.last_ts = Some(r.ts.clone());
        }
        self.flush_buf(&mut buf)
    }

    fn current_path(&self) -> PathBuf {
        self.dir.join(segment_name(self.segment_first))
    }

    fn flush_buf(&mut self, buf: &mut String) -> Result<(), JournalError> {
        if buf.is_empty() {
            return Ok(());
        }
        let path = self.current_path();
        self.file.write_all(buf.as_bytes()).map_err(io_err(&path))?;
        self.file.sync_data().map_err(io_err(&path))?;
        buf.clear();
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), JournalError> {
        self.segment_first = self.next_seq;
        let path = self.current_path();
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        fsync_dir(&self.dir).map_err(io_err(&self.dir))?;
        Ok(())
    }
}

/// Cuts a last line that has no newline (a torn write). Returns the bytes removed.
/// The last `n` complete lines of a file (without their newlines), oldest first, and the
/// length of a torn tail after the last newline. Reads backwards in chunks: the cost is the
/// size of those lines, not of the file.
fn last_lines(path: &Path, n: usize) -> io::Result<(Vec<Vec<u8>>, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut pos = len;
    let mut tail: Vec<u8> = Vec::new(); // bytes from `pos` to the end
    let mut chunk = 64 * 1024u64;
    loop {
        let newlines = tail.iter().filter(|b| **b == b'\n').count();
        // the first line may be cut where we started reading: n complete lines need n + 1
        // newlines, unless we started at the beginning of the file
        if pos == 0 || newlines > n {
            break;
        }
        let step = chunk.min(pos);
        pos -= step;
        let mut buf = vec![0u8; step as usize];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut buf)?;
        buf.extend_from_slice(&tail);
        tail = buf;
        chunk = chunk.saturating_mul(2);
    }
    let complete_end = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let torn = (tail.len() - complete_end) as u64;
    let mut lines: Vec<Vec<u8>> = tail[..complete_end]
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    if pos > 0 && !lines.is_empty() {
        lines.remove(0); // may be cut at its start
    }
    let skip = lines.len().saturating_sub(n);
    Ok((lines.split_off(skip), torn))
}

fn truncate_torn_tail(path: &Path) -> Result<u64, JournalError> {
    let len = fs::metadata(path).map_err(io_err(path))?.len();
    let (_, torn) = last_lines(path, 0).map_err(io_err(path))?;
    if torn == 0 {
        return Ok(0);
    }
    let keep = len - torn;
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err(path))?;
    file.set_len(keep as u64).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))?;
    let cut = torn;
    tracing::warn!(segment = %path.display(), bytes = cut, "journal: truncated a torn last record (a crash interrupted its write; nothing acted on it)");
    Ok(cut)
}

fn last_record(path: &Path) -> Result<Option<Record>, JournalError> {
    let (lines, _) = last_lines(path, 1).map_err(io_err(path))?;
    let Some(line) = lines.last() else {
        return Ok(None);
    };
    serde_json::from_slice(line)
        .map(Some)
        .map_err(|e| JournalError::Corrupt {
            file: path.display().to_string(),
            line: 0,
            problem: format!("last record: {e}"),
        })
}

/// The seq at the start of a line in the writer's layout (`{"seq":N,…`).
fn line_seq(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("{\"seq\":")?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

/// Records with `seq >= from`, read from the segments that can hold them (segments entirely
/// before `from` are skipped). Each record's own hash and the chain between the records read
/// are checked; a bad record is an error.
pub fn read_from(dir: &Path, from: u64) -> Result<Vec<Record>, JournalError> {
    read_range(dir, from, u64::MAX, usize::MAX)
}

/// Records with `from <= seq < until`, at most `max` of them (a bounded page: the changes
/// feed), checked as [`read_from`] checks them; reading stops at `until` or `max`.
pub fn read_range(
    dir: &Path,
    from: u64,
    until: u64,
    max: usize,
) -> Result<Vec<Record>, JournalError> {
    let segs = segments(dir).map_err(io_err(dir))?;
    let firsts: Vec<u64> = segs
        .iter()
        .map(|p| {
            p.file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        })
        .collect();
    let start = firsts.iter().rposition(|f| *f <= from).unwrap_or(0);
    let mut out: Vec<Record> = Vec::new();
    for seg in &segs[start..] {
        // streamed: memory is the records returned, not the segment
        let reader = BufReader::with_capacity(1 << 20, File::open(seg).map_err(io_err(seg))?);
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(io_err(seg))?;
            let line = line.as_str();
            let corrupt = |problem: String| JournalError::Corrupt {
                file: seg.display().to_string(),
                line: i as u64 + 1,
                problem,
            };
            if line_seq(line).is_some_and(|seq| seq < from) {
                continue; // before the range: not decoded
            }
            if out.len() >= max || line_seq(line).is_some_and(|seq| seq >= until) {
                return Ok(out);
            }
            let r = own_checks(line.as_bytes()).map_err(|p| corrupt(p.to_string()))?;
            if r.seq < from {
                continue;
            }
            if let Some(last) = out.last() {
                if r.seq != last.seq + 1 || r.prev != last.hash {
                    return Err(corrupt("chain broken".into()));
                }
            }
            out.push(r);
        }
    }
    Ok(out)
}

/// The last `n` records, oldest first, read backwards from the end of the last segments
/// (cost: those records, not the journal). Each record's hash and the chain between them are
/// checked.
pub fn tail(dir: &Path, n: u64) -> Result<Vec<Record>, JournalError> {
    let segs = segments(dir).map_err(io_err(dir))?;
    let mut records: Vec<Record> = Vec::new();
    for seg in segs.iter().rev() {
        let want = (n as usize).saturating_sub(records.len());
        if want == 0 {
            break;
        }
        let (lines, _) = last_lines(seg, want).map_err(io_err(seg))?;
        let mut older = Vec::with_capacity(lines.len());
        for line in &lines {
            let r = own_checks(line).map_err(|problem| JournalError::Corrupt {
                file: seg.display().to_string(),
                line: 0,
                problem: problem.to_string(),
            })?;
            older.push(r);
        }
        older.append(&mut records);
        records = older;
    }
    for pair in records.windows(2) {
        if pair[1].prev != pair[0].hash || pair[1].seq != pair[0].seq + 1 {
            return Err(JournalError::Corrupt {
                file: dir.display().to_string(),
                line: 0,
                problem: format!("chain broken at seq {}", pair[1].seq),
            });
        }
    }
    Ok(records)
}

/// Reads every record, checking the chain as it goes; stops at the first bad record.
pub fn read_all(dir: &Path) -> Result<Vec<Record>, JournalError> {
    let mut out = Vec::new();
    scan(dir, |r| {
        out.push(r.clone());
        true
    })?
    .intact()?;
    Ok(out)
}

/// The first record that failed verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRecord {
    pub file: String,
    pub line: u64,
    /// The seq the record should have had.
    pub expected_seq: u64,
    /// What is wrong (its words in the JSON report).
    #[serde(serialize_with = "said")]
    pub problem: LineProblem,
}

fn said<S: serde::Serializer>(p: &LineProblem, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(p)
}

/// What is wrong with a line of the journal, or with where it stands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    #[error("не запись журнала: {0}")]
    NotARecord(String),
    #[error("не в формате строки журнала")]
    NotLineFormat,
    #[error("хеш не совпадает с содержимым")]
    HashMismatch,
    #[error("не в формате строки журнала: член hash должен завершать строку (байты изменены)")]
    HashNotLast,
    #[error("seq {seq} там, где ожидалась {expected} (запись удалена или переставлена)")]
    WrongSeq { seq: u64, expected: u64 },
    #[error(
        "prev не совпадает с хешем предыдущей записи (запись удалена, переставлена или изменена)"
    )]
    PrevMismatch,
    #[error("хеш не совпадает с содержимым (запись изменена)")]
    Changed,
    /// The last line has no end of line (a write cut short, or one still going on).
    #[error("запись оборвана (нет конца строки)")]
    Truncated,
    #[error("сегмент должен начинаться с seq {0}")]
    SegmentStart(u64),
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "journal {} line {}: {}",
            self.file, self.line, self.problem
        )
    }
}

/// Result of verifying the whole journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub records: u64,
    pub segments: u64,
    pub head: String,
    pub first_bad: Option<BadRecord>,
}

impl VerifyReport {
    /// `Ok` when every record walked verified, else the error naming the first bad one
    /// (for a walk that must not go on past it: a fold).
    pub fn intact(self) -> Result<(), JournalError> {
        match self.first_bad {
            None => Ok(()),
            Some(bad) => Err(JournalError::Corrupt {
                file: bad.file,
                line: bad.line,
                problem: bad.problem.to_string(),
            }),
        }
    }
}

/// Walks every record in order, verifying: the line decodes as a record and ends with its
/// hash member, that hash is SHA-256 of the line's exact bytes without it, `prev` = the
/// previous hash, contiguous `seq`, the segment name = its first seq, and no torn last line.
/// Calls `visit` for each good record (return false to stop early).
pub fn scan(
    dir: &Path,
    mut visit: impl FnMut(&Record) -> bool,
) -> Result<VerifyReport, JournalError> {
    walk(dir, u64::MAX, Some(&mut visit))
}

/// Verifies the whole journal (`journal verify`): exactly the checks of [`scan`].
pub fn verify(dir: &Path) -> Result<VerifyReport, JournalError> {
    walk(dir, u64::MAX, None)
}

/// Verifies at least the last `at_least` records of a journal (whole segments: from the
/// segment that holds record `records − at_least` to the end), with the checks of
/// [`verify`]; the first record checked is linked to what comes before it on trust.
/// `report.records` counts from the journal's start.
pub fn verify_tail(dir: &Path, at_least: u64) -> Result<VerifyReport, JournalError> {
    walk(dir, at_least, None)
}

/// Fuzzing entry (`fuzz/fuzz_targets/journal.rs`, replayed by `crates/medo-store/tests/fuzz_corpus.rs`): one
/// line through the checks. Must never panic; a line that passes them decodes to a record
/// whose hash is SHA-256 of exactly the line without its hash member (the definition
/// auditors check with `sha256sum`, docs/JOURNAL.md); a line that decodes re-encodes to a
/// line that decodes to the same record; a line read in one pass reads exactly as the
/// derived reader reads it.
pub fn fuzz_line(data: &[u8]) {
    let parsed = serde_json::from_slice::<Record>(data).ok();
    if let Some(fast) = std::str::from_utf8(data)
        .ok()
        .and_then(|text| medo_model::kind_first::from_str(text).ok())
    {
        assert_eq!(
            Some(&fast),
            parsed.as_ref(),
            "read in one pass otherwise than by the derived reader"
        );
    }
    let (seq, prev) = parsed
        .as_ref()
        .map_or((0, GENESIS.to_string()), |r| (r.seq, r.prev.clone()));
    if let Ok(r) = check_line(data, seq, &prev) {
        let mut h = Sha256::new();
        h.update(&data[..data.len() - HASH_MEMBER]);
        h.update(b"}");
        assert_eq!(
            hex::encode(h.finalize()),
            r.hash,
            "accepted a line whose hash is wrong"
        );
    }
    if let Some(r) = parsed {
        let again: Record = serde_json::from_str(&r.line()).expect("a canonical line decodes");
        assert_eq!(again, r, "a record changes through its canonical line");
    }
}

/// A line decoded, and what was checked of it on its own (in parallel with other lines).
struct Decoded {
    record: Box<Record>,
    /// The line ends with its hash member, `,"hash":"<64 hex>"}`, as the writer puts it.
    well_formed: bool,
    /// That hash is SHA-256 of the line without its hash member (the closing brace kept) —
    /// for the writer's lines, exactly its canonical encoding without the hash.
    hash_ok: bool,
}

impl Decoded {
    /// The line as the chain check sees it.
    fn link(&self) -> Link<'_> {
        Link {
            seq: self.record.seq,
            prev: self.record.prev.as_bytes(),
            well_formed: self.well_formed,
            hash_ok: self.hash_ok,
        }
    }

    /// The record dropped (on the worker thread that decoded it: glibc frees with locks on
    /// another thread), its link in the chain kept — where its `prev` and `hash` are 64
    /// bytes long (any other length is wrong, and is reported from the record).
    fn into_linked(self) -> Inspected {
        let prev = self.record.prev.as_bytes().try_into();
        let hash = self.record.hash.as_bytes().try_into();
        match (prev, hash) {
            (Ok(prev), Ok(hash)) => Inspected::Linked {
                seq: self.record.seq,
                prev,
                hash,
                well_formed: self.well_formed,
                hash_ok: self.hash_ok,
            },
            _ => Inspected::Decoded(self),
        }
    }
}

/// A line of a batch, inspected on a worker thread.
enum Inspected {
    /// Not a journal record at all.
    Undecodable(LineProblem),
    Decoded(Decoded),
    /// Decoded, only what the chain check needs kept: nobody reads the records
    /// (`journal verify`).
    Linked {
        seq: u64,
        prev: [u8; 64],
        hash: [u8; 64],
        well_formed: bool,
        hash_ok: bool,
    },
}

impl Inspected {
    /// The line as the chain check sees it, and its own hash; or why it is no record.
    fn link(&self) -> Result<(Link<'_>, &str), LineProblem> {
        match self {
            Inspected::Undecodable(problem) => Err(problem.clone()),
            Inspected::Decoded(d) => Ok((d.link(), &d.record.hash)),
            Inspected::Linked {
                seq,
                prev,
                hash,
                well_formed,
                hash_ok,
            } => Ok((
                Link {
                    seq: *seq,
                    prev,
                    well_formed: *well_formed,
                    hash_ok: *hash_ok,
                },
                std::str::from_utf8(hash).expect("taken whole from a String"),
            )),
        }
    }
}

/// A line as the chain check sees it.
struct Link<'a> {
    seq: u64,
    prev: &'a [u8],
    well_formed: bool,
    hash_ok: bool,
}

/// `,"hash":"` + 64 hex digits + `"}`: the end of every line.
const HASH_MEMBER: usize = 9 + 64 + 2;

/// Whether `hex` is `digest` in lower-case hex, compared digit by digit: encoding every
/// digest cost ~7% of a verification, `hex::decode_to_slice` 8%.
fn lower_hex_eq(digest: &[u8], hex: &[u8]) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    hex.len() == 2 * digest.len()
        && digest.iter().zip(hex.chunks_exact(2)).all(|(b, h)| {
            h[0] == DIGITS[usize::from(b >> 4)] && h[1] == DIGITS[usize::from(b & 15)]
        })
}

/// Decodes a line: in one pass if it is in the writer's layout
/// ([`medo_model::kind_first`]), else — and for the error — with the derived reader.
fn decode_line(text: &str) -> Result<Record, serde_json::Error> {
    medo_model::kind_first::from_str(text).or_else(|_| serde_json::from_str(text))
}

/// What a line's hash covers, if the line ends with a hash member: the line without it (the
/// closing brace is hashed after it).
fn hashed_part(line: &[u8]) -> Option<&[u8]> {
    let start = line.len().checked_sub(HASH_MEMBER + 1)? + 1;
    (line[start..].starts_with(b",\"hash\":\"") && line.ends_with(b"\"}")).then(|| &line[..start])
}

/// SHA-256 of each line's hashed part and `}`, many lines at once ([`digest_many`]: in SIMD
/// lanes where the CPU has no SHA-NI); a line without a hash member gets the digest of `}`,
/// never compared.
fn line_digests(lines: &[&[u8]]) -> Vec<[u8; 32]> {
    let parts: Vec<(&[u8], &[u8])> = lines
        .iter()
        .map(|l| (hashed_part(l).unwrap_or_default(), &b"}"[..]))
        .collect();
    let mut digests = vec![[0; 32]; lines.len()];
    digest_many(&parts, &mut digests);
    digests
}

/// Decodes a line and hashes its bytes (no re-encoding: the hash is over the exact bytes,
/// as docs/JOURNAL.md tells auditors to check it).
fn inspect_line(line: &[u8]) -> Result<Decoded, LineProblem> {
    inspect_hashed(line, &line_digests(&[line])[0])
}

/// Decodes a line and compares its hash member with `digest`, its [`line_digests`] entry.
fn inspect_hashed(line: &[u8], digest: &[u8; 32]) -> Result<Decoded, LineProblem> {
    // the line's UTF-8 checked once, whole: `from_slice` checks every string again, one
    // call each (10% of `journal verify` on an Intel Xeon, perf)
    let text = std::str::from_utf8(line).map_err(|e| LineProblem::NotARecord(e.to_string()))?;
    let record = decode_line(text).map_err(|e| LineProblem::NotARecord(e.to_string()))?;
    let well_formed = hashed_part(line).is_some()
        && &line[line.len() - HASH_MEMBER + 9..line.len() - 2] == record.hash.as_bytes();
    let hash_ok = well_formed && lower_hex_eq(digest, record.hash.as_bytes());
    Ok(Decoded {
        record: Box::new(record),
        well_formed,
        hash_ok,
    })
}

/// The checks a line passes on its own (format and hash, not the chain).
fn own_checks(line: &[u8]) -> Result<Record, LineProblem> {
    let d = inspect_line(line)?;
    match (d.well_formed, d.hash_ok) {
        (true, true) => Ok(*d.record),
        (false, _) => Err(LineProblem::NotLineFormat),
        (true, false) => Err(LineProblem::HashMismatch),
    }
}

/// Checks one line; returns the record or what is wrong with it.
fn check_line(line: &[u8], expected_seq: u64, prev: &str) -> Result<Record, LineProblem> {
    let d = inspect_line(line)?;
    chain_check(d.link(), expected_seq, prev)?;
    Ok(*d.record)
}

/// The checks that need the previous record, in the order problems are reported.
fn chain_check(link: Link, expected_seq: u64, prev: &str) -> Result<(), LineProblem> {
    if !link.well_formed {
        return Err(LineProblem::HashNotLast);
    }
    if link.seq != expected_seq {
        return Err(LineProblem::WrongSeq {
            seq: link.seq,
            expected: expected_seq,
        });
    }
    // an empty `prev` expected: the walk starts mid-journal and takes the first link as given
    if !prev.is_empty() && link.prev != prev.as_bytes() {
        return Err(LineProblem::PrevMismatch);
    }
    if !link.hash_ok {
        return Err(LineProblem::Changed);
    }
    Ok(())
}

/// Inspects a batch of lines on all cores (each line on its own, hashed sixteen at a time),
/// in chunks, in order, while `meanwhile` (reading the next block) runs alongside. With
/// `keep` false (nobody will look at the records, only at the chain), each record is
/// dropped on the worker thread that decoded it ([`Decoded::into_linked`]).
fn inspect_batch_while<T: Send>(
    lines: &[&[u8]],
    keep: bool,
    meanwhile: impl FnOnce() -> T + Send,
) -> (Vec<Vec<Inspected>>, T) {
    let inspect = move |chunk: &&[&[u8]]| {
        let digests = line_digests(chunk);
        let inspected = chunk.iter().zip(&digests);
        let inspected = inspected.map(|(line, digest)| match inspect_hashed(line, digest) {
            Err(problem) => Inspected::Undecodable(problem),
            Ok(d) if keep => Inspected::Decoded(d),
            Ok(d) => d.into_linked(),
        });
        inspected.collect::<Vec<_>>()
    };
    let chunks: Vec<&[&[u8]]> = lines.chunks(LINES_HASHED_AT_ONCE).collect();
    medo_stdx::parallel::map_in_order(&chunks, 256 / LINES_HASHED_AT_ONCE, inspect, meanwhile)
}

/// Lines hashed in one call: AVX-512's sixteen lanes, AVX2's eight twice.
const LINES_HASHED_AT_ONCE: usize = 16;

/// The lines of a block (each ended by `\n`, which is not included).
fn split_lines(block: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::with_capacity(block.len() / 256);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', block) {
        lines.push(&block[start..end]);
        start = end + 1;
    }
    lines
}

/// Bytes of a journal segment read per block by [`walk`].
const WALK_BLOCK: u64 = 1 << 20;

/// What [`LineBlocks`] reads next.
enum Block {
    /// Whole lines, each ending with `\n`.
    Lines(Vec<u8>),
    /// The segment ends with bytes that no `\n` ends: a torn record.
    Torn,
}

/// A segment read in large blocks of whole lines (the partial line at the end of a block is
/// carried into the next): one read and no allocation per line.
struct LineBlocks {
    file: File,
    carry: Vec<u8>,
    /// A block's buffer handed back by [`LineBlocks::recycle`] (a fresh buffer costs a page
    /// fault per page).
    spare: Vec<u8>,
    at_end: bool,
}

impl LineBlocks {
    fn new(file: File) -> Self {
        LineBlocks {
            file,
            carry: Vec::new(),
            spare: Vec::new(),
            at_end: false,
        }
    }

    /// Hands a block's buffer back for reuse.
    fn recycle(&mut self, mut block: Vec<u8>) {
        block.clear();
        self.spare = block;
    }

    fn next_block(&mut self) -> std::io::Result<Option<Block>> {
        let mut block = std::mem::take(&mut self.spare);
        block.reserve(self.carry.len() + WALK_BLOCK as usize);
        block.append(&mut self.carry);
        while !self.at_end {
            let before = block.len();
            use std::io::Read;
            (&mut self.file).take(WALK_BLOCK).read_to_end(&mut block)?;
            self.at_end = block.len() == before;
            if let Some(last) = memchr::memrchr(b'\n', &block) {
                self.carry.extend_from_slice(&block[last + 1..]);
                block.truncate(last + 1);
                return Ok(Some(Block::Lines(block)));
            }
        }
        Ok((!block.is_empty()).then_some(Block::Torn))
    }
}

/// One inspected line against the chain (`report.records` is the seq it must have,
/// `report.head` the hash its `prev` must be): a good line becomes the head and its record,
/// if kept, is shown to `visit`, whose answer is returned (go on or not); a bad one's problem
/// ends the walk.
fn follow(
    inspected: &Inspected,
    report: &mut VerifyReport,
    visit: &mut Option<&mut dyn FnMut(&Record) -> bool>,
) -> Result<bool, LineProblem> {
    let (link, hash) = inspected.link()?;
    chain_check(link, report.records, &report.head)?;
    report.records += 1;
    report.head.clear();
    report.head.push_str(hash);
    Ok(match (inspected, visit) {
        (Inspected::Decoded(d), Some(visit)) => visit(&d.record),
        _ => true,
    })
}

/// The walk shared by [`scan`] and [`verify`]: segments in order, lines in batches — each
/// line inspected on its own in parallel, then the chain (seq, prev) checked in order, the
/// first problem reported with its file and line; torn lines and misnamed segments too.
fn walk(
    dir: &Path,
    last: u64,
    mut visit: Option<&mut dyn FnMut(&Record) -> bool>,
) -> Result<VerifyReport, JournalError> {
    let segs = segments(dir).map_err(io_err(dir))?;
    let mut report = VerifyReport {
        records: 0,
        segments: segs.len() as u64,
        head: GENESIS.to_string(),
        first_bad: None,
    };
    // only the segments that hold the last `last` records (segments hold SEGMENT_RECORDS)
    let keep =
        usize::try_from(last.div_ceil(SEGMENT_RECORDS).saturating_add(1)).unwrap_or(usize::MAX);
    let skip = segs.len().saturating_sub(keep);
    if let Some(first) = segs.get(skip).filter(|_| skip > 0) {
        report.records = first
            .file_stem()
            .and_then(|s| s.to_str()?.parse().ok())
            .unwrap_or(0);
        report.head.clear();
    }
    for seg in &segs[skip..] {
        if !walk_segment(seg, &mut report, &mut visit)? {
            break;
        }
    }
    Ok(report)
}

/// A walk over journal lines from any source — a backend that keeps the lines elsewhere
/// (PostgreSQL's rows), an exported file — with the checks of the files' walk ([`scan`]),
/// batch by batch: each line on its own in parallel, then the chain in order; the first
/// problem is named with `source` and the line's place in it.
pub struct LineWalk<'v> {
    report: VerifyReport,
    visit: Option<&'v mut dyn FnMut(&Record) -> bool>,
    source: String,
    line_no: u64,
    stopped: bool,
}

impl<'v> LineWalk<'v> {
    /// A walk from record `first_seq`, whose `prev` must be `prev` (empty: taken on trust, the
    /// walk starts mid-journal); `visit` sees each good record and may say stop.
    pub fn new(
        source: &str,
        first_seq: u64,
        prev: &str,
        visit: Option<&'v mut dyn FnMut(&Record) -> bool>,
    ) -> LineWalk<'v> {
        LineWalk {
            report: VerifyReport {
                records: first_seq,
                segments: 1,
                head: prev.to_string(),
                first_bad: None,
            },
            visit,
            source: source.to_string(),
            line_no: 0,
            stopped: false,
        }
    }

    /// Follows the next lines (without their newlines); `false` once the walk has stopped — a
    /// bad line (named in the report) or `visit` said enough.
    pub fn batch(&mut self, lines: &[&[u8]]) -> bool {
        if self.stopped {
            return false;
        }
        let (inspected, ()) = inspect_batch_while(lines, self.visit.is_some(), || ());
        for inspected in inspected.iter().flatten() {
            self.line_no += 1;
            match follow(inspected, &mut self.report, &mut self.visit) {
                Ok(true) => {}
                Ok(false) => self.stopped = true,
                Err(problem) => {
                    self.report.first_bad = Some(BadRecord {
                        file: self.source.clone(),
                        line: self.line_no,
                        expected_seq: self.report.records,
                        problem,
                    });
                    self.stopped = true;
                }
            }
            if self.stopped {
                return false;
            }
        }
        true
    }

    /// A last line cut short (no end of line): the walk ends there, naming it.
    pub fn truncated(&mut self) {
        if !self.stopped {
            self.report.first_bad = Some(BadRecord {
                file: self.source.clone(),
                line: self.line_no + 1,
                expected_seq: self.report.records,
                problem: LineProblem::Truncated,
            });
            self.stopped = true;
        }
    }

    /// What the walk found: records followed (the next seq), the head, the first bad one.
    pub fn finish(self) -> VerifyReport {
        self.report
    }
}

/// Verifies one exported journal file (`journal export --format jsonl`; `journal verify
/// --file`): every line checked as the journal's own, the chain from the first record.
pub fn verify_file(path: &Path) -> Result<VerifyReport, JournalError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut reader = io::BufReader::with_capacity(1 << 20, file);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut walk = LineWalk::new(&name.unwrap_or_default(), 0, GENESIS, None);
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(4096);
    loop {
        let mut line = Vec::new();
        let n = reader.read_until(b'\n', &mut line).map_err(io_err(path))?;
        let torn = n > 0 && line.last() != Some(&b'\n');
        if n > 0 && !torn {
            line.pop();
            batch.push(line);
        }
        if batch.len() == 4096 || n == 0 || torn {
            let lines: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            if !walk.batch(&lines) {
                break;
            }
            batch.clear();
        }
        if torn {
            walk.truncated();
        }
        if n == 0 || torn {
            break;
        }
    }
    Ok(walk.finish())
}

/// One segment's records followed on from `report` (its first seq must be the next one);
/// `false`: stop — a bad record (named in `report.first_bad`) or `visit` said enough.
fn walk_segment(
    seg: &Path,
    report: &mut VerifyReport,
    visit: &mut Option<&mut dyn FnMut(&Record) -> bool>,
) -> Result<bool, JournalError> {
    let file_name = seg
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let first: Option<u64> = seg
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok());
    let bad = |line: u64, expected_seq: u64, problem: LineProblem| BadRecord {
        file: file_name.clone(),
        line,
        expected_seq,
        problem,
    };
    let expected_seq = report.records;
    if first != Some(expected_seq) {
        let why = LineProblem::SegmentStart(expected_seq);
        report.first_bad = Some(bad(0, expected_seq, why));
        return Ok(false);
    }
    let file = File::open(seg).map_err(io_err(seg))?;
    let mut blocks = LineBlocks::new(file);
    let mut line_no = 0u64;
    let mut next = blocks.next_block().map_err(io_err(seg))?;
    while let Some(block) = next {
        let Block::Lines(bytes) = block else {
            let why = LineProblem::Truncated;
            report.first_bad = Some(bad(line_no + 1, report.records, why));
            return Ok(false);
        };
        let lines = split_lines(&bytes);
        // the next block is read while this one is inspected
        let (inspected, read_ahead) =
            inspect_batch_while(&lines, visit.is_some(), || blocks.next_block());
        for inspected in inspected.iter().flatten() {
            line_no += 1;
            match follow(inspected, report, visit) {
                Ok(true) => {}
                Ok(false) => return Ok(false),
                Err(problem) => {
                    report.first_bad = Some(bad(line_no, report.records, problem));
                    return Ok(false);
                }
            }
        }
        blocks.recycle(bytes);
        next = read_ahead.map_err(io_err(seg))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn digests_compare_with_their_lower_case_hex_only() {
        let digest = [0x00u8, 0x0f, 0xa5, 0xff];
        assert!(lower_hex_eq(&digest, b"000fa5ff"));
        for other in [
            &b"000FA5FF"[..],
            b"000fa5fe",
            b"000fa5f",
            b"000fa5ff0",
            b"000fa5fg",
        ] {
            assert!(!lower_hex_eq(&digest, other), "{other:?}");
        }
    }

    use super::*;

    #[test]
    fn the_hash_covers_the_exact_bytes_and_must_end_the_line() {
        let r = Record::new(
            0,
            "2026-11-23T05:00:00Z".into(),
            GENESIS.into(),
            Event::Parsed {
                arrival: 1,
                key: "k".into(),
                header_uid: "u".into(),
                header_type: "Документ".into(),
                format: medo_model::Format::V22,
                source_uid: "s".into(),
                document_uid: None,
                warnings: 0,
            },
        );
        let line = r.line();
        assert!(check_line(line.as_bytes(), 0, GENESIS).is_ok());
        // a byte added that keeps the meaning (whitespace): the hash no longer matches
        let spaced = line.replacen(",\"kind\"", ", \"kind\"", 1);
        let problem = check_line(spaced.as_bytes(), 0, GENESIS).unwrap_err();
        assert_eq!(problem, LineProblem::Changed, "{problem}");
        // the hash member moved to the front: refused as malformed
        let hash_member = &line[line.len() - HASH_MEMBER + 1..line.len() - 1];
        let moved = format!("{{{hash_member},{}}}", &line[1..line.len() - HASH_MEMBER]);
        let problem = check_line(moved.as_bytes(), 0, GENESIS).unwrap_err();
        assert_eq!(problem, LineProblem::HashNotLast, "{problem}");
        // a byte that is not UTF-8 inside a text member (the line is checked whole, once):
        // not a record, said so — whatever the hash says
        let mut bytes = line.clone().into_bytes();
        let at = line.find("Документ").unwrap();
        bytes[at] = 0xff;
        let problem = check_line(&bytes, 0, GENESIS).unwrap_err();
        assert!(
            matches!(&problem, LineProblem::NotARecord(why) if why.contains("utf-8")),
            "{problem}"
        );
    }

    #[test]
    fn last_lines_reads_backwards_across_chunks_and_reports_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let lines: Vec<String> = (0..5000)
            .map(|i| format!("line {i} {}", "x".repeat(i % 97)))
            .collect();
        let mut text = lines.join("\n");
        text.push('\n');
        fs::write(&p, &text).unwrap();
        for n in [0, 1, 2, 50, 4999, 5000, 6000] {
            let (got, torn) = last_lines(&p, n).unwrap();
            let want: Vec<Vec<u8>> = lines[lines.len().saturating_sub(n)..]
                .iter()
                .map(|l| l.as_bytes().to_vec())
                .collect();
            assert_eq!((got, torn), (want, 0), "n = {n}");
        }
        text.push_str("torn rec");
        fs::write(&p, &text).unwrap();
        let (got, torn) = last_lines(&p, 1).unwrap();
        assert_eq!((got, torn), (vec![lines[4999].as_bytes().to_vec()], 8));
    }

    fn events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| Event::Received {
                key: format!("{i:064x}").into(),
                src: format!("pkg{i}"),
                claim: format!("c{i}"),
                files: 2,
                bytes: 100,
            })
            .collect()
    }

    #[test]
    fn append_reopen_and_verify() {
        let d = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(d.path()).unwrap();
        j.append(
            vec![Event::ServiceStart {
                version: "t".into(),
            }],
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        j.append(events(3), "2026-01-01T00:00:01Z").unwrap();
        drop(j);
        let (j, _) = Journal::open(d.path()).unwrap();
        assert_eq!(j.next_seq(), 4);
        let report = scan(d.path(), |_| true).unwrap();
        assert_eq!((report.records, report.first_bad.clone()), (4, None));
        assert_eq!(report.head, j.head());
    }

    #[test]
    fn verification_reads_blocks_whose_lines_straddle_their_ends() {
        let d = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(d.path()).unwrap();
        // ~300 bytes a line: 12,000 lines are several blocks, most ends fall inside a line
        for chunk in 0..12 {
            j.append(events(1000), &format!("2026-01-01T00:00:{chunk:02}Z"))
                .unwrap();
        }
        drop(j);
        let seg = segments(d.path()).unwrap().pop().unwrap();
        assert!(std::fs::metadata(&seg).unwrap().len() > 3 * WALK_BLOCK);
        let mut seen = Vec::new();
        let report = scan(d.path(), |r| {
            seen.push(r.seq);
            true
        })
        .unwrap();
        assert_eq!((report.records, report.first_bad), (12_000, None));
        assert_eq!(seen, (0..12_000).collect::<Vec<u64>>());
        // one byte changed in a line past the first block: found, with its line number
        let mut bytes = std::fs::read(&seg).unwrap();
        let at = bytes.len() / 2;
        let key = at
            + bytes[at..]
                .windows(6)
                .position(|w| w == b"\"key\":")
                .unwrap()
            + 8;
        let line = bytes[..key].iter().filter(|b| **b == b'\n').count() as u64 + 1;
        bytes[key] = if bytes[key] == b'0' { b'1' } else { b'0' };
        std::fs::write(&seg, &bytes).unwrap();
        let bad = verify(d.path()).unwrap().first_bad.unwrap();
        assert_eq!((bad.line, bad.expected_seq), (line, line - 1));
        assert_eq!(bad.problem, LineProblem::Changed, "{}", bad.problem);
    }

    #[test]
    fn torn_tail_is_truncated_on_open_but_reported_by_verify() {
        let d = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(d.path()).unwrap();
        j.append(events(2), "2026-01-01T00:00:00Z").unwrap();
        drop(j);
        let seg = segments(d.path()).unwrap().pop().unwrap();
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"{\"seq\":2,\"ts\":").unwrap();
        drop(f);
        let bad = scan(d.path(), |_| true).unwrap().first_bad.unwrap();
        assert_eq!((bad.line, bad.expected_seq), (3, 2));
        let (j, report) = Journal::open(d.path()).unwrap();
        assert_eq!(report.torn_bytes_truncated, 14);
        assert_eq!(j.next_seq(), 2);
        assert!(scan(d.path(), |_| true).unwrap().first_bad.is_none());
    }
}
