//! `flowdx analyze`: the main job. Reads every input, joins runs to flows, connections,
//! failing actions and sign-ins, classifies every failure and renders the report.
//!
//! Enrichment inputs (inventories, run actions, sign-in logs, policies) are read first:
//! they are small and feed the joins. Run histories are then decoded in parallel chunks;
//! each worker folds into its own [`Report`], and the reports merge at the end, so the
//! output is the same for any number of threads.

use crate::classify::{self, Classifier, MsgContext};
use crate::filter::{Filter, FilterArgs};
use crate::ingest::{self, IngestOptions, Input, Overrides, Skipped};
use crate::join::{JoinData, JoinIndex};
use crate::model::{Context, InputFormat, InputKind, Item, Malformed, RunRecord};
use crate::report::{self, Classified, Observation, Outcome, OutputFormat, RenderOptions, Report};
use crate::time::DateOrder;
use crate::{Error, Result};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Analyze exports and report, per owner, which connections are broken, why, what \
fixes it and who must act.\n\nGive files, folders (searched recursively; files that are not \
exports are listed as skipped) or - for standard input. Gzipped files are read transparently. \
The kind of each export (run history, flow or connection inventory, sign-in log, token \
policy) and its format are sniffed; --kind, --input-format and --map override the guess.\n\n\
Every record is accounted for: records = not failed + classified + unclassified + malformed \
+ filtered.\n\nFilters (--since, --until, --owner, --environment, --connector, --category, \
--root-cause) select failures: a failure outside them is counted as filtered and left out of \
groups, root causes, unexplained signatures and the daily chart; the timing analysis still \
sees every failure, so cadences and waves are found as in the whole data."
)]
pub struct Args {
    /// Files or folders to read; - reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Force the kind of every input instead of sniffing it.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<InputKind>,

    /// Use this inventory, run-actions export, sign-in log or token policy for the joins
    /// only: its records resolve runs but are not counted or reported as an input. For
    /// shards: give every shard the same --join files and each run history to one shard.
    #[arg(long = "join", value_name = "PATH")]
    pub join: Vec<PathBuf>,

    /// Write a partial report (JSON) for `flowdx merge` instead of a report: the counts,
    /// groups and timelines before the timing analysis, with the join data used.
    #[arg(long, conflicts_with_all = ["format", "redact", "excel"])]
    pub partial: bool,

    #[command(flatten)]
    pub read: ReadArgs,

    /// Show progress on standard error even when it is not a terminal.
    #[arg(long, overrides_with = "no_progress")]
    pub progress: bool,

    /// Never show progress.
    #[arg(long)]
    pub no_progress: bool,

    /// Exit with status 2 if any record is malformed.
    #[arg(long)]
    pub strict: bool,

    #[command(flatten)]
    pub report: ReportArgs,

    #[command(flatten)]
    pub filter: FilterArgs,
}

/// How inputs are read and classified: shared by `analyze` and `tag`.
#[derive(Debug, clap::Args)]
pub struct ReadArgs {
    /// Force the input format (csv, json, jsonl, text) instead of sniffing it.
    #[arg(long, value_name = "FORMAT")]
    pub input_format: Option<InputFormat>,

    /// Map a normalised field to a column or JSON field of the input (e.g. run_id="Run name").
    #[arg(long = "map", value_name = "FIELD=COLUMN", value_parser = parse_map)]
    pub map: Vec<(String, String)>,

    /// How to read ambiguous dates like 02/05/2024: auto, mdy or dmy.
    #[arg(long, default_value = "auto", value_name = "ORDER")]
    pub date_order: DateOrder,

    /// A rules file (TOML or JSON) that adds or overrides classification rules.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Worker threads (default: the number of cores).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
}

impl ReadArgs {
    /// The built-in rules, with `--rules` added.
    pub fn classifier(&self) -> Result<Classifier> {
        match &self.rules {
            Some(p) => Classifier::with_user_rules(p),
            None => Ok(Classifier::builtin()),
        }
    }

    /// What sniffing is told; `kind` forces the kind of every input.
    pub fn overrides(&self, kind: Option<InputKind>) -> Overrides {
        Overrides {
            kind,
            format: self.input_format,
            map: self.map.clone(),
            date_order: self.date_order,
        }
    }

    /// `--jobs`, or the number of cores.
    pub fn jobs(&self) -> usize {
        self.jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// How a report is written: shared by `analyze` and `merge`.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Report")]
pub struct ReportArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,

    /// Write the report to this file (replaced atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// How many unexplained signatures, examples and malformed records to show.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Colour: auto, always or never (NO_COLOR is honoured).
    #[arg(long, default_value = "auto", value_name = "WHEN")]
    pub color: ColorChoice,

    /// Add a UTF-8 byte order mark to CSV output, for Excel.
    #[arg(long)]
    pub excel: bool,

    /// Replace owner names, e-mail addresses/UPNs and people's object ids in the output
    /// (messages and examples included) with stable pseudonyms such as person-7f3a2c.
    #[arg(long)]
    pub redact: bool,

    /// The key of the pseudonyms (HMAC-SHA256): the same key gives the same pseudonym for
    /// the same person in every report. Without it, a random key per run.
    #[arg(
        long,
        value_name = "KEY",
        env = "FLOWDX_REDACT_KEY",
        requires = "redact"
    )]
    pub redact_key: Option<String>,

    /// Exit with status 1 when such failures are found (for scheduled checks): a category
    /// (mfa-required, ca-blocked, ..., unknown for failures no rule explains), actor:admin,
    /// actor:owner or any. Repeatable; any match sets the status.
    #[arg(long = "fail-on", value_name = "WHAT", value_parser = parse_fail_on)]
    pub fail_on: Vec<FailOn>,

    /// Count inactivity forecasts from this date (default: the latest time in the input).
    #[arg(long, value_name = "DATE", value_parser = parse_as_of)]
    pub as_of: Option<crate::model::Ts>,
}

fn parse_as_of(s: &str) -> std::result::Result<crate::model::Ts, String> {
    crate::time::parse(s, DateOrder::Auto).ok_or_else(|| {
        format!("expected a date such as 2024-05-31 or 2024-05-31T12:00:00Z, got '{s}'")
    })
}

/// One `--fail-on` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    Any,
    Actor(crate::vocab::Actor),
    Category(crate::vocab::Category),
}

fn parse_fail_on(s: &str) -> std::result::Result<FailOn, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "any" {
        return Ok(FailOn::Any);
    }
    if let Some(a) = t.strip_prefix("actor:") {
        return match a {
            "admin" => Ok(FailOn::Actor(crate::vocab::Actor::Admin)),
            "owner" => Ok(FailOn::Actor(crate::vocab::Actor::Owner)),
            _ => Err(format!("expected actor:admin or actor:owner, got '{s}'")),
        };
    }
    t.parse::<crate::vocab::Category>()
        .map(FailOn::Category)
        .map_err(|_| {
            format!("expected a category (mfa-required, ca-blocked, ...), actor:admin, actor:owner or any, got '{s}'")
        })
}

/// Does the report hold a failure `cond` asks about? Groups count by every diagnosis they
/// hold (not only the dominant one); `unknown` and `any` also count unexplained failures.
pub fn fail_on_matches(report: &Report, cond: FailOn) -> bool {
    use crate::vocab::Category;
    let diags = || report.groups().iter().flat_map(|g| g.diagnoses.iter());
    match cond {
        FailOn::Any => report.counts().failed() > 0,
        FailOn::Actor(a) => {
            diags().any(|d| d.key.actor == a && d.count > 0)
                || report.findings().iter().any(|f| f.actor == a)
        }
        FailOn::Category(Category::Unknown) => {
            report.counts().unclassified > 0
                || diags().any(|d| d.key.category == Category::Unknown && d.count > 0)
        }
        FailOn::Category(c) => diags().any(|d| d.key.category == c && d.count > 0),
    }
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

pub(crate) fn parse_map(s: &str) -> std::result::Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FIELD=COLUMN, got '{s}'"))?;
    let (k, v) = (k.trim(), v.trim());
    if k.is_empty() || v.is_empty() {
        return Err(format!("expected FIELD=COLUMN, got '{s}'"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Everything `analyze` needs, validated before a byte of input is read.
pub struct Plan {
    pub inputs: Vec<Input>,
    /// `--join` files: enrichment used for the joins only, not reported as inputs.
    pub joins: Vec<Input>,
    pub skipped: Vec<Skipped>,
    pub classifier: Classifier,
    pub progress: bool,
    pub jobs: usize,
    pub strict: bool,
    /// The date forecasts count from (default: the latest time in the input).
    pub as_of: Option<crate::model::Ts>,
    /// Target chunk size in bytes; 0: the default. Tests set it small to force many chunks.
    pub chunk_size: usize,
    /// Which failures the report is about (the others are counted as filtered).
    pub filter: Filter,
}

pub fn run(args: Args, out: &mut dyn Write) -> Result<u8> {
    let classifier = args.read.classifier()?;
    let overrides = args.read.overrides(args.kind);
    let filter = args.filter.build()?;
    let filter_note = filter.describe();
    let (inputs, skipped) = discover_inputs(&args.paths, &overrides)?;
    let joins = join_inputs(&args.join, &overrides)?;
    let jobs = args.read.jobs();
    let progress = !args.no_progress && (args.progress || std::io::stderr().is_terminal());
    let plan = Plan {
        inputs,
        joins,
        skipped,
        classifier,
        progress,
        jobs,
        strict: args.strict,
        as_of: args.report.as_of,
        chunk_size: 0,
        filter,
    };
    if args.partial {
        let (report, data) = collect(&plan)?;
        check_strict(&plan, &report)?;
        return write_partial(&report, &data, &args.report, out);
    }
    let report = analyze(&plan)?;
    check_strict(&plan, &report)?;
    let status = emit(&report, &args.report, filter_note, out);
    leave_to_exit(report);
    status
}

/// Leave a finished report's memory to the process's exit, which returns it at once:
/// dropping it frees every timeline entry and day one by one, a tenth of a second or more
/// of a single thread after a large input, with nothing left to do.
pub fn leave_to_exit(report: Report) {
    std::mem::forget(report);
}

/// Write a partial report (one line of JSON) with its join data, atomically into the
/// output file or to `out`.
pub fn write_partial(
    report: &Report,
    data: &JoinData,
    e: &ReportArgs,
    out: &mut dyn Write,
) -> Result<u8> {
    write_output(e.output.as_deref(), out, |w| {
        w.write_all(report.to_partial_json_with(data).as_bytes())
            .and_then(|()| w.write_all(b"\n"))
            .map_err(Error::Output)
    })?;
    Ok(super::EXIT_OK)
}

/// Render `report` as asked, atomically into the output file or to `out`; the exit status
/// `--fail-on` asks for.
pub fn emit(
    report: &Report,
    e: &ReportArgs,
    filter_note: Option<String>,
    out: &mut dyn Write,
) -> Result<u8> {
    let color = match e.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            // no-color.org: NO_COLOR counts when present and not empty, as in
            // RenderOptions::for_stdout.
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && e.output.is_none()
                && std::io::stdout().is_terminal()
        }
    };
    let opts = RenderOptions {
        color,
        width: if e.output.is_none() && std::io::stdout().is_terminal() {
            terminal_width()
        } else {
            None
        },
        excel_bom: e.excel,
        top: e.top,
        filter_note,
    };
    let redactor = e.redact.then(|| {
        let key = match &e.redact_key {
            Some(k) => k.as_bytes().to_vec(),
            None => random_key(),
        };
        report::redact::Redactor::new(report, &key)
    });
    write_output(e.output.as_deref(), out, |w| {
        let mut buf = Vec::new();
        let target: &mut dyn Write = if redactor.is_some() { &mut buf } else { w };
        report::render(report, e.format, &opts, target)?;
        if let Some(r) = &redactor {
            let text = String::from_utf8_lossy(&buf);
            w.write_all(r.apply(&text).as_bytes())
                .map_err(Error::Output)?;
        }
        Ok(())
    })?;
    if e.fail_on.iter().any(|c| fail_on_matches(report, *c)) {
        return Ok(super::EXIT_FOUND);
    }
    Ok(super::EXIT_OK)
}

/// A per-run key when `--redact` is given without `--redact-key`: pseudonyms are stable
/// within the report but cannot be linked across runs.
fn random_key() -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    let mut key = Vec::with_capacity(32);
    for i in 0..4u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        key.extend_from_slice(&h.finish().to_le_bytes());
    }
    key
}

fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize))
}

/// Write to `path` atomically (temporary file in the same folder, then rename), or to `out`.
pub fn write_output(
    path: Option<&std::path::Path>,
    out: &mut dyn Write,
    body: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let Some(path) = path else {
        return body(out);
    };
    // Devices, pipes and the like (`-o /dev/null`) are written in place: renaming over
    // them would replace the device with a file.
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let mut w = std::io::BufWriter::new(file);
        body(&mut w)?;
        return w.flush().map_err(|e| Error::io(path, e));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".flowdx-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        body(&mut w)?;
        w.flush().map_err(|e| Error::io(path, e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// `--strict`: any malformed record is an error, named with the first one.
fn check_strict(plan: &Plan, report: &Report) -> Result<()> {
    if plan.strict
        && let Some(first) = report.malformed().next()
    {
        return Err(Error::Strict {
            count: report.counts().malformed,
            first: first.to_string(),
        });
    }
    Ok(())
}

/// Sniff the `--join` files: each must be an enrichment export, not a run history.
pub fn join_inputs(paths: &[PathBuf], overrides: &Overrides) -> Result<Vec<Input>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    // --kind and --input-format describe the inputs, not the join files.
    let own = Overrides {
        date_order: overrides.date_order,
        ..Overrides::default()
    };
    let (inputs, _) = discover_inputs(paths, &own)?;
    for i in &inputs {
        if !i.kind.is_enrichment() {
            return Err(Error::Usage(format!(
                "--join {}: a {} is analysed, not joined; --join takes flow or connection \
                 inventories, run-actions exports, sign-in logs and token policies",
                i.source.display, i.kind
            )));
        }
    }
    Ok(inputs)
}

/// Find and sniff every input. A file named on the command line that is not an export is
/// an error; one found in a folder is skipped, with the reason, and a warning on stderr.
pub fn discover_inputs(
    paths: &[PathBuf],
    overrides: &Overrides,
) -> Result<(Vec<Input>, Vec<Skipped>)> {
    let (sources, mut skipped) = ingest::discover(paths)?;
    let (inputs, more) = ingest::sniff_all(sources, overrides)?;
    skipped.extend(more);
    for s in &skipped {
        eprintln!("flowdx: skipping {}: {}", s.path, s.reason);
    }
    Ok((inputs, skipped))
}

/// Run the whole analysis over a validated plan.
pub fn analyze(plan: &Plan) -> Result<Report> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.jobs)
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {} worker threads: {e}", plan.jobs)))?;
    pool.install(|| analyze_in_pool(plan))
}

fn analyze_in_pool(plan: &Plan) -> Result<Report> {
    let (report, index) = collect_in_pool(plan)?;
    finish(report, &index, plan.as_of)
}

/// Read every input into a report that is not finished yet (no timing findings), with the
/// join data it was resolved against: what `--partial` writes and `flowdx merge` reads.
pub fn collect(plan: &Plan) -> Result<(Report, JoinData)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.jobs)
        .build()
        .map_err(|e| Error::Usage(format!("cannot start {} worker threads: {e}", plan.jobs)))?;
    pool.install(|| {
        let mut data = JoinData::default();
        let (report, _) = collect_with(plan, &mut data)?;
        Ok((report, data))
    })
}

fn collect_in_pool(plan: &Plan) -> Result<(Report, JoinIndex)> {
    collect_with(plan, &mut JoinData::default())
}

/// Phase 1 (enrichment: counted, and kept as join data with the `--join` files) and
/// phase 2 (run histories in parallel chunks). `data` receives the canonical join data.
fn collect_with(plan: &Plan, data: &mut JoinData) -> Result<(Report, JoinIndex)> {
    let total_bytes: u64 = plan
        .inputs
        .iter()
        .chain(&plan.joins)
        .filter_map(|i| i.source.size)
        .sum();
    let records = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let bar = plan
        .progress
        .then(|| progress_bar(total_bytes, records.clone()));
    let count = bar.is_some().then_some(&*records);
    let opts = IngestOptions {
        progress: bar.clone(),
        chunk_size: plan.chunk_size,
        ..IngestOptions::default()
    };

    let mut report = Report::new();
    for input in &plan.inputs {
        report.add_input(input.info());
    }
    for s in &plan.skipped {
        report.add_skipped(s.clone());
    }

    // Phase 1: enrichment inputs build the join index.
    let mut enrichment: Vec<(usize, Item<'static>)> = Vec::new();
    for (n, input) in plan.inputs.iter().enumerate() {
        if !input.kind.is_enrichment() {
            continue;
        }
        let mut items = read_enrichment(input, &opts)?;
        items.sort_by_cached_key(|it| format!("{it:?}"));
        enrichment.extend(items.into_iter().map(|it| (n, it)));
    }
    for (_, item) in &enrichment {
        data.push(item);
    }
    read_joins(&plan.joins, &opts, plan.strict, data)?;
    data.canonicalize();
    let index = data.index(&plan.classifier);
    for (n, item) in &enrichment {
        let input = &plan.inputs[*n];
        observe_enrichment(
            &mut report,
            input,
            item,
            &index,
            &plan.classifier,
            &plan.filter,
        );
    }

    // Phase 2: run histories, in parallel chunks. The workers share one store of flow and
    // connection days.
    let runs = crate::infer::SharedRuns::new();
    let worker_report = || {
        let mut r = Report::new();
        r.share_timing(runs.clone());
        r
    };
    for input in plan.inputs.iter().filter(|i| !i.kind.is_enrichment()) {
        let file = input.source.display.as_str();
        let kind = input.kind;
        let parts = ingest::fold(
            input,
            &opts,
            worker_report,
            |rep: &mut Report, item| match item {
                Item::Run(run) => {
                    observe_run(rep, file, &run, &index, &plan.classifier, &plan.filter);
                    if let Some(n) = count {
                        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Item::Malformed(m) => rep.observe(&malformed_observation(file, kind, &m)),
                other => {
                    if let Some(owned) = own_enrichment(other) {
                        observe_enrichment(
                            rep,
                            input,
                            &owned,
                            &index,
                            &plan.classifier,
                            &plan.filter,
                        );
                    }
                }
            },
        )?;
        for mut part in parts {
            part.unshare_timing();
            report.merge(part);
        }
    }
    report.absorb_timing(runs.take());
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((report, index))
}

/// Read the `--join` files into `data`. Their malformed records are not used: one line on
/// stderr says how many, or with `strict` they are an error.
pub fn read_joins(
    joins: &[Input],
    opts: &IngestOptions,
    strict: bool,
    data: &mut JoinData,
) -> Result<()> {
    for input in joins {
        let items = read_enrichment(input, opts)?;
        let bad: Vec<&Malformed> = items
            .iter()
            .filter_map(|it| match it {
                Item::Malformed(m) => Some(m),
                _ => None,
            })
            .collect();
        if let Some(first) = bad.first() {
            if strict {
                return Err(Error::Strict {
                    count: bad.len() as u64,
                    first: first.to_string(),
                });
            }
            eprintln!(
                "flowdx: --join {}: {} malformed record(s) not used for joins; first: {first}",
                input.source.display,
                bad.len()
            );
        }
        for item in &items {
            data.push(item);
        }
    }
    Ok(())
}

/// Every record of an enrichment input, owned.
fn read_enrichment(input: &Input, opts: &IngestOptions) -> Result<Vec<Item<'static>>> {
    let parts = ingest::fold(
        input,
        opts,
        Vec::new,
        |acc: &mut Vec<Item<'static>>, item| {
            if let Some(owned) = own_enrichment(item) {
                acc.push(owned);
            }
        },
    )?;
    Ok(parts.into_iter().flatten().collect())
}

/// Finish a collected (or merged) report: owners adopted by flow, timing findings from the
/// join index, the root causes they imply, and the accounting checked.
pub fn finish(
    mut report: Report,
    index: &JoinIndex,
    as_of: Option<crate::model::Ts>,
) -> Result<Report> {
    report.adopt_owners_by_flow();
    let as_of = as_of.or(report.as_of());
    let findings = crate::infer::infer(report.timing(), index, as_of);
    report.add_findings(findings);
    report.attribute_findings();
    report.check_accounting().map_err(|what| Error::Input {
        path: PathBuf::from("(report)"),
        what: format!("accounting does not add up: {what}"),
    })?;
    Ok(report)
}

/// The progress bar: bytes read, bytes/s and run records/s (`records` counts the runs
/// folded so far). `progress` is only set when standard error is a terminal or `--progress`
/// asks for it, so a stderr that is not a terminal means "forced": indicatif's own stderr
/// target would hide itself there, so the bar draws through a terminal handle instead.
fn progress_bar(
    total: u64,
    records: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> indicatif::ProgressBar {
    let bar = if total > 0 {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::term_like_with_hz(
            Box::new(console::Term::buffered_stderr()),
            4,
        )
    };
    bar.set_draw_target(target);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} {bytes}/{total_bytes} {bar:30} {bytes_per_sec} {records_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .with_key(
        "records_per_sec",
        move |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let n = records.load(std::sync::atomic::Ordering::Relaxed);
            let secs = state.elapsed().as_secs_f64();
            let rate = if secs > 0.0 { n as f64 / secs } else { 0.0 };
            let _ = write!(w, "{} records/s", human_count(rate));
        },
    );
    bar.set_style(style);
    bar
}

/// 1234567.0 -> "1.2M", 12345.0 -> "12.3k", 999.0 -> "999".
fn human_count(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Owned copy of an enrichment item (they are owned already; runs are not kept).
fn own_enrichment(item: Item<'_>) -> Option<Item<'static>> {
    Some(match item {
        Item::Run(_) => return None,
        Item::Action(a) => Item::Action(a),
        Item::Flow(f) => Item::Flow(f),
        Item::Connection(c) => Item::Connection(c),
        Item::SignIn(s) => Item::SignIn(s),
        Item::Policy(p) => Item::Policy(p),
        Item::Malformed(m) => Item::Malformed(m),
    })
}

fn malformed_observation<'a>(file: &'a str, kind: InputKind, m: &'a Malformed) -> Observation<'a> {
    Observation {
        file,
        kind,
        run_id: None,
        flow_id: None,
        flow_name: None,
        environment: None,
        owner: None,
        connection: None,
        connector: None,
        time: None,
        outcome: Outcome::Malformed(m),
    }
}

/// Fold an observation in, or count it as filtered when it is a failure the filters leave
/// out.
fn observe(rep: &mut Report, obs: &Observation<'_>, filter: &Filter) {
    if filter.selects(obs) {
        rep.observe(obs);
    } else {
        rep.observe_filtered(obs);
    }
}

/// One run: resolve through the joins, classify, observe.
fn observe_run(
    rep: &mut Report,
    file: &str,
    run: &RunRecord<'_>,
    index: &JoinIndex,
    classifier: &Classifier,
    filter: &Filter,
) {
    let r = index.resolve(run, classifier);
    let signature;
    let evidence;
    let outcome = if !run.status.is_failed() {
        Outcome::NotFailed
    } else if let Some((d, source, message)) = &r.verdict {
        evidence = d.evidence(message);
        Outcome::Classified(Classified {
            diagnosis: d,
            rule: classifier.rule_id(d.rule),
            evidence,
            message,
            source: *source,
        })
    } else {
        let message = r.fallback_message.as_deref().unwrap_or("");
        signature = classify::signature(message);
        Outcome::Unclassified {
            message,
            signature: &signature,
        }
    };
    let obs = Observation {
        file,
        kind: InputKind::RunHistory,
        run_id: run.run_id.as_deref(),
        flow_id: run.flow_id.as_deref(),
        flow_name: r.flow_name.as_deref(),
        environment: r.environment.as_deref(),
        owner: r.owner.as_deref(),
        connection: r.connection.as_deref(),
        connector: r.connector.as_deref(),
        time: run.time,
        outcome,
    };
    observe(rep, &obs, filter);
    // A success that names no single connection used every connection of its flow.
    if matches!(outcome, Outcome::NotFailed)
        && obs.connection.is_none()
        && let Some(flow) = r.flow
    {
        for c in flow
            .connections
            .iter()
            .filter_map(|c| c.connection.as_deref())
        {
            let known = index.connection(c);
            rep.observe_usage(&Observation {
                connection: Some(known.map_or(c, |k| k.record.connection.as_str())),
                connector: known.and_then(|k| k.record.connector.as_deref()),
                ..obs
            });
        }
    }
}

/// One enrichment record: counted, and diagnosed where it carries an error (a connection
/// in error, a failed sign-in, a failed action).
fn observe_enrichment(
    rep: &mut Report,
    input: &Input,
    item: &Item<'_>,
    index: &JoinIndex,
    classifier: &Classifier,
    filter: &Filter,
) {
    let file = input.source.display.as_str();
    let mut obs = Observation {
        file,
        kind: input.kind,
        run_id: None,
        flow_id: None,
        flow_name: None,
        environment: None,
        owner: None,
        connection: None,
        connector: None,
        time: None,
        outcome: Outcome::NotFailed,
    };
    let owner_label;
    let diag;
    let message;
    let signature;
    match item {
        Item::Malformed(m) => {
            obs.outcome = Outcome::Malformed(m);
            observe(rep, &obs, filter);
        }
        Item::Connection(c) => {
            let known = index.connection(&c.connection);
            owner_label = known.and_then(|k| k.owner.clone());
            obs.owner = owner_label.as_deref();
            obs.connection = Some(c.connection.as_str());
            obs.connector = c.connector.as_deref();
            obs.environment = c.environment.as_deref();
            obs.time = c.last_modified.or(c.created);
            if let Some(k) =
                known.filter(|k| k.record.status == crate::model::ConnectionStatus::Error)
            {
                match &k.diagnosis {
                    Some(d) if d.category != crate::vocab::Category::Unknown => {
                        obs.outcome = Outcome::Classified(Classified {
                            diagnosis: d,
                            rule: classifier.rule_id(d.rule),
                            evidence: d.evidence(&k.message),
                            message: &k.message,
                            source: crate::model::EvidenceSource::ConnectionStatus,
                        });
                    }
                    _ => {
                        signature = classify::signature(&k.message);
                        obs.outcome = Outcome::Unclassified {
                            message: &k.message,
                            signature: &signature,
                        };
                    }
                }
            }
            observe(rep, &obs, filter);
        }
        Item::SignIn(s) => {
            obs.time = s.time;
            owner_label = s
                .user_id
                .as_deref()
                .or(s.user_upn.as_deref())
                .map(|k| index.person_label(k));
            obs.owner = owner_label.as_deref();
            if s.error_code != 0 {
                message = format!(
                    "AADSTS{}: {}",
                    s.error_code,
                    s.failure_reason.as_deref().unwrap_or("")
                );
                diag = classifier.classify(
                    &message,
                    MsgContext {
                        context: Context::SignIn,
                        host: None,
                    },
                );
                obs.outcome = if diag.category == crate::vocab::Category::Unknown {
                    signature = classify::signature(&message);
                    Outcome::Unclassified {
                        message: &message,
                        signature: &signature,
                    }
                } else {
                    Outcome::Classified(Classified {
                        diagnosis: &diag,
                        rule: classifier.rule_id(diag.rule),
                        evidence: diag.evidence(&message),
                        message: &message,
                        source: crate::model::EvidenceSource::SignInLog,
                    })
                };
            }
            observe(rep, &obs, filter);
        }
        Item::Action(a) => {
            obs.run_id = Some(a.run_id.as_str());
            obs.time = a.start;
            if a.status.is_failed() {
                let text = a.message.as_deref().or(a.code.as_deref()).unwrap_or("");
                diag = classifier.classify(text, MsgContext::default());
                if diag.category == crate::vocab::Category::Unknown {
                    signature = classify::signature(text);
                    obs.outcome = Outcome::Unclassified {
                        message: text,
                        signature: &signature,
                    };
                } else {
                    obs.outcome = Outcome::Classified(Classified {
                        diagnosis: &diag,
                        rule: classifier.rule_id(diag.rule),
                        evidence: diag.evidence(text),
                        message: text,
                        source: crate::model::EvidenceSource::RunActions,
                    });
                }
            }
            observe(rep, &obs, filter);
        }
        Item::Flow(f) => {
            obs.flow_id = Some(f.flow_id.as_str());
            obs.flow_name = f.name.as_deref();
            obs.time = f.created;
            observe(rep, &obs, filter);
        }
        Item::Policy(_) => observe(rep, &obs, filter),
        Item::Run(_) => {}
    }
}
