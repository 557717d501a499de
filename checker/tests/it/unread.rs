//! The merging of states that hold a written value nobody read (`Model::state_merge` of kv):
//! histories where dropping such a write, or taking "unread" to mean "never returned whole by a
//! read", would give the wrong verdict. Each verdict is also the brute-force oracle's.

use checker::{Options, Verdict};

use crate::small::{append, assert_verdict, cas, get, indefinite_append, indefinite_put, put};

#[test]
fn a_failed_swap_can_need_an_unread_indefinite_append() {
    // "x" is never read, yet the swap from "" failed only because the append happened.
    let mut operations = vec![indefinite_append("x", 0), cas("", "y", false, 1, 2)];
    assert_verdict(&operations, Verdict::Ok);
    // Control: without the append the swap must have succeeded.
    operations.remove(0);
    assert_verdict(&operations, Verdict::Illegal);
}

#[test]
fn a_failed_swap_can_need_an_unread_indefinite_put() {
    let operations = vec![
        put("a", 0, 1),
        get("a", 2, 3),
        indefinite_put("z", 4),
        cas("a", "b", false, 5, 6),
    ];
    assert_verdict(&operations, Verdict::Ok);
}

#[test]
fn tainted_states_still_fail_reads_and_overwrites_still_count() {
    // "p" is never read, but the put returned before the read: the read of "" is stale.
    assert_verdict(&[put("p", 0, 1), get("", 2, 3)], Verdict::Illegal);
    // An unread append on top of an unread put, then a read of a value without either.
    let operations = vec![
        put("p", 0, 1),
        append("q", 2, 3),
        get("a", 4, 5),
        put("a", 6, 7),
    ];
    assert_verdict(&operations, Verdict::Illegal);
}

#[test]
fn a_value_read_only_inside_a_longer_one_is_read() {
    // "b" is never a whole read output, only part of "ab": taking it as unread would merge
    // "ab" away and refute the read.
    let operations = vec![put("a", 0, 1), indefinite_append("b", 2), get("ab", 3, 4)];
    assert_verdict(&operations, Verdict::Ok);
    // The same with a swap that expects the longer value.
    let operations = vec![
        put("a", 0, 1),
        indefinite_append("b", 2),
        cas("ab", "c", true, 3, 4),
        get("c", 5, 6),
    ];
    assert_verdict(&operations, Verdict::Ok);
}

#[test]
fn a_read_value_can_contain_another_unread_write_by_coincidence() {
    // "x1" is written by an append nobody waited for and read only as part of "ax1", which the
    // put of "ax1" explains: it is still a substring of a read, so it is not merged.
    let operations = vec![
        indefinite_append("x1", 0),
        put("ax1", 1, 2),
        get("ax1", 3, 4),
        append("y", 5, 6),
        get("ax1y", 7, 8),
    ];
    assert_verdict(&operations, Verdict::Ok);
}

#[test]
fn seed_1_clients_50_unread_writes_check_in_few_steps() {
    // The first 30 operations of key k2 of `raftsim run --seed 1 --clients 50`: 22 indefinite
    // writes, most never read. Without merging, the search ran out of 20,000,000 steps on them
    // (and needed about 46,000,000 to finish); with it, about a hundred.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/kv-seed-1-clients-50-unread-writes.json"
    );
    let text = std::fs::read_to_string(path).expect("readable history");
    let history = checker::parse(&text, checker::Format::Json, None).expect("a kv history");
    let options = Options {
        steps_max: 10_000,
        ..Options::default()
    };
    assert_eq!(checker::check(&history, &options).verdict, Verdict::Ok);
}
