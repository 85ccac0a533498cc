//! The kinds of events in the append-only trail, and the outcome of each.

use std::fmt;

macro_rules! kinds {
    ($($variant:ident => $name:literal),* $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventKind { $($variant),* }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(EventKind::$variant => $name),* }
            }

            pub fn parse(s: &str) -> Option<EventKind> {
                match s { $($name => Some(EventKind::$variant),)* _ => None }
            }
        }
    };
}

kinds! {
    Signup => "signup",
    SignupRepeat => "signup_repeat",
    Confirm => "confirm",
    Approve => "approve",
    InviteSent => "invite_sent",
    CodeIssued => "code_issued",
    RedeemAttempt => "redeem",
    RedeemHeld => "redeem_held",
    HoldReleased => "hold_released",
    Joined => "joined",
    Block => "block",
    Unblock => "unblock",
    Revoke => "revoke",
    Reissue => "reissue",
    Pause => "pause",
    Resume => "resume",
    Setting => "setting",
    OperatorAdded => "operator_added",
    OperatorRoleChanged => "operator_role_changed",
    OperatorRemoved => "operator_removed",
    TokenIssued => "token_issued",
    TokenRevoked => "token_revoked",
    RateLimited => "rate_limited",
    Alert => "alert",
    AlertResolved => "alert_resolved",
    MailFailed => "mail_failed",
    MailInterrupted => "mail_interrupted",
    MailRetried => "mail_retried",
    EmailChanged => "email_changed",
    InviteReminder => "invite_reminder",
    InviteExpired => "invite_expired",
    BulkBlock => "bulk_block",
    BulkUnblock => "bulk_unblock",
    Erased => "erased",
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an attempt ended, as recorded on its event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Held,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Held => "held",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(*k));
            assert!(seen.insert(k.as_str()));
        }
    }
}
