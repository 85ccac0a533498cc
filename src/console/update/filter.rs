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
            events_rows(s);
            vec![]
        }
    }
}

/// `query` (lowercase, spaces ignored) in `hay` (lowercase), by the one matcher.
pub(in crate::console) fn matches_text(query: &str, hay: &str) -> bool {
    let q: Vec<u8> = query.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    q.is_empty() || crate::console::filter::subsequence(&q, hay.as_bytes())
}

/// The Codes view's filter: hint, campaign, kind and state.
pub(in crate::console) fn filter_codes(s: &mut State) {
    let q = s.filter.query.to_ascii_lowercase();
    s.codes_list.rows = (0..s.codes.len() as u32)
        .filter(|&i| {
            let c = &s.codes[i as usize];
            let hay = format!(
                "{} {} {} {}",
                c.hint.as_deref().unwrap_or(""),
                c.campaign.as_deref().unwrap_or(""),
                c.kind,
                c.state
            )
            .to_ascii_lowercase();
            matches_text(&q, &hay)
        })
        .collect();
    s.codes_list.clamp();
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
            matches_text(&q, &hay)
        })
        .collect();
    s.events_list.clamp();
}
