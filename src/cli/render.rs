//! Plain-text renderings for the terminal.

use crate::domain::MailStatus;
use crate::domain::timefmt::relative;
use crate::service::{
    ChainNode, CodeTotals, CodeTreeGroup, CodeView, FailedMail, Lookup, RetriedMail, RevokedCode, TokenInfo,
};
use chrono::{DateTime, Utc};
use std::fmt::Write;

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn lookup(l: &Lookup, now: DateTime<Utc>) -> String {
    let mut s = String::new();
    let shown = if l.email_display.eq_ignore_ascii_case(&l.email) && l.email_display == l.email {
        l.email.clone()
    } else {
        format!("{}  (typed as {})", l.email, l.email_display)
    };
    let _ = writeln!(s, "{shown}");
    let _ = writeln!(s, "  status   {}", l.status);
    let _ = writeln!(s, "  why      {}", l.explanation);
    let _ = writeln!(
        s,
        "  joined   the list {} ({} attempt{}){}",
        relative(now, l.first_seen),
        l.attempts,
        if l.attempts == 1 { "" } else { "s" },
        l.source.as_deref().map(|src| format!(", source {src}")).unwrap_or_default()
    );
    if let Some(note) = &l.note {
        let _ = writeln!(s, "  note     {note}");
    }
    if !l.inviter_chain.is_empty() {
        let _ = writeln!(s, "  invited by {}", l.inviter_chain.join(" <- "));
    }
    if !l.invitees.is_empty() {
        let names: Vec<String> = l.invitees.iter().map(|i| format!("{} ({})", i.email, i.status)).collect();
        let _ = writeln!(s, "  invited  {}", names.join(", "));
    }
    if !l.codes.is_empty() {
        let _ = writeln!(s, "codes");
        for c in &l.codes {
            let _ = writeln!(
                s,
                "  #{:<6} {:<8} …{:<5} {:<8} {}/{}  expires {}",
                c.id,
                c.kind,
                c.hint.as_deref().unwrap_or("----"),
                c.state,
                c.uses,
                c.max_uses,
                relative(now, c.expires_at)
            );
        }
    }
    if !l.mail.is_empty() {
        let _ = writeln!(s, "mail");
        for m in &l.mail {
            let err = m.last_error.as_deref().map(|e| format!("  ({e})")).unwrap_or_default();
            let retry =
                if m.status == MailStatus::Failed { format!("  -> velvet mail retry {}", m.id) } else { String::new() };
            let _ = writeln!(
                s,
                "  {}  #{:<6} {:<8} {:<7} {} attempt(s){err}{retry}",
                stamp(m.created_at),
                m.id,
                m.kind,
                m.status,
                m.attempts
            );
        }
    }
    let _ = writeln!(s, "timeline");
    for e in &l.events {
        let mut extra = Vec::new();
        for part in [&e.outcome, &e.reason, &e.rule, &e.detail, &e.campaign].into_iter().flatten() {
            extra.push(part.clone());
        }
        if let Some(p) = &e.ip_prefix {
            extra.push(format!("from {p}"));
        }
        let _ = writeln!(s, "  {}  {:<14} {:<12} {}", stamp(e.at), e.kind, e.actor, extra.join("; "));
    }
    s
}

pub fn codes(list: &[CodeView], now: DateTime<Utc>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<7} {:<8} {:<14} {:<6} {:<6} {:<8} {:>9}  EXPIRES",
        "ID", "KIND", "CAMPAIGN", "BATCH", "HINT", "STATE", "USES"
    );
    for c in list {
        let _ = writeln!(
            s,
            "{:<7} {:<8} {:<14} {:<6} {:<6} {:<8} {:>9}  {}",
            c.id,
            c.kind,
            c.campaign.as_deref().unwrap_or("-"),
            c.batch_id.map(|b| b.to_string()).unwrap_or_else(|| "-".into()),
            c.hint.as_deref().unwrap_or("-"),
            c.state,
            format!("{}/{}", c.uses, c.max_uses),
            relative(now, c.expires_at)
        );
    }
    s
}

/// `velvet operator tokens`: one line a token, oldest first, the hint
/// only (tokens are stored hashed).
pub fn tokens(list: &[TokenInfo], now: DateTime<Utc>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<6} {:<20} {:<6} {:<8} {:<17} {:<12} {:<12} NOTE",
        "ID", "OPERATOR", "HINT", "STATE", "CREATED", "EXPIRES", "LAST USED"
    );
    for t in list {
        let _ = writeln!(
            s,
            "{:<6} {:<20} {:<6} {:<8} {:<17} {:<12} {:<12} {}",
            t.id,
            t.operator,
            format!("…{}", t.hint),
            t.state(now).as_str(),
            t.created_at.format("%Y-%m-%d %H:%M"),
            t.expires_at.map_or_else(|| "never".to_string(), |at| relative(now, at)),
            t.last_used_at.map_or_else(|| "never".to_string(), |at| relative(now, at)),
            t.note.as_deref().unwrap_or("")
        );
    }
    s
}

/// `codes tree`: each campaign (then the access and referral codes) with
/// its batches below it, one line each with its totals.
pub fn code_tree(tree: &[CodeTreeGroup]) -> String {
    let mut s = String::new();
    let line = |s: &mut String, name: &str, t: &CodeTotals| {
        let uses = format!("{}/{}", t.uses, t.max_uses);
        let _ = writeln!(
            s,
            "{name:<36} {:>8} {:>15} {:>8} {:>8} {:>8} {:>8} {:>8}",
            t.issued, uses, t.active, t.used, t.expired, t.revoked, t.joined
        );
    };
    let _ = writeln!(
        s,
        "{:<36} {:>8} {:>15} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "CAMPAIGN / BATCH", "ISSUED", "USES", "ACTIVE", "USED", "EXPIRED", "REVOKED", "JOINED"
    );
    if tree.is_empty() {
        let _ = writeln!(s, "(no codes yet: `velvet codes issue --campaign NAME` makes partner codes)");
    }
    for g in tree {
        let paused = if g.paused { "  (paused)" } else { "" };
        line(&mut s, &format!("{}{paused}", g.group.label()), &g.totals);
        for b in &g.batches {
            let made = match (b.created_at, &b.created_by) {
                (Some(at), Some(by)) => format!(" {} {by}", at.format("%Y-%m-%d")),
                _ => String::new(),
            };
            line(&mut s, &format!("  {}{made}", b.label()), &b.totals);
        }
    }
    s
}

pub fn revoked_line(r: &RevokedCode) -> String {
    format!(
        "#{} {} …{} {}{}",
        r.id,
        r.kind,
        r.hint.as_deref().unwrap_or("----"),
        r.campaign.as_deref().unwrap_or(""),
        r.batch_id.map(|b| format!(" batch {b}")).unwrap_or_default()
    )
}

pub fn chain(root: &ChainNode) -> String {
    fn walk(node: &ChainNode, prefix: &str, last: bool, top: bool, out: &mut String) {
        let branch = if top {
            ""
        } else if last {
            "└─ "
        } else {
            "├─ "
        };
        let _ = writeln!(
            out,
            "{prefix}{branch}{} [{}] codes {}/{} used",
            node.email, node.status, node.codes_used, node.codes_given
        );
        let child_prefix = if top { String::new() } else { format!("{prefix}{}", if last { "   " } else { "│  " }) };
        for (i, child) in node.invitees.iter().enumerate() {
            walk(child, &child_prefix, i + 1 == node.invitees.len(), false, out);
        }
    }
    let mut out = String::new();
    walk(root, "", true, true, &mut out);
    out
}

/// `velvet mail failed`: one message a line, newest failure last.
pub fn failed_mail(list: &[FailedMail], now: DateTime<Utc>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:<7} {:<8} {:<32} {:>8}  {:<12} LAST ERROR", "ID", "KIND", "RECIPIENT", "ATTEMPTS", "FAILED");
    for m in list {
        let _ = writeln!(
            s,
            "{:<7} {:<8} {:<32} {:>8}  {:<12} {}",
            m.id,
            m.kind,
            m.recipient,
            m.attempts,
            relative(now, m.failed_at),
            m.last_error.as_deref().unwrap_or("-")
        );
    }
    s
}

pub fn retried_line(r: &RetriedMail) -> String {
    match &r.skipped {
        None => format!("#{} {} {}", r.id, r.kind, r.recipient),
        Some(why) => format!("#{} {} {}: skipped, {why}", r.id, r.kind, r.recipient),
    }
}
