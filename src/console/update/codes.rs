//! The Codes view's tree: opening and closing rows, reading an open
//! batch's codes a page at a time as the cursor nears the last one read,
//! counting the totals again when the feed says codes changed, and the rows
//! it lists (the filter keeps a match with the rows it is listed under).

use super::*;
use crate::console::state::{CODE_PAGE, CODES_AHEAD, CODES_HELD, CODES_RECOUNT, CodeLeaf, CodeLine, CodesTree};
use crate::service::{CodeBranch, CodeGroup, CodeTreeGroup, CodeView, TreeBatch};
use crate::store::EventRow;

/// What a row is, across rebuilds: the cursor stays on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::console) enum RowKey {
    /// A group (`TreeBatch::All`) or a batch.
    Branch(CodeBranch),
    Code(i64),
    /// The end of an open row's codes: the cursor keeps its place there, so
    /// the page read next comes in under it.
    More(CodeBranch),
}

fn key_of(t: &CodesTree, line: CodeLine) -> Option<RowKey> {
    Some(match line {
        CodeLine::Group(_) | CodeLine::Batch(..) => RowKey::Branch(t.branch_of(line)?),
        CodeLine::Code(l, i) => RowKey::Code(t.leaves.get(l)?.codes.get(i)?.id),
        CodeLine::More(l) => RowKey::More(t.leaves.get(l)?.branch.clone()),
    })
}

/// Whether an open row lists codes (a batch, or the referral group, which
/// has no batch level) rather than batches.
fn lists_codes(branch: &CodeBranch) -> bool {
    branch.batch != TreeBatch::All || branch.group == CodeGroup::Referral
}

fn all_of(group: &CodeGroup) -> CodeBranch {
    CodeBranch { group: group.clone(), batch: TreeBatch::All }
}

/// The rows, in order: each group, under an open one its batches (or its
/// codes), under an open batch its codes and, while more are left, a last row.
fn build_lines(t: &CodesTree) -> Vec<CodeLine> {
    let mut lines = Vec::new();
    let codes_of = |lines: &mut Vec<CodeLine>, branch: &CodeBranch| {
        if let Some(l) = t.leaves.iter().position(|l| &l.branch == branch) {
            lines.extend((0..t.leaves[l].codes.len()).map(|i| CodeLine::Code(l, i)));
            if !t.leaves[l].done {
                lines.push(CodeLine::More(l));
            }
        }
    };
    for (g, group) in t.groups.iter().enumerate() {
        lines.push(CodeLine::Group(g));
        let all = all_of(&group.group);
        if !t.open.contains(&all) {
            continue;
        }
        if !group.has_batches() {
            codes_of(&mut lines, &all);
            continue;
        }
        for (b, batch) in group.batches.iter().enumerate() {
            lines.push(CodeLine::Batch(g, b));
            let branch = CodeBranch { group: group.group.clone(), batch: batch.batch };
            if t.open.contains(&branch) {
                codes_of(&mut lines, &branch);
            }
        }
    }
    lines
}

fn depth(line: CodeLine, t: &CodesTree) -> usize {
    match line {
        CodeLine::Group(_) => 0,
        CodeLine::Batch(..) => 1,
        CodeLine::Code(l, _) | CodeLine::More(l) => {
            if t.leaves.get(l).is_some_and(|l| l.branch.batch == TreeBatch::All) { 1 } else { 2 }
        }
    }
}

/// What the `/` filter reads of a row.
fn hay(t: &CodesTree, line: CodeLine) -> String {
    match line {
        CodeLine::Group(g) => {
            let g = &t.groups[g];
            format!("{} {}", g.group.label(), if g.paused { "paused" } else { "" })
        }
        CodeLine::Batch(g, b) => {
            let b = &t.groups[g].batches[b];
            format!("{} {}", b.label(), b.created_by.as_deref().unwrap_or(""))
        }
        CodeLine::Code(l, i) => {
            let c = &t.leaves[l].codes[i];
            format!(
                "{} {} {} {}",
                c.hint.as_deref().unwrap_or(""),
                c.kind,
                c.state,
                c.campaign.as_deref().unwrap_or("")
            )
        }
        CodeLine::More(_) => String::new(),
    }
}

/// The rows listed for the filter: those that match, with every row they
/// are listed under and everything listed under them.
fn filtered(s: &State) -> Vec<u32> {
    let t = &s.codes;
    let q = s.filter.query.to_ascii_lowercase();
    if q.trim().is_empty() {
        return (0..t.lines.len() as u32).collect();
    }
    let n = t.lines.len();
    let hit: Vec<bool> = t
        .lines
        .iter()
        .map(|&l| !matches!(l, CodeLine::More(_)) && matches_text(&q, &hay(t, l).to_ascii_lowercase()))
        .collect();
    // Each row's parent: the nearest row above it one level up.
    let mut parent = vec![usize::MAX; n];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for (i, &line) in t.lines.iter().enumerate() {
        let d = depth(line, t);
        while stack.last().is_some_and(|&(_, pd)| pd >= d) {
            stack.pop();
        }
        if let Some(&(p, _)) = stack.last() {
            parent[i] = p;
        }
        stack.push((i, d));
    }
    let mut under_hit = vec![false; n];
    for i in 0..n {
        if parent[i] != usize::MAX {
            under_hit[i] = hit[parent[i]] || under_hit[parent[i]];
        }
    }
    let mut over_hit = vec![false; n];
    for i in (0..n).rev() {
        if parent[i] != usize::MAX && (hit[i] || over_hit[i]) {
            over_hit[parent[i]] = true;
        }
    }
    (0..n).filter(|&i| hit[i] || under_hit[i] || over_hit[i]).map(|i| i as u32).collect()
}

/// Rebuilds the rows (after the filter changed: the rows the cursor's
/// position names are still the ones built); the cursor stays on its row.
/// Changes to the tree take the cursor's row first (`current_key`) and
/// rebuild with `relist_codes_at`.
pub(in crate::console) fn relist_codes(s: &mut State) {
    let key = current_key(s);
    relist_codes_at(s, key);
}

fn current_key(s: &State) -> Option<RowKey> {
    s.codes_list.current().and_then(|i| s.codes.lines.get(i).copied()).and_then(|l| key_of(&s.codes, l))
}

/// Rebuilds the rows and puts the cursor on `key` (or, if that row is
/// gone, on the row it was listed under; at the end of a list, where it was).
pub(in crate::console) fn relist_codes_at(s: &mut State, key: Option<RowKey>) {
    let at = s.codes_list.selected;
    s.codes.lines = build_lines(&s.codes);
    s.codes_list.rows = filtered(s);
    let find = |s: &State, key: &RowKey| {
        s.codes_list.rows.iter().position(|&i| key_of(&s.codes, s.codes.lines[i as usize]).as_ref() == Some(key))
    };
    let found = match &key {
        Some(RowKey::More(_)) => Some(at),
        Some(k @ RowKey::Branch(_)) => find(s, k),
        Some(k @ RowKey::Code(_)) => find(s, k),
        None => None,
    };
    if let Some(pos) = found {
        s.codes_list.selected = pos;
    }
    s.codes_list.clamp();
}

/// Asks for the next page of open row `l`'s codes (one at a time; none
/// once all are read or the row holds its most).
fn read_page(s: &mut State, l: usize) -> Vec<Effect> {
    let Some(leaf) = s.codes.leaves.get_mut(l) else { return vec![] };
    if leaf.loading || leaf.done {
        return vec![];
    }
    if leaf.codes.len() >= CODES_HELD {
        if !std::mem::replace(&mut s.codes.told_held, true) {
            let what = match leaf.branch.batch {
                TreeBatch::Batch(b) => format!(": `velvet codes list --batch {b}` lists them all"),
                _ => String::new(),
            };
            s.toast(format!("holding the newest {CODES_HELD} codes of this row{what}"), ToastKind::Info);
        }
        return vec![];
    }
    leaf.loading = true;
    vec![Effect::CodesPage { branch: leaf.branch.clone(), before: leaf.before, limit: CODE_PAGE }]
}

/// The cursor moved: near the last code read of an open row, its next page.
pub(in crate::console) fn codes_moved(s: &mut State) -> Vec<Effect> {
    match s.selected_code_line() {
        Some(CodeLine::More(l)) => read_page(s, l),
        Some(CodeLine::Code(l, i)) if s.codes.leaves[l].codes.len() - i <= CODES_AHEAD => read_page(s, l),
        _ => vec![],
    }
}

/// Opens `branch` (a group or a batch): its batches or codes are listed
/// under it; a row that lists codes reads its first page.
fn open(s: &mut State, branch: CodeBranch) -> Vec<Effect> {
    let key = current_key(s);
    s.codes.open.insert(branch.clone());
    let mut effects = vec![];
    if lists_codes(&branch) {
        let l = match s.codes.leaves.iter().position(|l| l.branch == branch) {
            Some(l) => l,
            None => {
                s.codes.leaves.push(CodeLeaf::new(branch));
                s.codes.leaves.len() - 1
            }
        };
        effects = read_page(s, l);
    }
    relist_codes_at(s, key);
    effects
}

/// Closes `branch` (a group closes with its batches): the codes read for
/// it are let go, and the cursor goes to its row.
fn close(s: &mut State, branch: CodeBranch) {
    let t = &mut s.codes;
    if branch.batch == TreeBatch::All {
        t.open.retain(|b| b.group != branch.group);
        t.leaves.retain(|l| l.branch.group != branch.group);
    } else {
        t.open.remove(&branch);
        t.leaves.retain(|l| l.branch != branch);
    }
    relist_codes_at(s, Some(RowKey::Branch(branch)));
}

/// `l` / `→`: opens the row; on an open row, goes to the first row under it.
pub(in crate::console) fn open_row(s: &mut State) -> Vec<Effect> {
    let Some(line) = s.selected_code_line() else { return vec![] };
    match line {
        CodeLine::Group(_) | CodeLine::Batch(..) => {
            let Some(branch) = s.codes.branch_of(line) else { return vec![] };
            if !s.codes.open.contains(&branch) {
                return open(s, branch);
            }
            let next = s.codes_list.rows.get(s.codes_list.selected + 1).map(|&i| s.codes.lines[i as usize]);
            if next.is_some_and(|n| depth(n, &s.codes) > depth(line, &s.codes)) {
                s.codes_list.selected += 1;
            }
            codes_moved(s)
        }
        CodeLine::More(l) => read_page(s, l),
        CodeLine::Code(..) => vec![],
    }
}

/// `h` / `←`: closes the innermost open row the cursor is in (an open row
/// itself; else the row a code or a closed batch is listed under).
pub(in crate::console) fn close_row(s: &mut State) -> Vec<Effect> {
    let Some(line) = s.selected_code_line() else { return vec![] };
    let t = &s.codes;
    let target = match line {
        CodeLine::Group(_) => t.branch_of(line).filter(|b| t.open.contains(b)),
        CodeLine::Batch(g, _) => match t.branch_of(line) {
            Some(b) if t.open.contains(&b) => Some(b),
            _ => t.groups.get(g).map(|g| all_of(&g.group)),
        },
        CodeLine::Code(l, _) | CodeLine::More(l) => t.leaves.get(l).map(|l| l.branch.clone()),
    };
    if let Some(branch) = target {
        close(s, branch);
    }
    vec![]
}

/// `Enter` on a group or batch row: opens or closes it. `None` on a code
/// row (whose detail Enter shows).
pub(in crate::console) fn toggle_row(s: &mut State) -> Option<Vec<Effect>> {
    let line = s.selected_code_line()?;
    match line {
        CodeLine::Group(_) | CodeLine::Batch(..) => {
            let branch = s.codes.branch_of(line)?;
            Some(if s.codes.open.contains(&branch) {
                close(s, branch);
                vec![]
            } else {
                open(s, branch)
            })
        }
        CodeLine::More(l) => Some(read_page(s, l)),
        CodeLine::Code(..) => None,
    }
}

/// Counts the tree now (one count at a time: asked during one, it runs
/// again after).
pub(in crate::console) fn count_codes(s: &mut State) -> Vec<Effect> {
    let t = &mut s.codes;
    if t.counting {
        t.stale = true;
        return vec![];
    }
    t.counting = true;
    t.stale = false;
    t.asked_at = Some(s.now);
    vec![Effect::LoadCodes]
}

/// Counts again if codes changed since the last count and the view shows
/// them (at most once per `CODES_RECOUNT`).
pub(in crate::console) fn recount_codes(s: &mut State) -> Vec<Effect> {
    let t = &s.codes;
    let due = t.asked_at.is_none_or(|at| s.now - at >= CODES_RECOUNT);
    if s.view == View::Codes && t.stale && !t.counting && due { count_codes(s) } else { vec![] }
}

/// Whether an event changes what the Codes view counts: a code issued,
/// used, held, revoked or expired, someone joining, a campaign paused.
pub(in crate::console) fn touches_codes(e: &EventRow) -> bool {
    e.code_id.is_some()
        || e.batch_id.is_some()
        || e.campaign.is_some()
        || matches!(e.kind.as_str(), "joined" | "pause" | "resume")
}

/// The feed says codes changed: count again (soon, if a count ran just now).
pub(in crate::console) fn codes_changed(s: &mut State) -> Vec<Effect> {
    s.codes.stale = true;
    recount_codes(s)
}

/// The database's count arrived: open rows stay open (those still listed)
/// and read their newest codes again, as many as they had read.
pub(in crate::console) fn tree_arrived(s: &mut State, groups: Vec<CodeTreeGroup>) -> Vec<Effect> {
    let key = current_key(s);
    let t = &mut s.codes;
    t.groups = groups;
    t.loaded = true;
    t.counting = false;
    let listed: Vec<CodeBranch> = t.open.iter().filter(|b| t.totals_of(b).is_some()).cloned().collect();
    t.open = listed.into_iter().collect();
    let open = t.open.clone();
    t.leaves.retain(|l| open.contains(&l.branch));
    let mut effects = Vec::new();
    for leaf in t.leaves.iter_mut().filter(|l| !l.loading) {
        leaf.loading = true;
        // One more than were read: a batch read to its end stays so.
        let limit = (leaf.codes.len() as i64 + 1).clamp(CODE_PAGE, CODES_HELD as i64);
        effects.push(Effect::CodesPage { branch: leaf.branch.clone(), before: i64::MAX, limit });
    }
    relist_codes_at(s, key);
    effects.extend(recount_codes(s));
    effects
}

/// A page of `branch`'s codes below `before` arrived (from the top, when
/// `before` is `i64::MAX`: it replaces what was read).
pub(in crate::console) fn page_arrived(
    s: &mut State,
    branch: CodeBranch,
    before: i64,
    limit: i64,
    codes: Vec<CodeView>,
) -> Vec<Effect> {
    let key = current_key(s);
    let Some(leaf) = s.codes.leaf_mut(&branch) else { return vec![] };
    leaf.loading = false;
    let n = codes.len() as i64;
    if before == i64::MAX {
        leaf.codes = codes;
    } else if before == leaf.before {
        leaf.codes.extend(codes);
    } else {
        return vec![];
    }
    leaf.done = n < limit;
    leaf.before = leaf.codes.last().map_or(i64::MAX, |c| c.id);
    relist_codes_at(s, key);
    if s.view == View::Codes { codes_moved(s) } else { vec![] }
}

/// Reading a page failed: it may be asked again (moving onto the row).
pub(in crate::console) fn page_failed(s: &mut State, branch: CodeBranch, error: String) -> Vec<Effect> {
    if let Some(leaf) = s.codes.leaf_mut(&branch) {
        leaf.loading = false;
    }
    s.toast(format!("could not read the codes: {error}"), ToastKind::Error);
    vec![]
}

/// Counting failed: the last count stays on screen; the next change asks again.
pub(in crate::console) fn tree_failed(s: &mut State, error: String) -> Vec<Effect> {
    s.codes.counting = false;
    s.toast(format!("could not count the codes: {error}"), ToastKind::Error);
    vec![]
}
