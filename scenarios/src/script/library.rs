//! The scenario library: the scripts of `scenarios/scripts/`, embedded so the binary lists and
//! runs them from anywhere. A new scenario is a new `.scn` file (and its `.golden`) plus a line
//! here.

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

macro_rules! scripts {
    ($($name:literal),* $(,)?) => {
        &[$(LibraryScript {
            name: $name,
            text: include_str!(concat!("../../scripts/", $name, ".scn")),
        }),*]
    };
}

/// Every shipped scenario, in BRIEF §8's order.
pub const LIBRARY: &[LibraryScript] = scripts![
    "figure7",
    "figure8",
    "figure8-safe",
    "figure10",
    "figure11",
    "single-server-change",
    "link-cut-no-checkquorum",
    "link-cut-checkquorum",
    "prevote-stranded-candidate",
    "prevote-smaller-term",
    "checkquorum-isolated-leader",
    "lease-read",
    "lease-read-slow-clock",
    "lease-read-index",
    "read-index-noop",
    "read-context-reuse",
];

pub fn find(name: &str) -> Option<&'static LibraryScript> {
    LIBRARY.iter().find(|script| script.name == name)
}
