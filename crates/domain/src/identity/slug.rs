/// Why a tenant slug is not acceptable.
#[derive(Debug, PartialEq, Eq)]
pub enum SlugProblem {
    Shape,
    Reserved,
}

impl std::fmt::Display for SlugProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlugProblem::Shape => f.write_str(
                "must be 2–39 characters: a lowercase letter, then lowercase letters, digits or underscores",
            ),
            SlugProblem::Reserved => f.write_str("is reserved"),
        }
    }
}

/// `^[a-z][a-z0-9_]{1,38}$`, and not a name the platform uses itself. The slug becomes part of a
/// schema and role name, so this check is the gate for every identifier built from it.
pub fn check_slug(slug: &str) -> Result<(), SlugProblem> {
    let bytes = slug.as_bytes();
    let shape = (2..=39).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_');
    if !shape {
        return Err(SlugProblem::Shape);
    }
    const RESERVED: &[&str] = &[
        "public",
        "template",
        "admin",
        "api",
        "www",
        "postgres",
        "pg",
        "system",
        "firelater",
    ];
    if RESERVED.contains(&slug) || slug.starts_with("pg_") {
        return Err(SlugProblem::Reserved);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in [
            "acme",
            "a1",
            "acme_corp",
            "x23456789012345678901234567890123456789",
        ] {
            assert_eq!(check_slug(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "1abc",
            "Acme",
            "ac-me",
            "acme;drop",
            "é",
            "x234567890123456789012345678901234567890",
            "_a",
        ] {
            assert_eq!(check_slug(bad), Err(SlugProblem::Shape), "{bad}");
        }
        assert_eq!(check_slug("public"), Err(SlugProblem::Reserved));
        assert_eq!(check_slug("pg_x"), Err(SlugProblem::Reserved));
    }
}
