//! Settings and operators.

use super::*;

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
            let role = match role {
                RoleArg::Viewer => Role::Viewer,
                RoleArg::Support => Role::Support,
                RoleArg::Admin => Role::Admin,
            };
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
    }
}
