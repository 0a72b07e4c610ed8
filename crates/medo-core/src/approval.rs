//! Which documents of ours wait for a person's approval (`[queries]`/`[reports] approval =
//! "operator"`), and which one an approval names. Pure: the loop gathers the pending outputs
//! and what was approved, the rule decides.

use medo_model::{Output, OutputKind};

/// Whether documents of `kind` wait for approval: answers to queries under `queries`,
/// reports under `reports`; notices, receipts and forwarded appeals never do.
pub fn waits(kind: OutputKind, (queries, reports): (bool, bool)) -> bool {
    match kind {
        OutputKind::Response => queries,
        OutputKind::ReportDocument => reports,
        _ => false,
    }
}

/// Whether `output` is named by `id`: its message uid (any case) or our outgoing number.
pub fn named(output: &Output, id: &str) -> bool {
    let id = id.trim();
    output.message_uid.eq_ignore_ascii_case(id)
        || output
            .registration
            .as_ref()
            .is_some_and(|r| r.number.trim() == id)
}

/// Why an approval does not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotApproved {
    #[error("нет документа, ждущего утверждения, с номером или идентификатором {0:?}")]
    NoSuchDocument(String),
    #[error("документ {0:?} уже утверждён")]
    Already(String),
}

/// The one output among `pending` (waiting for approval; `approved` tells which were) that
/// `id` names.
pub fn choose<'o>(
    pending: &'o [(u64, Output)],
    id: &str,
    approved: impl Fn(&str) -> bool,
) -> Result<&'o (u64, Output), NotApproved> {
    let found = pending
        .iter()
        .find(|(_, o)| named(o, id))
        .ok_or_else(|| NotApproved::NoSuchDocument(id.to_string()))?;
    match approved(&found.1.name) {
        true => Err(NotApproved::Already(id.to_string())),
        false => Ok(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(name: &str, kind: OutputKind, uid: &str, number: &str) -> Output {
        let mut o: Output = serde_json::from_str(&format!(
            r#"{{"name":"{name}","kind":"response","message_uid":"{uid}","format":"2.2","created":"2026-12-07T10:00:00+03:00","recipient_uid":"r","about_uid":"a","accepted":true,"comment":null,"registration":{{"organization":null,"number":"{number}","date":"2026-12-07"}}}}"#
        ))
        .unwrap();
        o.kind = kind;
        o
    }

    /// A data table: which kinds wait under which settings.
    #[test]
    fn only_the_configured_documents_wait() {
        use OutputKind::*;
        for (kind, setting, expected) in [
            (Response, (true, false), true),
            (Response, (false, true), false),
            (ReportDocument, (false, true), true),
            (ReportDocument, (true, false), false),
            (Forwarded, (true, true), false),
            (Receipt, (true, true), false),
            (Registered, (true, true), false),
        ] {
            assert_eq!(waits(kind, setting), expected, "{kind:?} {setting:?}");
        }
    }

    #[test]
    fn an_approval_names_a_document_by_its_uid_or_our_number_once() {
        let pending = vec![
            (
                4,
                output(
                    "response-a",
                    OutputKind::Response,
                    "5B0C8F7E-1D2A-5C3B-9E4F-6A7B8C9D0E1F",
                    "ОЗ-3/26",
                ),
            ),
            (
                9,
                output(
                    "report-b",
                    OutputKind::ReportDocument,
                    "11111111-2222-3333-4444-555555555555",
                    "ОЗ-4/26",
                ),
            ),
        ];
        let none = |_: &str| false;
        assert_eq!(choose(&pending, "ОЗ-4/26", none).unwrap().0, 9);
        let by_uid = choose(&pending, "5b0c8f7e-1d2a-5c3b-9e4f-6a7b8c9d0e1f", none).unwrap();
        assert_eq!(by_uid.1.name, "response-a");
        assert_eq!(
            choose(&pending, "ОЗ-5/26", none).unwrap_err(),
            NotApproved::NoSuchDocument("ОЗ-5/26".into())
        );
        let approved = |n: &str| n == "response-a";
        assert_eq!(
            choose(&pending, "ОЗ-3/26", approved).unwrap_err(),
            NotApproved::Already("ОЗ-3/26".into())
        );
    }
}
