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
    /// The first line of the script's opening comment.
    pub fn description(&self) -> &'static str {
        self.text
            .lines()
            .find_map(|line| line.trim().strip_prefix('#'))
            .map_or("", str::trim)
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
