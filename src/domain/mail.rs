//! What the outbox holds: the kinds of message velvet sends and where each
//! one is in its delivery. Stored as their names; decoded at the store's
//! boundary, so no layer above compares strings.

use std::fmt;

/// A kind of message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// The double opt-in link.
    Confirm,
    /// An access code (or its reminder).
    Invite,
    /// A joined person's referral code.
    Referral,
    /// The signed call telling the product someone joined.
    Webhook,
    /// "You already have access" (a joined person redeemed again).
    AlreadyJoined,
    /// A page to on-call.
    Alert,
}

impl MailKind {
    pub const ALL: [MailKind; 6] = [
        MailKind::Confirm,
        MailKind::Invite,
        MailKind::Referral,
        MailKind::Webhook,
        MailKind::AlreadyJoined,
        MailKind::Alert,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Confirm => "confirm",
            MailKind::Invite => "invite",
            MailKind::Referral => "referral",
            MailKind::Webhook => "webhook",
            MailKind::AlreadyJoined => "already_joined",
            MailKind::Alert => "alert",
        }
    }

    pub fn parse(text: &str) -> Option<MailKind> {
        MailKind::ALL.into_iter().find(|k| k.as_str() == text.trim())
    }

    /// Calls to a program rather than mail to a person.
    pub fn is_call(self) -> bool {
        matches!(self, MailKind::Webhook | MailKind::Alert)
    }
}

/// Where a message is in its delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    Queued,
    /// Claimed by a dispatcher under a lease.
    Sending,
    Sent,
    /// Gave up after its attempts (or could not be sent at all).
    Failed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Queued => "queued",
            MailStatus::Sending => "sending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<MailStatus> {
        [MailStatus::Queued, MailStatus::Sending, MailStatus::Sent, MailStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

macro_rules! named {
    ($t:ident, $what:literal) => {
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<$t, String> {
                $t::parse(&s).ok_or_else(|| format!("'{s}' is not a {}", $what))
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        /// Compares with a name, as the outbox and the tests spell it.
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}
named!(MailKind, "kind of message");
named!(MailStatus, "message status");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_itself() {
        for k in MailKind::ALL {
            assert_eq!(MailKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.as_str()));
        }
        assert_eq!(MailKind::parse("sms"), None);
        assert_eq!(format!("{:<8}|", MailStatus::Sent), "sent    |");
    }
}
