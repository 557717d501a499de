//! Integration tests of whole seeded runs: correct code passes, planted bugs are caught.

mod runs;
mod scripts;
