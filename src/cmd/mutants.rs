//! `raftsim mutants`: lists the planted bugs of BRIEF §9, one per line: name, then description.

use std::process::ExitCode;

use raft::Mutant;

pub fn run() -> anyhow::Result<ExitCode> {
    let width = Mutant::ALL
        .iter()
        .map(|mutant| mutant.name().len())
        .max()
        .unwrap_or(0);
    for mutant in Mutant::ALL {
        println!("{:width$}  {}", mutant.name(), mutant.description());
    }
    Ok(ExitCode::SUCCESS)
}
