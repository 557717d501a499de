//! The cluster-script runner: real `kv::Server`s and clients in a `Simulation<ClusterNode>`,
//! driven line by line. Every message is held by the simulator and handed back here: it is
//! delivered at once unless a `block` rule matches, in which case it waits for `deliver` or
//! `drop`. The oracles check every server after every event, and the clients' history is checked
//! for linearizability at `check-history` and at the end. Violations do not stop the script:
//! each property's first violation is recorded with the line that detected it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kv::persist::{HARDSTATE_FILE, LOG_FILE, encode_entry, encode_hard_state};
use kv::{ClerkConfig, Command as KvCommand, OpResult, ServerConfig, WorkloadConfig};
use raft::{ConfChange, Entry, EntryKind, HardState, MemStorage, RawNode, Role};
use sim::{EventKind, NodeId, SeedRng, SimConfig, Simulation, Step};

use super::parse::{ClusterSpec, Command, Expectation, Line, ReplyExpect};
use super::syntax::{Filter, describe_message, format_time, node_name};
use super::{Script, ScriptError, ScriptOptions, ScriptOutcome, ScriptViolation};
use crate::cluster::{ClientNode, ClusterNode, ServerNode, SimEnv};
use crate::oracle::{Oracles, Property, ServerView, Violation};
use crate::run::to_checker_history;

/// Bound on events one `run` may process: a script that livelocks fails instead of hanging.
const EVENTS_PER_ADVANCE_MAX: u64 = 5_000_000;
/// Held messages listed one by one under a `deliver` or `drop`.
const MESSAGES_LISTED_MAX: usize = 8;

/// An expectation on one server's Raft node.
type NodeCheck<'a> = dyn Fn(u64, &RawNode<MemStorage>) -> Result<(), String> + 'a;

/// The log and hard state a server boots from.
#[derive(Clone, Debug, Default)]
struct Preload {
    terms: Option<Vec<u64>>,
    term: Option<u64>,
    vote: Option<u64>,
    commit: Option<u64>,
}

pub fn run(script: &Script, options: &ScriptOptions) -> Result<ScriptOutcome, ScriptError> {
    let Command::Cluster(spec) = &script.lines[0].command else {
        unreachable!("the parser requires `cluster` first")
    };
    let mut spec = spec.as_ref().clone();
    for &mutant in &options.mutants {
        if !spec.mutants.contains(&mutant) {
            spec.mutants.push(mutant);
        }
    }
    let mut preloads = vec![Preload::default(); spec.servers as usize];
    let mut runner: Option<Runner> = None;
    let mut trace = String::new();
    writeln!(
        trace,
        "{:>4}  {}",
        script.lines[0].number, script.lines[0].text
    )
    .ok();
    for line in &script.lines[1..] {
        if line.condition.is_some_and(|c| !c.holds(&spec.mutants)) {
            continue;
        }
        match &line.command {
            Command::Log { nodes, terms } => {
                for id in nodes.servers(spec.servers) {
                    preloads[id as usize - 1].terms = Some(terms.clone());
                }
                writeln!(trace, "{:>4}  {}", line.number, line.text).ok();
            }
            Command::HardState {
                nodes,
                term,
                vote,
                commit,
            } => {
                for id in nodes.servers(spec.servers) {
                    let preload = &mut preloads[id as usize - 1];
                    preload.term = term.or(preload.term);
                    preload.vote = vote.or(preload.vote);
                    preload.commit = commit.or(preload.commit);
                }
                writeln!(trace, "{:>4}  {}", line.number, line.text).ok();
            }
            _ => {
                let runner = match &mut runner {
                    Some(runner) => runner,
                    None => runner.insert(Runner::boot(&spec, &preloads, line.number)?),
                };
                runner.line = line.number;
                runner.execute(line)?;
                trace.push_str(&std::mem::take(&mut runner.trace));
            }
        }
    }
    let mut runner = match runner {
        Some(runner) => runner,
        None => Runner::boot(&spec, &preloads, script.lines[0].number)?,
    };
    let end_line = script.lines.last().map_or(1, |l| l.number);
    runner.line = end_line;
    runner.check_history(true);
    runner.finish_expectations();
    trace.push_str(&runner.trace);
    let summary = if runner.violations.is_empty() {
        "no violation".to_string()
    } else {
        let names: Vec<String> = runner
            .violations
            .iter()
            .map(|(line, v)| format!("{} (line {line})", v.property))
            .collect();
        format!("violations: {}", names.join(", "))
    };
    let verdict = if runner.failures.is_empty() {
        "expected outcome held"
    } else {
        "expected outcome did NOT hold"
    };
    writeln!(trace, "end  {summary}; {verdict}").ok();
    Ok(ScriptOutcome {
        trace,
        violations: runner.violations,
        failures: runner.failures,
    })
}

struct Runner {
    spec: ClusterSpec,
    sim: Simulation<ClusterNode>,
    oracles: Oracles,
    servers: u64,
    crashed: Vec<bool>,
    blocks: Vec<Filter>,
    /// Every message sent so far (for `expect count`).
    seen: Vec<(NodeId, NodeId, kv::Wire)>,
    next_unseen_id: u64,
    /// When each held message was sent.
    sent_ns: BTreeMap<u64, u64>,
    /// Next sequence number of a `propose`d command.
    next_propose_seq: u64,
    violations: Vec<(usize, Violation)>,
    /// Lines of `expect violation` that ran, with their property.
    expected_violations: Vec<(usize, Property)>,
    failures: Vec<String>,
    line: usize,
    trace: String,
}

impl Runner {
    fn boot(spec: &ClusterSpec, preloads: &[Preload], line: usize) -> Result<Runner, ScriptError> {
        let servers = spec.servers;
        let server_configs: Vec<ServerConfig> = (0..servers)
            .map(|address| server_config(spec, address))
            .collect();
        for config in &server_configs {
            config
                .raft
                .validate()
                .map_err(|e| ScriptError::new(1, format!("raft configuration: {e}")))?;
        }
        let root = SeedRng::new(spec.seed);
        let clerk_config = ClerkConfig {
            request_timeout_ns: spec.tick_ns * spec.election_tick,
            op_deadline_ns: 8 * spec.tick_ns * spec.election_tick,
            read_mode: spec.read_mode,
            ..ClerkConfig::default()
        };
        let workload = WorkloadConfig {
            clients: spec.clients.max(1) as usize,
            keys: 1,
            ..WorkloadConfig::default()
        };
        let server_addresses: Vec<u64> = (0..servers).collect();
        let mut starts = vec![0u32; servers as usize];
        let factory = move |id: NodeId| {
            if u64::from(id) < servers {
                let start = &mut starts[id as usize];
                let jitter = root.stream(&format!("jitter-n{id}-start{start}"));
                *start += 1;
                ClusterNode::Server(Box::new(ServerNode::new(
                    server_configs[id as usize].clone(),
                    jitter,
                )))
            } else {
                let index = (u64::from(id) - servers) as usize;
                ClusterNode::Client(Box::new(ClientNode::new(
                    index,
                    u64::from(id),
                    server_addresses.clone(),
                    clerk_config,
                    workload.clone(),
                    0,
                    root,
                )))
            }
        };
        let sim_config = SimConfig::new((spec.servers + spec.clients) as usize);
        let mut sim = Simulation::new(sim_config, spec.seed, factory)
            .map_err(|e| ScriptError::new(line, e.to_string()))?;
        sim.set_hold_messages(true);
        for (address, preload) in preloads.iter().enumerate() {
            write_preload(&mut sim, address as NodeId, preload);
        }
        let mut runner = Runner {
            spec: spec.clone(),
            sim,
            oracles: Oracles::default(),
            servers,
            crashed: vec![false; servers as usize],
            blocks: Vec::new(),
            seen: Vec::new(),
            next_unseen_id: 0,
            sent_ns: BTreeMap::new(),
            next_propose_seq: 1,
            violations: Vec::new(),
            expected_violations: Vec::new(),
            failures: Vec::new(),
            line,
            trace: String::new(),
        };
        runner.advance(0);
        writeln!(runner.trace, "{:>4}  boot {}", "", runner.state()).ok();
        Ok(runner)
    }

    // ----- the event loop -----

    /// Processes every event up to `until`, delivering unblocked messages one latency after
    /// they were sent.
    fn advance(&mut self, until: u64) {
        let mut events = 0u64;
        loop {
            let next_release = self.pump();
            let next_event = self.sim.peek_time_ns();
            if let Some(release) = next_release
                && release <= until
                && next_event.is_none_or(|t| release < t)
            {
                self.sim.run_until(release);
                continue;
            }
            match next_event {
                Some(t) if t <= until => {
                    events += 1;
                    if events > EVENTS_PER_ADVANCE_MAX {
                        // A livelock: report it as a failed expectation, skip to `until`.
                        let failure = format!(
                            "line {}: more than {EVENTS_PER_ADVANCE_MAX} events before {}",
                            self.line,
                            format_time(until)
                        );
                        writeln!(self.trace, "{:>4}  !! {failure}", "").ok();
                        self.failures.push(failure);
                        break;
                    }
                    if let Some(step) = self.sim.step() {
                        self.observe(step);
                    }
                }
                _ => break,
            }
        }
        self.sim.run_until(until);
    }

    /// Records newly sent messages and releases those no block rule holds and whose latency
    /// has passed. Returns when the next unblocked message is due.
    fn pump(&mut self) -> Option<u64> {
        let (servers, now) = (self.servers, self.sim.now_ns());
        let mut release = Vec::new();
        let mut next_due: Option<u64> = None;
        for held in self.sim.held_messages() {
            if held.id >= self.next_unseen_id {
                self.seen.push((held.from, held.to, held.message.clone()));
                self.sent_ns.insert(held.id, now);
                self.next_unseen_id = held.id + 1;
            }
            let blocked = self
                .blocks
                .iter()
                .any(|f| f.matches(held.from, held.to, &held.message, servers));
            if blocked {
                continue;
            }
            let due = self.sent_ns.get(&held.id).copied().unwrap_or(0) + self.spec.latency_ns;
            if due <= now {
                release.push(held.id);
            } else {
                next_due = Some(next_due.map_or(due, |d| d.min(due)));
            }
        }
        for id in release {
            self.sent_ns.remove(&id);
            self.sim.release_held(id);
        }
        next_due
    }

    fn observe(&mut self, step: Step) {
        let Some(node) = step.node.filter(|&node| u64::from(node) < self.servers) else {
            return;
        };
        if step.kind == EventKind::Fault {
            let up = self.sim.is_up(node);
            if up == self.crashed[node as usize] {
                self.crashed[node as usize] = !up;
                self.oracles.node_restarted(node);
            }
        }
        let time_ns = step.time_ns;
        let Some(server) = self.sim.node_mut(node).and_then(ClusterNode::as_server_mut) else {
            return;
        };
        let (role, term) = (server.raft().role(), server.raft().term());
        let leader = self.oracles.check_leader(node, role, term, time_ns);
        let safety = self.oracles.check(ServerView { node, server }, time_ns);
        for result in [leader, safety] {
            if let Err(violation) = result {
                self.record(violation);
            }
        }
    }

    fn observe_node(&mut self, node: NodeId, kind: EventKind) {
        let time_ns = self.sim.now_ns();
        self.observe(Step {
            time_ns,
            node: Some(node),
            kind,
        });
    }

    fn record(&mut self, violation: Violation) {
        if self
            .violations
            .iter()
            .any(|(_, v)| v.property == violation.property)
        {
            return;
        }
        writeln!(self.trace, "{:>4}  !! {}", "", ScriptViolation(&violation)).ok();
        self.violations.push((self.line, violation));
    }

    fn settle(&mut self) {
        let until = self.sim.now_ns() + self.spec.settle_ns;
        self.advance(until);
    }

    // ----- commands -----

    fn execute(&mut self, line: &Line) -> Result<(), ScriptError> {
        let before = self.trace.len();
        let note = match &line.command {
            Command::Expect(expectation) => {
                let result = self.expect(expectation);
                self.trace_line(
                    line,
                    &result
                        .clone()
                        .err()
                        .map_or("ok".into(), |e| format!("FAILED: {e}")),
                );
                if let Err(reason) = result {
                    self.failures
                        .push(format!("line {}: {}: {reason}", line.number, line.text));
                }
                return Ok(());
            }
            Command::Run(duration) => {
                let until = self.sim.now_ns() + duration;
                self.advance(until);
                String::new()
            }
            command => {
                let note = self
                    .act(command)
                    .map_err(|m| ScriptError::new(line.number, m))?;
                self.settle();
                note
            }
        };
        // Violations found while the line ran are listed under it: put the line first.
        let found = self.trace.split_off(before);
        let state = self.state();
        let note = if note.is_empty() {
            String::new()
        } else {
            format!("  ({note})")
        };
        writeln!(
            self.trace,
            "{:>4}  {:>10}  {}{note}\n{:>18}{state}",
            line.number,
            format_time(self.sim.now_ns()),
            line.text,
            ""
        )
        .ok();
        self.trace.push_str(&found);
        Ok(())
    }

    fn trace_line(&mut self, line: &Line, result: &str) {
        writeln!(
            self.trace,
            "{:>4}  {:>10}  {}: {result}",
            line.number,
            format_time(self.sim.now_ns()),
            line.text
        )
        .ok();
    }

    /// Performs an action; returns a note for the trace.
    fn act(&mut self, command: &Command) -> Result<String, String> {
        let servers = self.servers;
        Ok(match command {
            Command::Tick { nodes, ticks } => {
                for id in nodes.servers(servers) {
                    let ticks = *ticks;
                    self.with_raft(id, |raft| (0..ticks).for_each(|_| raft.tick()));
                }
                String::new()
            }
            Command::Campaign(id) => match self.with_raft(*id, |raft| raft.campaign()) {
                Some(()) => String::new(),
                None => format!("n{id} is down"),
            },
            Command::Block(filter) => {
                self.blocks.push(filter.clone());
                String::new()
            }
            Command::Unblock(filter) => {
                match filter {
                    Some(filter) => self.blocks.retain(|f| f != filter),
                    None => self.blocks.clear(),
                }
                String::new()
            }
            Command::Deliver(filter) | Command::Drop(filter) => {
                let deliver = matches!(command, Command::Deliver(_));
                self.deliver_or_drop(filter, deliver)
            }
            Command::Fault(action) => {
                self.sim
                    .apply_fault(action.clone())
                    .map_err(|e| e.to_string())?;
                if let Some(node) = action.node() {
                    self.observe_node(node, EventKind::Fault);
                }
                String::new()
            }
            Command::Propose { node, op } => {
                let command = KvCommand {
                    client_id: u64::MAX,
                    seq: self.next_propose_seq,
                    op: op.clone(),
                };
                self.next_propose_seq += 1;
                let data = command.encode();
                match self.with_raft(*node, |raft| raft.propose(data)) {
                    None => format!("n{node} is down"),
                    Some(Ok(proposal)) => proposal.to_string(),
                    Some(Err(error)) => format!("refused: {error}"),
                }
            }
            Command::Client { client, op, at } => {
                let address = (servers + client - 1) as NodeId;
                let server = at.map(|id| id - 1);
                let started = self
                    .sim
                    .with_node(address, |node, ctx| match node {
                        ClusterNode::Client(client) => client.invoke(ctx, op.clone(), server),
                        ClusterNode::Server(_) => false,
                    })
                    .unwrap_or(false);
                if started {
                    String::new()
                } else {
                    return Err(format!("c{client} still has an operation outstanding"));
                }
            }
            Command::ConfChange { node, change } => {
                let change: ConfChange = change.clone();
                match self.with_raft(*node, |raft| raft.propose_conf_change(change)) {
                    None => format!("n{node} is down"),
                    Some(Ok(proposal)) => proposal.to_string(),
                    Some(Err(error)) => format!("refused: {error}"),
                }
            }
            Command::TransferLeader { from, to } => {
                let to = *to;
                match self.with_raft(*from, |raft| raft.transfer_leader(to)) {
                    None => format!("n{from} is down"),
                    Some(Ok(())) => String::new(),
                    Some(Err(error)) => format!("refused: {error}"),
                }
            }
            Command::CheckHistory => {
                self.check_history(false);
                String::new()
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

    /// Acts on server `id`'s Raft node; `None` when it is down.
    fn with_raft<R>(
        &mut self,
        id: u64,
        act: impl FnOnce(&mut RawNode<MemStorage>) -> R,
    ) -> Option<R> {
        let address = (id - 1) as NodeId;
        let result = self.sim.with_node(address, |node, ctx| {
            let server = node.as_server_mut()?;
            Some(server.with_raft(&mut SimEnv { ctx }, act))
        })??;
        self.observe_node(address, EventKind::Deliver);
        Some(result)
    }

    fn deliver_or_drop(&mut self, filter: &Filter, deliver: bool) -> String {
        self.pump();
        let servers = self.servers;
        let chosen: Vec<(u64, String)> = self
            .sim
            .held_messages()
            .iter()
            .filter(|held| filter.matches(held.from, held.to, &held.message, servers))
            .map(|held| {
                (
                    held.id,
                    describe_message(held.from, held.to, &held.message, servers),
                )
            })
            .collect();
        for (id, _) in &chosen {
            self.sent_ns.remove(id);
            if deliver {
                self.sim.release_held(*id);
            } else {
                self.sim.drop_held(*id);
            }
        }
        let mut note = format!(
            "{} message{}",
            chosen.len(),
            if chosen.len() == 1 { "" } else { "s" }
        );
        for (_, text) in chosen.iter().take(MESSAGES_LISTED_MAX) {
            note.push_str(&format!("; {text}"));
        }
        if chosen.len() > MESSAGES_LISTED_MAX {
            note.push_str("; ...");
        }
        note
    }

    /// Checks the clients' history; at the end, outstanding operations become indefinite.
    fn check_history(&mut self, at_end: bool) {
        let mut records = Vec::new();
        for address in self.servers..self.servers + self.spec.clients {
            if let Some(client) = self
                .sim
                .node_mut(address as NodeId)
                .and_then(ClusterNode::as_client_mut)
            {
                if at_end {
                    client.finish();
                }
                records.extend(client.history.iter().cloned());
            }
        }
        if records.is_empty() {
            return;
        }
        records.sort_by_key(|r| (r.call_ns, r.client_id));
        let result = checker::check(&to_checker_history(&records), &checker::Options::default());
        let failing: Vec<String> = result.failing().map(|p| p.label.clone()).collect();
        let property = match &result.verdict {
            checker::Verdict::Ok => return,
            checker::Verdict::Illegal => Property::Linearizability,
            checker::Verdict::Unknown { .. } => Property::CheckerUnknown,
        };
        self.record(Violation {
            property,
            nodes: Vec::new(),
            term: None,
            index: None,
            time_ns: self.sim.now_ns(),
            message: format!(
                "client history of {} operations is not linearizable (failing: {})",
                records.len(),
                failing.join(", ")
            ),
        });
    }

    /// Every violation found must have been expected by an `expect violation` that ran.
    fn finish_expectations(&mut self) {
        let unexpected: Vec<(usize, Property)> = self
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
            self.failures
                .push(format!("line {line}: unexpected {property} violation"));
        }
    }

    // ----- expectations -----

    fn raft(&self, id: u64) -> Result<&RawNode<MemStorage>, String> {
        self.sim
            .node((id - 1) as NodeId)
            .and_then(ClusterNode::as_server)
            .map(|server| server.raft())
            .ok_or_else(|| format!("n{id} is down"))
    }

    fn expect(&mut self, expectation: &Expectation) -> Result<(), String> {
        let servers = self.servers;
        let each = |nodes: &super::syntax::NodeList, check: &NodeCheck<'_>| -> Result<(), String> {
            for id in nodes.servers(servers) {
                check(id, self.raft(id)?)?;
            }
            Ok(())
        };
        match expectation {
            Expectation::Leader { node, term } => {
                let raft = self.raft(*node)?;
                if raft.role() != Role::Leader {
                    return Err(format!(
                        "n{node} is {:?} in term {}",
                        raft.role(),
                        raft.term()
                    ));
                }
                match term {
                    Some(term) if raft.term() != *term => {
                        Err(format!("n{node} leads term {}, not {term}", raft.term()))
                    }
                    _ => Ok(()),
                }
            }
            Expectation::LeaderOfTerm { term, node } => {
                let leaders: Vec<String> = self
                    .oracles
                    .leaders
                    .iter()
                    .filter(|(_, t, _)| t == term)
                    .map(|(_, _, n)| node_name(*n, servers))
                    .collect();
                if leaders.len() == 1 && leaders[0] == format!("n{node}") {
                    Ok(())
                } else {
                    Err(format!("leaders of term {term}: [{}]", leaders.join(", ")))
                }
            }
            Expectation::NoLeader(nodes) => {
                for id in nodes.servers(servers) {
                    if let Ok(raft) = self.raft(id)
                        && raft.role() == Role::Leader
                    {
                        return Err(format!("n{id} leads term {}", raft.term()));
                    }
                }
                Ok(())
            }
            Expectation::Role { nodes, role } => each(nodes, &|id, raft| {
                if raft.role() == *role {
                    Ok(())
                } else {
                    Err(format!("n{id} is {:?}", raft.role()))
                }
            }),
            Expectation::Term {
                nodes,
                compare,
                value,
            } => each(nodes, &|id, raft| {
                if compare.holds(raft.term(), *value) {
                    Ok(())
                } else {
                    Err(format!("n{id} term is {}", raft.term()))
                }
            }),
            Expectation::Commit {
                nodes,
                compare,
                value,
            } => each(nodes, &|id, raft| {
                if compare.holds(raft.commit_index(), *value) {
                    Ok(())
                } else {
                    Err(format!("n{id} commit index is {}", raft.commit_index()))
                }
            }),
            Expectation::Log { nodes, terms } => each(nodes, &|id, raft| {
                let actual = log_terms(raft);
                if &actual == terms {
                    Ok(())
                } else {
                    Err(format!("n{id} log terms are [{}]", join(&actual)))
                }
            }),
            Expectation::LogsEqual(nodes) => {
                let ids = nodes.servers(servers);
                let Some(&first_id) = ids.first() else {
                    return Err("the list names no server".into());
                };
                let first = log_terms(self.raft(first_id)?);
                for &id in &ids[1..] {
                    let terms = log_terms(self.raft(id)?);
                    if terms != first {
                        return Err(format!(
                            "n{first_id} has [{}] but n{id} has [{}]",
                            join(&first),
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
            } => each(nodes, &|id, raft| {
                let conf = raft.conf_state();
                let actual_voters: Vec<u64> = conf.voters.iter().copied().collect();
                let actual_outgoing: Vec<u64> = conf.voters_outgoing.iter().copied().collect();
                if &actual_voters == voters && &actual_outgoing == outgoing {
                    Ok(())
                } else {
                    Err(format!(
                        "n{id} has voters [{}] outgoing [{}]",
                        names(&actual_voters),
                        names(&actual_outgoing)
                    ))
                }
            }),
            Expectation::Violation(property) => {
                self.expected_violations.push((self.line, *property));
                if self.violations.iter().any(|(_, v)| v.property == *property) {
                    Ok(())
                } else {
                    Err(format!("no {property} violation found so far"))
                }
            }
            Expectation::NoViolation | Expectation::Pass => match self.violations.first() {
                None => Ok(()),
                Some((line, v)) => Err(format!("{} violation at line {line}", v.property)),
            },
            Expectation::Count {
                filter,
                compare,
                value,
            } => {
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

    fn expect_reply(&self, client: u64, expected: &ReplyExpect) -> Result<(), String> {
        let node = self
            .sim
            .node((self.servers + client - 1) as NodeId)
            .and_then(ClusterNode::as_client)
            .ok_or("no such client")?;
        if *expected == ReplyExpect::Pending {
            return if node.is_idle() {
                Err(format!("c{client} has no operation outstanding"))
            } else {
                Ok(())
            };
        }
        if !node.is_idle() {
            return Err(format!("c{client}'s operation is still outstanding"));
        }
        let record = node
            .history
            .last()
            .ok_or(format!("c{client} ran no operation"))?;
        let actual = match &record.result {
            None => ReplyExpect::Indefinite,
            Some(OpResult::Value(value)) => ReplyExpect::Value(value.clone()),
            Some(OpResult::Written) => ReplyExpect::Written,
            Some(OpResult::Cas(swapped)) => ReplyExpect::Cas(*swapped),
        };
        if actual == *expected {
            Ok(())
        } else {
            Err(format!("c{client}'s {} returned {actual:?}", record.op))
        }
    }

    // ----- the trace -----

    /// One compact line: per server role and term, commit index / last index.
    fn state(&self) -> String {
        let mut parts = Vec::new();
        for address in 0..self.servers as NodeId {
            let name = format!("n{}", address + 1);
            let Some(server) = self.sim.node(address).and_then(ClusterNode::as_server) else {
                parts.push(format!("{name}:down"));
                continue;
            };
            let raft = server.raft();
            let role = match raft.role() {
                Role::Leader => 'L',
                Role::Follower => 'F',
                Role::Candidate => 'C',
                Role::PreCandidate => 'P',
            };
            let paused = if self.sim.is_paused(address) {
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
        let held = self.sim.held_messages().len();
        if held > 0 {
            parts.push(format!("held={held}"));
        }
        parts.join("  ")
    }
}

fn server_config(spec: &ClusterSpec, address: u64) -> ServerConfig {
    let mut raft = raft::Config::new(address + 1);
    raft.election_tick = spec.election_tick;
    raft.heartbeat_tick = spec.heartbeat_tick;
    raft.pre_vote = spec.pre_vote;
    raft.check_quorum = spec.check_quorum;
    raft.max_entries_per_msg = spec.max_entries_per_msg;
    raft.conf_change_on_append = spec.conf_change_on_append;
    if spec.read_mode == kv::ReadMode::Lease {
        raft.read_only = raft::ReadOnlyOption::LeaseBased;
    }
    for &mutant in &spec.mutants {
        raft.mutants.insert(mutant);
    }
    let voters = spec
        .voters
        .clone()
        .unwrap_or_else(|| (1..=spec.servers).collect());
    ServerConfig {
        address,
        voters: voters.into_iter().map(|id| id - 1).collect(),
        raft,
        tick_ns: spec.tick_ns,
        read_mode: spec.read_mode,
        snapshot_threshold_entries: spec.snapshot_threshold_entries,
        no_dedup: spec.mutants.contains(&raft::Mutant::NoDedup),
    }
}

/// Writes a preloaded log and hard state to the server's disk before it starts, and syncs them
/// (the sync's token is one the server never issues, so it ignores its completion).
fn write_preload(sim: &mut Simulation<ClusterNode>, address: NodeId, preload: &Preload) {
    let terms = preload.terms.clone().unwrap_or_default();
    let last_term = terms.last().copied().unwrap_or(0);
    let hard_state = HardState {
        term: preload.term.unwrap_or(last_term).max(last_term),
        vote: preload.vote,
        commit: preload.commit.unwrap_or(0).min(terms.len() as u64),
    };
    if terms.is_empty() && hard_state == HardState::default() {
        return;
    }
    sim.with_node(address, |_, ctx| {
        let mut log = Vec::new();
        for (position, &term) in terms.iter().enumerate() {
            let entry = Entry {
                term,
                index: position as u64 + 1,
                kind: EntryKind::Normal,
                data: Vec::new(),
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

fn names(ids: &[u64]) -> String {
    ids.iter()
        .map(|id| format!("n{id}"))
        .collect::<Vec<_>>()
        .join(",")
}
