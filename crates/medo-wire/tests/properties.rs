//! Property tests: no parser panics on arbitrary or mutated bytes, and arbitrary text in
//! every written field survives write → read in both encodings.

#[path = "support/messages.rs"]
mod messages;

use std::io::Cursor;

use medo_wire::container::read_container;
use medo_wire::envelope;
use medo_wire::message::*;
use medo_wire::read::parse_message;
use medo_wire::write::write_message;
use medo_wire::Limits;
use messages::*;
use proptest::prelude::*;

fn small_limits() -> Limits {
    Limits {
        max_zip_total_bytes: 1 << 20,
        max_zip_entry_bytes: 1 << 20,
        ..Limits::default()
    }
}

/// Valid bytes of several kinds, to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = all_messages(Format::V22)
        .into_iter()
        .chain(all_messages(Format::V271))
        .map(|(_, m)| write_message(&m).unwrap())
        .collect();
    v.push(b"[\xcf\xc8\xd1\xdc\xcc\xce]\r\n[\xd4\xc0\xc9\xcb\xdb]\r\n0=a.pdf\r\n".to_vec());
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn message_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_message(&bytes, &Limits::default());
    }

    #[test]
    fn envelope_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = envelope::parse(&bytes, "envelope.ini", 100);
    }

    #[test]
    fn container_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = read_container(Cursor::new(bytes), &small_limits(), None);
    }

    #[test]
    fn mutated_valid_input_never_panics(
        seed in 0usize..100,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let seeds = seeds();
        let mut bytes = seeds[seed % seeds.len()].clone();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = parse_message(&bytes, &Limits::default());
        let _ = envelope::parse(&bytes, "envelope.ini", 100);
    }

    #[test]
    fn arbitrary_text_round_trips(
        annotation in "[^\\p{Cc}\\u{FFFE}\\u{FFFF}]{1,200}",
        number in "[^\\p{Cc}\\s][^\\p{Cc}]{0,29}[^\\p{Cc}\\s]",
        person in "[а-яА-ЯёЁa-zA-Z .,\"'<>&№-]{1,60}",
        comment in proptest::option::of("[^\\p{Cc}]{1,100}"),
    ) {
        prop_assume!(!annotation.trim().is_empty() && !person.trim().is_empty());
        prop_assume!(comment.as_deref().is_none_or(|c| !c.trim().is_empty()));
        for format in [Format::V22, Format::V271] {
            let mut m = document_with_links(format);
            if let Body::Document { document, .. } = &mut m.body {
                document.annotation = Some(annotation.trim().to_string());
                document.num.number = number.clone();
                document.signatories[0].who.person = Some(person.trim().to_string());
                document.comment = comment.as_ref().map(|c| c.trim().to_string());
            }
            let bytes = write_message(&m).unwrap();
            let back = parse_message(&bytes, &Limits::default()).unwrap();
            prop_assert_eq!(back.message, m);
        }
    }
}
