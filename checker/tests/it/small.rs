//! Small single-key KV histories for the pruning tests, written with times by hand, and a
//! verdict check that also asks the brute-force oracle.

use checker::{KvInput, KvOutput, Operation, Options, Verdict, check_kv};

use crate::brute;

pub type KvOperation = Operation<KvInput, KvOutput>;

pub fn put(value: &str, call: u64, return_time: u64) -> KvOperation {
    let input = KvInput::Put {
        key: "k".into(),
        value: value.into(),
    };
    Operation::returned(1, input, KvOutput::Written, call, return_time)
}

pub fn append(value: &str, call: u64, return_time: u64) -> KvOperation {
    let input = KvInput::Append {
        key: "k".into(),
        value: value.into(),
    };
    Operation::returned(2, input, KvOutput::Written, call, return_time)
}

pub fn get(value: &str, call: u64, return_time: u64) -> KvOperation {
    let input = KvInput::Get { key: "k".into() };
    Operation::returned(3, input, KvOutput::Value(value.into()), call, return_time)
}

pub fn cas(expected: &str, new: &str, swapped: bool, call: u64, return_time: u64) -> KvOperation {
    let input = KvInput::Cas {
        key: "k".into(),
        expected: expected.into(),
        new: new.into(),
    };
    Operation::returned(4, input, KvOutput::Cas(swapped), call, return_time)
}

pub fn indefinite_append(value: &str, call: u64) -> KvOperation {
    let input = KvInput::Append {
        key: "k".into(),
        value: value.into(),
    };
    Operation::indefinite(5, input, call)
}

pub fn indefinite_put(value: &str, call: u64) -> KvOperation {
    let input = KvInput::Put {
        key: "k".into(),
        value: value.into(),
    };
    Operation::indefinite(6, input, call)
}

/// Checks `operations` and asserts the verdict, which must also be the oracle's.
pub fn assert_verdict(operations: &[KvOperation], expected: Verdict) {
    let expected_linearizable = expected == Verdict::Ok;
    assert_eq!(
        brute::kv(operations),
        expected_linearizable,
        "the oracle disagrees with the test: {operations:#?}"
    );
    assert_eq!(
        check_kv(operations, &Options::default()).verdict,
        expected,
        "{operations:#?}"
    );
}
