//! A replica group's state machine through a migration: configurations one at a time, shards
//! pulled, installed, deleted at the previous owner, and what each mutant changes.

use kv::{Command, Op, OpResult, ReplyOutcome, StateMachine, Store};
use shardkv::{
    Config, GroupCommand, GroupOptions, GroupStateMachine, Mutant, MutantSet, ShardStatus, shard_of,
};

const SHARDS: usize = 4;

fn machine(group: u32, mutants: &[Mutant]) -> GroupStateMachine {
    GroupStateMachine::new(GroupOptions {
        group,
        shard_count: SHARDS,
        mutants: MutantSet::of(mutants.iter().copied()),
    })
}

fn apply(machine: &mut GroupStateMachine, command: GroupCommand) -> Option<ReplyOutcome> {
    let index = machine.applied_index() + 1;
    let answer = machine.apply_command(index, &command.encode());
    answer.map(|answer| answer.outcome)
}

/// A key of `shard`.
fn key_of(shard: usize) -> String {
    (0..)
        .map(|n| format!("k{n}"))
        .find(|key| shard_of(key, SHARDS) == shard)
        .expect("some key lands in every shard")
}

fn put(seq: u64, shard: usize, value: &str) -> GroupCommand {
    GroupCommand::Client(Command {
        client_id: 9,
        seq,
        op: Op::Put {
            key: key_of(shard),
            value: value.into(),
        },
    })
}

fn get(seq: u64, shard: usize) -> GroupCommand {
    GroupCommand::Client(Command {
        client_id: 9,
        seq,
        op: Op::Get { key: key_of(shard) },
    })
}

/// Configuration 1: g1 owns every shard; configuration 2: g2 joined and took half of them.
fn configs() -> (Config, Config) {
    let first = Config::initial(SHARDS).join(&[(1, vec![0, 1, 2])]);
    let second = first.join(&[(2, vec![3, 4, 5])]);
    (first, second)
}

fn moved(second: &Config) -> usize {
    second.shards_of(2)[0]
}

/// g1 in configuration 2, having written `v` to the shard it hands off.
fn old_owner(mutants: &[Mutant]) -> GroupStateMachine {
    let (first, second) = configs();
    let mut g1 = machine(1, mutants);
    apply(&mut g1, GroupCommand::Configure(first));
    apply(&mut g1, put(1, moved(&second), "v"));
    apply(&mut g1, GroupCommand::Configure(second));
    g1
}

/// g2 in configuration 2, pulling its shard.
fn new_owner(mutants: &[Mutant]) -> GroupStateMachine {
    let (first, second) = configs();
    let mut g2 = machine(2, mutants);
    apply(&mut g2, GroupCommand::Configure(first));
    apply(&mut g2, GroupCommand::Configure(second));
    g2
}

#[test]
fn a_shard_migrates_with_its_data_and_sessions_and_is_deleted_once_installed() {
    let (_, second) = configs();
    let shard = moved(&second);
    let mut g1 = old_owner(&[]);
    let mut g2 = new_owner(&[]);
    assert_eq!(g1.shard(shard).status, ShardStatus::HandingOff);
    assert_eq!(g2.shard(shard).status, ShardStatus::Pulling);
    // Neither serves the shard now; g1 keeps serving the others.
    assert_eq!(
        apply(&mut g1, get(2, shard)),
        Some(ReplyOutcome::WrongGroup)
    );
    assert_eq!(
        apply(&mut g2, get(2, shard)),
        Some(ReplyOutcome::WrongGroup)
    );
    assert_eq!(g1.served(), second.shards_of(1));
    assert!(!g1.is_settled());
    let handed = g1.hand_off(2, &[shard]).expect("frozen in configuration 2");
    assert_eq!(g1.hand_off(1, &[shard]), None, "configuration 1 is behind");
    apply(
        &mut g2,
        GroupCommand::Install {
            num: 2,
            shards: handed,
        },
    );
    assert_eq!(g2.shard(shard).status, ShardStatus::AwaitingDelete);
    // The retry of the write g1 applied is a duplicate at g2: its session came along.
    assert_eq!(
        apply(&mut g2, put(1, shard, "v")),
        Some(ReplyOutcome::Ok(OpResult::Written))
    );
    assert_eq!(g2.shard(shard).store.get(&key_of(shard)), "v");
    assert!(!g1.has_deleted(2, &[shard]));
    apply(
        &mut g1,
        GroupCommand::Delete {
            num: 2,
            shards: vec![shard],
        },
    );
    assert!(g1.has_deleted(2, &[shard]));
    assert_eq!(g1.shard(shard).store, Store::default());
    apply(
        &mut g2,
        GroupCommand::Deleted {
            num: 2,
            shards: vec![shard],
        },
    );
    assert_eq!(g2.shard(shard).status, ShardStatus::Serving);
    assert_eq!(g2.served(), vec![shard], "only the shard installed so far");
}

#[test]
fn configurations_apply_in_order_and_one_at_a_time() {
    let (first, second) = configs();
    let third = second.move_shard(moved(&second), 1);
    let mut g2 = machine(2, &[]);
    apply(&mut g2, GroupCommand::Configure(second.clone()));
    assert_eq!(g2.config().num, 0, "configuration 2 before 1 is ignored");
    apply(&mut g2, GroupCommand::Configure(first));
    apply(&mut g2, GroupCommand::Configure(second));
    apply(&mut g2, GroupCommand::Configure(third.clone()));
    assert_eq!(g2.config().num, 2, "3 waits for 2's migration");
    let mut early = new_owner(&[Mutant::ConfigBeforeMigration]);
    apply(&mut early, GroupCommand::Configure(third));
    assert_eq!(early.config().num, 3, "the mutant does not wait");
}

#[test]
fn each_mutant_breaks_its_rule() {
    let (_, second) = configs();
    let shard = moved(&second);
    // Serving a shard before its data arrived: a read of an empty store.
    let mut g2 = new_owner(&[Mutant::ServeBeforeInstall]);
    let read = apply(&mut g2, get(2, shard));
    assert_eq!(read, Some(ReplyOutcome::Ok(OpResult::Value(String::new()))));
    // Writing to a shard after handing it off.
    let mut g1 = old_owner(&[Mutant::WriteAfterHandoff]);
    let write = apply(&mut g1, put(2, shard, "late"));
    assert_eq!(write, Some(ReplyOutcome::Ok(OpResult::Written)));
    // Migrating without the sessions.
    let g1 = old_owner(&[Mutant::MigrateWithoutDedup]);
    let handed = g1.hand_off(2, &[shard]).expect("frozen");
    assert!(handed[0].1.sessions.is_empty() && !handed[0].1.data.is_empty());
    // A copy deleted before the receiver confirmed: sent again as an empty shard.
    let mut g1 = old_owner(&[Mutant::DeleteBeforeConfirm]);
    apply(
        &mut g1,
        GroupCommand::Delete {
            num: 2,
            shards: vec![shard],
        },
    );
    let resent = g1.hand_off(2, &[shard]).expect("sends what is left");
    assert_eq!(resent, vec![(shard, Store::default())]);
    assert_eq!(old_owner(&[]).hand_off(2, &[99]), None, "no such shard");
}

#[test]
fn snapshots_and_commands_round_trip() {
    let g1 = old_owner(&[]);
    let options = GroupOptions {
        group: 1,
        shard_count: SHARDS,
        mutants: MutantSet::default(),
    };
    let bytes = g1.snapshot();
    assert_eq!(
        GroupStateMachine::restore_snapshot(&bytes, options),
        Ok(g1.clone())
    );
    for length in 0..bytes.len() {
        assert!(GroupStateMachine::restore_snapshot(&bytes[..length], options).is_err());
    }
    let (_, second) = configs();
    let handed = g1.hand_off(2, &[moved(&second)]).expect("frozen");
    for command in [
        put(3, 1, "x"),
        GroupCommand::Configure(second),
        GroupCommand::Install {
            num: 2,
            shards: handed,
        },
        GroupCommand::Delete {
            num: 2,
            shards: vec![0, 3],
        },
        GroupCommand::Deleted {
            num: 2,
            shards: vec![1],
        },
    ] {
        let bytes = command.encode();
        assert_eq!(GroupCommand::decode(&bytes), Ok(command));
        assert!(GroupCommand::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
