//! Tokens: confirmation tokens (192 random bits, hex in the link) and
//! operator tokens (the admin API's bearer tokens). Only hashes are stored.

use super::code::sha256_hex;

const TOKEN_BYTES: usize = 24;
pub const TOKEN_LEN: usize = TOKEN_BYTES * 2;

/// A freshly minted token, as it goes into the confirmation link.
pub struct ConfirmToken(String);

impl ConfirmToken {
    pub fn generate() -> ConfirmToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        ConfirmToken(super::hex::hex(&bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        token_hash(&self.0).expect("a generated token is well formed")
    }
}

impl std::fmt::Debug for ConfirmToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfirmToken(…)")
    }
}

/// The stored hash of a token taken from a link, or `None` when the text
/// cannot be a token (so no lookup is made for it).
pub fn token_hash(text: &str) -> Option<String> {
    let t = text.trim().to_ascii_lowercase();
    let ok = t.len() == TOKEN_LEN && t.chars().all(|c| c.is_ascii_hexdigit());
    ok.then(|| sha256_hex(t.as_bytes()))
}

/// What every operator token starts with, so a leaked one is recognisable:
/// secret scanners can match `velvet_op_[0-9a-z]{32}`.
pub const OPERATOR_TOKEN_PREFIX: &str = "velvet_op_";
/// Random symbols after the prefix: 32 × 5 bits = 160 bits.
pub const OPERATOR_TOKEN_SYMBOLS: usize = 32;
/// Symbols kept in clear so a listing can tell tokens apart.
pub const OPERATOR_TOKEN_HINT_LEN: usize = 4;
/// Crockford's base32, lowercase: no i, l, o, u to misread.
const OPERATOR_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// An operator's bearer token for the admin API: `velvet_op_` and 32
/// lowercase Crockford base32 symbols from the OS CSPRNG. Shown once when
/// issued; the database keeps only [`OperatorToken::hash`] and the hint.
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorToken(String);

impl OperatorToken {
    pub fn generate() -> OperatorToken {
        let mut bytes = [0u8; OPERATOR_TOKEN_SYMBOLS];
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        let mut text = String::with_capacity(OPERATOR_TOKEN_PREFIX.len() + OPERATOR_TOKEN_SYMBOLS);
        text.push_str(OPERATOR_TOKEN_PREFIX);
        // 256 is a multiple of 32, so the low five bits of a uniform byte are uniform.
        text.extend(bytes.iter().map(|b| OPERATOR_ALPHABET[(b & 31) as usize] as char));
        OperatorToken(text)
    }

    /// The token in `text` (surrounding whitespace, such as a pasted
    /// newline, is ignored), or `None` when it cannot be one: malformed is
    /// simply "not a token", and no lookup is made for it.
    pub fn parse(text: &str) -> Option<OperatorToken> {
        let t = text.trim();
        let symbols = t.strip_prefix(OPERATOR_TOKEN_PREFIX)?;
        let ok = symbols.len() == OPERATOR_TOKEN_SYMBOLS && symbols.bytes().all(|b| OPERATOR_ALPHABET.contains(&b));
        ok.then(|| OperatorToken(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the whole token, hex: what the database keeps.
    pub fn hash(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    /// The last symbols, stored in clear so a listing can tell tokens apart.
    pub fn hint(&self) -> String {
        self.0[self.0.len() - OPERATOR_TOKEN_HINT_LEN..].to_string()
    }
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OperatorToken(…{})", self.hint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hash_stably() {
        let a = ConfirmToken::generate();
        let b = ConfirmToken::generate();
        assert_eq!(a.as_str().len(), 48);
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(token_hash(&a.as_str().to_uppercase()), Some(a.hash()));
        assert_eq!(token_hash("not-a-token"), None);
        assert_eq!(token_hash(&"g".repeat(48)), None);
    }

    #[test]
    fn operator_tokens_have_a_prefix_160_random_bits_and_parse_strictly() {
        let a = OperatorToken::generate();
        let b = OperatorToken::generate();
        assert_ne!(a, b);
        let text = a.as_str();
        assert_eq!(text.len(), OPERATOR_TOKEN_PREFIX.len() + 32);
        assert!(text.starts_with("velvet_op_"));
        assert!(text["velvet_op_".len()..].bytes().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert!(!text["velvet_op_".len()..].contains(['i', 'l', 'o', 'u']));
        assert_eq!(OperatorToken::parse(&format!("  {text}\n")), Some(a.clone()), "a pasted newline is fine");
        assert_eq!(a.hash(), sha256_hex(text.as_bytes()), "the hash covers the whole token");
        assert_eq!(a.hash().len(), 64);
        assert_eq!(a.hint(), &text[text.len() - 4..]);
        assert!(!format!("{a:?}").contains(text), "Debug never shows the token");
        for bad in [
            "",
            "velvet_op_",
            &text[..text.len() - 1],
            &format!("{text}0"),
            &text.to_uppercase(),
            &text.replace("velvet_op_", "velvet_xx_"),
            &format!("velvet_op_{}", "o".repeat(32)),
            &format!("velvet_op_{}", "é".repeat(16)),
            &format!("Bearer {text}"),
            &"0".repeat(42),
        ] {
            assert_eq!(OperatorToken::parse(bad), None, "{bad:?}");
        }
        // Every symbol of the alphabet shows up across a few tokens: all 5 bits are used.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..64 {
            seen.extend(OperatorToken::generate().as_str()["velvet_op_".len()..].chars());
        }
        assert_eq!(seen.len(), 32);
    }
}
