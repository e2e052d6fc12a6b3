//! The Markdown report, for tickets (GitHub, Azure DevOps): a generated summary, then the
//! groups by owner, the fixes, the root causes, findings, unexplained signatures and the
//! accounting. Every piece of data is escaped so that no message can break a table or
//! inject markup: `\`, `|`, `*`, `_`, `` ` ``, `[`, `]`, `#` are backslash-escaped, `<`, `>`
//! and `&` become entities, and line breaks become `<br>`.

use super::{RenderOptions, aadsts, day, identity};
use crate::classify::knowledge;
use crate::report::{Report, plural};
use crate::vocab::Fix;
use std::collections::BTreeSet;
use std::io::{self, Write};

/// Escape text for a Markdown table cell or inline text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn table(out: &mut dyn Write, head: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    writeln!(out, "| {} |", head.join(" | "))?;
    let rule: Vec<String> = head
        .iter()
        .map(|h| {
            if h.ends_with('#') || NUMERIC.contains(h) {
                "---:".into()
            } else {
                "---".into()
            }
        })
        .collect();
    writeln!(out, "|{}|", rule.join("|"))?;
    for r in rows {
        writeln!(out, "| {} |", r.join(" | "))?;
    }
    writeln!(out)
}

const NUMERIC: &[&str] = &[
    "Failed runs",
    "Failures",
    "Owners",
    "Connections",
    "Flows",
    "Count",
    "Records",
    "Not failed",
    "Classified",
    "Unclassified",
    "Malformed",
];

fn code(s: &str) -> String {
    format!("`{s}`")
}

pub(crate) fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let t = report.totals();
    writeln!(out, "# flowdx report\n")?;
    let as_of = report
        .as_of()
        .map(|a| format!("data up to {} · ", crate::time::format_iso(a)))
        .unwrap_or_default();
    writeln!(
        out,
        "_{as_of}{} input{} · flowdx {}_\n",
        t.inputs,
        plural(t.inputs),
        env!("CARGO_PKG_VERSION")
    )?;
    if let Some(filter) = &opts.filter_note {
        writeln!(
            out,
            "**Filter:** {} ({} failures left out)\n",
            code(filter),
            t.filtered
        )?;
    }
    let summary: Vec<String> = report.summary().iter().map(|s| escape(s)).collect();
    writeln!(out, "{}\n", summary.join(" "))?;
    for h in report.hints() {
        writeln!(out, "> {}\n", escape(&h))?;
    }

    // Groups, by owner.
    let mut views = report.group_views();
    if !views.is_empty() {
        views.sort_by(|a, b| {
            (a.group.owner == crate::report::UNKNOWN, &a.group.owner)
                .cmp(&(b.group.owner == crate::report::UNKNOWN, &b.group.owner))
                .then(b.group.failed_runs.cmp(&a.group.failed_runs))
                .then(b.group.failures.cmp(&a.group.failures))
                .then_with(|| a.group.connection.cmp(&b.group.connection))
                .then(a.group.fix.cmp(&b.group.fix))
        });
        writeln!(out, "## Broken connections by owner\n")?;
        let rows: Vec<Vec<String>> = views
            .iter()
            .map(|v| {
                let g = v.group;
                let d = v.dominant;
                vec![
                    escape(&g.owner),
                    escape(&g.connection),
                    escape(g.connector.as_deref().unwrap_or("")),
                    code(d.category.as_str()),
                    code(d.root_cause.as_str()),
                    code(g.fix.as_str()),
                    d.actor.to_string(),
                    g.failed_runs.to_string(),
                    if g.broken_connection() {
                        "broken".into()
                    } else {
                        String::new()
                    },
                    day(g.first_seen),
                    day(g.last_seen),
                    g.aadsts
                        .iter()
                        .map(|c| aadsts(*c))
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect();
        table(
            out,
            &[
                "Owner",
                "Connection",
                "Connector",
                "Category",
                "Root cause",
                "Fix",
                "Actor",
                "Failed runs",
                "Status",
                "First seen",
                "Last seen",
                "AADSTS",
            ],
            &rows,
        )?;

        let fixes: BTreeSet<Fix> = views.iter().map(|v| v.group.fix).collect();
        writeln!(out, "### Fixes\n")?;
        for f in fixes {
            let text = knowledge::fix_text(f);
            if text.is_empty() {
                writeln!(out, "- {}", code(f.as_str()))?;
            } else {
                writeln!(out, "- {}: {}", code(f.as_str()), escape(text))?;
            }
        }
        writeln!(out)?;

        let largest = report.group_views();
        writeln!(
            out,
            "### Examples\n\nThe earliest failure of the {} largest group{}:\n",
            largest.len().min(opts.top),
            plural(largest.len().min(opts.top) as u64)
        )?;
        for v in largest
            .iter()
            .take(opts.top)
            .filter(|v| v.group.example.is_some())
        {
            let g = v.group;
            let ex = g.example.as_ref().expect("filtered");
            writeln!(
                out,
                "- **{} / {}** ({}, rule {}): {}",
                escape(&g.owner),
                escape(&g.connection),
                ex.source.as_str(),
                code(&ex.rule.replace('`', "'")),
                escape(&ex.message)
            )?;
        }
        writeln!(out)?;
    }

    let roots = report.root_causes();
    if !roots.is_empty() {
        writeln!(out, "## Root causes\n")?;
        let rows: Vec<Vec<String>> = roots
            .iter()
            .map(|r| {
                vec![
                    code(r.root_cause.as_str()),
                    r.failures.to_string(),
                    r.owners.to_string(),
                    r.connections.to_string(),
                    format!("{}{}", r.flows, if r.flows_capped { "+" } else { "" }),
                    code(r.fix.as_str()),
                    r.actor.to_string(),
                ]
            })
            .collect();
        table(
            out,
            &[
                "Root cause",
                "Failures",
                "Owners",
                "Connections",
                "Flows",
                "Fix",
                "Actor",
            ],
            &rows,
        )?;
    }

    if !report.findings().is_empty() {
        writeln!(out, "## Findings\n")?;
        for f in report.findings() {
            let mut tags = vec![f.confidence.to_string(), f.actor.to_string()];
            if let Some(fix) = f.fix {
                tags.push(code(fix.as_str()));
            }
            writeln!(
                out,
                "- **{}** ({}): {}",
                f.kind.as_str(),
                tags.join(", "),
                escape(&f.title)
            )?;
            for e in &f.evidence {
                writeln!(out, "  - {}", escape(e))?;
            }
        }
        writeln!(out)?;
    }

    let unexplained = report.unexplained_sorted();
    if !unexplained.is_empty() {
        let shown = unexplained.len().min(opts.top);
        writeln!(
            out,
            "## Unexplained failures\n\n{} failure{} match{} no rule; the {} most frequent of {} signature{}:\n",
            t.unclassified,
            plural(t.unclassified),
            if t.unclassified == 1 { "es" } else { "" },
            shown,
            unexplained.len(),
            plural(unexplained.len() as u64)
        )?;
        let rows: Vec<Vec<String>> = unexplained
            .iter()
            .take(opts.top)
            .map(|(sig, u)| {
                vec![
                    u.count.to_string(),
                    escape(sig),
                    escape(u.example.as_ref().map_or("", |e| e.message.as_str())),
                ]
            })
            .collect();
        table(out, &["Count", "Signature", "Example"], &rows)?;
    }

    writeln!(out, "## Accounting\n")?;
    writeln!(out, "`{}`\n", identity(&report.counts()))?;
    let rows: Vec<Vec<String>> = report
        .inputs()
        .iter()
        .map(|(path, s)| {
            let c = &s.counts;
            vec![
                escape(path),
                s.info
                    .as_ref()
                    .map_or("unregistered".into(), |i| i.kind.to_string()),
                s.info
                    .as_ref()
                    .map_or(String::new(), |i| i.format.to_string()),
                c.records.to_string(),
                c.not_failed.to_string(),
                c.classified.to_string(),
                c.unclassified.to_string(),
                c.malformed.to_string(),
            ]
        })
        .collect();
    table(
        out,
        &[
            "Input",
            "Kind",
            "Format",
            "Records",
            "Not failed",
            "Classified",
            "Unclassified",
            "Malformed",
        ],
        &rows,
    )?;
    let skipped: Vec<_> = report.skipped().collect();
    if !skipped.is_empty() {
        writeln!(out, "Skipped (not a recognised export):\n")?;
        for s in skipped {
            writeln!(out, "- {}: {}", escape(&s.path), escape(&s.reason))?;
        }
        writeln!(out)?;
    }
    if t.malformed > 0 {
        let kept = report.malformed().count() as u64;
        writeln!(
            out,
            "Malformed records ({}{}):\n",
            if kept < t.malformed { "first " } else { "" },
            kept
        )?;
        for m in report.malformed() {
            writeln!(
                out,
                "- {}: {}: {}",
                escape(&m.file),
                m.position,
                escape(&m.reason)
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::*;
    use crate::vocab::{Actor, Category, RootCause};

    fn md(r: &Report) -> String {
        let mut buf = Vec::new();
        render(r, &RenderOptions::default(), &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn escape_breaks_nothing() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("a\\|b"), "a\\\\\\|b");
        assert_eq!(escape("line1\r\nline2\nline3"), "line1<br>line2<br>line3");
        assert_eq!(escape("<script>&"), "&lt;script&gt;&amp;");
        assert_eq!(escape("shared_office365"), "shared\\_office365");
        assert_eq!(escape("\x1b[31m"), " \\[31m");
    }

    #[test]
    fn hostile_cells_keep_the_table_shape() {
        let mut o = OwnedObs::run(
            FILES[0],
            classified(
                diagnosis(
                    Category::MfaRequired,
                    RootCause::CaPolicyAfterConnection,
                    Fix::RepairConnection,
                    Actor::Owner,
                ),
                "r",
                "bad | message\nsecond line",
            ),
        );
        o.owner = Some("eve | x\ny".into());
        o.connection = Some("c|1".into());
        let text = md(&report_of([&o]));
        let header = text
            .lines()
            .find(|l| l.starts_with("| Owner |"))
            .expect("groups table");
        let cols = header.matches(" | ").count();
        let row = text
            .lines()
            .find(|l| l.starts_with("| eve"))
            .expect("group row");
        // Unescaped separators only: count " | " that are not preceded by a backslash.
        let unescaped = row
            .match_indices(" | ")
            .filter(|(i, _)| !row[..*i].ends_with('\\'))
            .count();
        assert_eq!(unescaped, cols, "{row}");
        assert!(row.contains("eve \\| x<br>y"), "{row}");
        assert!(!text.contains("bad | message"));
    }

    #[test]
    fn summary_and_accounting_are_shown() {
        let r = report_of(&sample(600, 9));
        let text = md(&r);
        let t = r.counts();
        assert!(text.starts_with("# flowdx report\n"));
        assert!(text.contains(&format!(
            "{} of {} records are failures",
            t.failed(),
            t.records
        )));
        assert!(text.contains(&format!(
            "`records {} = not failed {} + classified {} + unclassified {} + malformed {} + filtered {}`",
            t.records, t.not_failed, t.classified, t.unclassified, t.malformed, t.filtered
        )));
        assert!(text.contains("## Root causes"));
        assert!(text.contains("## Unexplained failures"));
        assert!(text.contains("must repair") || text.contains("must act on"));
    }
}
