//! Settings and operators.

use super::*;
use crate::domain::timefmt::utc_minute;

pub(super) async fn settings(ctx: &Ctx, command: SettingsCommand) -> CliResult {
    let actor = ctx.actor().await?;
    match command {
        SettingsCommand::Show => {
            let s = ctx.velvet.settings(&actor).await?;
            for (k, v) in s.pairs() {
                emit(&format!("{k:<24} {v}"))?;
            }
            for sw in ctx.velvet.switches(&actor).await? {
                emit(&format!(
                    "paused: {:<16} since {} by {}",
                    sw.scope,
                    crate::domain::timefmt::utc_minute(sw.paused_at),
                    sw.paused_by
                ))?;
            }
            Ok(())
        }
        SettingsCommand::Set { key, value } => {
            let s = ctx.velvet.set_setting(&actor, &key, &value).await?;
            eprintln!("{key} = {}", s.get(&key).unwrap_or_default());
            Ok(())
        }
    }
}

pub(super) async fn operator(ctx: &Ctx, command: OperatorCommand) -> CliResult {
    match command {
        OperatorCommand::Add { name, role } => {
            let role = Role::from(role);
            let acting = ctx.acting_as.clone().unwrap_or_default();
            ctx.velvet.add_operator(&acting, &name, role).await?;
            eprintln!("operator {name} added as {role}");
            Ok(())
        }
        OperatorCommand::List => {
            for o in ctx.velvet.operators(&ctx.actor().await?).await? {
                emit(&format!(
                    "{:<24} {:<8} added {} by {}",
                    o.name,
                    o.role,
                    o.created_at.format("%Y-%m-%d"),
                    o.created_by
                ))?;
            }
            Ok(())
        }
        OperatorCommand::Token { name, expires, note } => {
            let issued = ctx.velvet.issue_token(&ctx.actor().await?, &name, expires.0, note.as_deref()).await?;
            emit(&issued.token)?;
            let expiry = issued
                .info
                .expires_at
                .map_or_else(|| "never expires".to_string(), |t| format!("expires {}", utc_minute(t)));
            eprintln!(
                "token {} for {} ({expiry}): shown this once, only its hash is kept; revoke it with `velvet operator revoke-token {}`",
                issued.info.id, issued.info.operator, issued.info.id
            );
            Ok(())
        }
        OperatorCommand::Tokens { name, json } => {
            let tokens = ctx.velvet.tokens(&ctx.actor().await?, name.as_deref()).await?;
            let now = ctx.velvet.now();
            if json {
                let rows: Vec<TokenRow> = tokens.iter().map(|t| TokenRow { state: t.state(now), info: t }).collect();
                return print_json(&rows);
            }
            if tokens.is_empty() {
                eprintln!("no tokens yet: `velvet operator token NAME` issues one");
            }
            emit_raw(&render::tokens(&tokens, now))
        }
        OperatorCommand::RevokeToken { id } => {
            let t = ctx.velvet.revoke_token(&ctx.actor().await?, id).await?;
            eprintln!("token {} of {} revoked: no server accepts it any more", t.id, t.operator);
            Ok(())
        }
        OperatorCommand::Role { name, role } => {
            let role = Role::from(role);
            ctx.velvet.set_role(&ctx.actor().await?, &name, role).await?;
            eprintln!("operator {name} is now {role} (from their next call)");
            Ok(())
        }
        OperatorCommand::Remove { name } => {
            let revoked = ctx.velvet.remove_operator(&ctx.actor().await?, &name).await?;
            let tokens = match revoked {
                0 => "no live token".to_string(),
                1 => "1 token revoked".to_string(),
                n => format!("{n} tokens revoked"),
            };
            eprintln!("operator {name} removed ({tokens}); their past events keep the name");
            Ok(())
        }
    }
}

/// One row of `velvet operator tokens --json`: the token and its state now.
#[derive(serde::Serialize)]
struct TokenRow<'a> {
    #[serde(flatten)]
    info: &'a crate::service::TokenInfo,
    state: crate::service::TokenState,
}
