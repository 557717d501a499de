//! The clerk's retry protocol, driven by hand: which server each attempt goes to, that every
//! retry reuses the sequence number, which replies are ignored, and what lands in the history.

use expect_test::expect;
use kv::{
    ApplyOutcome, ClerkAction, ClerkConfig, ClientReply, ClientRequest, Command, HistoryRecord,
    KvStateMachine, Op, OpResult, ReplyOutcome, StateMachineConfig, TimerToken,
};

const MS: u64 = 1_000_000;
const SERVERS: [u64; 3] = [10, 11, 12];

fn config() -> ClerkConfig {
    ClerkConfig {
        request_timeout_ns: 100 * MS,
        op_deadline_ns: 1_000 * MS,
        retry_backoff_ns: 20 * MS,
        ..Default::default()
    }
}

fn clerk() -> kv::Clerk {
    kv::Clerk::new(7, SERVERS.to_vec(), config())
}

fn append(value: &str) -> Op {
    Op::Append {
        key: "x".into(),
        value: value.into(),
    }
}

/// The single send among `actions`, and the token of the attempt timer set with it.
fn sent(actions: &[ClerkAction]) -> (u64, ClientRequest, TimerToken) {
    let sends: Vec<_> = actions
        .iter()
        .filter_map(|action| match action {
            ClerkAction::Send { to, request } => Some((*to, request.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 1, "expected one send in {actions:?}");
    let timer = last_timer(actions, config().request_timeout_ns);
    let (to, request) = sends.into_iter().next().unwrap();
    (to, request, timer)
}

fn last_timer(actions: &[ClerkAction], delay: u64) -> TimerToken {
    actions
        .iter()
        .rev()
        .find_map(|action| match action {
            ClerkAction::SetTimer { token, delay_ns } if *delay_ns == delay => Some(*token),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no timer of {delay} ns in {actions:?}"))
}

/// The one completion among `actions`; everything else must be a timer cancelled.
fn completed(actions: &[ClerkAction]) -> HistoryRecord {
    let (completions, rest): (Vec<_>, Vec<_>) = actions
        .iter()
        .partition(|action| matches!(action, ClerkAction::Completed(_)));
    assert!(
        rest.iter()
            .all(|action| matches!(action, ClerkAction::CancelTimer { .. })),
        "only cancellations may come with a completion: {actions:?}"
    );
    match completions[..] {
        [ClerkAction::Completed(record)] => record.clone(),
        _ => panic!("expected exactly one completion, got {actions:?}"),
    }
}

fn reply(seq: u64, outcome: ReplyOutcome) -> ClientReply {
    ClientReply {
        client_id: 7,
        seq,
        outcome,
    }
}

fn ok(seq: u64) -> ClientReply {
    reply(seq, ReplyOutcome::Ok(OpResult::Written))
}

fn wrong_leader(seq: u64, leader_hint: Option<u64>) -> ClientReply {
    reply(seq, ReplyOutcome::WrongLeader { leader_hint })
}

#[test]
fn invoke_sends_to_the_leader_guess_and_sets_both_timers() {
    let mut clerk = clerk();
    let actions = clerk.invoke(append("a;"), 5);
    let (to, request, _) = sent(&actions);
    assert_eq!(to, 10);
    assert_eq!(
        request,
        ClientRequest {
            client_id: 7,
            seq: 1,
            op: append("a;")
        }
    );
    last_timer(&actions, config().op_deadline_ns);
    assert!(!clerk.is_idle());
    assert_eq!(clerk.pending_seq(), Some(1));
}

#[test]
fn request_timeout_retries_the_next_server_with_the_same_seq() {
    let mut clerk = clerk();
    let (_, first, timer) = sent(&clerk.invoke(append("a;"), 0));
    let (to, retry, timer) = sent(&clerk.on_timer(timer, 100 * MS));
    assert_eq!((to, &retry), (11, &first));
    let (to, retry, _) = sent(&clerk.on_timer(timer, 200 * MS));
    assert_eq!((to, retry), (12, first));
}

#[test]
fn wrong_leader_without_hint_goes_round_robin_with_the_same_seq() {
    let mut clerk = clerk();
    let (_, first, _) = sent(&clerk.invoke(append("a;"), 0));
    let (to, retry, _) = sent(&clerk.on_reply(10, wrong_leader(1, None), MS));
    assert_eq!((to, retry), (11, first));
}

#[test]
fn wrong_leader_hint_is_followed() {
    let mut clerk = clerk();
    sent(&clerk.invoke(append("a;"), 0));
    let (to, request, _) = sent(&clerk.on_reply(10, wrong_leader(1, Some(12)), MS));
    assert_eq!((to, request.seq), (12, 1));
    let record = completed(&clerk.on_reply(12, ok(1), 2 * MS));
    assert_eq!(record.return_ns, Some(2 * MS));
}

#[test]
fn hint_naming_the_replier_or_an_unknown_server_falls_back_to_round_robin() {
    let mut clerk = clerk();
    sent(&clerk.invoke(append("a;"), 0));
    let (to, _, _) = sent(&clerk.on_reply(10, wrong_leader(1, Some(10)), MS));
    assert_eq!(to, 11);
    let (to, _, _) = sent(&clerk.on_reply(11, wrong_leader(1, Some(99)), 2 * MS));
    assert_eq!(to, 12);
}

#[test]
fn remembers_the_leader_for_the_next_operation() {
    let mut clerk = clerk();
    sent(&clerk.invoke(append("a;"), 0));
    sent(&clerk.on_reply(10, wrong_leader(1, Some(12)), MS));
    completed(&clerk.on_reply(12, ok(1), 2 * MS));
    assert_eq!(clerk.leader_guess(), 12);
    let (to, request, _) = sent(&clerk.invoke(append("b;"), 3 * MS));
    assert_eq!((to, request.seq), (12, 2));
}

#[test]
fn stale_replies_are_ignored() {
    let mut clerk = clerk();
    let (_, _, timer) = sent(&clerk.invoke(append("a;"), 0));
    // Time out at 10 and move on to 11; 10's late refusal must not move the clerk again.
    let (to, _, _) = sent(&clerk.on_timer(timer, 100 * MS));
    assert_eq!(to, 11);
    assert_eq!(clerk.on_reply(10, wrong_leader(1, None), 101 * MS), vec![]);
    // An old seq and another client's timers are nothing either.
    assert_eq!(clerk.on_reply(11, ok(0), 102 * MS), vec![]);
    assert_eq!(clerk.on_timer(TimerToken(999), 103 * MS), vec![]);
    // 10's late success is a valid result of seq 1, whichever attempt it answers.
    let record = completed(&clerk.on_reply(10, ok(1), 104 * MS));
    assert_eq!((record.seq, record.result), (1, Some(OpResult::Written)));
    // After completion: a duplicate reply and the old timers are ignored.
    assert_eq!(clerk.on_reply(11, ok(1), 105 * MS), vec![]);
    assert_eq!(clerk.on_timer(timer, 106 * MS), vec![]);
    assert!(clerk.is_idle());
}

#[test]
fn deadline_records_indefinite_and_the_next_operation_gets_a_new_seq() {
    let mut clerk = clerk();
    let actions = clerk.invoke(append("a;"), 50 * MS);
    let deadline = last_timer(&actions, config().op_deadline_ns);
    let record = completed(&clerk.on_timer(deadline, 1_050 * MS));
    assert_eq!(
        record,
        HistoryRecord::indefinite(7, 1, append("a;"), 50 * MS)
    );
    assert!(record.is_indefinite());
    assert!(clerk.is_idle());
    // The next operation has seq 2; a late success for seq 1 changes nothing.
    let (_, request, _) = sent(&clerk.invoke(append("b;"), 1_100 * MS));
    assert_eq!(request.seq, 2);
    assert_eq!(clerk.on_reply(10, ok(1), 1_101 * MS), vec![]);
    assert_eq!(clerk.pending_seq(), Some(2));
}

#[test]
fn abandon_records_the_outstanding_operation_indefinite() {
    let mut clerk = clerk();
    assert_eq!(clerk.abandon(), None);
    sent(&clerk.invoke(append("a;"), 3));
    assert_eq!(
        clerk.abandon(),
        Some(HistoryRecord::indefinite(7, 1, append("a;"), 3))
    );
    assert!(clerk.is_idle());
}

#[test]
fn full_round_of_refusals_backs_off_before_retrying() {
    let mut clerk = clerk();
    sent(&clerk.invoke(append("a;"), 0));
    sent(&clerk.on_reply(10, wrong_leader(1, None), MS));
    sent(&clerk.on_reply(11, wrong_leader(1, None), 2 * MS));
    let actions = clerk.on_reply(12, wrong_leader(1, None), 3 * MS);
    let backoff = last_timer(&actions, config().retry_backoff_ns);
    assert!(
        !actions
            .iter()
            .any(|action| matches!(action, ClerkAction::Send { .. })),
        "no send while backing off: {actions:?}"
    );
    assert!(
        actions.contains(&ClerkAction::CancelTimer {
            token: TimerToken(3)
        }),
        "the refused attempt's timer is cancelled: {actions:?}"
    );
    // A refusal arriving during the backoff is from no attempt in flight.
    assert_eq!(clerk.on_reply(10, wrong_leader(1, None), 4 * MS), vec![]);
    let (to, request, _) = sent(&clerk.on_timer(backoff, 23 * MS));
    assert_eq!((to, request.seq), (10, 1));
}

#[test]
fn not_ready_retries_the_same_server_after_a_backoff() {
    let mut clerk = clerk();
    sent(&clerk.invoke(append("a;"), 0));
    let actions = clerk.on_reply(10, reply(1, ReplyOutcome::NotReady), MS);
    let backoff = last_timer(&actions, config().retry_backoff_ns);
    let (to, request, _) = sent(&clerk.on_timer(backoff, 21 * MS));
    assert_eq!((to, request.seq), (10, 1));
}

/// Golden trace of one operation through a leader change, as a server-less script.
#[test]
fn trace_through_a_leader_change() {
    let mut clerk = clerk();
    let mut trace = String::new();
    let mut log = |label: &str, actions: Vec<ClerkAction>| {
        trace.push_str(&format!("{label}\n"));
        for action in actions {
            let line = match action {
                ClerkAction::Send { to, request } => {
                    format!("send to={to} seq={} {}", request.seq, request.op)
                }
                ClerkAction::SetTimer { token, delay_ns } => {
                    format!("timer {} in {} ms", token.0, delay_ns / MS)
                }
                ClerkAction::CancelTimer { token } => format!("cancel timer {}", token.0),
                ClerkAction::Completed(record) => format!(
                    "completed seq={} call={} return={:?} result={:?}",
                    record.seq, record.call_ns, record.return_ns, record.result
                ),
            };
            trace.push_str(&format!("  {line}\n"));
        }
    };
    log("invoke", clerk.invoke(append("a;"), 0));
    log("timer 1 fires", clerk.on_timer(TimerToken(1), 100 * MS));
    log(
        "11 says 12 leads",
        clerk.on_reply(11, wrong_leader(1, Some(12)), 101 * MS),
    );
    log("12 answers", clerk.on_reply(12, ok(1), 110 * MS));
    log(
        "invoke",
        clerk.invoke(Op::Get { key: "x".into() }, 120 * MS),
    );
    expect![[r#"
        invoke
          timer 0 in 1000 ms
          send to=10 seq=1 append("x", "a;")
          timer 1 in 100 ms
        timer 1 fires
          send to=11 seq=1 append("x", "a;")
          timer 2 in 100 ms
        11 says 12 leads
          cancel timer 2
          send to=12 seq=1 append("x", "a;")
          timer 3 in 100 ms
        12 answers
          cancel timer 3
          cancel timer 0
          completed seq=1 call=0 return=Some(110000000) result=Some(Written)
        invoke
          timer 4 in 1000 ms
          send to=12 seq=2 get("x")
          timer 5 in 100 ms
    "#]]
    .assert_eq(&trace);
}

/// A three-replica service in miniature: every request the clerk sends is "committed" to one
/// shared log and applied by the replicated state machine; the first reply is lost, so the clerk
/// times out and retries elsewhere, and the retry is committed a second time.
fn lost_reply_run(
    config: StateMachineConfig,
) -> (KvStateMachine, Vec<ApplyOutcome>, HistoryRecord) {
    let mut machine = KvStateMachine::with_config(config);
    let mut outcomes = Vec::new();
    let mut clerk = clerk();
    let mut commit = |request: &ClientRequest| {
        let command = Command {
            client_id: request.client_id,
            seq: request.seq,
            op: request.op.clone(),
        };
        let index = machine.applied_index() + 1;
        let outcome = machine.apply(index, &command);
        outcomes.push(outcome.clone());
        outcome
    };
    let (_, request, timer) = sent(&clerk.invoke(append("a;"), 0));
    commit(&request); // applied, but the reply is lost
    let (to, retry, _) = sent(&clerk.on_timer(timer, 100 * MS));
    let outcome = commit(&retry);
    let result = outcome
        .result()
        .cloned()
        .expect("a retry of the last seq has a reply");
    let record =
        completed(&clerk.on_reply(to, reply(retry.seq, ReplyOutcome::Ok(result)), 120 * MS));
    (machine, outcomes, record)
}

#[test]
fn retried_write_through_the_clerk_is_applied_once() {
    let (machine, outcomes, record) = lost_reply_run(StateMachineConfig::default());
    assert_eq!(
        outcomes,
        vec![
            ApplyOutcome::Applied(OpResult::Written),
            ApplyOutcome::Duplicate(OpResult::Written)
        ]
    );
    assert_eq!(machine.get("x"), "a;");
    assert_eq!(record.result, Some(OpResult::Written));
}

#[test]
fn retried_write_through_the_clerk_is_applied_twice_with_no_dedup() {
    let (machine, outcomes, _) = lost_reply_run(StateMachineConfig { no_dedup: true });
    assert_eq!(outcomes, vec![ApplyOutcome::Applied(OpResult::Written); 2]);
    assert_eq!(machine.get("x"), "a;a;");
}
