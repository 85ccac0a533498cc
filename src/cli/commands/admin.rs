//! Settings and operators.

use super::*;
use crate::domain::timefmt::utc_minute;

pub(super) async fn settings(ctx: &Ctx, command: SettingsCommand) -> CliResult {
    let ops = ctx.ops().await?;
    match command {
        SettingsCommand::Show => {
            let s = ops.call(call::SettingsCall {}).await?;
            for (k, v) in s.pairs() {
                emit(&format!("{k:<24} {v}"))?;
            }
            for sw in ops.call(call::Switches {}).await? {
                emit(&format!(
                    "paused: {:<16} since {} by {}",
                    sw.switch.key(),
                    crate::domain::timefmt::utc_minute(sw.paused_at),
                    sw.paused_by
                ))?;
            }
            Ok(())
        }
        SettingsCommand::Set { key, value } => {
            let s = ops.call(call::SetSetting { key: key.clone(), value }).await?;
            eprintln!("{key} = {}", s.get(&key).unwrap_or_default());
            Ok(())
        }
    }
}

pub(super) async fn operator(ctx: &Ctx, command: OperatorCommand) -> CliResult {
    match command {
        OperatorCommand::Add { name, role } => {
            let role = Role::from(role);
            match ctx.local_velvet() {
                // On a database, the first operator is made by whoever can
                // open it (the bootstrap); after that, an admin adds them.
                Some(velvet) => velvet.add_operator(ctx.acting_as.as_deref().unwrap_or_default(), &name, role).await?,
                None => ctx.ops().await?.call(call::AddOperator { name: name.clone(), role }).await?,
            }
            eprintln!("operator {name} added as {role}");
            Ok(())
        }
        OperatorCommand::List => {
            for o in ctx.ops().await?.call(call::Operators {}).await? {
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
            let issued =
                ctx.ops().await?.call(call::IssueToken { operator: name, expires_in: expires.0, note }).await?;
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
            let ops = ctx.ops().await?;
            let tokens = ops.call(call::Tokens { operator: name }).await?;
            let now = ops.now();
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
            let t = ctx.ops().await?.call(call::RevokeToken { id }).await?;
            eprintln!("token {} of {} revoked: no server accepts it any more", t.id, t.operator);
            Ok(())
        }
        OperatorCommand::Role { name, role } => {
            let role = Role::from(role);
            ctx.ops().await?.call(call::SetRole { name: name.clone(), role }).await?;
            eprintln!("operator {name} is now {role} (from their next call)");
            Ok(())
        }
        OperatorCommand::Remove { name } => {
            let revoked = ctx.ops().await?.call(call::RemoveOperator { name: name.clone() }).await?;
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
