//! The simulated network: per-link latency, loss and duplication; partitions into groups;
//! one-way link cuts; held links, which keep what is sent until they are released (a link that
//! stalls and then delivers its backlog late, as a healed TCP connection does). Reordering comes from latency jitter. Reachability is kept as a dense
//! matrix for the per-message check and exposed as a petgraph graph for quorum queries.

use petgraph::graphmap::{DiGraphMap, UnGraphMap};
use serde::{Deserialize, Serialize};

use crate::NodeId;
use crate::rng::RngStream;

/// How one directed link behaves.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkConfig {
    /// Latency is uniform in `latency_ns_min..=latency_ns_max`.
    pub latency_ns_min: u64,
    pub latency_ns_max: u64,
    /// Probability that a message is lost.
    pub drop_probability: f64,
    /// Probability that a delivered message is delivered a second time, with its own latency.
    pub duplicate_probability: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            latency_ns_min: 1_000_000,
            latency_ns_max: 10_000_000,
            drop_probability: 0.0,
            duplicate_probability: 0.0,
        }
    }
}

impl LinkConfig {
    pub fn validate(&self) -> Result<(), crate::SimError> {
        if self.latency_ns_min > self.latency_ns_max {
            return Err(crate::SimError::Config(format!(
                "link latency minimum {} ns exceeds maximum {} ns",
                self.latency_ns_min, self.latency_ns_max
            )));
        }
        for (name, p) in [
            ("drop", self.drop_probability),
            ("duplicate", self.duplicate_probability),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(crate::SimError::Config(format!(
                    "{name} probability {p} is outside 0..=1"
                )));
            }
        }
        Ok(())
    }
}

/// Partition group 0 is "unpartitioned": its members reach everyone. Nodes named in a
/// partition get groups 1.., and reach only their own group and group 0. This keeps clients,
/// which a partition of the servers usually leaves out, talking to every server.
const GROUP_EVERYWHERE: u32 = 0;

/// Everything a send looks up about one directed link, side by side so a message costs one
/// lookup.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Route {
    pub config: LinkConfig,
    /// Derived from the partition groups and the cuts, recomputed on every change.
    pub up: bool,
    /// Messages wait, in order, until the link is released.
    pub held: bool,
    /// Neither loss nor duplication: a send draws only its latency.
    pub lossless: bool,
    /// The number of latencies `config` allows, `latency_ns_max - latency_ns_min + 1`; 0 when
    /// that is 2^64 (every `u64`).
    pub latency_span: u64,
}

impl Route {
    /// A latency drawn uniformly from the link's range: `range_inclusive` over
    /// `latency_ns_min..=latency_ns_max`, its span computed once per link.
    #[inline(always)]
    pub fn draw_latency(&self, rng: &mut RngStream) -> u64 {
        match self.latency_span {
            0 => rng.next_u64(),
            span => self.config.latency_ns_min + rng.below(span),
        }
    }

    fn new(config: LinkConfig) -> Self {
        Route {
            config,
            up: true,
            held: false,
            lossless: config.drop_probability <= 0.0 && config.duplicate_probability <= 0.0,
            latency_span: (config.latency_ns_max - config.latency_ns_min).wrapping_add(1),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Network {
    node_count: usize,
    /// `routes[from * n + to]`.
    routes: Vec<Route>,
    group: Vec<u32>,
    cut: Vec<bool>,
    /// Whether any link is held.
    any_held: bool,
    /// Whether every link is up (no partition, no cut): deliveries skip the per-link check.
    all_up: bool,
}

impl Network {
    pub fn new(node_count: usize, link: LinkConfig) -> Self {
        let cells = node_count * node_count;
        Self {
            node_count,
            routes: vec![Route::new(link); cells],
            group: vec![GROUP_EVERYWHERE; node_count],
            cut: vec![false; cells],
            any_held: false,
            all_up: true,
        }
    }

    pub fn node_count(&self) -> usize {
        self.node_count
    }

    #[inline]
    fn cell(&self, from: NodeId, to: NodeId) -> usize {
        // Callers pass node ids below `node_count` (at most `NODES_MAX`): this cannot wrap.
        (from as usize)
            .wrapping_mul(self.node_count)
            .wrapping_add(to as usize)
    }

    #[inline]
    pub(crate) fn route(&self, from: NodeId, to: NodeId) -> &Route {
        &self.routes[self.cell(from, to)]
    }

    #[inline]
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        &self.route(from, to).config
    }

    /// Whether a message sent now from `from` to `to` can arrive.
    #[inline]
    pub fn is_up(&self, from: NodeId, to: NodeId) -> bool {
        self.all_up || self.route(from, to).up
    }

    /// Sets loss and duplication on every link matching `from`/`to` (`None` matches all).
    pub fn set_loss(
        &mut self,
        from: Option<NodeId>,
        to: Option<NodeId>,
        drop_probability: f64,
        duplicate_probability: f64,
    ) {
        for a in 0..self.node_count as NodeId {
            for b in 0..self.node_count as NodeId {
                if from.is_none_or(|f| f == a) && to.is_none_or(|t| t == b) {
                    let cell = self.cell(a, b);
                    let route = &mut self.routes[cell];
                    route.config.drop_probability = drop_probability;
                    route.config.duplicate_probability = duplicate_probability;
                    route.lossless = drop_probability <= 0.0 && duplicate_probability <= 0.0;
                }
            }
        }
    }

    /// Splits the named nodes into groups that cannot talk to each other. Unnamed nodes keep
    /// reaching everyone. Replaces any earlier partition; one-way cuts stay.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        self.group.fill(GROUP_EVERYWHERE);
        for (index, members) in groups.iter().enumerate() {
            for &node in members {
                self.group[node as usize] = index as u32 + 1;
            }
        }
        self.recompute();
    }

    /// Cuts the link `from -> to` only; the other direction keeps working.
    pub fn cut_link(&mut self, from: NodeId, to: NodeId) {
        let cell = self.cell(from, to);
        self.cut[cell] = true;
        self.recompute();
    }

    pub fn restore_link(&mut self, from: NodeId, to: NodeId) {
        let cell = self.cell(from, to);
        self.cut[cell] = false;
        self.recompute();
    }

    /// Removes every partition and cut (loss settings stay). Held links stay held: the
    /// simulation releases them, since releasing delivers what they hold.
    pub fn heal(&mut self) {
        self.group.fill(GROUP_EVERYWHERE);
        self.cut.fill(false);
        self.recompute();
    }

    /// Holds the link `from -> to`: what is sent on it waits until it is released.
    pub fn hold_link(&mut self, from: NodeId, to: NodeId) {
        let cell = self.cell(from, to);
        self.routes[cell].held = true;
        self.any_held = true;
    }

    /// Stops holding `from -> to`; returns whether it was held.
    pub fn release_link(&mut self, from: NodeId, to: NodeId) -> bool {
        let cell = self.cell(from, to);
        let was = std::mem::replace(&mut self.routes[cell].held, false);
        self.any_held = self.routes.iter().any(|route| route.held);
        was
    }

    /// Whether a message sent now on `from -> to` waits for the link's release.
    #[inline]
    pub fn is_held(&self, from: NodeId, to: NodeId) -> bool {
        self.any_held && self.route(from, to).held
    }

    /// Every held link, in (from, to) order.
    pub fn held_links(&self) -> Vec<(NodeId, NodeId)> {
        let n = self.node_count;
        (0..self.routes.len())
            .filter(|&cell| self.routes[cell].held)
            .map(|cell| ((cell / n) as NodeId, (cell % n) as NodeId))
            .collect()
    }

    fn recompute(&mut self) {
        for from in 0..self.node_count {
            for to in 0..self.node_count {
                let cell = from * self.node_count + to;
                let (a, b) = (self.group[from], self.group[to]);
                let same_side = a == GROUP_EVERYWHERE || b == GROUP_EVERYWHERE || a == b;
                self.routes[cell].up = from == to || (same_side && !self.cut[cell]);
            }
        }
        self.all_up = self.routes.iter().all(|route| route.up);
    }

    /// Directed graph of working links among `members`.
    pub fn graph(&self, members: &[NodeId]) -> DiGraphMap<NodeId, ()> {
        let mut graph = DiGraphMap::new();
        for &node in members {
            graph.add_node(node);
        }
        for &from in members {
            for &to in members {
                if from != to && self.is_up(from, to) {
                    graph.add_edge(from, to, ());
                }
            }
        }
        graph
    }

    /// Undirected graph of links that work in both directions: what a request/response
    /// protocol such as Raft needs.
    pub fn two_way_graph(&self, members: &[NodeId]) -> UnGraphMap<NodeId, ()> {
        let mut graph = UnGraphMap::new();
        for &node in members {
            graph.add_node(node);
        }
        for (i, &a) in members.iter().enumerate() {
            for &b in &members[i + 1..] {
                if self.is_up(a, b) && self.is_up(b, a) {
                    graph.add_edge(a, b, ());
                }
            }
        }
        graph
    }

    /// Whether `node` talks both ways, directly, with a majority of `members` (itself included).
    pub fn can_reach_majority(&self, node: NodeId, members: &[NodeId]) -> bool {
        let graph = self.two_way_graph(members);
        if !graph.contains_node(node) {
            return false;
        }
        let reachable = graph.neighbors(node).count() + 1;
        reachable > members.len() / 2
    }

    /// The members that can reach a majority of `members`, in id order.
    pub fn nodes_with_majority(&self, members: &[NodeId]) -> Vec<NodeId> {
        let graph = self.two_way_graph(members);
        let mut nodes: Vec<NodeId> = members
            .iter()
            .copied()
            .filter(|&node| graph.neighbors(node).count() + 1 > members.len() / 2)
            .collect();
        nodes.sort_unstable();
        nodes
    }

    /// Connected groups of `members` over two-way links, each sorted, ordered by first member.
    pub fn components(&self, members: &[NodeId]) -> Vec<Vec<NodeId>> {
        let graph = self.two_way_graph(members);
        let mut components: Vec<Vec<NodeId>> = petgraph::algo::tarjan_scc(&graph)
            .into_iter()
            .map(|mut component| {
                component.sort_unstable();
                component
            })
            .collect();
        components.sort();
        components
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_splits_groups_and_leaves_unnamed_nodes_connected() {
        let mut network = Network::new(6, LinkConfig::default());
        network.partition(&[vec![0, 1], vec![2, 3, 4]]);
        assert!(network.is_up(0, 1));
        assert!(!network.is_up(0, 2));
        assert!(!network.is_up(4, 1));
        assert!(network.is_up(5, 0) && network.is_up(2, 5));
        let servers = [0, 1, 2, 3, 4];
        assert_eq!(network.nodes_with_majority(&servers), vec![2, 3, 4]);
        assert_eq!(
            network.components(&servers),
            vec![vec![0, 1], vec![2, 3, 4]]
        );
        network.heal();
        assert_eq!(network.nodes_with_majority(&servers), servers.to_vec());
    }

    #[test]
    fn one_way_cut_breaks_two_way_reachability() {
        let mut network = Network::new(3, LinkConfig::default());
        network.cut_link(0, 1);
        network.cut_link(0, 2);
        assert!(!network.is_up(0, 1));
        assert!(network.is_up(1, 0));
        assert!(!network.can_reach_majority(0, &[0, 1, 2]));
        assert!(network.can_reach_majority(1, &[0, 1, 2]));
        assert_eq!(network.graph(&[0, 1, 2]).edge_count(), 4);
    }
}
