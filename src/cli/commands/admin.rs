//! Settings and operators.

use super::*;

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
                    sw.scope,
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
            let role = match role {
                RoleArg::Viewer => Role::Viewer,
                RoleArg::Support => Role::Support,
                RoleArg::Admin => Role::Admin,
            };
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
    }
}
