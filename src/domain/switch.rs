//! The names pauses are stored under. Written once here: every pause and
//! every check of one goes through `Switch::key`.

/// One pausable thing, resolved (an inviter by entry id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch<'a> {
    Redemption,
    Signups,
    Campaign(&'a str),
    Inviter(i64),
}

impl Switch<'_> {
    /// The `switches.scope` value.
    pub fn key(&self) -> String {
        match self {
            Switch::Redemption => "redemption".into(),
            Switch::Signups => "signups".into(),
            Switch::Campaign(c) => format!("campaign:{c}"),
            Switch::Inviter(id) => format!("inviter:{id}"),
        }
    }
}
