//! The availability oracle: while nothing fails, a healthy leader keeps leading. PreVote keeps a
//! server that was cut off (or lags) from raising the term when it comes back; CheckQuorum keeps
//! followers from electing while they hear their leader. A leader deposed while every fault is
//! healed, every clock runs true and no membership change is under way is a finding.
//!
//! It judges whole runs, so it lives here rather than among the harness's per-event oracles: it
//! needs to know which faults are in force, which only the run that applies them knows.

use std::collections::BTreeSet;

use sim::{NodeId, names::server as name};

use crate::config::{Property, Violation};
use crate::harness::{ClusterView, Fault, Observed};

/// What is in force of the faults applied so far.
#[derive(Debug, Default)]
struct Health {
    partitioned: bool,
    cuts: BTreeSet<(NodeId, NodeId)>,
    holds: BTreeSet<(NodeId, NodeId)>,
    lossy: BTreeSet<(Option<NodeId>, Option<NodeId>)>,
    down: BTreeSet<NodeId>,
    paused: BTreeSet<NodeId>,
    slowed: BTreeSet<NodeId>,
    /// Until then, something changed recently (a membership change, a clock jump) whose
    /// effects may still depose a leader legitimately.
    unsettled_until_ns: u64,
}

impl Health {
    fn apply(&mut self, action: &Fault, now_ns: u64, settle_ns: u64) {
        let mut unsettle = |until: u64| {
            self.unsettled_until_ns = self.unsettled_until_ns.max(until);
        };
        unsettle(now_ns + settle_ns);
        match *action {
            Fault::Partition { .. } => self.partitioned = true,
            Fault::Heal => {
                self.partitioned = false;
                self.cuts.clear();
                self.holds.clear();
            }
            Fault::CutLink { from, to } => {
                self.cuts.insert((from, to));
            }
            Fault::RestoreLink { from, to } => {
                self.cuts.remove(&(from, to));
            }
            Fault::HoldLink { from, to } => {
                self.holds.insert((from, to));
            }
            Fault::ReleaseLink { from, to } => {
                self.holds.remove(&(from, to));
            }
            Fault::Crash { node } => {
                self.down.insert(node);
            }
            Fault::Restart { node } => {
                self.down.remove(&node);
            }
            Fault::Pause { node } => {
                self.paused.insert(node);
            }
            Fault::Resume { node } => {
                self.paused.remove(&node);
            }
            Fault::ClockRate { node, rate } => {
                if rate == 1.0 {
                    self.slowed.remove(&node);
                } else {
                    self.slowed.insert(node);
                }
            }
            // A clock set back stops the node's timers for as long: it is not healthy until
            // they run again.
            Fault::ClockJump { delta_ns, .. } => {
                unsettle(now_ns + delta_ns.unsigned_abs() + settle_ns);
            }
            Fault::LinkLoss {
                from,
                to,
                drop_probability,
                ..
            } => {
                if from.is_none() && to.is_none() {
                    self.lossy.clear();
                }
                if drop_probability > 0.0 {
                    self.lossy.insert((from, to));
                } else {
                    self.lossy.remove(&(from, to));
                }
            }
            Fault::Admin { .. } => {}
        }
    }

    fn healthy(&self, now_ns: u64) -> bool {
        now_ns >= self.unsettled_until_ns
            && !self.partitioned
            && self.cuts.is_empty()
            && self.holds.is_empty()
            && self.lossy.is_empty()
            && self.down.is_empty()
            && self.paused.is_empty()
            && self.slowed.is_empty()
    }
}

/// The oracle's state: the faults in force and the leader that must keep leading.
pub struct Availability {
    health: Health,
    /// How long after a change the cluster may still legitimately elect.
    settle_ns: u64,
    /// The leader seen while the cluster was healthy, and its term.
    leader: Option<(NodeId, u64)>,
    /// Base links lose messages: the oracle has nothing to judge.
    off: bool,
}

impl Availability {
    /// `election_ns` is the election timeout; `off` says there is nothing to judge (the run's
    /// links drop messages, or PreVote or CheckQuorum is off).
    pub fn new(election_ns: u64, off: bool) -> Self {
        Availability {
            health: Health::default(),
            settle_ns: 3 * election_ns,
            leader: None,
            off,
        }
    }

    /// A fault was applied at `now_ns`.
    pub fn on_fault(&mut self, action: &Fault, now_ns: u64) {
        self.health.apply(action, now_ns, self.settle_ns);
        // A leader must prove itself again in a healthy cluster.
        self.leader = None;
    }

    /// Judges what an event showed. `term_of` gives a running server's term; `removed` says a
    /// running server is no longer a voter of its own configuration; `view` is asked for only
    /// when a healthy cluster has no leader to hold yet (it costs a walk over the servers, too
    /// much for every event).
    pub fn observe<'a>(
        &mut self,
        observed: &Observed,
        view: impl FnOnce() -> ClusterView<'a>,
        now_ns: u64,
        term_of: impl Fn(NodeId) -> Option<u64>,
        removed: impl Fn(NodeId) -> bool,
    ) -> Result<(), Violation> {
        if self.off || !self.health.healthy(now_ns) {
            self.leader = None;
            return Ok(());
        }
        if let Some((leader, term)) = self.leader
            && observed.role_changed
            && (observed.node == leader) != (observed.role == raft::Role::Leader)
        {
            let lost = observed.node == leader;
            // A leader that applied its own removal steps down (kv::Server asks every engine
            // to): the membership change it committed deposed it, however long after the
            // change was proposed (raft-rs campaign seed 6366: a partition held it back).
            if lost && removed(leader) {
                self.leader = None;
                return Ok(());
            }
            let message = if lost {
                format!(
                    "{} stopped leading term {term} though nothing had failed for {}ms",
                    name(leader),
                    (now_ns - self.health.unsettled_until_ns) / sim::NANOS_PER_MILLI
                )
            } else {
                format!(
                    "{} took over from {}, leader of term {term}, though nothing had failed",
                    name(observed.node),
                    name(leader)
                )
            };
            return Err(Violation {
                property: Property::Availability,
                nodes: vec![leader, observed.node],
                term: term_of(observed.node),
                index: None,
                time_ns: now_ns,
                message,
            });
        }
        if self.leader.is_some() {
            return Ok(());
        }
        let view = view();
        if let Some(leader) = view.leader
            && view.voters.contains(&leader)
            && !view.joint
        {
            self.leader = term_of(leader).map(|term| (leader, term));
        }
        Ok(())
    }
}
