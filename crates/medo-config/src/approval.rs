//! `[queries] approval` and `[reports] approval` (issue 30): whether our answers to УРОГ
//! queries (and our reports) go out as soon as they are made (`"auto"`, the default) or wait
//! until a person approves them (`"operator"`: «ждёт утверждения», `documents approve`);
//! `approval_alert_secs` — how long one may wait before the alert.

use serde::Deserialize;

use crate::invalid::Invalid;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApproval {
    #[serde(default)]
    approval: Option<String>,
    #[serde(default)]
    approval_alert_secs: Option<u64>,
}

/// Which of our documents wait for a person's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approval {
    /// Answers to УРОГ queries.
    pub queries: bool,
    /// Our reports (documents with the answer file).
    pub reports: bool,
    /// A document waiting longer than this is alerted on.
    pub alert_secs: u64,
}

/// The alert's default: a working day's morning.
pub const ALERT_SECS: u64 = 4 * 3600;

pub(crate) fn approval(
    queries: Option<RawApproval>,
    reports: Option<RawApproval>,
) -> Result<Approval, Invalid> {
    let mode = |raw: &Option<RawApproval>, section: &'static str| -> Result<bool, Invalid> {
        match raw
            .as_ref()
            .and_then(|r| r.approval.as_deref())
            .unwrap_or("auto")
        {
            "auto" => Ok(false),
            "operator" => Ok(true),
            other => Err(Invalid::Approval {
                section,
                value: other.to_string(),
            }),
        }
    };
    let alert = [&queries, &reports]
        .into_iter()
        .filter_map(|r| r.as_ref().and_then(|r| r.approval_alert_secs))
        .min()
        .unwrap_or(ALERT_SECS);
    if alert == 0 {
        return Err(Invalid::Zero {
            key: "approval_alert_secs",
        });
    }
    Ok(Approval {
        queries: mode(&queries, "[queries]")?,
        reports: mode(&reports, "[reports]")?,
        alert_secs: alert,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(mode: &str, alert: Option<u64>) -> Option<RawApproval> {
        Some(RawApproval {
            approval: Some(mode.into()),
            approval_alert_secs: alert,
        })
    }

    #[test]
    fn approval_is_auto_unless_an_operator_is_named() {
        let none = approval(None, None).unwrap();
        assert_eq!(
            (none.queries, none.reports, none.alert_secs),
            (false, false, ALERT_SECS)
        );
        let q = approval(raw("operator", Some(600)), raw("auto", None)).unwrap();
        assert_eq!((q.queries, q.reports, q.alert_secs), (true, false, 600));
        let e = approval(None, raw("manual", None)).unwrap_err().to_string();
        assert!(
            e.contains("[reports] approval") && e.contains("\"operator\""),
            "{e}"
        );
        assert!(approval(raw("auto", Some(0)), None).is_err());
    }
}
