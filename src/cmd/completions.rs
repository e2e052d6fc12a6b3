//! `flowdx completions SHELL` and `flowdx man`: shell completion scripts and a man page,
//! generated from the same clap definitions that parse the command line, so they cannot
//! drift from the real flags.

use crate::{Error, Result};
use clap::CommandFactory;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Print a completion script for SHELL on standard output.\n\nFor example: \
flowdx completions bash > /etc/bash_completion.d/flowdx, or for zsh, write it as _flowdx in a \
folder of your $fpath."
)]
pub struct Args {
    /// The shell: bash, zsh, fish, powershell or elvish.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
#[command(
    long_about = "Print the flowdx(1) man page (roff) on standard output.\n\nFor example: \
flowdx man > /usr/local/share/man/man1/flowdx.1"
)]
pub struct ManArgs {}

pub fn run(args: Args, out: &mut dyn Write) -> Result<u8> {
    let mut cmd = super::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "flowdx", &mut buf);
    out.write_all(&buf).map_err(Error::Output)?;
    Ok(super::EXIT_OK)
}

pub fn run_man(_args: ManArgs, out: &mut dyn Write) -> Result<u8> {
    let man = clap_mangen::Man::new(super::Cli::command());
    let mut buf = Vec::new();
    man.render(&mut buf).map_err(Error::Output)?;
    out.write_all(&buf).map_err(Error::Output)?;
    Ok(super::EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_analyze() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::PowerShell,
            clap_complete::Shell::Elvish,
        ] {
            let mut out = Vec::new();
            run(Args { shell }, &mut out).unwrap();
            let s = String::from_utf8(out).unwrap();
            assert!(s.contains("analyze"), "{shell}");
        }
    }

    #[test]
    fn man_page_is_roff_with_the_commands() {
        let mut out = Vec::new();
        run_man(ManArgs {}, &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(
            s.starts_with(".ie") || s.contains(".TH flowdx"),
            "{}",
            &s[..80]
        );
        assert!(s.contains("analyze"));
    }
}
