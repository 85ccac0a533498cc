//! The founders' weekly numbers: the funnel of a signup cohort and the
//! per-day signups, approvals, joins and failures.

use super::{Actor, Error, Result, Velvet};
use crate::domain::Permission;
use crate::domain::settings::day_start;
use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Day {
    pub day: chrono::NaiveDate,
    pub signups: i64,
    pub confirms: i64,
    pub approvals: i64,
    pub joins: i64,
    pub failures: i64,
    pub refused: i64,
    /// Access codes that expired unused (the entry went back to approved).
    pub expired_invites: i64,
}

/// One week (Monday to Sunday, UTC) of the report's days.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Week {
    /// The Monday it starts on (the report's first week may start before `since`).
    pub starts: chrono::NaiveDate,
    pub invites_sent: i64,
    pub expired_invites: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Funnel {
    pub signed_up: i64,
    pub confirmed: i64,
    pub approved: i64,
    pub invited: i64,
    pub joined: i64,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub funnel: Funnel,
    pub days: Vec<Day>,
    pub weeks: Vec<Week>,
}

impl Velvet {
    /// The report for the `days` UTC days ending today.
    pub async fn report(&self, actor: &Actor, days: i64) -> Result<Report> {
        actor.require(Permission::Read)?;
        if !(1..=366).contains(&days) {
            return Err(Error::InvalidInput("--since must be between 1d and 366d".into()));
        }
        let until = self.now();
        let first = day_start(until) - Duration::days(days - 1);
        let mut tx = self.store.read().await?;
        let (signed_up, confirmed, approved, invited, joined) = tx.funnel_since(first).await?;
        let mut out = Vec::with_capacity(days as usize);
        let mut weeks: Vec<Week> = Vec::new();
        for i in 0..days {
            let from = first + Duration::days(i);
            let mut day = Day { day: from.date_naive(), ..Default::default() };
            let mut sent = 0;
            for (kind, outcome, n) in tx.count_kinds_between(from, from + Duration::days(1)).await? {
                match (kind.as_str(), outcome.as_deref()) {
                    ("signup", Some("ok")) => day.signups += n,
                    ("confirm", Some("ok")) => day.confirms += n,
                    ("approve", _) => day.approvals += n,
                    ("joined", _) => day.joins += n,
                    ("redeem", Some("failed")) => day.failures += n,
                    ("rate_limited", _) => day.refused += n,
                    ("invite_sent", _) => sent += n,
                    ("invite_expired", _) => day.expired_invites += n,
                    _ => {}
                }
            }
            let starts = day.day.week(chrono::Weekday::Mon).first_day();
            if weeks.last().is_none_or(|w: &Week| w.starts != starts) {
                weeks.push(Week { starts, ..Default::default() });
            }
            if let Some(w) = weeks.last_mut() {
                w.invites_sent += sent;
                w.expired_invites += day.expired_invites;
            }
            out.push(day);
        }
        Ok(Report {
            since: first,
            until,
            funnel: Funnel { signed_up, confirmed, approved, invited, joined },
            days: out,
            weeks,
        })
    }
}
