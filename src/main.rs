//! `raftsim`: the command line. Argument parsing and wiring only; every command lives in its own
//! module under `cmd/` and returns an exit code. Bad input of any kind is one line on stderr and
//! exit code 2 (BRIEF §2).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod wall;

/// Deterministic simulation testbed for Raft.
#[derive(Debug, Parser)]
#[command(name = "raftsim", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Throughput benchmarks that print one machine-readable line.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
    /// One seeded run: cluster, clients and faults, online checks, history check.
    Run(cmd::run::RunArgs),
    /// Lists the planted bugs; with `--score`, prints their detection table (see the README).
    Mutants(cmd::mutants::MutantsArgs),
    /// Checks a history file for linearizability: exit 0 linearizable, 1 not, 3 unknown.
    Check(cmd::check::CheckArgs),
    /// Many seeds across cores, one configuration drawn per seed: results.jsonl, summary.json,
    /// junit.xml. Exit 0 all pass, 1 any failure, 130 interrupted.
    Campaign(cmd::campaign::CampaignArgs),
    /// Reruns one campaign seed with the configuration the campaign drew; verifies the trace hash
    /// against a results.jsonl.
    Replay(cmd::replay::ReplayArgs),
    /// Merges the outputs of sharded campaigns (`campaign --shard I/N`).
    Merge(cmd::merge::MergeArgs),
    /// Shrinks a failing seed to a small scenario script that fails the same way.
    Shrink(cmd::shrink::ShrinkArgs),
    /// Coverage-guided exploration: swarm seeds and runs derived from those that reached rare
    /// marks; stops at the first failure with its replay command.
    #[command(
        override_usage = "raftsim explore --seeds A..B [OPTIONS]\n       raftsim explore --prior RESULTS --write-prior FILE [--service S]"
    )]
    Explore(cmd::explore::ExploreArgs),
    /// Scripted scenarios (Raft paper figures, real bugs): `list`, or
    /// `run NAME|FILE [--mutant M]`.
    #[command(subcommand)]
    Scenario(cmd::scenario::ScenarioCommand),
}

/// Exit code for bad input: unknown flag, malformed file, impossible configuration.
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    restore_sigpipe();
    quiet_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return report_parse_error(&error),
    };
    let result = match cli.command {
        Command::Bench(command) => cmd::bench::run(command),
        Command::Run(args) => cmd::run::run(args),
        Command::Mutants(args) => cmd::mutants::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Campaign(args) => cmd::campaign::run(args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Merge(args) => cmd::merge::run(args),
        Command::Shrink(args) => cmd::shrink::run(args),
        Command::Explore(args) => cmd::explore::run(args),
        Command::Scenario(command) => cmd::scenario::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", one_line(&format!("{error:#}")));
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`raftsim replay ... | head`) would panic.
/// The default action ends the process quietly instead, as other Unix tools do.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists; setting a signal's
    // disposition to its default has no other precondition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A panic in a seed's run is that seed's finding, reported with its verdict; stderr gets one
/// line for it, not a backtrace per seed.
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let location = info
            .location()
            .map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
        eprintln!("panic{location}: {}", one_line(&message));
    }));
}

/// Help and version go to stdout with exit 0; every other parse error is one line, exit 2.
fn report_parse_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            print!("{}", error.render());
            ExitCode::SUCCESS
        }
        _ => {
            let rendered = error.render().to_string();
            let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("error");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            // "the following required arguments were not provided:" names them on the next line.
            let message = match (first.ends_with(':'), lines.next()) {
                (true, Some(next)) => format!("{first} {next}"),
                _ => first.to_string(),
            };
            eprintln!("error: {}", one_line(&message));
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Most characters of an error message (the line adds `error: `).
const ERROR_CHARS_MAX: usize = 230;

/// Collapses a message into one short line: whitespace runs become one space, anything a user
/// wrote that it quotes is shortened, and the line is cut at [`ERROR_CHARS_MAX`] characters.
fn one_line(message: &str) -> String {
    let joined = message.split_whitespace().collect::<Vec<_>>().join(" ");
    sim::text::shorten_to(&shorten_quoted(&joined), ERROR_CHARS_MAX)
}

/// Shortens every `'...'` or `` `...` `` span (what parsers quote of the input).
fn shorten_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(1024));
    let mut rest = message;
    while let Some(open) = rest.find(['\'', '`']) {
        let quote = rest[open..].chars().next().expect("found a quote");
        out.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        match after.find(quote) {
            Some(close) => {
                out.push_str(&sim::shorten(&after[..close]));
                out.push(quote);
                rest = &after[close + 1..];
            }
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
