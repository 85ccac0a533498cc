//! The one sentence support reads first: where a person is and why.
//! Pure: the service gathers the facts, this turns them into words.

use super::status::{EntryStatus, Standing};
use super::timefmt::relative;
use chrono::{DateTime, Utc};

/// The state of the newest access code of an entry, as far as explaining goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeState {
    Active { expires_at: DateTime<Utc> },
    Expired { at: DateTime<Utc> },
    Revoked { at: DateTime<Utc> },
    Used,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailState {
    Queued,
    Sent { at: DateTime<Utc> },
    Failed { at: DateTime<Utc>, error: String },
}

/// Facts about one entry, gathered by the service.
#[derive(Clone, Debug)]
pub struct Situation {
    pub status: EntryStatus,
    pub first_seen: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub invited_at: Option<DateTime<Utc>>,
    pub joined_at: Option<DateTime<Utc>>,
    /// 1-based place among approved entries waiting for an invite.
    pub queue_position: Option<u64>,
    /// Invites still allowed today under the cap.
    pub cap_remaining: u64,
    pub redemption_paused: bool,
    /// A pending redemption holds a use until this time.
    pub hold_until: Option<DateTime<Utc>>,
    pub access_code: Option<CodeState>,
    /// The newest mail to this person (confirmation or invite).
    pub last_mail: Option<MailState>,
    pub block_reason: Option<String>,
    /// When support changed the address (it can happen once).
    pub email_changed_at: Option<DateTime<Utc>>,
    /// When the newest access code expired unused (the entry was approved again).
    pub invite_expired_at: Option<DateTime<Utc>>,
}

pub fn explain(s: &Situation, now: DateTime<Utc>) -> String {
    let ago = |t: Option<DateTime<Utc>>| t.map(|t| relative(now, t)).unwrap_or_else(|| "at some point".into());
    let mail = |s: &Situation| match &s.last_mail {
        Some(MailState::Failed { at, error }) => format!(", mail failed {}: {error}", relative(now, *at)),
        Some(MailState::Queued) => ", mail queued, not sent yet".to_string(),
        _ => String::new(),
    };
    match s.status {
        EntryStatus::Joined => format!("joined {}", ago(s.joined_at)),
        EntryStatus::Blocked { was } => {
            let why = s.block_reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            format!("blocked{why}; was {} before (unblock restores it)", was.as_str())
        }
        EntryStatus::Waiting(Standing::Pending) => match s.hold_until {
            Some(until) => format!(
                "redeemed a code {}, waiting for the email to be confirmed (use held until {}){}",
                ago(Some(s.first_seen)),
                relative(now, until),
                mail(s)
            ),
            None => match s.email_changed_at {
                Some(at) => format!(
                    "signed up {}, address changed on {}, has not confirmed the new address yet{}",
                    ago(Some(s.first_seen)),
                    super::timefmt::utc_day(at),
                    mail(s)
                ),
                None => format!("signed up {}, has not confirmed the email yet{}", ago(Some(s.first_seen)), mail(s)),
            },
        },
        EntryStatus::Waiting(Standing::Confirmed) => {
            format!("confirmed {}, waiting for approval", ago(s.confirmed_at))
        }
        EntryStatus::Waiting(Standing::Approved) => {
            let place = s.queue_position.map(|p| format!(": {} in line", ordinal(p))).unwrap_or_default();
            let why =
                if s.cap_remaining == 0 { "waiting for tomorrow's cap" } else { "waiting for the pacer to send it" };
            match s.invite_expired_at {
                Some(at) => format!(
                    "invite expired unused on {}; approved again, {why}{place}",
                    super::timefmt::utc_day(at),
                    why = if s.cap_remaining == 0 {
                        "waiting for tomorrow's cap"
                    } else {
                        "waiting for the pacer to send a fresh one"
                    }
                ),
                None => format!("confirmed {}, approved {}, {why}{place}", ago(s.confirmed_at), ago(s.approved_at)),
            }
        }
        EntryStatus::Waiting(Standing::Invited) => {
            let sent = format!("invite mailed {}", ago(s.invited_at));
            let code = match &s.access_code {
                Some(CodeState::Expired { at }) => {
                    format!(", code expired {}; reissue to send a fresh one", relative(now, *at))
                }
                Some(CodeState::Revoked { at }) => {
                    format!(", code revoked {}; reissue to send a fresh one", relative(now, *at))
                }
                Some(CodeState::Active { expires_at }) => format!(", code valid until {}", relative(now, *expires_at)),
                Some(CodeState::Used) | None => String::new(),
            };
            let paused = if s.redemption_paused { "; redemption is paused right now" } else { "" };
            format!("{sent}{}{code}{paused}", mail(s))
        }
    }
}

pub fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn base(now: DateTime<Utc>, status: EntryStatus) -> Situation {
        Situation {
            status,
            first_seen: now - Duration::days(3),
            confirmed_at: Some(now - Duration::hours(2)),
            approved_at: Some(now - Duration::hours(1)),
            invited_at: Some(now - Duration::days(3)),
            joined_at: None,
            queue_position: Some(12),
            cap_remaining: 0,
            redemption_paused: false,
            hold_until: None,
            access_code: None,
            last_mail: None,
            block_reason: None,
            email_changed_at: None,
            invite_expired_at: None,
        }
    }

    #[test]
    fn sentences_support_can_read_out() {
        let now = Utc::now();
        assert_eq!(
            explain(&base(now, EntryStatus::APPROVED), now),
            "confirmed 2 h ago, approved 1 h ago, waiting for tomorrow's cap: 12th in line"
        );
        let mut s = base(now, EntryStatus::INVITED);
        s.last_mail = Some(MailState::Failed { at: now - Duration::days(3), error: "mailbox full".into() });
        assert_eq!(explain(&s, now), "invite mailed 3 d ago, mail failed 3 d ago: mailbox full");
        s.last_mail = None;
        s.access_code = Some(CodeState::Expired { at: now - Duration::days(1) });
        assert_eq!(explain(&s, now), "invite mailed 3 d ago, code expired 1 d ago; reissue to send a fresh one");
        let mut b = base(now, EntryStatus::Blocked { was: Standing::Confirmed });
        b.block_reason = Some("bot wave".into());
        assert_eq!(explain(&b, now), "blocked: bot wave; was confirmed before (unblock restores it)");
        let mut again = base(now, EntryStatus::APPROVED);
        again.invite_expired_at = Some(chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 27, 9, 0, 0).unwrap());
        again.cap_remaining = 5;
        assert_eq!(
            explain(&again, now),
            "invite expired unused on 2026-11-27; approved again, waiting for the pacer to send a fresh one: 12th in line"
        );
        let mut moved = base(now, EntryStatus::PENDING);
        moved.email_changed_at = Some(chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 21, 9, 0, 0).unwrap());
        assert_eq!(
            explain(&moved, now),
            "signed up 3 d ago, address changed on 2026-11-21, has not confirmed the new address yet"
        );
        assert_eq!(ordinal(1), "1st");
        assert_eq!(ordinal(12), "12th");
        assert_eq!(ordinal(22), "22nd");
    }
}
