//! Keeping the loaded rows current: entries arriving from the loader or
//! changed by others, and the invite tree built from them.

use super::state::{ChainLine, EntryItem, State};
use std::collections::HashMap;

/// Adds loaded or changed entries: known ids are updated in place, new
/// ones appended (and listed first when they are newer than what is shown).
pub fn add_entries(s: &mut State, rows: Vec<EntryItem>) {
    let newest = s.newest_id;
    let mut fresh_on_top = Vec::new();
    for row in rows {
        if let Some(i) = s.entry_index.get(row.id) {
            s.entries[i] = row;
            continue;
        }
        let i = s.entries.len();
        s.entry_index.insert(row.id, i);
        // Copied only if a filter search still holds the old one, and
        // only when there is a new row to add.
        std::sync::Arc::make_mut(&mut s.haystack).push(&[&row.email, row.source.as_deref().unwrap_or(""), row.status]);
        let newer = row.id > newest && newest != i64::MIN;
        s.newest_id = s.newest_id.max(row.id);
        s.entries.push(row);
        if s.filter.query.is_empty() {
            if newer {
                fresh_on_top.push(i as u32);
            } else {
                s.waitlist.rows.push(i as u32);
            }
        }
    }
    if !fresh_on_top.is_empty() {
        fresh_on_top.sort_by_key(|&i| std::cmp::Reverse(s.entries[i as usize].id));
        let shift = fresh_on_top.len();
        fresh_on_top.append(&mut s.waitlist.rows);
        s.waitlist.rows = fresh_on_top;
        // The cursor stays on the row it was on.
        s.waitlist.selected += shift;
    }
    s.waitlist.clamp();
}

/// Flattens the invite tree of the listed entries, any depth.
pub fn build_chains(s: &mut State) {
    let listed: std::collections::HashSet<usize> = s.waitlist.rows.iter().map(|&i| i as usize).collect();
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, e) in s.entries.iter().enumerate() {
        if let Some(parent) = e.referrer_id.and_then(|r| s.entry_index.get(r)) {
            children.entry(parent).or_default().push(i);
        }
    }
    fn count(n: usize, children: &HashMap<usize, Vec<usize>>, depth: usize) -> usize {
        if depth > 64 {
            return 0;
        }
        children.get(&n).map(|c| c.iter().map(|&k| 1 + count(k, children, depth + 1)).sum()).unwrap_or(0)
    }
    let mut roots: Vec<usize> = children
        .keys()
        .copied()
        .filter(|&i| s.entries[i].referrer_id.and_then(|r| s.entry_index.get(r)).is_none())
        .filter(|i| listed.contains(i) || s.filter.query.is_empty())
        .collect();
    roots.sort_by_key(|&i| std::cmp::Reverse(count(i, &children, 0)));
    let mut lines = Vec::new();
    let mut stack: Vec<(usize, usize)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        let kids = children.get(&i).cloned().unwrap_or_default();
        lines.push(ChainLine { entry: i, depth, invitees: kids.len(), descendants: count(i, &children, 0) });
        if depth < 64 {
            for k in kids.into_iter().rev() {
                stack.push((k, depth + 1));
            }
        }
    }
    s.chains = lines;
    s.chains_list.rows = (0..s.chains.len() as u32).collect();
    s.chains_list.clamp();
}
