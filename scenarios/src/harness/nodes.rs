//! The cluster as simulator nodes: KV servers and clients, each a [`sim::Node`]. Servers reach
//! the simulator through [`SimEnv`], an adapter from `kv::Env` to `sim::Context`.

use kv::{
    Clerk, ClerkAction, ClerkConfig, HistoryRecord, Server, ServerConfig, TimerToken, Wire,
    Workload, WorkloadConfig,
};
use std::collections::BTreeMap;

use sim::{Context, NodeId, RngStream, SeedRng, TimerId};

use super::admin::AdminCommand;

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

type Ctx<'a, 'b> = &'a mut Context<'b, Wire, NodeTimer>;

/// `kv::Env` over a simulator context.
pub struct SimEnv<'a, 'b> {
    pub ctx: Ctx<'a, 'b>,
}

impl kv::Env for SimEnv<'_, '_> {
    fn send(&mut self, to: u64, wire: Wire) {
        self.ctx.send(to as NodeId, wire);
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
    jitter: Option<RngStream>,
    pub server: Option<Server>,
}

impl ServerNode {
    pub fn new(config: ServerConfig, jitter: RngStream) -> Self {
        Self {
            config,
            jitter: Some(jitter),
            server: None,
        }
    }

    fn start(&mut self, ctx: Ctx<'_, '_>) {
        let mut stream = self.jitter.take().expect("a server process starts once");
        let election_tick = self.config.raft.election_tick;
        let jitter = Box::new(move || stream.below(election_tick));
        let mut env = SimEnv { ctx };
        let server = Server::on_start(self.config.clone(), jitter, &mut env)
            .expect("the harness validated the Raft configuration");
        self.server = Some(server);
    }
}

/// A client process: a clerk driven by the workload, recording its history.
pub struct ClientNode {
    pub index: usize,
    clerk: Clerk,
    workload: Workload,
    rng: RngStream,
    /// No operation starts at or after this virtual time.
    workload_end_ns: u64,
    /// The clerk's live timers (at most two), so those it no longer needs are cancelled.
    timers: BTreeMap<u64, TimerId>,
    pub history: Vec<HistoryRecord>,
}

impl ClientNode {
    pub fn new(
        index: usize,
        address: u64,
        servers: Vec<u64>,
        clerk_config: ClerkConfig,
        workload: WorkloadConfig,
        workload_end_ns: u64,
        root: SeedRng,
    ) -> Self {
        Self {
            index,
            clerk: Clerk::new(address, servers, clerk_config),
            workload: Workload::new(workload).expect("the harness validated the workload"),
            rng: root.stream(&format!("workload-client-{index}")),
            workload_end_ns,
            timers: BTreeMap::new(),
            history: Vec::new(),
        }
    }

    pub fn is_idle(&self) -> bool {
        self.clerk.is_idle()
    }

    /// Starts a scripted operation now, sent first to `server` when given (a script names where
    /// a client sends). Returns false, doing nothing, while an operation is outstanding.
    pub fn invoke(&mut self, ctx: Ctx<'_, '_>, op: kv::Op, server: Option<u64>) -> bool {
        if !self.clerk.is_idle() {
            return false;
        }
        if let Some(server) = server {
            self.clerk.set_leader_guess(server);
        }
        let actions = self.clerk.invoke(op, ctx.global_time_ns());
        self.perform(ctx, actions);
        true
    }

    /// Ends the run: an operation still outstanding is recorded as indefinite.
    pub fn finish(&mut self) {
        if let Some(record) = self.clerk.abandon() {
            self.history.push(record);
        }
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
        let actions = self.clerk.invoke(op, now);
        self.perform(ctx, actions);
    }

    fn perform(&mut self, ctx: Ctx<'_, '_>, actions: Vec<ClerkAction>) {
        for action in actions {
            match action {
                ClerkAction::Send { to, request } => ctx.send(to as NodeId, Wire::Request(request)),
                ClerkAction::SetTimer { token, delay_ns } => {
                    let id = ctx.set_timer(delay_ns, NodeTimer::Clerk(token.0));
                    self.timers.insert(token.0, id);
                }
                ClerkAction::CancelTimer { token } => {
                    if let Some(id) = self.timers.remove(&token.0) {
                        ctx.cancel_timer(id);
                    }
                }
                ClerkAction::Completed(record) => {
                    if let Some(result) = &record.result {
                        self.workload.observe(self.index, &record.op, result);
                    }
                    self.history.push(record);
                    self.think(ctx);
                }
            }
        }
    }
}

pub enum ClusterNode {
    Server(Box<ServerNode>),
    Client(Box<ClientNode>),
}

impl ClusterNode {
    pub fn as_server(&self) -> Option<&Server> {
        match self {
            ClusterNode::Server(node) => node.server.as_ref(),
            ClusterNode::Client(_) => None,
        }
    }

    pub fn as_server_mut(&mut self) -> Option<&mut Server> {
        match self {
            ClusterNode::Server(node) => node.server.as_mut(),
            ClusterNode::Client(_) => None,
        }
    }

    pub fn as_client(&self) -> Option<&ClientNode> {
        match self {
            ClusterNode::Client(node) => Some(node),
            ClusterNode::Server(_) => None,
        }
    }

    pub fn as_client_mut(&mut self) -> Option<&mut ClientNode> {
        match self {
            ClusterNode::Client(node) => Some(node),
            ClusterNode::Server(_) => None,
        }
    }
}

impl sim::Node for ClusterNode {
    type Message = Wire;
    type Timer = NodeTimer;
    type Admin = AdminCommand;

    fn on_start(&mut self, ctx: Ctx<'_, '_>) {
        match self {
            ClusterNode::Server(node) => node.start(ctx),
            ClusterNode::Client(client) => client.think(ctx),
        }
    }

    fn on_message(&mut self, ctx: Ctx<'_, '_>, from: NodeId, message: Wire) {
        match self {
            ClusterNode::Server(node) => {
                let server = node.server.as_mut().expect("a started server");
                server.on_message(&mut SimEnv { ctx }, u64::from(from), message);
            }
            ClusterNode::Client(client) => {
                if let Wire::Reply(reply) = message {
                    let now = ctx.global_time_ns();
                    let actions = client.clerk.on_reply(u64::from(from), reply, now);
                    client.perform(ctx, actions);
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: Ctx<'_, '_>, timer: NodeTimer) {
        match (self, timer) {
            (ClusterNode::Server(node), NodeTimer::Tick) => {
                let server = node.server.as_mut().expect("a started server");
                server.on_tick(&mut SimEnv { ctx });
            }
            (ClusterNode::Client(client), NodeTimer::Think) => client.start_next(ctx),
            (ClusterNode::Client(client), NodeTimer::Clerk(token)) => {
                client.timers.remove(&token);
                let now = ctx.global_time_ns();
                let actions = client.clerk.on_timer(TimerToken(token), now);
                client.perform(ctx, actions);
            }
            (_, timer) => unreachable!("timer {timer:?} set by the other kind of node"),
        }
    }

    fn on_sync(&mut self, ctx: Ctx<'_, '_>, token: u64) {
        if let ClusterNode::Server(node) = self {
            let server = node.server.as_mut().expect("a started server");
            server.on_sync(&mut SimEnv { ctx }, token);
        }
    }

    /// A membership change reaches a server as an operator would send it: proposed if this
    /// server is a leader that accepts it, refused otherwise (the outcome goes to the log).
    fn on_admin(&mut self, ctx: Ctx<'_, '_>, command: &AdminCommand) {
        let ClusterNode::Server(node) = self else {
            return;
        };
        // A command due at time zero can come before the process has started.
        let Some(server) = node.server.as_mut() else {
            ctx.log("admin", || format!("{command}: refused: not started yet"));
            return;
        };
        let AdminCommand::ConfChange(change) = command;
        let outcome = server.with_raft(&mut SimEnv { ctx: &mut *ctx }, |raft| {
            raft.propose_conf_change(change.clone())
        });
        ctx.log("admin", || match outcome {
            Ok(proposal) => format!("{command}: {proposal}"),
            Err(error) => format!("{command}: refused: {error}"),
        });
    }
}
