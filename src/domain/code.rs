//! Invite codes: generation, the printed format, forgiving parsing, hashing.
//!
//! A code is 16 random Crockford base32 symbols (80 bits from the OS CSPRNG)
//! followed by one check symbol, printed in groups of four with an optional
//! campaign prefix: `HN-7K3M-QX9P-2HDA-V8WT-W`. The prefix is decoration for
//! humans and carries no secret; lookups use only the 17 symbols, so a code
//! typed without its prefix still works.
//!
//! The check symbol is Luhn mod 32: every single mistyped symbol is caught
//! before any database lookup, and so are most swaps of neighbours.

use sha2::{Digest, Sha256};
use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random symbols per code: 16 × 5 bits = 80 bits.
pub const DATA_SYMBOLS: usize = 16;
const CODE_SYMBOLS: usize = DATA_SYMBOLS + 1;
const GROUP: usize = 4;
/// Longest campaign prefix printed in front of a code.
pub const MAX_PREFIX_LEN: usize = 12;
/// Longest input we even try to parse; anything longer is not a code.
pub const MAX_INPUT_LEN: usize = 64;
/// Symbols kept in clear for support ("…8WTC").
pub const HINT_LEN: usize = 4;

/// A well-formed invite code (check symbol verified). Only its hash is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteCode {
    symbols: String,
    prefix: Option<String>,
}

/// SHA-256 of a code's canonical symbols, hex encoded: what the database keeps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CodeHash(pub String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("an invite code is missing")]
    Empty,
    #[error("that is too long to be an invite code")]
    TooLong,
    #[error("an invite code has {CODE_SYMBOLS} letters and digits; this one has {0}")]
    WrongLength(usize),
    #[error("'{0}' cannot appear in an invite code")]
    BadSymbol(char),
    #[error("the campaign prefix '{0}' is not letters and digits of at most {MAX_PREFIX_LEN}")]
    BadPrefix(String),
    #[error("the invite code has a typo (its check symbol does not match)")]
    Checksum,
}

impl InviteCode {
    /// A fresh code from the operating system's CSPRNG.
    pub fn generate(prefix: Option<&str>) -> Result<InviteCode, CodeError> {
        let prefix = prefix.map(normalize_prefix).transpose()?;
        let mut bytes = [0u8; DATA_SYMBOLS];
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        let values: Vec<u8> = bytes.iter().map(|b| b & 31).collect();
        Ok(InviteCode::from_values(&values, prefix))
    }

    fn from_values(values: &[u8], prefix: Option<String>) -> InviteCode {
        let mut symbols: String = values.iter().map(|&v| ALPHABET[v as usize] as char).collect();
        symbols.push(ALPHABET[luhn32_check(values) as usize] as char);
        InviteCode { symbols, prefix }
    }

    /// Parses what a person typed: case, dashes and spaces do not matter,
    /// O reads as 0 and I/L as 1. The last 17 symbols are the code; anything
    /// before them is taken as the campaign prefix.
    pub fn parse(input: &str) -> Result<InviteCode, CodeError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(CodeError::TooLong);
        }
        let compact: Vec<char> =
            input.chars().filter(|c| !matches!(c, '-' | ' ' | '\t' | '_')).map(|c| c.to_ascii_uppercase()).collect();
        if compact.is_empty() {
            return Err(CodeError::Empty);
        }
        if compact.len() < CODE_SYMBOLS {
            if let Some(c) = compact.iter().find(|c| fold(**c).is_none()) {
                return Err(CodeError::BadSymbol(*c));
            }
            return Err(CodeError::WrongLength(compact.len()));
        }
        let split = compact.len() - CODE_SYMBOLS;
        let prefix: String = compact[..split].iter().collect();
        let prefix = if prefix.is_empty() { None } else { Some(normalize_prefix(&prefix)?) };
        let mut values = Vec::with_capacity(CODE_SYMBOLS);
        for &c in &compact[split..] {
            values.push(fold(c).ok_or(CodeError::BadSymbol(c))?);
        }
        let (data, check) = values.split_at(DATA_SYMBOLS);
        if luhn32_check(data) != check[0] {
            return Err(CodeError::Checksum);
        }
        Ok(InviteCode::from_values(data, prefix))
    }

    /// The 17 canonical symbols, without prefix or dashes.
    pub fn canonical(&self) -> &str {
        &self.symbols
    }

    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    pub fn hash(&self) -> CodeHash {
        CodeHash(sha256_hex(self.symbols.as_bytes()))
    }

    /// The last symbols, stored in clear so support can tell codes apart.
    pub fn hint(&self) -> String {
        self.symbols[CODE_SYMBOLS - HINT_LEN..].to_string()
    }
}

impl fmt::Display for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.prefix {
            write!(f, "{p}-")?;
        }
        let groups: Vec<&str> =
            self.symbols.as_bytes().chunks(GROUP).map(|g| std::str::from_utf8(g).unwrap_or_default()).collect();
        f.write_str(&groups.join("-"))
    }
}

/// Never print a code by accident (logs, panics): Debug shows only the hint.
impl fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InviteCode(…{})", self.hint())
    }
}

/// Turns a campaign name into the printed prefix: uppercase letters and digits.
pub fn normalize_prefix(p: &str) -> Result<String, CodeError> {
    let up: String = p.trim().to_ascii_uppercase();
    let ok = !up.is_empty() && up.len() <= MAX_PREFIX_LEN && up.chars().all(|c| c.is_ascii_alphanumeric());
    if ok { Ok(up) } else { Err(CodeError::BadPrefix(p.to_string())) }
}

/// Crockford decoding with its folds (O→0, I/L→1); U is not a symbol.
fn fold(c: char) -> Option<u8> {
    let c = match c {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET.iter().position(|&a| a as char == c).map(|p| p as u8)
}

/// Luhn mod 32 over 5-bit values: the symbol that makes the weighted sum 0.
fn luhn32_check(values: &[u8]) -> u8 {
    const N: u32 = 32;
    let mut factor = 2;
    let mut sum = 0u32;
    for &v in values.iter().rev() {
        let addend = factor * v as u32;
        sum += addend / N + addend % N;
        factor = if factor == 2 { 1 } else { 2 };
    }
    ((N - sum % N) % N) as u8
}

/// What a code is for (DESIGN: access, referral, partner).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeKind {
    /// Issued to one approved entry, bound to its email.
    Access,
    /// Given to a joined person to invite others.
    Referral,
    /// Made by an operator for a channel.
    Partner,
}

impl CodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeKind::Access => "access",
            CodeKind::Referral => "referral",
            CodeKind::Partner => "partner",
        }
    }

    pub fn parse(s: &str) -> Option<CodeKind> {
        match s {
            "access" => Some(CodeKind::Access),
            "referral" => Some(CodeKind::Referral),
            "partner" => Some(CodeKind::Partner),
            _ => None,
        }
    }
}

impl TryFrom<String> for CodeKind {
    type Error = String;
    fn try_from(s: String) -> Result<CodeKind, String> {
        CodeKind::parse(&s).ok_or_else(|| format!("'{s}' is not a code kind"))
    }
}

impl std::fmt::Display for CodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code's stored status: active until revoked (expiry and uses are
/// read from their own columns, see [`CodeState`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeStatus {
    Active,
    Revoked,
}

impl TryFrom<String> for CodeStatus {
    type Error = String;
    fn try_from(s: String) -> Result<CodeStatus, String> {
        match s.as_str() {
            "active" => Ok(CodeStatus::Active),
            "revoked" => Ok(CodeStatus::Revoked),
            _ => Err(format!("'{s}' is not a code status")),
        }
    }
}

/// A redemption: holding a use for an unconfirmed email, done, or lapsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedemptionStatus {
    Pending,
    Completed,
    Expired,
}

impl TryFrom<String> for RedemptionStatus {
    type Error = String;
    fn try_from(s: String) -> Result<RedemptionStatus, String> {
        match s.as_str() {
            "pending" => Ok(RedemptionStatus::Pending),
            "completed" => Ok(RedemptionStatus::Completed),
            "expired" => Ok(RedemptionStatus::Expired),
            _ => Err(format!("'{s}' is not a redemption status")),
        }
    }
}

/// Where a code stands now: its stored status, its expiry, its uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeState {
    Active,
    Revoked,
    Expired,
    /// Every use taken.
    Used,
    /// Not minted yet: its mail has not gone out.
    Unsent,
}

impl CodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeState::Active => "active",
            CodeState::Revoked => "revoked",
            CodeState::Expired => "expired",
            CodeState::Used => "used",
            CodeState::Unsent => "unsent",
        }
    }
}

impl std::fmt::Display for CodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    super::hex::hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_codes_have_the_documented_shape() {
        let code = InviteCode::generate(Some("hn")).unwrap();
        let printed = code.to_string();
        let groups: Vec<&str> = printed.split('-').collect();
        assert_eq!(groups[0], "HN");
        assert_eq!(groups[1..].iter().map(|g| g.len()).collect::<Vec<_>>(), vec![4, 4, 4, 4, 1]);
        assert_eq!(code.canonical().len(), 17);
        assert_eq!(code.hash().0.len(), 64);
        assert!(printed.ends_with(&code.hint()[3..]));
        assert!(!format!("{code:?}").contains(code.canonical()));
        assert_ne!(InviteCode::generate(None).unwrap(), InviteCode::generate(None).unwrap());
    }

    #[test]
    fn parsing_forgives_case_dashes_spaces_and_lookalikes() {
        let code = InviteCode::from_values(&[0, 1, 1, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], Some("HN".into()));
        let printed = code.to_string();
        let sloppy =
            printed.to_lowercase().replace('-', " ").replacen('0', "o", 1).replacen('1', "l", 1).replacen('1', "I", 1);
        let parsed = InviteCode::parse(&sloppy).unwrap();
        assert_eq!(parsed.hash(), code.hash());
        assert_eq!(parsed.prefix(), Some("HN"));
        let bare = InviteCode::parse(code.canonical()).unwrap();
        assert_eq!(bare.hash(), code.hash());
        assert_eq!(bare.prefix(), None);
    }

    #[test]
    fn malformed_input_gets_a_precise_reason() {
        assert_eq!(InviteCode::parse(" - "), Err(CodeError::Empty));
        assert_eq!(InviteCode::parse("ABC"), Err(CodeError::WrongLength(3)));
        assert_eq!(InviteCode::parse("AB!"), Err(CodeError::BadSymbol('!')));
        assert_eq!(InviteCode::parse(&"A".repeat(65)), Err(CodeError::TooLong));
        assert_eq!(InviteCode::parse("UUUU-UUUU-UUUU-UUUU-U"), Err(CodeError::BadSymbol('U')));
        assert!(matches!(InviteCode::parse("H!-0000-0000-0000-0000-0"), Err(CodeError::BadPrefix(_))));
        let good = InviteCode::generate(None).unwrap().canonical().to_string();
        let first = good.chars().next().unwrap();
        let other = if first == 'A' { 'B' } else { 'A' };
        let typo = format!("{other}{}", &good[1..]);
        assert_eq!(InviteCode::parse(&typo), Err(CodeError::Checksum));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn printed_codes_round_trip(values in proptest::collection::vec(0u8..32, DATA_SYMBOLS), prefix in proptest::option::of("[A-Z0-9]{1,12}")) {
            let code = InviteCode::from_values(&values, prefix.clone());
            let back = InviteCode::parse(&code.to_string()).unwrap();
            prop_assert_eq!(back.canonical(), code.canonical());
            prop_assert_eq!(back.prefix(), prefix.as_deref());
            prop_assert_eq!(InviteCode::parse(&code.to_string().to_lowercase()).unwrap().hash(), code.hash());
        }

        #[test]
        fn every_single_substitution_is_caught(values in proptest::collection::vec(0u8..32, DATA_SYMBOLS), pos in 0usize..17, delta in 1u8..32) {
            let code = InviteCode::from_values(&values, None);
            let mut chars: Vec<u8> = code.canonical().bytes().collect();
            let old = fold(chars[pos] as char).unwrap();
            chars[pos] = ALPHABET[((old + delta) % 32) as usize];
            let typo = String::from_utf8(chars).unwrap();
            prop_assert_eq!(InviteCode::parse(&typo), Err(CodeError::Checksum));
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,70}") {
            let _ = InviteCode::parse(&s);
        }
    }
}
