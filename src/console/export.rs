//! `:export FILE`: the rows the current view lists, as a CSV file (JSON
//! when FILE ends in `.json`). `view_table` takes them from the state
//! (pure, in `update`); `write` puts them in the file (in a background
//! task, from the runner). CSV cells are defused like `velvet export`'s.

use super::state::{CodeLine, State, View};
use crate::service::defuse;
use crate::service::{CodeGroup, TreeBatch};
use chrono::{DateTime, SecondsFormat, Utc};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One exported value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    /// Shared tags (sources, campaigns) and status names: not copied per row.
    Shared(Arc<str>),
    Static(&'static str),
    Time(DateTime<Utc>),
    Number(i64),
    Empty,
}

impl Cell {
    fn text(v: Option<&str>) -> Cell {
        v.map_or(Cell::Empty, |v| Cell::Text(v.to_string()))
    }

    fn as_csv(&self) -> String {
        match self {
            Cell::Text(t) => defuse(t),
            Cell::Shared(t) => defuse(t),
            Cell::Static(t) => defuse(t),
            Cell::Time(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
            Cell::Number(n) => n.to_string(),
            Cell::Empty => String::new(),
        }
    }

    fn as_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Cell::Text(t) => Value::from(t.as_str()),
            Cell::Shared(t) => Value::from(&**t),
            Cell::Static(t) => Value::from(*t),
            Cell::Time(t) => Value::from(t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            Cell::Number(n) => Value::from(*n),
            Cell::Empty => Value::Null,
        }
    }
}

/// The rows of one view, as listed (filtered, in the order shown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportTable {
    /// What the rows are, for the toast: "people", "rows of codes", "events".
    pub what: &'static str,
    pub columns: &'static [&'static str],
    pub rows: Vec<Vec<Cell>>,
}

pub const PEOPLE_COLUMNS: &[&str] = &["email", "status", "source", "signed_up", "campaign"];
/// One row per listed row of the tree: a campaign (or group) or batch with
/// its totals, or a code.
pub const CODE_COLUMNS: &[&str] = &[
    "row",
    "campaign",
    "batch",
    "hint",
    "kind",
    "state",
    "uses",
    "max_uses",
    "expires_at",
    "issued",
    "active",
    "used",
    "expired",
    "revoked",
    "joined",
];
pub const EVENT_COLUMNS: &[&str] = &["id", "at", "kind", "outcome", "actor", "ip_prefix", "rule", "reason", "detail"];

/// The rows the current view lists, exactly as filtered and ordered.
pub fn view_table(s: &State) -> ExportTable {
    match s.view {
        View::Waitlist | View::Chains => {
            let people: Vec<usize> = if s.view == View::Waitlist {
                s.waitlist.rows.iter().map(|&i| i as usize).collect()
            } else {
                s.chains_list.rows.iter().filter_map(|&i| s.chains.get(i as usize)).map(|l| l.entry).collect()
            };
            let rows = people
                .into_iter()
                .filter_map(|i| s.entries.get(i))
                .map(|e| {
                    vec![
                        Cell::Text(e.email.to_string()),
                        Cell::Static(e.status),
                        e.source.clone().map_or(Cell::Empty, Cell::Shared),
                        Cell::Time(e.first_seen),
                        e.campaign.clone().map_or(Cell::Empty, Cell::Shared),
                    ]
                })
                .collect();
            ExportTable { what: "people", columns: PEOPLE_COLUMNS, rows }
        }
        View::Codes => {
            let t = &s.codes;
            let totals = |row: &'static str, campaign: &str, batch: Cell, x: &crate::service::CodeTotals| {
                vec![
                    Cell::Static(row),
                    Cell::Text(campaign.to_string()),
                    batch,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Number(x.uses),
                    Cell::Number(x.max_uses),
                    Cell::Empty,
                    Cell::Number(x.issued),
                    Cell::Number(x.active),
                    Cell::Number(x.used),
                    Cell::Number(x.expired),
                    Cell::Number(x.revoked),
                    Cell::Number(x.joined),
                ]
            };
            let rows = s
                .codes_list
                .rows
                .iter()
                .filter_map(|&i| t.lines.get(i as usize))
                .filter_map(|&line| match line {
                    CodeLine::Group(g) => {
                        let g = &t.groups[g];
                        let row = if matches!(g.group, CodeGroup::Campaign(_)) { "campaign" } else { "group" };
                        Some(totals(row, g.group.label(), Cell::Empty, &g.totals))
                    }
                    CodeLine::Batch(g, b) => {
                        let (g, b) = (&t.groups[g], &t.groups[g].batches[b]);
                        let id = match b.batch {
                            TreeBatch::Batch(id) => Cell::Number(id),
                            _ => Cell::Empty,
                        };
                        Some(totals("batch", g.group.label(), id, &b.totals))
                    }
                    CodeLine::Code(l, i) => {
                        let c = &t.leaves[l].codes[i];
                        Some(vec![
                            Cell::Static("code"),
                            Cell::text(c.campaign.as_deref()),
                            c.batch_id.map_or(Cell::Empty, Cell::Number),
                            Cell::text(c.hint.as_deref()),
                            Cell::Text(c.kind.clone()),
                            Cell::Text(c.state.clone()),
                            Cell::Number(c.uses),
                            Cell::Number(c.max_uses),
                            Cell::Time(c.expires_at),
                            Cell::Empty,
                            Cell::Empty,
                            Cell::Empty,
                            Cell::Empty,
                            Cell::Empty,
                            Cell::Empty,
                        ])
                    }
                    CodeLine::More(_) => None,
                })
                .collect();
            ExportTable { what: "rows of codes", columns: CODE_COLUMNS, rows }
        }
        View::Events => {
            let rows = s
                .events_list
                .rows
                .iter()
                .filter_map(|&i| s.events.get(i as usize))
                .map(|e| {
                    vec![
                        Cell::Number(e.id),
                        Cell::Time(e.at),
                        Cell::Text(e.kind.clone()),
                        Cell::text(e.outcome.as_deref()),
                        Cell::Text(e.actor.clone()),
                        Cell::text(e.ip_prefix.as_deref()),
                        Cell::text(e.rule.as_deref()),
                        Cell::text(e.reason.as_deref()),
                        Cell::text(e.detail.as_deref()),
                    ]
                })
                .collect();
            ExportTable { what: "events", columns: EVENT_COLUMNS, rows }
        }
    }
}

/// Writes `table` to `path` (JSON when it ends in `.json`, CSV otherwise),
/// whole or not at all: into a draft beside it, then moved into place.
/// Answers the file's full path, or the error in one sentence.
pub fn write(path: &Path, table: &ExportTable) -> Result<PathBuf, String> {
    let full = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    // The file's name, not its whole path: the sentence must fit the footer
    // (the folder is named whole when it is the problem).
    let name = full.file_name().map_or_else(|| full.display().to_string(), |n| n.to_string_lossy().into_owned());
    let fail = |why: String| format!("could not export {name}: {why}");
    if full.file_name().is_none() || path.as_os_str().to_string_lossy().ends_with('/') {
        return Err(fail("that is a folder; name a file, e.g. :export people.csv".into()));
    }
    let folder = full.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !folder.is_dir() {
        return Err(fail(format!("the folder {} does not exist", folder.display())));
    }
    if full.is_dir() {
        return Err(fail("that is a folder; name a file, e.g. :export people.csv".into()));
    }
    let mut draft = tempfile::NamedTempFile::new_in(folder).map_err(|e| fail(io_reason(&e)))?;
    let json = full.extension().is_some_and(|x| x.eq_ignore_ascii_case("json"));
    let written = if json { write_json(draft.as_file_mut(), table) } else { write_csv(draft.as_file_mut(), table) };
    written.map_err(|e| fail(e.to_string()))?;
    draft.as_file().sync_all().map_err(|e| fail(io_reason(&e)))?;
    draft.persist(&full).map_err(|e| fail(io_reason(&e.error)))?;
    Ok(full)
}

fn write_csv(out: &mut std::fs::File, table: &ExportTable) -> Result<(), Box<dyn std::error::Error>> {
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(out));
    w.write_record(table.columns)?;
    for row in &table.rows {
        w.write_record(row.iter().map(Cell::as_csv))?;
    }
    w.flush()?;
    Ok(())
}

fn write_json(out: &mut std::fs::File, table: &ExportTable) -> Result<(), Box<dyn std::error::Error>> {
    let mut w = std::io::BufWriter::new(out);
    w.write_all(b"[")?;
    for (n, row) in table.rows.iter().enumerate() {
        let object: serde_json::Map<String, serde_json::Value> =
            table.columns.iter().zip(row).map(|(k, v)| (k.to_string(), v.as_json())).collect();
        w.write_all(if n == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut w, &object)?;
    }
    w.write_all(b"\n]\n")?;
    w.flush()?;
    Ok(())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::NotFound => "the folder does not exist".into(),
        _ => e.to_string(),
    }
}
