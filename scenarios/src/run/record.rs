//! Filling a `reports::RunRecord` from a run (when `RunOptions::record` asks for it): role and
//! term changes seen by the harness, fault intervals paired from the schedule, every message
//! from the simulator's opt-in recorder, the client history with the checker's linearization,
//! the violation explained in words, and the servers' state at the end.

use std::collections::BTreeMap;

use checker::{CheckResult, Model};
use engine::Engine;
use raft::Role;
use reports::{
    CheckRecord, FaultBand, FaultKind, MessageFate, Operation, PartitionSummary, RunRecord,
    ScheduledFault, ServerState, ViolationRecord,
};
use sim::NodeId;

use super::RunOutcome;
use crate::config::{Mutant, Property, RunConfig, Violation};
use crate::harness::nodes::NetMessage;
use crate::harness::{Fault, FaultSchedule, RoleChange, ShardChange};

/// Log entries listed per server in the final-state table.
const LOG_TAIL_ENTRIES: u64 = 8;

fn report_role(role: Option<Role>) -> reports::Role {
    match role {
        None => reports::Role::Down,
        Some(Role::Follower) => reports::Role::Follower,
        Some(Role::PreCandidate) => reports::Role::PreCandidate,
        Some(Role::Candidate) => reports::Role::Candidate,
        Some(Role::Leader) => reports::Role::Leader,
    }
}

/// The simulator's label of a message: its text (`kv::Wire`'s or `shardkv::Wire`'s one
/// `Display`).
pub fn describe_wire(message: &NetMessage) -> String {
    message.to_string()
}

/// The server's state (its replica group's, on a multi-raft server) for the final table.
pub fn server_state<S: kv::StateMachine, E: Engine>(
    node: NodeId,
    server: &kv::Server<S, E>,
) -> ServerState {
    let raft = server.raft();
    let last_index = raft.last_index();
    let first = last_index.saturating_sub(LOG_TAIL_ENTRIES - 1).max(1);
    let log_tail = (first..=last_index)
        .filter_map(|index| raft.term_at(index).map(|term| (index, term)))
        .collect();
    ServerState {
        node,
        role: report_role(Some(raft.role())),
        term: raft.term(),
        commit_index: raft.commit_index(),
        last_index,
        applied_index: server.state_machine().applied_index(),
        log_tail,
    }
}

/// What the harness hands over when the run is over.
pub struct Finished {
    pub roles: Vec<RoleChange>,
    pub messages: Vec<sim::MessageEvent>,
    pub messages_not_kept: u64,
    pub servers_at_end: Vec<ServerState>,
    /// The checker's result, when the run got as far as checking the history.
    pub check: Option<CheckResult>,
    /// The command that reproduces the run, when the caller knows it.
    pub command: Option<String>,
    /// The sharded service's groups and the shards they served over time.
    pub shards: Option<reports::ShardRecord>,
}

/// The sharded service's groups on servers, and `changes` of the shards they served.
pub fn shard_record(layout: &shardkv::Layout, changes: Vec<ShardChange>) -> reports::ShardRecord {
    let nodes = |addresses: &[u64]| addresses.iter().map(|&a| a as NodeId).collect();
    reports::ShardRecord {
        shard_count: layout.shard_count,
        groups: layout
            .groups
            .iter()
            .enumerate()
            .map(|(index, servers)| reports::GroupRecord {
                name: format!("g{}", index + 1),
                servers: nodes(servers),
            })
            .collect(),
        controller: nodes(&layout.controller),
        serving: changes
            .into_iter()
            .map(|change| reports::ShardServing {
                time_ns: change.time_ns,
                group: change.group as usize - 1,
                shards: change.served,
            })
            .collect(),
    }
}

pub fn build(outcome: &RunOutcome, finished: Finished) -> RunRecord {
    let config = &outcome.config;
    let end_ns = outcome.simulated_ns;
    let history = outcome.checker_history();
    let check = finished.check.or_else(|| {
        // Stopped by an oracle: check what history there is, for the picture.
        let options = checker::Options {
            steps_max: config.checker_steps_max,
            minimize: true,
            ..checker::Options::default()
        };
        (!history.is_empty()).then(|| checker::check(&history, &options))
    });
    let operations = operations(outcome, &history, check.as_ref());
    let check_record = check.as_ref().map(|result| check_record(&history, result));
    let names = config.sim_config().names;
    let mut record = RunRecord {
        seed: config.seed,
        command: finished.command.unwrap_or_default(),
        config: config_pairs(config),
        servers: config.servers as u32,
        clients: config.clients as u32,
        names: (0..(config.servers + config.clients) as NodeId)
            .map(|id| names.of(id).to_string())
            .collect(),
        safety_end_ns: config.duration_ns.min(end_ns),
        end_ns,
        schedule: outcome
            .faults
            .faults()
            .iter()
            .map(|fault| ScheduledFault {
                at_ns: fault.at_ns,
                action: fault.action.to_string(),
            })
            .collect(),
        faults: fault_bands(
            &outcome.faults,
            config.servers as NodeId,
            config.duration_ns.min(end_ns),
        ),
        roles: finished
            .roles
            .into_iter()
            .map(|change| reports::RoleChange {
                time_ns: change.time_ns,
                node: change.node,
                role: report_role(change.role),
                term: change.term,
            })
            .collect(),
        messages: finished.messages.into_iter().map(message).collect(),
        messages_not_kept: finished.messages_not_kept,
        operations,
        check: check_record,
        violation: None,
        servers_at_end: finished.servers_at_end,
        stats: stats(outcome),
        trace_hash: format!("{:016x}", outcome.trace_hash),
        shards: finished.shards,
    };
    record.violation = outcome
        .violation
        .as_ref()
        .map(|violation| violation_record(violation, &record, config));
    record
}

fn config_pairs(config: &RunConfig) -> Vec<(String, String)> {
    let ms = |ns: u64| format!("{} ms", ns / sim::NANOS_PER_MILLI);
    let mutants: Vec<String> = config
        .mutants
        .iter()
        .map(|m: &Mutant| format!("{} ({})", m.name(), m.description()))
        .collect();
    vec![
        ("servers".into(), config.servers.to_string()),
        ("clients".into(), config.clients.to_string()),
        ("safety phase".into(), ms(config.duration_ns)),
        ("liveness bound".into(), ms(config.liveness_bound_ns)),
        ("read mode".into(), config.read_mode.to_string()),
        (
            "snapshot threshold".into(),
            format!("{} entries", config.snapshot_threshold_entries),
        ),
        ("keys".into(), config.keys.to_string()),
        ("operation mix".into(), config.mix.to_string()),
        (
            "election timeout".into(),
            format!("{} ticks of {}", config.election_tick, ms(config.tick_ns)),
        ),
        (
            "heartbeat".into(),
            format!("{} ticks of {}", config.heartbeat_tick, ms(config.tick_ns)),
        ),
        (
            "latency".into(),
            format!(
                "{}..{}",
                ms(config.link.latency_ns_min),
                ms(config.link.latency_ns_max)
            ),
        ),
        ("faults drawn".into(), config.faults.count.to_string()),
        (
            "mutants".into(),
            if mutants.is_empty() {
                "none".into()
            } else {
                mutants.join("; ")
            },
        ),
    ]
}

fn stats(outcome: &RunOutcome) -> Vec<(String, u64)> {
    let s = &outcome.stats;
    vec![
        ("events".into(), s.events),
        ("messages sent".into(), s.messages_sent),
        ("delivered".into(), s.messages_delivered),
        ("dropped".into(), s.messages_dropped),
        ("duplicated".into(), s.messages_duplicated),
        ("timers fired".into(), s.timers_fired),
        ("disk syncs".into(), s.syncs),
        ("crashes".into(), s.crashes),
        ("restarts".into(), s.restarts),
        ("writes lost".into(), s.writes_lost),
        (
            "operations completed".into(),
            outcome.operations_completed as u64,
        ),
        (
            "operations indefinite".into(),
            outcome.operations_indefinite as u64,
        ),
    ]
}

fn message(event: sim::MessageEvent) -> reports::Message {
    let (kind, detail) = match event.label.split_once(' ') {
        Some((kind, detail)) => (kind.to_string(), detail.to_string()),
        None => (event.label.clone(), String::new()),
    };
    let (fate, drop_reason) = match event.fate {
        sim::MessageFate::InFlight => (MessageFate::InFlight, None),
        sim::MessageFate::Delivered { at_ns } => (MessageFate::Delivered { at_ns }, None),
        sim::MessageFate::Dropped { at_ns, reason } => (
            MessageFate::Dropped { at_ns },
            Some(reason.name().to_string()),
        ),
    };
    reports::Message {
        from: event.from,
        to: event.to,
        sent_ns: event.sent_ns,
        kind,
        detail,
        duplicate: event.duplicate,
        fate,
        drop_reason,
    }
}

/// Pairs each fault with what undoes it, following the simulator's semantics: a partition
/// replaces the previous one, `heal` ends partitions and cuts, loss settings replace each other.
/// Whatever is still in force at `healed_ns` ends there (the liveness phase heals everything).
pub fn fault_bands(schedule: &FaultSchedule, servers: NodeId, healed_ns: u64) -> Vec<FaultBand> {
    let mut bands = Vec::new();
    let mut partition: Option<FaultBand> = None;
    let mut loss: Option<FaultBand> = None;
    let mut per_node: BTreeMap<(u8, NodeId, NodeId), FaultBand> = BTreeMap::new();
    let open = |kind, start_ns, nodes: Vec<NodeId>, label: String| FaultBand {
        kind,
        start_ns,
        end_ns: start_ns,
        nodes,
        label,
    };
    let close = |bands: &mut Vec<FaultBand>, band: Option<FaultBand>, at: u64| {
        if let Some(mut band) = band {
            band.end_ns = at;
            bands.push(band);
        }
    };
    for fault in schedule.faults().iter().filter(|f| f.at_ns <= healed_ns) {
        let at = fault.at_ns;
        let label = fault.action.to_string();
        match fault.action {
            Fault::Partition { ref groups } => {
                close(&mut bands, partition.take(), at);
                let majority = servers as usize / 2 + 1;
                let cut_off: Vec<NodeId> = groups
                    .iter()
                    .filter(|g| g.iter().filter(|&&n| n < servers).count() < majority)
                    .flatten()
                    .copied()
                    .filter(|&n| n < servers)
                    .collect();
                partition = Some(open(FaultKind::Partition, at, cut_off, label));
            }
            Fault::Heal => {
                close(&mut bands, partition.take(), at);
                // Heal ends cuts (kind 0) and holds (kind 4).
                let cuts: Vec<_> = per_node
                    .keys()
                    .filter(|k| k.0 == 0 || k.0 == 4)
                    .copied()
                    .collect();
                for key in cuts {
                    close(&mut bands, per_node.remove(&key), at);
                }
            }
            Fault::CutLink { from, to } => {
                per_node
                    .entry((0, from, to))
                    .or_insert_with(|| open(FaultKind::Cut, at, vec![from], label));
            }
            Fault::RestoreLink { from, to } => {
                close(&mut bands, per_node.remove(&(0, from, to)), at);
            }
            Fault::HoldLink { from, to } => {
                per_node
                    .entry((4, from, to))
                    .or_insert_with(|| open(FaultKind::Cut, at, vec![to], label));
            }
            Fault::ReleaseLink { from, to } => {
                close(&mut bands, per_node.remove(&(4, from, to)), at);
            }
            Fault::Crash { node } => {
                per_node
                    .entry((1, node, 0))
                    .or_insert_with(|| open(FaultKind::Crash, at, vec![node], label));
            }
            Fault::Restart { node } => close(&mut bands, per_node.remove(&(1, node, 0)), at),
            Fault::Pause { node } => {
                per_node
                    .entry((2, node, 0))
                    .or_insert_with(|| open(FaultKind::Pause, at, vec![node], label));
            }
            Fault::Resume { node } => close(&mut bands, per_node.remove(&(2, node, 0)), at),
            Fault::ClockRate { node, rate } => {
                close(&mut bands, per_node.remove(&(3, node, 0)), at);
                if rate != 1.0 {
                    per_node.insert((3, node, 0), open(FaultKind::Clock, at, vec![node], label));
                }
            }
            Fault::ClockJump { node, .. } | Fault::Admin { node, .. } => {
                let kind = if matches!(fault.action, Fault::Admin { .. }) {
                    FaultKind::Admin
                } else {
                    FaultKind::Clock
                };
                let mut band = open(kind, at, vec![node], label);
                band.end_ns = at + sim::NANOS_PER_MILLI;
                bands.push(band);
            }
            Fault::LinkLoss {
                drop_probability,
                duplicate_probability,
                ..
            } => {
                close(&mut bands, loss.take(), at);
                if drop_probability > 0.0 || duplicate_probability > 0.0 {
                    loss = Some(open(FaultKind::LinkLoss, at, Vec::new(), label));
                }
            }
        }
    }
    close(&mut bands, partition, healed_ns);
    close(&mut bands, loss, healed_ns);
    for band in per_node.into_values() {
        close(&mut bands, Some(band), healed_ns);
    }
    bands.sort_by_key(|band| (band.start_ns, band.end_ns));
    bands
}

fn operations(
    outcome: &RunOutcome,
    history: &checker::History,
    check: Option<&CheckResult>,
) -> Vec<Operation> {
    let checker::History::Kv(checked) = history else {
        unreachable!("runs record KV histories");
    };
    let mut operations: Vec<Operation> = outcome
        .history
        .iter()
        .zip(checked)
        .map(|(record, operation)| Operation {
            client: record.client_id as NodeId,
            seq: record.seq,
            text: checker::KvModel.describe_operation(operation),
            call_ns: record.call_ns,
            return_ns: record.return_ns,
            partition: 0,
            order: None,
            stuck: false,
            witness: false,
        })
        .collect();
    let Some(check) = check else {
        return operations;
    };
    for (partition_index, partition) in checker::KvModel.partition(checked).iter().enumerate() {
        for &index in &partition.operations {
            operations[index].partition = partition_index;
        }
    }
    for partition in &check.partitions {
        for (position, &index) in partition.linearization.iter().enumerate() {
            operations[index].order = Some(position + 1);
        }
        if let Some(counterexample) = &partition.counterexample {
            operations[counterexample.stuck].stuck = true;
            for &index in &counterexample.minimized {
                operations[index].witness = true;
            }
        }
    }
    operations
}

fn check_record(history: &checker::History, result: &CheckResult) -> CheckRecord {
    CheckRecord {
        verdict: result.verdict.name().to_string(),
        partitions: result
            .partitions
            .iter()
            .map(|p| PartitionSummary {
                label: p.label.clone(),
                verdict: p.verdict.name().to_string(),
                operations: p.operation_count,
                state_after_prefix: p
                    .counterexample
                    .as_ref()
                    .map(|c| c.state_after_prefix.clone()),
            })
            .collect(),
        text: checker::report::render(history, result),
    }
}

fn names(nodes: &[NodeId]) -> String {
    let names: Vec<String> = nodes
        .iter()
        .map(|&n| sim::names::server(n).to_string())
        .collect();
    match names.len() {
        0 => "no server".to_string(),
        1 => names[0].clone(),
        _ => format!(
            "{} and {}",
            names[..names.len() - 1].join(", "),
            names[names.len() - 1]
        ),
    }
}

fn violation_record(
    violation: &Violation,
    record: &RunRecord,
    config: &RunConfig,
) -> ViolationRecord {
    let term = violation.term.map_or("?".to_string(), |t| t.to_string());
    let index = violation.index.map_or("?".to_string(), |i| i.to_string());
    let nodes = names(&violation.nodes);
    let mut explanation = Vec::new();
    let (rule, instance) = match violation.property {
        Property::ElectionSafety => (
            "Election safety: at most one server may become leader in a given term.".to_string(),
            format!("Here {nodes} were both leader of term {term}."),
        ),
        Property::LogMatching => (
            "Log matching: two logs that hold an entry with the same index and term must hold the same entry there, and agree on everything before it.".to_string(),
            format!("Here the entry at index {index}, term {term} differs between {nodes}."),
        ),
        Property::LeaderCompleteness => (
            "Leader completeness: a server elected leader must already hold every entry committed in earlier terms; otherwise it may overwrite them.".to_string(),
            format!("Here {nodes} became leader of term {term} without the committed entry at index {index}."),
        ),
        Property::StateMachineSafety => (
            "State-machine safety: once a server has applied an entry at some index, no server may apply a different entry at that index.".to_string(),
            format!("Here {nodes} applied different entries at index {index}."),
        ),
        Property::CommitMonotonic => (
            "A server's commit index never goes back while it runs.".to_string(),
            format!("Here the commit index of {nodes} went back, to {index} in term {term}."),
        ),
        Property::Durability => (
            "Durability: a write acknowledged to a client must be the entry applied at its index by every server.".to_string(),
            format!("Here {nodes} applied something else at index {index}, where a write acknowledged in term {term} was."),
        ),
        Property::CommittedOverwrite => (
            "A server never replaces an entry it knew committed: committed entries are in every future leader's log, so nothing may overwrite them.".to_string(),
            format!("Here {nodes} overwrote index {index} with an entry of term {term}."),
        ),
        Property::ReplicaDivergence => (
            "Servers that applied the same log hold the same state: applying the same commands in the same order is deterministic.".to_string(),
            format!("Here {nodes} applied up to index {index} yet hold different states."),
        ),
        Property::Availability => (
            "Availability: while nothing fails, a healthy leader keeps leading; PreVote keeps a rejoining or lagging server from raising the term, CheckQuorum keeps followers from electing while the leader is heard.".to_string(),
            format!("Here {nodes} took over in term {term} though nothing had failed."),
        ),
        Property::Liveness => (
            format!(
                "Liveness: after every fault is healed, the cluster must elect a leader, finish every outstanding client operation and bring all logs level within {} ms.",
                config.liveness_bound_ns / sim::NANOS_PER_MILLI
            ),
            "It did not; the servers' state at the end is in the table below.".to_string(),
        ),
        Property::Linearizability => (
            "Linearizability: every client operation must appear to take effect at one instant between its call and its return, in an order that the key-value store's sequential behaviour explains.".to_string(),
            linearizability_instance(record),
        ),
        Property::CheckerUnknown => (
            "The linearizability checker ran out of its search budget before reaching a verdict; the CI gate treats that as a failure.".to_string(),
            String::new(),
        ),
        Property::Nondeterminism => (
            "Determinism: two runs of one seed must process the same events in the same order and end with the same trace hash.".to_string(),
            String::new(),
        ),
        Property::RunError => (
            "The run's configuration could not be started.".to_string(),
            String::new(),
        ),
        Property::Panic => (
            "The code under test panicked: one of its own assertions failed, which stops the server as a crash in production would.".to_string(),
            String::new(),
        ),
    };
    explanation.push(rule);
    if !instance.is_empty() {
        explanation.push(instance);
    }
    explanation.push(format!(
        "Detected at {} by {}: {}",
        reports::ms(violation.time_ns),
        if violation.property.is_online() {
            "the online oracle"
        } else if matches!(
            violation.property,
            Property::Linearizability | Property::CheckerUnknown
        ) {
            "the checker after the run"
        } else {
            "the harness"
        },
        violation.message
    ));
    if let Some(leader) = leader_before(record, violation.time_ns) {
        explanation.push(leader);
    }
    for mutant in &config.mutants {
        explanation.push(format!(
            "Planted bug switched on: {} ({}).",
            mutant.name(),
            mutant.description()
        ));
    }
    ViolationRecord {
        property: violation.property.name().to_string(),
        nodes: violation.nodes.clone(),
        term: violation.term,
        index: violation.index,
        time_ns: violation.time_ns,
        message: violation.message.clone(),
        explanation,
    }
}

fn linearizability_instance(record: &RunRecord) -> String {
    let Some(stuck) = record.operations.iter().find(|op| op.stuck) else {
        return String::new();
    };
    let partition = record
        .check
        .as_ref()
        .and_then(|check| check.partitions.get(stuck.partition));
    let (label, state) = partition.map_or(("the history".to_string(), "?".to_string()), |p| {
        (
            p.label.clone(),
            p.state_after_prefix.clone().unwrap_or_else(|| "?".into()),
        )
    });
    let prefix = record
        .operations
        .iter()
        .filter(|op| op.partition == stuck.partition && op.order.is_some())
        .count();
    let witness = record
        .operations
        .iter()
        .filter(|op| op.witness && op.partition == stuck.partition)
        .count();
    format!(
        "Here no such order exists for {label}: the checker placed {prefix} operations (value then {state}) and could not place {}'s {} called at {}{}. {witness} operations together already admit no order (outlined in the history below).",
        record.node_name(stuck.client),
        stuck.text,
        reports::ms(stuck.call_ns),
        stuck.return_ns.map_or(String::new(), |r| format!(
            " and answered at {}",
            reports::ms(r)
        )),
    )
}

/// "At that moment n2 was leader of term 4 (elected at ...)."
fn leader_before(record: &RunRecord, time_ns: u64) -> Option<String> {
    let change = record
        .roles
        .iter()
        .filter(|c| c.time_ns <= time_ns && c.role == reports::Role::Leader)
        .max_by_key(|c| (c.term, c.time_ns))?;
    Some(format!(
        "The newest leader by then was {} of term {}, elected at {}.",
        record.node_name(change.node),
        change.term,
        reports::ms(change.time_ns)
    ))
}
