//! The command line: one module per subcommand, each with its clap `Args` and a `run`
//! that writes to the writer it is given (so tests run in-process on a `Vec<u8>`).

pub mod analyze;
pub mod classify;
pub mod codes;
pub mod completions;
pub mod explain;
pub mod generate;
pub mod merge;
pub mod policy;
pub mod tag;

use clap::{Parser, Subcommand};

/// Exit status: the analysis ran (whatever it found).
pub const EXIT_OK: u8 = 0;
/// Exit status: `--fail-on` matched.
pub const EXIT_FOUND: u8 = 1;
/// Exit status: unusable arguments or input.
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "flowdx",
    version,
    about = "Diagnose Power Automate and Logic Apps failures caused by conditional access, MFA and token lifetime",
    long_about = "flowdx reads exported run histories (portal CSV, runs API pages, Dataverse flowrun, \
Get-FlowRun exports, JSON Lines), flow and connection inventories, Entra sign-in logs and token \
lifetime policies, classifies every failure from its AADSTS code and error text, joins runs to \
their flows, connections and sign-ins, and reports per owner which connections are broken, why, \
what fixes it and who must act.\n\nExit status: 0 the command ran, 1 --fail-on matched, 2 error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyze exports (files, folders, .gz, - for stdin) and report per owner, connection and fix.
    Analyze(analyze::Args),
    /// Classify error messages given as arguments, on stdin (one per line) or as JSON Lines.
    Classify(classify::Args),
    /// Write run histories back out (CSV or JSON Lines) with each failure's diagnosis appended.
    Tag(tag::Args),
    /// Merge partial reports from `analyze --partial` (shards) into one report.
    Merge(merge::Args),
    /// Explain an AADSTS code, an effect (E1..E7), a category, a root cause or a fix.
    Explain(explain::Args),
    /// List the AADSTS catalog compiled into flowdx.
    Codes(codes::Args),
    /// Check token lifetime policy exports against the recommended values.
    Policy(policy::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::Args),
    /// Print the man page (roff).
    Man(completions::ManArgs),
    /// Write a synthetic tenant export (tests and benchmarks).
    #[command(hide = true)]
    Generate(generate::Args),
}

/// Run a parsed command line, writing the command's output to `out`. Returns the exit status.
pub fn run(cli: Cli, out: &mut dyn std::io::Write) -> crate::Result<u8> {
    match cli.command {
        Command::Analyze(a) => analyze::run(a, out),
        Command::Classify(a) => classify::run(a, out),
        Command::Tag(a) => tag::run(a, out),
        Command::Merge(a) => merge::run(a, out),
        Command::Explain(a) => explain::run(a, out),
        Command::Codes(a) => codes::run(a, out),
        Command::Policy(a) => policy::run(a, out),
        Command::Generate(a) => generate::run(a, out),
        Command::Completions(a) => completions::run(a, out),
        Command::Man(a) => completions::run_man(a, out),
    }
}
