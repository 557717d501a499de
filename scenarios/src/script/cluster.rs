//! The cluster-script runner: the harness's cluster (built by the same factory as seeded runs,
//! judged by the same observe step and oracles), driven line by line. Every message is held
//! by the simulator and handed back here: it is delivered one `latency` after it was sent
//! unless a `block` rule matches, in which case it waits for `deliver` or `drop`. The clients'
//! history is checked for linearizability at `check-history` and at the end. Violations do not
//! stop the script: each property's first violation is recorded with the line that found it.

use std::collections::BTreeMap;

use kv::persist::{HARDSTATE_FILE, LOG_FILE, encode_entry, encode_hard_state};
use kv::server::raft_id;
use kv::{ClerkConfig, Command as KvCommand, OpResult, ServerConfig, WorkloadConfig};
use raft::{Entry, EntryKind, HardState, MemStorage, RawNode, Role};
use sim::text::format_time;
use sim::{NodeId, SimConfig};

use super::parse::{ClusterSettings, Command, Expectation, Line, ReplyExpect};
use super::syntax::{Filter, NodeList, describe_message};
use super::{Script, ScriptError, ScriptOptions, ScriptOutcome};
use crate::config::{Mutant, Property, Violation, raft_mutants, state_machine_config};
use crate::engines::{AnyEngine, EngineChoice};
use crate::harness::history;
use crate::harness::nodes::ClusterNode;
use crate::harness::{Cluster, ClusterSpec, Observed, ServerSpecs};

/// Bound on events one `run` may process: a script that livelocks fails instead of hanging.
const EVENTS_PER_ADVANCE_MAX: u64 = 5_000_000;
/// A script runs at most this long in virtual time.
const SCRIPT_TIME_NS_MAX: u64 = 3_600 * sim::NANOS_PER_SEC;
/// Held messages listed one by one under a `deliver` or `drop`.
const MESSAGES_LISTED_MAX: usize = 8;
/// The checker's budget for a script's history.
const CHECKER_STEPS_MAX: u64 = 20_000_000;

/// The log and hard state a server boots from.
#[derive(Clone, Debug, Default)]
struct Preload {
    terms: Option<Vec<u64>>,
    term: Option<u64>,
    vote: Option<NodeId>,
    commit: Option<u64>,
}

pub fn run(script: &Script, options: &ScriptOptions) -> Result<ScriptOutcome, ScriptError> {
    let first = &script.lines[0];
    let Command::Cluster(settings) = &first.command else {
        unreachable!("the parser requires `cluster` first")
    };
    let mut settings = settings.as_ref().clone();
    for &mutant in &options.mutants {
        if !settings.mutants.contains(&mutant) {
            settings.mutants.push(mutant);
        }
    }
    if let Some(mutant) = settings
        .mutants
        .iter()
        .find(|m| matches!(m, Mutant::Shard(_)))
    {
        let message = format!(
            "mutant {mutant} needs the sharded service; cluster scripts run the KV service \
             (a seeded-run script with `run-config service=sharded` runs the sharded one)"
        );
        return Err(ScriptError::new(first.number, message));
    }
    let mut preloads = vec![Preload::default(); settings.servers as usize];
    let mut runner: Option<Runner> = None;
    for line in &script.lines[1..] {
        if line.condition.is_some_and(|c| !c.holds(&settings.mutants)) {
            continue;
        }
        match &line.command {
            Command::Log { nodes, terms } => {
                for address in nodes.servers(settings.servers) {
                    preloads[address as usize].terms = Some(terms.clone());
                }
            }
            Command::HardState {
                nodes,
                term,
                vote,
                commit,
            } => {
                for address in nodes.servers(settings.servers) {
                    let preload = &mut preloads[address as usize];
                    preload.term = term.or(preload.term);
                    preload.vote = vote.or(preload.vote);
                    preload.commit = commit.or(preload.commit);
                }
            }
            _ => {
                let runner = match &mut runner {
                    Some(runner) => runner,
                    None => runner.insert(Runner::boot(&settings, &preloads, first.number)?),
                };
                runner.line = line.number;
                runner.execute(line)?;
            }
        }
    }
    let mut runner = match runner {
        Some(runner) => runner,
        None => Runner::boot(&settings, &preloads, first.number)?,
    };
    runner.line = script.lines.last().map_or(first.number, |l| l.number);
    runner.check_history(true);
    runner.flush_found();
    runner.finish_expectations();
    Ok(runner.outcome)
}

struct Runner {
    settings: ClusterSettings,
    cluster: Cluster,
    blocks: Vec<Filter>,
    /// Every message sent so far (for `expect count`).
    seen: Vec<(NodeId, NodeId, kv::Wire)>,
    next_unseen_id: u64,
    /// When each held message was sent.
    sent_ns: BTreeMap<u64, u64>,
    /// Next sequence number of a `propose`d command.
    next_propose_seq: u64,
    /// Lines of `expect violation` that ran, with their property.
    expected_violations: Vec<(usize, Property)>,
    line: usize,
    /// What the current line found (violations, failed expectations), for its output.
    found: Vec<String>,
    outcome: ScriptOutcome,
}

impl Runner {
    fn boot(
        settings: &ClusterSettings,
        preloads: &[Preload],
        line: usize,
    ) -> Result<Runner, ScriptError> {
        for (address, preload) in preloads.iter().enumerate() {
            check_preload(preload).map_err(|e| {
                ScriptError::new(
                    line,
                    format!("{}: {e}", sim::names::server(address as NodeId)),
                )
            })?;
        }
        let cluster = Cluster::new(cluster_spec(settings))
            .map_err(|e| ScriptError::new(line, e.to_string()))?;
        let mut runner = Runner {
            settings: settings.clone(),
            cluster,
            blocks: Vec::new(),
            seen: Vec::new(),
            next_unseen_id: 0,
            sent_ns: BTreeMap::new(),
            next_propose_seq: 1,
            expected_violations: Vec::new(),
            line,
            found: Vec::new(),
            outcome: ScriptOutcome::default(),
        };
        runner.cluster.sim.set_hold_messages(true);
        for (address, preload) in preloads.iter().enumerate() {
            write_preload(&mut runner.cluster, address as NodeId, preload);
        }
        runner.advance(0);
        let state = runner.state();
        runner.outcome.push_output(line, format!("boot {state}"));
        runner.flush_found();
        Ok(runner)
    }

    fn servers(&self) -> NodeId {
        self.cluster.servers()
    }

    // ----- the event loop -----

    /// Processes every event up to `until`, delivering unblocked messages one latency after
    /// they were sent.
    fn advance(&mut self, until: u64) {
        let mut events = 0u64;
        loop {
            let next_release = self.pump();
            let next_event = self.cluster.sim.peek_time_ns();
            if let Some(release) = next_release
                && release <= until
                && next_event.is_none_or(|t| release < t)
            {
                self.cluster.sim.run_until(release);
                continue;
            }
            match next_event {
                Some(t) if t <= until => {
                    events += 1;
                    if events > EVENTS_PER_ADVANCE_MAX {
                        // A livelock: a failed expectation; skip to `until`.
                        let failure = format!(
                            "more than {EVENTS_PER_ADVANCE_MAX} events before {}",
                            format_time(until)
                        );
                        self.fail(failure);
                        break;
                    }
                    if let Some(result) = self.cluster.step() {
                        self.note(result);
                    }
                }
                _ => break,
            }
        }
        self.cluster.sim.run_until(until);
    }

    /// Records newly sent messages and releases those no block rule holds and whose latency
    /// has passed. Returns when the next unblocked message is due.
    fn pump(&mut self) -> Option<u64> {
        let (servers, now) = (self.servers(), self.cluster.sim.now_ns());
        let mut release = Vec::new();
        let mut next_due: Option<u64> = None;
        for held in self.cluster.sim.held_messages() {
            if held.id >= self.next_unseen_id {
                self.seen
                    .push((held.from, held.to, held.message.kv().clone()));
                self.sent_ns.insert(held.id, now);
                self.next_unseen_id = held.id + 1;
            }
            let blocked = self
                .blocks
                .iter()
                .any(|f| f.matches(held.from, held.to, held.message.kv(), servers));
            if blocked {
                continue;
            }
            let due = self.sent_ns.get(&held.id).copied().unwrap_or(0) + self.settings.latency_ns;
            if due <= now {
                release.push(held.id);
            } else {
                next_due = Some(next_due.map_or(due, |d| d.min(due)));
            }
        }
        for id in release {
            self.sent_ns.remove(&id);
            self.cluster.sim.release_held(id);
        }
        next_due
    }

    /// Records what an observed event found; violations do not stop a script.
    fn note(&mut self, result: Result<Option<Observed>, Violation>) {
        if let Err(violation) = result {
            self.record(violation);
        }
    }

    fn record(&mut self, violation: Violation) {
        let seen = &self.outcome.violations;
        if seen.iter().any(|(_, v)| v.property == violation.property) {
            return;
        }
        self.found.push(format!(
            "!! {} at {}: {}",
            violation.property,
            format_time(violation.time_ns),
            violation.message
        ));
        self.outcome.violations.push((self.line, violation));
    }

    fn fail(&mut self, reason: String) {
        self.found.push(format!("FAILED: {reason}"));
        self.outcome
            .failures
            .push(format!("line {}: {reason}", self.line));
    }

    /// What the current line found goes under it.
    fn flush_found(&mut self) {
        for text in std::mem::take(&mut self.found) {
            self.outcome.push_output(self.line, text);
        }
    }

    fn settle(&mut self) {
        let until = self.cluster.sim.now_ns() + self.settings.settle_ns;
        self.advance(until);
    }

    // ----- commands -----

    fn execute(&mut self, line: &Line) -> Result<(), ScriptError> {
        if let Command::Expect(expectation) = &line.command {
            if let Err(reason) = self.expect(expectation) {
                self.fail(format!("{}: {reason}", line.text));
            }
            self.flush_found();
            return Ok(());
        }
        let note = match &line.command {
            Command::Run(duration) => {
                let until = self
                    .cluster
                    .sim
                    .now_ns()
                    .checked_add(*duration)
                    .filter(|&t| t <= SCRIPT_TIME_NS_MAX)
                    .ok_or_else(|| {
                        ScriptError::new(
                            line.number,
                            format!(
                                "a script runs at most {} of virtual time",
                                sim::text::format_duration(SCRIPT_TIME_NS_MAX)
                            ),
                        )
                    })?;
                self.advance(until);
                Vec::new()
            }
            command => {
                let note = self
                    .act(command)
                    .map_err(|m| ScriptError::new(line.number, m))?;
                self.settle();
                note
            }
        };
        let mut lines = vec![format!("at {}", format_time(self.cluster.sim.now_ns()))];
        lines.extend(note);
        lines.push(self.state());
        for text in lines {
            self.outcome.push_output(line.number, text);
        }
        self.flush_found();
        Ok(())
    }

    /// Performs an action; returns notes for the output.
    fn act(&mut self, command: &Command) -> Result<Vec<String>, String> {
        let servers = self.servers();
        let down = |address: NodeId| vec![format!("{} is down", sim::names::server(address))];
        let outcome = |result: Option<Result<String, String>>, address: NodeId| match result {
            None => down(address),
            Some(Ok(text)) if text.is_empty() => Vec::new(),
            Some(Ok(text)) => vec![text],
            Some(Err(error)) => vec![format!("refused: {error}")],
        };
        Ok(match command {
            Command::Tick { nodes, ticks } => {
                for address in nodes.servers(servers) {
                    let ticks = *ticks;
                    self.with_raft(address, |raft| (0..ticks).for_each(|_| raft.tick()));
                }
                Vec::new()
            }
            Command::Campaign(address) => match self.with_raft(*address, |raft| raft.campaign()) {
                Some(()) => Vec::new(),
                None => down(*address),
            },
            Command::Block(filter) => {
                self.blocks.push(filter.clone());
                Vec::new()
            }
            Command::Unblock(filter) => {
                match filter {
                    Some(filter) => self.blocks.retain(|f| f != filter),
                    None => self.blocks.clear(),
                }
                Vec::new()
            }
            Command::Deliver(filter) | Command::Drop(filter) => {
                let deliver = matches!(command, Command::Deliver(_));
                self.deliver_or_drop(filter, deliver)
            }
            Command::Fault(action) => {
                action
                    .validate(servers as usize)
                    .map_err(|e| e.to_string())?;
                let result = self.cluster.apply(action.clone());
                self.note(result);
                Vec::new()
            }
            Command::Propose { node, op } => {
                let command = KvCommand {
                    client_id: u64::MAX,
                    seq: self.next_propose_seq,
                    op: op.clone(),
                };
                self.next_propose_seq += 1;
                let data = command.encode();
                let result = self.with_raft(*node, |raft| {
                    raft.propose(data)
                        .map(|proposal| proposal.to_string())
                        .map_err(|e| e.to_string())
                });
                outcome(result, *node)
            }
            Command::Client { client, op, at } => {
                let address = servers + client;
                let server = at.map(u64::from);
                let started = self
                    .cluster
                    .sim
                    .with_node(address, |node, ctx| match node {
                        ClusterNode::Client(client) => client.invoke(ctx, op.clone(), server),
                        ClusterNode::Server(_) | ClusterNode::Host(_) => false,
                    })
                    .unwrap_or(false);
                if !started {
                    return Err(format!(
                        "{} still has an operation outstanding",
                        self.cluster.names().of(address)
                    ));
                }
                Vec::new()
            }
            Command::ConfChange { node, change } => {
                let change = change.clone();
                let result = self.with_raft(*node, |raft| {
                    raft.propose_conf_change(change)
                        .map(|proposal| proposal.to_string())
                        .map_err(|e| e.to_string())
                });
                outcome(result, *node)
            }
            Command::TransferLeader { from, to } => {
                let to = raft_id(u64::from(*to));
                let result = self.with_raft(*from, |raft| {
                    raft.transfer_leader(to)
                        .map(|()| String::new())
                        .map_err(|e| e.to_string())
                });
                outcome(result, *from)
            }
            Command::CheckHistory => {
                self.check_history(false);
                Vec::new()
            }
            Command::Run(_)
            | Command::Expect(_)
            | Command::Cluster(_)
            | Command::Log { .. }
            | Command::HardState { .. }
            | Command::RunConfig(_)
            | Command::At { .. } => unreachable!("handled by the caller or the parser"),
        })
    }

    /// Acts on server `address`'s Raft node and observes it; `None` when it is down.
    fn with_raft<R>(
        &mut self,
        address: NodeId,
        act: impl FnOnce(&mut RawNode<MemStorage>) -> R,
    ) -> Option<R> {
        let act = |engine: &mut AnyEngine| act(engine.as_ours_mut().expect(SCRIPTS_RUN_OURS));
        let (result, observed) = self.cluster.with_raft(address, act)?;
        self.note(observed);
        Some(result)
    }

    fn deliver_or_drop(&mut self, filter: &Filter, deliver: bool) -> Vec<String> {
        self.pump();
        let (servers, names) = (self.servers(), self.cluster.names());
        let chosen: Vec<(u64, String)> = self
            .cluster
            .sim
            .held_messages()
            .iter()
            .filter(|held| filter.matches(held.from, held.to, held.message.kv(), servers))
            .map(|held| {
                let text = describe_message(held.from, held.to, held.message.kv(), names);
                (held.id, text)
            })
            .collect();
        for (id, _) in &chosen {
            self.sent_ns.remove(id);
            if deliver {
                self.cluster.sim.release_held(*id);
            } else {
                self.cluster.sim.drop_held(*id);
            }
        }
        let count = chosen.len();
        let mut notes = vec![format!(
            "{} {count} message{}",
            if deliver { "delivered" } else { "dropped" },
            if count == 1 { "" } else { "s" }
        )];
        notes.extend(
            chosen
                .into_iter()
                .take(MESSAGES_LISTED_MAX)
                .map(|(_, text)| format!("  {text}")),
        );
        if count > MESSAGES_LISTED_MAX {
            notes.push(format!("  ... {} more", count - MESSAGES_LISTED_MAX));
        }
        notes
    }

    /// Checks the clients' history; at the end, outstanding operations become indefinite.
    fn check_history(&mut self, at_end: bool) {
        let records = self.cluster.history(at_end);
        if records.is_empty() {
            return;
        }
        let checker_history = history::to_checker_history(&records, self.servers());
        let now = self.cluster.sim.now_ns();
        let (_, _, violation) = history::check(&checker_history, CHECKER_STEPS_MAX, false, now);
        if let Some(violation) = violation {
            self.record(violation);
        }
    }

    /// Every violation found must have been expected by an `expect violation` that ran.
    fn finish_expectations(&mut self) {
        let unexpected: Vec<(usize, Property)> = self
            .outcome
            .violations
            .iter()
            .filter(|(_, v)| {
                !self
                    .expected_violations
                    .iter()
                    .any(|(_, p)| *p == v.property)
            })
            .map(|(line, v)| (*line, v.property))
            .collect();
        for (line, property) in unexpected {
            self.outcome
                .failures
                .push(format!("line {line}: unexpected {property} violation"));
        }
    }

    // ----- expectations -----

    fn raft(&self, address: NodeId) -> Result<&RawNode<MemStorage>, String> {
        self.cluster
            .sim
            .node(address)
            .and_then(ClusterNode::as_server)
            .map(|server| server.raft().as_ours().expect(SCRIPTS_RUN_OURS))
            .ok_or_else(|| format!("{} is down", sim::names::server(address)))
    }

    /// Checks `check` on each server of `nodes`.
    fn each(
        &self,
        nodes: &NodeList,
        check: impl Fn(&str, &RawNode<MemStorage>) -> Result<(), String>,
    ) -> Result<(), String> {
        for address in nodes.servers(self.servers()) {
            check(
                &sim::names::server(address).to_string(),
                self.raft(address)?,
            )?;
        }
        Ok(())
    }

    fn expect(&mut self, expectation: &Expectation) -> Result<(), String> {
        let name = |address: NodeId| sim::names::server(address).to_string();
        match expectation {
            Expectation::Leader { node, term } => {
                let raft = self.raft(*node)?;
                if raft.role() != Role::Leader {
                    return Err(format!(
                        "{} is {:?} in term {}",
                        name(*node),
                        raft.role(),
                        raft.term()
                    ));
                }
                match term {
                    Some(term) if raft.term() != *term => Err(format!(
                        "{} leads term {}, not {term}",
                        name(*node),
                        raft.term()
                    )),
                    _ => Ok(()),
                }
            }
            Expectation::LeaderOfTerm { term, node } => {
                let leaders: Vec<NodeId> = self.cluster.oracles[0]
                    .leaders
                    .iter()
                    .filter(|(_, t, _)| t == term)
                    .map(|&(_, _, n)| n)
                    .collect();
                if leaders == [*node] {
                    Ok(())
                } else {
                    let names: Vec<String> = leaders.into_iter().map(name).collect();
                    Err(format!("leaders of term {term}: [{}]", names.join(", ")))
                }
            }
            Expectation::NoLeader(nodes) => {
                for address in nodes.servers(self.servers()) {
                    if let Ok(raft) = self.raft(address)
                        && raft.role() == Role::Leader
                    {
                        return Err(format!("{} leads term {}", name(address), raft.term()));
                    }
                }
                Ok(())
            }
            Expectation::Role { nodes, role } => self.each(nodes, |who, raft| {
                if raft.role() == *role {
                    Ok(())
                } else {
                    Err(format!("{who} is {:?}", raft.role()))
                }
            }),
            Expectation::Term {
                nodes,
                compare,
                value,
            } => self.each(nodes, |who, raft| {
                if compare.holds(raft.term(), *value) {
                    Ok(())
                } else {
                    Err(format!("{who} term is {}", raft.term()))
                }
            }),
            Expectation::Commit {
                nodes,
                compare,
                value,
            } => self.each(nodes, |who, raft| {
                if compare.holds(raft.commit_index(), *value) {
                    Ok(())
                } else {
                    Err(format!("{who} commit index is {}", raft.commit_index()))
                }
            }),
            Expectation::Log { nodes, terms } => self.each(nodes, |who, raft| {
                let actual = log_terms(raft);
                if &actual == terms {
                    Ok(())
                } else {
                    Err(format!("{who} log terms are [{}]", join(&actual)))
                }
            }),
            Expectation::LogsEqual(nodes) => {
                let addresses = nodes.servers(self.servers());
                let Some(&first) = addresses.first() else {
                    return Err("the list names no server".into());
                };
                let first_terms = log_terms(self.raft(first)?);
                for &address in &addresses[1..] {
                    let terms = log_terms(self.raft(address)?);
                    if terms != first_terms {
                        return Err(format!(
                            "{} has [{}] but {} has [{}]",
                            name(first),
                            join(&first_terms),
                            name(address),
                            join(&terms)
                        ));
                    }
                }
                Ok(())
            }
            Expectation::Config {
                nodes,
                voters,
                outgoing,
            } => self.each(nodes, |who, raft| {
                let conf = raft.conf_state();
                let as_names = |ids: &std::collections::BTreeSet<u64>| -> Vec<String> {
                    ids.iter().map(|id| format!("n{id}")).collect()
                };
                let wanted = |addresses: &[NodeId]| -> Vec<String> {
                    let mut names: Vec<String> = addresses.iter().map(|&a| name(a)).collect();
                    names.sort_by_key(|n| n[1..].parse::<u64>().unwrap_or(0));
                    names
                };
                let (actual_voters, actual_outgoing) =
                    (as_names(&conf.voters), as_names(&conf.voters_outgoing));
                if actual_voters == wanted(voters) && actual_outgoing == wanted(outgoing) {
                    Ok(())
                } else {
                    Err(format!(
                        "{who} has voters [{}] outgoing [{}]",
                        actual_voters.join(","),
                        actual_outgoing.join(",")
                    ))
                }
            }),
            Expectation::Violation(property) => {
                self.expected_violations.push((self.line, *property));
                let found = &self.outcome.violations;
                if found.iter().any(|(_, v)| v.property == *property) {
                    Ok(())
                } else {
                    Err(format!("no {property} violation found so far"))
                }
            }
            Expectation::NoViolation | Expectation::Pass => match self.outcome.violations.first() {
                None => Ok(()),
                Some((line, v)) => Err(format!("{} violation at line {line}", v.property)),
            },
            Expectation::Count {
                filter,
                compare,
                value,
            } => {
                let servers = self.servers();
                let count = self
                    .seen
                    .iter()
                    .filter(|(from, to, wire)| filter.matches(*from, *to, wire, servers))
                    .count() as u64;
                if compare.holds(count, *value) {
                    Ok(())
                } else {
                    Err(format!("counted {count} messages"))
                }
            }
            Expectation::Reply { client, expected } => self.expect_reply(*client, expected),
        }
    }

    fn expect_reply(&self, client: NodeId, expected: &ReplyExpect) -> Result<(), String> {
        let address = self.servers() + client;
        let who = self.cluster.names().of(address);
        let node = self
            .cluster
            .sim
            .node(address)
            .and_then(ClusterNode::as_client)
            .ok_or("no such client")?;
        if *expected == ReplyExpect::Pending {
            return if node.is_idle() {
                Err(format!("{who} has no operation outstanding"))
            } else {
                Ok(())
            };
        }
        if !node.is_idle() {
            return Err(format!("{who}'s operation is still outstanding"));
        }
        let record = node
            .history
            .last()
            .ok_or(format!("{who} ran no operation"))?;
        let actual = match &record.result {
            None => ReplyExpect::Indefinite,
            Some(OpResult::Value(value)) => ReplyExpect::Value(value.clone()),
            Some(OpResult::Written) => ReplyExpect::Written,
            Some(OpResult::Cas(swapped)) => ReplyExpect::Cas(*swapped),
        };
        if actual == *expected {
            Ok(())
        } else {
            Err(format!("{who}'s {} returned {actual:?}", record.op))
        }
    }

    // ----- the output -----

    /// One compact line: per server role and term, commit index / last index.
    fn state(&self) -> String {
        let mut parts = Vec::new();
        for address in 0..self.servers() {
            let name = sim::names::server(address);
            let Some(server) = self
                .cluster
                .sim
                .node(address)
                .and_then(ClusterNode::as_server)
            else {
                parts.push(format!("{name}:down"));
                continue;
            };
            let raft = server.raft().as_ours().expect(SCRIPTS_RUN_OURS);
            let role = match raft.role() {
                Role::Leader => 'L',
                Role::Follower => 'F',
                Role::Candidate => 'C',
                Role::PreCandidate => 'P',
            };
            let paused = if self.cluster.sim.is_paused(address) {
                " paused"
            } else {
                ""
            };
            parts.push(format!(
                "{name}:{role}{} {}/{}{paused}",
                raft.term(),
                raft.commit_index(),
                raft.last_index()
            ));
        }
        let held = self.cluster.sim.held_messages().len();
        if held > 0 {
            parts.push(format!("held={held}"));
        }
        parts.join("  ")
    }
}

/// Cluster scripts drive Raft by hand (campaign, progress, log views): our engine only.
const SCRIPTS_RUN_OURS: &str = "cluster scripts run our engine";

/// The cluster a script's settings describe, for the harness's factory.
fn cluster_spec(settings: &ClusterSettings) -> ClusterSpec {
    let election_ns = settings.tick_ns * settings.election_tick;
    ClusterSpec {
        seed: settings.seed,
        sim: SimConfig::new(1),
        servers: ServerSpecs::Kv(
            (0..settings.servers)
                .map(|address| server_config(settings, address))
                .collect(),
        ),
        engine: EngineChoice::Ours,
        clients: settings.clients as usize,
        clerk: ClerkConfig {
            request_timeout_ns: election_ns,
            op_deadline_ns: 8 * election_ns,
            read_mode: settings.read_mode,
            ..ClerkConfig::default()
        },
        workload: WorkloadConfig {
            clients: settings.clients.max(1) as usize,
            keys: 1,
            ..WorkloadConfig::default()
        },
        // Script clients run only the operations the script gives them.
        workload_end_ns: 0,
    }
}

fn server_config(settings: &ClusterSettings, address: NodeId) -> ServerConfig {
    let address = u64::from(address);
    let mut raft = raft::Config::new(raft_id(address));
    raft.election_tick = settings.election_tick;
    raft.heartbeat_tick = settings.heartbeat_tick;
    raft.pre_vote = settings.pre_vote;
    raft.check_quorum = settings.check_quorum;
    raft.max_entries_per_msg = settings.max_entries_per_msg;
    raft.conf_change_on_append = settings.conf_change_on_append;
    if settings.read_mode == kv::ReadMode::Lease {
        raft.read_only = raft::ReadOnlyOption::LeaseBased;
    }
    raft.mutants = raft_mutants(&settings.mutants);
    let voters = settings
        .voters
        .clone()
        .unwrap_or_else(|| (0..settings.servers).collect());
    ServerConfig {
        address,
        voters: voters.into_iter().map(u64::from).collect(),
        learners: Vec::new(),
        raft,
        tick_ns: settings.tick_ns,
        read_mode: settings.read_mode,
        snapshot_threshold_entries: settings.snapshot_threshold_entries,
        state_machine: state_machine_config(&settings.mutants),
    }
}

/// A hard state that names a commit index past the end of its log cannot be booted from.
fn check_preload(preload: &Preload) -> Result<(), String> {
    let entries = preload.terms.as_ref().map_or(0, Vec::len) as u64;
    match preload.commit {
        Some(commit) if commit > entries => Err(format!(
            "hardstate commit={commit} is past the end of its log ({entries} entries)"
        )),
        _ => Ok(()),
    }
}

/// Writes a preloaded log and hard state to the server's disk before it starts, and syncs them
/// (the sync's token is one the server never issues, so it ignores its completion).
fn write_preload(cluster: &mut Cluster, address: NodeId, preload: &Preload) {
    let terms = preload.terms.clone().unwrap_or_default();
    let last_term = terms.last().copied().unwrap_or(0);
    let hard_state = HardState {
        term: preload.term.unwrap_or(last_term).max(last_term),
        vote: preload.vote.map(|address| raft_id(u64::from(address))),
        commit: preload.commit.unwrap_or(0),
    };
    if terms.is_empty() && hard_state == HardState::default() {
        return;
    }
    cluster.sim.with_node(address, |_, ctx| {
        let mut log = Vec::new();
        for (position, &term) in terms.iter().enumerate() {
            let entry = Entry {
                term,
                index: position as u64 + 1,
                kind: EntryKind::Normal,
                data: Default::default(),
            };
            log.extend(encode_entry(&entry));
        }
        ctx.replace(LOG_FILE, log);
        ctx.replace(HARDSTATE_FILE, encode_hard_state(&hard_state));
        ctx.sync(u64::MAX);
    });
}

fn log_terms(raft: &RawNode<MemStorage>) -> Vec<u64> {
    (raft.first_index()..=raft.last_index())
        .filter_map(|index| raft.term_at(index))
        .collect()
}

fn join(values: &[u64]) -> String {
    values
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}
