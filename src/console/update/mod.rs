//! `update(state, input) -> effects`: every change to the console state,
//! synchronous and free of I/O, so each action is testable on its own.

use super::action::{Effect, Input, Msg};
use super::commandline::run_command;
use super::keymap::{Command, action_of};
pub use super::rows::{add_changed, add_page, build_chains, relist};
use super::state::{
    EVENT_HISTORY_MAX, EVENT_PAGE, EVENT_TAIL, EntryItem, Modal, NumberFor, Pane, State, TEXT_MAX, TextFor, ToastKind,
    View,
};
use crate::domain::{CodeRef, CodeSet, Switch};
use crate::service::{Action, BlockSelector, BulkBlock};

/// Rows a page key moves.
const PAGE: usize = 20;
/// Emails listed in a confirmation before "and N more".
const SHOWN: usize = 8;

pub fn update(s: &mut State, input: Input) -> Vec<Effect> {
    match input {
        Input::Command(c) => command(s, c),
        Input::Char(c) => typed(s, Some(c)),
        Input::Backspace => typed(s, None),
        Input::Submit => submit(s),
        Input::Cancel => cancel(s),
        Input::Tick(now) => tick(s, now),
        Input::Resize(w, h) => {
            s.width = w;
            s.height = h;
            vec![]
        }
        Input::Msg(m) => message(s, m),
    }
}

/// Whether keys should go to a text field (filter, command line, number)
/// or a confirmation rather than to the keymap.
pub fn wants_text(s: &State) -> bool {
    s.filter.editing
        || matches!(
            s.modal,
            Some(Modal::Command(_) | Modal::Number { .. } | Modal::Text { .. } | Modal::Confirm { .. })
        )
}

mod codes;
mod detail;
mod filter;
mod keys;
mod messages;
mod modal;

use codes::*;
use detail::*;
use filter::*;
use keys::*;
pub(in crate::console) use keys::{approve_next_modal, confirm, revoke_scope_modal};
use messages::*;
use modal::*;
pub(in crate::console) use modal::{change_email_modal, erase_modal};

pub(in crate::console) fn tick(s: &mut State, now: chrono::DateTime<chrono::Utc>) -> Vec<Effect> {
    s.now = now;
    s.live.roll(now);
    s.toasts.retain(|t| t.until > now);
    // Codes that changed during the last count are counted again now.
    recount_codes(s)
}
