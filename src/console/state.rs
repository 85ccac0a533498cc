//! Everything the console shows, as plain data. `update` changes it;
//! the render functions only read it.

use super::filter::Haystack;
use super::live::LiveStats;
use crate::domain::{Role, Settings, Switch, SwitchState};
use crate::service::{Action, CodeBranch, CodeGroup, CodeTreeGroup, CodeView, Lookup, TreeBatch};
use crate::store::EventRow;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// Events kept for the Events view.
pub const EVENT_TAIL: usize = 2_000;
/// Older events the Events view holds at most, paged in from history.
pub const EVENT_HISTORY_MAX: usize = 20_000;
/// Events an older page asks for.
pub const EVENT_PAGE: i64 = 500;

/// Paging the Events view back through history, below the live tail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventHistory {
    /// The oldest id of the live tail as first loaded: everything below it
    /// in `State::events` came from older pages (of the current filter).
    pub tail_floor: i64,
    /// The next older page reads below this id.
    pub before: i64,
    /// Older events held (below `tail_floor`).
    pub kept: usize,
    /// An older page is being read...
    pub loading: bool,
    /// ... for this generation (a new filter drops answers for the old one).
    pub generation: u64,
    /// Nothing older is left (for this filter).
    pub done: bool,
}

/// Codes one page of an open batch asks for.
pub const CODE_PAGE: i64 = 200;
/// Codes one open batch holds at most (`velvet codes list --batch N` lists them all).
pub const CODES_HELD: usize = 20_000;
/// The next page is read when the cursor is this close to the last code read.
pub const CODES_AHEAD: usize = 40;
/// The least time between two counts of the tree while codes keep changing.
pub const CODES_RECOUNT: chrono::Duration = chrono::Duration::seconds(1);

/// The Codes view: campaigns (then the access and the referral codes) →
/// batches → codes. The totals are the database's (`Velvet::code_tree`);
/// an open batch reads its codes a page at a time (`Velvet::codes_page`).
#[derive(Clone, Debug, Default)]
pub struct CodesTree {
    /// As the database last counted them.
    pub groups: Vec<CodeTreeGroup>,
    /// The tree has arrived at least once.
    pub loaded: bool,
    /// A count is running...
    pub counting: bool,
    /// ... and codes changed since it was asked for: count again.
    pub stale: bool,
    /// When the last count was asked for (counts are at most `CODES_RECOUNT` apart).
    pub asked_at: Option<DateTime<Utc>>,
    /// Open rows: groups (as `TreeBatch::All`) and batches.
    pub open: BTreeSet<CodeBranch>,
    /// The codes read for each open row that lists codes (a batch, or the
    /// referral group, which has no batch level).
    pub leaves: Vec<CodeLeaf>,
    /// The rows shown, in order; `State::codes_list` indexes them.
    pub lines: Vec<CodeLine>,
    /// The limit of a held branch was told once.
    pub told_held: bool,
}

/// An open row's codes, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeLeaf {
    pub branch: CodeBranch,
    pub codes: Vec<CodeView>,
    /// The next page reads below this id.
    pub before: i64,
    /// A page is being read.
    pub loading: bool,
    /// Nothing older is left.
    pub done: bool,
}

impl CodeLeaf {
    pub fn new(branch: CodeBranch) -> CodeLeaf {
        CodeLeaf { branch, codes: Vec::new(), before: i64::MAX, loading: false, done: false }
    }
}

/// One row of the Codes view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeLine {
    /// `CodesTree::groups[g]`.
    Group(usize),
    /// Batch `b` of group `g`.
    Batch(usize, usize),
    /// Code `i` of leaf `l`.
    Code(usize, usize),
    /// Below the last code read of leaf `l`: more are being read or left.
    More(usize),
}

impl CodesTree {
    pub fn leaf(&self, branch: &CodeBranch) -> Option<&CodeLeaf> {
        self.leaves.iter().find(|l| &l.branch == branch)
    }

    pub fn leaf_mut(&mut self, branch: &CodeBranch) -> Option<&mut CodeLeaf> {
        self.leaves.iter_mut().find(|l| &l.branch == branch)
    }

    /// The branch a row stands for (a group is `TreeBatch::All`; a code,
    /// or the end of a list, stands for the row it is listed under).
    pub fn branch_of(&self, line: CodeLine) -> Option<CodeBranch> {
        match line {
            CodeLine::Group(g) => Some(CodeBranch { group: self.groups.get(g)?.group.clone(), batch: TreeBatch::All }),
            CodeLine::Batch(g, b) => {
                let group = self.groups.get(g)?;
                Some(CodeBranch { group: group.group.clone(), batch: group.batches.get(b)?.batch })
            }
            CodeLine::Code(l, _) | CodeLine::More(l) => self.leaves.get(l).map(|l| l.branch.clone()),
        }
    }

    /// The group and batch rows of a branch, as they are listed now.
    pub fn totals_of(&self, branch: &CodeBranch) -> Option<&crate::service::CodeTotals> {
        let g = self.groups.iter().find(|g| g.group == branch.group)?;
        match branch.batch {
            TreeBatch::All => Some(&g.totals),
            b => g.batches.iter().find(|x| x.batch == b).map(|x| &x.totals),
        }
    }

    /// The group of a campaign's name, if listed.
    pub fn campaign(&self, name: &str) -> Option<&CodeTreeGroup> {
        self.groups.iter().find(|g| matches!(&g.group, CodeGroup::Campaign(c) if c == name))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    Waitlist,
    Codes,
    Chains,
    Events,
}

impl View {
    pub const ALL: [View; 4] = [View::Waitlist, View::Codes, View::Chains, View::Events];

    pub fn title(self) -> &'static str {
        match self {
            View::Waitlist => "Waitlist",
            View::Codes => "Codes",
            View::Chains => "Chains",
            View::Events => "Events",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    List,
    Detail,
    Live,
}

/// One waitlist row, kept small: a million of them stay in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryItem {
    pub id: i64,
    pub email: Box<str>,
    pub status: &'static str,
    pub first_seen: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Shared between rows: a handful of distinct sources.
    pub source: Option<std::sync::Arc<str>>,
    pub referrer_id: Option<i64>,
    /// The campaign of the code this person joined with (shared, like sources).
    pub campaign: Option<std::sync::Arc<str>>,
    /// Hints of the codes this person holds, gives out or joined with,
    /// space-separated: what they read out on the phone.
    pub hints: Box<str>,
}

impl EntryItem {
    /// What the `/` filter searches, in this order. The help says so.
    pub fn searched(&self) -> [&str; 5] {
        [
            &self.email,
            self.status,
            self.source.as_deref().unwrap_or(""),
            self.campaign.as_deref().unwrap_or(""),
            &self.hints,
        ]
    }
}

/// The words the help uses for `EntryItem::searched`.
pub const SEARCHED: &str = "email, status, source, campaign, code hint";

/// Entry id → position in `State::entries`. Ids are mostly dense, so a
/// plain vector (4 bytes per id) serves; far-out ids go to a map.
#[derive(Clone, Debug, Default)]
pub struct IdIndex {
    dense: Vec<u32>,
    sparse: HashMap<i64, u32>,
}

/// Ids below this are kept in the vector (at most 256 MB of index).
const DENSE_IDS: i64 = 64 * 1024 * 1024;

impl IdIndex {
    pub fn get(&self, id: i64) -> Option<usize> {
        if (0..DENSE_IDS).contains(&id) {
            self.dense.get(id as usize).copied().filter(|p| *p > 0).map(|p| p as usize - 1)
        } else {
            self.sparse.get(&id).map(|p| *p as usize)
        }
    }

    pub fn insert(&mut self, id: i64, pos: usize) {
        if (0..DENSE_IDS).contains(&id) {
            let i = id as usize;
            if self.dense.len() <= i {
                self.dense.resize((i + 1).max(self.dense.len() * 5 / 4), 0);
            }
            self.dense[i] = pos as u32 + 1;
        } else {
            self.sparse.insert(id, pos as u32);
        }
    }
}

/// The rows a view lists after filtering: indices into its data.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    pub rows: Vec<u32>,
    pub selected: usize,
}

impl Listing {
    pub fn clamp(&mut self) {
        if self.rows.is_empty() {
            self.selected = 0;
        } else if self.selected >= self.rows.len() {
            self.selected = self.rows.len() - 1;
        }
    }

    pub fn current(&self) -> Option<usize> {
        self.rows.get(self.selected).map(|i| *i as usize)
    }
}

#[derive(Clone, Debug, Default)]
pub struct FilterState {
    pub query: String,
    pub editing: bool,
    /// Bumped per keystroke; results for older ones are dropped.
    pub generation: u64,
    /// The query the current rows answer (for narrowing; cleared to force
    /// a full search)...
    pub answered: String,
    /// ... and the one they were shown for (a re-answer keeps the cursor).
    pub shown: String,
    /// A search is running on a copy of the haystack...
    pub searching: bool,
    /// ... and these rows arrived or changed meanwhile: matched again
    /// when its answer comes.
    pub dirty: Vec<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToastKind {
    Info,
    Error,
}

#[derive(Clone, Debug)]
pub struct Toast {
    pub text: String,
    pub kind: ToastKind,
    pub until: DateTime<Utc>,
}

/// A line of the Chains view: one person at some depth of the invite tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainLine {
    pub entry: usize,
    pub depth: usize,
    pub invitees: usize,
    pub descendants: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modal {
    Help,
    Command(String),
    /// Asking for a number, then building `then` from it.
    Number {
        prompt: String,
        value: String,
        then: NumberFor,
    },
    /// Asking for a line of text (an address, a reason), then `then`.
    Text {
        prompt: String,
        value: String,
        then: TextFor,
    },
    /// Asking before `action` is done.
    Confirm {
        title: String,
        lines: Vec<String>,
        action: Action,
    },
}

/// What a text prompt's answer is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextFor {
    /// The corrected address of the person who has `old` (and `status`).
    NewEmail { old: String, status: String },
    /// Why `action` (a block) is done: the answer becomes its reason, then
    /// the confirmation `title` and `lines` are shown.
    Reason { title: String, lines: Vec<String>, action: Action },
    /// Erasing `email`: the operator types the address back.
    EraseTypedBack { email: String },
}

/// The longest text a prompt takes (an address is at most 254).
pub const TEXT_MAX: usize = 320;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberFor {
    ApproveNext,
    SendNow,
}

pub struct State {
    pub now: DateTime<Utc>,
    /// The operator's UTC offset for clock times (tests pin it to UTC).
    pub tz: chrono::FixedOffset,
    pub operator: String,
    pub role: Option<Role>,
    /// Where the data is: the backend, or the server of a context.
    pub backend: String,
    pub view: View,
    pub pane: Pane,
    /// The Live pane shown beside the list (wide screens) or instead of it.
    pub live_toggled: bool,
    pub width: u16,
    /// The terminal's height: how many timeline lines a page key scrolls.
    pub height: u16,

    pub entries: Vec<EntryItem>,
    pub entry_index: IdIndex,
    pub haystack: std::sync::Arc<Haystack>,
    pub entries_total: Option<u64>,
    pub entries_done: bool,
    pub waitlist: Listing,
    pub marks: BTreeSet<i64>,
    pub filter: FilterState,
    pub detail: Option<Lookup>,
    pub detail_for: Option<i64>,
    pub detail_generation: u64,
    /// The first timeline line shown in the person's detail (in the order
    /// shown); back to 0 when another person is selected.
    pub timeline_scroll: usize,
    /// The timeline in time order (oldest first) instead of newest first.
    pub timeline_oldest_first: bool,
    /// A lookup is running; the next one waits here (see `request_lookup`).
    pub lookup_running: bool,
    pub lookup_waiting: Option<super::action::Effect>,

    pub codes: CodesTree,
    pub codes_list: Listing,
    pub chains: Vec<ChainLine>,
    pub chains_list: Listing,
    pub events: VecDeque<EventRow>,
    pub events_list: Listing,
    pub event_cursor: i64,
    pub event_history: EventHistory,

    pub live: LiveStats,
    /// The server's active alerts, as the database last said.
    pub alerts: Vec<crate::service::ActiveAlert>,
    pub switches: Vec<SwitchState>,
    pub settings: Option<Settings>,
    pub cap_sent_today: Option<u64>,
    /// Mails and webhooks that gave up (`velvet mail failed`).
    pub failed_mail: u64,

    pub toasts: Vec<Toast>,
    pub modal: Option<Modal>,
    /// Background requests in flight (a spinner shows while > 0).
    pub busy: usize,
    pub quit: bool,
}

impl State {
    pub fn new(now: DateTime<Utc>, operator: String, role: Option<Role>, backend: &str) -> State {
        State {
            now,
            tz: chrono::FixedOffset::east_opt(0).expect("zero offset"),
            operator,
            role,
            backend: backend.to_string(),
            view: View::Waitlist,
            pane: Pane::List,
            live_toggled: false,
            width: 120,
            height: 40,
            entries: Vec::new(),
            entry_index: IdIndex::default(),
            haystack: Default::default(),
            entries_total: None,
            entries_done: false,
            waitlist: Listing::default(),
            marks: BTreeSet::new(),
            filter: FilterState::default(),
            detail: None,
            detail_for: None,
            detail_generation: 0,
            timeline_scroll: 0,
            timeline_oldest_first: false,
            lookup_running: false,
            lookup_waiting: None,
            codes: CodesTree::default(),
            codes_list: Listing::default(),
            chains: Vec::new(),
            chains_list: Listing::default(),
            events: VecDeque::new(),
            events_list: Listing::default(),
            event_cursor: 0,
            event_history: EventHistory::default(),
            live: LiveStats::new(now),
            alerts: Vec::new(),
            switches: Vec::new(),
            settings: None,
            cap_sent_today: None,
            failed_mail: 0,
            toasts: Vec::new(),
            modal: None,
            busy: 0,
            quit: false,
        }
    }

    /// Wide screens show the Live pane beside the list; narrow ones on `L`.
    pub fn live_beside(&self) -> bool {
        self.width >= 100 && !self.live_toggled
    }

    pub fn live_fullscreen(&self) -> bool {
        self.width < 100 && self.live_toggled
    }

    pub fn listing(&self) -> &Listing {
        match self.view {
            View::Waitlist => &self.waitlist,
            View::Codes => &self.codes_list,
            View::Chains => &self.chains_list,
            View::Events => &self.events_list,
        }
    }

    pub fn listing_mut(&mut self) -> &mut Listing {
        match self.view {
            View::Waitlist => &mut self.waitlist,
            View::Codes => &mut self.codes_list,
            View::Chains => &mut self.chains_list,
            View::Events => &mut self.events_list,
        }
    }

    /// The waitlist entry under the cursor (Waitlist or Chains view).
    pub fn selected_entry(&self) -> Option<&EntryItem> {
        match self.view {
            View::Waitlist => self.waitlist.current().and_then(|i| self.entries.get(i)),
            View::Chains => {
                self.chains_list.current().and_then(|i| self.chains.get(i)).and_then(|l| self.entries.get(l.entry))
            }
            _ => None,
        }
    }

    /// The row under the cursor in the Codes view.
    pub fn selected_code_line(&self) -> Option<CodeLine> {
        (self.view == View::Codes).then(|| self.codes_list.current().and_then(|i| self.codes.lines.get(i).copied()))?
    }

    /// The code under the cursor (Codes view, on a code row).
    pub fn selected_code(&self) -> Option<&CodeView> {
        match self.selected_code_line()? {
            CodeLine::Code(l, i) => self.codes.leaves.get(l)?.codes.get(i),
            _ => None,
        }
    }

    /// The campaign whose row is under the cursor (Codes view): the one
    /// `p` pauses and `r` revokes.
    pub fn selected_campaign(&self) -> Option<&CodeTreeGroup> {
        match self.selected_code_line()? {
            CodeLine::Group(g) => self.codes.groups.get(g).filter(|g| matches!(g.group, CodeGroup::Campaign(_))),
            _ => None,
        }
    }

    /// The batch whose row is under the cursor (Codes view), with its group.
    pub fn selected_batch(&self) -> Option<(&CodeTreeGroup, &crate::service::CodeTreeBatch)> {
        match self.selected_code_line()? {
            CodeLine::Batch(g, b) => {
                let group = self.codes.groups.get(g)?;
                Some((group, group.batches.get(b)?))
            }
            _ => None,
        }
    }

    pub fn redemption_paused(&self) -> bool {
        self.switches.iter().any(|s| s.switch == Switch::Redemption)
    }

    pub fn toast(&mut self, text: impl Into<String>, kind: ToastKind) {
        let until = self.now + chrono::Duration::seconds(if kind == ToastKind::Error { 8 } else { 4 });
        self.toasts.push(Toast { text: text.into(), kind, until });
        if self.toasts.len() > 3 {
            self.toasts.remove(0);
        }
    }

    pub fn can(&self, p: crate::domain::Permission) -> bool {
        self.role.is_some_and(|r| r.allows(p))
    }

    /// `can`, saying so in a toast when the role may not.
    pub fn may(&mut self, p: crate::domain::Permission) -> bool {
        let allowed = self.can(p);
        if !allowed {
            self.toast(format!("your role may not {}", p.describe()), ToastKind::Error);
        }
        allowed
    }

    /// Who `a` approves: the marked entries, else the selected one.
    pub fn approvees(&self) -> Vec<i64> {
        if self.marks.is_empty() {
            self.selected_entry().map(|e| vec![e.id]).unwrap_or_default()
        } else {
            self.marks.iter().copied().collect()
        }
    }
}
