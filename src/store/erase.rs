//! Erasing one person: their address, display form, note, user agents and
//! device hashes go, everywhere; ids, times and kinds stay, so counts and
//! the event trail are whole. Every statement binds its values.

use super::{Result, Tx, exec, on};
use chrono::{DateTime, Utc};

/// `%text%` for LIKE.
fn containing(text: &str) -> String {
    format!("%{}%", super::like_literal(text))
}

impl Tx {
    /// Locks the person's mail before anything else of theirs: the
    /// dispatcher holds a claimed message while it mints the message's
    /// code, so an erasure that revoked the code first and then waited for
    /// the message would deadlock with it. (SQLite has one writer: nothing to do.)
    pub async fn lock_mail_of(&mut self, entry_id: i64) -> Result<()> {
        let sqlite = "SELECT id FROM outbox WHERE entry_id = $1";
        let postgres = "SELECT id FROM outbox WHERE entry_id = $1 ORDER BY id FOR UPDATE";
        on!(self, sqlite = sqlite, postgres = postgres, |sql, c| sqlx::query_scalar::<_, i64>(sql)
            .bind(entry_id)
            .fetch_all(c))?;
        Ok(())
    }

    /// The entry keeps its id, times and place in every count; its address
    /// becomes `anon`, the display form too, and note and device hash go. A
    /// waiting entry is blocked (reason `erased`) so nothing is sent to it.
    pub async fn erase_entry(&mut self, id: i64, anon: &str, now: DateTime<Utc>) -> Result<bool> {
        let sql = "UPDATE entries SET email = $2, email_display = $2, note = NULL, device_hash = NULL, \
                   blocked_from = CASE WHEN status IN ('pending', 'confirmed', 'approved', 'invited') THEN status ELSE blocked_from END, \
                   blocked_at = CASE WHEN status = 'joined' THEN blocked_at ELSE COALESCE(blocked_at, $3) END, \
                   block_reason = CASE WHEN status = 'joined' THEN block_reason ELSE 'erased' END, \
                   block_batch_id = NULL, \
                   status = CASE WHEN status = 'joined' THEN status ELSE 'blocked' END \
                   WHERE id = $1";
        Ok(exec!(self, c => sqlx::query(sql).bind(id).bind(anon).bind(now).execute(c))? == 1)
    }

    /// The person's mail: their rows are addressed to `anon` and what was
    /// still queued will not go out; any row naming `address` (a webhook
    /// about someone they invited, an SMTP error quoting it) has it replaced.
    pub async fn erase_mail(&mut self, entry_id: i64, address: &str, anon: &str, now: DateTime<Utc>) -> Result<u64> {
        let own = "UPDATE outbox SET recipient = CASE WHEN kind = 'webhook' THEN recipient ELSE $2 END, \
                   last_error = CASE WHEN status IN ('queued', 'sending') THEN 'erased before it was sent' ELSE last_error END, \
                   next_attempt_at = CASE WHEN status IN ('queued', 'sending') THEN $3 ELSE next_attempt_at END, \
                   status = CASE WHEN status IN ('queued', 'sending') THEN 'failed' ELSE status END \
                   WHERE entry_id = $1";
        let mut n = exec!(self, c => sqlx::query(own).bind(entry_id).bind(anon).bind(now).execute(c))?;
        let named = "UPDATE outbox SET recipient = REPLACE(recipient, $1, $2), payload = REPLACE(payload, $1, $2), \
                     last_error = REPLACE(last_error, $1, $2) \
                     WHERE recipient LIKE $3 ESCAPE '\\' OR payload LIKE $3 ESCAPE '\\' OR last_error LIKE $3 ESCAPE '\\'";
        let pattern = containing(address);
        n += exec!(self, c => sqlx::query(named).bind(address).bind(anon).bind(pattern.as_str()).execute(c))?;
        Ok(n)
    }

    /// The event trail: the person's events lose user agent and device hash;
    /// any event naming `address` (an email change, a revoke by inviter, a
    /// reason an operator typed) has it replaced by `anon`.
    pub async fn erase_events(&mut self, entry_id: i64, address: &str, anon: &str) -> Result<u64> {
        let own = "UPDATE events SET user_agent = NULL, device_hash = NULL WHERE entry_id = $1";
        let mut n = exec!(self, c => sqlx::query(own).bind(entry_id).execute(c))?;
        let named = "UPDATE events SET detail = REPLACE(detail, $1, $2), reason = REPLACE(reason, $1, $2), \
                     rule = REPLACE(rule, $1, $2) \
                     WHERE detail LIKE $3 ESCAPE '\\' OR reason LIKE $3 ESCAPE '\\' OR rule LIKE $3 ESCAPE '\\'";
        let pattern = containing(address);
        n += exec!(self, c => sqlx::query(named).bind(address).bind(anon).bind(pattern.as_str()).execute(c))?;
        Ok(n)
    }

    /// What operators typed about others that names `address` (a block
    /// reason, a note, a pause's or a revoke's reason): replaced by `anon`.
    pub async fn erase_mentions(&mut self, address: &str, anon: &str) -> Result<u64> {
        let pattern = containing(address);
        let mut n = 0;
        for sql in [
            "UPDATE entries SET note = REPLACE(note, $1, $2), block_reason = REPLACE(block_reason, $1, $2) \
             WHERE note LIKE $3 ESCAPE '\\' OR block_reason LIKE $3 ESCAPE '\\'",
            "UPDATE switches SET reason = REPLACE(reason, $1, $2) WHERE reason LIKE $3 ESCAPE '\\'",
            "UPDATE invite_codes SET revoke_reason = REPLACE(revoke_reason, $1, $2) WHERE revoke_reason LIKE $3 ESCAPE '\\'",
        ] {
            n += exec!(self, c => sqlx::query(sql).bind(address).bind(anon).bind(pattern.as_str()).execute(c))?;
        }
        Ok(n)
    }

    /// Free text that still names `address` in another case ("ADA@Example.com"
    /// typed in a reason) after the exact replacements: the whole text gives
    /// way to `stand_in`, since no database here replaces case-insensitively.
    pub async fn erase_case_variants(&mut self, address: &str, stand_in: &str) -> Result<u64> {
        let pattern = containing(&address.to_lowercase());
        let mut n = 0;
        for sql in [
            "UPDATE events SET detail = CASE WHEN LOWER(detail) LIKE $1 ESCAPE '\\' THEN $2 ELSE detail END, \
             reason = CASE WHEN LOWER(reason) LIKE $1 ESCAPE '\\' THEN $2 ELSE reason END, \
             rule = CASE WHEN LOWER(rule) LIKE $1 ESCAPE '\\' THEN $2 ELSE rule END \
             WHERE LOWER(detail) LIKE $1 ESCAPE '\\' OR LOWER(reason) LIKE $1 ESCAPE '\\' OR LOWER(rule) LIKE $1 ESCAPE '\\'",
            "UPDATE entries SET note = CASE WHEN LOWER(note) LIKE $1 ESCAPE '\\' THEN $2 ELSE note END, \
             block_reason = CASE WHEN LOWER(block_reason) LIKE $1 ESCAPE '\\' THEN $2 ELSE block_reason END \
             WHERE LOWER(note) LIKE $1 ESCAPE '\\' OR LOWER(block_reason) LIKE $1 ESCAPE '\\'",
            "UPDATE outbox SET last_error = $2 WHERE LOWER(last_error) LIKE $1 ESCAPE '\\'",
            "UPDATE switches SET reason = $2 WHERE LOWER(reason) LIKE $1 ESCAPE '\\'",
            "UPDATE invite_codes SET revoke_reason = $2 WHERE LOWER(revoke_reason) LIKE $1 ESCAPE '\\'",
        ] {
            n += exec!(self, c => sqlx::query(sql).bind(pattern.as_str()).bind(stand_in).execute(c))?;
        }
        Ok(n)
    }
}
