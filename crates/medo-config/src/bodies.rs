//! `[[bodies]]`: the bodies a region's hub serves on one МЭДО node (issue 28). Each has its
//! own МЭДО uid, organisation, names it is addressed by, sequences, mode, signer and ССТУ.РФ
//! department; what a body does not say it takes from the node's sections
//! (`[registration]`, `[numbering]`, `[documents]`). Without `[[bodies]]` the node is one
//! body, `main`, given by `[gateway]`.

use serde::Deserialize;

use medo_core::policy::{Body, DocumentsConfig, PartnerConfig, RegistrationMode};
use medo_core::route::normalize_name;
use medo_wire::message::Sender;

use crate::{is_guid, template, Invalid, RawSstu};

/// At most this many bodies: the `body` label of the appeal gauges stays bounded.
pub const MAX_BODIES: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBody {
    id: String,
    uid: String,
    organization: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    transport_address: Option<String>,
    #[serde(default)]
    number_template: Option<String>,
    #[serde(default)]
    outgoing_template: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    sstu: Option<RawSstu>,
    #[serde(default)]
    signer_post: Option<String>,
    #[serde(default)]
    signer_name: Option<String>,
    #[serde(default)]
    executor_name: Option<String>,
    #[serde(default)]
    executor_phone: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    contacts: Option<String>,
}

/// What a body takes from the node when it does not say: the mode, the two templates, the
/// documents' description.
pub(crate) struct NodeDefaults<'a> {
    pub mode: RegistrationMode,
    pub number_template: &'a str,
    pub outgoing_template: &'a str,
    pub documents: &'a DocumentsConfig,
}

/// `[[bodies]]`, each checked, then checked against each other and the partners: ids, uids,
/// names (with aliases, normalised as routing compares them) and transport addresses unique;
/// no body is a partner.
pub(crate) fn bodies(
    raw: Vec<RawBody>,
    node: &NodeDefaults,
    partners: &[PartnerConfig],
) -> Result<Vec<Body>, Invalid> {
    if raw.len() > MAX_BODIES {
        return Err(Invalid::TooManyBodies(raw.len()));
    }
    let bodies = raw
        .into_iter()
        .map(|b| body(b, node))
        .collect::<Result<Vec<_>, _>>()?;
    unique(&bodies, partners)?;
    Ok(bodies)
}

/// One `[[bodies]]` entry checked, with the node's defaults filled in.
fn body(raw: RawBody, node: &NodeDefaults) -> Result<Body, Invalid> {
    let id = raw.id.trim().to_string();
    if !is_slug(&id) {
        return Err(Invalid::BodyId(raw.id));
    }
    if !is_guid(raw.uid.trim()) {
        return Err(Invalid::BodyUid(id));
    }
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let Some(organization) = given(Some(raw.organization)) else {
        return Err(Invalid::BodyEmpty {
            id,
            key: "organization",
        });
    };
    let mode = match raw.mode.as_deref().map(str::trim) {
        None => node.mode,
        Some("auto") => RegistrationMode::Auto,
        Some("manual") => RegistrationMode::Manual,
        Some(other) => {
            return Err(Invalid::BodyMode {
                id,
                mode: other.to_string(),
            })
        }
    };
    let documents = DocumentsConfig {
        signer_post: given(raw.signer_post).or_else(|| node.documents.signer_post.clone()),
        signer_name: given(raw.signer_name).or_else(|| node.documents.signer_name.clone()),
        executor_name: given(raw.executor_name).or_else(|| node.documents.executor_name.clone()),
        executor_phone: given(raw.executor_phone).or_else(|| node.documents.executor_phone.clone()),
        address: given(raw.address).or_else(|| node.documents.address.clone()),
        contacts: given(raw.contacts).or_else(|| node.documents.contacts.clone()),
        ..node.documents.clone()
    };
    Ok(Body {
        sender: Sender {
            uid: raw.uid.trim().to_lowercase(),
            organization,
        },
        aliases: raw
            .aliases
            .into_iter()
            .filter_map(|a| given(Some(a)))
            .collect(),
        transport_address: given(raw.transport_address),
        mode,
        number_template: template(
            given(raw.number_template).or_else(|| Some(node.number_template.to_string())),
            "",
            "[[bodies]] number_template",
        )?,
        outgoing_template: template(
            given(raw.outgoing_template).or_else(|| Some(node.outgoing_template.to_string())),
            "",
            "[[bodies]] outgoing_template",
        )?,
        documents,
        sstu_department_id: given(raw.sstu.and_then(|s| s.department_id)),
        id: id.into(),
        normalized: Default::default(),
    })
}

/// A body's id: 1–63 lower-case Latin letters, digits and hyphens, not starting with a hyphen
/// (it goes into URLs, CLI arguments and metric labels as it is).
fn is_slug(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// No two bodies share an id, a uid, a name (aliases included) or a transport address; no
/// body is also a partner.
fn unique(bodies: &[Body], partners: &[PartnerConfig]) -> Result<(), Invalid> {
    let mut ids = std::collections::HashSet::new();
    let mut uids = std::collections::HashSet::new();
    let mut addresses = std::collections::HashSet::new();
    let mut names: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for b in bodies {
        let repeated = |what, value: &str| Invalid::BodyRepeated {
            what,
            value: value.to_string(),
        };
        if !ids.insert(b.id.as_str()) {
            return Err(repeated("id", &b.id));
        }
        if !uids.insert(b.sender.uid.as_str()) {
            return Err(repeated("uid", &b.sender.uid));
        }
        if let Some(a) = &b.transport_address {
            if !addresses.insert(a.to_lowercase()) {
                return Err(repeated("transport_address", a));
            }
        }
        if let Some(p) = partners.iter().find(|p| p.uid == b.sender.uid) {
            return Err(Invalid::BodyIsPartner {
                id: b.id.to_string(),
                partner: p.name.clone(),
            });
        }
        for name in std::iter::once(&b.sender.organization).chain(&b.aliases) {
            let norm = normalize_name(name);
            match names.get(&norm) {
                Some(other) if *other != b.id.as_str() => {
                    return Err(Invalid::BodyName {
                        id: b.id.to_string(),
                        other: other.to_string(),
                        name: name.clone(),
                    })
                }
                _ => {
                    names.insert(norm, b.id.as_str());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Config;
    use std::path::Path;

    const BASE: &str = include_str!("../../../config/gateway.toml");
    const OURS: &str = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";

    /// The bundled config as a hub: `[gateway]` without its identity, then `bodies`.
    fn hub(bodies: &str) -> String {
        let node = BASE
            .replace(&format!("participant_uid = \"{OURS}\""), "")
            .replace(
                "organization = \"Федеральное агентство по образцам (пример)\"",
                "",
            );
        format!("{node}\n{bodies}")
    }

    const TWO: &str = r#"
[[bodies]]
id = "mo-berdsk"
uid = "bbbbbbbb-0000-4000-8000-000000000002"
organization = "Администрация города Бердска"
aliases = ["Адм. г. Бердска"]
transport_address = "BERDSK~MEDO"
number_template = "Б-{seq}/{yy}"
signer_name = "И. И. Иванов"

[[bodies]]
id = "minsoc"
uid = "AAAAAAAA-0000-4000-8000-000000000001"
organization = "Министерство социального развития"
mode = "manual"
[bodies.sstu]
department_id = "54-minsoc"
"#;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("gateway.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_one_body_config_is_the_body_main() {
        let c = parse(BASE).unwrap();
        assert!(!c.policy.hub);
        assert_eq!(c.policy.bodies.len(), 1);
        let main = &c.policy.bodies[0];
        assert_eq!(main.id, "main");
        assert_eq!(main.sender, c.policy.sender);
        assert_eq!(main.sender.uid, OURS);
        assert_eq!(main.number_template, "ОГ-{seq}/{yy}");
    }

    #[test]
    fn a_hub_gives_each_body_its_own_and_the_node_the_rest() {
        let c = parse(&hub(TWO)).unwrap();
        assert!(c.policy.hub);
        let ids: Vec<&str> = c.policy.bodies.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["mo-berdsk", "minsoc"]);
        let (berdsk, minsoc) = (&c.policy.bodies[0], &c.policy.bodies[1]);
        assert_eq!(berdsk.number_template, "Б-{seq}/{yy}");
        assert_eq!(
            berdsk.outgoing_template, "ОЗ-{seq}/{yy}",
            "the node's [numbering]"
        );
        assert_eq!(
            berdsk.documents.signer_name.as_deref(),
            Some("И. И. Иванов")
        );
        assert_eq!(berdsk.transport_address.as_deref(), Some("BERDSK~MEDO"));
        assert_eq!(minsoc.sender.uid, "aaaaaaaa-0000-4000-8000-000000000001");
        assert_eq!(minsoc.mode, medo_core::policy::RegistrationMode::Manual);
        assert_eq!(
            minsoc.number_template, "ОГ-{seq}/{yy}",
            "the node's [registration]"
        );
        assert_eq!(minsoc.sstu_department_id.as_deref(), Some("54-minsoc"));
        assert_eq!(
            c.policy.sender, berdsk.sender,
            "the first body's at the top"
        );
        let p = c.policy.for_body("minsoc").unwrap();
        assert_eq!(
            (p.sender.uid.as_str(), p.mode),
            (minsoc.sender.uid.as_str(), minsoc.mode)
        );
        assert!(c.policy.for_body("nobody").is_none());
    }

    /// (what is wrong, the config, words the refusal must say)
    #[test]
    fn a_wrong_body_is_refused_with_its_key() {
        let second = |extra: &str| {
            hub(&format!(
                "{TWO}\n[[bodies]]\nid = \"mo-iskitim\"\nuid = \"cccccccc-0000-4000-8000-000000000003\"\norganization = \"Администрация Искитимского района\"\n{extra}"
            ))
        };
        let cases: Vec<(&str, String, &str)> = vec![
            (
                "no identity and no bodies",
                hub(""),
                "[gateway] participant_uid должен быть GUID",
            ),
            (
                "an id that is no slug",
                hub(&TWO.replace("id = \"mo-berdsk\"", "id = \"Бердск\"")),
                "[[bodies]] id \"Бердск\"",
            ),
            (
                "an id twice",
                hub(&TWO.replace("id = \"minsoc\"", "id = \"mo-berdsk\"")),
                "id \"mo-berdsk\" повторяется",
            ),
            (
                "a uid twice (in another case)",
                second("").replace(
                    "cccccccc-0000-4000-8000-000000000003",
                    "BBBBBBBB-0000-4000-8000-000000000002",
                ),
                "uid \"bbbbbbbb-0000-4000-8000-000000000002\" повторяется",
            ),
            (
                "a name another body is called by, spelled otherwise",
                second("aliases = [\"«Администрация» г Бердска\"]"),
                "совпадает с именем органа \"mo-berdsk\"",
            ),
            (
                "an address twice",
                second("transport_address = \"berdsk~medo\""),
                "transport_address \"berdsk~medo\" повторяется",
            ),
            (
                "a body that is a partner",
                second("").replace(
                    "cccccccc-0000-4000-8000-000000000003",
                    "2d7c5a1e-8b3f-4e6a-9c0d-1f2e3a4b5c6d",
                ),
                "тот же uid, что у партнёра",
            ),
            (
                "a mode",
                second("mode = \"sometimes\""),
                "[[bodies]] \"mo-iskitim\": mode \"sometimes\"",
            ),
            (
                "a template without {seq}",
                second("number_template = \"И-1\""),
                "[[bodies]] number_template: шаблон должен содержать {seq}",
            ),
            (
                "an empty name",
                second("").replace("Администрация Искитимского района", " "),
                "organization не может быть пустым",
            ),
            (
                "[gateway] naming a uid that is no body's",
                hub(TWO).replace(
                    "[gateway]",
                    "[gateway]\nparticipant_uid = \"dddddddd-0000-4000-8000-000000000004\"",
                ),
                "при [[bodies]] это uid одного из органов",
            ),
        ];
        for (what, text, words) in cases {
            let e = parse(&text)
                .err()
                .unwrap_or_else(|| panic!("{what}: accepted"));
            assert!(e.contains(words), "{what}: {e}");
        }
        let client = "[[api.clients]]\nname = \"delo\"\ntoken_sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\nscopes = [\"read\"]\nbodies = [\"mo-berdsk\", \"mo-nowhere\"]\n";
        let e = parse(&format!("{}\n{client}", hub(TWO))).unwrap_err();
        assert!(e.contains("bodies: нет органа \"mo-nowhere\""), "{e}");
        let known = client.replace(", \"mo-nowhere\"", "");
        let c = parse(&format!("{}\n{known}", hub(TWO))).unwrap();
        assert!(c.api_clients[0].sees("mo-berdsk") && !c.api_clients[0].sees("minsoc"));
        let gateway_is_a_body = hub(TWO).replace(
            "[gateway]",
            "[gateway]\nparticipant_uid = \"bbbbbbbb-0000-4000-8000-000000000002\"",
        );
        assert!(
            parse(&gateway_is_a_body).is_ok(),
            "[gateway] may name one of the bodies"
        );
    }
}
