//! `raftsim check FILE`: linearizability check of a history file (BRIEF §2, §7). Exit 0
//! linearizable, 1 not, 3 unknown; bad input is an error (exit 2).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use checker::{Format, ModelKind, Options, Verdict};
use clap::{Args, ValueEnum};

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The history: our JSON (.json) or Jepsen/Knossos/Maelstrom EDN (.edn).
    file: PathBuf,
    /// The model; a JSON history names its own, EDN is inferred (kv if keyed, else register).
    #[arg(long, value_enum)]
    model: Option<ModelArg>,
    /// The format; inferred from the file extension when absent.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Also write a self-contained HTML visualization here.
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
    /// Search steps allowed per partition before the verdict is "unknown".
    #[arg(long, value_name = "STEPS")]
    budget: Option<u64>,
    /// Memory the search may hold, in MB (2^20 bytes), shared by the partitions checked in
    /// parallel; reaching it makes the verdict "unknown". The parsed history is not counted.
    #[arg(long, value_name = "MB", default_value_t = MEMORY_MB_DEFAULT)]
    memory_mb: u64,
    /// Also minimize each failing partition to a small illegal sub-history (ddmin: often many
    /// times the steps of the verdict).
    #[arg(long)]
    minimize: bool,
}

const MEMORY_MB_DEFAULT: u64 = (checker::MEMORY_BYTES_MAX_DEFAULT >> 20) as u64;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModelArg {
    Kv,
    Register,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Json,
    Edn,
}

const EXIT_NOT_LINEARIZABLE: u8 = 1;
const EXIT_UNKNOWN: u8 = 3;

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let format = match args.format {
        Some(FormatArg::Json) => Format::Json,
        Some(FormatArg::Edn) => Format::Edn,
        None => Format::from_path(&args.file).with_context(|| {
            format!(
                "{}: cannot tell the format from the extension; pass --format json|edn",
                args.file.display()
            )
        })?,
    };
    let model = args.model.map(|model| match model {
        ModelArg::Kv => ModelKind::Kv,
        ModelArg::Register => ModelKind::Register,
    });
    anyhow::ensure!(args.memory_mb >= 1, "--memory-mb must be at least 1");
    let memory_bytes_max = usize::try_from(args.memory_mb)
        .ok()
        .and_then(|megabytes| megabytes.checked_mul(1 << 20))
        .with_context(|| format!("--memory-mb {} is too large", args.memory_mb))?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let history =
        checker::parse(&text, format, model).with_context(|| format!("{}", args.file.display()))?;
    // The history owns its strings: the text is no longer needed while checking.
    drop(text);
    let options = Options {
        steps_max: args.budget.unwrap_or(Options::default().steps_max),
        memory_bytes_max,
        minimize: args.minimize,
        ..Options::default()
    };
    let result = checker::check(&history, &options);
    print!("{}", checker::report::render(&history, &result));
    if let Some(out) = &args.html {
        let title = args.file.display().to_string();
        std::fs::write(out, checker::html::render(&history, &result, &title))
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("\nhtml: {}", out.display());
    }
    Ok(match result.verdict {
        Verdict::Ok => ExitCode::SUCCESS,
        Verdict::Illegal => ExitCode::from(EXIT_NOT_LINEARIZABLE),
        Verdict::Unknown { .. } => ExitCode::from(EXIT_UNKNOWN),
    })
}
