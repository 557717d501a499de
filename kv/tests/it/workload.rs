//! The workload generator: deterministic per seed, unique written values, the mix respected,
//! Cas expectations that sometimes match, and impossible configurations refused by name.

use std::collections::BTreeSet;

use kv::{Op, OpMix, OpResult, Workload, WorkloadConfig, WorkloadError};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

fn draw(config: &WorkloadConfig, seed: u64, rounds: usize) -> Vec<(Op, u64)> {
    let mut workload = Workload::new(config.clone()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ops = Vec::new();
    for _ in 0..rounds {
        for client in 0..config.clients {
            let op = workload
                .next_op(client, &mut rng)
                .expect("unbounded workload");
            ops.push((op, workload.think_time(&mut rng)));
        }
    }
    ops
}

#[test]
fn same_seed_same_workload_other_seed_other_workload() {
    let config = WorkloadConfig::default();
    assert_eq!(draw(&config, 42, 50), draw(&config, 42, 50));
    assert_ne!(draw(&config, 42, 50), draw(&config, 43, 50));
}

#[test]
fn written_values_are_unique_per_operation() {
    let config = WorkloadConfig {
        mix: OpMix {
            get: 0,
            put: 1,
            append: 1,
            cas: 1,
        },
        ..Default::default()
    };
    let mut values = BTreeSet::new();
    let mut appends = 0;
    for (op, _) in draw(&config, 7, 200) {
        let value = match op {
            Op::Append { value, .. } => {
                appends += 1;
                assert!(
                    value.ends_with(';'),
                    "appended values are delimited: {value}"
                );
                value.trim_end_matches(';').to_owned()
            }
            Op::Put { value, .. } | Op::Cas { new: value, .. } => value,
            Op::Get { .. } => unreachable!("gets have weight 0"),
        };
        assert!(values.insert(value.clone()), "value {value} written twice");
    }
    assert!(appends > 100, "only {appends} appends in 1000 operations");
}

#[test]
fn mix_is_respected_roughly_and_keys_are_few() {
    let config = WorkloadConfig {
        clients: 1,
        keys: 3,
        mix: OpMix {
            get: 4,
            put: 2,
            append: 3,
            cas: 1,
        },
        ..Default::default()
    };
    let ops = draw(&config, 1, 10_000);
    let mut counts = [0usize; 4];
    let mut keys = BTreeSet::new();
    for (op, _) in &ops {
        keys.insert(op.key().to_owned());
        counts[match op {
            Op::Get { .. } => 0,
            Op::Put { .. } => 1,
            Op::Append { .. } => 2,
            Op::Cas { .. } => 3,
        }] += 1;
    }
    // Expected 4000/2000/3000/1000; allow 10% of each (about 5 standard deviations).
    for (count, expected) in counts.iter().zip([4_000usize, 2_000, 3_000, 1_000]) {
        assert!(
            count.abs_diff(expected) < expected / 10,
            "counts {counts:?}"
        );
    }
    assert_eq!(
        keys,
        BTreeSet::from(["k0".to_owned(), "k1".to_owned(), "k2".to_owned()])
    );
}

#[test]
fn zero_weight_operations_never_appear() {
    let config = WorkloadConfig {
        mix: OpMix {
            get: 0,
            put: 0,
            append: 0,
            cas: 1,
        },
        ..Default::default()
    };
    assert!(
        draw(&config, 3, 100)
            .iter()
            .all(|(op, _)| matches!(op, Op::Cas { .. }))
    );
}

#[test]
fn cas_expects_the_last_observed_value_sometimes() {
    let config = WorkloadConfig {
        clients: 1,
        keys: 1,
        mix: OpMix {
            get: 0,
            put: 0,
            append: 0,
            cas: 1,
        },
        ..Default::default()
    };
    let mut workload = Workload::new(config).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    workload.observe(
        0,
        &Op::Get { key: "k0".into() },
        &OpResult::Value("seen".into()),
    );
    let mut expected_values = BTreeSet::new();
    for _ in 0..50 {
        let Some(Op::Cas { expected, .. }) = workload.next_op(0, &mut rng) else {
            panic!("only cas has weight");
        };
        expected_values.insert(expected);
    }
    assert_eq!(
        expected_values,
        BTreeSet::from([String::new(), "seen".to_owned()])
    );
}

#[test]
fn successful_cas_is_remembered_as_observed() {
    let config = WorkloadConfig {
        clients: 1,
        keys: 1,
        mix: OpMix {
            get: 0,
            put: 0,
            append: 0,
            cas: 1,
        },
        ..Default::default()
    };
    let mut workload = Workload::new(config).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let first = workload.next_op(0, &mut rng).unwrap();
    workload.observe(0, &first, &OpResult::Cas(true));
    let Op::Cas { new: written, .. } = first else {
        unreachable!()
    };
    let expects_written = (0..50).any(|_| match workload.next_op(0, &mut rng) {
        Some(Op::Cas { expected, .. }) => expected == written,
        _ => false,
    });
    assert!(
        expects_written,
        "no cas expected the swapped-in value {written}"
    );
}

#[test]
fn ops_per_client_bounds_each_client() {
    let config = WorkloadConfig {
        clients: 2,
        ops_per_client: Some(3),
        ..Default::default()
    };
    let mut workload = Workload::new(config).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for _ in 0..3 {
        assert!(workload.next_op(0, &mut rng).is_some());
    }
    assert_eq!(workload.next_op(0, &mut rng), None);
    assert_eq!(workload.issued(0), 3);
    assert!(workload.next_op(1, &mut rng).is_some());
}

#[test]
fn think_time_stays_in_range() {
    let config = WorkloadConfig {
        think_time_ns_min: 5,
        think_time_ns_max: 8,
        ..Default::default()
    };
    let workload = Workload::new(config).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let seen: BTreeSet<u64> = (0..200).map(|_| workload.think_time(&mut rng)).collect();
    assert_eq!(seen, BTreeSet::from([5, 6, 7, 8]));
    let fixed = Workload::new(WorkloadConfig {
        think_time_ns_min: 3,
        think_time_ns_max: 3,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(fixed.think_time(&mut rng), 3);
    let full = Workload::new(WorkloadConfig {
        think_time_ns_min: 0,
        think_time_ns_max: u64::MAX,
        ..Default::default()
    });
    full.unwrap().think_time(&mut rng);
}

#[test]
fn impossible_configs_are_refused_by_name() {
    let base = WorkloadConfig::default();
    let cases = [
        (
            WorkloadConfig {
                clients: 0,
                ..base.clone()
            },
            "workload needs at least one client",
        ),
        (
            WorkloadConfig {
                keys: 0,
                ..base.clone()
            },
            "workload needs at least one key",
        ),
        (
            WorkloadConfig {
                mix: OpMix {
                    get: 0,
                    put: 0,
                    append: 0,
                    cas: 0,
                },
                ..base.clone()
            },
            "operation mix get=0,put=0,append=0,cas=0 has no operation with a positive weight",
        ),
        (
            WorkloadConfig {
                think_time_ns_min: 2,
                think_time_ns_max: 1,
                ..base.clone()
            },
            "think time range is empty: min 2 ns > max 1 ns",
        ),
        (
            WorkloadConfig {
                ops_per_client: Some(0),
                ..base.clone()
            },
            "ops_per_client is 0: set at least 1, or leave it unbounded",
        ),
    ];
    for (config, message) in cases {
        let error = Workload::new(config).unwrap_err();
        assert_eq!(error.to_string(), message);
    }
    assert_eq!(base.validate(), Ok(()));
    assert!(matches!(
        "get=1,put".parse::<OpMix>(),
        Err(WorkloadError::BadMix { .. })
    ));
}
