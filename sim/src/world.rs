//! Everything the simulator owns apart from the node values themselves: time, the event queue,
//! the network, per-node clocks, timers and disks, the random streams, the trace and the log.
//! Kept apart from the nodes so a node can act on the world while it is being called.

use serde::{Deserialize, Serialize};

use crate::NodeId;
use crate::clock::NodeClock;
use crate::disk::Disk;
use crate::log::Log;
use crate::messages::{DropReason, MessageFate, MessageLog, UNRECORDED};
use crate::network::Network;
use crate::node::TimerId;
use crate::queue::EventQueue;
use crate::rng::RngStream;
use crate::trace::{self, TraceEntry, TraceHash};

/// Bound on timers pending at one node.
pub const TIMERS_PER_NODE_MAX: usize = 100_000;

pub(crate) enum Event<M> {
    Start {
        node: NodeId,
    },
    Deliver {
        from: NodeId,
        to: NodeId,
        digest: u64,
        /// The message record's id, or `messages::UNRECORDED`.
        record: u64,
        message: M,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        clock_epoch: u32,
        timer: TimerId,
    },
    SyncDone {
        node: NodeId,
        incarnation: u32,
        target: u64,
        token: u64,
    },
}

/// One slot of a node's timer table: the timer set with id `id`, while it is pending.
pub(crate) struct TimerSlot<T> {
    pub id: u64,
    pub local_deadline_ns: u64,
    pub timer: Option<T>,
}

/// A node's pending timers: a slab of slots reused as timers fire or are cancelled, so setting,
/// firing and cancelling a timer are an index and a comparison. A [`TimerId`] names its slot
/// and its id, so a stale id (the timer fired, was cancelled, or its slot was reused) matches
/// nothing.
pub(crate) struct Timers<T> {
    slots: Vec<TimerSlot<T>>,
    free: Vec<u32>,
    pending: usize,
    next_id: u64,
}

impl<T> Timers<T> {
    fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            pending: 0,
            next_id: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.pending
    }

    #[inline]
    fn insert(&mut self, local_deadline_ns: u64, timer: T) -> TimerId {
        let id = self.next_id;
        self.next_id += 1;
        self.pending += 1;
        let slot = TimerSlot {
            id,
            local_deadline_ns,
            timer: Some(timer),
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index as usize] = slot;
                index
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        TimerId { slot: index, id }
    }

    /// Takes the timer `id` names, if it is still pending.
    #[inline]
    pub fn remove(&mut self, id: TimerId) -> Option<T> {
        let slot = self.slots.get_mut(id.slot as usize)?;
        if slot.id != id.id {
            return None;
        }
        let timer = slot.timer.take()?;
        self.pending -= 1;
        self.free.push(id.slot);
        Some(timer)
    }

    /// Drops every pending timer (a crash); ids stay unique.
    pub fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
        self.pending = 0;
    }

    /// The pending timers' ids and local deadlines, in the order they were set.
    fn pending_in_order(&self) -> Vec<(TimerId, u64)> {
        let mut pending: Vec<(TimerId, u64)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.timer.is_some())
            .map(|(index, slot)| {
                let id = TimerId {
                    slot: index as u32,
                    id: slot.id,
                };
                (id, slot.local_deadline_ns)
            })
            .collect();
        pending.sort_unstable_by_key(|(id, _)| id.id);
        pending
    }
}

pub(crate) struct NodeState<M, T> {
    pub up: bool,
    pub paused: bool,
    /// Bumped by every crash; events of an earlier incarnation are stale.
    pub incarnation: u32,
    pub clock: NodeClock,
    /// Bumped by every clock change, which reschedules the pending timers.
    pub clock_epoch: u32,
    pub timers: Timers<T>,
    pub disk: Disk,
    /// Events held back while the node is paused, replayed in order on resume.
    pub deferred: Vec<Event<M>>,
    /// Syncs complete in the order issued.
    pub last_sync_done_ns: u64,
}

impl<M, T> NodeState<M, T> {
    fn new() -> Self {
        Self {
            up: true,
            paused: false,
            incarnation: 0,
            clock: NodeClock::default(),
            clock_epoch: 0,
            timers: Timers::new(),
            disk: Disk::default(),
            deferred: Vec::new(),
            last_sync_done_ns: 0,
        }
    }
}

/// Counters of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub events: u64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    /// Lost to partitions, cuts, link loss, crashed receivers, or dropped by a script.
    pub messages_dropped: u64,
    pub messages_duplicated: u64,
    pub timers_fired: u64,
    pub syncs: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub writes_lost: u64,
    pub torn_writes: u64,
}

/// Adds one to a [`Stats`] counter. A run is capped far below 2^64 events, so a counter cannot
/// wrap; the increment stays one instruction on the per-event path, where an overflow-checked
/// `+= 1` costs four.
#[inline(always)]
pub(crate) fn count(counter: &mut u64) {
    *counter = counter.wrapping_add(1);
}

/// Disk behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskConfig {
    pub sync_latency_ns_min: u64,
    pub sync_latency_ns_max: u64,
    /// Probability that a crash tears the last unsynced append.
    pub torn_write_probability: f64,
}

impl Default for DiskConfig {
    fn default() -> Self {
        Self {
            sync_latency_ns_min: 100_000,
            sync_latency_ns_max: 2_000_000,
            torn_write_probability: 0.0,
        }
    }
}

/// A message a script holds back instead of handing it to the network.
#[derive(Clone, Debug)]
pub struct HeldMessage<M> {
    pub id: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub message: M,
}

pub(crate) struct World<M, T> {
    pub now_ns: u64,
    pub queue: EventQueue<Event<M>>,
    pub network: Network,
    pub network_rng: RngStream,
    pub disk_rng: RngStream,
    pub node_rng: RngStream,
    pub nodes: Vec<NodeState<M, T>>,
    pub disk_config: DiskConfig,
    pub trace: TraceHash,
    pub trace_entries: Option<Vec<TraceEntry>>,
    pub stats: Stats,
    pub log: Log,
    /// Individual messages, when a report asked for them.
    pub messages: Option<MessageLog<M>>,
    pub hold_messages: bool,
    pub held: Vec<HeldMessage<M>>,
    pub next_held_id: u64,
    /// Messages waiting on held links (`Network::hold_link`), per link in send order.
    pub link_backlog: std::collections::BTreeMap<(NodeId, NodeId), Vec<M>>,
}

impl<M: Clone + std::hash::Hash, T> World<M, T> {
    pub fn new(
        node_count: usize,
        network: Network,
        disk_config: DiskConfig,
        root: crate::rng::SeedRng,
    ) -> Self {
        Self {
            now_ns: 0,
            queue: EventQueue::default(),
            network,
            network_rng: root.stream("network"),
            disk_rng: root.stream("disk"),
            node_rng: root.stream("nodes"),
            nodes: (0..node_count).map(|_| NodeState::new()).collect(),
            disk_config,
            trace: TraceHash::default(),
            trace_entries: None,
            stats: Stats::default(),
            log: Log::default(),
            messages: None,
            hold_messages: false,
            held: Vec::new(),
            next_held_id: 0,
            link_backlog: std::collections::BTreeMap::new(),
        }
    }

    /// Hands a message to the network: loss, latency and duplication are drawn now (or when a
    /// held link is released).
    #[inline]
    pub fn send(&mut self, from: NodeId, to: NodeId, message: M) {
        assert!(
            (to as usize) < self.nodes.len(),
            "{} sends to {}, which does not exist ({} nodes)",
            self.log.names().of(from),
            self.log.names().of(to),
            self.nodes.len()
        );
        count(&mut self.stats.messages_sent);
        if self.hold_messages {
            let id = self.next_held_id;
            self.next_held_id += 1;
            self.held.push(HeldMessage {
                id,
                from,
                to,
                message,
            });
            return;
        }
        let route = self.network.route(from, to);
        if route.held && route.up {
            self.link_backlog
                .entry((from, to))
                .or_default()
                .push(message);
            return;
        }
        if route.up && route.lossless {
            // The common case: nothing to draw but the latency.
            let latency = route.draw_latency(&mut self.network_rng);
            self.enqueue(from, to, message, latency, false);
            return;
        }
        self.transmit(from, to, message);
    }

    /// Releases the held link `from -> to`: its backlog goes out now, in order, each message
    /// meeting the link as if sent now (loss, duplication, latency).
    pub fn release_link(&mut self, from: NodeId, to: NodeId) {
        self.network.release_link(from, to);
        for message in self.link_backlog.remove(&(from, to)).unwrap_or_default() {
            self.transmit(from, to, message);
        }
    }

    /// Puts a message on the wire: loss, latency and duplication are drawn now.
    #[inline]
    fn transmit(&mut self, from: NodeId, to: NodeId, message: M) {
        if !self.network.is_up(from, to) {
            self.drop_at_send(from, to, &message, DropReason::LinkDown);
            return;
        }
        let route = *self.network.route(from, to);
        if self.network_rng.chance(route.config.drop_probability) {
            self.drop_at_send(from, to, &message, DropReason::Lost);
            return;
        }
        if self.network_rng.chance(route.config.duplicate_probability) {
            count(&mut self.stats.messages_duplicated);
            let latency = route.draw_latency(&mut self.network_rng);
            self.enqueue(from, to, message.clone(), latency, true);
        }
        let latency = route.draw_latency(&mut self.network_rng);
        self.enqueue(from, to, message, latency, false);
    }

    /// Counts, records and logs a message that never makes it onto the wire.
    fn drop_at_send(&mut self, from: NodeId, to: NodeId, message: &M, reason: DropReason) {
        count(&mut self.stats.messages_dropped);
        self.note_dropped_at_send(from, to, message, reason);
        let names = self.log.names();
        self.log.record(self.now_ns, Some(from), "drop", || {
            format!("to {}: {}", names.of(to), reason.name())
        });
    }

    /// Schedules the delivery of a message that made it onto the wire, `latency_ns` from now.
    #[inline(always)]
    fn enqueue(&mut self, from: NodeId, to: NodeId, message: M, latency_ns: u64, duplicate: bool) {
        let digest = trace::digest(&message);
        let record = self.note_sent(from, to, &message, duplicate);
        self.queue.push(
            self.now_ns + latency_ns,
            Event::Deliver {
                from,
                to,
                digest,
                record,
                message,
            },
        );
    }

    /// Records a message entering the network, when messages are recorded.
    #[inline]
    pub fn note_sent(&mut self, from: NodeId, to: NodeId, message: &M, duplicate: bool) -> u64 {
        match &mut self.messages {
            None => UNRECORDED,
            Some(log) => log.sent(
                self.now_ns,
                from,
                to,
                message,
                duplicate,
                MessageFate::InFlight,
            ),
        }
    }

    #[inline]
    fn note_dropped_at_send(&mut self, from: NodeId, to: NodeId, message: &M, reason: DropReason) {
        if let Some(log) = &mut self.messages {
            let fate = MessageFate::Dropped {
                at_ns: self.now_ns,
                reason,
            };
            log.sent(self.now_ns, from, to, message, false, fate);
        }
    }

    /// Settles a recorded message: delivered now, or dropped now for `reason`.
    #[inline]
    pub fn note_fate(&mut self, record: u64, dropped: Option<DropReason>) {
        if record != UNRECORDED {
            self.settle_recorded(record, dropped);
        }
    }

    /// The rare half of [`World::note_fate`], out of the delivery path.
    #[cold]
    #[inline(never)]
    fn settle_recorded(&mut self, record: u64, dropped: Option<DropReason>) {
        if let Some(log) = &mut self.messages {
            let at_ns = self.now_ns;
            let fate = match dropped {
                None => MessageFate::Delivered { at_ns },
                Some(reason) => MessageFate::Dropped { at_ns, reason },
            };
            log.settle(record, fate);
        }
    }

    pub fn set_timer(&mut self, node: NodeId, delay_ns: u64, timer: T) -> TimerId {
        let now = self.now_ns;
        let state = &mut self.nodes[node as usize];
        assert!(
            state.timers.len() < TIMERS_PER_NODE_MAX,
            "{} has {} pending timers",
            self.log.names().of(node),
            state.timers.len()
        );
        let local_deadline_ns = state.clock.local_at(now).saturating_add(delay_ns);
        let id = state.timers.insert(local_deadline_ns, timer);
        let fire_ns = state.clock.global_for_local(now, local_deadline_ns);
        let (incarnation, clock_epoch) = (state.incarnation, state.clock_epoch);
        self.queue.push(
            fire_ns,
            Event::Timer {
                node,
                incarnation,
                clock_epoch,
                timer: id,
            },
        );
        id
    }

    /// After a clock change: every pending timer gets a new firing time on the new clock.
    pub fn reschedule_timers(&mut self, node: NodeId) {
        let now = self.now_ns;
        let state = &mut self.nodes[node as usize];
        state.clock_epoch += 1;
        let (incarnation, clock_epoch) = (state.incarnation, state.clock_epoch);
        for (id, local_deadline_ns) in state.timers.pending_in_order() {
            let fire_ns = state.clock.global_for_local(now, local_deadline_ns);
            self.queue.push(
                fire_ns,
                Event::Timer {
                    node,
                    incarnation,
                    clock_epoch,
                    timer: id,
                },
            );
        }
    }

    pub fn sync(&mut self, node: NodeId, token: u64) {
        let now = self.now_ns;
        let latency = self.disk_rng.range_inclusive(
            self.disk_config.sync_latency_ns_min,
            self.disk_config.sync_latency_ns_max,
        );
        let state = &mut self.nodes[node as usize];
        let target = state.disk.sync_target();
        let done_ns = (now + latency).max(state.last_sync_done_ns);
        state.last_sync_done_ns = done_ns;
        let incarnation = state.incarnation;
        count(&mut self.stats.syncs);
        self.queue.push(
            done_ns,
            Event::SyncDone {
                node,
                incarnation,
                target,
                token,
            },
        );
    }

    /// Adds one processed event to the trace hash (and the recorded trace, when on).
    #[inline]
    pub fn record(&mut self, node: NodeId, kind: trace::EventKind, digest: u64) {
        count(&mut self.stats.events);
        self.trace.record(self.now_ns, node, kind, digest);
        if let Some(entries) = &mut self.trace_entries {
            entries.push(TraceEntry {
                index: entries.len() as u64,
                time_ns: self.now_ns,
                node,
                kind,
                digest,
                hash: self.trace.value(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_id_matches_only_its_own_pending_timer() {
        let mut timers = Timers::new();
        let first = timers.insert(10, "a");
        let second = timers.insert(20, "b");
        assert_eq!(timers.remove(first), Some("a"));
        assert_eq!(timers.remove(first), None, "fired or cancelled once only");
        // The freed slot is reused; the old id must not reach the new timer.
        let third = timers.insert(30, "c");
        assert_eq!(third.slot, first.slot);
        assert_eq!(timers.remove(first), None);
        assert_eq!(timers.len(), 2);
        let order: Vec<u64> = timers
            .pending_in_order()
            .into_iter()
            .map(|(_, deadline)| deadline)
            .collect();
        assert_eq!(order, [20, 30], "pending timers in the order they were set");
        timers.clear();
        assert_eq!(timers.remove(second), None);
        assert_eq!(timers.remove(third), None);
        let fourth = timers.insert(40, "d");
        assert!(fourth.id > third.id, "ids stay unique across a crash");
    }
}
