//! Confirmation tokens: 192 random bits, hex in the link, only the hash stored.

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
}
