//! The waitlist entry state machine of DESIGN.md.
//!
//! ```text
//! pending --confirm--> confirmed --approve--> approved --send invite--> invited --redeem--> joined
//! any state except joined --block--> blocked --unblock--> the state it had
//! confirmed|approved|invited --redeem a referral or partner code--> joined
//! ```
//! A pending entry that redeems a referral or partner code holds a use and
//! joins when it confirms: that is `Confirm` followed by `Join`.
//!
//! `Blocked` remembers the standing it interrupted, and the type makes a
//! "blocked while blocked" or "blocked after joining" state unrepresentable.

use std::fmt;

/// Where a non-blocked, not-yet-joined entry stands in line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Standing {
    Pending,
    Confirmed,
    Approved,
    Invited,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryStatus {
    Waiting(Standing),
    Joined,
    Blocked { was: Standing },
}

/// Something that moves an entry from one status to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transition {
    Confirm,
    Approve,
    SendInvite,
    /// Redeeming the entry's own access code.
    RedeemAccess,
    /// Redeeming someone's referral code or a partner code (email confirmed).
    RedeemShared,
    Block,
    Unblock,
    /// Support corrects the address (once): a pending or confirmed entry
    /// must confirm the new address, so it is pending again; approved and
    /// invited keep their standing (an invite goes to the new address).
    ChangeEmail,
    /// The access code expired unused: back in the approved queue.
    InviteExpired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} an entry that is {}", .transition.verb(), .from)]
pub struct IllegalTransition {
    pub from: EntryStatus,
    pub transition: Transition,
}

impl Transition {
    pub const ALL: [Transition; 9] = [
        Transition::Confirm,
        Transition::Approve,
        Transition::SendInvite,
        Transition::RedeemAccess,
        Transition::RedeemShared,
        Transition::Block,
        Transition::Unblock,
        Transition::ChangeEmail,
        Transition::InviteExpired,
    ];

    pub fn verb(self) -> &'static str {
        match self {
            Transition::Confirm => "confirm",
            Transition::Approve => "approve",
            Transition::SendInvite => "send an invite to",
            Transition::RedeemAccess => "redeem an access code for",
            Transition::RedeemShared => "redeem a shared code for",
            Transition::Block => "block",
            Transition::Unblock => "unblock",
            Transition::ChangeEmail => "change the email of",
            Transition::InviteExpired => "expire the invite of",
        }
    }
}

impl EntryStatus {
    pub const PENDING: EntryStatus = EntryStatus::Waiting(Standing::Pending);
    pub const CONFIRMED: EntryStatus = EntryStatus::Waiting(Standing::Confirmed);
    pub const APPROVED: EntryStatus = EntryStatus::Waiting(Standing::Approved);
    pub const INVITED: EntryStatus = EntryStatus::Waiting(Standing::Invited);

    /// The one table of legal transitions; everything not listed is illegal.
    pub fn apply(self, t: Transition) -> Result<EntryStatus, IllegalTransition> {
        use EntryStatus::*;
        use Standing::*;
        use Transition as T;
        let next = match (self, t) {
            (Waiting(Pending), T::Confirm) => Some(Waiting(Confirmed)),
            (Waiting(Confirmed), T::Approve) => Some(Waiting(Approved)),
            (Waiting(Approved), T::SendInvite) => Some(Waiting(Invited)),
            (Waiting(Invited), T::RedeemAccess) => Some(Joined),
            (Waiting(Confirmed | Approved | Invited), T::RedeemShared) => Some(Joined),
            (Waiting(s), T::Block) => Some(Blocked { was: s }),
            (Blocked { was }, T::Unblock) => Some(Waiting(was)),
            (Waiting(Pending | Confirmed), T::ChangeEmail) => Some(Waiting(Pending)),
            (Waiting(s @ (Approved | Invited)), T::ChangeEmail) => Some(Waiting(s)),
            (Waiting(Invited), T::InviteExpired) => Some(Waiting(Approved)),
            _ => None,
        };
        next.ok_or(IllegalTransition { from: self, transition: t })
    }

    /// The status column value.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Waiting(s) => s.as_str(),
            EntryStatus::Joined => "joined",
            EntryStatus::Blocked { .. } => "blocked",
        }
    }

    /// Rebuilds a status from its two columns (`status`, `blocked_from`).
    pub fn from_columns(status: &str, blocked_from: Option<&str>) -> Option<EntryStatus> {
        match (status, blocked_from) {
            ("joined", None) => Some(EntryStatus::Joined),
            ("blocked", Some(was)) => Standing::parse(was).map(|was| EntryStatus::Blocked { was }),
            (s, None) => Standing::parse(s).map(EntryStatus::Waiting),
            _ => None,
        }
    }

    /// The `blocked_from` column value.
    pub fn blocked_from(self) -> Option<&'static str> {
        match self {
            EntryStatus::Blocked { was } => Some(was.as_str()),
            _ => None,
        }
    }
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Pending => "pending",
            Standing::Confirmed => "confirmed",
            Standing::Approved => "approved",
            Standing::Invited => "invited",
        }
    }

    pub fn parse(s: &str) -> Option<Standing> {
        Some(match s {
            "pending" => Standing::Pending,
            "confirmed" => Standing::Confirmed,
            "approved" => Standing::Approved,
            "invited" => Standing::Invited,
            _ => return None,
        })
    }
}

/// Every value the status column may hold, for filters and validation.
pub const STATUS_NAMES: [&str; 6] = ["pending", "confirmed", "approved", "invited", "joined", "blocked"];

impl fmt::Display for EntryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntryStatus::Blocked { was } => write!(f, "blocked (was {})", was.as_str()),
            other => f.write_str(other.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL_STATES: [EntryStatus; 9] = [
        EntryStatus::PENDING,
        EntryStatus::CONFIRMED,
        EntryStatus::APPROVED,
        EntryStatus::INVITED,
        EntryStatus::Joined,
        EntryStatus::Blocked { was: Standing::Pending },
        EntryStatus::Blocked { was: Standing::Confirmed },
        EntryStatus::Blocked { was: Standing::Approved },
        EntryStatus::Blocked { was: Standing::Invited },
    ];

    #[test]
    fn the_happy_path_walks_to_joined() {
        let mut s = EntryStatus::PENDING;
        for t in [Transition::Confirm, Transition::Approve, Transition::SendInvite, Transition::RedeemAccess] {
            s = s.apply(t).unwrap();
        }
        assert_eq!(s, EntryStatus::Joined);
    }

    #[test]
    fn illegal_moves_are_errors_with_a_readable_message() {
        let err = EntryStatus::PENDING.apply(Transition::Approve).unwrap_err();
        assert_eq!(err.to_string(), "cannot approve an entry that is pending");
        assert!(EntryStatus::Joined.apply(Transition::Block).is_err());
        assert!(EntryStatus::PENDING.apply(Transition::RedeemShared).is_err());
        assert!(EntryStatus::APPROVED.apply(Transition::RedeemAccess).is_err());
        let blocked = EntryStatus::CONFIRMED.apply(Transition::Block).unwrap();
        assert_eq!(blocked.to_string(), "blocked (was confirmed)");
        assert!(blocked.apply(Transition::Block).is_err());
        assert_eq!(blocked.apply(Transition::Unblock).unwrap(), EntryStatus::CONFIRMED);
    }

    #[test]
    fn columns_round_trip_for_every_state() {
        for s in ALL_STATES {
            assert_eq!(EntryStatus::from_columns(s.as_str(), s.blocked_from()), Some(s));
            assert!(STATUS_NAMES.contains(&s.as_str()));
        }
        assert_eq!(EntryStatus::from_columns("blocked", None), None);
        assert_eq!(EntryStatus::from_columns("joined", Some("pending")), None);
        assert_eq!(EntryStatus::from_columns("nonsense", None), None);
    }

    #[test]
    fn an_email_change_sends_the_unconfirmed_back_and_keeps_the_rest() {
        assert_eq!(EntryStatus::CONFIRMED.apply(Transition::ChangeEmail).unwrap(), EntryStatus::PENDING);
        assert_eq!(EntryStatus::PENDING.apply(Transition::ChangeEmail).unwrap(), EntryStatus::PENDING);
        assert_eq!(EntryStatus::APPROVED.apply(Transition::ChangeEmail).unwrap(), EntryStatus::APPROVED);
        assert_eq!(EntryStatus::INVITED.apply(Transition::ChangeEmail).unwrap(), EntryStatus::INVITED);
        let blocked = EntryStatus::Blocked { was: Standing::Pending };
        assert!(blocked.apply(Transition::ChangeEmail).is_err());
        assert_eq!(EntryStatus::INVITED.apply(Transition::InviteExpired).unwrap(), EntryStatus::APPROVED);
        assert!(EntryStatus::APPROVED.apply(Transition::InviteExpired).is_err());
    }

    #[test]
    fn joined_is_terminal() {
        for t in Transition::ALL {
            assert!(EntryStatus::Joined.apply(t).is_err(), "{t:?}");
        }
    }

    proptest! {
        /// No sequence of operations reaches a state the columns cannot hold,
        /// and an illegal operation leaves the state untouched.
        #[test]
        fn no_sequence_reaches_an_illegal_state(ops in proptest::collection::vec(0usize..Transition::ALL.len(), 0..60)) {
            let mut s = EntryStatus::PENDING;
            let mut joined = false;
            for i in ops {
                let t = Transition::ALL[i];
                match s.apply(t) {
                    Ok(next) => {
                        prop_assert!(!joined, "left joined via {:?}", t);
                        if let EntryStatus::Blocked { was } = next {
                            prop_assert_eq!(EntryStatus::Waiting(was), s);
                        }
                        s = next;
                        joined = s == EntryStatus::Joined;
                    }
                    Err(e) => prop_assert_eq!(e.from, s),
                }
                prop_assert_eq!(EntryStatus::from_columns(s.as_str(), s.blocked_from()), Some(s));
            }
        }
    }
}
