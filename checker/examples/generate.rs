//! Prints a generated KV history in our JSON, for manual `raftsim check` runs.
//! Usage: `cargo run -p checker --example generate -- CLIENTS OPERATIONS KEYS SEED [corrupt] [indefinite-permille]`

use checker::History;
use checker::generate::{KvGenOptions, corrupt_one_read, kv_history};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: u64| {
        args.get(index)
            .and_then(|arg| arg.parse().ok())
            .unwrap_or(default)
    };
    let options = KvGenOptions {
        clients: number(0, 10),
        operations: number(1, 400) as usize,
        keys: number(2, 10),
        seed: number(3, 0x5eed),
        indefinite_permille: number(5, 0),
        ..KvGenOptions::default()
    };
    let mut operations = kv_history(&options);
    if args.get(4).is_some_and(|arg| arg == "corrupt") {
        corrupt_one_read(&mut operations, options.seed);
    }
    print!("{}", checker::json::to_json(&History::Kv(operations)));
}
