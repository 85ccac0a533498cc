//! The command line, as DESIGN.md lists it.

use crate::service::{MAX_APPROVE_AT_ONCE, MAX_CODES_AT_ONCE, MAX_CODES_LISTED, MAX_INVITES_AT_ONCE, MAX_USES};
use chrono::Duration;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The most entries `seed` and `demo` make (the benchmarks use 10 million).
pub const MAX_SEED_SIZE: u64 = 20_000_000;
/// The most extra background events `seed` adds.
pub const MAX_EXTRA_EVENTS: u64 = 200_000_000;
/// Ids (batches, messages) are positive 64-bit numbers.
const MAX_ID: u64 = i64::MAX as u64;

/// The parser of every flag that takes a count: a whole number from `min`
/// to `max`, else a usage error that names the flag (clap adds it) and the
/// range. Nothing is cast: a number that does not fit is refused here.
pub fn count<T>(min: u64, max: u64) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
{
    move |text: &str| {
        text.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| format!("must be a whole number from {min} to {max}"))
    }
}

/// The parser of every flag that takes a duration: velvet's one grammar
/// (`domain::duration`), within `min..=max`.
pub fn duration(
    min: Duration,
    max: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text: &str| crate::domain::duration::parse_within(text, min, max).map_err(|e| e.to_string())
}

/// `codes issue --expires`: 1 h to 366 d.
pub fn code_validity(text: &str) -> Result<Duration, String> {
    duration(Duration::hours(1), Duration::days(366))(text)
}

/// `operator token --expires`: 1 h to 10 y, or `never` (`None`).
pub fn token_lifetime(text: &str) -> Result<TokenLifetime, String> {
    if text.trim().eq_ignore_ascii_case("never") {
        return Ok(TokenLifetime(None));
    }
    duration(Duration::hours(1), crate::domain::duration::MAX)(text)
        .map(|d| TokenLifetime(Some(d)))
        .map_err(|e| format!("{e}, or never"))
}

/// How long a new operator token lives; `None`: until revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLifetime(pub Option<Duration>);

/// `report --since`: 1 d to 366 d (counted in whole days, rounded up).
pub fn report_span(text: &str) -> Result<Duration, String> {
    duration(Duration::days(1), Duration::days(366))(text)
}

/// `events --since`: 1 s to 366 d.
pub fn trail_span(text: &str) -> Result<Duration, String> {
    duration(Duration::seconds(1), Duration::days(366))(text)
}

/// `simulate --duration`: 1 s to 30 d.
pub fn sim_length(text: &str) -> Result<Duration, String> {
    duration(Duration::seconds(1), Duration::days(30))(text)
}

#[derive(Debug, Parser)]
#[command(name = "velvet", version, about = "The velvet rope in front of an invite-only beta.", long_about = None)]
pub struct Cli {
    /// Database URL: sqlite://FILE (created on first use) or postgres://USER@HOST/DB
    /// [default: sqlite://velvet.db]
    #[arg(long, global = true, env = "VELVET_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Configuration file [default: velvet.toml, if present]
    #[arg(long, global = true, env = "VELVET_CONFIG")]
    pub config: Option<PathBuf>,

    /// Operator to act as, on a database URL [default: $VELVET_OPERATOR, else $USER].
    /// Attribution, not authentication: with a context, the token says who you are
    #[arg(long = "as", global = true, env = "VELVET_OPERATOR", value_name = "OPERATOR")]
    pub acting_as: Option<String>,

    /// Run against a server you logged in to (`velvet login`) instead of a database
    #[arg(long, global = true, env = "VELVET_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API, the mail dispatcher and the invite pacer
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080; port 0 picks one]
        #[arg(long, env = "VELVET_LISTEN")]
        listen: Option<String>,
        /// Serve the admin API (operators' tokens, `velvet login`) and /metrics on this address
        /// instead: keep it on loopback, a VPN or behind a TLS proxy [default: [serve] admin_listen]
        #[arg(long, env = "VELVET_ADMIN_LISTEN")]
        admin_listen: Option<String>,
        /// Mail transport: log, file:DIR or smtp://[USER:PASS@]HOST[:PORT][?tls=starttls|required|tls|opportunistic|none] (TLS required unless loopback)
        #[arg(long, env = "VELVET_MAIL", hide_env_values = true)]
        mail: Option<String>,
        /// Base URL of the links in mails [default: http://LISTEN]
        #[arg(long, env = "VELVET_PUBLIC_URL")]
        public_url: Option<String>,
        /// Serve /metrics on this (public) listener: true or false [default: [serve] metrics, else true].
        /// Keep it private: scrape it from inside, or turn it off here
        #[arg(long, env = "VELVET_METRICS", value_name = "BOOL", value_parser = clap::builder::BoolishValueParser::new())]
        metrics: Option<bool>,
    },
    /// Throwaway beta with live simulated traffic: seeds, serves, simulates, opens the console
    Demo {
        /// Keep the database (and mail folder) afterwards and say where
        #[arg(long)]
        keep: bool,
        /// Random seed, for the same world every time
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Entries in the seeded world
        #[arg(long, default_value_t = 20_000, value_parser = count::<u64>(1, MAX_SEED_SIZE))]
        size: u64,
    },
    /// Drive a running `serve` with simulated traffic and print a summary
    Simulate {
        #[arg(long, value_enum)]
        scenario: crate::sim::traffic::Scenario,
        /// The server's base URL (loopback unless --allow-remote)
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        target: String,
        /// Requests per second [default: steady 5, bot-wave 50, leak 10, viral 100]
        #[arg(long)]
        rate: Option<f64>,
        /// How long, like 30s, 2m, 1h (at most 30d)
        #[arg(long, default_value = "60s", value_parser = sim_length)]
        duration: Duration,
        /// The leaked multi-use code (scenario leak)
        #[arg(long)]
        code: Option<String>,
        /// The server's `--mail file:DIR` folder: confirmation links and invites are followed
        #[arg(long)]
        mail_dir: Option<std::path::PathBuf>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The target is not loopback but is yours
        #[arg(long)]
        allow_remote: bool,
    },
    /// The founders' weekly look: funnel and per-day charts as one HTML page
    Report {
        /// How far back, like 7d or 2w (whole days, at most 366d)
        #[arg(long, default_value = "7d", value_parser = report_span)]
        since: Duration,
        /// Where to write the page
        #[arg(long, default_value = "report.html")]
        out: std::path::PathBuf,
    },
    /// The full-screen console: waitlist, codes, chains, events, live rates
    Console,
    /// Fill a database with a believable beta, for trying velvet out
    Seed {
        /// Entries to create
        #[arg(long, default_value_t = 20_000, value_parser = count::<u64>(1, MAX_SEED_SIZE))]
        size: u64,
        /// Random seed, for the same world every time
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Extra background events to add (for scale tests)
        #[arg(long, default_value_t = 0, value_parser = count::<u64>(0, MAX_EXTRA_EVENTS))]
        extra_events: u64,
    },
    /// Create or update the database schema
    Migrate {
        /// Forget the recorded fingerprint of the secret (VELVET_SECRET), to change it on
        /// purpose: stop every server first; rate-limit windows start over
        #[arg(long)]
        forget_secret: bool,
    },
    /// Where is this person? Status, why, timeline, codes, mail
    Lookup {
        email: String,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Approve confirmed entries (oldest first with --next)
    #[command(group = clap::ArgGroup::new("which").required(true).args(["next", "email"]))]
    Approve {
        /// Approve the N oldest confirmed entries
        #[arg(long, value_name = "N", value_parser = count::<i64>(1, MAX_APPROVE_AT_ONCE as u64))]
        next: Option<i64>,
        /// Approve one entry
        #[arg(long, value_name = "EMAIL")]
        email: Option<String>,
        /// Show what would be approved, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Partner codes, revocation and listings
    #[command(subcommand)]
    Codes(CodesCommand),
    /// Pause redemption (all or one campaign), signups, or one inviter's codes
    Pause(PauseArgs),
    /// Resume what `pause` stopped
    Resume(PauseArgs),
    /// Block a person, or everyone at a domain, with an address prefix or from a source (one batch)
    #[command(group = clap::ArgGroup::new("who").required(true).args(["email", "domain", "prefix", "source"]))]
    #[command(group = clap::ArgGroup::new("bulk").args(["domain", "prefix", "source"]))]
    Block {
        /// One person (keeps their entry; unblock restores it)
        email: Option<String>,
        /// Every address at this domain, e.g. tempmail.example
        #[arg(long)]
        domain: Option<String>,
        /// Every address whose local part starts with this, e.g. bot
        #[arg(long)]
        prefix: Option<String>,
        /// Every entry that signed up with this source tag
        #[arg(long)]
        source: Option<String>,
        /// Only entries in this status: pending, confirmed, approved or invited
        #[arg(long, requires = "bulk")]
        status: Option<String>,
        /// Show how many and the first of them, change nothing
        #[arg(long, requires = "bulk")]
        dry_run: bool,
        /// Why (kept in the event log)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Unblock a person, or undo a bulk block: everyone in it back to where they were
    #[command(group = clap::ArgGroup::new("who").required(true).args(["email", "batch"]))]
    Unblock {
        email: Option<String>,
        /// The batch id `velvet block --domain|--prefix|--source` printed
        #[arg(long, value_parser = count::<i64>(1, MAX_ID))]
        batch: Option<i64>,
        #[arg(long, conflicts_with = "batch")]
        reason: Option<String>,
    },
    /// Correct a person's email, once: same place and history, a fresh confirmation (or code) to NEW
    ChangeEmail {
        /// The address on the list now
        old: String,
        /// The right address
        new: String,
    },
    /// Revoke a person's invite code and mail a fresh one (or a new confirmation link)
    Reissue { email: String },
    /// Send invites to approved entries under today's cap
    #[command(subcommand)]
    Invites(InvitesCommand),
    /// Print the event trail: one event a line, or JSON lines (on-call: `--kind alert --since 1h`)
    Events {
        /// Only events of this kind (signup, confirm, alert, alert_resolved, redeem, ...)
        #[arg(long)]
        kind: Option<String>,
        /// How far back, like 1h, 30m or 7d (at most 366d)
        #[arg(long, default_value = "1h", value_parser = trail_span)]
        since: Duration,
        /// Only one person's events
        #[arg(long)]
        entry: Option<String>,
        /// JSON lines instead of text
        #[arg(long)]
        json: bool,
        /// Keep printing events as they are committed, until Ctrl-C
        #[arg(long)]
        follow: bool,
    },
    /// Print the invite tree below one person
    Chain {
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Export the waitlist, or everything stored about one person (--person, as JSON)
    Export {
        /// Only entries with this status
        #[arg(long, conflicts_with = "person")]
        status: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Csv, conflicts_with = "person")]
        format: Format,
        /// Everything velvet stores about this person, as JSON (their right of access)
        #[arg(long, value_name = "EMAIL")]
        person: Option<String>,
    },
    /// Erase a person: address, note, user agents and device hashes go everywhere; counts stay
    Erase {
        email: String,
        /// Do not ask to type the address back (for scripts)
        #[arg(long)]
        yes: bool,
    },
    /// Show or change settings (daily_invite_cap, invites_per_user, ...)
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Manage operators
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Mail and webhooks that gave up: list them, send them again
    #[command(subcommand)]
    Mail(MailCommand),
    /// Log in to a server with an operator token and save it as a context
    Login {
        /// The context's name, e.g. prod
        name: String,
        /// The server's admin URL, e.g. https://velvet-admin.example.com
        url: String,
        /// Read the token from standard input instead of a prompt
        #[arg(long)]
        token_stdin: bool,
        /// Allow plain http:// to a host other than this machine (the token crosses the network in clear)
        #[arg(long)]
        insecure_http: bool,
    },
    /// List the saved contexts (the current one marked *)
    Contexts,
    /// Forget a saved context (its token stays valid until an admin revokes it)
    Logout { name: String },
    /// Make a saved context the one used when no --context is given
    Use { name: String },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List messages that gave up: id, kind, recipient, attempts, last error, when
    Failed {
        #[arg(long)]
        json: bool,
    },
    /// Send failed messages again (invites and referrals with a fresh code)
    #[command(group = clap::ArgGroup::new("which").required(true).args(["id", "all"]))]
    Retry {
        /// The message id, as `velvet mail failed` or `velvet lookup` shows it
        #[arg(value_parser = count::<i64>(1, MAX_ID))]
        id: Option<i64>,
        /// Every failed message (of --kind, if given)
        #[arg(long)]
        all: bool,
        /// confirm, invite, referral or webhook (with --all)
        #[arg(long, requires = "all")]
        kind: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CodesCommand {
    /// Issue partner codes; prints them one per line and nothing else
    Issue {
        /// Campaign tag, e.g. hn
        #[arg(long)]
        campaign: String,
        /// Redemptions each code allows
        #[arg(long, default_value_t = 1, value_parser = count::<i64>(1, MAX_USES as u64))]
        max_uses: i64,
        /// How many codes
        #[arg(long, default_value_t = 1, value_parser = count::<u32>(1, u64::from(MAX_CODES_AT_ONCE)))]
        count: u32,
        /// Validity, like 14d, 36h or 2w (1h to 366d)
        #[arg(long, default_value = "14d", value_parser = code_validity)]
        expires: Duration,
        /// At most this many redemptions per code per UTC day
        #[arg(long, value_parser = count::<i64>(1, MAX_USES as u64))]
        daily_cap: Option<i64>,
        /// Printed prefix (default: from the campaign)
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Revoke one code, a batch, a campaign, or every code of an inviter
    #[command(group = clap::ArgGroup::new("target").required(true).args(["code", "batch", "campaign", "inviter"]))]
    Revoke {
        /// The code as printed (case, dashes and spaces do not matter)
        code: Option<String>,
        #[arg(long, value_parser = count::<i64>(1, MAX_ID))]
        batch: Option<i64>,
        #[arg(long)]
        campaign: Option<String>,
        /// Email of the person whose referral codes to revoke
        #[arg(long)]
        inviter: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// Show what would be revoked, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// The codes by campaign and batch, each with its totals (what the console's Codes view shows)
    Tree {
        #[arg(long)]
        json: bool,
    },
    /// List codes, newest first (hints only: codes are stored hashed)
    List {
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long, value_parser = count::<i64>(1, MAX_ID))]
        batch: Option<i64>,
        /// access, referral or partner
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 100, value_parser = count::<i64>(1, MAX_CODES_LISTED as u64))]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PauseWhat {
    Redemption,
    Signups,
    Inviter,
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// redemption, signups, or inviter (with --email)
    pub what: PauseWhat,
    /// Only this campaign's codes (with redemption)
    #[arg(long)]
    pub campaign: Option<String>,
    /// The inviter whose codes to pause (with inviter)
    #[arg(long)]
    pub email: Option<String>,
    /// Why (kept in the event log)
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum InvitesCommand {
    /// Send invites now, oldest approval first, up to today's cap
    Send {
        /// Send at most N
        #[arg(long, value_name = "N", value_parser = count::<u64>(1, MAX_INVITES_AT_ONCE))]
        limit: Option<u64>,
        /// Send --limit invites even past today's cap (admins; audited)
        #[arg(long, requires = "limit")]
        past_cap: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Print every setting and current pauses
    Show,
    /// Change one setting
    Set { key: String, value: String },
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Add an operator (the first one must be an admin)
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List operators
    List,
    /// Issue a token for the admin API; prints it alone on stdout, once (only its hash is kept)
    Token {
        name: String,
        /// How long it works, like 90d, 12h or 1y (1h to 10y), or never
        #[arg(long, default_value = "90d", value_parser = token_lifetime)]
        expires: TokenLifetime,
        /// What it is for, shown in `velvet operator tokens` ("ada's laptop")
        #[arg(long)]
        note: Option<String>,
    },
    /// List tokens (every operator's, or NAME's): id, hint, state, expiry, last use
    Tokens {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one token: every server refuses it from its next call
    RevokeToken {
        /// The token id, as `velvet operator tokens` lists it
        #[arg(value_parser = count::<i64>(1, MAX_ID))]
        id: i64,
    },
    /// Change an operator's role (applies from their next call)
    Role {
        name: String,
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Remove an operator and every token of theirs; their past events keep the name
    Remove { name: String },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Viewer,
    Support,
    Admin,
    /// The product's own backend: may only report activity
    Product,
}

impl From<RoleArg> for crate::domain::Role {
    fn from(r: RoleArg) -> crate::domain::Role {
        use crate::domain::Role;
        match r {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Support => Role::Support,
            RoleArg::Admin => Role::Admin,
            RoleArg::Product => Role::Product,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Every flag that takes a count or a duration, with the arguments its
    /// command needs besides.
    const NUMERIC_FLAGS: &[(&[&str], &str)] = &[
        (&["codes", "issue", "--campaign", "x"], "--expires"),
        (&["codes", "issue", "--campaign", "x"], "--max-uses"),
        (&["codes", "issue", "--campaign", "x"], "--count"),
        (&["codes", "issue", "--campaign", "x"], "--daily-cap"),
        (&["codes", "revoke"], "--batch"),
        (&["codes", "list"], "--batch"),
        (&["codes", "list"], "--limit"),
        (&["invites", "send", "--past-cap"], "--limit"),
        (&["approve"], "--next"),
        (&["seed"], "--size"),
        (&["seed"], "--extra-events"),
        (&["demo"], "--size"),
        (&["report"], "--since"),
        (&["simulate", "--scenario", "steady"], "--duration"),
        (&["mail", "retry"], "--all"),
        (&["unblock"], "--batch"),
        (&["operator", "token", "ada"], "--expires"),
    ];

    fn parse(before: &[&str], flag: &str, value: &str) -> Result<Cli, clap::Error> {
        let mut argv = vec!["velvet"];
        argv.extend_from_slice(before);
        argv.push(flag);
        argv.push(value);
        Cli::try_parse_from(argv)
    }

    #[test]
    fn numbers_that_do_not_fit_are_usage_errors_naming_flag_and_range() {
        let e = parse(&["invites", "send", "--past-cap"], "--limit", "18446744073709551615").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(text.contains("--limit") && text.contains("from 1 to 100000"), "{text}");
        let e = parse(&["codes", "issue", "--campaign", "x"], "--expires", "200000000000d").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(text.contains("--expires") && text.contains("out of range: use 1h to 366d"), "{text}");
        let e = parse(&["codes", "issue", "--campaign", "x"], "--count", "4294967297").unwrap_err();
        assert!(e.to_string().contains("from 1 to 10000"), "{e}");
        let e = parse(&["codes", "issue", "--campaign", "x"], "--expires", "5").unwrap_err();
        assert!(e.to_string().contains("not a duration"), "a bare number has no unit: {e}");
        let Command::Codes(CodesCommand::Issue { expires, .. }) =
            parse(&["codes", "issue", "--campaign", "x"], "--expires", "36h").unwrap().command
        else {
            panic!()
        };
        assert_eq!(expires, Duration::hours(36));
        let Command::Report { since, .. } = Cli::try_parse_from(["velvet", "report"]).unwrap().command else {
            panic!()
        };
        assert_eq!(since, Duration::days(7), "the default goes through the same parser");
        let lifetime = |argv: &[&str]| match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Operator(OperatorCommand::Token { expires, .. })) => Ok(expires.0),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(lifetime(&["velvet", "operator", "token", "ada"]).unwrap(), Some(Duration::days(90)));
        assert_eq!(lifetime(&["velvet", "operator", "token", "ada", "--expires", "never"]).unwrap(), None);
        assert_eq!(
            lifetime(&["velvet", "operator", "token", "ada", "--expires", "12h"]).unwrap(),
            Some(Duration::hours(12))
        );
        let e = lifetime(&["velvet", "operator", "token", "ada", "--expires", "soon"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("or never"), "{e}");
        let e = lifetime(&["velvet", "operator", "token", "ada", "--expires", "30m"]).unwrap_err();
        assert!(e.to_string().contains("out of range: use 1h to 10y"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Any text for any count or duration flag: parsed within range, or
        /// a usage error (exit 2); never a panic.
        #[test]
        fn any_value_for_a_numeric_flag_is_in_range_or_exit_2(value in "[0-9]{0,22}[a-zA-Z .-]{0,3}[0-9]{0,22}[a-zA-Z]{0,2}|\\PC{0,12}") {
            for (before, flag) in NUMERIC_FLAGS {
                match parse(before, flag, &value) {
                    Ok(_) => {}
                    Err(e) => proptest::prop_assert_eq!(e.exit_code(), 2, "{} {}: {}", flag, value, e),
                }
            }
        }
    }
}
