//! Renderers: one module per output format, all reading a merged [`Report`].
//!
//! - [`OutputFormat::Table`]: for the terminal; who must act first, fitted to a width,
//!   coloured only when asked.
//! - [`OutputFormat::Json`]: for programs; a stable, documented schema (see [`json`]).
//! - [`OutputFormat::Csv`]: for spreadsheets; one row per group, safe against formula
//!   injection (see [`csv`]).
//! - [`OutputFormat::Markdown`]: for tickets (GitHub, Azure DevOps).
//! - [`OutputFormat::Html`]: for people; one self-contained page with a sortable, filterable
//!   groups table and a timeline chart (see [`html`]).

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod table;

use super::Report;
use crate::model::Ts;
use std::io::Write;

/// The output formats `analyze` and `merge` can write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Csv,
    Markdown,
    Html,
}

impl OutputFormat {
    pub const ALL: &'static [OutputFormat] = &[
        OutputFormat::Table,
        OutputFormat::Json,
        OutputFormat::Csv,
        OutputFormat::Markdown,
        OutputFormat::Html,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Json => "json",
            OutputFormat::Csv => "csv",
            OutputFormat::Markdown => "markdown",
            OutputFormat::Html => "html",
        }
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "table" | "text" => Ok(OutputFormat::Table),
            "json" => Ok(OutputFormat::Json),
            "csv" => Ok(OutputFormat::Csv),
            "markdown" | "md" => Ok(OutputFormat::Markdown),
            "html" | "htm" => Ok(OutputFormat::Html),
            _ => Err(format!(
                "unknown output format '{s}' (expected table, json, csv, markdown or html)"
            )),
        }
    }
}

/// How to render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI colour in the table (bold headings, actor colours). Ignored by other formats.
    pub color: bool,
    /// Fit the table to this many columns (long cells cut with `…`); `None`: never cut.
    pub width: Option<usize>,
    /// Start CSV output with a UTF-8 byte order mark, so Excel reads it as UTF-8.
    pub excel_bom: bool,
    /// How many unexplained signatures the table and Markdown list.
    pub top: usize,
    /// The filters that narrowed what groups and tables show (`--owner`, `--since`, ...),
    /// as one line for the output's header; `None` when nothing was filtered.
    pub filter_note: Option<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            width: None,
            excel_bom: false,
            top: 10,
            filter_note: None,
        }
    }
}

impl RenderOptions {
    /// Options for standard output: colour and the terminal's width when it is a terminal
    /// (colour off when `NO_COLOR` is set), neither when output is piped.
    pub fn for_stdout() -> RenderOptions {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal();
        RenderOptions {
            color: tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            width: if tty {
                terminal_size::terminal_size().map(|(w, _)| w.0 as usize)
            } else {
                None
            },
            ..RenderOptions::default()
        }
    }
}

/// Render `report` in `format` to `out`. I/O errors become [`crate::Error::Output`].
pub fn render(
    report: &Report,
    format: OutputFormat,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> crate::Result<()> {
    match format {
        OutputFormat::Table => table::render(report, opts, out),
        OutputFormat::Json => json::render(report, opts, out),
        OutputFormat::Csv => csv::render(report, opts, out),
        OutputFormat::Markdown => markdown::render(report, opts, out),
        OutputFormat::Html => html::render(report, opts, out),
    }
    .map_err(crate::Error::Output)
}

/// `2024-05-02`, or empty.
pub(crate) fn day(t: Option<Ts>) -> String {
    t.map(crate::time::format_day).unwrap_or_default()
}

/// `AADSTS50076`.
pub(crate) fn aadsts(code: u32) -> String {
    format!("AADSTS{code}")
}

/// The accounting identity as one line.
pub(crate) fn identity(c: &crate::report::Counts) -> String {
    format!(
        "records {} = not failed {} + classified {} + unclassified {} + malformed {} + filtered {}",
        c.records, c.not_failed, c.classified, c.unclassified, c.malformed, c.filtered
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print() {
        for f in OutputFormat::ALL {
            assert_eq!(f.to_string().parse::<OutputFormat>().unwrap(), *f);
        }
        assert_eq!(
            "MD".parse::<OutputFormat>().unwrap(),
            OutputFormat::Markdown
        );
        assert!(
            "xml"
                .parse::<OutputFormat>()
                .unwrap_err()
                .contains("expected")
        );
        use clap::ValueEnum;
        assert_eq!(
            OutputFormat::from_str("markdown", true).unwrap(),
            OutputFormat::Markdown
        );
    }
}
