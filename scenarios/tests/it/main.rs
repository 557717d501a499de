//! Integration tests of whole seeded runs: correct code passes, planted bugs are caught.

mod campaign;
mod explore;
mod fuzz;
mod record;
mod runs;
mod scripts;
mod shrink;
