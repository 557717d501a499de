//! Checks the benchmark's 50-client history many times, for profiling, and prints each
//! partition's step and memo counts. `profile ROUNDS [bad]`: `bad` corrupts one read as the
//! benchmark does.
use checker::generate::{KvGenOptions, corrupt_one_read, kv_history};
use checker::{History, Options, check};

fn main() {
    const SEED: u64 = 0x00c0_ffee;
    let options = KvGenOptions {
        seed: SEED,
        clients: 50,
        operations: 2000,
        keys: 10,
        ..KvGenOptions::default()
    };
    let mut operations = kv_history(&options);
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|arg| arg.parse().ok()).unwrap_or(20);
    if args.next().as_deref() == Some("bad") {
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
