//! The changes an operator can ask for, as values. Each knows the
//! permission the service enforces for it, so a front end offers exactly
//! what the service will allow: the console's keys, footer and help are
//! decided by `Action::permission`, and the runner performs the action
//! through the same use cases the shell calls.

use super::BlockSelector;
use crate::domain::{CodeRef, CodeSet, Permission, Switch};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Approve these entries (one, or a marked set).
    Approve(Vec<i64>),
    /// Approve the next N confirmed entries, oldest confirmation first.
    ApproveNext(i64),
    /// Send N invites now, past today's cap.
    SendPastCap(u64),
    Revoke(CodeSet<CodeRef, String>),
    Reissue(String),
    /// Block one person: email, reason.
    Block(String, Option<String>),
    Unblock(String),
    /// Block everyone a selector takes (optionally only in one status), as one batch.
    BlockMany {
        selector: BlockSelector,
        status: Option<String>,
        reason: Option<String>,
    },
    /// Undo a bulk block: its batch id.
    UnblockBatch(i64),
    /// Erase a person's data (the address, typed back by the operator).
    Erase(String),
    Pause(Switch<String>),
    Resume(Switch<String>),
    /// Change one setting: key, value.
    Set(String, String),
    /// Correct a person's address (once).
    ChangeEmail {
        old: String,
        new: String,
    },
}

impl Action {
    /// The permission the service checks before doing this.
    pub fn permission(&self) -> Permission {
        match self {
            Action::Approve(_) | Action::ApproveNext(_) => Permission::Approve,
            Action::SendPastCap(_) => Permission::SendPastCap,
            Action::Revoke(target) => target.permission(),
            Action::Reissue(_) => Permission::Reissue,
            Action::Block(..) | Action::Unblock(_) => Permission::Block,
            Action::BlockMany { .. } | Action::UnblockBatch(_) => Permission::BlockMany,
            Action::Pause(_) | Action::Resume(_) => Permission::Pause,
            Action::Set(..) => Permission::Settings,
            Action::ChangeEmail { .. } => Permission::ChangeEmail,
            Action::Erase(_) => Permission::Erase,
        }
    }
}
