//! The `/` filter of each view: a search for the people, in place for
//! codes and events.

use super::*;

pub(in crate::console) fn clear_filter(s: &mut State) -> Vec<Effect> {
    s.filter.query.clear();
    refilter(s)
}

/// Re-runs the filter for the current view after the query changed.
pub(in crate::console) fn refilter(s: &mut State) -> Vec<Effect> {
    s.filter.generation += 1;
    let query = s.filter.query.clone();
    match s.view {
        View::Waitlist | View::Chains => {
            let narrowing = !s.filter.answered.is_empty() && query.starts_with(&s.filter.answered);
            let within = narrowing.then(|| s.waitlist.rows.clone());
            s.filter.searching = true;
            s.filter.dirty.clear();
            vec![Effect::Filter { generation: s.filter.generation, query, within }]
        }
        View::Codes => {
            filter_codes(s);
            vec![]
        }
        View::Events => {
            forget_history(s);
            events_rows(s);
            vec![]
        }
    }
}

/// The older pages were read for another filter: drop them, so paging
/// starts again below the live tail, for this one.
pub(in crate::console) fn forget_history(s: &mut State) {
    let h = &mut s.event_history;
    h.generation += 1;
    h.loading = false;
    h.done = false;
    h.before = h.tail_floor;
    if h.kept > 0 {
        let floor = h.tail_floor;
        s.events.retain(|e| e.id >= floor);
        h.kept = 0;
    }
}

/// Asks for the next older page of events, of the current filter (one at
/// a time; none once history is exhausted or the view holds its most).
pub(in crate::console) fn older_events(s: &mut State) -> Vec<Effect> {
    let h = &s.event_history;
    if h.loading || h.done || h.before <= 1 {
        return vec![];
    }
    if h.kept >= EVENT_HISTORY_MAX {
        s.toast(
            format!("holding {EVENT_HISTORY_MAX} older events: filter (/) by kind, outcome, actor or prefix to look further back"),
            ToastKind::Info,
        );
        return vec![];
    }
    let (generation, before) = (h.generation, h.before);
    let words = s.filter.query.split_whitespace().map(str::to_string).collect();
    s.event_history.loading = true;
    s.busy += 1;
    vec![Effect::OlderEvents { generation, before, words, limit: EVENT_PAGE }]
}

/// `query` (lowercase, spaces ignored) in `hay` (lowercase), by the one matcher.
pub(in crate::console) fn matches_text(query: &str, hay: &str) -> bool {
    let q = crate::console::filter::needle(query);
    q.is_empty() || crate::console::filter::subsequence(&q, hay.as_bytes())
}

/// The Codes view's filter: campaign or group, batch, and the hint, kind
/// and state of the codes read so far (a match is listed with its rows).
pub(in crate::console) fn filter_codes(s: &mut State) {
    relist_codes(s);
}

pub(in crate::console) fn events_rows(s: &mut State) {
    let q = s.filter.query.to_ascii_lowercase();
    let n = s.events.len();
    s.events_list.rows = (0..n as u32)
        .rev()
        .filter(|&i| {
            if q.is_empty() {
                return true;
            }
            let e = &s.events[i as usize];
            let hay = format!(
                "{} {} {} {}",
                e.kind,
                e.outcome.as_deref().unwrap_or(""),
                e.actor,
                e.ip_prefix.as_deref().unwrap_or("")
            )
            .to_ascii_lowercase();
            // Word by word: what the database matched (each word a kind,
            // outcome, actor or the start of a prefix) is always listed.
            q.split_whitespace().all(|w| matches_text(w, &hay))
        })
        .collect();
    s.events_list.clamp();
}
