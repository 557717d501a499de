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
}

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
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let history =
        checker::parse(&text, format, model).with_context(|| format!("{}", args.file.display()))?;
    let mut options = Options::default();
    if let Some(budget) = args.budget {
        options.steps_max = budget;
    }
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
