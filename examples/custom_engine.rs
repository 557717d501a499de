//! An engine written outside raftsim's crates, plugged into a campaign: the glue a user writes.
//! `MyRaft` stands for your implementation; here it delegates to raftsim's own Raft so the
//! example is short, where yours would convert its messages and entries to `raftsim::types`.
//!
//! `cargo run --example custom_engine` runs 20 seeds; `cargo test --example custom_engine`
//! (and `cargo test`) runs the test below. `RAFTSIM_SEED=S` replays one seed.

use std::borrow::Cow;

use raftsim::types::{
    ConfChange, ConfState, Config, Entry, Error, JitterSource, MemStorage, Message, NodeId,
    Proposal, RawNode, Ready, Role, Snapshot, SnapshotStatus,
};
use raftsim::{Campaign, Durable, Engine};

/// Your Raft node, with whatever storage it keeps.
pub struct MyRaft {
    node: RawNode<MemStorage>,
}

// One line per method: the whole boundary at a glance (rustfmt would spread it out).
#[rustfmt::skip]
impl Engine for MyRaft {
    fn restore(config: Config, durable: Durable<'_>, jitter: JitterSource) -> Result<Self, Error> {
        // Rebuild from what the server's disk kept; draw election jitter only from `jitter`.
        RawNode::restore(config, durable, jitter).map(|node| MyRaft { node })
    }
    fn tick(&mut self) { self.node.tick() }
    fn campaign(&mut self) { self.node.campaign() }
    fn step(&mut self, message: Message) -> Result<(), Error> { self.node.step(message) }
    fn propose(&mut self, data: Vec<u8>) -> Result<Proposal, Error> { self.node.propose(data) }
    fn propose_conf_change(&mut self, change: ConfChange) -> Result<Proposal, Error> {
        self.node.propose_conf_change(change)
    }
    fn apply_conf_change(&mut self, change: &ConfChange) -> Result<ConfState, Error> {
        self.node.apply_conf_change(change)
    }
    fn read_index(&mut self, context: Vec<u8>) -> Result<(), Error> { self.node.read_index(context) }
    fn transfer_leader(&mut self, to: NodeId) -> Result<(), Error> { self.node.transfer_leader(to) }
    fn report_snapshot(&mut self, to: NodeId, status: SnapshotStatus) {
        self.node.report_snapshot(to, status)
    }
    fn has_ready(&self) -> bool { self.node.has_ready() }
    fn ready(&mut self) -> Ready { self.node.ready() }
    fn persist_ready(&mut self, ready: &Ready) { Engine::persist_ready(&mut self.node, ready) }
    fn advance(&mut self) { self.node.advance() }
    fn compact(&mut self, data: Vec<u8>) -> Result<Snapshot, Error> { self.node.compact(data) }
    fn id(&self) -> NodeId { self.node.id() }
    fn role(&self) -> Role { self.node.role() }
    fn term(&self) -> u64 { self.node.term() }
    fn vote(&self) -> Option<NodeId> { self.node.vote() }
    fn leader(&self) -> Option<NodeId> { self.node.leader() }
    fn commit_index(&self) -> u64 { self.node.commit_index() }
    fn conf_state(&self) -> ConfState { self.node.conf_state() }
    fn first_index(&self) -> u64 { self.node.first_index() }
    fn last_index(&self) -> u64 { self.node.last_index() }
    fn term_at(&self, index: u64) -> Option<u64> { self.node.term_at(index) }
    fn promotable(&self) -> bool { self.node.promotable() }
    fn has_unapplied_conf_change(&self) -> bool { self.node.has_unapplied_conf_change() }
    fn stored_log(&self) -> (u64, Cow<'_, [Entry]>) { Engine::stored_log(&self.node) }
}

fn main() {
    let report = Campaign::new::<MyRaft>("my-raft").seeds(0..20).run();
    println!("{report}");
    report.assert_passed();
}

#[test]
fn my_raft_passes_a_short_campaign() {
    // Short safety phases keep `cargo test` quick; a CI job would run more and longer seeds.
    Campaign::new::<MyRaft>("my-raft")
        .seeds(0..3)
        .duration_ms(2_000)
        .run()
        .assert_passed();
}
