//! Seeds an empty database with a believable beta: entries signed up over
//! 30 days, most confirmed, some approved, invited and joined, referral
//! chains three or four deep, two partner campaigns, a few blocked bots and
//! failed mails, and the events that tell all of it.

use super::rng::Rng;
use crate::domain::{EventKind, InviteCode, Permission};
use crate::service::{Actor, Error, Result, Velvet};
use crate::store::{NewEvent, SeedCode, SeedEntry};
use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Copy, Debug)]
pub struct SeedSpec {
    pub size: u64,
    pub seed: u64,
    /// Extra background events spread over the 30 days (scale tests).
    pub extra_events: u64,
    /// Report what is written so far on stderr (a million people take minutes).
    pub progress: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SeedReport {
    pub entries: u64,
    pub events: u64,
    pub codes: u64,
}

const FIRST: &[&str] = &[
    "ada",
    "alan",
    "grace",
    "linus",
    "margaret",
    "ken",
    "barbara",
    "dennis",
    "frances",
    "edsger",
    "radia",
    "tim",
    "sophie",
    "yukihiro",
    "guido",
    "anita",
    "hedy",
    "katherine",
    "john",
    "donald",
    "leslie",
    "shafi",
    "joan",
    "niklaus",
    "rasmus",
    "bjarne",
    "evelyn",
    "claude",
    "mary",
    "ivan",
];
const LAST: &[&str] = &[
    "lovelace",
    "turing",
    "hopper",
    "torvalds",
    "hamilton",
    "thompson",
    "liskov",
    "ritchie",
    "allen",
    "dijkstra",
    "perlman",
    "berners",
    "wilson",
    "matsumoto",
    "rossum",
    "borg",
    "lamarr",
    "johnson",
    "backus",
    "knuth",
    "lamport",
    "goldwasser",
    "clarke",
    "wirth",
    "lerdorf",
    "stroustrup",
    "boyd",
    "shannon",
    "keller",
    "sutherland",
];
const DOMAINS: &[&str] =
    &["example.com", "mail.example.org", "inbox.example.net", "acme.io", "post.example.de", "uni.example.edu"];
const SOURCES: &[&str] = &["hn", "producthunt", "twitter", "newsletter", "direct", "friend"];
const BOT_PREFIXES: &[&str] = &["203.0.113.0/24", "198.51.100.0/24", "2001:db8:bad::/48"];

fn human_prefix(r: &mut Rng) -> String {
    if r.chance(0.2) {
        format!("2001:db8:{:x}::/48", r.below(0xffff))
    } else {
        format!("{}.{}.{}.0/24", 11 + r.below(180), r.below(256), r.below(256))
    }
}

fn event(kind: EventKind, entry: i64, actor: &str) -> NewEvent {
    NewEvent {
        kind: kind.as_str(),
        entry_id: Some(entry),
        actor: actor.to_string(),
        outcome: Some("ok"),
        ..Default::default()
    }
}

/// A real code's hash and hint; the plaintext is dropped (nobody holds it).
fn fake_code() -> (String, String) {
    let code = InviteCode::generate(None).expect("no prefix");
    (code.hash().0, code.hint())
}

pub async fn seed(velvet: &Velvet, actor: &Actor, spec: SeedSpec) -> Result<SeedReport> {
    actor.require(Permission::ManageOperators)?;
    if velvet.count_entries(actor).await? > 0 {
        return Err(Error::Conflict("seed only fills an empty database; this one already has entries".into()));
    }
    let now = velvet.now();
    let start = now - Duration::days(30);
    let mut r = Rng::new(spec.seed);
    let n = spec.size.max(1);
    let mut entries = Vec::with_capacity(n as usize);
    let mut events: Vec<(DateTime<Utc>, NewEvent)> = Vec::with_capacity(n as usize * 4);
    let mut codes = Vec::new();
    let mut joined_ids: Vec<(i64, usize)> = Vec::new(); // (id, depth)
    let span = (now - start).num_seconds() as u64;
    let mut times: Vec<u64> = (0..n).map(|_| r.below(span)).collect();
    times.sort_unstable();
    let mut report = SeedReport::default();
    let say = |r: &SeedReport| {
        if spec.progress {
            eprintln!("seeding: {} entries, {} events written", r.entries, r.events);
        }
    };

    let mut failed_mail = 0;
    for (i, t) in times.into_iter().enumerate() {
        if entries.len() >= FLUSH_EVERY {
            flush(velvet, &mut entries, &mut codes, &mut events, &mut failed_mail, now, &mut report).await?;
            say(&report);
        }
        let id = i as i64 + 1;
        let first_seen = start + Duration::seconds(t as i64);
        let age_days = (now - first_seen).num_hours() as f64 / 24.0;
        let bot = r.chance(0.04);
        let email = if bot {
            format!("{:x}{}@{}", r.next_u64() & 0xffffff, i, r.pick(&["mailinator.example", "tempmail.example"]))
        } else {
            format!("{}.{}{}@{}", r.pick(FIRST), r.pick(LAST), i, r.pick(DOMAINS))
        };
        let prefix = if bot { r.pick(BOT_PREFIXES).to_string() } else { human_prefix(&mut r) };
        let source = Some(*r.pick(SOURCES));
        let mut e = SeedEntry {
            id,
            email: email.clone(),
            status: "pending",
            blocked_from: None,
            source,
            referrer_id: None,
            ip_prefix: prefix.clone(),
            first_seen,
            confirmed_at: None,
            approved_at: None,
            invited_at: None,
            joined_at: None,
            block_reason: None,
        };
        events.push((
            first_seen,
            NewEvent {
                ip_prefix: Some(prefix.clone()),
                detail: source.map(String::from),
                ..event(EventKind::Signup, id, "public")
            },
        ));
        // Older entries have moved further along.
        let progress = r.unit() * (age_days / 30.0 + 0.35);
        let step = |h: f64| (first_seen + Duration::minutes((h * 60.0) as i64 + 1)).min(now);
        if !bot && progress > 0.12 {
            e.status = "confirmed";
            e.confirmed_at = Some(step(r.unit() * 6.0));
            events.push((e.confirmed_at.unwrap(), event(EventKind::Confirm, id, "public")));
        }
        if e.status == "confirmed" && progress > 0.45 {
            e.status = "approved";
            let at = e.confirmed_at.unwrap() + Duration::hours(1 + r.below(48) as i64);
            e.approved_at = Some(at.min(now));
            events.push((e.approved_at.unwrap(), event(EventKind::Approve, id, "founder")));
        }
        if e.status == "approved" && progress > 0.55 {
            e.status = "invited";
            let at = (e.approved_at.unwrap() + Duration::hours(r.below(24) as i64)).min(now);
            e.invited_at = Some(at);
            events.push((at, event(EventKind::InviteSent, id, "pacer")));
            let (hash, hint) = fake_code();
            codes.push(SeedCode {
                hash,
                hint,
                kind: "access",
                campaign: None,
                batch_id: None,
                inviter_entry_id: None,
                bound_entry_id: Some(id),
                max_uses: 1,
                uses: 0,
                expires_at: at + Duration::days(7),
                created_at: at,
                created_by: "pacer",
            });
        }
        if e.status == "invited" && progress > 0.7 {
            e.status = "joined";
            let at = (e.invited_at.unwrap() + Duration::hours(r.below(30) as i64)).min(now);
            e.joined_at = Some(at);
            if let Some(c) = codes.last_mut() {
                c.uses = 1;
            }
            events.push((at, event(EventKind::Joined, id, "public")));
        }
        // Some people came in through a friend's referral code instead.
        if !bot && e.status == "confirmed" && !joined_ids.is_empty() && r.chance(0.3) {
            let (inviter, depth) = joined_ids[r.below(joined_ids.len() as u64) as usize];
            if depth < 4 {
                e.status = "joined";
                e.referrer_id = Some(inviter);
                let at = (e.confirmed_at.unwrap() + Duration::minutes(5)).min(now);
                e.joined_at = Some(at);
                events.push((
                    at,
                    NewEvent {
                        referrer_id: Some(inviter),
                        detail: Some("referral code".into()),
                        ..event(EventKind::Joined, id, "public")
                    },
                ));
                joined_ids.push((id, depth + 1));
                let (hash, hint) = fake_code();
                codes.push(SeedCode {
                    hash,
                    hint,
                    kind: "referral",
                    campaign: None,
                    batch_id: None,
                    inviter_entry_id: Some(inviter),
                    bound_entry_id: None,
                    max_uses: 1,
                    uses: 1,
                    expires_at: at + Duration::days(14),
                    created_at: at,
                    created_by: "velvet",
                });
            }
        } else if e.status == "joined" {
            joined_ids.push((id, 0));
        }
        if bot {
            if r.chance(0.6) {
                e.status = "blocked";
                e.blocked_from = Some("pending");
                e.block_reason = Some("bot wave");
                events.push((
                    (first_seen + Duration::hours(2)).min(now),
                    NewEvent { reason: Some("bot wave".into()), ..event(EventKind::Block, id, "founder") },
                ));
            }
            for k in 0..r.below(4) {
                events.push((
                    (first_seen + Duration::seconds(k as i64 * 7)).min(now),
                    NewEvent {
                        kind: EventKind::RedeemAttempt.as_str(),
                        entry_id: Some(id),
                        ip_prefix: Some(prefix.clone()),
                        outcome: Some("failed"),
                        reason: Some("unknown code".into()),
                        actor: "public".into(),
                        ..Default::default()
                    },
                ));
            }
        }
        entries.push(e);
    }
    // Two partner campaigns.
    for (campaign, uses) in [("hn", 180), ("producthunt", 95)] {
        let (hash, hint) = fake_code();
        codes.push(SeedCode {
            hash,
            hint,
            kind: "partner",
            campaign: Some(campaign),
            batch_id: None,
            inviter_entry_id: None,
            bound_entry_id: None,
            max_uses: 500,
            uses: uses.min(n as i64),
            expires_at: now + Duration::days(10),
            created_at: start + Duration::days(3),
            created_by: "founder",
        });
    }
    // Background noise for scale: repeats and stray code attempts.
    for k in 0..spec.extra_events {
        let at = start + Duration::seconds(r.below(span) as i64);
        let entry = 1 + r.below(n) as i64;
        let kind = if k % 3 == 0 { EventKind::RedeemAttempt } else { EventKind::SignupRepeat };
        let outcome = if kind == EventKind::RedeemAttempt { "failed" } else { "ok" };
        events.push((
            at,
            NewEvent {
                kind: kind.as_str(),
                entry_id: Some(entry),
                outcome: Some(outcome),
                actor: "public".into(),
                ..Default::default()
            },
        ));
        if events.len() >= 500_000 {
            write_events(velvet, &mut events, &mut report).await?;
            say(&report);
        }
    }
    flush(velvet, &mut entries, &mut codes, &mut events, &mut failed_mail, now, &mut report).await?;
    say(&report);
    Ok(report)
}

/// Entries generated before writing them out (keeps memory flat at scale).
const FLUSH_EVERY: usize = 50_000;

async fn flush(
    velvet: &Velvet,
    entries: &mut Vec<SeedEntry>,
    codes: &mut Vec<SeedCode>,
    events: &mut Vec<(DateTime<Utc>, NewEvent)>,
    failed_mail: &mut usize,
    now: DateTime<Utc>,
    report: &mut SeedReport,
) -> Result<()> {
    let mut tx = velvet.store().write().await?;
    tx.bulk_entries(entries).await?;
    tx.bulk_codes(codes).await?;
    // A few invite mails that bounced, so support has something to explain.
    for e in entries.iter().filter(|e| e.status == "invited").step_by(17) {
        if *failed_mail >= 25 {
            break;
        }
        tx.seed_failed_mail(e.id, &e.email, "550 mailbox full", e.invited_at.unwrap_or(now)).await?;
        *failed_mail += 1;
    }
    tx.commit().await?;
    report.entries += entries.len() as u64;
    report.codes += codes.len() as u64;
    entries.clear();
    codes.clear();
    events.sort_by_key(|(at, _)| *at);
    write_events(velvet, events, report).await
}

async fn write_events(
    velvet: &Velvet,
    events: &mut Vec<(DateTime<Utc>, NewEvent)>,
    report: &mut SeedReport,
) -> Result<()> {
    for chunk in events.chunks(100_000) {
        let mut tx = velvet.store().write().await?;
        tx.bulk_events(chunk).await?;
        tx.commit().await?;
        report.events += chunk.len() as u64;
    }
    events.clear();
    Ok(())
}
