//! The flowdx binary: parse the command line, run it, map errors to exit status 2.
//! A broken pipe (`flowdx ... | head`) is not an error.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// mimalloc, with `--features mimalloc`: for targets whose system allocator is slow (musl).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = flowdx::cmd::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = flowdx::cmd::run(cli, &mut out).and_then(|code| {
        out.flush().map_err(flowdx::Error::Output)?;
        Ok(code)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            drop(out);
            // Every error's message already names its cause.
            eprintln!("flowdx: {e}");
            ExitCode::from(flowdx::cmd::EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(e: &flowdx::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::BrokenPipe
        {
            return true;
        }
        cur = err.source();
    }
    false
}
