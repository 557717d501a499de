//! The echo workload of BRIEF §12: every node is an echo server and a client doing sequential
//! request/response exchanges round-robin with its peers. Used by the criterion benchmark and by
//! `raftsim bench echo`; it also makes a small, fully deterministic test workload.

use crate::network::LinkConfig;
use crate::node::{Context, Node};
use crate::simulation::{SimConfig, Simulation};
use crate::{NANOS_PER_MILLI, NodeId, SimError};

#[derive(Clone, Debug, Hash)]
pub enum EchoMessage {
    Request { seq: u64 },
    Response { seq: u64 },
}

pub struct EchoNode {
    id: NodeId,
    node_count: NodeId,
    exchanges_target: u64,
    exchanges_done: u64,
    next_peer_offset: NodeId,
}

impl EchoNode {
    pub fn new(id: NodeId, node_count: NodeId, exchanges_target: u64) -> Self {
        assert!(node_count >= 2, "echo needs a peer");
        Self {
            id,
            node_count,
            exchanges_target,
            exchanges_done: 0,
            next_peer_offset: 1,
        }
    }

    pub fn exchanges_done(&self) -> u64 {
        self.exchanges_done
    }

    fn send_next(&mut self, ctx: &mut Context<'_, EchoMessage, ()>) {
        if self.exchanges_done == self.exchanges_target {
            return;
        }
        // Offsets run 1, 2, ..., n - 1, 1, ...: every peer in turn, without a division.
        let mut peer = self.id + self.next_peer_offset;
        if peer >= self.node_count {
            peer -= self.node_count;
        }
        self.next_peer_offset = if self.next_peer_offset + 1 == self.node_count {
            1
        } else {
            self.next_peer_offset + 1
        };
        ctx.send(
            peer,
            EchoMessage::Request {
                seq: self.exchanges_done,
            },
        );
    }
}

impl Node for EchoNode {
    type Admin = String;
    type Message = EchoMessage;
    type Timer = ();

    fn on_start(&mut self, ctx: &mut Context<'_, EchoMessage, ()>) {
        self.send_next(ctx);
    }

    #[inline]
    fn on_message(
        &mut self,
        ctx: &mut Context<'_, EchoMessage, ()>,
        from: NodeId,
        message: EchoMessage,
    ) {
        match message {
            EchoMessage::Request { seq } => ctx.send(from, EchoMessage::Response { seq }),
            EchoMessage::Response { seq } => {
                assert_eq!(
                    seq,
                    self.exchanges_done,
                    "{} got a response out of order",
                    crate::names::server(self.id)
                );
                self.exchanges_done += 1;
                self.send_next(ctx);
            }
        }
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, EchoMessage, ()>, _timer: ()) {}
}

#[derive(Clone, Copy, Debug)]
pub struct EchoConfig {
    pub node_count: usize,
    pub exchanges_per_node: u64,
    pub link: LinkConfig,
    pub seed: u64,
}

impl Default for EchoConfig {
    /// BRIEF §12: 5 nodes, 20,000 exchanges each, latency uniform 1–10 ms, no loss.
    fn default() -> Self {
        Self {
            node_count: 5,
            exchanges_per_node: 20_000,
            link: LinkConfig {
                latency_ns_min: NANOS_PER_MILLI,
                latency_ns_max: 10 * NANOS_PER_MILLI,
                drop_probability: 0.0,
                duplicate_probability: 0.0,
            },
            seed: 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EchoReport {
    pub messages_delivered: u64,
    pub events: u64,
    pub simulated_ns: u64,
    pub trace_hash: u64,
}

/// Runs the echo workload to completion.
pub fn run_echo(config: EchoConfig) -> Result<EchoReport, SimError> {
    let node_count = config.node_count as NodeId;
    let target = config.exchanges_per_node;
    let sim_config = SimConfig {
        link: config.link,
        ..SimConfig::new(config.node_count)
    };
    let mut sim = Simulation::new(sim_config, config.seed, move |id| {
        EchoNode::new(id, node_count, target)
    })?;
    sim.run_to_end();
    for id in 0..node_count {
        let done = sim.node(id).map_or(0, EchoNode::exchanges_done);
        assert_eq!(
            done,
            target,
            "echo node {} finished {done} of {target} exchanges",
            crate::names::server(id)
        );
    }
    Ok(EchoReport {
        messages_delivered: sim.stats().messages_delivered,
        events: sim.stats().events,
        simulated_ns: sim.now_ns(),
        trace_hash: sim.trace_hash().value(),
    })
}
