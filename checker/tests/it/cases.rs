//! Data-driven cases: every history under `tests/data/` is parsed, checked with minimization on
//! (as `raftsim check --minimize` does) and reported; the report must match the `.out` file
//! beside it. A new case is a new history file. Refresh the
//! golden files with `UPDATE_EXPECT=1 cargo test -p checker --test it cases`.

use std::path::Path;

use checker::{Format, Options};

#[test]
fn every_history_in_tests_data_matches_its_report() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut names: Vec<String> = std::fs::read_dir(&directory)
        .expect("tests/data exists")
        .map(|entry| {
            entry
                .expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json") || name.ends_with(".edn"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 6,
        "expected the example histories, found {names:?}"
    );
    for name in names {
        let path = directory.join(&name);
        let text = std::fs::read_to_string(&path).expect("readable history");
        let format = Format::from_path(&path).expect("json or edn");
        let history =
            checker::parse(&text, format, None).unwrap_or_else(|error| panic!("{name}: {error}"));
        let options = Options {
            minimize: true,
            ..Options::default()
        };
        let result = checker::check(&history, &options);
        let report = checker::report::render(&history, &result);
        expect_test::expect_file![format!("../data/{name}.out")].assert_eq(&report);
    }
}
