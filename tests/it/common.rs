//! What every test of the binary needs: running it, and a scratch folder of its own.

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn raftsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_raftsim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// An empty folder for one test, named by its file (`kind`) and test (`name`).
pub fn scratch(kind: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("raftsim-{kind}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
