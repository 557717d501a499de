//! One whole seeded run (BRIEF §10), the third layer: the cluster under a fault schedule drawn
//! from the seed (the safety phase), then every fault healed and a bounded wait for a leader,
//! completed operations and converged logs (the liveness phase), then the linearizability check
//! of the clients' history. The harness's oracles watch every event throughout.
//!
//! - `nemesis`: where a run's faults come from (a fixed schedule, or drawn as the run goes).
//! - `motifs`: multi-step fault sequences the nemesis runs off the cluster's state (Figure 8).
//! - `availability`: the oracle that a healthy leader keeps leading while nothing fails.
//! - `repro`: the one builder of the command that makes a run again.
//! - `record`: what a report draws, filled when `RunOptions::record` asks for it.

pub mod availability;
pub mod motifs;
pub mod nemesis;
pub mod record;
pub mod repro;
pub mod shard_motifs;

use engine::Engine as _;
use kv::HistoryRecord;
use sim::{FaultAction, NANOS_PER_MILLI, NANOS_PER_SEC, NodeId, SeedRng};

use crate::config::{ConfigError, Property, RunConfig, Violation};
use crate::harness::history::{self, CheckSummary};
use crate::harness::{
    AdminCommand, Cluster, ClusterSpec, Fault, FaultSchedule, Observed, RoleChange,
};
use nemesis::FaultSource;
pub use repro::{Origin, Repro, RunFlags, SeedShape};

/// Why a run could not start: bad input, never a finding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("fault schedule: {0}")]
    Faults(sim::SimError),
}

pub struct RunOutcome {
    pub config: RunConfig,
    pub faults: FaultSchedule,
    pub violation: Option<Violation>,
    pub trace_hash: u64,
    pub stats: sim::Stats,
    pub simulated_ns: u64,
    pub operations_completed: usize,
    pub operations_indefinite: usize,
    pub check: Option<CheckSummary>,
    pub history: Vec<HistoryRecord>,
    pub log: Vec<sim::LogRecord>,
    /// Where the liveness phase ended, in words.
    pub final_state: String,
    /// (time, term, server) of every election observed (every Raft group's, in time order, for
    /// the sharded service).
    pub leaders: Vec<(u64, u64, NodeId)>,
    /// Every processed event, when `RunOptions::record_trace` was set (else empty).
    pub trace: Vec<sim::TraceEntry>,
    /// Everything a report draws, when `RunOptions::record` asked for it.
    pub record: Option<reports::RunRecord>,
    /// The coverage marks the run reached, with how often.
    pub marks: std::collections::BTreeMap<String, u64>,
}

impl RunOutcome {
    pub fn passed(&self) -> bool {
        self.violation.is_none()
    }

    /// The leader elected most recently before `time_ns`, if any.
    pub fn leader_at(&self, time_ns: u64) -> Option<NodeId> {
        self.leaders
            .iter()
            .take_while(|(t, _, _)| *t <= time_ns)
            .last()
            .map(|&(_, _, node)| node)
    }

    /// The history in the checker's terms.
    pub fn checker_history(&self) -> checker::History {
        history::to_checker_history(&self.history, self.config.servers as NodeId)
    }
}

/// Options that do not change what is simulated, only what is kept.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Keep the structured event log (for `--trace`).
    pub keep_log: bool,
    /// Record every event for divergence search.
    pub record_trace: bool,
    /// Record roles, messages and the checker's linearization for a report.
    pub record: bool,
    /// How the run is made again, for the report's reproduce line.
    pub repro: Option<Repro>,
}

pub fn run(config: &RunConfig) -> Result<RunOutcome, RunError> {
    run_with(config, None, RunOptions::default())
}

/// Runs `config`, with `faults` instead of the drawn schedule when given (replays, shrinking,
/// scripts).
pub fn run_with(
    config: &RunConfig,
    faults: Option<FaultSchedule>,
    options: RunOptions,
) -> Result<RunOutcome, RunError> {
    config.validate()?;
    let root = SeedRng::new(config.seed);
    let source = match &faults {
        Some(schedule) => {
            check_schedule(config, schedule)?;
            FaultSource::fixed(schedule)
        }
        None => FaultSource::nemesis(config, &root),
    };
    let mut run = Run::new(config, source, &options)?;
    let violation = run.safety_phase().err();
    let violation = match violation {
        Some(violation) => Some(violation),
        None => run.liveness_phase().err(),
    };
    Ok(run.finish(violation, options))
}

/// Checks that every action of `schedule` can apply to `config`'s cluster: servers that exist,
/// and operator commands of its service naming groups and shards it has.
pub fn check_schedule(config: &RunConfig, schedule: &FaultSchedule) -> Result<(), RunError> {
    schedule
        .validate(config.servers)
        .map_err(RunError::Faults)?;
    for fault in schedule.faults() {
        check_action(config, &fault.action).map_err(RunError::Faults)?;
    }
    Ok(())
}

/// An admin command of the other service, or naming a group or shard the cluster lacks, is
/// bad input.
pub fn check_action(config: &RunConfig, action: &Fault) -> Result<(), sim::SimError> {
    let Fault::Admin { command, .. } = action else {
        return Ok(());
    };
    let refuse = |message: String| Err(sim::SimError::Fault(format!("{action}: {message}")));
    match (command, config.service.sharded()) {
        (AdminCommand::ConfChange(_), None) => Ok(()),
        (AdminCommand::ConfChange(_), Some(_)) => {
            refuse("the sharded service's groups keep their members".into())
        }
        (AdminCommand::Controller(_), None) => refuse("needs the sharded service".into()),
        (AdminCommand::Controller(change), Some(sharded)) => change
            .validate(sharded.group_sizes.len(), sharded.shards)
            .or_else(refuse),
    }
}

/// Runs `run`, turning a panic into its message: code under test that panics (a Raft
/// assertion tripped under a planted bug, another engine's `unwrap`) is a finding of its seed,
/// not the end of the campaign.
pub fn catch_panic<T>(run: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|payload| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with no message".to_string());
        format!("panicked: {}", text.lines().next().unwrap_or(""))
    })
}

/// The events a run may have processed by a simulated time: past it, it has a message storm, a
/// liveness failure reported at once instead of after hours or out of memory. The budget grows
/// with what a correct run of this shape does each simulated second (every server ticking,
/// every client working) with a wide margin, so correct runs use a few percent of it, a long or
/// busy run is never cut short for being long or busy, and a storm is caught within a simulated
/// second or two of starting.
#[derive(Clone, Copy, Debug)]
pub struct EventBudget {
    base: u64,
    per_second: u64,
}

impl EventBudget {
    pub fn of(config: &RunConfig) -> Self {
        const BASE: u64 = 200_000;
        const PER_TICK: u64 = 40;
        const PER_CLIENT_SECOND: u64 = 20_000;
        let ticks_per_s = NANOS_PER_SEC / config.tick_ns;
        EventBudget {
            base: BASE,
            per_second: config.servers as u64 * PER_TICK * ticks_per_s
                + config.clients as u64 * PER_CLIENT_SECOND,
        }
    }

    /// The events allowed by simulated time `now_ns`.
    pub fn by(&self, now_ns: u64) -> u64 {
        self.base + now_ns.div_ceil(NANOS_PER_SEC) * self.per_second
    }
}

struct Run<'a> {
    config: &'a RunConfig,
    cluster: Cluster,
    faults: FaultSource,
    /// The faults applied so far, with their times: replaying them gives the same run.
    executed: FaultSchedule,
    events: EventBudget,
    availability: availability::Availability,
}

impl<'a> Run<'a> {
    fn new(
        config: &'a RunConfig,
        faults: FaultSource,
        options: &RunOptions,
    ) -> Result<Self, ConfigError> {
        let mut cluster = Cluster::new(ClusterSpec::of_run(config))?;
        cluster.sim.set_logging(options.keep_log);
        if options.record_trace {
            cluster.sim.record_trace();
        }
        if options.record {
            cluster.sim.record_messages(record::describe_wire);
            cluster.keep_role_changes();
        }
        Ok(Self {
            config,
            cluster,
            faults,
            executed: FaultSchedule::default(),
            events: EventBudget::of(config),
            availability: availability::Availability::new(
                config.tick_ns * config.election_tick,
                // What it judges is what PreVote and CheckQuorum promise, over links that
                // deliver.
                config.link.drop_probability > 0.0
                    || !(config.raft.pre_vote && config.raft.check_quorum),
            ),
        })
    }

    /// Lets the nemesis react to what an event showed.
    fn react(&mut self, observed: Option<Observed>) {
        let Some(observed) = observed else { return };
        if observed.role_changed || observed.voted_for_other || observed.leader_committed {
            let view = self.cluster.view();
            let now = self.cluster.sim.now_ns();
            self.faults.on_change(now, &observed, &view);
        }
    }

    /// Applies every fault due no later than the next event (faults first at equal times),
    /// as long as the safety phase lasts.
    fn apply_due_faults(&mut self) -> Result<(), Violation> {
        while let Some(at_ns) = self.faults.peek_ns() {
            let next_event = self.cluster.sim.peek_time_ns().unwrap_or(u64::MAX);
            if at_ns > next_event || at_ns > self.config.duration_ns {
                break;
            }
            let now = at_ns.max(self.cluster.sim.now_ns());
            self.cluster
                .sim
                .advance_to(now)
                .expect("no event is skipped");
            let view = self.cluster.view();
            for action in self.faults.take(&view) {
                self.executed.push(now, action.clone());
                self.availability.on_fault(&action, now);
                let observed = self.cluster.apply(action)?;
                self.react(observed);
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), Violation> {
        let Some(observed) = self.cluster.step() else {
            return Ok(());
        };
        let stats = self.cluster.sim.stats();
        let now = self.cluster.sim.now_ns();
        let allowed = self.events.by(now);
        if stats.events > allowed {
            return Err(Violation {
                nodes: (0..self.cluster.servers()).collect(),
                ..Violation::of_run(
                    Property::Liveness,
                    now,
                    format!(
                        "event storm: more than {allowed} events by {}ms ({} messages sent): {}",
                        now / NANOS_PER_MILLI,
                        stats.messages_sent,
                        self.cluster.describe_state()
                    ),
                )
            });
        }
        let observed = observed?;
        if let Some(observed) = &observed {
            let cluster = &self.cluster;
            let term_of = |node: NodeId| {
                let server = cluster.sim.node(node)?.as_server()?;
                Some(server.raft().term())
            };
            let removed = |node: NodeId| {
                let Some(server) = cluster.sim.node(node).and_then(|n| n.as_server()) else {
                    return false;
                };
                let (id, conf) = (server.raft().id(), server.raft().conf_state());
                !conf.voters.contains(&id) && !conf.voters_outgoing.contains(&id)
            };
            self.availability
                .observe(observed, || cluster.view(), now, term_of, removed)?;
        }
        self.react(observed);
        Ok(())
    }

    fn safety_phase(&mut self) -> Result<(), Violation> {
        loop {
            self.apply_due_faults()?;
            if self
                .cluster
                .sim
                .peek_time_ns()
                .is_none_or(|t| t > self.config.duration_ns)
            {
                return Ok(());
            }
            self.step()?;
        }
    }

    /// Heals everything, then waits (bounded) for a leader, idle clients and converged logs.
    fn liveness_phase(&mut self) -> Result<(), Violation> {
        let now = self.config.duration_ns;
        self.cluster.sim.run_until(now);
        let mut heal = vec![
            Fault::Heal,
            Fault::LinkLoss {
                from: None,
                to: None,
                drop_probability: 0.0,
                duplicate_probability: 0.0,
            },
        ];
        for node in 0..self.cluster.servers() {
            heal.push(FaultAction::Resume { node });
            heal.push(FaultAction::Restart { node });
            heal.push(FaultAction::ClockRate { node, rate: 1.0 });
        }
        for action in heal {
            self.availability.on_fault(&action, now);
            let observed = self.cluster.apply(action)?;
            self.react(observed);
        }
        let deadline = now + self.config.liveness_bound_ns;
        let poll_ns = 10 * NANOS_PER_MILLI;
        let mut next_poll = now;
        loop {
            if self.cluster.sim.now_ns() >= next_poll {
                if self.cluster.converged() {
                    return self.cluster.check_replicas(self.cluster.sim.now_ns());
                }
                self.restore_membership()?;
                next_poll = self.cluster.sim.now_ns() + poll_ns;
            }
            match self.cluster.sim.peek_time_ns() {
                Some(t) if t <= deadline => self.step()?,
                _ => break,
            }
        }
        Err(Violation {
            nodes: (0..self.cluster.servers()).collect(),
            ..Violation::of_run(
                Property::Liveness,
                self.cluster.sim.now_ns(),
                format!(
                    "no convergence within {}ms after healing: {}",
                    self.config.liveness_bound_ns / NANOS_PER_MILLI,
                    self.cluster.describe_state()
                ),
            )
        })
    }

    /// Asks the leader to make every server a voter again, when a membership change left some
    /// out; refused (and asked again at the next poll) while another change is under way.
    fn restore_membership(&mut self) -> Result<(), Violation> {
        let view = self.cluster.view();
        let Some(leader) = view.leader else {
            return Ok(());
        };
        if view.joint || view.voters.len() == view.servers as usize {
            return Ok(());
        }
        let missing: Vec<NodeId> = (0..view.servers)
            .filter(|n| !view.voters.contains(n))
            .collect();
        let action = AdminCommand::change_voters(&missing, &[]).to(leader);
        self.availability
            .on_fault(&action, self.cluster.sim.now_ns());
        let observed = self.cluster.apply(action)?;
        self.react(observed);
        Ok(())
    }

    fn finish(mut self, violation: Option<Violation>, options: RunOptions) -> RunOutcome {
        let final_state = self.cluster.describe_state();
        let history = self.cluster.history(true);
        let operations_indefinite = history.iter().filter(|r| r.is_indefinite()).count();
        let leaders = self.cluster.leaders();
        let marks = self.cluster.marks().reached();
        let sim = &mut self.cluster.sim;
        let mut outcome = RunOutcome {
            config: self.config.clone(),
            faults: std::mem::take(&mut self.executed),
            violation,
            trace_hash: sim.trace_hash().value(),
            stats: sim.stats().clone(),
            simulated_ns: sim.now_ns(),
            operations_completed: history.len() - operations_indefinite,
            operations_indefinite,
            check: None,
            history,
            log: sim.log_mut().take(),
            final_state,
            leaders,
            trace: sim.trace_entries().to_vec(),
            record: None,
            marks,
        };
        let mut check = None;
        if outcome.violation.is_none() {
            let (result, summary, violation) = history::check(
                &outcome.checker_history(),
                self.config.checker_steps_max,
                options.record,
                outcome.simulated_ns,
            );
            outcome.violation = violation;
            outcome.check = Some(summary);
            check = Some(result);
        }
        if options.record {
            let (messages, messages_not_kept) = self.cluster.sim.take_message_events();
            let mut servers_at_end: Vec<reports::ServerState> = self
                .cluster
                .running()
                .map(|(id, server)| record::server_state(id, server))
                .collect();
            servers_at_end.extend(
                self.cluster
                    .hosts()
                    .map(|(id, host)| record::server_state(id, host.replica())),
            );
            let roles: Vec<RoleChange> = self.cluster.take_role_changes();
            let shard_changes = self.cluster.take_shard_changes();
            let shards = self
                .cluster
                .layout()
                .map(|layout| record::shard_record(layout, shard_changes));
            let finished = record::Finished {
                roles,
                messages,
                messages_not_kept,
                servers_at_end,
                check,
                command: options.repro.as_ref().map(Repro::command),
                shards,
            };
            outcome.record = Some(record::build(&outcome, finished));
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message() {
        assert_eq!(catch_panic(|| 7), Ok(7));
        let message = catch_panic(|| -> u32 { panic!("follower needs a snapshot\nmore") });
        assert_eq!(
            message,
            Err("panicked: follower needs a snapshot".to_string())
        );
        let formatted = catch_panic(|| -> u32 { panic!("index {} past {}", 9, 4) });
        assert_eq!(formatted, Err("panicked: index 9 past 4".to_string()));
    }
}
