//! Answers from background work: pages, changes, searches, lookups,
//! results of actions.

use super::*;

pub(in crate::console) fn message(s: &mut State, m: Msg) -> Vec<Effect> {
    match m {
        Msg::Entries { rows, total, done } => {
            let first = s.entries.is_empty();
            add_page(s, rows);
            s.entries_total = Some(total.max(s.entries.len() as u64));
            s.entries_done = done;
            let mut effects = Vec::new();
            if done && !s.filter.query.is_empty() {
                s.filter.answered.clear();
                effects.extend(refilter(s));
            }
            if s.view == View::Chains && done {
                build_chains(s);
            }
            if first {
                effects.extend(lookup_selected(s));
            }
            effects
        }
        Msg::Changed(rows) => {
            add_changed(s, rows);
            if s.view == View::Chains {
                build_chains(s);
            }
            vec![]
        }
        Msg::Filtered { generation, query, rows } => {
            if generation != s.filter.generation {
                return vec![];
            }
            // The same query answered again (the list finished loading):
            // the cursor stays on its person; a new query starts at the top.
            let stay = (query == s.filter.shown).then(|| s.waitlist.current()).flatten();
            s.filter.shown = query.clone();
            s.filter.answered = query;
            s.waitlist.rows = rows;
            s.waitlist.selected =
                stay.and_then(|row| s.waitlist.rows.iter().position(|&r| r as usize == row)).unwrap_or(0);
            // Rows that arrived or changed while the search ran on its copy.
            s.filter.searching = false;
            let dirty: Vec<usize> = std::mem::take(&mut s.filter.dirty).into_iter().map(|i| i as usize).collect();
            relist(s, &dirty);
            if s.view == View::Chains {
                build_chains(s);
            }
            lookup_selected(s)
        }
        Msg::Lookup { generation, lookup } => {
            if generation == s.detail_generation {
                // The same person read again (their events changed): a
                // scrolled newest-first timeline stays on the lines it showed.
                let before = s.detail.as_ref().filter(|d| d.email == lookup.email).map(|d| d.events.len());
                if let Some(n) = before
                    && !s.timeline_oldest_first
                    && s.timeline_scroll > 0
                {
                    s.timeline_scroll = (s.timeline_scroll + lookup.events.len()).saturating_sub(n);
                }
                s.detail = Some(*lookup);
            }
            lookup_done(s)
        }
        Msg::LookupFailed { generation, error } => {
            if generation == s.detail_generation {
                s.toast(format!("could not read the detail: {error}"), ToastKind::Error);
                // So that moving back to the row, or Enter, asks again.
                s.detail_for = None;
            }
            lookup_done(s)
        }
        Msg::CodeTree(groups) => tree_arrived(s, groups),
        Msg::CodeTreeFailed(error) => tree_failed(s, error),
        Msg::CodesPage { branch, before, limit, codes } => page_arrived(s, branch, before, limit, codes),
        Msg::CodesPageFailed { branch, error } => page_failed(s, branch, error),
        Msg::Events { rows, ticks } => {
            let mut changed: Vec<i64> = Vec::new();
            let codes = rows.iter().any(touches_codes);
            if s.event_history.tail_floor == 0
                && let Some(first) = rows.iter().map(|e| e.id).min()
            {
                s.event_history.tail_floor = first;
                s.event_history.before = first;
            }
            for e in rows {
                s.event_cursor = s.event_cursor.max(e.id);
                if let Some(id) = e.entry_id {
                    changed.push(id);
                }
                s.events.push_back(e);
            }
            // The oldest go first, older pages before the tail; what goes is
            // read again from history when asked for.
            let cap = EVENT_TAIL + s.event_history.kept;
            while s.events.len() > cap {
                let Some(gone) = s.events.pop_front() else { break };
                let h = &mut s.event_history;
                h.done = false;
                if gone.id < h.tail_floor && h.kept > 0 {
                    h.kept -= 1;
                    h.before = gone.id + 1;
                } else if let Some(front) = s.events.front() {
                    h.tail_floor = front.id;
                    h.before = front.id;
                }
            }
            events_rows(s);
            for t in &ticks {
                s.live.ingest(t);
            }
            // The person on screen changed: read their detail again.
            let mut effects = match s.detail_for {
                Some(id) if changed.contains(&id) => {
                    match s.entry_index.get(id).map(|i| s.entries[i].email.to_string()) {
                        Some(email) => request_lookup(s, email),
                        None => vec![],
                    }
                }
                _ => vec![],
            };
            if codes {
                effects.extend(codes_changed(s));
            }
            effects
        }
        Msg::OlderEvents { generation, page } => {
            s.busy = s.busy.saturating_sub(1);
            if generation != s.event_history.generation {
                return vec![];
            }
            let h = &mut s.event_history;
            h.loading = false;
            h.before = page.scanned_to;
            h.done = page.done;
            h.kept += page.rows.len();
            let found = !page.rows.is_empty();
            for e in page.rows {
                s.events.push_front(e);
            }
            events_rows(s);
            // Nothing in that stretch of history: look further down (each
            // read is bounded; the title says how far it got).
            if !found && !s.event_history.done { older_events(s) } else { vec![] }
        }
        Msg::LiveHour { minutes, offenders } => {
            s.live.roll(s.now);
            s.live.seed(&minutes, &offenders);
            vec![]
        }
        Msg::Switches { switches, settings, sent_today, failed_mail } => {
            s.failed_mail = failed_mail;
            s.switches = switches;
            s.settings = Some(*settings);
            s.cap_sent_today = Some(sent_today);
            vec![]
        }
        Msg::BlockPreview { selector, status, preview } => {
            s.busy = s.busy.saturating_sub(1);
            block_preview(s, selector, status, preview)
        }
        Msg::Alerts(alerts) => {
            s.alerts = alerts;
            vec![]
        }
        Msg::Done(text) => {
            s.busy = s.busy.saturating_sub(1);
            s.toast(text, ToastKind::Info);
            let mut effects = vec![Effect::Refresh];
            // The Codes view counts what the action changed at once.
            if s.view == View::Codes {
                effects.extend(count_codes(s));
            }
            effects
        }
        Msg::Quit => {
            s.quit = true;
            vec![]
        }
        Msg::OlderEventsFailed { generation, error } => {
            s.busy = s.busy.saturating_sub(1);
            if generation == s.event_history.generation {
                s.event_history.loading = false;
            }
            s.toast(format!("could not read older events: {error}"), ToastKind::Error);
            vec![]
        }
        Msg::Failed(text) => {
            s.busy = s.busy.saturating_sub(1);
            s.toast(text, ToastKind::Error);
            vec![]
        }
    }
}
