//! The Raft implementations a run's servers may use (BRIEF §13): which one ([`EngineChoice`]:
//! ours, tikv/raft-rs, or an engine a library user registered under a name with [`register`]),
//! and [`AnyEngine`], the one engine type the harness's servers hold.
//!
//! Our engine is a variant of its own, so our runs call `raft::RawNode` through one predictable
//! branch; every other engine sits behind `Box<dyn Engine>` (a trait object: those adapters
//! convert every message anyway, so one indirect call more does not show).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use engine::{Durable, Engine};
use raft::{
    ConfChange, ConfState, Entry, Error, JitterSource, MemStorage, Message, NodeId, Proposal,
    RawNode, Ready, Role, Snapshot, SnapshotStatus,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngineChoice {
    /// Our `raft` crate (the only one with planted bugs and `conf_change_on_append`).
    #[default]
    Ours,
    /// tikv/raft-rs 0.7 through `raftrs-engine`.
    RaftRs,
    /// An engine registered by a library user under this name.
    Custom(String),
}

impl EngineChoice {
    pub fn is_ours(&self) -> bool {
        matches!(self, EngineChoice::Ours)
    }

    /// The one line a user reads when this engine cannot express `feature`.
    pub fn refuses(&self, feature: &str) -> String {
        format!("engine {self} does not support {feature}")
    }
}

impl fmt::Display for EngineChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineChoice::Ours => f.write_str("ours"),
            EngineChoice::RaftRs => f.write_str("raft-rs"),
            EngineChoice::Custom(name) => f.write_str(name),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown engine {0:?} (ours, raft-rs)")]
pub struct UnknownEngine(pub String);

/// `ours` and `raft-rs`; any other name must have been registered in this process.
impl FromStr for EngineChoice {
    type Err = UnknownEngine;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "ours" => Ok(EngineChoice::Ours),
            "raft-rs" => Ok(EngineChoice::RaftRs),
            name if is_registered(name) => Ok(EngineChoice::Custom(name.to_string())),
            name => Err(UnknownEngine(name.to_string())),
        }
    }
}

impl Serialize for EngineChoice {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Any name reads back (a results file may name an engine this process has not registered;
/// starting a run with it is refused then, with its name).
impl<'de> Deserialize<'de> for EngineChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "ours" => EngineChoice::Ours,
            "raft-rs" => EngineChoice::RaftRs,
            _ => EngineChoice::Custom(text),
        })
    }
}

/// Writes `AnyEngine`'s methods once: `$call!(self, method(args))` per method.
macro_rules! engine_methods {
    ($self:ident, $call:ident) => {
        fn tick(&mut $self) { $call!($self, tick()) }
        fn campaign(&mut $self) { $call!($self, campaign()) }
        fn step(&mut $self, message: Message) -> Result<(), Error> { $call!($self, step(message)) }
        fn propose(&mut $self, data: Vec<u8>) -> Result<Proposal, Error> {
            $call!($self, propose(data))
        }
        fn propose_conf_change(&mut $self, change: ConfChange) -> Result<Proposal, Error> {
            $call!($self, propose_conf_change(change))
        }
        fn apply_conf_change(&mut $self, change: &ConfChange) -> Result<ConfState, Error> {
            $call!($self, apply_conf_change(change))
        }
        fn read_index(&mut $self, context: Vec<u8>) -> Result<(), Error> {
            $call!($self, read_index(context))
        }
        fn transfer_leader(&mut $self, to: NodeId) -> Result<(), Error> {
            $call!($self, transfer_leader(to))
        }
        fn report_snapshot(&mut $self, to: NodeId, status: SnapshotStatus) {
            $call!($self, report_snapshot(to, status))
        }
        fn has_ready(&$self) -> bool { $call!($self, has_ready()) }
        fn ready(&mut $self) -> Ready { $call!($self, ready()) }
        fn persist_ready(&mut $self, ready: &Ready) { $call!($self, persist_ready(ready)) }
        fn advance(&mut $self) { $call!($self, advance()) }
        fn recycle(&mut $self, ready: Ready) { $call!($self, recycle(ready)) }
        fn take_marks(&mut $self) -> raft::MarkCounts { $call!($self, take_marks()) }
        fn compact(&mut $self, data: Vec<u8>) -> Result<Snapshot, Error> {
            $call!($self, compact(data))
        }
        fn id(&$self) -> NodeId { $call!($self, id()) }
        fn role(&$self) -> Role { $call!($self, role()) }
        fn term(&$self) -> u64 { $call!($self, term()) }
        fn vote(&$self) -> Option<NodeId> { $call!($self, vote()) }
        fn leader(&$self) -> Option<NodeId> { $call!($self, leader()) }
        fn commit_index(&$self) -> u64 { $call!($self, commit_index()) }
        fn conf_state(&$self) -> ConfState { $call!($self, conf_state()) }
        fn first_index(&$self) -> u64 { $call!($self, first_index()) }
        fn last_index(&$self) -> u64 { $call!($self, last_index()) }
        fn term_at(&$self, index: u64) -> Option<u64> { $call!($self, term_at(index)) }
        fn promotable(&$self) -> bool { $call!($self, promotable()) }
        fn has_unapplied_conf_change(&$self) -> bool { $call!($self, has_unapplied_conf_change()) }
        fn voters(&$self) -> Cow<'_, raft::JointConfig> { $call!($self, voters()) }
        fn is_voter(&$self, id: NodeId) -> bool { $call!($self, is_voter(id)) }
        fn wants_snapshot(&$self) -> bool { $call!($self, wants_snapshot()) }
        fn stored_log(&$self) -> (u64, Cow<'_, [Entry]>) { $call!($self, stored_log()) }
    };
}

/// The engine a harness server holds: ours, or any other boxed.
// Ours stays inline (one server holds one engine; boxing it would add a pointer chase to every
// call on our hot path to save memory on the rarer other engines).
#[allow(clippy::large_enum_variant)]
pub enum AnyEngine {
    Ours(RawNode<MemStorage>),
    Other(Box<dyn Engine>),
}

impl AnyEngine {
    /// The learners of the configuration in effect.
    pub fn learners(&self) -> Cow<'_, std::collections::BTreeSet<NodeId>> {
        match self {
            AnyEngine::Ours(node) => Cow::Borrowed(node.learners()),
            AnyEngine::Other(engine) => Cow::Owned(engine.conf_state().learners),
        }
    }

    /// Our engine's node, for what only it offers (scripts' progress views, `campaign` tests).
    pub fn as_ours(&self) -> Option<&RawNode<MemStorage>> {
        match self {
            AnyEngine::Ours(node) => Some(node),
            AnyEngine::Other(_) => None,
        }
    }

    pub fn as_ours_mut(&mut self) -> Option<&mut RawNode<MemStorage>> {
        match self {
            AnyEngine::Ours(node) => Some(node),
            AnyEngine::Other(_) => None,
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $method:ident($($arg:expr),*)) => {
        match $self {
            AnyEngine::Ours(node) => Engine::$method(node, $($arg),*),
            AnyEngine::Other(node) => node.$method($($arg),*),
        }
    };
}

impl Engine for AnyEngine {
    /// Our engine; others are started by [`start`].
    fn restore(
        config: raft::Config,
        durable: Durable<'_>,
        jitter: JitterSource,
    ) -> Result<Self, Error> {
        RawNode::restore(config, durable, jitter).map(AnyEngine::Ours)
    }
    engine_methods!(self, dispatch);
}

/// Builds a registered engine's node from its durable state (see [`Engine::restore`]).
pub type EngineFactory = Arc<
    dyn Fn(raft::Config, Durable<'_>, JitterSource) -> Result<Box<dyn Engine>, Error> + Send + Sync,
>;

static REGISTERED: RwLock<BTreeMap<String, EngineFactory>> = RwLock::new(BTreeMap::new());

/// Makes an engine written outside raftsim available under `name` (`--engine NAME`, a
/// `RunConfig`'s `engine`) in this process. `ours` and `raft-rs` are taken.
pub fn register<E: Engine + 'static>(name: &str) {
    assert!(
        !matches!(name, "ours" | "raft-rs"),
        "engine name {name} is taken by a built-in engine"
    );
    let factory: EngineFactory = Arc::new(|config, durable, jitter| {
        E::restore(config, durable, jitter).map(|node| Box::new(node) as Box<dyn Engine>)
    });
    REGISTERED
        .write()
        .expect("engine registry lock")
        .insert(name.to_string(), factory);
}

pub fn is_registered(name: &str) -> bool {
    REGISTERED
        .read()
        .expect("engine registry lock")
        .contains_key(name)
}

/// Starts the chosen engine's node from its durable state.
pub fn start(
    choice: &EngineChoice,
    config: raft::Config,
    durable: Durable<'_>,
    jitter: JitterSource,
) -> Result<AnyEngine, Error> {
    match choice {
        EngineChoice::Ours => AnyEngine::restore(config, durable, jitter),
        EngineChoice::RaftRs => raftrs_engine::RaftRsNode::restore(config, durable, jitter)
            .map(|node| AnyEngine::Other(Box::new(node))),
        EngineChoice::Custom(name) => {
            let factory = REGISTERED
                .read()
                .expect("engine registry lock")
                .get(name)
                .cloned()
                .ok_or_else(|| Error::ProposalDropped {
                    reason: format!("engine {name} is not registered in this process"),
                })?;
            factory(config, durable, jitter).map(AnyEngine::Other)
        }
    }
}
