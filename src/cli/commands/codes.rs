//! Partner codes (issue, revoke, list, the tree of totals) and pauses.

use super::*;

pub(super) async fn codes(ctx: &Ctx, command: CodesCommand) -> CliResult {
    let ops = ctx.ops().await?;
    match command {
        CodesCommand::Issue { campaign, max_uses, count, expires, daily_cap, prefix } => {
            let spec = PartnerCodeSpec { campaign, max_uses, count, expires_in: expires, daily_cap, prefix };
            let issued = ops.call(call::IssueCodes { spec }).await?;
            let mut out = std::io::stdout().lock();
            for code in &issued.codes {
                writeln!(out, "{code}").map_err(io_error)?;
            }
            eprintln!(
                "issued {} codes in batch {} (shown once: only their hashes are stored)",
                issued.codes.len(),
                issued.batch_id
            );
            Ok(())
        }
        CodesCommand::Revoke { code, batch, campaign, inviter, reason, dry_run } => {
            let target = match (code, batch, campaign, inviter) {
                (Some(c), None, None, None) => CodeSet::Code(CodeRef::Typed(c)),
                (None, Some(b), None, None) => CodeSet::Batch(b),
                (None, None, Some(c), None) => CodeSet::Campaign(c),
                (None, None, None, Some(e)) => CodeSet::Inviter(e),
                _ => return Err(CliError::usage("give exactly one of CODE, --batch, --campaign, --inviter")),
            };
            let revoked = ops.call(call::Revoke { target, reason, dry_run }).await?;
            for r in &revoked {
                emit(&render::revoked_line(r).to_string())?;
            }
            let verb = if dry_run { "would revoke" } else { "revoked" };
            eprintln!("{verb} {} codes", revoked.len());
            Ok(())
        }
        CodesCommand::Tree { json } => {
            let tree = ops.call(call::CodeTree {}).await?;
            if json { print_json(&tree) } else { emit_raw(&render::code_tree(&tree)) }
        }
        CodesCommand::List { campaign, batch, kind, limit, json } => {
            let list = ops.call(call::ListCodes { campaign, batch, kind, limit }).await?;
            if json { print_json(&list) } else { emit_raw(&render::codes(&list, ops.now())) }
        }
    }
}

pub(super) async fn pause(ctx: &Ctx, p: PauseArgs, pausing: bool) -> CliResult {
    let scope = match (p.what, p.campaign, p.email) {
        (PauseWhat::Redemption, None, None) => Switch::Redemption,
        (PauseWhat::Redemption, Some(c), None) => Switch::Campaign(c),
        (PauseWhat::Signups, None, None) => Switch::Signups,
        (PauseWhat::Inviter, None, Some(e)) => Switch::Inviter(e),
        (PauseWhat::Inviter, _, None) => return Err(CliError::usage("`inviter` needs --email EMAIL")),
        (PauseWhat::Signups, Some(_), _) => {
            return Err(CliError::usage("signups cannot be paused per campaign; drop --campaign"));
        }
        _ => return Err(CliError::usage("--campaign goes with redemption, --email with inviter")),
    };
    let ops = ctx.ops().await?;
    let changed = if pausing {
        ops.call(call::Pause { scope: scope.clone(), reason: p.reason }).await?
    } else {
        ops.call(call::Resume { scope: scope.clone() }).await?
    };
    eprintln!("{}", scope.outcome(pausing, changed));
    Ok(())
}
