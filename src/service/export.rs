//! Exporting the waitlist, page by page so a million rows stream.

use super::{Actor, Error, Result, Velvet};
use crate::domain::Permission;
use crate::domain::status::STATUS_NAMES;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ExportRow {
    pub id: i64,
    pub email: String,
    pub email_display: String,
    pub status: String,
    pub source: Option<String>,
    pub referrer_id: Option<i64>,
    pub first_seen: DateTime<Utc>,
    pub attempts: i64,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub invited_at: Option<DateTime<Utc>>,
    pub joined_at: Option<DateTime<Utc>>,
}

/// A spreadsheet opening a CSV would run a cell starting with `=`, `+`,
/// `-` or `@` as a formula, and `-@example.com` or `=1+1@x.io` are valid
/// addresses: such cells get a leading `'` (OWASP's advice), which
/// spreadsheets hide and which marks the value as text. Every CSV velvet
/// writes (`velvet export`, the console's `:export`) goes through this.
pub fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

pub fn check_status_filter(status: Option<&str>) -> Result<()> {
    match status {
        Some(s) if !STATUS_NAMES.contains(&s) => {
            Err(Error::InvalidInput(format!("--status must be one of {}, not '{s}'", STATUS_NAMES.join(", "))))
        }
        _ => Ok(()),
    }
}

impl Velvet {
    /// One page of entries after `after_id`, in signup order.
    pub async fn export_page(
        &self,
        actor: &Actor,
        status: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ExportRow>> {
        actor.require(Permission::Read)?;
        check_status_filter(status)?;
        let mut tx = self.store.read().await?;
        let rows = tx.entries_page(status, after_id, limit).await?;
        Ok(rows
            .into_iter()
            .map(|e| ExportRow {
                id: e.id,
                email: e.email,
                email_display: e.email_display,
                status: e.status,
                source: e.source,
                referrer_id: e.referrer_id,
                first_seen: e.first_seen,
                attempts: e.attempts,
                confirmed_at: e.confirmed_at,
                approved_at: e.approved_at,
                invited_at: e.invited_at,
                joined_at: e.joined_at,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::defuse;

    #[test]
    fn cells_a_spreadsheet_would_run_are_defused() {
        for cell in ["=1+1@x.io", "+1", "-@example.com", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(defuse(cell), format!("'{cell}"));
        }
        assert_eq!(defuse("ada@example.com"), "ada@example.com");
        assert_eq!(defuse(""), "");
    }
}
