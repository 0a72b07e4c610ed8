//! A region's hub for the benches (issue 28): `n` bodies added to a config, named the way the
//! packages the benches write address them.

/// The id of body `i` (0-based).
pub fn body_id(i: usize) -> String {
    format!("mo-{:03}", i + 1)
}

/// The organisation of body `i` (0-based), as its `[[bodies]]` entry and the packages
/// addressed to it name it.
pub fn body_name(i: usize) -> String {
    format!("Администрация муниципального образования № {}", i + 1)
}

/// `text` (a one-body config) with `[gateway]` stripped of its identity and `n` `[[bodies]]`.
pub fn as_hub(text: &str, n: usize) -> String {
    let mut text: String = text
        .lines()
        .filter(|l| !l.starts_with("participant_uid") && !l.starts_with("organization"))
        .map(|l| format!("{l}\n"))
        .collect();
    for i in 0..n {
        text.push_str(&format!(
            "\n[[bodies]]\nid = \"{}\"\nuid = \"{:08x}-0000-4000-8000-{:012x}\"\norganization = \"{}\"\naliases = [\"МО № {}\"]\n",
            body_id(i),
            i + 1,
            i + 1,
            body_name(i),
            i + 1
        ));
    }
    text
}
