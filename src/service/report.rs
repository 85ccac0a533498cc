//! The founders' weekly numbers: the funnel of a signup cohort and the
//! per-day signups, approvals, joins and failures.

use super::{Actor, Error, Result, Velvet};
use crate::domain::Permission;
use crate::domain::settings::day_start;
use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Day {
    pub day: chrono::NaiveDate,
    pub signups: i64,
    pub confirms: i64,
    pub approvals: i64,
    pub joins: i64,
    pub failures: i64,
    pub refused: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Funnel {
    pub signed_up: i64,
    pub confirmed: i64,
    pub approved: i64,
    pub invited: i64,
    pub joined: i64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub funnel: Funnel,
    pub days: Vec<Day>,
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
        for i in 0..days {
            let from = first + Duration::days(i);
            let mut day = Day { day: from.date_naive(), ..Default::default() };
            for (kind, outcome, n) in tx.count_kinds_between(from, from + Duration::days(1)).await? {
                match (kind.as_str(), outcome.as_deref()) {
                    ("signup", Some("ok")) => day.signups += n,
                    ("confirm", Some("ok")) => day.confirms += n,
                    ("approve", _) => day.approvals += n,
                    ("joined", _) => day.joins += n,
                    ("redeem", Some("failed")) => day.failures += n,
                    ("rate_limited", _) => day.refused += n,
                    _ => {}
                }
            }
            out.push(day);
        }
        Ok(Report {
            since: first,
            until,
            funnel: Funnel { signed_up, confirmed, approved, invited, joined },
            days: out,
        })
    }
}
