//! One module per subcommand; each exposes its clap arguments and a `run` that returns the exit
//! code, or an error for bad input (exit 2).

pub mod bench;
pub mod campaign;
pub mod check;
pub mod explore;
pub mod merge;
pub mod mutants;
pub mod replay;
pub mod run;
pub mod scenario;
pub mod shrink;
