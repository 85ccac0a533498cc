//! Email addresses as velvet sees them: one normalized form per person
//! (trimmed, lowercased) and a precise reason when input is not an address.
//!
//! The rules are deliberately stricter than RFC 5321: quoted local parts,
//! IP-literal domains and non-ASCII characters are refused, because a waitlist
//! has no use for them and they are where homoglyph and RTL tricks live.

use std::fmt;

/// Longest address accepted (RFC 5321 path limit minus the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// A syntactically valid, normalized email address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

/// Why a string is not accepted as an email address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the email address is empty")]
    Empty,
    #[error("the email address is longer than {MAX_EMAIL_LEN} characters")]
    TooLong,
    #[error("the email address may only contain plain ASCII characters")]
    NonAscii,
    #[error("the email address contains a space or control character")]
    Whitespace,
    #[error("the email address needs exactly one '@' between name and domain")]
    AtSign,
    #[error("the part before '@' is empty")]
    EmptyLocal,
    #[error("the part before '@' is longer than {MAX_LOCAL_LEN} characters")]
    LocalTooLong,
    #[error("the part before '@' contains '{0}', which is not allowed")]
    LocalChar(char),
    #[error("the part before '@' must not start or end with a dot or contain '..'")]
    LocalDots,
    #[error("the domain is missing after '@'")]
    EmptyDomain,
    #[error("the domain needs a dot, like example.com")]
    DomainNoDot,
    #[error("the domain '{0}' is not a valid host name")]
    DomainInvalid(String),
}

impl Email {
    /// Trims, lowercases and validates `input`.
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        if !trimmed.is_ascii() {
            return Err(EmailError::NonAscii);
        }
        if trimmed.chars().any(|c| c.is_ascii_whitespace() || c.is_ascii_control()) {
            return Err(EmailError::Whitespace);
        }
        let lower = trimmed.to_ascii_lowercase();
        let (local, domain) = match lower.split_once('@') {
            Some((l, d)) if !d.contains('@') => (l, d),
            _ => return Err(EmailError::AtSign),
        };
        check_local(local)?;
        check_domain(domain)?;
        Ok(Email(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        domain_of(&self.0)
    }

    /// The address with most of the local part hidden, for logs and screens
    /// that should not show whole addresses ("ad***@example.com").
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let shown: String = local.chars().take(2).collect();
        format!("{shown}***@{domain}")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_local(local: &str) -> Result<(), EmailError> {
    if local.is_empty() {
        return Err(EmailError::EmptyLocal);
    }
    if local.len() > MAX_LOCAL_LEN {
        return Err(EmailError::LocalTooLong);
    }
    if let Some(c) = local.chars().find(|c| !is_atext(*c) && *c != '.') {
        return Err(EmailError::LocalChar(c));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(EmailError::LocalDots);
    }
    Ok(())
}

/// RFC 5322 `atext`, lowercase form.
fn is_atext(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || "!#$%&'*+/=?^_`{|}~-".contains(c)
}

fn check_domain(domain: &str) -> Result<(), EmailError> {
    if domain.is_empty() {
        return Err(EmailError::EmptyDomain);
    }
    if !domain.contains('.') {
        return Err(EmailError::DomainNoDot);
    }
    let invalid = || EmailError::DomainInvalid(domain.to_string());
    let labels: Vec<&str> = domain.split('.').collect();
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(invalid());
        }
    }
    // The top-level label is letters (or an IDN "xn--" label), never all digits,
    // which also keeps bare IPv4 addresses out.
    let tld = labels.last().copied().unwrap_or_default();
    let tld_ok = tld.len() >= 2 && (tld.chars().all(|c| c.is_ascii_lowercase()) || tld.starts_with("xn--"));
    if !tld_ok {
        return Err(invalid());
    }
    Ok(())
}

/// The domain of a stored, already normalized address ("" if none).
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_lowercases() {
        let e = Email::parse("  Ada.Lovelace+beta@Example.COM \n").unwrap();
        assert_eq!(e.as_str(), "ada.lovelace+beta@example.com");
        assert_eq!(e.domain(), "example.com");
        assert_eq!(e.masked(), "ad***@example.com");
    }

    #[test]
    fn says_why_an_address_is_refused() {
        let cases = [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("ada", EmailError::AtSign),
            ("a@b@example.com", EmailError::AtSign),
            ("@example.com", EmailError::EmptyLocal),
            ("ada@", EmailError::EmptyDomain),
            ("ada@localhost", EmailError::DomainNoDot),
            ("ada@exa_mple.com", EmailError::DomainInvalid("exa_mple.com".into())),
            ("ada@-example.com", EmailError::DomainInvalid("-example.com".into())),
            ("ada@example..com", EmailError::DomainInvalid("example..com".into())),
            ("ada@10.0.0.1", EmailError::DomainInvalid("10.0.0.1".into())),
            (".ada@example.com", EmailError::LocalDots),
            ("a..da@example.com", EmailError::LocalDots),
            ("a(da)@example.com", EmailError::LocalChar('(')),
            ("\"ada\"@example.com", EmailError::LocalChar('"')),
            ("ad a@example.com", EmailError::Whitespace),
            ("ada\0@example.com", EmailError::Whitespace),
            ("аda@example.com", EmailError::NonAscii), // Cyrillic 'а'
            ("ada@exa\u{202e}mple.com", EmailError::NonAscii),
        ];
        for (input, want) in cases {
            assert_eq!(Email::parse(input), Err(want), "input {input:?}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(EmailError::LocalTooLong));
        let long = format!("a@{}.com", "b".repeat(260));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in ["a@b.co", "first.last@sub.example.org", "x_y-z+tag@xn--bcher-kva.example", "o'neil@example.ie"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    fn address() -> impl Strategy<Value = String> {
        ("[A-Za-z0-9_+-]{1,20}(\\.[A-Za-z0-9_+-]{1,10}){0,2}", "[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,5})?", "[A-Za-z]{2,6}")
            .prop_map(|(l, d, t)| format!("{l}@{d}.{t}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn normalization_is_idempotent_and_case_blind(addr in address(), pad in "[ \t\n]{0,3}") {
            let padded = format!("{pad}{addr}{pad}");
            let a = Email::parse(&padded).unwrap();
            prop_assert_eq!(&Email::parse(a.as_str()).unwrap(), &a);
            prop_assert_eq!(&Email::parse(&addr.to_uppercase()).unwrap(), &a);
            prop_assert!(!a.as_str().chars().any(|c| c.is_ascii_uppercase() || c.is_whitespace()));
        }

        /// Hostile alphabets: separators, quotes, brackets, control and
        /// invisible characters, homoglyphs. Whatever passes is plain,
        /// one-'@', printable ASCII that reparses to itself.
        #[test]
        fn hostile_input_never_yields_a_dangerous_address(s in "[a-zA-Z0-9@.+_'\"<>()\\[\\],;:% \t\r\n\u{0}\u{7f}\u{202e}\u{200b}\u{430}\u{ff20}\u{fe6b}-]{0,40}") {
            if let Ok(e) = Email::parse(&s) {
                let a = e.as_str();
                prop_assert!(a.chars().all(|c| c.is_ascii_graphic()), "{:?}", a);
                prop_assert_eq!(a.matches('@').count(), 1);
                prop_assert!(!a.contains(['<', '>', '(', ')', '[', ']', ',', ';', ':', '"', '\\']), "{:?}", a);
                prop_assert_eq!(Email::parse(a).unwrap(), e);
            }
        }

        #[test]
        fn arbitrary_input_never_panics_and_valid_output_reparses(s in "\\PC{0,80}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert!(e.as_str().len() <= MAX_EMAIL_LEN);
                prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e);
            }
        }
    }
}
