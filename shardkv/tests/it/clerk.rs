//! The sharded clerk: it asks the controller when it knows no owner, sends to the owning group,
//! follows a wrong-group refusal to the controller and on to the new owner with the same
//! sequence number, and gives up at its deadline.

use kv::{ClerkConfig, ClientReply, Op, OpResult, ReplyOutcome, TimerToken};
use shardkv::{Clerk, ClerkAction, Config, CtrlOp, CtrlReply, Wire, shard_of};

const MS: u64 = 1_000_000;

fn clerk() -> Clerk {
    Clerk::new(20, vec![0, 3], 2, ClerkConfig::default())
}

/// The sends among `actions`, as (to, wire).
fn sends(actions: &[ClerkAction]) -> Vec<(u64, Wire)> {
    actions
        .iter()
        .filter_map(|action| match action {
            ClerkAction::Send { to, wire } => Some((*to, wire.clone())),
            _ => None,
        })
        .collect()
}

fn config_reply(seq: u64, config: Config) -> Wire {
    Wire::Controller(kv::Wire::Reply(ClientReply {
        client_id: 20,
        seq,
        outcome: ReplyOutcome::Ok(CtrlReply::Config(config)),
    }))
}

fn group_reply(group: u32, seq: u64, outcome: ReplyOutcome) -> Wire {
    Wire::Group {
        group,
        wire: kv::Wire::Reply(ClientReply {
            client_id: 20,
            seq,
            outcome,
        }),
    }
}

#[test]
fn a_wrong_group_sends_the_clerk_to_the_controller_then_to_the_new_owner() {
    let key = "k1".to_string();
    let shard = shard_of(&key, 2);
    let first = Config::initial(2).join(&[(1, vec![0, 1, 2]), (2, vec![3, 4, 5])]);
    let owner = first.owner(shard);
    let other = 3 - owner;
    let second = first.move_shard(shard, other);
    let mut clerk = clerk();
    let op = Op::Put {
        key,
        value: "v".into(),
    };
    // No configuration yet: the controller first.
    let actions = clerk.invoke(op, 0);
    let sent = sends(&actions);
    assert!(matches!(
        &sent[..],
        [(0, Wire::Controller(kv::Wire::Request(request)))] if request.op == CtrlOp::Query { num: None }
    ));
    let actions = clerk.on_message(0, config_reply(1, first.clone()), MS);
    let [
        (
            to,
            Wire::Group {
                group,
                wire: kv::Wire::Request(request),
            },
        ),
    ] = &sends(&actions)[..]
    else {
        panic!("no request to a group: {actions:?}");
    };
    assert_eq!((*group, *to), (owner, first.groups[&owner][0]));
    let seq = request.seq;
    // The owner says the shard moved: ask again, then go to the new owner, same seq.
    let actions = clerk.on_message(
        *to,
        group_reply(owner, seq, ReplyOutcome::WrongGroup),
        2 * MS,
    );
    assert!(matches!(&sends(&actions)[..], [(0, Wire::Controller(_))]));
    let actions = clerk.on_message(0, config_reply(2, second.clone()), 3 * MS);
    let [
        (
            to,
            Wire::Group {
                group,
                wire: kv::Wire::Request(retry),
            },
        ),
    ] = &sends(&actions)[..]
    else {
        panic!("no retry: {actions:?}");
    };
    assert_eq!((*group, retry.seq), (other, seq));
    let reply = group_reply(other, seq, ReplyOutcome::Ok(OpResult::Written));
    let actions = clerk.on_message(*to, reply, 4 * MS);
    assert!(
        matches!(&actions[..], [ClerkAction::Completed(record)] if record.result == Some(OpResult::Written))
    );
    assert!(clerk.is_idle());
    assert_eq!(clerk.known().num, second.num);
}

#[test]
fn past_its_deadline_an_operation_is_indefinite() {
    let mut clerk = clerk();
    let actions = clerk.invoke(Op::Get { key: "x".into() }, 0);
    let ClerkAction::SetTimer { token, delay_ns } = actions[0] else {
        panic!("the deadline comes first: {actions:?}");
    };
    let actions = clerk.on_timer(token, delay_ns);
    assert!(matches!(&actions[..], [ClerkAction::Completed(record)] if record.is_indefinite()));
    // A stray timer and a late reply change nothing.
    assert!(clerk.on_timer(TimerToken(99), delay_ns).is_empty());
    let late = group_reply(1, 1, ReplyOutcome::Ok(OpResult::Value(String::new())));
    assert!(clerk.on_message(0, late, delay_ns).is_empty());
}
