//! One person at a time: lookup, approve, block and unblock (one or in bulk), change an
//! email, reissue, invites, the invite chain, erasure.

use super::*;

pub(super) async fn lookup(ctx: &Ctx, email: &str, json: bool) -> CliResult {
    let ops = ctx.ops().await?;
    let found = ops.call(call::LookupCall { email: email.to_string() }).await?;
    if json { print_json(&found) } else { emit_raw(&render::lookup(&found, ops.now())) }
}

pub(super) async fn approve(ctx: &Ctx, next: Option<i64>, email: Option<String>, dry_run: bool) -> CliResult {
    let who = match (next, email) {
        (Some(n), _) => ApproveWho::Next(n),
        (None, Some(e)) => ApproveWho::Email(e),
        (None, None) => return Err(CliError::usage("give --next N or --email EMAIL")),
    };
    let approved = ctx.ops().await?.call(call::Approve { who, dry_run }).await?.approved;
    for a in &approved {
        emit(&a.email.to_string())?;
    }
    let verb = if dry_run { "would approve" } else { "approved" };
    match next {
        Some(n) if approved.is_empty() => eprintln!("no confirmed entries are waiting (asked for {n})"),
        Some(n) if (approved.len() as i64) < n => {
            eprintln!("{verb} {} entries: all the confirmed entries that were waiting", approved.len())
        }
        _ => eprintln!("{verb} {} entries", approved.len()),
    }
    Ok(())
}

/// Erasing cannot be undone: the operator types the address back, on a terminal.
pub(super) fn confirm_typed_back(email: &str) -> CliResult {
    use std::io::{BufRead, IsTerminal};
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "erasing cannot be undone: run it in a terminal to type the address back, or pass --yes",
        ));
    }
    eprint!("This erases {email} for good. Type the address again to go on: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(io_error)?;
    if line.trim() != email.trim() {
        return Err(CliError::failure("the address typed back does not match: nothing erased"));
    }
    Ok(())
}

// The flags of one command, as clap parsed them.
#[allow(clippy::too_many_arguments)]
pub(super) async fn block(
    ctx: &Ctx,
    email: Option<String>,
    domain: Option<String>,
    prefix: Option<String>,
    source: Option<String>,
    status: Option<String>,
    dry_run: bool,
    reason: Option<String>,
) -> CliResult {
    let ops = ctx.ops().await?;
    let selector = match (email, domain, prefix, source) {
        (Some(email), None, None, None) => {
            ops.call(call::Block { email: email.clone(), reason }).await?;
            eprintln!("blocked {email}");
            return Ok(());
        }
        (None, Some(d), None, None) => BlockSelector::Domain(d),
        (None, None, Some(p), None) => BlockSelector::Prefix(p),
        (None, None, None, Some(s)) => BlockSelector::Source(s),
        _ => return Err(CliError::usage("give exactly one of EMAIL, --domain, --prefix, --source")),
    };
    let done = ops.call(call::BlockMany { selector: selector.clone(), status, reason, dry_run }).await?;
    for email in &done.first {
        emit(email)?;
    }
    let what = selector.describe();
    let more = done.count.saturating_sub(done.first.len());
    let more = if more > 0 { format!(" (the first {} above, {more} more)", done.first.len()) } else { String::new() };
    match done.batch_id {
        _ if done.count == 0 => eprintln!("nobody to block: {what} takes no one who can be blocked"),
        None => {
            eprintln!("would block {} entries ({what}){more}; run without --dry-run to block them", done.count)
        }
        Some(id) => eprintln!(
            "blocked {} entries ({what}) as batch {id}{more}; `velvet unblock --batch {id}` undoes it",
            done.count
        ),
    }
    Ok(())
}

pub(super) async fn unblock(ctx: &Ctx, email: Option<String>, batch: Option<i64>, reason: Option<String>) -> CliResult {
    let ops = ctx.ops().await?;
    match (email, batch) {
        (Some(email), None) => {
            ops.call(call::Unblock { email: email.clone(), reason }).await?;
            eprintln!("unblocked {email}");
        }
        (None, Some(id)) => {
            let done = ops.call(call::UnblockBatch { batch: id }).await?;
            for (email, status) in &done.unblocked {
                emit(&format!("{email} {status}"))?;
            }
            eprintln!("unblocked {} entries of batch {id}, each back to where it was", done.unblocked.len());
        }
        _ => return Err(CliError::usage("give EMAIL or --batch ID, not both")),
    }
    Ok(())
}

pub(super) async fn change_email(ctx: &Ctx, old: String, new: String) -> CliResult {
    let c = ctx.ops().await?.call(call::ChangeEmail { old, new }).await?;
    emit(&c.new)?;
    eprintln!("changed {} to {}: {}; sent {} (mailed by `velvet serve`)", c.old, c.new, c.status, c.mailed);
    Ok(())
}

pub(super) async fn reissue(ctx: &Ctx, email: String) -> CliResult {
    let what = ctx.ops().await?.call(call::Reissue { email: email.clone() }).await?;
    eprintln!("reissued for {email}: {what} (mailed by `velvet serve`)");
    Ok(())
}

pub(super) async fn send_invites(ctx: &Ctx, limit: Option<u64>, past_cap: bool) -> CliResult {
    let run = ctx.ops().await?.call(call::SendInvites { limit, past_cap }).await?;
    for email in &run.sent {
        emit(&email.to_string())?;
    }
    eprintln!("{} invites queued; {} left under today's cap", run.sent.len(), run.cap_remaining);
    Ok(())
}

pub(super) async fn chain(ctx: &Ctx, email: String, json: bool) -> CliResult {
    let tree = ctx.ops().await?.call(call::Chain { email }).await?;
    if json { print_json(&tree) } else { emit_raw(&render::chain(&tree)) }
}

pub(super) async fn erase(ctx: &Ctx, email: String, yes: bool) -> CliResult {
    let ops = ctx.ops().await?;
    if !yes {
        confirm_typed_back(&email)?;
    }
    let done = ops.call(call::Erase { email }).await?;
    emit(&done.anonymous_id)?;
    eprintln!(
        "erased entry {}: it is {} now; {} codes revoked; the anonymous trail and counts are kept",
        done.entry_id, done.anonymous_id, done.codes_revoked
    );
    Ok(())
}
