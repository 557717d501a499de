//! `raftsim merge DIR...`: joins the `results.jsonl` of campaign shards in seed order and
//! re-derives `summary.json` and `junit.xml`. Exit as `campaign`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use scenarios::campaign::{Summary, merge, read_results, write_output_dir};

use super::campaign::{exit_code, print_summary};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard output directories (or their results.jsonl files).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged results.
    #[arg(long, value_name = "DIR", default_value = "target/campaign-merged")]
    pub out: PathBuf,
    /// Do not fail on `unknown` linearizability verdicts.
    #[arg(long)]
    pub allow_unknown: bool,
}

pub fn run(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let mut shards = Vec::new();
    for dir in &args.dirs {
        let path = if dir.is_dir() {
            dir.join("results.jsonl")
        } else {
            dir.clone()
        };
        shards.push(read_results(&path)?);
    }
    let results = merge(shards)?;
    let summary = Summary::new(&results, None, false);
    write_output_dir(&args.out, &results, &summary)?;
    println!(
        "merge: {} directories, {} seeds -> {}",
        args.dirs.len(),
        results.len(),
        args.out.display()
    );
    print_summary(&summary, &args.out, args.allow_unknown);
    Ok(exit_code(&summary, args.allow_unknown, false))
}
