//! What leaves velvet as a file: the export (CSV or JSON), one person's data, the report.

use super::*;
use crate::service::defuse;

/// Rows fetched per page by `export`.
pub(super) const EXPORT_PAGE: i64 = 5_000;

pub(super) async fn export(ctx: &Ctx, status: Option<&str>, format: Format) -> CliResult {
    let ops = ctx.ops().await?;
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut sink: Box<dyn ExportSink> = match format {
        Format::Csv => Box::new(csv::Writer::from_writer(out)),
        Format::Json => Box::new(JsonArray { out, first: true }),
    };
    let mut after = 0;
    loop {
        let page = ops.call(call::ExportPage { status: status.map(String::from), after, limit: EXPORT_PAGE }).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for row in &page {
            sink.row(row)?;
        }
    }
    sink.finish()
}

/// Where exported rows go, one at a time, so memory stays flat.
pub(super) trait ExportSink {
    fn row(&mut self, row: &ExportRow) -> CliResult;
    fn finish(self: Box<Self>) -> CliResult;
}

impl<W: Write> ExportSink for csv::Writer<W> {
    fn row(&mut self, row: &ExportRow) -> CliResult {
        let safe = ExportRow {
            email: defuse(&row.email),
            email_display: defuse(&row.email_display),
            source: row.source.as_deref().map(defuse),
            ..row.clone()
        };
        self.serialize(&safe).map_err(|e| CliError::failure(format!("cannot write CSV: {e}")))
    }
    fn finish(mut self: Box<Self>) -> CliResult {
        self.flush().map_err(io_error)
    }
}

pub(super) struct JsonArray<W: Write> {
    out: W,
    first: bool,
}

impl<W: Write> ExportSink for JsonArray<W> {
    fn row(&mut self, row: &ExportRow) -> CliResult {
        let sep = if self.first { "[\n" } else { ",\n" };
        self.first = false;
        let text = serde_json::to_string(row).map_err(|e| CliError::failure(e.to_string()))?;
        write!(self.out, "{sep}{text}").map_err(io_error)
    }
    fn finish(mut self: Box<Self>) -> CliResult {
        let end = if self.first { "[]\n" } else { "\n]\n" };
        self.out.write_all(end.as_bytes()).map_err(io_error)?;
        self.out.flush().map_err(io_error)
    }
}

pub(super) async fn report(ctx: &Ctx, since: Duration, out: std::path::PathBuf) -> CliResult {
    // Whole days, rounded up: `36h` reports on two.
    let days = (since + Duration::days(1) - Duration::seconds(1)).num_days();
    let report = ctx.ops().await?.call(call::ReportCall { days }).await?;
    let page = super::super::report_page::html(&report).map_err(CliError::failure)?;
    std::fs::write(&out, page).map_err(|e| CliError::failure(format!("cannot write {}: {e}", out.display())))?;
    eprintln!(
        "wrote {} ({} days, {} signups, {} joined)",
        out.display(),
        report.days.len(),
        report.funnel.signed_up,
        report.funnel.joined
    );
    Ok(())
}

pub(super) async fn person(ctx: &Ctx, email: String) -> CliResult {
    let found = ctx.ops().await?.call(call::ExportPerson { email }).await?;
    print_json(&found)
}
