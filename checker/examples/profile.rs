//! Checks the benchmark's 50-client history many times, for profiling, and prints each
//! partition's step and memo counts. `profile ROUNDS [ok|bad] [CLIENTS OPERATIONS]`: `bad`
//! corrupts one read as the benchmark does; the default is 50 clients, 2,000 operations.
use checker::generate::{KvGenOptions, corrupt_one_read, kv_history};
use checker::{History, Options, check};

fn main() {
    const SEED: u64 = 0x00c0_ffee;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |index: usize, default: u64| {
        args.get(index)
            .and_then(|arg| arg.parse().ok())
            .unwrap_or(default)
    };
    let rounds = number(0, 20) as usize;
    let options = KvGenOptions {
        seed: SEED,
        clients: number(2, 50),
        operations: number(3, 2000) as usize,
        keys: 10,
        ..KvGenOptions::default()
    };
    let mut operations = kv_history(&options);
    if args.get(1).is_some_and(|arg| arg == "bad") {
        corrupt_one_read(&mut operations, SEED).expect("the history has reads");
    }
    let history = History::Kv(operations);
    let mut last = None;
    for _ in 0..rounds {
        last = Some(check(&history, &Options::default()));
    }
    let Some(result) = last else { return };
    for partition in &result.partitions {
        println!(
            "{}: {} operations, {} steps, {} memo entries, {}",
            partition.label,
            partition.operation_count,
            partition.steps,
            partition.memo_entries,
            partition.verdict.name()
        );
    }
    let steps: u64 = result
        .partitions
        .iter()
        .map(|partition| partition.steps)
        .sum();
    println!("steps per check: {steps} ({})", result.verdict.name());
}
