/// Why a password is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort,
    TooLong,
    TooCommon,
    ContainsEmail,
}

impl std::fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PasswordProblem::TooShort => "must be at least 8 characters",
            PasswordProblem::TooLong => "must be at most 128 characters",
            PasswordProblem::TooCommon => "is one of the most common passwords; choose another",
            PasswordProblem::ContainsEmail => "must not be your e-mail address",
        })
    }
}

/// NIST 800-63B style: length 8–128 (in characters), no composition rules, refuse the most
/// common passwords and the account's own e-mail address.
pub fn check_password(password: &str, email: &str) -> Result<(), PasswordProblem> {
    let chars = password.chars().count();
    if chars < 8 {
        return Err(PasswordProblem::TooShort);
    }
    if chars > 128 {
        return Err(PasswordProblem::TooLong);
    }
    let lower = password.to_lowercase();
    if COMMON.binary_search(&lower.as_str()).is_ok() {
        return Err(PasswordProblem::TooCommon);
    }
    let email = email.trim().to_lowercase();
    if !email.is_empty() && (lower == email || email.split('@').next() == Some(lower.as_str())) {
        return Err(PasswordProblem::ContainsEmail);
    }
    Ok(())
}

/// The most common passwords of 8+ characters from public breach corpora (lowercased, sorted).
static COMMON: &[&str] = &[
    "11111111",
    "1111111111",
    "123123123",
    "12345678",
    "123456789",
    "1234567890",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "87654321",
    "88888888",
    "987654321",
    "aa123456",
    "abc12345",
    "abcd1234",
    "administrator",
    "asdfghjkl",
    "baseball",
    "basketball",
    "changeme",
    "charlie1",
    "computer",
    "danielle",
    "dragon123",
    "football",
    "iloveyou",
    "iloveyou1",
    "jennifer",
    "letmein1",
    "letmein123",
    "liverpool",
    "master123",
    "michelle",
    "mustang1",
    "passw0rd",
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "princess",
    "q1w2e3r4",
    "qwe123456",
    "qwerty123",
    "qwerty1234",
    "qwertyuiop",
    "starwars",
    "sunshine",
    "superman",
    "trustno1",
    "welcome1",
    "welcome123",
    "whatever",
    "zaq12wsx",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_for_binary_search() {
        let mut sorted = COMMON.to_vec();
        sorted.sort();
        assert_eq!(sorted, COMMON);
    }

    #[test]
    fn rules() {
        assert_eq!(check_password("short", ""), Err(PasswordProblem::TooShort));
        assert_eq!(
            check_password(&"x".repeat(129), ""),
            Err(PasswordProblem::TooLong)
        );
        assert_eq!(
            check_password("Password123", ""),
            Err(PasswordProblem::TooCommon)
        );
        assert_eq!(
            check_password("ada@example.com", "Ada@example.com"),
            Err(PasswordProblem::ContainsEmail)
        );
        assert_eq!(
            check_password("correct horse battery", "ada@example.com"),
            Ok(())
        );
        // Length counts characters, not bytes.
        assert_eq!(
            check_password("ééééééé", ""),
            Err(PasswordProblem::TooShort)
        );
    }
}
