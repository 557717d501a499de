//! The whole event loop under criterion: the standard run of seed 1 (5 servers, 5 clients, 10
//! simulated seconds, faults, every oracle after every event, the history check at the end),
//! with throughput in processed events. `raftsim bench run` measures the same over many seeds;
//! `sim`'s echo benchmark is the bare loop without Raft.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scenarios::RunConfig;

fn standard_run(c: &mut Criterion) {
    let config = RunConfig::standard(1);
    let outcome = scenarios::run(&config).expect("the standard run is valid");
    assert!(outcome.passed(), "seed 1 passes: {:?}", outcome.violation);
    let mut group = c.benchmark_group("event_loop");
    group.throughput(Throughput::Elements(outcome.stats.events));
    group.sample_size(20);
    group.bench_function("standard_run_seed_1", |b| {
        b.iter(|| scenarios::run(std::hint::black_box(&config)).expect("the run is valid"))
    });
    group.finish();
}

criterion_group!(benches, standard_run);
criterion_main!(benches);
