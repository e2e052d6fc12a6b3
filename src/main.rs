//! The flowdx binary: parse the command line, run it, map errors to exit status 2.
//! A broken pipe (`flowdx ... | head`) is not an error.

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

/// mimalloc, with `--features mimalloc`: for targets whose system allocator is slow (musl).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// glibc's allocator raises its mmap and trim thresholds as large blocks are freed (up to
/// 32 MiB each), so every allocator arena (one per thread that allocates) keeps freed
/// memory it will not hand back: several MB of peak memory on a large export. Fixed
/// thresholds return it. The hot path does not allocate large blocks: chunk buffers are
/// recycled, so the cost is a few system calls per chunk buffer.
#[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
fn tune_allocator() {
    const THRESHOLD: libc::c_int = 256 * 1024;
    // SAFETY: mallopt only sets allocator parameters; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc"))))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
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
