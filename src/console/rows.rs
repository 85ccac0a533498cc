//! Keeping the loaded rows current: entries arriving from the loader or
//! changed by others, and the invite tree built from them.

use super::state::{ChainLine, EntryItem, State};
use std::collections::HashMap;

/// Adds a page from the loader: older rows, listed below what is shown
/// (a filter being typed lists them when the last page is in).
pub fn add_page(s: &mut State, rows: Vec<EntryItem>) {
    let mut fresh = Vec::new();
    for row in rows {
        // A row the feed brought meanwhile is newer than the page's copy.
        if s.entry_index.get(row.id).is_some() {
            continue;
        }
        fresh.push(upsert(s, row).0);
    }
    if s.filter.searching {
        // A search running on an older copy would drop them from the list.
        s.filter.dirty.extend(fresh.iter().map(|&i| i as u32));
    }
    if s.filter.query.is_empty() && !fresh.is_empty() {
        let key = |i: u32| std::cmp::Reverse(s.entries[i as usize].id);
        let sorted_before = s.waitlist.rows.last().is_none_or(|&last| key(last) <= key(fresh[0] as u32));
        s.waitlist.rows.extend(fresh.iter().map(|&i| i as u32));
        if !sorted_before {
            keep_cursor(s, sort_newest_first);
        }
    }
    s.waitlist.clamp();
}

/// Adds rows that arrived or changed (from the event feed). Each is
/// matched against the active filter as it comes: listed on top when it
/// newly matches, dropped when it no longer does (unless the cursor is on
/// it). Without a filter every row is listed, newest first.
pub fn add_changed(s: &mut State, rows: Vec<EntryItem>) {
    let mut touched = Vec::with_capacity(rows.len());
    for row in rows {
        touched.push(upsert(s, row).0);
    }
    if s.filter.searching {
        s.filter.dirty.extend(touched.iter().map(|&i| i as u32));
    }
    relist(s, &touched);
}

/// Stores a row (replacing the old one and its searchable text), returning
/// its index and whether it is new.
fn upsert(s: &mut State, row: EntryItem) -> (usize, bool) {
    if let Some(i) = s.entry_index.get(row.id) {
        // Copied only if a filter search still holds the old one.
        std::sync::Arc::make_mut(&mut s.haystack).replace(i, &row.searched());
        s.entries[i] = row;
        return (i, false);
    }
    let i = s.entries.len();
    s.entry_index.insert(row.id, i);
    std::sync::Arc::make_mut(&mut s.haystack).push(row.id, &row.searched());
    s.entries.push(row);
    (i, true)
}

/// Lists or unlists the rows at `indices` by the active filter.
pub fn relist(s: &mut State, indices: &[usize]) {
    if indices.is_empty() {
        return;
    }
    let mut listed = vec![false; s.entries.len()];
    for &r in &s.waitlist.rows {
        listed[r as usize] = true;
    }
    let filtering = !s.filter.query.is_empty();
    let selected = s.waitlist.current();
    let mut add = Vec::new();
    let mut drop = Vec::new();
    for &i in indices {
        let wanted = s.haystack.matches(i, &s.filter.query);
        if wanted && !listed[i] {
            listed[i] = true;
            add.push(i as u32);
        } else if !wanted && listed[i] && Some(i) != selected {
            listed[i] = false;
            drop.push(i);
        }
    }
    if add.is_empty() && drop.is_empty() {
        return;
    }
    keep_cursor(s, |s| {
        if !drop.is_empty() {
            s.waitlist.rows.retain(|&r| listed[r as usize]);
        }
        if filtering {
            // Filtered results are ranked: what arrives goes on top.
            add.sort_by_key(|&i| std::cmp::Reverse(s.entries[i as usize].id));
            add.append(&mut s.waitlist.rows);
            s.waitlist.rows = add;
        } else {
            s.waitlist.rows.extend(add);
            sort_newest_first(s);
        }
    });
}

/// Newest first; the rows are two sorted runs at most, merged in linear time.
fn sort_newest_first(s: &mut State) {
    let entries = &s.entries;
    s.waitlist.rows.sort_by_key(|&i| std::cmp::Reverse(entries[i as usize].id));
}

/// Runs `change` on the listing and puts the cursor back on the row it was on.
fn keep_cursor(s: &mut State, change: impl FnOnce(&mut State)) {
    let before = s.waitlist.current();
    change(s);
    if let Some(row) = before
        && let Some(pos) = s.waitlist.rows.iter().position(|&r| r as usize == row)
    {
        s.waitlist.selected = pos;
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
