//! What flows into `update` (keys already mapped, text typed into a modal,
//! results from background work) and what flows out of it (`Effect`s: the
//! database work to start).

use super::keymap::Command;
use super::live::Tick;
use super::state::EntryItem;
use crate::domain::{Settings, SwitchState};
use crate::service::{Action, BlockSelector, BulkBlock, CodeBranch, CodeTreeGroup, CodeView, Lookup};
use crate::store::EventRow;
use chrono::{DateTime, Utc};

#[derive(Debug)]
pub enum Input {
    Command(Command),
    /// Text typed while a modal or the filter has the keyboard.
    Char(char),
    Backspace,
    Submit,
    Cancel,
    Tick(DateTime<Utc>),
    Resize(u16, u16),
    Msg(Msg),
}

/// Answers from background work.
#[derive(Debug)]
pub enum Msg {
    /// A page of entries, newest first; `done` after the last.
    Entries {
        rows: Vec<EntryItem>,
        total: u64,
        done: bool,
    },
    /// Entries changed by anyone (from the event stream).
    Changed(Vec<EntryItem>),
    /// A search answer for `generation`.
    Filtered {
        generation: u64,
        query: String,
        rows: Vec<u32>,
    },
    Lookup {
        generation: u64,
        lookup: Box<Lookup>,
    },
    LookupFailed {
        generation: u64,
        error: String,
    },
    /// The Codes view's tree, counted by the database.
    CodeTree(Vec<CodeTreeGroup>),
    /// Counting it failed.
    CodeTreeFailed(String),
    /// A page of `branch`'s codes below `before` (asked with `limit`), newest first.
    CodesPage {
        branch: CodeBranch,
        before: i64,
        limit: i64,
        codes: Vec<CodeView>,
    },
    /// Reading that page failed: it may be asked again.
    CodesPageFailed {
        branch: CodeBranch,
        error: String,
    },
    /// The Live pane's hour, counted by the database.
    LiveHour {
        minutes: Vec<crate::store::MinuteCount>,
        offenders: Vec<crate::store::OffenderCount>,
    },
    /// New events after the cursor (oldest first) and live ticks.
    Events {
        rows: Vec<EventRow>,
        ticks: Vec<Tick>,
    },
    /// An older page of events (newest first) for `generation`.
    OlderEvents {
        generation: u64,
        page: crate::store::EventPage,
    },
    /// Reading that page failed: paging may be asked again.
    OlderEventsFailed {
        generation: u64,
        error: String,
    },
    Switches {
        switches: Vec<SwitchState>,
        settings: Box<Settings>,
        sent_today: u64,
        failed_mail: u64,
    },
    /// Who a bulk block would take (its dry run), to ask for a reason and confirm.
    BlockPreview {
        selector: BlockSelector,
        status: Option<String>,
        preview: BulkBlock,
    },
    /// The server's active alerts (read every round of the feed).
    Alerts(Vec<crate::service::ActiveAlert>),
    /// An action finished: what to tell the operator.
    Done(String),
    Failed(String),
    /// Ctrl-C or SIGTERM: leave now.
    Quit,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Filter {
        generation: u64,
        query: String,
        within: Option<Vec<u32>>,
    },
    Lookup {
        generation: u64,
        email: String,
    },
    /// Count the Codes view's tree (`Velvet::code_tree`).
    LoadCodes,
    /// A page of one open row's codes below `before` (`Velvet::codes_page`).
    CodesPage {
        branch: CodeBranch,
        before: i64,
        limit: i64,
    },
    /// A change, done by the service as the operator.
    Act(Action),
    /// Count who a bulk block would take (changes nothing).
    PreviewBlock {
        selector: BlockSelector,
        status: Option<String>,
    },
    /// Re-read switches and settings after a change (the Codes view asks
    /// for its own count).
    Refresh,
    /// An older page of events below `before` matching `words` (the Events
    /// view's filter), for `generation`.
    OlderEvents {
        generation: u64,
        before: i64,
        words: Vec<String>,
        limit: i64,
    },
    /// Write the rows the view listed to `path` (`:export FILE`).
    Export {
        path: String,
        table: super::export::ExportTable,
    },
}
