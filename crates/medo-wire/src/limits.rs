//! Bounds on everything the wire layer reads: sizes, counts, depth and compression ratios.
//!
//! Every parser takes a [`Limits`]; nothing reads an unbounded amount of untrusted input.
//! Touches nothing: plain data.

use serde::{Deserialize, Serialize};

/// Limits applied while reading a package. Defaults are safe for real traffic
/// (a 1 GiB attachment passes; a zip bomb or a 10,000-deep XML does not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest envelope (`*.ini` / `*.ltr`) in bytes.
    pub max_envelope_bytes: u64,
    /// Most entries under `[ФАЙЛЫ]` and most directory entries in one package folder.
    pub max_package_files: usize,
    /// Largest communication XML (`document.xml`, `message.xml`, …) in bytes.
    pub max_message_bytes: u64,
    /// Largest container passport (`passport.xml` inside the ZIP) in bytes.
    pub max_passport_bytes: u64,
    /// Deepest element nesting accepted in any XML.
    pub max_xml_depth: usize,
    /// Most elements accepted in one XML document.
    pub max_xml_elements: usize,
    /// Most entries in one ZIP container.
    pub max_zip_entries: usize,
    /// Largest sum of actually decompressed bytes over all entries of one ZIP.
    pub max_zip_total_bytes: u64,
    /// Largest decompressed size of one ZIP entry.
    pub max_zip_entry_bytes: u64,
    /// Highest compression ratio (uncompressed / compressed) of one entry, checked once the
    /// entry has produced more than [`Limits::ratio_check_after_bytes`].
    pub max_zip_ratio: u64,
    /// Below this many decompressed bytes an entry's ratio is not checked (tiny files compress well).
    pub ratio_check_after_bytes: u64,
    /// Largest answer file an operator attaches to «рассмотрено» (it goes to ССТУ.РФ base64
    /// encoded, under 10^7 characters there: 7 MiB).
    pub max_answer_bytes: u64,
}

impl Limits {
    /// The defaults, as a constant: related bounds elsewhere are checked against them when the
    /// code is compiled (`const _: () = assert!(…)`).
    pub const DEFAULT: Limits = Limits {
        max_envelope_bytes: 64 * 1024,
        max_package_files: 1_000,
        max_message_bytes: 16 * 1024 * 1024,
        max_passport_bytes: 8 * 1024 * 1024,
        max_xml_depth: 64,
        max_xml_elements: 200_000,
        max_zip_entries: 1_000,
        max_zip_total_bytes: 4 * 1024 * 1024 * 1024,
        max_zip_entry_bytes: 2 * 1024 * 1024 * 1024,
        max_zip_ratio: 1_000,
        ratio_check_after_bytes: 1024 * 1024,
        max_answer_bytes: 7 * 1024 * 1024,
    };
}

// an entry may reach its own bound before the container's; the ratio is looked at well
// before an entry's bound; a passport is a message-sized XML at most
const _: () = assert!(Limits::DEFAULT.max_zip_entry_bytes <= Limits::DEFAULT.max_zip_total_bytes);
const _: () =
    assert!(Limits::DEFAULT.ratio_check_after_bytes < Limits::DEFAULT.max_zip_entry_bytes);
const _: () = assert!(Limits::DEFAULT.max_passport_bytes <= Limits::DEFAULT.max_message_bytes);

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
