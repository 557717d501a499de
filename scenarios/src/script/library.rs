//! The scenario library: every script under `scenarios/scripts/`, embedded by `build.rs` so the
//! binary lists and runs them from anywhere. A new scenario is a new `.scn` file, nothing more.

/// One embedded script.
#[derive(Clone, Copy, Debug)]
pub struct LibraryScript {
    pub name: &'static str,
    pub text: &'static str,
}

impl LibraryScript {
    /// The first sentence of the script's opening comment, on one line.
    pub fn description(&self) -> String {
        let block: Vec<&str> = self
            .text
            .lines()
            .map_while(|line| line.trim().strip_prefix('#'))
            .map(str::trim)
            .collect();
        let text = block.join(" ");
        match text.find(". ") {
            Some(end) => text[..=end].to_string(),
            None => text,
        }
    }
}

/// Every shipped scenario, by name.
pub const LIBRARY: &[LibraryScript] = include!(concat!(env!("OUT_DIR"), "/library.rs"));

pub fn find(name: &str) -> Option<&'static LibraryScript> {
    LIBRARY.iter().find(|script| script.name == name)
}
