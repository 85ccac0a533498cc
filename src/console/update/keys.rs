//! What each key does: moving, views, panes, and the actions that ask
//! first (their confirmation modals).

use super::*;

pub(in crate::console) fn command(s: &mut State, c: Command) -> Vec<Effect> {
    if matches!(s.modal, Some(Modal::Help)) {
        if matches!(c, Command::Back | Command::Quit | Command::Help) {
            s.modal = None;
        }
        return vec![];
    }
    // The role is checked against the service's permission for what the
    // key asks for, the same check that hides the key.
    if let Some(action) = action_of(c, s)
        && !s.may(action.permission())
    {
        return vec![];
    }
    if s.pane == Pane::Detail
        && matches!(s.view, View::Waitlist | View::Chains)
        && let Some(to) = timeline_target(s, c)
    {
        s.timeline_scroll = to;
        return vec![];
    }
    match c {
        Command::TimelineOrder => {
            s.timeline_oldest_first = !s.timeline_oldest_first;
            s.timeline_scroll = 0;
            let order = if s.timeline_oldest_first { "in time order (oldest first)" } else { "newest first" };
            s.toast(format!("timeline {order}"), ToastKind::Info);
            vec![]
        }
        Command::Up => move_by(s, -1),
        Command::Down => move_by(s, 1),
        Command::PageUp => move_by(s, -(PAGE as i64)),
        Command::PageDown => move_by(s, PAGE as i64),
        Command::Top => move_by(s, i64::MIN / 2),
        Command::Bottom => move_by(s, i64::MAX / 2),
        Command::View(v) => switch_view(s, v),
        Command::NextPane => {
            s.pane = match s.pane {
                Pane::List => Pane::Detail,
                Pane::Detail if s.live_beside() => Pane::Live,
                _ => Pane::List,
            };
            vec![]
        }
        Command::Detail => {
            if let Some(effects) = toggle_row(s) {
                return effects;
            }
            s.pane = Pane::Detail;
            lookup_selected(s)
        }
        Command::Expand => open_row(s),
        Command::Collapse => close_row(s),
        Command::Back => match back(s) {
            Some(effects) => effects,
            None => {
                s.toast("nothing to go back from; q quits", ToastKind::Info);
                vec![]
            }
        },
        // q quits from the list (filtered or not); from the detail or the
        // Live pane it goes back to the list first.
        Command::Quit => {
            if s.pane != Pane::List {
                s.pane = Pane::List;
            } else if s.live_toggled {
                s.live_toggled = false;
            } else {
                s.quit = true;
            }
            vec![]
        }
        Command::Mark => {
            if let Some(e) = s.selected_entry() {
                let id = e.id;
                if !s.marks.remove(&id) {
                    s.marks.insert(id);
                }
                move_by(s, 1);
            }
            vec![]
        }
        Command::Filter => {
            s.filter.editing = true;
            vec![]
        }
        Command::CommandLine => {
            s.modal = Some(Modal::Command(String::new()));
            vec![]
        }
        Command::Help => {
            s.modal = Some(Modal::Help);
            vec![]
        }
        Command::ToggleLive => {
            s.live_toggled = !s.live_toggled;
            vec![]
        }
        Command::Approve => approve(s),
        Command::ApproveNext => ask_number(s, NumberFor::ApproveNext),
        Command::SendNow => ask_number(s, NumberFor::SendNow),
        Command::Revoke => revoke_selected(s),
        Command::Reissue => with_person(s, |e| {
            confirm(
                format!("Reissue for {}?", e.email),
                vec![
                    "Invited: the current access code is revoked and a fresh one is mailed.".into(),
                    "Pending: a new confirmation link is mailed.".into(),
                ],
                Action::Reissue(e.email.to_string()),
            )
        }),
        Command::Block => with_person(s, |e| Modal::Text {
            prompt: format!("Why block {}? (kept in the event log)", e.email),
            value: String::new(),
            then: TextFor::Reason {
                title: format!("Block {}?", e.email),
                lines: vec![
                    format!("Now {}; blocked, they cannot redeem or be invited.", e.status),
                    "Unblock (u) returns them to where they were.".into(),
                ],
                action: Action::Block(e.email.to_string(), None),
            },
        }),
        Command::ChangeEmail => with_person(s, |e| Modal::Text {
            prompt: format!("New address for {} (an address can be changed once):", e.email),
            value: String::new(),
            then: TextFor::NewEmail { old: e.email.to_string(), status: e.status.to_string() },
        }),
        Command::Unblock => match s.selected_entry().map(|e| e.email.to_string()) {
            Some(email) => {
                s.busy += 1;
                vec![Effect::Act(Action::Unblock(email))]
            }
            None => vec![],
        },
        Command::PauseRedemption => {
            if let Some(g) = s.selected_campaign() {
                s.modal = Some(pause_campaign_modal(g));
                return vec![];
            }
            s.modal = Some(if s.redemption_paused() {
                confirm(
                    "Resume redemption?".into(),
                    vec!["Codes work again at once, on every server.".into()],
                    Action::Resume(Switch::Redemption),
                )
            } else {
                confirm(
                    "Pause all redemption?".into(),
                    vec![
                        "Every code stops working at once, on every server (503 paused).".into(),
                        "The pacer stops sending invites until you resume (p).".into(),
                    ],
                    Action::Pause(Switch::Redemption),
                )
            });
            vec![]
        }
    }
}

/// Where a moving key takes the person's timeline (its first line
/// shown), kept so the last page stays full; `None` for other keys.
pub(in crate::console) fn timeline_target(s: &State, c: Command) -> Option<usize> {
    let shown = s.selected_entry().map(|e| &*e.email);
    let n = s.detail.as_ref().filter(|l| Some(l.email.as_str()) == shown).map_or(0, |l| l.events.len());
    let rows = crate::console::view::timeline_rows(s).max(1);
    let last = n.saturating_sub(rows);
    let at = s.timeline_scroll.min(last);
    Some(
        match c {
            Command::Up => at.saturating_sub(1),
            Command::Down => at + 1,
            Command::PageUp => at.saturating_sub(rows),
            Command::PageDown => at + rows,
            Command::Top => 0,
            Command::Bottom => last,
            _ => return None,
        }
        .min(last),
    )
}

/// One step back: clears the filter, leaves the detail or the Live pane.
/// `None` at the top level, where there is nowhere to go back to.
pub(in crate::console) fn back(s: &mut State) -> Option<Vec<Effect>> {
    if !s.filter.query.is_empty() {
        return Some(clear_filter(s));
    }
    if s.pane != Pane::List {
        s.pane = Pane::List;
    } else if s.live_toggled {
        s.live_toggled = false;
    } else {
        return None;
    }
    Some(vec![])
}

pub(in crate::console) fn confirm(title: String, lines: Vec<String>, action: Action) -> Modal {
    Modal::Confirm { title, lines, action }
}

pub(in crate::console) fn with_person(s: &mut State, f: impl FnOnce(&EntryItem) -> Modal) -> Vec<Effect> {
    match s.selected_entry() {
        Some(e) => s.modal = Some(f(e)),
        None => s.toast("select a person first (Waitlist or Chains view)", ToastKind::Error),
    }
    vec![]
}

pub(in crate::console) fn move_by(s: &mut State, delta: i64) -> Vec<Effect> {
    let l = s.listing_mut();
    if l.rows.is_empty() {
        return vec![];
    }
    let max = l.rows.len() as i64 - 1;
    l.selected = (l.selected as i64).saturating_add(delta).clamp(0, max) as usize;
    // Down to the oldest event loaded: the next older page is read.
    if s.view == View::Events && delta > 0 && s.events_list.selected as i64 == max {
        return older_events(s);
    }
    // Near the last code read of an open batch: its next page.
    if s.view == View::Codes {
        return codes_moved(s);
    }
    lookup_selected(s)
}

pub(in crate::console) fn switch_view(s: &mut State, v: View) -> Vec<Effect> {
    // Waitlist and Chains share the people filter; other views start clean.
    let shares = matches!((s.view, v), (View::Waitlist | View::Chains, View::Waitlist | View::Chains));
    let mut effects = if !shares && !s.filter.query.is_empty() {
        s.filter.editing = false;
        clear_filter(s)
    } else {
        vec![]
    };
    s.view = v;
    s.pane = Pane::List;
    effects.extend(view_effects(s, v));
    effects
}

pub(in crate::console) fn view_effects(s: &mut State, v: View) -> Vec<Effect> {
    match v {
        View::Codes => count_codes(s),
        View::Chains => {
            build_chains(s);
            lookup_selected(s)
        }
        View::Waitlist => lookup_selected(s),
        View::Events => vec![],
    }
}

pub(in crate::console) fn approve(s: &mut State) -> Vec<Effect> {
    let ids = s.approvees();
    if ids.is_empty() {
        return vec![];
    }
    if ids.len() == 1 {
        s.busy += 1;
        return vec![Effect::Act(Action::Approve(ids))];
    }
    let emails: Vec<String> =
        ids.iter().filter_map(|id| s.entry_index.get(*id).map(|i| s.entries[i].email.to_string())).collect();
    let confirmed =
        ids.iter().filter(|id| s.entry_index.get(**id).is_some_and(|i| s.entries[i].status == "confirmed")).count();
    let mut lines = listed(&emails);
    if confirmed < ids.len() {
        lines.push(format!("{} of them are not confirmed and will be skipped.", ids.len() - confirmed));
    }
    s.modal = Some(confirm(format!("Approve {} marked entries?", ids.len()), lines, Action::Approve(ids)));
    vec![]
}

pub(in crate::console) fn listed(emails: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = emails.iter().take(SHOWN).map(|e| format!("  {e}")).collect();
    if emails.len() > SHOWN {
        lines.push(format!("  … and {} more", emails.len() - SHOWN));
    }
    lines
}

pub(in crate::console) fn ask_number(s: &mut State, then: NumberFor) -> Vec<Effect> {
    let prompt = match then {
        NumberFor::ApproveNext => "Approve how many confirmed entries, oldest first?",
        NumberFor::SendNow => "Send how many invites now, past today's cap?",
    };
    s.modal = Some(Modal::Number { prompt: prompt.into(), value: String::new(), then });
    vec![]
}

/// The confirmation for "approve next N": exactly who, from what is loaded.
pub(in crate::console) fn approve_next_modal(s: &State, n: i64) -> Modal {
    let mut waiting: Vec<&EntryItem> = s.entries.iter().filter(|e| e.status == "confirmed").collect();
    waiting.sort_by_key(|e| (e.confirmed_at, e.id));
    let take: Vec<String> = waiting.iter().take(n.max(0) as usize).map(|e| e.email.to_string()).collect();
    let mut lines = vec![format!("{} confirmed entries are waiting; these {} go first:", waiting.len(), take.len())];
    lines.extend(listed(&take));
    if !s.entries_done {
        lines.push("(still loading the list: the database decides the exact set)".into());
    }
    confirm(format!("Approve the next {n}?"), lines, Action::ApproveNext(n))
}

pub(in crate::console) fn revoke_selected(s: &mut State) -> Vec<Effect> {
    if s.view == View::Codes {
        return revoke_in_tree(s);
    }
    with_person(s, |e| {
        confirm(
            format!("Revoke every code {} gives out?", e.email),
            vec!["Their referral codes stop working; people who already joined stay in.".into()],
            Action::Revoke(CodeSet::Inviter(e.email.to_string())),
        )
    })
}

/// `r` in the Codes view: the code, batch or campaign of the row, asking
/// with exactly how many codes it changes (the database's count).
fn revoke_in_tree(s: &mut State) -> Vec<Effect> {
    if let Some(c) = s.selected_code() {
        let hint = c.hint.clone().unwrap_or_else(|| "----".into());
        let mut lines = vec![format!("{} code …{hint}, {} of {} uses taken, {}.", c.kind, c.uses, c.max_uses, c.state)];
        if let Some(camp) = &c.campaign {
            lines.push(format!(
                "Campaign {camp}, batch {} (r on the batch's row revokes the whole batch).",
                c.batch_id.map_or("-".to_string(), |b| b.to_string())
            ));
        }
        s.modal =
            Some(confirm(format!("Revoke code …{hint}?"), lines, Action::Revoke(CodeSet::Code(CodeRef::Id(c.id)))));
        return vec![];
    }
    let (title, totals, action) = if let Some(g) = s.selected_campaign() {
        let name = g.group.label().to_string();
        (format!("Revoke every code of campaign {name}?"), g.totals, Action::Revoke(CodeSet::Campaign(name)))
    } else if let Some((g, b)) = s.selected_batch()
        && let crate::service::TreeBatch::Batch(id) = b.batch
    {
        (format!("Revoke batch {id} ({})?", g.group.label()), b.totals, Action::Revoke(CodeSet::Batch(id)))
    } else {
        s.toast(
            "r revokes a campaign, a batch or one code: select one (access and referral codes go by batch or one by one)",
            ToastKind::Info,
        );
        return vec![];
    };
    match revoke_scope_modal(title, &totals, action) {
        Ok(m) => s.modal = Some(m),
        Err(why) => s.toast(why, ToastKind::Info),
    }
    vec![]
}

/// The confirmation of a batch or campaign revoke: exactly how many codes
/// change, as the database counted them (an error sentence when none would).
pub(in crate::console) fn revoke_scope_modal(
    title: String,
    t: &crate::service::CodeTotals,
    action: Action,
) -> Result<Modal, String> {
    let n = t.revocable;
    if n == 0 {
        return Err(format!("nothing to revoke: all {} codes there are revoked already", t.issued));
    }
    let verb = if n == 1 { "stops" } else { "stop" };
    let lines = vec![
        format!("{} {verb} working at once, on every server:", plural(n, "code")),
        format!("{} active, {} used up, {} past their date.", t.active, t.used, n - t.active - t.used),
        format!("{} already revoked or ended stay so; {} who joined stay in.", t.issued - n, t.joined),
        "(as the database counted them; one audited event per code)".into(),
    ];
    Ok(confirm(title, lines, action))
}

/// `p` on a campaign's row: pause or resume that campaign's redemption.
fn pause_campaign_modal(g: &crate::service::CodeTreeGroup) -> Modal {
    let name = g.group.label().to_string();
    let scope = Switch::Campaign(name.clone());
    let active = plural(g.totals.active, "active code");
    if g.paused {
        confirm(
            format!("Resume redemption for campaign {name}?"),
            vec![format!("Redemption works again at once, on every server, for its {active}.")],
            Action::Resume(scope),
        )
    } else {
        confirm(
            format!("Pause redemption for campaign {name}?"),
            vec![
                format!("Redemption stops at once, on every server, for its {active}; nothing is revoked."),
                "p on its row again resumes it.".into(),
            ],
            Action::Pause(scope),
        )
    }
}

/// "1 active code", "3 active codes".
pub(in crate::console) fn plural(n: i64, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}
