//! A journal record read in one pass when its `kind` follows `seq`, `ts` and `prev`, as the
//! journal's writer puts it.
//!
//! serde reads an internally tagged enum (`Event`, `tag = "kind"`) by first copying the
//! whole object into its private `Content` buffer and then reading the variant from the copy
//! (serde-rs/serde#1495; its maintainer wants a faster read done outside serde, #1407) — most
//! of the time it takes to decode a journal line. Here the variant is named by the `kind`
//! member and its fields are read straight from the line by serde's own derived code for the
//! same variants as an *externally tagged* enum: `EventByKind`, generated from `Event`'s own
//! definition by [`event_with_kind_first_reader!`] (every serde attribute as written), with
//! `remote = "Event"` so that it builds an `Event`.
//!
//! What this reader does not expect — another order of the record's members, one of them
//! repeated, a unit variant with members — it refuses, and the caller reads the line with
//! the derived `Deserialize for Record`, whose result and error stand. That [`decode`] never
//! accepts a line the derived reader refuses, nor reads one differently, is checked by a unit
//! test over every kind and by the journal fuzz target on every input.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, VariantAccess};
use serde::de::{IntoDeserializer, Visitor};

use super::{EventByKind, Record};

/// Defines `Event` as written and, beside it, `EventByKind`: the same variants, fields and
/// serde attributes, externally tagged, read into an `Event` (`remote`). Only [`decode`] uses
/// it; the journal format is `Event`'s. `Event`'s container attributes are not copied (its
/// `tag` must not be): its `rename_all` is repeated below, and the test over every kind fails
/// if the two part.
macro_rules! event_with_kind_first_reader {
    (
        $(#[$attr:meta])*
        pub enum Event {
            $(
                $(#[$vattr:meta])*
                $variant:ident $({
                    $( $(#[$fattr:meta])* $field:ident : $ty:ty ),* $(,)?
                })?
            ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        pub enum Event {
            $( $(#[$vattr])* $variant $({ $( $(#[$fattr])* $field : $ty ),* })? ),*
        }

        /// `Event`'s variants as an externally tagged enum, for [`kind_first::decode`].
        #[derive(Deserialize)]
        #[serde(remote = "Event", rename_all = "snake_case")]
        #[allow(dead_code)] // serde builds `Event`s from it; it is never built itself
        enum EventByKind {
            $( $(#[$vattr])* $variant $({ $( $(#[$fattr])* $field : $ty ),* })? ),*
        }
    };
}

/// Reads a record whose first four members are `seq`, `ts`, `prev` and `kind`, the event's
/// fields straight from the input. Refuses what it does not expect (see the module's text):
/// fall back to the derived reader then.
pub fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Record, D::Error> {
    d.deserialize_map(RecordVisitor)
}

/// [`decode`] of a whole JSON text (a journal line): nothing may follow the record.
pub fn from_str(text: &str) -> Result<Record, serde_json::Error> {
    let mut d = serde_json::Deserializer::from_str(text);
    decode(&mut d).and_then(|r| d.end().map(|()| r))
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a journal record: seq, ts, prev and kind first")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let seq = member(&mut map, "seq")?;
        let ts = member(&mut map, "ts")?;
        let prev = member(&mut map, "prev")?;
        if map.next_key::<Key>()?.is_none_or(|k| k.0 != "kind") {
            return Err(de::Error::custom("kind is not the fourth member"));
        }
        let mut hash = None;
        let event = EventByKind::deserialize(Rest {
            map: &mut map,
            hash: &mut hash,
        })?;
        let hash = hash.ok_or_else(|| de::Error::missing_field("hash"))?;
        Ok(Record {
            seq,
            ts,
            prev,
            event,
            hash,
        })
    }
}

/// The value of the next member, which must be `name`.
fn member<'de, A: MapAccess<'de>, T: serde::Deserialize<'de>>(
    map: &mut A,
    name: &'static str,
) -> Result<T, A::Error> {
    match map.next_key::<Key>()? {
        Some(k) if k.0 == name => map.next_value(),
        _ => Err(de::Error::custom(format_args!(
            "{name} is not in its place"
        ))),
    }
}

/// A member's name, borrowed from the input where it can be (unescaped).
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member's name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(v.into()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key(v.to_owned().into()))
    }
}

/// The record after its `kind` member: the event's variant and fields, with the record's
/// `hash` taken out wherever it stands.
struct Rest<'m, 'h, A> {
    map: &'m mut A,
    hash: &'h mut Option<String>,
}

impl<'de, A: MapAccess<'de>> Rest<'_, '_, A> {
    /// The next member that is the event's, the hash taken aside on the way.
    fn next_event_key(&mut self) -> Result<Option<Key<'de>>, A::Error> {
        while let Some(key) = self.map.next_key::<Key>()? {
            match &*key.0 {
                "hash" if self.hash.is_none() => *self.hash = Some(self.map.next_value()?),
                "hash" | "seq" | "ts" | "prev" | "kind" => {
                    return Err(de::Error::custom("a record's member is repeated"));
                }
                _ => return Ok(Some(key)),
            }
        }
        Ok(None)
    }
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Rest<'_, '_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("an event is read as an enum"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for Rest<'_, '_, A> {
    type Error = A::Error;
    type Variant = Self;

    /// The variant is the `kind` member's value.
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), A::Error> {
        let variant = self.map.next_value_seed(seed)?;
        Ok((variant, self))
    }
}

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for Rest<'_, '_, A> {
    type Error = A::Error;

    /// A unit variant (`service_stop`): nothing follows but the hash.
    fn unit_variant(mut self) -> Result<(), A::Error> {
        match self.next_event_key()? {
            None => Ok(()),
            Some(_) => Err(de::Error::custom("a unit event with members")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, A::Error> {
        Err(de::Error::custom("events have no newtype variants"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("events have no tuple variants"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }
}

/// The event's fields, as a map for the variant's derived reader.
impl<'de, A: MapAccess<'de>> MapAccess<'de> for Rest<'_, '_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match self.next_event_key()? {
            None => return Ok(None),
            Some(Key(Cow::Borrowed(k))) => seed.deserialize(BorrowedStrDeserializer::new(k)),
            Some(Key(Cow::Owned(k))) => seed.deserialize(IntoDeserializer::into_deserializer(k)),
        }
        .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = r#"{"name":"registered-d5-4","kind":"registered","message_uid":"u","format":"2.2","created":"2026-11-23T08:00:00+03:00","recipient_uid":"r","about_uid":"a","accepted":true,"comment":null,"registration":{"organization":null,"number":"ОГ-1/26","date":"2026-11-23"},"files":[{"kept":"k","name":"n.pdf","sha256":"s","pages":2,"description":"d"}],"restricted":true}"#;

    /// An event of every kind after its `kind` member, as the writer puts it: optional
    /// members present and absent, escapes, nested structs and the `step` enum.
    fn events() -> Vec<String> {
        let o = OUTPUT;
        [
            r#""service_start","version":"1.0""#.to_string(),
            r#""service_stop""#.into(),
            r#""received","key":"k","src":"54334177","claim":"c0-1-1","files":2,"bytes":1287"#.into(),
            r#""parsed","arrival":0,"key":"k","header_uid":"h","header_type":"Документ","format":"2.2","source_uid":"s","document_uid":null,"warnings":1"#.into(),
            r#""duplicate","arrival":5,"key":"k","of":0,"by":"uid""#.into(),
            r#""quarantined","arrival":5,"key":"k","code":"bad_xml","message":"строка \"1\"\n","header_uid":"h""#.into(),
            format!(r#""decided","arrival":0,"key":"k","outputs":[{o},{o}]"#),
            r#""unrouted","arrival":3,"key":"k","candidates":["mo-berdsk","minsoc"]"#.into(),
            format!(r#""assigned","arrival":3,"key":"k","body":"mo-berdsk","outputs":[{o}],"operator":"ivanova","command":"c""#),
            r#""document_signed","arrival":7,"key":"k","name":"n","signature":{"kept":"signatures/n.p7s","sha256":"s","document_kept":"signatures/n.pdf","document_sha256":"d","certificate":{"serial":"01AF","owner":"Иванов И.И.","valid_from":"2026-01-01","valid_to":"2027-01-01"}}"#.into(),
            r#""document_signed","arrival":7,"key":"k","name":"n","signature":{"kept":"signatures/n.p7s","sha256":"s","document_kept":"signatures/n.pdf","document_sha256":"d"}"#.into(),
            r#""document_approved","arrival":7,"key":"k","name":"n","operator":"ivanova","command":"c""#.into(),
            r#""document_approved","arrival":7,"key":"k","name":"n""#.into(),
            r#""applicant_notified","appeal":4,"status":"registered","message_id":"<appeal-4-registered@x>","sent":true"#.into(),
            r#""applicant_notified","appeal":4,"status":"answered","message_id":"<m>","sent":false,"reason":"нет адреса""#.into(),
            r#""published","arrival":0,"key":"k","name":"n","sha256":"s""#.into(),
            r#""archived","arrival":0,"key":"k","dir":"archive/2026-11-23/k""#.into(),
            r#""appeal_received","appeal":4,"key":"k","urog_number":"А26-02-4","urog_number_norm":"А26-02-4","urog_date":"2026-11-19","urog_organization":null,"document_uid":"d","source_uid":"s","format":"2.7.1","restricted":false,"signatures":[{"document":"a.pdf","signature":"a.sig","encoding":"der","status":"verified"}],"held":null,"cites":[1,2],"files":[{"name":"a.pdf","role":"document","size":10,"sha256":"s","container":"c.zip"},{"name":"b","role":"other","size":0,"sha256":"t"}]"#.into(),
            r#""appeal_received","appeal":4,"key":"k","urog_number":"А26-02-4","urog_number_norm":"А26-02-4","urog_date":null,"urog_organization":null,"document_uid":"d","source_uid":"s","format":"2.2","restricted":false,"signatures":[],"held":null,"body":"mo-berdsk""#.into(),
            format!(r#""appeal_registered","appeal":4,"number":"ОГ-1/26","year":2026,"year_seq":1,"date":"2026-11-23","pin_hash":"x","by":"operator","outputs":[{o}],"overrides":"no_text","comment":"c","operator":"ivanov","command":"cmd-1""#),
            r#""appeal_registered","appeal":4,"number":"ОГ-1/26","year":-1,"year_seq":1,"date":"2026-11-23","pin_hash":"x","by":"auto","outputs":[]"#.into(),
            format!(r#""appeal_refused","appeal":4,"reason":"Отсутствует текст","comment":null,"by":"auto","outputs":[{o}],"command":"c""#),
            r#""appeal_redelivered","appeal":4,"of":9,"outputs":[]"#.into(),
            format!(r#""query_answered","arrival":7,"key":"k","query_number":"А26-05-1","query_date":null,"requested":["А26-02-1"],"unresolved":[],"outputs":[{o}],"number":"ОГ-1/26","year":2026,"year_seq":1,"reanswer":2"#),
            r#""receipt_received","arrival":8,"about_uid":"a","accepted":false,"comment":"нет","by_operator":true,"error_code":"E1","error_file":"f","output":"o""#.into(),
            r#""receipt_received","arrival":8,"about_uid":"a","accepted":true,"comment":null"#.into(),
            format!(r#""resent","arrival":8,"message_uid":"m","attempt":3,"outputs":[{o}]"#),
            r#""retried","arrival":8,"to":"inbound","command":"c""#.into(),
            r#""appeal_progress","appeal":4,"step":{"step":"executor-assigned","executor":"Петров","post":null},"outputs":[],"command":"c""#.into(),
            r#""appeal_progress","appeal":4,"step":{"step":"redirected","to":"МВД","sstu_id":"1","number":"2"},"outputs":[],"number":"ОГ-1/26","year":2026,"year_seq":1"#.into(),
            r#""command_poisoned","command":"c","op":"progress","about":"ОГ-1/26","reason":"сбой""#.into(),
            r#""journal_recovered","missing":["anchor","pin-key"],"comment":"диск","operator":"ivanova""#.into(),
        ]
        .into()
    }

    fn line(kind_and_members: &str) -> String {
        format!(
            r#"{{"seq":3,"ts":"2026-11-23T05:00:00Z","prev":"{}","kind":{kind_and_members},"hash":"{}"}}"#,
            "0".repeat(64),
            "a".repeat(64)
        )
    }

    /// The kinds the derived reader knows, from its error for a kind it does not.
    fn every_kind() -> Vec<String> {
        let e = serde_json::from_str::<Record>(&line(r#""no_such_kind""#)).unwrap_err();
        let text = e.to_string();
        let expected = text.split("expected one of").nth(1).expect(&text);
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_kind_reads_in_one_pass_as_the_derived_reader_reads_it() {
        let mut seen = std::collections::BTreeSet::new();
        for event in events() {
            let line = line(&event);
            let derived: Record = serde_json::from_str(&line).expect(&line);
            assert_eq!(
                serde_json::to_string(&derived).unwrap(),
                line,
                "not canonical"
            );
            assert_eq!(from_str(&line).expect(&line), derived, "{line}");
            seen.insert(derived.event.kind());
        }
        let every = every_kind();
        assert_eq!(every.len(), 25, "{every:?}");
        for kind in every {
            assert!(
                seen.contains(kind.as_str()),
                "no line of kind {kind} in the table"
            );
        }
    }

    /// What the one-pass reader refuses, and the derived reader's verdict on the same line
    /// (which stands: the journal reads such a line with it).
    #[test]
    fn what_it_does_not_expect_it_leaves_to_the_derived_reader() {
        let h = "a".repeat(64);
        let z = "0".repeat(64);
        for (text, derived_reads_it) in [
            // members in another order
            (
                format!(r#"{{"ts":"t","seq":1,"prev":"{z}","kind":"service_stop","hash":"{h}"}}"#),
                true,
            ),
            (
                format!(
                    r#"{{"seq":1,"ts":"t","prev":"{z}","key":"k","kind":"archived","arrival":1,"dir":"d","hash":"{h}"}}"#
                ),
                true,
            ),
            // a record's member repeated inside the event
            (
                format!(
                    r#"{{"seq":1,"ts":"t","prev":"{z}","kind":"archived","arrival":1,"key":"k","kind":"parsed","dir":"d","hash":"{h}"}}"#
                ),
                false,
            ),
            (
                format!(
                    r#"{{"seq":1,"ts":"t","prev":"{z}","kind":"archived","arrival":1,"key":"k","dir":"d","hash":"{h}","hash":"{h}"}}"#
                ),
                false,
            ),
            (
                format!(
                    r#"{{"seq":1,"ts":"t","prev":"{z}","kind":"archived","arrival":1,"seq":2,"key":"k","dir":"d","hash":"{h}"}}"#
                ),
                false,
            ),
            // a unit event with members
            (
                format!(
                    r#"{{"seq":1,"ts":"t","prev":"{z}","kind":"service_stop","extra":1,"hash":"{h}"}}"#
                ),
                true,
            ),
            // the variant's number as its kind (serde's derived reader takes it)
            (
                format!(r#"{{"seq":1,"ts":"t","prev":"{z}","kind":1,"hash":"{h}"}}"#),
                true,
            ),
            // the hash missing; no kind
            (
                format!(r#"{{"seq":1,"ts":"t","prev":"{z}","kind":"service_stop"}}"#),
                false,
            ),
            (
                format!(r#"{{"seq":1,"ts":"t","prev":"{z}","hash":"{h}"}}"#),
                false,
            ),
        ] {
            assert!(from_str(&text).is_err(), "read in one pass: {text}");
            let derived = serde_json::from_str::<Record>(&text);
            assert_eq!(derived.is_ok(), derived_reads_it, "{text}: {derived:?}");
        }
    }

    /// Escaped names and values, members the event does not know, the hash not last: read
    /// in one pass, exactly as the derived reader reads them.
    #[test]
    fn escapes_unknown_members_and_a_hash_elsewhere_read_alike() {
        let h = "a".repeat(64);
        let z = "0".repeat(64);
        for text in [
            format!(
                r#"{{"seq":1,"ts":"t","prev":"{z}","kind":"\u0061rchived","\u0061rrival":1,"key":"k\"","dir":"d","hash":"{h}"}}"#
            ),
            format!(
                r#"{{"seq":1,"ts":"t","prev":"{z}","kind":"archived","arrival":1,"later":[1,{{"a":null}}],"key":"k","dir":"d","hash":"{h}"}}"#
            ),
            format!(
                r#"{{"seq":1,"ts":"t","prev":"{z}","kind":"archived","hash":"{h}","arrival":1,"key":"k","dir":"d"}}"#
            ),
        ] {
            let derived: Record = serde_json::from_str(&text).expect(&text);
            assert_eq!(from_str(&text).expect(&text), derived);
        }
    }
}
