//! Embeds every scenario script under `scripts/` in the library (`script::LIBRARY`), so a new
//! `.scn` file is a new library scenario and a new test with no code edit.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let dir = manifest.join("scripts");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("scenarios/scripts exists")
        .map(|entry| entry.expect("readable directory").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "scn"))
        .map(|path| {
            let stem = path.file_stem().expect("a file name");
            stem.to_str().expect("script names are UTF-8").to_string()
        })
        .collect();
    names.sort();
    let mut code = String::from("&[\n");
    for name in names {
        let path = dir.join(format!("{name}.scn"));
        writeln!(
            code,
            "    LibraryScript {{ name: {name:?}, text: include_str!({:?}) }},",
            path.display().to_string()
        )
        .expect("writing to a string");
    }
    code.push_str("]\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("library.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
