//! The KV server driven without a simulator: an in-memory `Env` per server (files, a sync
//! that completes when the test says so), messages delivered in order. Checks how the server
//! uses Raft as etcd's server would: a follower forwards writes to the leader (unless
//! `disable_proposal_forwarding`), snapshots are reported sent, a removed leader steps down.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use kv::{
    ClientReply, ClientRequest, Env, Op, OpResult, ReadMode, ReplyOutcome, Server, ServerConfig,
    Wire,
};
use raft::{ConfChange, ConfChangeKind, Role};

/// Where replies to clients land: client ids are addresses at or above this.
const CLIENT: u64 = 100;

/// One server's world: its files, its pending sync, and what it sent.
#[derive(Default)]
struct TestEnv {
    files: BTreeMap<&'static str, Vec<u8>>,
    sync: Option<u64>,
    sent: Vec<(u64, Wire)>,
}

impl Env for TestEnv {
    fn send(&mut self, to: u64, wire: Wire) {
        self.sent.push((to, wire));
    }

    fn append(&mut self, file: &'static str, bytes: Vec<u8>) {
        self.files.entry(file).or_default().extend(bytes);
    }

    fn replace(&mut self, file: &'static str, bytes: Vec<u8>) {
        self.files.insert(file, bytes);
    }

    fn truncate(&mut self, file: &'static str, len: u64) {
        self.files.entry(file).or_default().truncate(len as usize);
    }

    fn read(&self, file: &'static str) -> Vec<u8> {
        self.files.get(file).cloned().unwrap_or_default()
    }

    fn sync(&mut self, token: u64) {
        assert!(self.sync.is_none(), "one sync at a time");
        self.sync = Some(token);
    }

    fn set_tick_timer(&mut self, _delay_ns: u64) {}

    fn local_time_ns(&self) -> u64 {
        0
    }
}

struct Cluster {
    servers: Vec<(Server, TestEnv)>,
    /// (from, to, wire) in sending order.
    network: VecDeque<(u64, u64, Wire)>,
    replies: Vec<ClientReply>,
    /// Servers cut off: what they send and what is sent to them is lost.
    isolated: BTreeSet<u64>,
    /// Snapshot messages still to lose.
    snapshots_to_lose: usize,
}

impl Cluster {
    fn new(size: u64, edit: impl Fn(&mut raft::Config)) -> Cluster {
        Cluster::with_snapshot_threshold(size, 1_000, edit)
    }

    fn with_snapshot_threshold(
        size: u64,
        snapshot_threshold_entries: u64,
        edit: impl Fn(&mut raft::Config),
    ) -> Cluster {
        let servers = (0..size)
            .map(|address| {
                let mut raft = raft::Config::new(address + 1);
                edit(&mut raft);
                let config = ServerConfig {
                    address,
                    voters: (0..size).collect(),
                    learners: Vec::new(),
                    raft,
                    tick_ns: 1_000_000,
                    read_mode: ReadMode::ReadIndex,
                    snapshot_threshold_entries,
                    state_machine: kv::StateMachineConfig::default(),
                };
                let mut env = TestEnv::default();
                let server = Server::on_start(config, Box::new(|| 0), &mut env).expect("starts");
                (server, env)
            })
            .collect();
        Cluster {
            servers,
            network: VecDeque::new(),
            replies: Vec::new(),
            isolated: BTreeSet::new(),
            snapshots_to_lose: 0,
        }
    }

    /// Whether the network loses this message.
    fn lost(&mut self, from: u64, to: u64, wire: &Wire) -> bool {
        if self.isolated.contains(&from) || self.isolated.contains(&to) {
            return true;
        }
        let snapshot = matches!(wire, Wire::Raft(m) if m.kind == raft::MessageKind::Snapshot);
        if snapshot && self.snapshots_to_lose > 0 {
            self.snapshots_to_lose -= 1;
            return true;
        }
        false
    }

    /// Every server ticks once; then the cluster settles.
    fn tick_all(&mut self) {
        for (server, env) in &mut self.servers {
            server.on_tick(env);
        }
        self.settle();
    }

    /// Completes syncs and delivers messages until nothing is left.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            let mut busy = false;
            for address in 0..self.servers.len() {
                let (server, env) = &mut self.servers[address];
                if let Some(token) = env.sync.take() {
                    server.on_sync(env, token);
                    busy = true;
                }
                for (to, wire) in std::mem::take(&mut env.sent) {
                    match wire {
                        Wire::Reply(reply) => self.replies.push(reply),
                        wire => self.network.push_back((address as u64, to, wire)),
                    }
                }
            }
            if let Some((from, to, wire)) = self.network.pop_front() {
                if !self.lost(from, to, &wire) {
                    let (server, env) = &mut self.servers[to as usize];
                    server.on_message(env, from, wire);
                }
                busy = true;
            }
            if !busy {
                return;
            }
        }
        panic!("the cluster never settled");
    }

    fn with_raft(
        &mut self,
        address: usize,
        act: impl FnOnce(&mut raft::RawNode<raft::MemStorage>),
    ) {
        let (server, env) = &mut self.servers[address];
        server.with_raft(env, act);
        self.settle();
    }

    fn elect(&mut self, address: usize) {
        self.with_raft(address, |raft| raft.campaign());
        assert_eq!(self.servers[address].0.raft().role(), Role::Leader);
    }

    /// A client's request arrives at server `address`.
    fn request(&mut self, address: usize, seq: u64, op: Op) {
        let request = ClientRequest {
            client_id: CLIENT,
            seq,
            op,
        };
        let (server, env) = &mut self.servers[address];
        server.on_message(env, CLIENT, Wire::Request(request));
        self.settle();
    }

    fn take_replies(&mut self) -> Vec<(u64, ReplyOutcome)> {
        std::mem::take(&mut self.replies)
            .into_iter()
            .map(|reply| (reply.seq, reply.outcome))
            .collect()
    }
}

fn put(key: &str, value: &str) -> Op {
    Op::Put {
        key: key.into(),
        value: value.into(),
    }
}

#[test]
fn a_follower_forwards_a_write_and_answers_once_it_applies_it() {
    let mut cluster = Cluster::new(3, |_| {});
    cluster.elect(0);
    cluster.request(2, 1, put("x", "1"));
    assert_eq!(
        cluster.take_replies(),
        vec![(1, ReplyOutcome::Ok(OpResult::Written))]
    );
    for (server, _) in &cluster.servers {
        assert_eq!(server.state_machine().get("x"), "1");
    }
}

#[test]
fn without_forwarding_a_follower_refuses_a_write_naming_the_leader() {
    let mut cluster = Cluster::new(3, |config| config.disable_proposal_forwarding = true);
    cluster.elect(0);
    cluster.request(2, 1, put("x", "1"));
    assert_eq!(
        cluster.take_replies(),
        vec![(
            1,
            ReplyOutcome::WrongLeader {
                leader_hint: Some(0)
            }
        )]
    );
    assert_eq!(cluster.servers[0].0.state_machine().get("x"), "");
}

#[test]
fn a_follower_whose_leader_changes_tells_its_waiting_clients_the_outcome_is_unknown() {
    // Without CheckQuorum's lease, another node can be elected at once.
    let mut cluster = Cluster::new(3, |config| config.check_quorum = false);
    cluster.elect(0);
    // The forwarded proposal is lost on its way to the leader.
    let (server, env) = &mut cluster.servers[2];
    server.on_message(
        env,
        CLIENT,
        Wire::Request(ClientRequest {
            client_id: CLIENT,
            seq: 1,
            op: put("x", "1"),
        }),
    );
    env.sent.clear();
    assert!(cluster.take_replies().is_empty());
    // Another leader is elected: the write may or may not have been appended by the first.
    cluster.elect(1);
    assert_eq!(cluster.take_replies(), vec![(1, ReplyOutcome::NotReady)]);
}

#[test]
fn a_removed_leader_steps_down() {
    // etcd's server stops a removed member; ours keeps running, so it runs Raft with
    // step_down_on_removal (the raft default is etcd's: keep leading).
    let mut cluster = Cluster::new(3, |_| {});
    assert!(!raft::Config::new(1).step_down_on_removal);
    cluster.elect(0);
    cluster.with_raft(0, |raft| {
        raft.propose_conf_change(ConfChange::single(ConfChangeKind::RemoveNode, 1))
            .expect("the leader accepts the change");
    });
    assert_eq!(cluster.servers[0].0.raft().role(), Role::Follower);
    assert!(cluster.servers[0].0.raft().config().step_down_on_removal);
}

#[test]
fn a_lost_snapshot_is_sent_again() {
    // The server reports a snapshot finished once sent (as etcd's transport does); when the
    // network lost it, the leader's next probe, after a heartbeat, shows it and sends it again.
    let mut cluster = Cluster::with_snapshot_threshold(3, 2, |_| {});
    cluster.elect(0);
    cluster.isolated.insert(2);
    for seq in 1..=6 {
        cluster.request(0, seq, put("x", &seq.to_string()));
    }
    let leader = cluster.servers[0].0.raft();
    assert!(leader.first_index() > 2, "the leader compacted its log");
    cluster.isolated.clear();
    cluster.snapshots_to_lose = 1;
    for _ in 0..10 {
        cluster.tick_all();
    }
    assert_eq!(cluster.snapshots_to_lose, 0, "a snapshot was sent and lost");
    assert_eq!(cluster.servers[2].0.state_machine().get("x"), "6");
}
