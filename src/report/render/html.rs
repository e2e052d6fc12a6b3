//! The HTML report: one self-contained page for people. No network fetch, no external
//! script, style sheet or font: the style, the chart (inline SVG drawn here from the
//! tenant's daily counts) and a small vanilla script that sorts and filters the groups
//! table are all in the file, so it opens the same from a mail attachment, a file share or
//! a ticket.
//!
//! Every text that comes from the input (owners, connection names, messages, file names)
//! goes through [`esc`], which escapes `& < > " '`, so a message cannot inject markup. The
//! script reads only `data-*` attributes and `textContent`, never `innerHTML` of data.
//!
//! Elements with ids a program (and the browser test) can read after the script ran:
//! `#total-records`, `#total-not-failed`, `#total-classified`, `#total-unclassified`,
//! `#total-malformed`, `#total-failed-runs`, `#group-count` (the number of groups in the
//! table), `#shown-count` (the number the filters show), `#timeline` (the chart).

use super::{RenderOptions, day, identity};
use crate::report::{GroupView, Report};
use crate::report::{UNKNOWN, view::plural};
use crate::vocab::{Actor, RootCause};
use std::fmt::Write as _;
use std::io::{self, Write};

/// Escape text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A fixed colour per root cause (vocabulary order), readable on white and in print.
fn colour(r: RootCause) -> &'static str {
    const PALETTE: &[&str] = &[
        "#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
        "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39", "#aaaaaa",
    ];
    let i = RootCause::ALL.iter().position(|x| *x == r).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

const STYLE: &str = r#"
:root{--fg:#1b1b1b;--muted:#5a5a5a;--line:#d0d0d0;--bg:#fff;--head:#f3f3f3;--owner:#7a4b00;--admin:#8a1020}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;padding:1rem;max-width:1200px}
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .5rem;border-bottom:1px solid var(--line)}
.muted{color:var(--muted)}
.headline{background:#fff8e1;border-left:4px solid #e0a800;padding:.6rem 1rem;margin:.8rem 0}
.headline p{margin:.3rem 0}
ul.act li{margin:.2rem 0}
.owner{color:var(--owner);font-weight:600}.admin{color:var(--admin);font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid var(--line);padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:var(--head)}
th.sort{cursor:pointer;user-select:none}th.sort::after{content:" \2195";color:var(--muted)}
th[aria-sort=ascending]::after{content:" \2191"}th[aria-sort=descending]::after{content:" \2193"}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.msg{max-width:28rem;word-break:break-word;font-family:ui-monospace,Consolas,monospace;font-size:.8rem}
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;margin:.5rem 0}
.filters label{display:flex;flex-direction:column;font-size:.85rem}
dl.totals{display:grid;grid-template-columns:max-content max-content;gap:.15rem 1rem}
dl.totals dt{color:var(--muted)}dl.totals dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;font-size:.85rem;margin:.3rem 0}
.legend span::before{content:"";display:inline-block;width:.8em;height:.8em;margin-right:.3em;background:var(--c)}
.finding{border:1px solid var(--line);padding:.4rem .8rem;margin:.5rem 0}
.finding h3{font-size:1rem;margin:.2rem 0}
@media (max-width:700px){body{padding:.5rem;font-size:14px}th,td{padding:.2rem .3rem}td.msg{max-width:16rem}}
@media print{body{max-width:none;font-size:10pt}.filters,.noprint{display:none}th.sort::after{content:""}
 .headline{border:1px solid #999}tr,.finding,svg{break-inside:avoid}.scroll{overflow:visible}a{color:inherit}}
"#;

const SCRIPT: &str = r#"
(function(){
  var table=document.getElementById('groups');
  if(!table)return;
  var body=table.tBodies[0];
  var rows=Array.prototype.slice.call(body.rows);
  var shown=document.getElementById('shown-count');
  var sels=Array.prototype.slice.call(document.querySelectorAll('select[data-filter]'));
  sels.forEach(function(sel){
    var key=sel.getAttribute('data-filter');
    var seen={};
    rows.forEach(function(r){seen[r.getAttribute('data-'+key)]=true;});
    Object.keys(seen).sort().forEach(function(v){
      var o=document.createElement('option');o.value=v;o.textContent=v;sel.appendChild(o);
    });
    sel.addEventListener('change',apply);
  });
  function apply(){
    var n=0;
    rows.forEach(function(r){
      var ok=sels.every(function(sel){
        return sel.value===''||r.getAttribute('data-'+sel.getAttribute('data-filter'))===sel.value;
      });
      r.hidden=!ok;if(ok)n++;
    });
    shown.textContent=String(n);
  }
  var heads=Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function(th,i){
    if(!th.classList.contains('sort'))return;
    th.tabIndex=0;
    function go(){
      var asc=th.getAttribute('aria-sort')!=='ascending';
      heads.forEach(function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var num=th.classList.contains('num');
      rows.sort(function(a,b){
        var x=a.cells[i].getAttribute('data-v')||a.cells[i].textContent;
        var y=b.cells[i].getAttribute('data-v')||b.cells[i].textContent;
        var c=num?(Number(x)-Number(y)):x.localeCompare(y);
        return asc?c:-c;
      });
      rows.forEach(function(r){body.appendChild(r);});
    }
    th.addEventListener('click',go);
    th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();go();}});
  });
  apply();
  document.documentElement.setAttribute('data-ready','1');
})();
"#;

pub(crate) fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let mut h = String::with_capacity(64 * 1024);
    page(report, opts, &mut h).map_err(io::Error::other)?;
    out.write_all(h.as_bytes())
}

fn page(report: &Report, opts: &RenderOptions, h: &mut String) -> std::fmt::Result {
    let t = report.totals();
    let views = report.group_views();
    writeln!(h, "<!DOCTYPE html>")?;
    writeln!(h, "<html lang=\"en\"><head><meta charset=\"utf-8\">")?;
    writeln!(
        h,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    // No network at all: the policy forbids any fetch; only the inline script and style run.
    writeln!(
        h,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
    )?;
    writeln!(
        h,
        "<title>flowdx report</title><style>{STYLE}</style></head><body>"
    )?;
    writeln!(h, "<header><h1>flowdx report</h1>")?;
    writeln!(
        h,
        "<p class=\"muted\">{} &middot; {} input{} &middot; as of {}</p>",
        esc(concat!("flowdx ", env!("CARGO_PKG_VERSION"))),
        t.inputs,
        plural(t.inputs),
        esc(&report
            .as_of()
            .map(crate::time::format_iso)
            .unwrap_or_else(|| "-".into()))
    )?;
    if let Some(filter) = &opts.filter_note {
        writeln!(
            h,
            "<p id=\"filter\"><strong>Filter:</strong> {}</p>",
            esc(filter)
        )?;
    }
    writeln!(h, "</header>")?;

    headline(report, h)?;
    writeln!(h, "<section><h2>Failures per day by root cause</h2>")?;
    timeline(report, h)?;
    writeln!(h, "</section>")?;
    groups(&views, h)?;
    findings(report, h)?;
    unexplained(report, opts, h)?;
    accounting(report, h)?;
    writeln!(h, "<script>{SCRIPT}</script></body></html>")
}

fn headline(report: &Report, h: &mut String) -> std::fmt::Result {
    writeln!(h, "<section class=\"headline\" id=\"headline\">")?;
    for s in report.summary() {
        writeln!(h, "<p>{}</p>", esc(&s))?;
    }
    let w = report.work();
    if !w.owners.is_empty() || !w.admin.is_empty() || !w.admin_findings.is_empty() {
        writeln!(h, "<ul class=\"act\">")?;
        for a in &w.admin {
            writeln!(
                h,
                "<li><span class=\"admin\">admin</span>: {} &mdash; {} failure{}, {} owner{}, {} connection{}</li>",
                esc(a.fix.as_str()),
                a.failures,
                plural(a.failures),
                a.owners,
                plural(a.owners as u64),
                a.connections,
                plural(a.connections as u64)
            )?;
        }
        for f in &w.admin_findings {
            writeln!(
                h,
                "<li><span class=\"admin\">admin</span>: {}</li>",
                esc(&f.title)
            )?;
        }
        for o in w.owners.iter().take(20) {
            let fixes: std::collections::BTreeSet<&str> =
                o.groups.iter().map(|v| v.group.fix.as_str()).collect();
            writeln!(
                h,
                "<li><span class=\"owner\">{}</span>: {} on {} connection{} ({} failed run{})</li>",
                esc(o.owner),
                esc(&fixes.into_iter().collect::<Vec<_>>().join(", ")),
                o.connections,
                plural(o.connections as u64),
                o.failed_runs,
                plural(o.failed_runs)
            )?;
        }
        if w.owners.len() > 20 {
            writeln!(
                h,
                "<li class=\"muted\">and {} more owners (see the groups table)</li>",
                w.owners.len() - 20
            )?;
        }
        writeln!(h, "</ul>")?;
    }
    for s in report.hints() {
        writeln!(h, "<p class=\"muted\">{}</p>", esc(&s))?;
    }
    writeln!(h, "</section>")
}

/// A stacked bar per UTC day (days without data are left as gaps in a continuous axis).
fn timeline(report: &Report, h: &mut String) -> std::fmt::Result {
    let daily = &report.timelines().tenant;
    let (Some((&first, _)), Some((&last, _))) = (daily.iter().next(), daily.iter().next_back())
    else {
        return writeln!(
            h,
            "<p class=\"muted\" id=\"timeline\">No dated run failures.</p>"
        );
    };
    let days = (last - first + 1).clamp(1, 3660) as usize;
    let max = daily
        .values()
        .map(|c| c.failed_total())
        .max()
        .unwrap_or(0)
        .max(1);
    let (left, top, plot_h, bottom) = (40.0, 10.0, 180.0, 40.0);
    let bar_w = (800.0 / days as f64).clamp(2.0, 24.0);
    let width = left + bar_w * days as f64 + 10.0;
    let height = top + plot_h + bottom;
    writeln!(
        h,
        "<div class=\"scroll\"><svg id=\"timeline\" role=\"img\" aria-label=\"Failures per day by root cause\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\">"
    )?;
    // Axis with three ticks.
    for k in 0..=2u64 {
        let v = max * k / 2;
        let y = top + plot_h - plot_h * v as f64 / max as f64;
        writeln!(
            h,
            "<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v}</text>",
            width - 10.0,
            left - 4.0,
            y + 4.0
        )?;
    }
    let mut used = std::collections::BTreeSet::new();
    for (&d, counts) in daily {
        let x = left + (d - first) as f64 * bar_w;
        let mut y = top + plot_h;
        let label = crate::time::format_day(d * 86_400);
        for (rc, &n) in &counts.failed {
            if n == 0 {
                continue;
            }
            used.insert(*rc);
            let bh = plot_h * n as f64 / max as f64;
            y -= bh;
            writeln!(
                h,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\" data-day=\"{label}\" data-root-cause=\"{}\" data-count=\"{n}\"><title>{label} {}: {n}</title></rect>",
                (bar_w - 1.0).max(1.0),
                colour(*rc),
                rc.as_str(),
                rc.as_str()
            )?;
        }
    }
    // Date labels: first, last and a few between.
    let step = (days / 6).max(1);
    let mut i = 0;
    while i < days {
        let x = left + i as f64 * bar_w;
        writeln!(
            h,
            "<text x=\"{x:.1}\" y=\"{:.1}\">{}</text>",
            top + plot_h + 16.0,
            crate::time::format_day((first + i as i64) * 86_400)
        )?;
        i += step;
    }
    writeln!(h, "</svg></div>")?;
    writeln!(h, "<div class=\"legend\">")?;
    for rc in used {
        writeln!(
            h,
            "<span style=\"--c:{}\">{}</span>",
            colour(rc),
            rc.as_str()
        )?;
    }
    writeln!(h, "</div>")
}

fn groups(views: &[GroupView<'_>], h: &mut String) -> std::fmt::Result {
    writeln!(h, "<section><h2>Groups: owner, connection and fix</h2>")?;
    writeln!(
        h,
        "<p><span id=\"group-count\">{}</span> group{}; showing <span id=\"shown-count\">{}</span>.</p>",
        views.len(),
        plural(views.len() as u64),
        views.len()
    )?;
    writeln!(h, "<div class=\"filters noprint\">")?;
    for (key, label) in [
        ("owner", "Owner"),
        ("connector", "Connector"),
        ("root-cause", "Root cause"),
    ] {
        writeln!(
            h,
            "<label>{label}<select data-filter=\"{key}\"><option value=\"\">all</option></select></label>"
        )?;
    }
    writeln!(
        h,
        "</div><div class=\"scroll\"><table id=\"groups\"><thead><tr>"
    )?;
    for (name, num) in [
        ("Owner", false),
        ("Connection", false),
        ("Connector", false),
        ("Root cause", false),
        ("Category", false),
        ("Fix", false),
        ("Actor", false),
        ("Confidence", false),
        ("Failed runs", true),
        ("Failures", true),
        ("Flows", true),
        ("First seen", false),
        ("Last seen", false),
        ("AADSTS", false),
    ] {
        writeln!(
            h,
            "<th class=\"sort{}\" scope=\"col\">{name}</th>",
            if num { " num" } else { "" }
        )?;
    }
    writeln!(h, "<th scope=\"col\">What to do</th></tr></thead><tbody>")?;
    for v in views {
        let g = v.group;
        let d = v.dominant;
        let connector = g.connector.as_deref().unwrap_or(UNKNOWN);
        let actor_class = match d.actor {
            Actor::Owner => "owner",
            Actor::Admin => "admin",
            Actor::None => "",
        };
        let aadsts: Vec<String> = g.aadsts.iter().map(|c| super::aadsts(*c)).collect();
        writeln!(
            h,
            "<tr data-owner=\"{o}\" data-connector=\"{c}\" data-root-cause=\"{rc}\"><td>{o}</td><td>{conn}</td><td>{c}</td><td>{rc}</td><td>{cat}</td><td>{fix}</td><td class=\"{actor_class}\">{actor}</td><td>{conf}</td><td class=\"num\" data-v=\"{fr}\">{fr}</td><td class=\"num\" data-v=\"{fl}\">{fl}</td><td class=\"num\" data-v=\"{fw}\">{fw}</td><td>{first}</td><td>{last}</td><td>{aad}</td><td>{text}</td></tr>",
            o = esc(&g.owner),
            c = esc(connector),
            rc = d.root_cause.as_str(),
            conn = esc(&g.connection),
            cat = d.category.as_str(),
            fix = g.fix.as_str(),
            actor = d.actor.as_str(),
            conf = d.confidence.as_str(),
            fr = g.failed_runs,
            fl = g.failures,
            fw = g.flows.len(),
            first = day(g.first_seen),
            last = day(g.last_seen),
            aad = aadsts.join(" "),
            text = esc(v.fix_text),
        )?;
    }
    writeln!(h, "</tbody></table></div>")?;
    let examples: Vec<&GroupView> = views.iter().filter(|v| v.group.example.is_some()).collect();
    if !examples.is_empty() {
        writeln!(
            h,
            "<details><summary>Example message per group</summary><div class=\"scroll\"><table><thead><tr><th>Owner</th><th>Connection</th><th>Rule</th><th>Source</th><th>Message</th></tr></thead><tbody>"
        )?;
        for v in examples {
            let e = v.group.example.as_ref().expect("filtered");
            writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"msg\">{}</td></tr>",
                esc(&v.group.owner),
                esc(&v.group.connection),
                esc(&e.rule),
                esc(e.source.as_str()),
                esc(&e.message)
            )?;
        }
        writeln!(h, "</tbody></table></div></details>")?;
    }
    writeln!(h, "</section>")
}

fn findings(report: &Report, h: &mut String) -> std::fmt::Result {
    writeln!(h, "<section id=\"findings\"><h2>Findings</h2>")?;
    if report.findings().is_empty() {
        writeln!(h, "<p class=\"muted\">No timing or policy findings.</p>")?;
    }
    for f in report.findings() {
        writeln!(h, "<div class=\"finding\"><h3>{}</h3>", esc(&f.title))?;
        writeln!(
            h,
            "<p class=\"muted\">{} &middot; confidence {} &middot; actor {}{}{}</p>",
            esc(f.kind.as_str()),
            f.confidence.as_str(),
            f.actor.as_str(),
            f.root_cause
                .map(|r| format!(" &middot; root cause {}", r.as_str()))
                .unwrap_or_default(),
            f.fix
                .map(|x| format!(" &middot; fix {}", x.as_str()))
                .unwrap_or_default(),
        )?;
        if !f.evidence.is_empty() {
            writeln!(h, "<ul>")?;
            for e in &f.evidence {
                writeln!(h, "<li>{}</li>", esc(e))?;
            }
            writeln!(h, "</ul>")?;
        }
        for (label, list) in [
            ("Owners", &f.owners),
            ("Connections", &f.connections),
            ("Flows", &f.flows),
        ] {
            if !list.is_empty() {
                let items: Vec<String> = list.iter().map(|s| esc(s)).collect();
                writeln!(h, "<p>{label}: {}</p>", items.join(", "))?;
            }
        }
        writeln!(h, "</div>")?;
    }
    writeln!(h, "</section>")
}

fn unexplained(report: &Report, opts: &RenderOptions, h: &mut String) -> std::fmt::Result {
    let list = report.unexplained_sorted();
    writeln!(
        h,
        "<section id=\"unexplained\"><h2>Unexplained signatures</h2>"
    )?;
    if list.is_empty() {
        return writeln!(
            h,
            "<p class=\"muted\">Every failure matched a rule.</p></section>"
        );
    }
    writeln!(
        h,
        "<div class=\"scroll\"><table><thead><tr><th class=\"num\">Failures</th><th class=\"num\">Failed runs</th><th>Signature</th><th>Example</th><th>Files</th></tr></thead><tbody>"
    )?;
    for (sig, u) in list.iter().take(opts.top.max(1)) {
        let files: Vec<String> = u.files.iter().map(esc).collect();
        writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"msg\">{}</td><td class=\"msg\">{}</td><td>{}</td></tr>",
            u.count,
            u.failed_runs,
            esc(sig),
            esc(u.example.as_ref().map_or("", |e| e.message.as_str())),
            files.join("<br>")
        )?;
    }
    writeln!(h, "</tbody></table></div>")?;
    if list.len() > opts.top.max(1) {
        writeln!(
            h,
            "<p class=\"muted\">{} more signature{} (raise --top to list them).</p>",
            list.len() - opts.top.max(1),
            plural((list.len() - opts.top.max(1)) as u64)
        )?;
    }
    writeln!(h, "</section>")
}

fn accounting(report: &Report, h: &mut String) -> std::fmt::Result {
    let t = report.totals();
    let c = report.counts();
    writeln!(h, "<section id=\"accounting\"><h2>Accounting</h2>")?;
    writeln!(h, "<p>{}</p><dl class=\"totals\">", esc(&identity(&c)))?;
    for (id, label, n) in [
        ("total-records", "records", t.records),
        ("total-not-failed", "not failed", t.not_failed),
        ("total-classified", "classified", t.classified),
        ("total-unclassified", "unclassified", t.unclassified),
        ("total-malformed", "malformed", t.malformed),
        ("total-filtered", "filtered", t.filtered),
        ("total-failed-runs", "failed runs", t.failed_runs),
        ("total-skipped", "skipped files", t.skipped_files),
        ("total-inputs", "inputs", t.inputs),
    ] {
        writeln!(h, "<dt>{label}</dt><dd id=\"{id}\">{n}</dd>")?;
    }
    writeln!(h, "</dl>")?;
    writeln!(
        h,
        "<div class=\"scroll\"><table><thead><tr><th>Input</th><th>Kind</th><th>Format</th><th class=\"num\">Records</th><th class=\"num\">Not failed</th><th class=\"num\">Classified</th><th class=\"num\">Unclassified</th><th class=\"num\">Malformed</th></tr></thead><tbody>"
    )?;
    for (path, s) in report.inputs() {
        writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(path),
            s.info.as_ref().map_or("", |i| i.kind.as_str()),
            s.info.as_ref().map_or("", |i| i.format.as_str()),
            s.counts.records,
            s.counts.not_failed,
            s.counts.classified,
            s.counts.unclassified,
            s.counts.malformed
        )?;
    }
    writeln!(h, "</tbody></table></div>")?;
    let skipped: Vec<_> = report.skipped().collect();
    if !skipped.is_empty() {
        writeln!(h, "<p>Skipped files:</p><ul>")?;
        for s in skipped {
            writeln!(h, "<li>{}: {}</li>", esc(&s.path), esc(&s.reason))?;
        }
        writeln!(h, "</ul>")?;
    }
    let malformed: Vec<_> = report.malformed().collect();
    if !malformed.is_empty() {
        writeln!(
            h,
            "<p>Malformed records (first {}):</p><ul>",
            malformed.len()
        )?;
        for m in malformed {
            writeln!(h, "<li>{}</li>", esc(&m.to_string()))?;
        }
        writeln!(h, "</ul>")?;
    }
    writeln!(h, "</section>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esc_escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

    #[test]
    fn empty_report_is_a_whole_page() {
        let r = Report::new();
        let mut out = Vec::new();
        render(&r, &RenderOptions::default(), &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("<!DOCTYPE html>"));
        assert!(s.trim_end().ends_with("</html>"));
        assert!(s.contains("<dd id=\"total-records\">0</dd>"));
        assert!(
            !s.contains("http:") && !s.contains("https:"),
            "no network references"
        );
    }
}
