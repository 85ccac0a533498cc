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
    let actor = ctx.actor().await?;
    let v = &ctx.velvet;
    let from = v.now() - since;
    // Following: the feed starts at the newest event, and knows which ids
    // below it are still in flight; those are printed when they commit.
    let mut feed = if follow { Some(v.event_tail(&actor, 1).await?.0) } else { None };
    let entry_id = match &entry {
        Some(e) => Some(v.entry_id(&actor, e).await?),
        None => None,
    };
    let mut after = 0;
    let mut shown = 0u64;
    loop {
        let rows = v.trail(&actor, from, after, kind.as_deref(), entry.as_deref(), PAGE).await?;
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
        let rows = feed.poll(PAGE).await.map_err(|e| CliError::failure(format!("could not read the trail: {e}")))?;
        for e in rows
            .iter()
            .filter(|e| kind.as_deref().is_none_or(|k| e.kind == k) && entry_id.is_none_or(|id| e.entry_id == Some(id)))
        {
            print_event(e, json)?;
        }
        if rows.len() as i64 == PAGE {
            continue;
        }
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
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
