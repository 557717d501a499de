//! The simulation: nodes plus the world, and the loop that processes one event at a time.

use std::fmt::Debug;
use std::hash::Hash;

use crate::disk::Disk;
use crate::fault::{FaultAction, rate_ppm};
use crate::log::Log;
use crate::messages::{DropReason, MessageEvent, MessageLog};
use crate::network::{LinkConfig, Network};
use crate::node::{Context, Node};
use crate::rng::SeedRng;
use crate::trace::{self, EventKind, TraceEntry, TraceHash};
use crate::world::{DiskConfig, Event, HeldMessage, Stats, World, count};
use crate::{NodeId, SimError};

/// Everything about the simulated machines that is fixed when a run starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimConfig {
    pub node_count: usize,
    /// Every link starts with this configuration.
    pub link: LinkConfig,
    pub disk: DiskConfig,
    /// How logs and messages name the nodes.
    pub names: crate::Names,
}

impl SimConfig {
    pub fn new(node_count: usize) -> Self {
        Self {
            node_count,
            link: LinkConfig::default(),
            disk: DiskConfig::default(),
            names: crate::Names::default(),
        }
    }

    pub fn validate(&self) -> Result<(), SimError> {
        if self.node_count == 0 || self.node_count > crate::NODES_MAX {
            return Err(SimError::Config(format!(
                "node count {} is outside 1..={}",
                self.node_count,
                crate::NODES_MAX
            )));
        }
        self.link.validate()?;
        if self.disk.sync_latency_ns_min > self.disk.sync_latency_ns_max {
            return Err(SimError::Config(
                "disk sync latency minimum exceeds maximum".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.disk.torn_write_probability) {
            return Err(SimError::Config(
                "torn write probability is outside 0..=1".into(),
            ));
        }
        Ok(())
    }
}

/// What one call to [`Simulation::step`] processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub time_ns: u64,
    /// The node the event concerned; `None` for a fault on the network.
    pub node: Option<NodeId>,
    pub kind: EventKind,
}

type Factory<N> = Box<dyn FnMut(NodeId) -> N>;

pub struct Simulation<N: Node> {
    nodes: Vec<Option<N>>,
    factory: Factory<N>,
    seed: u64,
    world: World<N::Message, N::Timer>,
}

/// Marks the trace records of faults that target no single node.
const NETWORK_NODE: NodeId = NodeId::MAX;

impl<N: Node> Simulation<N>
where
    N::Message: Clone + Debug + Hash,
    N::Timer: Clone + Debug + Hash,
{
    /// Builds every node with `factory` and schedules their starts at time zero.
    pub fn new(
        config: SimConfig,
        seed: u64,
        mut factory: impl FnMut(NodeId) -> N + 'static,
    ) -> Result<Self, SimError> {
        config.validate()?;
        let root = SeedRng::new(seed);
        let network = Network::new(config.node_count, config.link);
        let mut world = World::new(config.node_count, network, config.disk, root);
        world.log.set_names(config.names);
        let nodes = (0..config.node_count as NodeId)
            .map(|id| Some(factory(id)))
            .collect();
        for node in 0..config.node_count as NodeId {
            world.queue.push(0, Event::Start { node });
        }
        Ok(Self {
            nodes,
            factory: Box::new(factory),
            seed,
            world,
        })
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn now_ns(&self) -> u64 {
        self.world.now_ns
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The node's current value, or `None` while it is crashed.
    pub fn node(&self, id: NodeId) -> Option<&N> {
        self.nodes[id as usize].as_ref()
    }

    /// The node's current value for inspection that drains observations (oracles).
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut N> {
        self.nodes[id as usize].as_mut()
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        self.world.nodes[id as usize].up
    }

    pub fn is_paused(&self, id: NodeId) -> bool {
        self.world.nodes[id as usize].paused
    }

    pub fn local_time_ns(&self, id: NodeId) -> u64 {
        self.world.nodes[id as usize]
            .clock
            .local_at(self.world.now_ns)
    }

    pub fn disk(&self, id: NodeId) -> &Disk {
        &self.world.nodes[id as usize].disk
    }

    pub fn network(&self) -> &Network {
        &self.world.network
    }

    pub fn stats(&self) -> &Stats {
        &self.world.stats
    }

    pub fn trace_hash(&self) -> TraceHash {
        self.world.trace
    }

    /// Starts keeping every processed event, for locating divergences.
    pub fn record_trace(&mut self) {
        self.world.trace_entries.get_or_insert_with(Vec::new);
    }

    pub fn trace_entries(&self) -> &[TraceEntry] {
        self.world.trace_entries.as_deref().unwrap_or(&[])
    }

    pub fn set_logging(&mut self, enabled: bool) {
        self.world.log.set_enabled(enabled);
    }

    pub fn log(&self) -> &Log {
        &self.world.log
    }

    pub fn log_mut(&mut self) -> &mut Log {
        &mut self.world.log
    }

    /// Calls into a running node from outside the event loop (a script proposing, a harness
    /// injecting a request), with a context so its sends and timers take effect.
    /// Returns `None` when the node is crashed.
    pub fn with_node<R>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut N, &mut Context<'_, N::Message, N::Timer>) -> R,
    ) -> Option<R> {
        let node = self.nodes[id as usize].as_mut()?;
        let mut ctx = Context {
            world: &mut self.world,
            node: id,
        };
        Some(f(node, &mut ctx))
    }

    /// While on, every send is held for a script to release or drop instead of entering the
    /// network.
    pub fn set_hold_messages(&mut self, hold: bool) {
        self.world.hold_messages = hold;
    }

    pub fn held_messages(&self) -> &[HeldMessage<N::Message>] {
        &self.world.held
    }

    /// Delivers a held message next (at the current time), subject to the link being up then.
    pub fn release_held(&mut self, id: u64) -> bool {
        let Some(position) = self.world.held.iter().position(|held| held.id == id) else {
            return false;
        };
        let held = self.world.held.remove(position);
        let digest = trace::digest(&held.message);
        let record = self
            .world
            .note_sent(held.from, held.to, &held.message, false);
        let event = Event::Deliver {
            from: held.from,
            to: held.to,
            digest,
            record,
            message: held.message,
        };
        self.world.queue.push(self.world.now_ns, event);
        true
    }

    pub fn drop_held(&mut self, id: u64) -> bool {
        let Some(position) = self.world.held.iter().position(|held| held.id == id) else {
            return false;
        };
        let held = self.world.held.remove(position);
        count(&mut self.world.stats.messages_dropped);
        let record = self
            .world
            .note_sent(held.from, held.to, &held.message, false);
        self.world.note_fate(record, Some(DropReason::Script));
        true
    }

    /// Starts recording every message: `describe` gives its label (called only while on).
    pub fn record_messages(&mut self, describe: fn(&N::Message) -> String) {
        self.world
            .messages
            .get_or_insert_with(|| MessageLog::new(describe));
    }

    /// Takes the recorded messages, and how many sends were over the bound and not kept.
    pub fn take_message_events(&mut self) -> (Vec<MessageEvent>, u64) {
        match &mut self.world.messages {
            None => (Vec::new(), 0),
            Some(log) => (std::mem::take(&mut log.events), log.not_kept),
        }
    }

    /// Messages waiting on held links, in all.
    pub fn backlog_len(&self) -> usize {
        self.world.link_backlog.values().map(Vec::len).sum()
    }

    /// Applies a fault now, as a processed event.
    pub fn apply_fault(&mut self, action: FaultAction<N::Admin>) -> Result<(), SimError> {
        action.validate(self.nodes.len())?;
        self.process_fault(&action);
        Ok(())
    }

    /// Moves the clock to `time_ns` without processing anything, so a fault can be applied at
    /// exactly that time (before any event due then). Refuses to skip a pending event or to go
    /// back in time.
    pub fn advance_to(&mut self, time_ns: u64) -> Result<(), SimError> {
        let skips_event = self.peek_time_ns().is_some_and(|next| next < time_ns);
        if time_ns < self.world.now_ns || skips_event {
            return Err(SimError::Fault(format!(
                "cannot move the clock to {time_ns} ns from {} ns past pending events",
                self.world.now_ns
            )));
        }
        self.world.now_ns = time_ns;
        Ok(())
    }

    pub fn peek_time_ns(&self) -> Option<u64> {
        self.world.queue.peek_time_ns()
    }

    /// Processes every event up to and including `time_ns`, then sets the clock to `time_ns`.
    /// Returns the number of queue entries taken.
    pub fn run_until(&mut self, time_ns: u64) -> u64 {
        let mut taken = 0;
        while self
            .world
            .queue
            .peek_time_ns()
            .is_some_and(|next| next <= time_ns)
        {
            self.step();
            taken += 1;
        }
        self.world.now_ns = self.world.now_ns.max(time_ns);
        taken
    }

    /// Processes events until none is left (a workload that ends by itself, such as echo).
    pub fn run_to_end(&mut self) {
        while let Some((time_ns, event)) = self.world.queue.pop() {
            self.process(time_ns, event);
        }
    }

    /// Takes the next entry off the queue and processes it. Returns what was processed, or
    /// `None` when the entry turned out stale (a cancelled timer, an event of a crashed
    /// incarnation, or one deferred by a pause) or the queue is empty.
    pub fn step(&mut self) -> Option<Step> {
        let (time_ns, event) = self.world.queue.pop()?;
        self.process(time_ns, event)
    }

    /// Processes one entry taken off the queue (inlined into both loops that take entries).
    #[inline(always)]
    fn process(&mut self, time_ns: u64, event: Event<N::Message>) -> Option<Step> {
        debug_assert!(time_ns >= self.world.now_ns, "time went backwards");
        self.world.now_ns = time_ns;
        // Deliveries are most events: one test for them before the dispatch on the rest.
        let event = match event {
            Event::Deliver {
                from,
                to,
                digest,
                record,
                message,
            } => return self.process_deliver(from, to, digest, record, message),
            other => other,
        };
        match event {
            Event::Deliver { .. } => unreachable!("deliveries are handled above"),
            Event::Timer {
                node,
                incarnation,
                clock_epoch,
                timer,
            } => self.process_timer(node, incarnation, clock_epoch, timer),
            Event::SyncDone {
                node,
                incarnation,
                target,
                token,
            } => self.process_sync(node, incarnation, target, token),
            Event::Start { node } => self.process_start(node),
        }
    }

    #[inline]
    fn process_deliver(
        &mut self,
        from: NodeId,
        to: NodeId,
        digest: u64,
        record: u64,
        message: N::Message,
    ) -> Option<Step> {
        let time_ns = self.world.now_ns;
        let state = &mut self.world.nodes[to as usize];
        if !state.up {
            self.world
                .note_fate(record, Some(DropReason::ReceiverCrashed));
            return self.drop_in_flight(from, to, digest, "receiver crashed");
        }
        if state.paused {
            state.deferred.push(Event::Deliver {
                from,
                to,
                digest,
                record,
                message,
            });
            return None;
        }
        let node = self.nodes[to as usize]
            .as_mut()
            .expect("an up node has a value");
        if !self.world.network.is_up(from, to) {
            self.world
                .note_fate(record, Some(DropReason::LinkDownInFlight));
            return self.drop_in_flight(from, to, digest, "link went down in flight");
        }
        self.world.note_fate(record, None);
        self.world.record(to, EventKind::Deliver, digest);
        count(&mut self.world.stats.messages_delivered);
        let mut ctx = Context {
            world: &mut self.world,
            node: to,
        };
        node.on_message(&mut ctx, from, message);
        Some(Step {
            time_ns,
            node: Some(to),
            kind: EventKind::Deliver,
        })
    }

    fn drop_in_flight(&mut self, from: NodeId, to: NodeId, digest: u64, why: &str) -> Option<Step> {
        let time_ns = self.world.now_ns;
        self.world.record(to, EventKind::DeliverDropped, digest);
        count(&mut self.world.stats.messages_dropped);
        let names = self.world.log.names();
        self.world.log.record(time_ns, Some(to), "drop", || {
            format!("from {}: {why}", names.of(from))
        });
        Some(Step {
            time_ns,
            node: Some(to),
            kind: EventKind::DeliverDropped,
        })
    }

    fn process_timer(
        &mut self,
        node_id: NodeId,
        incarnation: u32,
        clock_epoch: u32,
        id: crate::TimerId,
    ) -> Option<Step> {
        let state = &mut self.world.nodes[node_id as usize];
        if !state.up || state.incarnation != incarnation || state.clock_epoch != clock_epoch {
            return None;
        }
        if state.paused {
            state.deferred.push(Event::Timer {
                node: node_id,
                incarnation,
                clock_epoch,
                timer: id,
            });
            return None;
        }
        let timer = state.timers.remove(id)?;
        let node = self.nodes[node_id as usize]
            .as_mut()
            .expect("an up node has a value");
        self.world
            .record(node_id, EventKind::Timer, trace::digest(&timer));
        count(&mut self.world.stats.timers_fired);
        let mut ctx = Context {
            world: &mut self.world,
            node: node_id,
        };
        node.on_timer(&mut ctx, timer);
        Some(Step {
            time_ns: self.world.now_ns,
            node: Some(node_id),
            kind: EventKind::Timer,
        })
    }

    fn process_sync(
        &mut self,
        node_id: NodeId,
        incarnation: u32,
        target: u64,
        token: u64,
    ) -> Option<Step> {
        let state = &mut self.world.nodes[node_id as usize];
        if !state.up || state.incarnation != incarnation {
            return None;
        }
        // The device finishes the sync even if the process is frozen; only the callback waits.
        state.disk.complete_sync(target);
        if state.paused {
            state.deferred.push(Event::SyncDone {
                node: node_id,
                incarnation,
                target,
                token,
            });
            return None;
        }
        let node = self.nodes[node_id as usize]
            .as_mut()
            .expect("an up node has a value");
        self.world.record(node_id, EventKind::SyncDone, token);
        let mut ctx = Context {
            world: &mut self.world,
            node: node_id,
        };
        node.on_sync(&mut ctx, token);
        Some(Step {
            time_ns: self.world.now_ns,
            node: Some(node_id),
            kind: EventKind::SyncDone,
        })
    }

    fn process_start(&mut self, node_id: NodeId) -> Option<Step> {
        let state = &mut self.world.nodes[node_id as usize];
        if !state.up {
            return None;
        }
        if state.paused {
            state.deferred.push(Event::Start { node: node_id });
            return None;
        }
        let node = self.nodes[node_id as usize]
            .as_mut()
            .expect("an up node has a value");
        self.world.record(node_id, EventKind::Start, 0);
        let mut ctx = Context {
            world: &mut self.world,
            node: node_id,
        };
        node.on_start(&mut ctx);
        Some(Step {
            time_ns: self.world.now_ns,
            node: Some(node_id),
            kind: EventKind::Start,
        })
    }

    fn process_fault(&mut self, action: &FaultAction<N::Admin>) {
        let now = self.world.now_ns;
        let digest = action.digest();
        self.world.record(
            action.node().unwrap_or(NETWORK_NODE),
            EventKind::Fault,
            digest,
        );
        self.world
            .log
            .record(now, action.node(), "fault", || action.to_string());
        let network = &mut self.world.network;
        match action {
            FaultAction::Partition { groups } => network.partition(groups),
            FaultAction::Heal => {
                network.heal();
                for (from, to) in network.held_links() {
                    self.world.release_link(from, to);
                }
            }
            FaultAction::HoldLink { from, to } => network.hold_link(*from, *to),
            FaultAction::ReleaseLink { from, to } => self.world.release_link(*from, *to),
            FaultAction::CutLink { from, to } => network.cut_link(*from, *to),
            FaultAction::RestoreLink { from, to } => network.restore_link(*from, *to),
            FaultAction::LinkLoss {
                from,
                to,
                drop_probability,
                duplicate_probability,
            } => network.set_loss(*from, *to, *drop_probability, *duplicate_probability),
            FaultAction::Crash { node } => self.crash(*node),
            FaultAction::Restart { node } => self.restart(*node),
            FaultAction::Pause { node } => self.pause(*node),
            FaultAction::Resume { node } => self.resume(*node),
            FaultAction::ClockRate { node, rate } => {
                let ppm = rate_ppm(*rate).expect("validated when scheduled");
                self.world.nodes[*node as usize].clock.set_rate(now, ppm);
                self.world.reschedule_timers(*node);
            }
            FaultAction::ClockJump { node, delta_ns } => {
                self.world.nodes[*node as usize].clock.jump(now, *delta_ns);
                self.world.reschedule_timers(*node);
            }
            FaultAction::Admin { node, command } => {
                if self.world.nodes[*node as usize].paused {
                    return;
                }
                self.with_node(*node, |target, ctx| target.on_admin(ctx, command));
            }
        }
    }

    fn crash(&mut self, node_id: NodeId) {
        let world = &mut self.world;
        let state = &mut world.nodes[node_id as usize];
        if !state.up {
            return;
        }
        state.up = false;
        state.paused = false;
        state.incarnation += 1;
        state.timers.clear();
        let deferred = std::mem::take(&mut state.deferred);
        if world.messages.is_some() {
            for event in &deferred {
                if let Event::Deliver { record, .. } = event {
                    world.note_fate(*record, Some(DropReason::ReceiverCrashed));
                }
            }
        }
        let state = &mut world.nodes[node_id as usize];
        let tear = world
            .disk_rng
            .chance(world.disk_config.torn_write_probability);
        let fraction = tear.then(|| world.disk_rng.unit_f64());
        let loss = state.disk.crash(fraction);
        count(&mut world.stats.crashes);
        world.stats.writes_lost += loss.writes_lost as u64;
        world.stats.torn_writes += u64::from(loss.torn_bytes > 0);
        self.nodes[node_id as usize] = None;
    }

    fn restart(&mut self, node_id: NodeId) {
        if self.world.nodes[node_id as usize].up {
            return;
        }
        self.world.nodes[node_id as usize].up = true;
        count(&mut self.world.stats.restarts);
        let node = self.nodes[node_id as usize].insert((self.factory)(node_id));
        let mut ctx = Context {
            world: &mut self.world,
            node: node_id,
        };
        node.on_start(&mut ctx);
    }

    fn pause(&mut self, node_id: NodeId) {
        let state = &mut self.world.nodes[node_id as usize];
        if state.up {
            state.paused = true;
        }
    }

    fn resume(&mut self, node_id: NodeId) {
        let now = self.world.now_ns;
        let state = &mut self.world.nodes[node_id as usize];
        if !state.paused {
            return;
        }
        state.paused = false;
        for event in std::mem::take(&mut state.deferred) {
            self.world.queue.push(now, event);
        }
    }
}
