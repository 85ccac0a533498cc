//! The public calls: join the waitlist, confirm, redeem. Each is rate
//! limited first, answers calmly, and never says more than it must.

use super::body;
use super::error::Answer;
use super::{App, Caller};
use crate::domain::{Email, InviteCode};
use crate::limiter::{Action, Denied, Signals};
use crate::service::{ConfirmOutcome, Error, RedeemOutcome};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct WaitlistBody {
    email: String,
    note: Option<String>,
    source: Option<String>,
}

#[derive(Deserialize)]
pub struct RedeemBody {
    code: String,
    email: String,
}

const CHECK_EMAIL: &str = "Thanks! Check your inbox for a link to confirm your address.";
const CODE_UNUSABLE: &str =
    "This code can't be used. Check that it was copied whole, or ask whoever gave it to you for a fresh one.";

impl App {
    /// Counts a refusal by a limit or the cooldown (`decision`: "denied"
    /// or "locked"); the first of its window also becomes an event.
    async fn refused(&self, action: Action, denied: &Denied, caller: &Caller, decision: &'static str) {
        self.metrics.limit(&denied.rule, decision);
        if denied.first
            && let Err(e) = self.velvet.note_rate_limited(action.as_str(), &denied.rule, &caller.meta).await
        {
            tracing::warn!(error = %e, "could not record a rate-limit event");
        }
    }

    /// Records a refusal and turns it into a 429.
    async fn slow_down(&self, action: Action, denied: Denied, caller: &Caller) -> Answer {
        self.refused(action, &denied, caller, "denied").await;
        Answer::slow_down(denied.retry_after)
    }

    fn signals<'a>(&self, caller: &'a Caller, email: Option<&'a str>) -> Signals<'a> {
        Signals {
            prefix: caller.meta.ip_prefix.as_deref(),
            ip: Some(&caller.ip_unit),
            email,
            device: caller.device_id.as_deref(),
        }
    }

    pub async fn waitlist(&self, caller: &Caller, headers: &HeaderMap, raw: Body) -> Answer {
        if let Err(d) = self.limiter.check(Action::Signup, self.signals(caller, None)).await {
            return self.slow_down(Action::Signup, d, caller).await;
        }
        let form: WaitlistBody = match body::read(headers, raw).await {
            Ok(f) => f,
            Err(a) => return a,
        };
        let email = match Email::parse(&form.email) {
            Ok(e) => e,
            Err(e) => return invalid_email(&e.to_string()),
        };
        let only_email =
            Signals { prefix: caller.meta.ip_prefix.as_deref(), email: Some(email.as_str()), ..Signals::default() };
        if let Err(d) = self.limiter.check(Action::Signup, only_email).await {
            return self.slow_down(Action::Signup, d, caller).await;
        }
        let allow_resend = self.limiter.peek(Action::Resend, only_email).await.is_ok();
        let result = self
            .velvet
            .signup_may_resend(&form.email, form.note.as_deref(), form.source.as_deref(), &caller.meta, allow_resend)
            .await;
        // New or already listed, the answer leaves at the same moment.
        tokio::time::sleep_until(caller.arrived + self.answer_floor).await;
        match result {
            Ok(outcome) => {
                if matches!(outcome, crate::service::SignupOutcome::Repeat { mailed: true, .. }) {
                    let _ = self.limiter.check(Action::Resend, only_email).await;
                }
                self.metrics.outcome("signup", "accepted");
                self.wake_mailer.notify_one();
                Answer::ok(StatusCode::ACCEPTED, "check_email", CHECK_EMAIL)
            }
            Err(Error::Paused(_)) => {
                self.metrics.outcome("signup", "paused");
                Answer::err(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "paused",
                    "The waitlist is closed for a moment. Please try again a little later.",
                )
            }
            Err(e) => self.public_error("signup", e),
        }
    }

    /// The GET of a confirmation link: checks it, changes nothing. A good
    /// link gets the page with the button (`None`), a bad one the answer.
    pub async fn confirm_page(&self, caller: &Caller, token: &str) -> Option<Answer> {
        if let Err(d) = self.limiter.check(Action::Confirm, self.signals(caller, None)).await {
            return Some(self.slow_down(Action::Confirm, d, caller).await);
        }
        match self.velvet.check_confirm_link(token).await {
            Ok(()) => None,
            Err(Error::BadToken) => {
                self.metrics.outcome("confirm", "invalid_link");
                Some(invalid_link())
            }
            Err(e) => Some(self.public_error("confirm", e)),
        }
    }

    /// The POST of a confirmation link (its page's button, or an API call).
    /// `place`: say where the person stands among the confirmed (for the
    /// browser page; one more query).
    pub async fn confirm(&self, caller: &Caller, token: &str, headers: &HeaderMap, raw: Body, place: bool) -> Answer {
        if let Err(d) = self.limiter.check(Action::Confirm, self.signals(caller, None)).await {
            return self.slow_down(Action::Confirm, d, caller).await;
        }
        if let Err(a) = body::read_any(headers, raw).await {
            return a;
        }
        let (entry_id, joined) = match self.velvet.confirm(token, &caller.meta).await {
            Ok(ConfirmOutcome::Joined { entry_id }) => {
                self.metrics.outcome("confirm", "joined");
                self.wake_mailer.notify_one();
                (entry_id, true)
            }
            Ok(ConfirmOutcome::AlreadyConfirmed { entry_id, joined }) => {
                self.metrics.outcome("confirm", "repeat");
                (entry_id, joined)
            }
            Ok(ConfirmOutcome::Confirmed { entry_id, .. } | ConfirmOutcome::Ignored { entry_id }) => {
                self.metrics.outcome("confirm", "confirmed");
                (entry_id, false)
            }
            Err(Error::BadToken) => {
                self.metrics.outcome("confirm", "invalid_link");
                return invalid_link();
            }
            Err(e) => return self.public_error("confirm", e),
        };
        if joined {
            return Answer::ok(StatusCode::OK, "joined", "Your address is confirmed and you are in. Welcome!")
                .titled("You're in");
        }
        let mut text = "Your address is confirmed. We will write when it is your turn.".to_string();
        if place {
            match self.velvet.place_among_confirmed(entry_id).await {
                Ok(Some(n)) => {
                    text = format!(
                        "Your address is confirmed: you are {} in line. We will write when it is your turn.",
                        crate::domain::explain::ordinal(n as u64)
                    )
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not tell a confirmed person their place"),
            }
        }
        Answer::ok(StatusCode::OK, "confirmed", text).titled("You're on the list")
    }

    pub async fn redeem(&self, caller: &Caller, headers: &HeaderMap, raw: Body) -> Answer {
        if let Some(d) = self.limiter.locked_out(&caller.ip_unit, caller.device_id.as_deref()) {
            self.refused(Action::Redeem, &d, caller, "locked").await;
            return Answer::slow_down(d.retry_after);
        }
        if let Err(d) = self.limiter.check(Action::Redeem, self.signals(caller, None)).await {
            return self.slow_down(Action::Redeem, d, caller).await;
        }
        let form: RedeemBody = match body::read(headers, raw).await {
            Ok(f) => f,
            Err(a) => return a,
        };
        if let Err(e) = InviteCode::parse(&form.code) {
            return self.public_error("redeem", e.into());
        }
        let email = match Email::parse(&form.email) {
            Ok(e) => e,
            Err(e) => return invalid_email(&e.to_string()),
        };
        let only_email =
            Signals { prefix: caller.meta.ip_prefix.as_deref(), email: Some(email.as_str()), ..Signals::default() };
        if let Err(d) = self.limiter.check(Action::Redeem, only_email).await {
            return self.slow_down(Action::Redeem, d, caller).await;
        }
        let result = self.velvet.redeem(&form.code, &form.email, &caller.meta).await;
        // Fresh, joined and blocked emails: the answer leaves at the same moment.
        tokio::time::sleep_until(caller.arrived + self.answer_floor).await;
        match result {
            Ok(RedeemOutcome::Joined { .. }) => {
                self.metrics.outcome("redeem", "joined");
                self.wake_mailer.notify_one();
                Answer::ok(StatusCode::OK, "joined", "You are in. Welcome!")
            }
            Ok(RedeemOutcome::CheckEmail { .. }) => {
                self.metrics.outcome("redeem", "held");
                self.wake_mailer.notify_one();
                Answer::ok(
                    StatusCode::ACCEPTED,
                    "check_email",
                    "Almost there: check your inbox and click the link to confirm your address.",
                )
            }
            Err(Error::CodeUnusable) => {
                self.metrics.outcome("redeem", "unusable");
                match self.limiter.record_failure(&caller.ip_unit, caller.device_id.as_deref()).await {
                    Ok(Some(lock)) => self.refused(Action::Redeem, &lock, caller, "locked").await,
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "could not store a lockout"),
                }
                Answer::err(StatusCode::BAD_REQUEST, "code_unusable", CODE_UNUSABLE)
            }
            Err(Error::Paused(_)) => {
                self.metrics.outcome("redeem", "paused");
                Answer::err(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "paused",
                    "Redemption is paused for a moment. Your code is still good; please try again later.",
                )
            }
            Err(e) => self.public_error("redeem", e),
        }
    }

    /// Maps the remaining service errors: the caller's faults to 4xx with a
    /// precise message, ours to a logged 500 that says nothing internal.
    fn public_error(&self, action: &'static str, e: Error) -> Answer {
        match e {
            Error::InvalidEmail(reason) => invalid_email(&reason.to_string()),
            Error::InvalidCode(reason) => {
                self.metrics.outcome(action, "invalid_code");
                Answer::err(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_code",
                    format!("That doesn't look like an invite code: {reason}."),
                )
            }
            Error::InvalidInput(message) => {
                Answer::err(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", format!("{message}."))
            }
            Error::Conflict(_) => {
                Answer::err(StatusCode::CONFLICT, "try_again", "Two requests crossed; please send yours again.")
            }
            Error::Store(e) if e.is_unavailable() => {
                tracing::warn!(action, error = %e, "database unavailable");
                self.metrics.outcome(action, "unavailable");
                Answer::unavailable()
            }
            other => {
                tracing::error!(action, error = %other, "public request failed");
                self.metrics.outcome(action, "error");
                Answer::internal()
            }
        }
    }
}

/// The one answer for every link that does not confirm: unknown, expired, mangled.
fn invalid_link() -> Answer {
    Answer::err(
        StatusCode::BAD_REQUEST,
        "invalid_link",
        "This confirmation link is not valid any more. Sign up again with the same address for a fresh one; your place is kept.",
    )
}

fn invalid_email(reason: &str) -> Answer {
    Answer::err(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_email",
        format!("That doesn't look like an email address: {reason}."),
    )
}
