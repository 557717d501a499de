//! The node trait and the context a node acts through. The simulator knows nothing about what
//! a node computes: it delivers starts, messages, timers and sync completions, and carries out
//! the sends, timers and disk writes the node asks for.

use std::fmt::Debug;
use std::hash::Hash;

use crate::NodeId;
use crate::disk::{Disk, DiskWrite, FileName};
use crate::rng::RngStream;
use crate::world::World;

/// Identifies a pending timer of one node, for cancellation: its slot in the node's timer table
/// and the id it was set with (unique per node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    pub(crate) slot: u32,
    pub(crate) id: u64,
}

/// A simulated process. Its fields are its volatile state: a crash drops the value and a restart
/// builds a fresh one from the simulation's factory, which then reads its disk in `on_start`.
pub trait Node {
    /// What travels between nodes. `Hash` feeds the trace hash.
    type Message: Clone + Debug + Hash;
    /// A node's own timer tag, handed back when the timer fires.
    type Timer: Clone + Debug + Hash;
    /// The operator commands the node takes ([`crate::FaultAction::Admin`]); `String` for
    /// nodes that take none or take plain text.
    type Admin: crate::AdminCommand;

    /// The node starts, fresh at time zero or after a crash: `ctx.disk()` holds what survived.
    fn on_start(&mut self, ctx: &mut Context<'_, Self::Message, Self::Timer>);

    fn on_message(
        &mut self,
        ctx: &mut Context<'_, Self::Message, Self::Timer>,
        from: NodeId,
        message: Self::Message,
    );

    fn on_timer(&mut self, ctx: &mut Context<'_, Self::Message, Self::Timer>, timer: Self::Timer);

    /// A sync issued with `ctx.sync(token)` has completed: every write issued before it is
    /// durable. Only now may the node act on those writes (vote, acknowledge).
    fn on_sync(&mut self, ctx: &mut Context<'_, Self::Message, Self::Timer>, token: u64) {
        let _ = (ctx, token);
    }

    /// An operator's command ([`crate::FaultAction::Admin`]) reached this running node. Nodes
    /// that take no commands ignore it.
    fn on_admin(
        &mut self,
        ctx: &mut Context<'_, Self::Message, Self::Timer>,
        command: &Self::Admin,
    ) {
        let _ = (ctx, command);
    }
}

/// What a node may do while handling one event.
pub struct Context<'a, M, T> {
    pub(crate) world: &'a mut World<M, T>,
    pub(crate) node: NodeId,
}

impl<M: Clone + Debug + Hash, T: Clone + Debug + Hash> Context<'_, M, T> {
    pub fn id(&self) -> NodeId {
        self.node
    }

    /// Number of nodes in the simulation (ids are `0..node_count`).
    pub fn node_count(&self) -> usize {
        self.world.nodes.len()
    }

    /// The time on this node's own clock, which may drift and jump: use it for protocol
    /// decisions such as leases.
    pub fn local_time_ns(&self) -> u64 {
        self.world.nodes[self.node as usize]
            .clock
            .local_at(self.world.now_ns)
    }

    /// Virtual (true) time. For recording histories only; a node's protocol must not use it,
    /// since real processes cannot see true time.
    pub fn global_time_ns(&self) -> u64 {
        self.world.now_ns
    }

    #[inline]
    pub fn send(&mut self, to: NodeId, message: M) {
        self.world.send(self.node, to, message);
    }

    /// Fires `timer` after `delay_ns` of this node's local time.
    pub fn set_timer(&mut self, delay_ns: u64, timer: T) -> TimerId {
        self.world.set_timer(self.node, delay_ns, timer)
    }

    /// Cancels a pending timer; returns whether it was still pending.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.world.nodes[self.node as usize]
            .timers
            .remove(id)
            .is_some()
    }

    pub fn disk(&self) -> &Disk {
        &self.world.nodes[self.node as usize].disk
    }

    pub fn append(&mut self, file: FileName, bytes: Vec<u8>) {
        self.write(DiskWrite::Append { file, bytes });
    }

    pub fn replace(&mut self, file: FileName, bytes: Vec<u8>) {
        self.write(DiskWrite::Replace { file, bytes });
    }

    pub fn truncate(&mut self, file: FileName, len: usize) {
        self.write(DiskWrite::Truncate { file, len });
    }

    fn write(&mut self, write: DiskWrite) {
        self.world.nodes[self.node as usize].disk.write(write);
    }

    /// Starts a sync of every write issued so far; `on_sync(token)` follows once it is durable.
    pub fn sync(&mut self, token: u64) {
        self.world.sync(self.node, token);
    }

    /// The simulator's stream for node-level random choices (election jitter, retries).
    pub fn rng(&mut self) -> &mut RngStream {
        &mut self.world.node_rng
    }

    /// A structured log record stamped with virtual time and this node; `message` is only
    /// built when logging is on.
    #[inline]
    pub fn log(&mut self, kind: &str, message: impl FnOnce() -> String) {
        let (now, node) = (self.world.now_ns, self.node);
        self.world.log.record(now, Some(node), kind, message);
    }

    pub fn logging(&self) -> bool {
        self.world.log.enabled()
    }
}
