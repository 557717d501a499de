//! Campaign seeds that once failed on correct code, kept as seeded-run scripts under
//! `regressions/` (each names its seed and the fix): every one must replay with the outcome it
//! expects.

use std::path::PathBuf;

use scenarios::script::{ScriptOptions, run_text};

#[test]
fn every_regression_script_holds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("regressions/ exists")
        .map(|entry| entry.expect("readable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "scn"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scripts in {}", dir.display());
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("readable script");
        let outcome = run_text(&text, &ScriptOptions::default())
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert!(
            outcome.expected_held(),
            "{}: {:?}\n{}",
            path.display(),
            outcome.failures,
            outcome.trace
        );
    }
}
