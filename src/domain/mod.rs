//! Pure rules: no I/O, no async. Email addresses, the entry state machine,
//! invite-code format, tokens, roles, settings and pacing, explanations.

pub mod alerts;
pub mod clock;
pub mod code;
pub mod code_set;
pub mod duration;
pub mod email;
pub mod event;
pub mod explain;
pub mod hex;
pub mod limits;
pub mod mail;
pub mod role;
pub mod settings;
pub mod status;
pub mod switch;
pub mod timefmt;
pub mod token;

pub use clock::{Clock, ManualClock, SystemClock};
pub use code::{CodeError, CodeHash, InviteCode};
pub use code_set::{CodeRef, CodeSet};
pub use email::{Email, EmailError};
pub use event::{EventKind, Outcome};
pub use mail::{MailKind, MailStatus};
pub use role::{Permission, Role};
pub use settings::Settings;
pub use status::{EntryStatus, IllegalTransition, Standing, Transition};
pub use switch::{Switch, SwitchState};
