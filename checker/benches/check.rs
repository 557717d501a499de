//! Checker throughput on generated KV histories (BRIEF §12): 10 clients / 400 operations and
//! 50 clients / 2,000 operations over 10 keys, linearizable and with one corrupted read.
//! Reference: porcupine takes about 77 ms on its 50-client, 1,712-operation KV history here.

use checker::generate::{KvGenOptions, corrupt_one_read, kv_history};
use checker::{History, Options, Verdict, check};
use criterion::{Criterion, criterion_group, criterion_main};

/// Fixed seed: every run benchmarks the same histories.
const SEED: u64 = 0x00c0_ffee;

fn history(clients: u64, operations: usize, corrupt: bool) -> History {
    let options = KvGenOptions {
        seed: SEED,
        clients,
        operations,
        keys: 10,
        ..KvGenOptions::default()
    };
    let mut operations = kv_history(&options);
    if corrupt {
        corrupt_one_read(&mut operations, SEED).expect("the history has reads");
    }
    History::Kv(operations)
}

fn bench(criterion: &mut Criterion) {
    let minimize = Options {
        minimize: true,
        ..Options::default()
    };
    for (clients, operations) in [(10, 400), (50, 2000)] {
        for corrupt in [false, true] {
            let history = history(clients, operations, corrupt);
            let expected = if corrupt {
                Verdict::Illegal
            } else {
                Verdict::Ok
            };
            assert_eq!(
                check(&history, &Options::default()).verdict,
                expected,
                "c{clients}"
            );
            let name = format!(
                "kv-c{clients}-{operations}-{}",
                if corrupt { "bad" } else { "ok" }
            );
            criterion.bench_function(&name, |bencher| {
                bencher.iter(|| check(&history, &Options::default()))
            });
            if corrupt {
                criterion.bench_function(&format!("{name}-minimize"), |bencher| {
                    bencher.iter(|| check(&history, &minimize))
                });
            }
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
