//! `raftsim bench ...`: throughput measurements that print one parseable line.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The simulator echo benchmark (BRIEF §12).
    Echo,
}

pub fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Echo => anyhow::bail!("echo benchmark not built yet"),
    }
}
