//! A probe node that records what happens to it, and lets tests drive it through
//! `Simulation::with_node`.

use sim::{Context, Node, NodeId};

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Probe {
    Ping(u64),
}

/// What a probe observed, with the virtual time of each observation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    Started {
        disk_log: Vec<u8>,
    },
    Message {
        from: NodeId,
        value: u64,
        at_ns: u64,
    },
    Timer {
        tag: u64,
        at_ns: u64,
    },
    Synced {
        token: u64,
        at_ns: u64,
    },
    Admin {
        command: String,
        at_ns: u64,
    },
}

#[derive(Default)]
pub struct ProbeNode {
    pub seen: Vec<Seen>,
}

impl Node for ProbeNode {
    type Admin = String;
    type Message = Probe;
    type Timer = u64;

    fn on_start(&mut self, ctx: &mut Context<'_, Probe, u64>) {
        let disk_log = ctx.disk().read("log").into_owned();
        self.seen.push(Seen::Started { disk_log });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Probe, u64>, from: NodeId, message: Probe) {
        let Probe::Ping(value) = message;
        self.seen.push(Seen::Message {
            from,
            value,
            at_ns: ctx.global_time_ns(),
        });
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Probe, u64>, tag: u64) {
        self.seen.push(Seen::Timer {
            tag,
            at_ns: ctx.global_time_ns(),
        });
    }

    fn on_sync(&mut self, ctx: &mut Context<'_, Probe, u64>, token: u64) {
        self.seen.push(Seen::Synced {
            token,
            at_ns: ctx.global_time_ns(),
        });
    }

    fn on_admin(&mut self, ctx: &mut Context<'_, Probe, u64>, command: &String) {
        self.seen.push(Seen::Admin {
            command: command.clone(),
            at_ns: ctx.global_time_ns(),
        });
    }
}

impl ProbeNode {
    pub fn messages(&self) -> Vec<u64> {
        self.seen
            .iter()
            .filter_map(|seen| match seen {
                Seen::Message { value, .. } => Some(*value),
                _ => None,
            })
            .collect()
    }

    pub fn timers(&self) -> Vec<(u64, u64)> {
        self.seen
            .iter()
            .filter_map(|seen| match seen {
                Seen::Timer { tag, at_ns } => Some((*tag, *at_ns)),
                _ => None,
            })
            .collect()
    }
}

pub fn probes(node_count: usize, link: sim::LinkConfig, seed: u64) -> sim::Simulation<ProbeNode> {
    let config = sim::SimConfig {
        link,
        ..sim::SimConfig::new(node_count)
    };
    sim::Simulation::new(config, seed, |_| ProbeNode::default()).expect("valid config")
}

/// A link with a fixed 1 ms latency and no loss.
pub fn fixed_link() -> sim::LinkConfig {
    sim::LinkConfig {
        latency_ns_min: sim::NANOS_PER_MILLI,
        latency_ns_max: sim::NANOS_PER_MILLI,
        drop_probability: 0.0,
        duplicate_probability: 0.0,
    }
}

pub fn send(sim: &mut sim::Simulation<ProbeNode>, from: NodeId, to: NodeId, value: u64) {
    sim.with_node(from, |_, ctx| ctx.send(to, Probe::Ping(value)))
        .expect("sender is up");
}
