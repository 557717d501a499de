//! The echo benchmark of BRIEF §12 under criterion: throughput in delivered messages.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sim::echo::{EchoConfig, run_echo};

fn echo(c: &mut Criterion) {
    let config = EchoConfig::default();
    let messages = run_echo(config).expect("echo runs").messages_delivered;
    let mut group = c.benchmark_group("sim");
    group.throughput(Throughput::Elements(messages));
    group.sample_size(20);
    group.bench_function("echo_5_nodes_20000_exchanges", |b| {
        b.iter(|| run_echo(std::hint::black_box(config)).expect("echo runs"))
    });
    group.finish();
}

criterion_group!(benches, echo);
criterion_main!(benches);
