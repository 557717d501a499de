//! The cluster as simulator nodes: KV servers, the sharded service's multi-raft servers
//! (`shardkv::Host`), and clients of either, each a [`sim::Node`]. Servers reach the simulator
//! through [`SimEnv`], an adapter from `kv::Env` to `sim::Context`.

use std::fmt;
use std::hash::{Hash, Hasher};

use kv::{
    Clerk, ClerkAction, ClerkConfig, HistoryRecord, ServerConfig, TimerToken, Wire, Workload,
    WorkloadConfig,
};
use shardkv::{Host, HostConfig, Jitters};
use sim::{Context, NodeId, RngStream, SeedRng, TimerId};

use super::admin::AdminCommand;
use crate::engines::{self, AnyEngine, EngineChoice};
use engine::Engine as _;

/// A KV server of the harness: the KV state machine on the run's engine.
pub type Server = kv::Server<kv::KvStateMachine, AnyEngine>;

/// What travels on the simulated network: the KV service's messages, or the sharded
/// service's. One service per run, so a run's messages are all of one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetMessage {
    Kv(Wire),
    Sharded(shardkv::Wire),
}

/// What the trace digests of every message (the simulator hashes each one it sends): all of
/// its content, a Raft message field by field with the small fields packed into one word (see
/// [`hash_raft_message`]), which costs a fraction of hashing it as derived.
impl Hash for NetMessage {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            NetMessage::Kv(wire) => hash_wire(wire, state),
            NetMessage::Sharded(wire) => {
                state.write_u64(SHARDED_MESSAGE_TAG);
                match wire {
                    shardkv::Wire::Group { group, wire } => {
                        state.write_u64(u64::from(*group));
                        hash_wire(wire, state);
                    }
                    shardkv::Wire::Controller(wire) => {
                        state.write_u64(CONTROLLER_MESSAGE_TAG);
                        hash_wire(wire, state);
                    }
                    other => other.hash(state),
                }
            }
        }
    }
}

/// Mixed into the digest of every sharded-service message.
const SHARDED_MESSAGE_TAG: u64 = 0x5348_4152_4445_4421;
/// Mixed into the digest of the sharded service's controller messages.
const CONTROLLER_MESSAGE_TAG: u64 = 0x4354_524c_4d53_4721;

/// A service's message: Raft's field by field, a client's request or reply as derived.
#[inline]
fn hash_wire<O: Hash, R: Hash, H: Hasher>(wire: &Wire<O, R>, state: &mut H) {
    match wire {
        Wire::Raft(message) => hash_raft_message(message, state),
        Wire::Request(request) => {
            state.write_u64(1);
            request.hash(state);
        }
        Wire::Reply(reply) => {
            state.write_u64(2);
            reply.hash(state);
        }
    }
}

/// Every field of a Raft message: the kind, the flags and the lengths packed into one word,
/// the sender and receiver in another (ids are far below 2^32), one word per number, then each
/// entry (term, index, kind and length, data) and the ReadIndex context. Destructured in full,
/// so a field added to `raft::Message` does not compile until it is digested here.
#[inline]
fn hash_raft_message<H: Hasher>(message: &raft::Message, state: &mut H) {
    let raft::Message {
        kind,
        from,
        to,
        term,
        log_term,
        index,
        entries,
        commit,
        snapshot,
        reject,
        reject_hint,
        context,
        read_round,
        leader_transfer,
        transferee,
    } = message;
    state.write_u64(
        *kind as u64
            | u64::from(*reject) << 8
            | u64::from(*leader_transfer) << 9
            | u64::from(snapshot.is_some()) << 10
            | (entries.len() as u64) << 16
            | (context.len() as u64) << 40,
    );
    state.write_u64(from ^ to.rotate_left(32));
    for word in [
        *term,
        *log_term,
        *index,
        *commit,
        *reject_hint,
        *read_round,
        *transferee,
    ] {
        state.write_u64(word);
    }
    for entry in entries.iter() {
        state.write_u64(entry.term);
        state.write_u64(entry.index);
        state.write_u64((entry.data.len() as u64) << 8 | entry.kind as u64);
        state.write(&entry.data);
    }
    state.write(context);
    if let Some(snapshot) = snapshot {
        snapshot.hash(state);
    }
}

impl NetMessage {
    /// The KV message, for cluster scripts (which run the KV service).
    pub fn kv(&self) -> &Wire {
        match self {
            NetMessage::Kv(wire) => wire,
            NetMessage::Sharded(wire) => panic!("a KV cluster carried a sharded message: {wire}"),
        }
    }
}

/// The message's one text (`kv::Wire`'s or `shardkv::Wire`'s).
impl fmt::Display for NetMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetMessage::Kv(wire) => write!(f, "{wire}"),
            NetMessage::Sharded(wire) => write!(f, "{wire}"),
        }
    }
}

/// A service's message, put on the network.
pub trait IntoNet {
    fn into_net(self) -> NetMessage;
}

impl IntoNet for Wire {
    fn into_net(self) -> NetMessage {
        NetMessage::Kv(self)
    }
}

impl IntoNet for shardkv::Wire {
    fn into_net(self) -> NetMessage {
        NetMessage::Sharded(self)
    }
}

/// Timers of cluster nodes.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum NodeTimer {
    /// A server's Raft tick.
    Tick,
    /// A clerk's retry or deadline timer.
    Clerk(u64),
    /// A client's pause between operations.
    Think,
}

type Ctx<'a, 'b> = &'a mut Context<'b, NetMessage, NodeTimer>;

/// `kv::Env` over a simulator context, for KV servers and multi-raft hosts alike.
pub struct SimEnv<'a, 'b> {
    pub ctx: Ctx<'a, 'b>,
}

impl<W: IntoNet> kv::Env<W> for SimEnv<'_, '_> {
    fn send(&mut self, to: u64, wire: W) {
        self.ctx.send(to as NodeId, wire.into_net());
    }

    fn append(&mut self, file: &'static str, bytes: Vec<u8>) {
        self.ctx.append(file, bytes);
    }

    fn replace(&mut self, file: &'static str, bytes: Vec<u8>) {
        self.ctx.replace(file, bytes);
    }

    fn truncate(&mut self, file: &'static str, len: u64) {
        self.ctx.truncate(file, len as usize);
    }

    fn read(&self, file: &'static str) -> Vec<u8> {
        self.ctx.disk().read(file).into_owned()
    }

    fn sync(&mut self, token: u64) {
        self.ctx.sync(token);
    }

    fn set_tick_timer(&mut self, delay_ns: u64) {
        self.ctx.set_timer(delay_ns, NodeTimer::Tick);
    }

    fn local_time_ns(&self) -> u64 {
        self.ctx.local_time_ns()
    }
}

/// A server process: its configuration survives crashes (it is how the process is launched);
/// the `Server` itself is rebuilt from disk on every start.
pub struct ServerNode {
    pub config: ServerConfig,
    engine: EngineChoice,
    jitter: Option<RngStream>,
    pub server: Option<Server>,
}

impl ServerNode {
    pub fn new(config: ServerConfig, engine: EngineChoice, jitter: RngStream) -> Self {
        Self {
            config,
            engine,
            jitter: Some(jitter),
            server: None,
        }
    }

    fn start(&mut self, ctx: Ctx<'_, '_>) {
        let mut stream = self.jitter.take().expect("a server process starts once");
        let election_tick = self.config.raft.election_tick;
        let jitter = Box::new(move || stream.below(election_tick));
        let mut env = SimEnv { ctx };
        let choice = &self.engine;
        let start = |config, durable: ::engine::Durable<'_>, jitter| {
            engines::start(choice, config, durable, jitter)
        };
        let server = Server::on_start_with(self.config.clone(), jitter, &mut env, start)
            .expect("the harness validated the Raft configuration");
        self.server = Some(server);
    }
}

/// A multi-raft server process of the sharded service. Its configuration survives crashes; the
/// `Host` is rebuilt from disk on every start.
pub struct HostNode {
    pub config: HostConfig,
    /// Election jitter of its replica and, when it hosts one, its controller replica.
    jitters: Option<(RngStream, Option<RngStream>)>,
    pub host: Option<Host>,
}

impl HostNode {
    pub fn new(config: HostConfig, replica: RngStream, controller: Option<RngStream>) -> Self {
        Self {
            config,
            jitters: Some((replica, controller)),
            host: None,
        }
    }

    fn start(&mut self, ctx: Ctx<'_, '_>) {
        let (mut replica, controller) = self.jitters.take().expect("a server process starts once");
        let election_tick = self.config.replica.raft.election_tick;
        let jitters = Jitters {
            replica: Box::new(move || replica.below(election_tick)),
            controller: controller.map(|mut stream| -> raft::JitterSource {
                Box::new(move || stream.below(election_tick))
            }),
        };
        let host = Host::on_start(self.config.clone(), jitters, &mut SimEnv { ctx })
            .expect("the harness validated the Raft configurations");
        self.host = Some(host);
    }
}

/// A client's clerk: the KV service's, or the sharded service's.
pub enum ClientClerk {
    Kv(Clerk),
    Sharded(shardkv::Clerk),
}

/// A client process: a clerk driven by the workload, recording its history.
pub struct ClientNode {
    pub index: usize,
    clerk: ClientClerk,
    workload: Workload,
    rng: RngStream,
    /// No operation starts at or after this virtual time.
    workload_end_ns: u64,
    /// The clerk's live timers by token (at most two), so those it no longer needs are
    /// cancelled.
    timers: ClerkTimers,
    pub history: Vec<HistoryRecord>,
}

impl ClientNode {
    pub fn new(
        index: usize,
        clerk: ClientClerk,
        workload: WorkloadConfig,
        workload_end_ns: u64,
        root: SeedRng,
    ) -> Self {
        Self {
            index,
            clerk,
            workload: Workload::new(workload).expect("the harness validated the workload"),
            rng: root.stream(&format!("workload-client-{index}")),
            workload_end_ns,
            timers: ClerkTimers::default(),
            history: Vec::new(),
        }
    }

    /// A KV clerk for the client at `address`.
    pub fn kv_clerk(address: u64, servers: Vec<u64>, config: ClerkConfig) -> ClientClerk {
        ClientClerk::Kv(Clerk::new(address, servers, config))
    }

    pub fn is_idle(&self) -> bool {
        match &self.clerk {
            ClientClerk::Kv(clerk) => clerk.is_idle(),
            ClientClerk::Sharded(clerk) => clerk.is_idle(),
        }
    }

    /// The sharded service: this client's outstanding write, if it has one.
    pub fn pending_write(&self) -> Option<shardkv::PendingWrite> {
        match &self.clerk {
            ClientClerk::Kv(_) => None,
            ClientClerk::Sharded(clerk) => clerk.pending_write(),
        }
    }

    /// Starts a scripted operation now, sent first to `server` when given (a script names where
    /// a client sends; KV clients only). Returns false, doing nothing, while an operation is
    /// outstanding.
    pub fn invoke(&mut self, ctx: Ctx<'_, '_>, op: kv::Op, server: Option<u64>) -> bool {
        if !self.is_idle() {
            return false;
        }
        let now = ctx.global_time_ns();
        match &mut self.clerk {
            ClientClerk::Kv(clerk) => {
                if let Some(server) = server {
                    clerk.set_leader_guess(server);
                }
                let actions = clerk.invoke(op, now);
                self.perform(ctx, actions);
            }
            ClientClerk::Sharded(clerk) => {
                let actions = clerk.invoke(op, now);
                self.perform_sharded(ctx, actions);
            }
        }
        true
    }

    /// Ends the run: an operation still outstanding is recorded as indefinite.
    pub fn finish(&mut self) {
        let abandoned = match &mut self.clerk {
            ClientClerk::Kv(clerk) => clerk.abandon(),
            ClientClerk::Sharded(clerk) => clerk.abandon(),
        };
        self.history.extend(abandoned);
    }

    fn think(&mut self, ctx: Ctx<'_, '_>) {
        let delay = self.workload.think_time(self.rng.generator());
        ctx.set_timer(delay.max(1), NodeTimer::Think);
    }

    fn start_next(&mut self, ctx: Ctx<'_, '_>) {
        let now = ctx.global_time_ns();
        if now >= self.workload_end_ns {
            return;
        }
        let Some(op) = self.workload.next_op(self.index, self.rng.generator()) else {
            return;
        };
        match &mut self.clerk {
            ClientClerk::Kv(clerk) => {
                let actions = clerk.invoke(op, now);
                self.perform(ctx, actions);
            }
            ClientClerk::Sharded(clerk) => {
                let actions = clerk.invoke(op, now);
                self.perform_sharded(ctx, actions);
            }
        }
    }

    fn on_message(&mut self, ctx: Ctx<'_, '_>, from: NodeId, message: NetMessage) {
        let now = ctx.global_time_ns();
        match (&mut self.clerk, message) {
            (ClientClerk::Kv(clerk), NetMessage::Kv(Wire::Reply(reply))) => {
                let actions = clerk.on_reply(u64::from(from), reply, now);
                self.perform(ctx, actions);
            }
            (ClientClerk::Sharded(clerk), NetMessage::Sharded(wire)) => {
                let actions = clerk.on_message(u64::from(from), wire, now);
                self.perform_sharded(ctx, actions);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: Ctx<'_, '_>, token: TimerToken) {
        self.timers.remove(token.0);
        let now = ctx.global_time_ns();
        match &mut self.clerk {
            ClientClerk::Kv(clerk) => {
                let actions = clerk.on_timer(token, now);
                self.perform(ctx, actions);
            }
            ClientClerk::Sharded(clerk) => {
                let actions = clerk.on_timer(token, now);
                self.perform_sharded(ctx, actions);
            }
        }
    }

    fn perform(&mut self, ctx: Ctx<'_, '_>, actions: Vec<ClerkAction>) {
        for action in actions {
            match action {
                ClerkAction::Send { to, request } => {
                    ctx.send(to as NodeId, NetMessage::Kv(Wire::Request(request)));
                }
                ClerkAction::SetTimer { token, delay_ns } => {
                    let id = ctx.set_timer(delay_ns, NodeTimer::Clerk(token.0));
                    self.timers.insert(token.0, id);
                }
                ClerkAction::CancelTimer { token } => {
                    if let Some(id) = self.timers.remove(token.0) {
                        ctx.cancel_timer(id);
                    }
                }
                ClerkAction::Completed(record) => self.completed(ctx, record),
            }
        }
    }

    fn perform_sharded(&mut self, ctx: Ctx<'_, '_>, actions: Vec<shardkv::ClerkAction>) {
        for action in actions {
            match action {
                shardkv::ClerkAction::Send { to, wire } => {
                    ctx.send(to as NodeId, NetMessage::Sharded(wire));
                }
                shardkv::ClerkAction::SetTimer { token, delay_ns } => {
                    ctx.set_timer(delay_ns, NodeTimer::Clerk(token.0));
                }
                shardkv::ClerkAction::Completed(record) => self.completed(ctx, record),
            }
        }
    }

    fn completed(&mut self, ctx: Ctx<'_, '_>, record: HistoryRecord) {
        if let Some(result) = &record.result {
            self.workload.observe(self.index, &record.op, result);
        }
        self.history.push(record);
        self.think(ctx);
    }
}

/// A clerk's live timers by token: a clerk has at most two, so a short list.
#[derive(Default)]
struct ClerkTimers {
    timers: Vec<(u64, TimerId)>,
}

impl ClerkTimers {
    /// Remembers timer `id` for `token`, in place of any earlier one.
    fn insert(&mut self, token: u64, id: TimerId) {
        match self.timers.iter_mut().find(|(t, _)| *t == token) {
            Some(entry) => entry.1 = id,
            None => self.timers.push((token, id)),
        }
    }

    fn remove(&mut self, token: u64) -> Option<TimerId> {
        let position = self.timers.iter().position(|(t, _)| *t == token)?;
        Some(self.timers.swap_remove(position).1)
    }
}

pub enum ClusterNode {
    Server(Box<ServerNode>),
    Host(Box<HostNode>),
    Client(Box<ClientNode>),
}

impl ClusterNode {
    pub fn as_server(&self) -> Option<&Server> {
        match self {
            ClusterNode::Server(node) => node.server.as_ref(),
            _ => None,
        }
    }

    pub fn as_server_mut(&mut self) -> Option<&mut Server> {
        match self {
            ClusterNode::Server(node) => node.server.as_mut(),
            _ => None,
        }
    }

    pub fn as_host(&self) -> Option<&Host> {
        match self {
            ClusterNode::Host(node) => node.host.as_ref(),
            _ => None,
        }
    }

    pub fn as_host_mut(&mut self) -> Option<&mut Host> {
        match self {
            ClusterNode::Host(node) => node.host.as_mut(),
            _ => None,
        }
    }

    pub fn as_client(&self) -> Option<&ClientNode> {
        match self {
            ClusterNode::Client(node) => Some(node),
            _ => None,
        }
    }

    pub fn as_client_mut(&mut self) -> Option<&mut ClientNode> {
        match self {
            ClusterNode::Client(node) => Some(node),
            _ => None,
        }
    }
}

impl sim::Node for ClusterNode {
    type Message = NetMessage;
    type Timer = NodeTimer;
    type Admin = AdminCommand;

    fn on_start(&mut self, ctx: Ctx<'_, '_>) {
        match self {
            ClusterNode::Server(node) => node.start(ctx),
            ClusterNode::Host(node) => node.start(ctx),
            ClusterNode::Client(client) => client.think(ctx),
        }
    }

    fn on_message(&mut self, ctx: Ctx<'_, '_>, from: NodeId, message: NetMessage) {
        match (self, message) {
            (ClusterNode::Server(node), NetMessage::Kv(wire)) => {
                let server = node.server.as_mut().expect("a started server");
                server.on_message(&mut SimEnv { ctx }, u64::from(from), wire);
            }
            (ClusterNode::Host(node), NetMessage::Sharded(wire)) => {
                let host = node.host.as_mut().expect("a started server");
                host.on_message(&mut SimEnv { ctx }, u64::from(from), wire);
            }
            (ClusterNode::Client(client), message) => client.on_message(ctx, from, message),
            (_, message) => unreachable!("{message} reached a server of the other service"),
        }
    }

    fn on_timer(&mut self, ctx: Ctx<'_, '_>, timer: NodeTimer) {
        match (self, timer) {
            (ClusterNode::Server(node), NodeTimer::Tick) => {
                let server = node.server.as_mut().expect("a started server");
                server.on_tick(&mut SimEnv { ctx });
            }
            (ClusterNode::Host(node), NodeTimer::Tick) => {
                let host = node.host.as_mut().expect("a started server");
                host.on_tick(&mut SimEnv { ctx });
            }
            (ClusterNode::Client(client), NodeTimer::Think) => client.start_next(ctx),
            (ClusterNode::Client(client), NodeTimer::Clerk(token)) => {
                client.on_timer(ctx, TimerToken(token));
            }
            (_, timer) => unreachable!("timer {timer:?} set by another kind of node"),
        }
    }

    fn on_sync(&mut self, ctx: Ctx<'_, '_>, token: u64) {
        match self {
            ClusterNode::Server(node) => {
                let server = node.server.as_mut().expect("a started server");
                server.on_sync(&mut SimEnv { ctx }, token);
            }
            ClusterNode::Host(node) => {
                let host = node.host.as_mut().expect("a started server");
                host.on_sync(&mut SimEnv { ctx }, token);
            }
            ClusterNode::Client(_) => {}
        }
    }

    /// An operator's command reaches a server as an operator would send it: a membership change
    /// proposed if this KV server is a leader that accepts it, a controller change if this
    /// multi-raft server's controller replica leads; refused otherwise (the outcome goes to the
    /// log).
    fn on_admin(&mut self, ctx: Ctx<'_, '_>, command: &AdminCommand) {
        let outcome = match (self, command) {
            (ClusterNode::Server(node), AdminCommand::ConfChange(change)) => {
                // A command due at time zero can come before the process has started.
                let Some(server) = node.server.as_mut() else {
                    ctx.log("admin", || format!("{command}: refused: not started yet"));
                    return;
                };
                server
                    .with_raft(&mut SimEnv { ctx: &mut *ctx }, |raft| {
                        raft.propose_conf_change(change.clone())
                    })
                    .map(|proposal| proposal.to_string())
                    .map_err(|error| error.to_string())
            }
            (ClusterNode::Host(node), AdminCommand::Controller(change)) => match &mut node.host {
                Some(host) => host
                    .on_operator_change(&mut SimEnv { ctx: &mut *ctx }, change)
                    .map(|index| format!("appended at index {index}")),
                None => Err("not started yet".to_string()),
            },
            _ => Err("not a command of this server's service".to_string()),
        };
        ctx.log("admin", || match outcome {
            Ok(done) => format!("{command}: {done}"),
            Err(error) => format!("{command}: refused: {error}"),
        });
    }
}
