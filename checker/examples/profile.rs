//! Checks the benchmark's 50-client history many times, for profiling.
use checker::generate::{KvGenOptions, kv_history};
use checker::{History, Options, check};

fn main() {
    let options = KvGenOptions {
        seed: 0x00c0_ffee,
        clients: 50,
        operations: 2000,
        keys: 10,
        ..KvGenOptions::default()
    };
    let history = History::Kv(kv_history(&options));
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(20);
    let mut steps = 0;
    for _ in 0..rounds {
        let result = check(&history, &Options::default());
        steps = result
            .partitions
            .iter()
            .map(|partition| partition.steps)
            .sum::<u64>();
    }
    println!("steps per check: {steps}");
}
