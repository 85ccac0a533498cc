//! The detail of the selected person: one lookup at a time.

use super::*;

pub(in crate::console) fn lookup_selected(s: &mut State) -> Vec<Effect> {
    let Some(e) = s.selected_entry() else { return vec![] };
    if s.detail_for == Some(e.id) {
        return vec![];
    }
    let (id, email) = (e.id, e.email.to_string());
    s.detail_for = Some(id);
    // Another person: their timeline starts at the top.
    s.timeline_scroll = 0;
    request_lookup(s, email)
}

/// Asks for a person's detail. One lookup at a time: while one runs, the
/// newest request waits and replaces older waiting ones, so holding `j`
/// through a thousand rows runs a handful of lookups, and the row the
/// cursor stops on is read as soon as the database is free.
pub(in crate::console) fn request_lookup(s: &mut State, email: String) -> Vec<Effect> {
    s.detail_generation += 1;
    let effect = Effect::Lookup { generation: s.detail_generation, email };
    if s.lookup_running {
        s.lookup_waiting = Some(effect);
        return vec![];
    }
    s.lookup_running = true;
    vec![effect]
}

/// A lookup answered (or failed): the waiting one, if any, goes next.
pub(in crate::console) fn lookup_done(s: &mut State) -> Vec<Effect> {
    s.lookup_running = false;
    match s.lookup_waiting.take() {
        Some(next) => {
            s.lookup_running = true;
            vec![next]
        }
        None => vec![],
    }
}
