//! Data-driven interaction tests in etcd-raft's style: every `raft/testdata/*.txt` is a script
//! of commands (`add-nodes`, `campaign`, `stabilize`, `deliver-msgs`, ...), each followed by
//! `----` and the output it must produce. A new file is a new test, with no code change.
//! `UPDATE_EXPECT=1 cargo test -p raft --test it interaction` rewrites the expected outputs
//! from the actual ones (review the diff before committing it).
//!
//! The format is etcd's datadriven one: comment and blank lines, a command line with
//! arguments (`key=value`, `key=(a,b)`), optional input lines, `----`, and the expected output
//! up to the next blank line (outputs never contain blank lines).

mod env;

use std::path::{Path, PathBuf};

/// One command of a script and the text before it (comments and blank lines, kept as is).
struct Block {
    leading: Vec<String>,
    /// Line number of the command, from 1.
    line: usize,
    command: String,
    input: Vec<String>,
    expected: Vec<String>,
}

struct Script {
    blocks: Vec<Block>,
    trailing: Vec<String>,
}

fn parse(text: &str, path: &Path) -> Script {
    let lines: Vec<&str> = text.lines().collect();
    let is_filler = |line: &str| line.trim().is_empty() || line.starts_with('#');
    let mut blocks = Vec::new();
    let mut i = 0;
    loop {
        let mut leading = Vec::new();
        while i < lines.len() && is_filler(lines[i]) {
            leading.push(lines[i].to_string());
            i += 1;
        }
        if i == lines.len() {
            return Script {
                blocks,
                trailing: leading,
            };
        }
        let line = i + 1;
        let command = lines[i].to_string();
        i += 1;
        let mut input = Vec::new();
        while i < lines.len() && lines[i] != "----" {
            input.push(lines[i].to_string());
            i += 1;
        }
        assert!(
            i < lines.len(),
            "{}:{line}: `{command}` has no `----` line",
            path.display()
        );
        i += 1;
        let mut expected = Vec::new();
        while i < lines.len() && !lines[i].is_empty() {
            expected.push(lines[i].to_string());
            i += 1;
        }
        blocks.push(Block {
            leading,
            line,
            command,
            input,
            expected,
        });
    }
}

fn render(script: &Script, outputs: &[Vec<String>]) -> String {
    let mut text = String::new();
    for (block, output) in script.blocks.iter().zip(outputs) {
        for line in block
            .leading
            .iter()
            .chain([&block.command])
            .chain(&block.input)
        {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str("----\n");
        for line in output {
            text.push_str(line);
            text.push('\n');
        }
    }
    for line in &script.trailing {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Runs one script; returns its mismatches (empty when it passes). With `update`, rewrites
/// the file with the actual outputs instead.
fn run_file(path: &Path, update: bool) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("readable test file");
    let script = parse(&text, path);
    let mut env = env::Env::default();
    let mut outputs = Vec::new();
    let mut failures = Vec::new();
    for block in &script.blocks {
        let output = env.run(&block.command, &block.input);
        let output: Vec<String> = if output.trim().is_empty() {
            vec!["ok".to_string()]
        } else {
            output.trim_end().lines().map(str::to_string).collect()
        };
        assert!(
            output.iter().all(|line| !line.trim().is_empty()),
            "{}:{}: output has a blank line",
            path.display(),
            block.line
        );
        if output != block.expected {
            failures.push(format!(
                "{}:{}: {}\n--- expected\n{}\n--- actual\n{}",
                path.display(),
                block.line,
                block.command,
                block.expected.join("\n"),
                output.join("\n")
            ));
        }
        outputs.push(output);
    }
    if update {
        std::fs::write(path, render(&script, &outputs)).expect("writable test file");
        return Vec::new();
    }
    failures
}

fn testdata_files() -> Vec<PathBuf> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&directory)
        .expect("raft/testdata exists")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    files
}

#[test]
fn interaction_scripts() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let files = testdata_files();
    let failures: Vec<String> = files
        .iter()
        .flat_map(|path| run_file(path, update))
        .collect();
    assert!(
        failures.is_empty(),
        "{} mismatches (UPDATE_EXPECT=1 to accept):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // BRIEF §16: at least 15 of etcd-raft's interaction files are ported.
    assert!(files.len() >= 15, "only {} interaction files", files.len());
}

#[test]
fn a_script_round_trips_through_parse_and_render() {
    let text = "# comment\n\ncampaign 1\n----\nok\n\npropose-conf-change 1\nv2 v3\n----\nline 1\nline 2\n\n# end\n";
    let script = parse(text, Path::new("inline"));
    assert_eq!(script.blocks.len(), 2);
    assert_eq!(script.blocks[1].input, vec!["v2 v3"]);
    assert_eq!(script.blocks[1].expected, vec!["line 1", "line 2"]);
    let outputs: Vec<Vec<String>> = script.blocks.iter().map(|b| b.expected.clone()).collect();
    assert_eq!(render(&script, &outputs), text);
}
