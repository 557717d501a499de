//! A recorded run as plain data: what the renderers draw. Filled by the simulator's harness
//! (`scenarios::record`), saved and loaded as JSON; nothing here knows how a run is simulated.

use serde::{Deserialize, Serialize};

/// Nodes are numbered `0..servers + clients`; servers come first.
pub type NodeId = u32;

/// A server's role as the report shows it. `Down` covers a crashed process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
    Down,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
            Role::Down => "down",
        }
    }

    /// One character for the terminal timeline.
    pub fn letter(self) -> char {
        match self {
            Role::Follower => '.',
            Role::PreCandidate => 'p',
            Role::Candidate => 'C',
            Role::Leader => 'L',
            Role::Down => 'x',
        }
    }
}

/// A server's role or term changed at `time_ns`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleChange {
    pub time_ns: u64,
    pub node: NodeId,
    pub role: Role,
    pub term: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    Partition,
    Cut,
    Crash,
    Pause,
    Clock,
    LinkLoss,
    /// An operator's command to a server (a membership change): a mark, not a span.
    Admin,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Cut => "one-way cut",
            FaultKind::Crash => "crash",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::LinkLoss => "link loss",
            FaultKind::Admin => "admin",
        }
    }
}

/// A fault in force from `start_ns` to `end_ns` (the end of the run if never undone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultBand {
    pub kind: FaultKind,
    pub start_ns: u64,
    pub end_ns: u64,
    /// The servers it concerns; empty for faults on every link.
    pub nodes: Vec<NodeId>,
    /// In words, e.g. `partition {n0,n1} | {n2,n3,n4}`.
    pub label: String,
}

/// One line of the fault schedule as given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledFault {
    pub at_ns: u64,
    pub action: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fate", rename_all = "kebab-case")]
pub enum MessageFate {
    InFlight,
    Delivered { at_ns: u64 },
    Dropped { at_ns: u64 },
}

/// One copy of one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub sent_ns: u64,
    /// Short kind, e.g. `Append`, `VoteResponse`, `Request`.
    pub kind: String,
    /// Details for the reader, e.g. `term=3 index=7 entries=2 commit=6`.
    pub detail: String,
    pub duplicate: bool,
    pub fate: MessageFate,
    /// Why it was dropped, when it was.
    pub drop_reason: Option<String>,
}

impl Message {
    pub fn end_ns(&self) -> Option<u64> {
        match self.fate {
            MessageFate::InFlight => None,
            MessageFate::Delivered { at_ns } | MessageFate::Dropped { at_ns } => Some(at_ns),
        }
    }
}

/// A client operation with what the checker made of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub client: NodeId,
    pub seq: u64,
    /// E.g. `put("x", "1") -> ok`.
    pub text: String,
    pub call_ns: u64,
    /// `None`: indefinite (no answer by the end of the run).
    pub return_ns: Option<u64>,
    /// Index into `RunRecord::partitions`.
    pub partition: usize,
    /// 1-based position in its partition's linearization (or longest linearizable prefix).
    pub order: Option<usize>,
    /// The operation the checker could not place.
    pub stuck: bool,
    /// Part of the minimized illegal sub-history.
    pub witness: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSummary {
    pub label: String,
    /// `ok`, `illegal` or `unknown`.
    pub verdict: String,
    pub operations: usize,
    /// For an illegal partition: the model state after the longest linearizable prefix.
    pub state_after_prefix: Option<String>,
}

/// The checker's verdict over the whole history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub verdict: String,
    pub partitions: Vec<PartitionSummary>,
    /// The checker's own text report.
    pub text: String,
}

/// A server's state when the run stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerState {
    pub node: NodeId,
    pub role: Role,
    pub term: u64,
    pub commit_index: u64,
    pub last_index: u64,
    pub applied_index: u64,
    /// Terms of the last entries of its log, oldest first: (index, term).
    pub log_tail: Vec<(u64, u64)>,
}

/// The sharded service's groups, and which shards each served over time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub shard_count: usize,
    /// The replica groups, in order (`g1` first).
    pub groups: Vec<GroupRecord>,
    /// The servers hosting the controller's replicas.
    pub controller: Vec<NodeId>,
    /// In time order; every group serves no shard at time 0.
    pub serving: Vec<ShardServing>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// E.g. `g1`.
    pub name: String,
    pub servers: Vec<NodeId>,
}

/// From `time_ns` on, group `group` (an index into `ShardRecord::groups`) serves `shards`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardServing {
    pub time_ns: u64,
    pub group: usize,
    pub shards: Vec<usize>,
}

impl ShardRecord {
    /// The name of the group `node` belongs to.
    pub fn group_of(&self, node: NodeId) -> Option<&str> {
        self.groups
            .iter()
            .find(|group| group.servers.contains(&node))
            .map(|group| group.name.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationRecord {
    /// E.g. `state-machine-safety`.
    pub property: String,
    pub nodes: Vec<NodeId>,
    pub term: Option<u64>,
    pub index: Option<u64>,
    pub time_ns: u64,
    /// The oracle's or checker's message.
    pub message: String,
    /// The property and this instance of its violation, in sentences.
    pub explanation: Vec<String>,
}

/// Everything a report shows about one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub seed: u64,
    /// The command that reproduces the run.
    pub command: String,
    /// The drawn configuration as (key, value) pairs, in display order.
    pub config: Vec<(String, String)>,
    pub servers: u32,
    pub clients: u32,
    /// Every node's name, by node id (servers, then clients), as the harness names them.
    pub names: Vec<String>,
    /// When the safety phase ended and every fault was healed.
    pub safety_end_ns: u64,
    /// When the run stopped.
    pub end_ns: u64,
    pub schedule: Vec<ScheduledFault>,
    pub faults: Vec<FaultBand>,
    /// In time order; each server starts as a follower of term 0 at time 0.
    pub roles: Vec<RoleChange>,
    /// In send order.
    pub messages: Vec<Message>,
    /// Sends over the recorder's bound, counted but not kept.
    pub messages_not_kept: u64,
    /// In call order.
    pub operations: Vec<Operation>,
    pub check: Option<CheckRecord>,
    pub violation: Option<ViolationRecord>,
    pub servers_at_end: Vec<ServerState>,
    /// Counters as (name, value).
    pub stats: Vec<(String, u64)>,
    pub trace_hash: String,
    /// The sharded service's groups and shards (`None` for the KV service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<ShardRecord>,
}

impl RunRecord {
    pub fn verdict(&self) -> &'static str {
        if self.violation.is_some() {
            "FAIL"
        } else {
            "PASS"
        }
    }

    /// A server's lane label: its name, and its group for the sharded service (`n4 g2`).
    pub fn lane_name(&self, node: NodeId) -> String {
        let group = self
            .shards
            .as_ref()
            .and_then(|shards| shards.group_of(node));
        match group {
            Some(group) => format!("{} {group}", self.node_name(node)),
            None => self.node_name(node),
        }
    }

    /// A node's name (`n1`, `c2`), as the record's producer named it.
    pub fn node_name(&self, node: NodeId) -> String {
        self.names
            .get(node as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{node}"))
    }

    /// The moment the report centres on: the violation, or for a history that is not
    /// linearizable the failing operation's call (its return when it is late).
    pub fn focus_ns(&self) -> u64 {
        if let Some(stuck) = self.operations.iter().find(|op| op.stuck) {
            return stuck.return_ns.unwrap_or(stuck.call_ns);
        }
        match &self.violation {
            Some(violation) => violation.time_ns,
            None => self.end_ns,
        }
    }
}

/// One seed of a campaign for the index page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRow {
    pub seed: u64,
    /// `pass`, `fail`, ...
    pub verdict: String,
    /// The violated property, empty when it passed.
    pub kind: String,
    /// One line about the run (configuration or violation message).
    pub summary: String,
    /// Relative link to the seed's report, when one was written.
    pub report: Option<String>,
}
