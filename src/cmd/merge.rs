//! `raftsim merge DIR...`: joins the `results.jsonl` of campaign shards in seed order,
//! re-derives `summary.json`, `junit.xml` and `index.html`, and checks that the shards cover
//! the campaign they were part of: a missing seed or shard, an interrupted or unfinished shard,
//! or no seed at all fails the gate (exit 1), with the reason printed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use scenarios::campaign::merge::{merge, read_shard};
use scenarios::campaign::output::{Summary, write_output_dir};
use scenarios::run::SeedShape;

use super::campaign::{exit_code, print_summary, write_html};

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
        anyhow::ensure!(dir.exists(), "{} does not exist", dir.display());
        shards.push(read_shard(dir)?);
    }
    let merged = merge(shards)?;
    let summary = Summary::new(
        &merged.results,
        merged.request,
        None,
        false,
        merged.incomplete,
    );
    write_output_dir(&args.out, &merged.results, &summary)?;
    // Reports are written by the shards' own campaigns; the merged index lists every seed.
    write_html(&args.out, &merged.results, &SeedShape::default(), 0)?;
    println!(
        "merge: {} directories, {} seeds -> {}",
        args.dirs.len(),
        merged.results.len(),
        args.out.display()
    );
    print_summary(&summary, &args.out, args.allow_unknown);
    Ok(exit_code(&summary, args.allow_unknown))
}
