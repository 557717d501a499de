//! A multi-raft server (seed 000's multi-raft, seed 004's shardkv server): one process at one
//! network address hosting its replica group's Raft replica and possibly one of the
//! controller's, sharing the process's disk, clock and address. Messages carry their group.
//! Ticks and disk syncs are batched per server, as multi-raft systems do: one tick timer
//! ticks every hosted group, and every sync the groups ask for during one event becomes one
//! sync of the disk.
//!
//! The replica group's leader also runs the group's background work on every poll (every
//! `poll_ticks` ticks): it asks the controller for the configuration after its own once every
//! shard has settled, pulls the shards it gained from their previous owners, and tells those
//! owners once it has installed them. What it learns it proposes through its group's log.
//!
//! That work is closed-loop, so a slow group cannot be flooded by it: the leader has at most
//! one query at the controller (asked again, of the next replica, after a wait that doubles
//! with each unanswered round of the replicas) and never proposes a command of its own while
//! the same one is in its log not yet applied. Polling open-loop, every poll added a
//! controller entry per group and every pull or delete reply a group entry; with one append of
//! one entry in flight (`max_inflight_msgs = 1`) a log grew faster than it replicated and the
//! commands the groups waited for never applied (swarm seeds 28, 217 and 417).
//!
//! The host reaches Raft only through `kv::Server` (and its `is_leader` and `term`), so the
//! engine behind it can change without touching this module.

use std::collections::BTreeMap;

use kv::persist::{HARDSTATE_FILE, LOG_FILE, SNAPSHOT_FILE};
use kv::{ClientRequest, ReplyOutcome, Server, ServerConfig};
use raft::JitterSource;

use crate::config::{Config, GROUPS_MAX, GroupId, Layout, SHARDS_MAX};
use crate::controller::{CtrlOp, CtrlReply, CtrlStateMachine, OPERATOR_CLIENT, OperatorChange};
use crate::group::{GroupCommand, GroupOptions, GroupStateMachine, ShardStatus};
use crate::mutant::Mutant;
use crate::wire::{CtrlWire, Wire};

/// The world as a host sees it: `kv::Env` sending the sharded service's messages.
pub trait Env: kv::Env<Wire> {}

impl<E: kv::Env<Wire>> Env for E {}

/// How a server process is launched; survives its crashes.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub address: u64,
    pub layout: Layout,
    /// Its replica group's replica (`state_machine.group` is its group).
    pub replica: ServerConfig<GroupOptions>,
    /// Its controller replica, if it hosts one (`state_machine` is configuration 1).
    pub controller: Option<ServerConfig<Config>>,
    pub tick_ns: u64,
    /// The replica group's leader polls every this many ticks.
    pub poll_ticks: u64,
}

/// Which of the host's Raft groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Hosted {
    Controller,
    Replica,
}

macro_rules! group_files {
    ($($prefix:literal),*) => {
        [$([concat!($prefix, "/hardstate"), concat!($prefix, "/snapshot"), concat!($prefix, "/log")]),*]
    };
}

/// Each Raft group's files on the shared disk: the controller's, then `g1`'s, ...
const FILES: [[&str; 3]; GROUPS_MAX + 1] =
    group_files!("ctrl", "g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8");

/// A `kv::Env` for one hosted group: its messages tagged with the group, its files under the
/// group's name, its syncs collected for the host's one sync, its tick timer the host's.
struct Scoped<'a, E> {
    env: &'a mut E,
    /// `FILES` row.
    files: usize,
    group: GroupId,
    hosted: Hosted,
    syncs: &'a mut Vec<(Hosted, u64)>,
}

impl<E> Scoped<'_, E> {
    fn file(&self, file: &'static str) -> &'static str {
        let column = match file {
            HARDSTATE_FILE => 0,
            SNAPSHOT_FILE => 1,
            LOG_FILE => 2,
            other => unreachable!("kv::Server writes no file `{other}`"),
        };
        FILES[self.files][column]
    }
}

/// What a hosted group's server sends, tagged for the shared network.
trait Tagged {
    fn tagged(self, group: GroupId) -> Wire;
}

impl Tagged for kv::Wire {
    fn tagged(self, group: GroupId) -> Wire {
        Wire::Group { group, wire: self }
    }
}

impl Tagged for CtrlWire {
    fn tagged(self, _group: GroupId) -> Wire {
        Wire::Controller(self)
    }
}

impl<E: Env, W: Tagged> kv::Env<W> for Scoped<'_, E> {
    fn send(&mut self, to: u64, wire: W) {
        self.env.send(to, wire.tagged(self.group));
    }

    fn append(&mut self, file: &'static str, bytes: Vec<u8>) {
        let file = self.file(file);
        self.env.append(file, bytes);
    }

    fn replace(&mut self, file: &'static str, bytes: Vec<u8>) {
        let file = self.file(file);
        self.env.replace(file, bytes);
    }

    fn truncate(&mut self, file: &'static str, len: u64) {
        let file = self.file(file);
        self.env.truncate(file, len);
    }

    fn read(&self, file: &'static str) -> Vec<u8> {
        self.env.read(self.file(file))
    }

    fn sync(&mut self, token: u64) {
        self.syncs.push((self.hosted, token));
    }

    /// The host ticks every group on its own timer.
    fn set_tick_timer(&mut self, _delay_ns: u64) {}

    fn local_time_ns(&self) -> u64 {
        self.env.local_time_ns()
    }
}

/// The sources of election jitter of a host's groups.
pub struct Jitters {
    pub replica: JitterSource,
    pub controller: Option<JitterSource>,
}

pub struct Host {
    config: HostConfig,
    replica: Server<GroupStateMachine>,
    controller: Option<Server<CtrlStateMachine>>,
    /// Syncs the groups asked for during the current event.
    unsynced: Vec<(Hosted, u64)>,
    /// The host's syncs in flight, with the group syncs each covers.
    syncing: BTreeMap<u64, Vec<(Hosted, u64)>>,
    next_sync_token: u64,
    ticks: u64,
    /// The controller replica (index into the layout's) the poller asks next.
    controller_guess: usize,
    /// The poller asked and has had no answer yet.
    query_outstanding: bool,
    /// Polls since the outstanding query was asked.
    query_age_polls: u64,
    /// Asks in a row that went unanswered: the wait before the next one doubles after each
    /// round of the controller's replicas.
    queries_unanswered: u64,
    next_query_seq: u64,
    /// The leader's own commands in its log not yet applied, each with its (index, term): the
    /// same command is not proposed again while one of them may still apply.
    proposed: BTreeMap<Vec<u8>, (u64, u64)>,
    /// The configuration whose pulls this host last answered as leader, and the shards it sent.
    answered: (u64, Vec<usize>),
    /// Pulls answered with a shard already sent for the same configuration (a coverage mark:
    /// the first reply was lost or late, and what the old owner still holds is all it can send
    /// again).
    pulls_answered_again: u64,
    /// Client writes that reached this group's leader for a shard it was handing off (refused;
    /// taking them is `write-after-handoff`): the harness's `write-while-handing-off` mark.
    writes_while_handing_off: u64,
    /// Client requests (retries too) that reached this group's leader for a shard it was still
    /// pulling (serving them before the data arrives is `serve-before-install`): the harness's
    /// `request-while-pulling` mark.
    requests_while_pulling: u64,
}

/// The wait for a query's answer in the first round of the replicas: a replica that is down or
/// not the leader is passed over at the next poll.
const QUERY_WAIT_POLLS_MIN: u64 = 1;
/// The longest wait between asks, reached after a few unanswered rounds of the replicas (a
/// controller log slow to commit, or queries lost).
const QUERY_WAIT_POLLS_MAX: u64 = 16;
/// Bounds the leader's own commands pending at once.
const PROPOSED_MAX: usize = 4 * GROUPS_MAX + 32;

impl Host {
    /// Starts every hosted group from what survived on the shared disk.
    pub fn on_start(
        config: HostConfig,
        jitters: Jitters,
        env: &mut impl Env,
    ) -> Result<Host, raft::Error> {
        let mut unsynced = Vec::new();
        let group = config.replica.state_machine.group;
        let replica = {
            let mut scoped = scoped(env, group, Hosted::Replica, &mut unsynced);
            Server::on_start(config.replica.clone(), jitters.replica, &mut scoped)?
        };
        let controller = match (&config.controller, jitters.controller) {
            (Some(server), Some(jitter)) => {
                let mut scoped = scoped(env, group, Hosted::Controller, &mut unsynced);
                Some(Server::on_start(server.clone(), jitter, &mut scoped)?)
            }
            (None, None) => None,
            _ => panic!("a controller replica needs its own jitter, and only it"),
        };
        let mut host = Host {
            config,
            replica,
            controller,
            unsynced,
            syncing: BTreeMap::new(),
            next_sync_token: 0,
            ticks: 0,
            controller_guess: 0,
            query_outstanding: false,
            query_age_polls: 0,
            queries_unanswered: 0,
            next_query_seq: 1,
            proposed: BTreeMap::new(),
            answered: (0, Vec::new()),
            pulls_answered_again: 0,
            writes_while_handing_off: 0,
            requests_while_pulling: 0,
        };
        env.set_tick_timer(host.config.tick_ns);
        host.flush_syncs(env);
        Ok(host)
    }

    pub fn group(&self) -> GroupId {
        self.config.replica.state_machine.group
    }

    pub fn replica(&self) -> &Server<GroupStateMachine> {
        &self.replica
    }

    pub fn replica_mut(&mut self) -> &mut Server<GroupStateMachine> {
        &mut self.replica
    }

    pub fn controller(&self) -> Option<&Server<CtrlStateMachine>> {
        self.controller.as_ref()
    }

    pub fn controller_mut(&mut self) -> Option<&mut Server<CtrlStateMachine>> {
        self.controller.as_mut()
    }

    pub fn on_tick(&mut self, env: &mut impl Env) {
        self.ticks += 1;
        if let Some(controller) = &mut self.controller {
            let group = self.config.replica.state_machine.group;
            controller.on_tick(&mut scoped(
                env,
                group,
                Hosted::Controller,
                &mut self.unsynced,
            ));
        }
        self.with_replica(env, |replica, scoped| replica.on_tick(scoped));
        if self.ticks.is_multiple_of(self.config.poll_ticks) {
            self.poll(env);
        }
        env.set_tick_timer(self.config.tick_ns);
        self.flush_syncs(env);
    }

    pub fn on_message(&mut self, env: &mut impl Env, from: u64, wire: Wire) {
        match wire {
            Wire::Group { group, wire } if group == self.group() => {
                if let kv::Wire::Request(request) = &wire {
                    self.note_request(request);
                }
                self.with_replica(env, |replica, scoped| {
                    replica.on_message(scoped, from, wire)
                });
            }
            // Traffic of a group this server is not in: nobody here to take it.
            Wire::Group { .. } => {}
            Wire::Controller(kv::Wire::Reply(reply)) => self.on_query_reply(env, reply),
            Wire::Controller(wire) => {
                let group = self.group();
                if let Some(controller) = &mut self.controller {
                    let mut scoped = scoped(env, group, Hosted::Controller, &mut self.unsynced);
                    controller.on_message(&mut scoped, from, wire);
                }
            }
            Wire::Pull { num, shards, .. } => self.on_pull(env, from, num, &shards),
            Wire::PullReply { num, shards } => {
                let pulling = shards
                    .iter()
                    .any(|(shard, _)| self.status(*shard) == Some(ShardStatus::Pulling));
                if self.replica.is_leader() && self.config_num() == num && pulling {
                    self.propose(env, GroupCommand::Install { num, shards });
                }
            }
            Wire::Delete { num, shards } => self.on_delete(env, from, num, shards),
            Wire::DeleteReply { num, shards } => {
                let waiting: Vec<usize> = shards
                    .into_iter()
                    .filter(|&shard| self.status(shard) == Some(ShardStatus::AwaitingDelete))
                    .collect();
                if self.replica.is_leader() && self.config_num() == num && !waiting.is_empty() {
                    self.propose(
                        env,
                        GroupCommand::Deleted {
                            num,
                            shards: waiting,
                        },
                    );
                }
            }
        }
        self.flush_syncs(env);
    }

    /// The host's sync `token` completed: every group sync it covered is durable.
    pub fn on_sync(&mut self, env: &mut impl Env, token: u64) {
        let Some(covered) = self.syncing.remove(&token) else {
            return;
        };
        let group = self.group();
        for (hosted, group_token) in covered {
            match hosted {
                Hosted::Replica => {
                    let mut scoped = scoped(env, group, Hosted::Replica, &mut self.unsynced);
                    self.replica.on_sync(&mut scoped, group_token);
                }
                Hosted::Controller => {
                    let controller = self
                        .controller
                        .as_mut()
                        .expect("only a hosted controller asks for syncs");
                    let mut scoped = scoped(env, group, Hosted::Controller, &mut self.unsynced);
                    controller.on_sync(&mut scoped, group_token);
                }
            }
        }
        self.flush_syncs(env);
    }

    /// An operator's controller change: proposed if this server's controller replica leads.
    pub fn on_operator_change(
        &mut self,
        env: &mut impl Env,
        change: &OperatorChange,
    ) -> Result<u64, String> {
        let group = self.group();
        let op = change.op(&self.config.layout);
        let Some(controller) = &mut self.controller else {
            return Err("hosts no controller replica".into());
        };
        if !controller.is_leader() {
            return Err("not the controller's leader".into());
        }
        let data = <CtrlStateMachine as kv::StateMachine>::encode_command(
            OPERATOR_CLIENT,
            change.seq,
            &op,
        );
        let mut scoped = scoped(env, group, Hosted::Controller, &mut self.unsynced);
        let index = controller.propose(&mut scoped, data);
        self.flush_syncs(env);
        index.map_err(|error| error.to_string())
    }

    fn with_replica<E: Env>(
        &mut self,
        env: &mut E,
        act: impl FnOnce(&mut Server<GroupStateMachine>, &mut Scoped<'_, E>),
    ) {
        let group = self.group();
        let mut scoped = scoped(env, group, Hosted::Replica, &mut self.unsynced);
        act(&mut self.replica, &mut scoped);
    }

    fn state(&self) -> &GroupStateMachine {
        self.replica.state_machine()
    }

    fn config_num(&self) -> u64 {
        self.state().config().num
    }

    fn status(&self, shard: usize) -> Option<ShardStatus> {
        (shard < self.config.layout.shard_count).then(|| self.state().shard(shard).status)
    }

    /// Configurations apply one at a time: the next only once every shard has settled (the
    /// `config-before-migration` mutant does not wait, here or in the state machine).
    fn may_configure(&self) -> bool {
        let mutants = self.config.replica.state_machine.mutants;
        self.state().is_settled() || mutants.contains(Mutant::ConfigBeforeMigration)
    }

    /// Proposes `command` unless the same command is still on its way to being applied:
    /// whatever prompted it again (a poll, each of the previous owner's servers answering a
    /// pull or delete) comes again if it is still needed once that one has applied.
    fn propose(&mut self, env: &mut impl Env, command: GroupCommand) {
        let (applied, term) = (
            kv::StateMachine::applied_index(self.state()),
            self.replica.term(),
        );
        // A command may still apply if it is not applied yet and was proposed in this term (a
        // leader of a later term may have dropped it).
        self.proposed
            .retain(|_, &mut (index, proposed_term)| index > applied && proposed_term == term);
        let data = command.encode();
        if self.proposed.contains_key(&data) {
            return;
        }
        let mut index = None;
        self.with_replica(env, |replica, scoped| {
            // Refused only when leadership was lost a moment ago: the next poll asks again.
            index = replica.propose(scoped, data.clone()).ok();
        });
        if let Some(index) = index {
            self.proposed.insert(data, (index, term));
        }
        // Each entry is a distinct command of this term not applied yet: a few per
        // configuration (configure, and per other group an install, a deleted, a delete).
        assert!(
            self.proposed.len() <= PROPOSED_MAX,
            "group {} leader: {} of its own commands pending",
            self.group(),
            self.proposed.len()
        );
    }

    /// The leader's background work: the next configuration, pulls, deletes.
    fn poll(&mut self, env: &mut impl Env) {
        if !self.replica.is_leader() {
            return;
        }
        if self.may_configure() {
            self.ask_controller(env);
        }
        let num = self.config_num();
        let previous = self.state().previous().clone();
        let group = self.group();
        for (owner, shards) in self.state().by_previous_owner(ShardStatus::Pulling) {
            for &server in previous.groups.get(&owner).into_iter().flatten() {
                let shards = shards.clone();
                env.send(server, Wire::Pull { group, num, shards });
            }
        }
        for (owner, shards) in self.state().by_previous_owner(ShardStatus::AwaitingDelete) {
            for &server in previous.groups.get(&owner).into_iter().flatten() {
                let shards = shards.clone();
                env.send(server, Wire::Delete { num, shards });
            }
        }
    }

    /// Asks a controller replica for the configuration after this group's; a replica that
    /// did not answer since the last poll is passed over.
    fn ask_controller(&mut self, env: &mut impl Env) {
        let replicas = &self.config.layout.controller;
        if self.query_outstanding {
            self.query_age_polls += 1;
            if self.query_age_polls < self.query_wait_polls() {
                return;
            }
            self.controller_guess = (self.controller_guess + 1) % replicas.len();
            self.queries_unanswered += 1;
        }
        let request = ClientRequest {
            client_id: self.config.address,
            seq: self.next_query_seq,
            op: CtrlOp::Query {
                num: Some(self.config_num() + 1),
            },
        };
        self.next_query_seq += 1;
        self.query_outstanding = true;
        self.query_age_polls = 0;
        let to = replicas[self.controller_guess];
        env.send(to, Wire::Controller(kv::Wire::Request(request)));
    }

    /// A replica down costs one short wait, the same one each, while a slow controller is
    /// asked less often after each round of them: the wait doubles per round.
    fn query_wait_polls(&self) -> u64 {
        let rounds = self.queries_unanswered / self.config.layout.controller.len() as u64;
        QUERY_WAIT_POLLS_MIN
            .saturating_mul(1 << rounds.min(8))
            .min(QUERY_WAIT_POLLS_MAX)
    }

    /// Only the configuration counts as an answer: a replica that refuses (it does not lead)
    /// answers at once, and taking that for one would reset the wait to its shortest, so a
    /// controller whose replicas refuse without forwarding got a query entry from each group
    /// every other poll, more than its log could commit (campaign seed 2821).
    fn on_query_reply(&mut self, env: &mut impl Env, reply: kv::ClientReply<CtrlReply>) {
        self.query_outstanding = false;
        let replicas = &self.config.layout.controller;
        match reply.outcome {
            ReplyOutcome::Ok(CtrlReply::Config(config)) => {
                self.queries_unanswered = 0;
                let next = config.num == self.config_num() + 1;
                if next && self.replica.is_leader() && self.may_configure() {
                    self.propose(env, GroupCommand::Configure(config));
                }
            }
            ReplyOutcome::WrongLeader {
                leader_hint: Some(hint),
            } => {
                if let Some(position) = replicas.iter().position(|&r| r == hint) {
                    self.controller_guess = position;
                }
            }
            _ => self.controller_guess = (self.controller_guess + 1) % replicas.len(),
        }
    }

    /// A new owner asks for shards: the leader sends them once this group has frozen them.
    fn on_pull(&mut self, env: &mut impl Env, from: u64, num: u64, shards: &[usize]) {
        if !self.replica.is_leader() {
            return;
        }
        let Some(handed) = self.state().hand_off(num, shards) else {
            return;
        };
        let sent: Vec<usize> = handed.iter().map(|(shard, _)| *shard).collect();
        self.note_answered(num, &sent);
        env.send(
            from,
            Wire::PullReply {
                num,
                shards: handed,
            },
        );
        let mutants = self.config.replica.state_machine.mutants;
        let still_held = sent
            .iter()
            .any(|&shard| self.status(shard) == Some(ShardStatus::HandingOff));
        if mutants.contains(Mutant::DeleteBeforeConfirm) && still_held {
            self.propose(env, GroupCommand::Delete { num, shards: sent });
        }
    }

    /// Counts a pull answered again with a shard already sent for configuration `num`.
    fn note_answered(&mut self, num: u64, sent: &[usize]) {
        if self.answered.0 != num {
            self.answered = (num, Vec::new());
        }
        let answered = &mut self.answered.1;
        if sent.iter().any(|shard| answered.contains(shard)) {
            self.pulls_answered_again += 1;
        }
        for &shard in sent {
            if !answered.contains(&shard) {
                answered.push(shard);
            }
        }
        assert!(
            answered.len() <= SHARDS_MAX,
            "{} shards answered",
            answered.len()
        );
    }

    /// Counts a client write reaching the group's leader for a shard it is handing off, and a
    /// client request for a shard it is still pulling.
    fn note_request(&mut self, request: &ClientRequest) {
        if !self.replica.is_leader() {
            return;
        }
        let shard = crate::config::shard_of(request.op.key(), self.config.layout.shard_count);
        match self.status(shard) {
            Some(ShardStatus::HandingOff) if !request.op.is_read_only() => {
                self.writes_while_handing_off += 1;
            }
            Some(ShardStatus::Pulling) => self.requests_while_pulling += 1,
            _ => {}
        }
    }

    /// Client requests for a shard being pulled since last asked (see `note_request`).
    pub fn take_requests_while_pulling(&mut self) -> u64 {
        std::mem::take(&mut self.requests_while_pulling)
    }

    /// Client writes for a shard being handed off since last asked (see `note_request`).
    pub fn take_writes_while_handing_off(&mut self) -> u64 {
        std::mem::take(&mut self.writes_while_handing_off)
    }

    /// Pulls answered again since last asked (see `pulls_answered_again`).
    pub fn take_pulls_answered_again(&mut self) -> u64 {
        std::mem::take(&mut self.pulls_answered_again)
    }

    /// A new owner installed shards: drop them (through the log), and say so once dropped.
    fn on_delete(&mut self, env: &mut impl Env, from: u64, num: u64, shards: Vec<usize>) {
        if self.state().has_deleted(num, &shards) {
            env.send(from, Wire::DeleteReply { num, shards });
        } else if self.replica.is_leader() && self.config_num() == num {
            self.propose(env, GroupCommand::Delete { num, shards });
        }
    }

    /// Issues one disk sync for every group sync asked for since the last one.
    fn flush_syncs(&mut self, env: &mut impl Env) {
        if self.unsynced.is_empty() {
            return;
        }
        let token = self.next_sync_token;
        self.next_sync_token += 1;
        self.syncing
            .insert(token, std::mem::take(&mut self.unsynced));
        env.sync(token);
    }
}

fn scoped<'a, E>(
    env: &'a mut E,
    group: GroupId,
    hosted: Hosted,
    syncs: &'a mut Vec<(Hosted, u64)>,
) -> Scoped<'a, E> {
    let files = match hosted {
        Hosted::Controller => 0,
        Hosted::Replica => group as usize,
    };
    assert!(
        files < FILES.len(),
        "g{group}: at most {GROUPS_MAX} groups have files"
    );
    Scoped {
        env,
        files,
        group,
        hosted,
        syncs,
    }
}
