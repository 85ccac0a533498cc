//! `velvet events`: the trail for on-call and scripts, one event a line or
//! JSON lines; `--follow` keeps printing what is committed, each event once
//! (the console's own feed), until Ctrl-C.

use super::*;
use crate::store::EventRow;

/// Events read per page of the listing, and per poll of the feed.
const PAGE: i64 = 1_000;

pub(super) async fn events(
    ctx: &Ctx,
    kind: Option<String>,
    since: Duration,
    entry: Option<String>,
    json: bool,
    follow: bool,
) -> CliResult {
    let ops = ctx.ops().await?;
    let from = ops.now() - since;
    // Following: the feed starts at the newest event, and knows which ids
    // below it are still in flight; those are printed when they commit.
    let mut feed = if follow { Some(ops.tail(1).await?.0) } else { None };
    let entry_id = match &entry {
        Some(e) => Some(ops.call(call::EntryId { email: e.clone() }).await?),
        None => None,
    };
    let mut after = 0;
    let mut shown = 0u64;
    loop {
        let ask = call::Trail { since: from, after, kind: kind.clone(), email: entry.clone(), limit: PAGE };
        let rows = ops.call(ask).await?;
        for e in &rows {
            if feed.as_ref().is_none_or(|f| f.has_delivered(e.id)) {
                print_event(e, json)?;
                shown += 1;
            }
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => after = last.id,
            _ => break,
        }
    }
    let Some(mut feed) = feed.take() else {
        if shown == 0 && !json {
            eprintln!("no events in the last {}", crate::domain::duration::show(since));
        }
        return Ok(());
    };
    eprintln!("following the trail; Ctrl-C stops");
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        // A long poll: the server answers as soon as something commits.
        let poll = feed.poll(PAGE, 500);
        let rows = tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            rows = poll => rows.map_err(|e| CliError::failure(format!("could not read the trail: {e}")))?,
        };
        for e in rows
            .iter()
            .filter(|e| kind.as_deref().is_none_or(|k| e.kind == k) && entry_id.is_none_or(|id| e.entry_id == Some(id)))
        {
            print_event(e, json)?;
        }
    }
}

fn print_event(e: &EventRow, json: bool) -> CliResult {
    if json {
        let line = serde_json::to_string(e).map_err(|e| CliError::failure(e.to_string()))?;
        return emit(&line);
    }
    let what: Vec<&str> = [e.outcome.as_deref(), e.rule.as_deref(), e.reason.as_deref(), e.detail.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let entry = e.entry_id.map(|id| format!(" entry #{id}")).unwrap_or_default();
    emit(&format!("{}  {:<14} {}  by {}{entry}", e.at.format("%Y-%m-%d %H:%M:%S"), e.kind, what.join("; "), e.actor))
}
