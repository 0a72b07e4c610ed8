//! Which body of the node a package is for (issue 28) — by explicit rules, in this order:
//!
//! 1. the participant uids it names — 2.7.1 `deliveryIndex` destinations, then addressees
//!    that carry one (a container passport's `organization/@id`) — matched against the bodies'
//!    uids → those bodies, in the order named;
//! 2. it names uids and none is a body's → [`Route::NotOurs`] (refused «Ошибка адресации»,
//!    as a one-body gateway always did);
//! 3. the addressees' organisation names, normalised ([`normalize_name`]: case, quotes,
//!    «ё»/«е», spaces, «администрация»/«адм.»), against each body's name and aliases;
//! 4. the envelope's `[АДРЕСАТЫ]` against the bodies' own transport addresses;
//! 5. nothing matched: a one-body node takes it (as it always did); a hub holds it for its
//!    operator, «адресат не определён», with the likeliest bodies suggested
//!    ([`Route::Unroutable`]) — unroutable is never refused.

use medo_model::BodyId;

use crate::policy::Body;

/// How a package names whom it is for, as the wire read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressing {
    /// `deliveryIndex` destinations' uids, in order (2.7.1; optional before).
    pub destinations: Vec<String>,
    /// Addressees in order: a participant uid when one is written, and the organisation's name.
    pub addressees: Vec<Addressee>,
    /// The envelope's `[АДРЕСАТЫ]` (VipNet addresses).
    pub transport: Vec<String>,
}

/// One addressee of a document (2.x `addressees/addressee`, a container passport's
/// `addressees/addressee`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressee {
    pub uid: Option<String>,
    pub organization: Option<String>,
}

/// Whom a package is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// These bodies (never empty), in the order the package names them: the first sends the
    /// receipt.
    Bodies(Vec<BodyId>),
    /// Names no body of the hub: held for the operator; the likeliest bodies, best first (at
    /// most [`CANDIDATES`]).
    Unroutable { candidates: Vec<BodyId> },
    /// Names participant uids, none of them a body's.
    NotOurs,
}

/// Bodies suggested for an unroutable package.
pub const CANDIDATES: usize = 3;

/// Applies the module's rules.
pub fn route(a: &Addressing, bodies: &[Body], hub: bool) -> Route {
    let uids: Vec<&str> = a
        .destinations
        .iter()
        .map(String::as_str)
        .chain(a.addressees.iter().filter_map(|x| x.uid.as_deref()))
        .filter(|u| !u.trim().is_empty())
        .collect();
    let by_uid = matching(
        &uids,
        |u, b| b.sender.uid.eq_ignore_ascii_case(u.trim()),
        bodies,
    );
    if !by_uid.is_empty() {
        return Route::Bodies(by_uid);
    }
    if !uids.is_empty() {
        return Route::NotOurs;
    }
    let names: Vec<String> = a
        .addressees
        .iter()
        .filter_map(|x| x.organization.as_deref())
        .map(normalize_name)
        .filter(|n| !n.is_empty())
        .collect();
    let by_name = matching(&names, |n, b| names_of(b).any(|m| *m == *n), bodies);
    if !by_name.is_empty() {
        return Route::Bodies(by_name);
    }
    let by_address = matching(
        &a.transport,
        |t, b| {
            b.transport_address
                .as_deref()
                .is_some_and(|own| own.trim().eq_ignore_ascii_case(t.trim()))
        },
        bodies,
    );
    if !by_address.is_empty() {
        return Route::Bodies(by_address);
    }
    match (hub, bodies.first()) {
        (false, Some(only)) => Route::Bodies(vec![only.id.clone()]),
        _ => Route::Unroutable {
            candidates: candidates(&names, bodies),
        },
    }
}

/// The bodies `named` names, in the order named, each once.
fn matching<T>(named: &[T], is: impl Fn(&T, &Body) -> bool, bodies: &[Body]) -> Vec<BodyId> {
    let mut found: Vec<BodyId> = Vec::new();
    for n in named {
        for b in bodies.iter().filter(|b| is(n, b)) {
            if !found.contains(&b.id) {
                found.push(b.id.clone());
            }
        }
    }
    found
}

/// A body's name and aliases, normalised (once per body: [`Body::normalized_names`]).
fn names_of(b: &Body) -> impl Iterator<Item = &String> + '_ {
    b.normalized_names().iter()
}

/// An organisation's name as routing compares it: lower case, «ё» as «е», no quotes, dots or
/// commas, one space between words, «администрация» (and «адм.») as «адм».
pub fn normalize_name(name: &str) -> String {
    let lower = name.to_lowercase().replace('ё', "е");
    let spaced: String = lower
        .chars()
        .map(|c| match c {
            '«' | '»' | '"' | '“' | '”' | '„' | '\'' | '`' | '.' | ',' | ';' => ' ',
            c => c,
        })
        .collect();
    spaced
        .split_whitespace()
        .map(|w| match w {
            "администрация" | "адм" => "адм",
            w => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words of organisations' names too common to suggest a body by.
const COMMON_WORDS: [&str; 9] = [
    "адм",
    "города",
    "город",
    "района",
    "район",
    "области",
    "муниципального",
    "образования",
    "округа",
];

/// The bodies whose names share the most telling words with the names written, best first;
/// ties in the configuration's order.
fn candidates(names: &[String], bodies: &[Body]) -> Vec<BodyId> {
    let words = |n: &str| -> Vec<String> { n.split(' ').map(str::to_string).collect() };
    let written: Vec<Vec<String>> = names.iter().map(|n| words(n)).collect();
    let mut scored: Vec<(usize, usize, &Body)> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let best = names_of(b)
                .map(|n| {
                    let theirs = words(n);
                    written
                        .iter()
                        .map(|w| {
                            w.iter()
                                .filter(|x| telling(x) && theirs.contains(x))
                                .count()
                        })
                        .max()
                        .unwrap_or(0)
                })
                .max()
                .unwrap_or(0);
            (best, i, b)
        })
        .filter(|(score, _, _)| *score > 0)
        .collect();
    scored.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    scored
        .into_iter()
        .take(CANDIDATES)
        .map(|(_, _, b)| b.id.clone())
        .collect()
}

/// A word worth suggesting a body by: longer than two letters, not a common one.
fn telling(word: &str) -> bool {
    word.chars().count() > 2 && !COMMON_WORDS.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{DocumentsConfig, RegistrationMode};
    use medo_wire::message::Sender;

    fn body(id: &str, uid: &str, name: &str, aliases: &[&str], address: Option<&str>) -> Body {
        Body {
            id: id.into(),
            sender: Sender {
                uid: uid.into(),
                organization: name.into(),
            },
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            transport_address: address.map(Into::into),
            mode: RegistrationMode::Auto,
            number_template: "ОГ-{seq}/{yy}".into(),
            outgoing_template: "ОЗ-{seq}/{yy}".into(),
            documents: DocumentsConfig::default(),
            sstu_department_id: None,
            normalized: Default::default(),
        }
    }

    const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
    const B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
    const C: &str = "cccccccc-0000-4000-8000-000000000003";
    const STRANGER: &str = "dddddddd-0000-4000-8000-000000000004";

    fn hub() -> Vec<Body> {
        vec![
            body(
                "minsoc",
                A,
                "Министерство социального развития Новосибирской области",
                &["Минсоцразвития НСО"],
                None,
            ),
            body(
                "mo-berdsk",
                B,
                "Администрация города Бердска",
                &["Адм. г. Бердска"],
                Some("BERDSK~MEDO"),
            ),
            body(
                "mo-iskitim",
                C,
                "Администрация Искитимского района",
                &[],
                Some("ISKITIM~MEDO"),
            ),
        ]
    }

    fn to(uid: Option<&str>, name: Option<&str>) -> Addressee {
        Addressee {
            uid: uid.map(Into::into),
            organization: name.map(Into::into),
        }
    }

    fn ids(list: &[&str]) -> Route {
        Route::Bodies(list.iter().map(|&i| i.into()).collect())
    }

    /// (what the package says, hub?, where it goes)
    #[test]
    fn routing_follows_its_rules_in_order() {
        let none = Addressing::default();
        let table: Vec<(&str, Addressing, bool, Route)> = vec![
            (
                "a deliveryIndex destination by uid, any case",
                Addressing {
                    destinations: vec![B.to_uppercase()],
                    ..none.clone()
                },
                true,
                ids(&["mo-berdsk"]),
            ),
            (
                "two bodies named: both, in the order named, each once",
                Addressing {
                    destinations: vec![C.into(), A.into(), C.into()],
                    ..none.clone()
                },
                true,
                ids(&["mo-iskitim", "minsoc"]),
            ),
            (
                "a uid of ours among others: ours",
                Addressing {
                    destinations: vec![STRANGER.into(), A.into()],
                    ..none.clone()
                },
                true,
                ids(&["minsoc"]),
            ),
            (
                "only a stranger's uid: not ours (refused as always)",
                Addressing {
                    destinations: vec![STRANGER.into()],
                    addressees: vec![to(None, Some("Администрация города Бердска"))],
                    ..none.clone()
                },
                true,
                Route::NotOurs,
            ),
            (
                "a stranger's uid in a one-body node: not ours",
                Addressing {
                    destinations: vec![STRANGER.into()],
                    ..none.clone()
                },
                false,
                Route::NotOurs,
            ),
            (
                "an addressee's uid (a passport's organization/@id)",
                Addressing {
                    addressees: vec![to(Some(C), Some("что угодно"))],
                    ..none.clone()
                },
                true,
                ids(&["mo-iskitim"]),
            ),
            (
                "a name in other case, quotes, «ё» and «администрация»",
                Addressing {
                    addressees: vec![to(None, Some("  АДМ.  «города»   Бердска "))],
                    ..none.clone()
                },
                true,
                ids(&["mo-berdsk"]),
            ),
            (
                "an alias",
                Addressing {
                    addressees: vec![to(None, Some("минсоцразвития нсо"))],
                    ..none.clone()
                },
                true,
                ids(&["minsoc"]),
            ),
            (
                "a name before the envelope's address",
                Addressing {
                    addressees: vec![to(None, Some("Администрация Искитимского района"))],
                    transport: vec!["BERDSK~MEDO".into()],
                    ..none.clone()
                },
                true,
                ids(&["mo-iskitim"]),
            ),
            (
                "the envelope's [АДРЕСАТЫ] when no name matches",
                Addressing {
                    addressees: vec![to(None, Some("Глава города"))],
                    transport: vec!["berdsk~medo".into()],
                    ..none.clone()
                },
                true,
                ids(&["mo-berdsk"]),
            ),
            (
                "nothing matches in a hub: held, the likeliest suggested",
                Addressing {
                    addressees: vec![to(
                        None,
                        Some("Администрация Искитимского муниципального района"),
                    )],
                    ..none.clone()
                },
                true,
                Route::Unroutable {
                    candidates: vec!["mo-iskitim".into()],
                },
            ),
            (
                "nothing at all in a hub: held, nothing to suggest",
                none.clone(),
                true,
                Route::Unroutable { candidates: vec![] },
            ),
            (
                "nothing matches in a one-body node: its body, as always",
                Addressing {
                    addressees: vec![to(None, Some("Кому-то ещё"))],
                    ..none.clone()
                },
                false,
                ids(&["minsoc"]),
            ),
        ];
        let bodies = hub();
        for (what, addressing, is_hub, expected) in table {
            let bodies = if is_hub { &bodies[..] } else { &bodies[..1] };
            assert_eq!(route(&addressing, bodies, is_hub), expected, "{what}");
        }
    }

    #[test]
    fn names_are_normalised_as_documented() {
        let table = [
            ("Администрация  города Бердска", "адм города бердска"),
            ("АДМ. г. Бердска", "адм г бердска"),
            ("«Минсоцразвития» НСО", "минсоцразвития нсо"),
            ("Управление «Зелёный город»", "управление зеленый город"),
            ("  ", ""),
        ];
        for (name, norm) in table {
            assert_eq!(normalize_name(name), norm, "{name}");
        }
    }
}
