use clap::Parser;
use polytrans::cli::{Cli, ErrorFormat};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    cli.resolve_inputs(std::io::IsTerminal::is_terminal(&std::io::stdin()));
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = polytrans::run(&cli, &mut out);
    let flushed = std::io::Write::flush(&mut out);
    let print = |d: &polytrans::diag::Diagnostics| {
        for diag in d.iter() {
            if diag.severity == polytrans::diag::Severity::Note && !cli.verbose {
                continue;
            }
            match cli.error_format {
                ErrorFormat::Human => eprintln!("{}", diag.render()),
                ErrorFormat::Json => eprintln!("{}", diag.to_json()),
            }
        }
    };
    match result {
        Ok(outcome) => {
            print(&outcome.diagnostics);
            if let Some(summary) = &outcome.summary {
                eprintln!("{summary}");
            }
            if let Err(e) = flushed {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("error: cannot write output: {e}");
                    return ExitCode::from(2);
                }
            }
            ExitCode::from(if outcome.findings { 1 } else { 0 })
        }
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            print(&e.diagnostics());
            ExitCode::from(2)
        }
    }
}
