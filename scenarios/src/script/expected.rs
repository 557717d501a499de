//! Expected output inline, as etcd-raft's datadriven tests keep it: every form of a script is
//! run (the correct code, then each mutant its conditions name), what each line printed is
//! compared with the blocks under it, and `UPDATE_EXPECT=1` writes the blocks anew.

use std::collections::BTreeMap;

use crate::config::Mutant;

use super::parse::{Block, Line};
use super::{Script, ScriptError, ScriptOptions, ScriptOutcome, parse, run_script};

/// One form of a script: the correct code (`None`) or one mutant switched on.
pub type Form = Option<Mutant>;

/// Runs the correct form and every mutant form the script's conditions name.
pub fn run_forms(script: &Script) -> Result<Vec<(Form, ScriptOutcome)>, ScriptError> {
    let forms = std::iter::once(None).chain(script.mutant_forms().into_iter().map(Some));
    forms
        .map(|form| {
            let options = ScriptOptions {
                mutants: form.into_iter().collect(),
            };
            run_script(script, &options).map(|outcome| (form, outcome))
        })
        .collect()
}

/// What checking a script file found.
pub struct FileCheck {
    pub script: Script,
    pub forms: Vec<(Form, ScriptOutcome)>,
    /// Lines whose blocks differ from what they printed, in words.
    pub differences: Vec<String>,
    /// The file with every block as the lines printed them.
    pub rewritten: String,
}

/// Parses and runs every form of a script file and compares each line's blocks.
pub fn check_file(text: &str) -> Result<FileCheck, ScriptError> {
    let script = parse(text)?;
    let forms = run_forms(&script)?;
    let wanted: BTreeMap<usize, Vec<(Form, String)>> = script
        .lines
        .iter()
        .map(|line| (line.number, blocks_for(line, &forms)))
        .collect();
    let mut differences = Vec::new();
    for line in &script.lines {
        let have: Vec<(Form, String)> = line
            .expected
            .iter()
            .map(|block| (block.form, block.text.clone()))
            .collect();
        if have != wanted[&line.number] {
            differences.push(describe_difference(line, &have, &wanted[&line.number]));
        }
    }
    let rewritten = rewrite(text, &script, &wanted);
    Ok(FileCheck {
        script,
        forms,
        differences,
        rewritten,
    })
}

/// The blocks a line should have: the correct form's output, and each mutant form's where it
/// differs (or where only the mutant form runs the line).
fn blocks_for(line: &Line, forms: &[(Form, ScriptOutcome)]) -> Vec<(Form, String)> {
    let ran = |form: &Form| {
        line.condition
            .is_none_or(|c| c.holds(&form.iter().copied().collect::<Vec<_>>()))
    };
    let printed = |outcome: &ScriptOutcome| {
        outcome
            .outputs
            .get(&line.number)
            .cloned()
            .unwrap_or_default()
    };
    let mut blocks = Vec::new();
    let correct = forms
        .iter()
        .find(|(form, _)| form.is_none() && ran(form))
        .map(|(_, outcome)| printed(outcome));
    if let Some(text) = correct.as_ref().filter(|text| !text.is_empty()) {
        blocks.push((None, text.clone()));
    }
    for (form, outcome) in forms.iter().filter(|(form, _)| form.is_some() && ran(form)) {
        let text = printed(outcome);
        let differs = match &correct {
            Some(correct) => *correct != text,
            None => !text.is_empty(),
        };
        if differs {
            blocks.push((*form, text));
        }
    }
    blocks
}

fn describe_difference(line: &Line, have: &[(Form, String)], want: &[(Form, String)]) -> String {
    let show = |blocks: &[(Form, String)]| {
        if blocks.is_empty() {
            return "(nothing)".to_string();
        }
        blocks
            .iter()
            .map(|(form, text)| format!("{}\n{text}", header(*form)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "line {} `{}`:\n--- expected\n{}\n--- printed\n{}",
        line.number,
        line.text,
        show(have),
        show(want)
    )
}

fn header(form: Form) -> String {
    match form {
        None => "----".to_string(),
        Some(mutant) => format!("---- [{mutant}]"),
    }
}

/// The file's text with each command's blocks replaced by `wanted`; everything else (comments,
/// blank lines, commands) stays as written.
fn rewrite(text: &str, script: &Script, wanted: &BTreeMap<usize, Vec<(Form, String)>>) -> String {
    let raw: Vec<&str> = text.lines().collect();
    let by_number: BTreeMap<usize, &Line> = script
        .lines
        .iter()
        .map(|line| (line.number, line))
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut position = 0;
    while position < raw.len() {
        let number = position + 1;
        out.push_str(raw[position]);
        out.push('\n');
        position += 1;
        let Some(line) = by_number.get(&number) else {
            continue;
        };
        if let Some(last) = line.expected.iter().map(|b: &Block| b.last_line).max() {
            position = last;
        }
        let blocks = &wanted[&number];
        for (form, text) in blocks {
            out.push_str(&header(*form));
            out.push('\n');
            for text_line in text.lines() {
                out.push_str(text_line);
                out.push('\n');
            }
        }
        let next_is_blank = raw.get(position).is_none_or(|l| l.trim().is_empty());
        if !blocks.is_empty() && !next_is_blank {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str =
        "# A leader is elected.\ncluster servers=3\ncampaign n1\nexpect leader n1\n";

    #[test]
    fn blocks_are_written_then_match() {
        let first = check_file(SCRIPT).expect("runs");
        assert_eq!(
            first.differences.len(),
            2,
            "the cluster and campaign lines print"
        );
        let second = check_file(&first.rewritten).expect("runs");
        assert!(second.differences.is_empty(), "{:?}", second.differences);
        assert_eq!(second.rewritten, first.rewritten);
        assert!(first.rewritten.contains("campaign n1\n----\nat "));
    }

    #[test]
    fn a_wrong_block_is_a_difference() {
        let fixed = check_file(SCRIPT).expect("runs").rewritten;
        let broken = fixed.replacen("n1:L1", "n1:F1", 1);
        assert_ne!(broken, fixed);
        let check = check_file(&broken).expect("runs");
        assert_eq!(check.differences.len(), 1, "{:?}", check.differences);
        assert_eq!(check.rewritten, fixed);
    }

    #[test]
    fn a_stray_block_is_a_parse_error() {
        let error = parse("cluster servers=3\n\n----\nboot\n").expect_err("a stray block");
        assert_eq!(error.line, 3);
    }
}
