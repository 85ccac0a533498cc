//! Mail and webhooks that gave up: list them, send them again.

use super::*;

pub(super) async fn mail(ctx: &Ctx, command: MailCommand) -> CliResult {
    let ops = ctx.ops().await?;
    match command {
        MailCommand::Failed { json } => {
            let list = ops.call(call::FailedMailCall { kind: None }).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                eprintln!("no failed messages");
                return Ok(());
            }
            emit_raw(&render::failed_mail(&list, ops.now()))?;
            eprintln!("{} failed; `velvet mail retry ID` or `velvet mail retry --all` sends them again", list.len());
            Ok(())
        }
        MailCommand::Retry { id, all, kind } => {
            let which = match (id, all) {
                (Some(id), false) => MailRetry::One(id),
                (None, true) => MailRetry::All { kind },
                _ => return Err(CliError::usage("give a message ID or --all, not both")),
            };
            let done = ops.call(call::RetryMail { which }).await?;
            for r in &done {
                emit(&render::retried_line(r))?;
            }
            let retried = done.iter().filter(|r| r.retried).count();
            let skipped = done.len() - retried;
            let skipped = if skipped > 0 { format!("; {skipped} skipped (see above)") } else { String::new() };
            eprintln!("queued {retried} message(s) again{skipped}; `velvet serve` delivers them");
            Ok(())
        }
    }
}
