//! The terminal report: who must act first, then one block per owner listing their broken
//! connections with the fix, the admin's actions, the root causes, the most frequent
//! unexplained signatures, findings and the accounting.
//!
//! Cells are cut with `…` to fit [`RenderOptions::width`] (display width, so wide
//! characters count double). Control characters in data are replaced by spaces, so a
//! message cannot move the cursor or colour the terminal; colour codes are written only
//! when [`RenderOptions::color`] is set.

use super::{RenderOptions, day, identity};
use crate::report::{GroupView, Report, UNKNOWN, plural};
use crate::vocab::Actor;
use std::io::{self, Write};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// Replace control characters (escape sequences, tabs, line breaks) with spaces.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Cut `s` to at most `width` display columns, ending with `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

fn pad(s: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(s.width()));
    if right {
        fill + s
    } else {
        s.to_string() + &fill
    }
}

struct Printer<'w> {
    out: &'w mut dyn Write,
    color: bool,
    width: Option<usize>,
}

impl Printer<'_> {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("{code}{s}{RESET}")
        } else {
            s.to_string()
        }
    }

    /// Cut a laid-out line to the width (when even the narrowest layout is too wide).
    fn fit(&self, indent: usize, s: &str) -> String {
        match self.width {
            Some(w) => truncate(s, w.saturating_sub(indent)),
            None => s.to_string(),
        }
    }

    /// A line of prose, cut to the width.
    fn line(&mut self, indent: usize, s: &str) -> io::Result<()> {
        let s = clean(s);
        let s = match self.width {
            Some(w) => truncate(&s, w.saturating_sub(indent).max(8)),
            None => s,
        };
        writeln!(self.out, "{}{s}", " ".repeat(indent))
    }

    /// A line of prose, wrapped at word boundaries to the width.
    fn para(&mut self, indent: usize, s: &str) -> io::Result<()> {
        let s = clean(s);
        let Some(w) = self.width else {
            return writeln!(self.out, "{}{s}", " ".repeat(indent));
        };
        let avail = w.saturating_sub(indent).max(20);
        let mut cur = String::new();
        for word in s.split(' ').filter(|w| !w.is_empty()) {
            if !cur.is_empty() && cur.width() + 1 + word.width() > avail {
                writeln!(self.out, "{}{cur}", " ".repeat(indent))?;
                cur.clear();
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(&truncate(word, avail));
        }
        if !cur.is_empty() {
            writeln!(self.out, "{}{cur}", " ".repeat(indent))?;
        }
        Ok(())
    }

    /// One line made of styled spans (`(colour codes, text)`), cut to the width as a whole:
    /// the span that overflows ends with `…` and the rest are dropped.
    fn spans(&mut self, indent: usize, spans: &[(&[&str], &str)]) -> io::Result<()> {
        let mut left = self.width.map(|w| w.saturating_sub(indent));
        let mut line = " ".repeat(indent);
        for (codes, text) in spans {
            let text = clean(text);
            let (text, last) = match left {
                Some(l) if text.width() > l => (truncate(&text, l), true),
                Some(l) => {
                    left = Some(l - text.width());
                    (text, false)
                }
                None => (text, false),
            };
            if self.color && !codes.is_empty() {
                line.push_str(&codes.concat());
                line.push_str(&text);
                line.push_str(RESET);
            } else {
                line.push_str(&text);
            }
            if last {
                break;
            }
        }
        writeln!(self.out, "{line}")
    }

    fn heading(&mut self, s: &str) -> io::Result<()> {
        writeln!(self.out)?;
        self.spans(0, &[(&[BOLD], s)])
    }

    /// Lay out columns: natural widths, then shrink the widest flexible column until the
    /// table fits. Numeric columns are right-aligned and never shrink.
    fn table(&mut self, indent: usize, cols: &[Col], rows: &[Row]) -> io::Result<()> {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.cells.iter().map(|c| clean(c)).collect())
            .collect();
        let mut widths: Vec<usize> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .map(|r| r[i].width())
                    .chain([c.head.width()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        if let Some(total) = self.width {
            // First down to each column's minimum, then, on a very narrow terminal, below it.
            let gaps = 2 * cols.len().saturating_sub(1) + indent;
            for floor in [None, Some(3)] {
                while widths.iter().sum::<usize>() + gaps > total {
                    let widest = (0..cols.len())
                        .filter(|&i| !cols[i].right && widths[i] > floor.unwrap_or(cols[i].min))
                        .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
                    match widest {
                        Some(i) => widths[i] -= 1,
                        None => break,
                    }
                }
            }
        }
        let head: Vec<String> = cols
            .iter()
            .zip(&widths)
            .map(|(c, &w)| pad(&truncate(c.head, w), w, c.right))
            .collect();
        let head = self.fit(indent, head.join("  ").trim_end());
        let head = self.paint(DIM, &head);
        writeln!(self.out, "{}{head}", " ".repeat(indent))?;
        for (row, cells) in rows.iter().zip(&cells) {
            let line: Vec<String> = cols
                .iter()
                .zip(&widths)
                .zip(cells)
                .map(|((c, &w), cell)| pad(&truncate(cell, w), w, c.right))
                .collect();
            let line = self.fit(indent, line.join("  ").trim_end());
            writeln!(self.out, "{}{line}", " ".repeat(indent))?;
            for note in &row.notes {
                self.line(indent + 2, note)?;
            }
        }
        Ok(())
    }
}

struct Col {
    head: &'static str,
    right: bool,
    min: usize,
}

const fn col(head: &'static str, min: usize) -> Col {
    Col {
        head,
        right: false,
        min,
    }
}

const fn num(head: &'static str) -> Col {
    Col {
        head,
        right: true,
        min: 0,
    }
}

struct Row {
    cells: Vec<String>,
    /// Lines printed under the row (the fix).
    notes: Vec<String>,
}

fn fix_note(v: &GroupView<'_>) -> String {
    if v.fix_text.is_empty() {
        format!("fix: {}", v.group.fix)
    } else {
        format!("fix ({}): {}", v.group.fix, v.fix_text)
    }
}

fn cause(v: &GroupView<'_>) -> String {
    format!("{} / {}", v.dominant.category, v.dominant.root_cause)
}

fn runs(v: &GroupView<'_>) -> String {
    let g = v.group;
    if g.failed_runs == 0 && g.broken_connection() {
        "status".into()
    } else {
        g.failed_runs.to_string()
    }
}

pub(crate) fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let mut p = Printer {
        out,
        color: opts.color,
        width: opts.width,
    };
    let t = report.totals();
    let work = report.work();

    let title = format!(
        "flowdx: {} failure{} in {} record{}{}",
        t.failed,
        plural(t.failed),
        t.records,
        plural(t.records),
        report
            .as_of()
            .map(|a| format!(", data up to {}", crate::time::format_iso(a)))
            .unwrap_or_default()
    );
    p.spans(0, &[(&[BOLD], &title)])?;
    if let Some(filter) = &opts.filter_note {
        p.para(
            0,
            &format!("filter: {filter} ({} failures left out)", t.filtered),
        )?;
    }

    p.heading("WHO MUST ACT")?;
    for s in report.summary() {
        p.para(2, &s)?;
    }
    for h in report.hints() {
        p.para(2, &h)?;
    }

    for o in &work.owners {
        let who = if o.owner == UNKNOWN {
            "OWNER unknown".to_string()
        } else {
            format!("OWNER {}", clean(o.owner))
        };
        let rest = format!(
            " · {} connection{}, {} failed run{}",
            o.connections,
            plural(o.connections as u64),
            o.failed_runs,
            plural(o.failed_runs)
        );
        writeln!(p.out)?;
        p.spans(0, &[(&[BOLD, YELLOW], &who), (&[BOLD], &rest)])?;
        let rows: Vec<Row> = o
            .groups
            .iter()
            .map(|v| Row {
                cells: vec![
                    v.group.connector.clone().unwrap_or_default(),
                    v.group.connection.clone(),
                    cause(v),
                    runs(v),
                    day(v.group.first_seen),
                    day(v.group.last_seen),
                ],
                notes: vec![fix_note(v)],
            })
            .collect();
        p.table(
            2,
            &[
                col("CONNECTOR", 8),
                col("CONNECTION", 12),
                col("CATEGORY / ROOT CAUSE", 16),
                num("RUNS"),
                col("FIRST SEEN", 10),
                col("LAST SEEN", 10),
            ],
            &rows,
        )?;
    }

    if !work.admin.is_empty() || !work.admin_findings.is_empty() {
        writeln!(p.out)?;
        p.spans(
            0,
            &[
                (&[BOLD, RED], "ADMIN"),
                (&[BOLD], " · tenant-level actions"),
            ],
        )?;
        for a in &work.admin {
            let text = crate::classify::knowledge::fix_text(a.fix);
            p.line(
                2,
                &format!(
                    "{}: {} failure{} ({} failed run{}), {} owner{}, {} connection{}",
                    a.fix,
                    a.failures,
                    plural(a.failures),
                    a.failed_runs,
                    plural(a.failed_runs),
                    a.owners,
                    plural(a.owners as u64),
                    a.connections,
                    plural(a.connections as u64)
                ),
            )?;
            if !text.is_empty() {
                p.para(4, text)?;
            }
            let rows: Vec<Row> = a
                .groups
                .iter()
                .map(|v| Row {
                    cells: vec![
                        v.group.owner.clone(),
                        v.group.connection.clone(),
                        cause(v),
                        runs(v),
                        day(v.group.first_seen),
                        day(v.group.last_seen),
                    ],
                    notes: vec![],
                })
                .collect();
            p.table(
                4,
                &[
                    col("OWNER", 8),
                    col("CONNECTION", 12),
                    col("CATEGORY / ROOT CAUSE", 16),
                    num("RUNS"),
                    col("FIRST SEEN", 10),
                    col("LAST SEEN", 10),
                ],
                &rows,
            )?;
        }
        for f in &work.admin_findings {
            p.line(
                2,
                &format!(
                    "{} ({}): {}",
                    f.fix.map_or(f.kind.as_str(), |x| x.as_str()),
                    f.confidence,
                    f.title
                ),
            )?;
        }
    }

    if !work.none.is_empty() {
        p.heading("NOT A SIGN-IN PROBLEM")?;
        let rows: Vec<Row> = work
            .none
            .iter()
            .take(opts.top)
            .map(|v| Row {
                cells: vec![
                    v.group.owner.clone(),
                    v.group.connection.clone(),
                    cause(v),
                    runs(v),
                    v.group.fix.to_string(),
                ],
                notes: vec![],
            })
            .collect();
        p.table(
            2,
            &[
                col("OWNER", 8),
                col("CONNECTION", 12),
                col("CATEGORY / ROOT CAUSE", 16),
                num("RUNS"),
                col("FIX", 8),
            ],
            &rows,
        )?;
        if work.none.len() > opts.top {
            let more = work.none.len() - opts.top;
            p.line(
                2,
                &format!("… and {more} more group{}", plural(more as u64)),
            )?;
        }
    }

    let roots = report.root_causes();
    if !roots.is_empty() {
        p.heading("ROOT CAUSES")?;
        let rows: Vec<Row> = roots
            .iter()
            .map(|r| Row {
                cells: vec![
                    r.root_cause.to_string(),
                    r.failures.to_string(),
                    r.owners.to_string(),
                    r.connections.to_string(),
                    format!("{}{}", r.flows, if r.flows_capped { "+" } else { "" }),
                    r.fix.to_string(),
                    r.actor.to_string(),
                ],
                notes: vec![],
            })
            .collect();
        p.table(
            2,
            &[
                col("ROOT CAUSE", 10),
                num("FAILURES"),
                num("OWNERS"),
                num("CONNECTIONS"),
                num("FLOWS"),
                col("FIX", 8),
                col("ACTOR", 5),
            ],
            &rows,
        )?;
    }

    let unexplained = report.unexplained_sorted();
    if !unexplained.is_empty() {
        p.heading(&format!(
            "UNEXPLAINED · top {} of {} signature{}",
            unexplained.len().min(opts.top),
            unexplained.len(),
            plural(unexplained.len() as u64)
        ))?;
        let rows: Vec<Row> = unexplained
            .iter()
            .take(opts.top)
            .map(|(sig, u)| Row {
                cells: vec![u.count.to_string(), sig.to_string()],
                notes: vec![],
            })
            .collect();
        p.table(2, &[num("COUNT"), col("SIGNATURE", 20)], &rows)?;
    }

    if !report.findings().is_empty() {
        p.heading("FINDINGS")?;
        for f in report.findings() {
            let actor_colour: &[&str] = match f.actor {
                Actor::Admin => &[RED],
                Actor::Owner => &[YELLOW],
                Actor::None => &[],
            };
            p.spans(
                2,
                &[
                    (&[], &format!("[{}, ", f.confidence)),
                    (actor_colour, f.actor.as_str()),
                    (&[], &format!("] {}: {}", f.kind.as_str(), f.title)),
                ],
            )?;
            for e in &f.evidence {
                p.line(6, e)?;
            }
            if let Some(fix) = f.fix {
                p.line(6, &format!("fix: {fix}"))?;
            }
        }
    }

    p.heading("ACCOUNTING")?;
    p.line(2, &identity(&report.counts()))?;
    for (path, s) in report.inputs() {
        let kind = s.info.as_ref().map_or("unregistered".to_string(), |i| {
            format!("{}, {}", i.kind, i.format)
        });
        p.line(4, &format!("{path} ({kind}): {}", identity(&s.counts)))?;
    }
    for s in report.skipped() {
        p.line(4, &format!("skipped {}: {}", s.path, s.reason))?;
    }
    if t.malformed > 0 {
        let kept = report.malformed().count() as u64;
        p.line(
            2,
            &format!(
                "malformed: {} record{}{}",
                t.malformed,
                plural(t.malformed),
                if kept < t.malformed {
                    format!(", first {kept}:")
                } else {
                    ":".into()
                }
            ),
        )?;
        for m in report.malformed() {
            p.line(4, &m.to_string())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::*;
    use crate::report::{Finding, FindingKind};
    use crate::vocab::{Category, Confidence, Fix, RootCause};

    fn text(r: &Report, opts: &RenderOptions) -> String {
        let mut buf = Vec::new();
        render(r, opts, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn with_finding(mut r: Report) -> Report {
        r.add_findings([Finding {
            kind: FindingKind::PolicyWave,
            title: "12 connections began failing on 2024-05-03: a policy was likely enabled".into(),
            confidence: Confidence::Likely,
            root_cause: Some(RootCause::CaPolicyAfterConnection),
            fix: Some(Fix::ReviewCaPolicy),
            actor: Actor::Admin,
            evidence: vec!["first failures between 06:00 and 06:10".into()],
            owners: vec![],
            connections: vec!["shared-office365-01".into()],
            flows: vec![],
            onset: Some(T0),
            details: Default::default(),
        }]);
        r
    }

    #[test]
    fn no_ansi_codes_without_color_even_from_hostile_data() {
        let mut obs = sample(500, 4);
        obs[0].owner = Some("\x1b[31mred owner\x1b[0m".into());
        let r = with_finding(report_of(&obs));
        let plain = text(&r, &RenderOptions::default());
        assert!(!plain.contains('\x1b'), "{plain}");
        let coloured = text(
            &r,
            &RenderOptions {
                color: true,
                ..RenderOptions::default()
            },
        );
        assert!(coloured.contains(BOLD) && coloured.contains(RED));
        // Colour is the only difference.
        let stripped = coloured
            .replace(BOLD, "")
            .replace(RED, "")
            .replace(YELLOW, "")
            .replace(DIM, "")
            .replace(RESET, "");
        assert_eq!(stripped, plain);
    }

    #[test]
    fn fits_the_width() {
        let mut obs = sample(400, 8);
        obs[3].connection = Some("a-very-long-connection-name-".repeat(6));
        let r = with_finding(report_of(&obs));
        for width in [60, 80, 120] {
            let out = text(
                &r,
                &RenderOptions {
                    width: Some(width),
                    ..RenderOptions::default()
                },
            );
            for line in out.lines() {
                assert!(line.width() <= width, "{width}: {line:?}");
            }
            assert!(out.contains('…'));
        }
    }

    #[test]
    fn shows_who_must_act_and_the_accounting_line() {
        let r = report_of(&sample(800, 12));
        let out = text(&r, &RenderOptions::default());
        let c = r.counts();
        assert!(out.contains("WHO MUST ACT"));
        assert!(out.contains("OWNER owner"));
        assert!(out.contains("ADMIN"));
        assert!(out.contains("fix: grant-consent") || out.contains("grant-consent:"));
        assert!(out.contains(&format!(
            "records {} = not failed {} + classified {} + unclassified {} + malformed {} + filtered {}",
            c.records, c.not_failed, c.classified, c.unclassified, c.malformed, c.filtered
        )));
        assert!(out.contains("malformed:"));
        let who = out.find("WHO MUST ACT").unwrap();
        assert!(who < out.find("ROOT CAUSES").unwrap());
        assert!(out.find("ROOT CAUSES").unwrap() < out.find("ACCOUNTING").unwrap());
    }

    #[test]
    fn truncation_counts_display_width() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("日本語テキスト", 5), "日本…");
        assert!(truncate("日本語テキスト", 5).width() <= 5);
        let _ = Category::Unknown;
    }
}
