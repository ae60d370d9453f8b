//! The icons categories and items may show: a fixed set (`static/src/icons.txt`), drawn from
//! one SVG sprite that `.ci/assets` builds from the pinned lucide-static package, so nothing
//! is fetched at run time and a name is either one of these or refused.

/// Where the sprite is served; an icon is `<use href="{SPRITE}#name">`.
pub const SPRITE: &str = "/static/vendor/catalog-icons-0.460.0.svg";

const LIST: &str = include_str!("../../static/src/icons.txt");

/// Every icon as (name, label for people), in the list's order.
pub fn all() -> impl Iterator<Item = (&'static str, &'static str)> {
    LIST.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('|'))
        .map(|(n, label)| (n.trim(), label.trim()))
}

pub fn is_known(name: &str) -> bool {
    all().any(|(n, _)| n == name)
}

/// The 422 message for an icon that is not in the set.
pub fn problem(name: &str) -> Option<String> {
    (!is_known(name)).then(|| {
        let names: Vec<&str> = all().map(|(n, _)| n).collect();
        format!("'{name}' is not one of the icons: {}", names.join(", "))
    })
}
