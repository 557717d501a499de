//! The sharded KV's clerk (seed 004, lab 4B): a sans-IO client state machine like
//! `kv::Clerk`, routing each operation by key to shard to group with the latest configuration
//! it knows. A group that does not serve the shard says so (wrong group): the clerk asks the
//! controller for the latest configuration and tries again, with the same sequence number, so
//! the shard's client sessions (which migrate with the shard) apply it at most once wherever it
//! lands. One operation is outstanding at a time; past its deadline it is recorded indefinite.

use std::collections::BTreeMap;

use kv::{
    ClerkClock, ClerkConfig, ClientReply, ClientRequest, HistoryRecord, Op, OpResult, ReplyOutcome,
    TimerToken,
};

use crate::config::{Config, GroupId, shard_of};
use crate::controller::{CtrlOp, CtrlReply};
use crate::wire::Wire;

/// An effect for the caller to carry out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClerkAction {
    Send {
        to: u64,
        wire: Wire,
    },
    SetTimer {
        token: TimerToken,
        delay_ns: u64,
    },
    /// The outstanding operation ended (completed or indefinite).
    Completed(HistoryRecord),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// The request went to a server of `group`; `timer` gives up on it.
    Asking {
        group: GroupId,
        server: u64,
        timer: TimerToken,
    },
    /// The clerk asked the controller for the latest configuration (query `seq`).
    Querying { seq: u64, timer: TimerToken },
    /// Waiting before routing again.
    BackingOff { timer: TimerToken },
}

/// A clerk's outstanding write: whose, which, and the shard it goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingWrite {
    pub client_id: u64,
    pub seq: u64,
    pub shard: usize,
}

#[derive(Clone, Debug)]
struct Pending {
    seq: u64,
    op: Op,
    shard: usize,
    call_ns: u64,
    deadline: TimerToken,
    stage: Stage,
    /// Servers of the group that refused or did not answer since the last full round.
    refusals: usize,
}

#[derive(Clone, Debug)]
pub struct Clerk {
    client_id: u64,
    /// The controller's replicas.
    controller: Vec<u64>,
    config: ClerkConfig,
    shard_count: usize,
    /// The latest configuration the clerk has seen.
    known: Config,
    /// Per group, the position of the server believed to lead.
    leader: BTreeMap<GroupId, usize>,
    controller_guess: usize,
    next_seq: u64,
    next_query_seq: u64,
    clock: ClerkClock,
    pending: Option<Pending>,
}

impl Clerk {
    pub fn new(
        client_id: u64,
        controller: Vec<u64>,
        shard_count: usize,
        config: ClerkConfig,
    ) -> Self {
        assert!(
            !controller.is_empty(),
            "clerk {client_id}: no controller replica"
        );
        if let Err(error) = config.validate() {
            panic!("clerk {client_id}: {error}");
        }
        Clerk {
            client_id,
            controller,
            config,
            shard_count,
            known: Config::initial(shard_count),
            leader: BTreeMap::new(),
            controller_guess: 0,
            next_seq: 1,
            next_query_seq: 1,
            clock: ClerkClock::default(),
            pending: None,
        }
    }

    pub fn is_idle(&self) -> bool {
        self.pending.is_none()
    }

    /// The outstanding operation when it is a write.
    pub fn pending_write(&self) -> Option<PendingWrite> {
        self.pending
            .as_ref()
            .filter(|pending| !pending.op.is_read_only())
            .map(|pending| PendingWrite {
                client_id: self.client_id,
                seq: pending.seq,
                shard: pending.shard,
            })
    }

    /// The latest configuration this clerk knows.
    pub fn known(&self) -> &Config {
        &self.known
    }

    /// Starts `op` under a fresh sequence number. Panics if an operation is outstanding.
    pub fn invoke(&mut self, op: Op, now_ns: u64) -> Vec<ClerkAction> {
        self.observe_time(now_ns);
        assert!(
            self.pending.is_none(),
            "clerk {}: invoke({op}) while an operation is outstanding",
            self.client_id
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        let deadline = self.new_token();
        let mut actions = vec![ClerkAction::SetTimer {
            token: deadline,
            delay_ns: self.config.op_deadline_ns,
        }];
        self.pending = Some(Pending {
            seq,
            shard: shard_of(op.key(), self.shard_count),
            op,
            call_ns: now_ns,
            deadline,
            stage: Stage::BackingOff { timer: deadline },
            refusals: 0,
        });
        self.route(&mut actions);
        actions
    }

    /// A reply from server `from`: a group's answer to the operation, or the controller's
    /// configuration. Anything about an operation or query left behind is ignored.
    pub fn on_message(&mut self, from: u64, wire: Wire, now_ns: u64) -> Vec<ClerkAction> {
        self.observe_time(now_ns);
        let mut actions = Vec::new();
        let Some(pending) = &self.pending else {
            return actions;
        };
        match wire {
            Wire::Group {
                group,
                wire: kv::Wire::Reply(reply),
            } if reply.seq == pending.seq => {
                self.on_reply(from, group, reply, now_ns, &mut actions)
            }
            Wire::Controller(kv::Wire::Reply(reply)) => self.on_config(from, reply, &mut actions),
            _ => {}
        }
        actions
    }

    /// A timer the clerk set fired. Unknown or superseded tokens are ignored.
    pub fn on_timer(&mut self, token: TimerToken, now_ns: u64) -> Vec<ClerkAction> {
        self.observe_time(now_ns);
        let mut actions = Vec::new();
        let Some(pending) = &self.pending else {
            return actions;
        };
        if token == pending.deadline {
            actions.extend(self.abandon().map(ClerkAction::Completed));
            return actions;
        }
        match pending.stage {
            Stage::Asking { group, timer, .. } if timer == token => {
                // No answer in time: the server may be down or cut off; try the next one.
                self.next_server(group);
                self.refused(group, &mut actions);
            }
            Stage::Querying { timer, .. } if timer == token => {
                self.controller_guess = (self.controller_guess + 1) % self.controller.len();
                self.query(&mut actions);
            }
            Stage::BackingOff { timer } if timer == token => self.route(&mut actions),
            _ => {}
        }
        actions
    }

    /// Gives up the outstanding operation and returns its indefinite record.
    pub fn abandon(&mut self) -> Option<HistoryRecord> {
        let pending = self.pending.take()?;
        Some(HistoryRecord::indefinite(
            self.client_id,
            pending.seq,
            pending.op,
            pending.call_ns,
        ))
    }

    fn on_reply(
        &mut self,
        from: u64,
        group: GroupId,
        reply: ClientReply,
        now_ns: u64,
        actions: &mut Vec<ClerkAction>,
    ) {
        let pending = self.pending.as_ref().expect("checked by the caller");
        let current = matches!(pending.stage, Stage::Asking { group: g, server, .. } if g == group && server == from);
        match reply.outcome {
            // Any attempt may deliver the result, not only the latest.
            ReplyOutcome::Ok(result) => self.complete(from, group, result, now_ns, actions),
            _ if !current => {}
            ReplyOutcome::WrongLeader { leader_hint } => {
                let hinted = leader_hint
                    .filter(|&hint| hint != from)
                    .and_then(|hint| self.position(group, hint));
                match hinted {
                    Some(position) => {
                        self.leader.insert(group, position);
                    }
                    None => self.next_server(group),
                }
                self.refused(group, actions);
            }
            ReplyOutcome::WrongGroup => self.query(actions),
            ReplyOutcome::NotReady => self.back_off(actions),
        }
    }

    fn on_config(
        &mut self,
        from: u64,
        reply: ClientReply<CtrlReply>,
        actions: &mut Vec<ClerkAction>,
    ) {
        let pending = self.pending.as_ref().expect("checked by the caller");
        let Stage::Querying { seq, .. } = pending.stage else {
            return;
        };
        if reply.seq != seq {
            return;
        }
        match reply.outcome {
            ReplyOutcome::Ok(CtrlReply::Config(config)) => {
                let newer = config.num > self.known.num;
                if newer {
                    self.known = config;
                }
                // The same configuration again: the group may still be installing the shard.
                if newer && self.known.owner(pending.shard) != 0 {
                    self.route(actions);
                } else {
                    self.back_off(actions);
                }
            }
            ReplyOutcome::WrongLeader {
                leader_hint: Some(hint),
            } if hint != from && self.controller.contains(&hint) => {
                self.controller_guess = self
                    .controller
                    .iter()
                    .position(|&c| c == hint)
                    .expect("contained");
                self.query(actions);
            }
            _ => {
                self.controller_guess = (self.controller_guess + 1) % self.controller.len();
                self.back_off(actions);
            }
        }
    }

    fn complete(
        &mut self,
        from: u64,
        group: GroupId,
        result: OpResult,
        now_ns: u64,
        actions: &mut Vec<ClerkAction>,
    ) {
        let pending = self
            .pending
            .take()
            .expect("complete with an operation outstanding");
        if let Some(position) = self.position(group, from) {
            self.leader.insert(group, position);
        }
        actions.push(ClerkAction::Completed(HistoryRecord::completed(
            self.client_id,
            pending.seq,
            pending.op,
            pending.call_ns,
            result,
            now_ns,
        )));
    }

    /// Sends the operation to the group that owns its shard as far as the clerk knows, or asks
    /// the controller when no group does.
    fn route(&mut self, actions: &mut Vec<ClerkAction>) {
        let shard = self
            .pending
            .as_ref()
            .expect("route with an operation outstanding")
            .shard;
        match self.known.owner(shard) {
            0 => self.query(actions),
            group => self.ask(group, actions),
        }
    }

    /// A server of `group` refused or timed out; after a whole round of them, the clerk backs
    /// off and routes again (the group may have left the configuration meanwhile).
    fn refused(&mut self, group: GroupId, actions: &mut Vec<ClerkAction>) {
        let size = self.known.groups.get(&group).map_or(1, Vec::len);
        let pending = self
            .pending
            .as_mut()
            .expect("refused with an operation outstanding");
        pending.refusals += 1;
        if pending.refusals >= size {
            pending.refusals = 0;
            self.query(actions);
        } else {
            self.ask(group, actions);
        }
    }

    fn ask(&mut self, group: GroupId, actions: &mut Vec<ClerkAction>) {
        let Some(servers) = self.known.groups.get(&group) else {
            return self.query(actions);
        };
        let position = self.leader.get(&group).copied().unwrap_or(0) % servers.len();
        let server = servers[position];
        let timer = self.new_token();
        let pending = self
            .pending
            .as_mut()
            .expect("ask with an operation outstanding");
        pending.stage = Stage::Asking {
            group,
            server,
            timer,
        };
        let request = ClientRequest {
            client_id: self.client_id,
            seq: pending.seq,
            op: pending.op.clone(),
        };
        actions.push(ClerkAction::Send {
            to: server,
            wire: Wire::Group {
                group,
                wire: kv::Wire::Request(request),
            },
        });
        actions.push(ClerkAction::SetTimer {
            token: timer,
            delay_ns: self.config.request_timeout_ns,
        });
    }

    fn query(&mut self, actions: &mut Vec<ClerkAction>) {
        let seq = self.next_query_seq;
        self.next_query_seq += 1;
        let timer = self.new_token();
        let pending = self
            .pending
            .as_mut()
            .expect("query with an operation outstanding");
        pending.stage = Stage::Querying { seq, timer };
        let request = ClientRequest {
            client_id: self.client_id,
            seq,
            op: CtrlOp::Query { num: None },
        };
        actions.push(ClerkAction::Send {
            to: self.controller[self.controller_guess],
            wire: Wire::Controller(kv::Wire::Request(request)),
        });
        actions.push(ClerkAction::SetTimer {
            token: timer,
            delay_ns: self.config.request_timeout_ns,
        });
    }

    fn back_off(&mut self, actions: &mut Vec<ClerkAction>) {
        let timer = self.new_token();
        let pending = self
            .pending
            .as_mut()
            .expect("back off with an operation outstanding");
        pending.stage = Stage::BackingOff { timer };
        actions.push(ClerkAction::SetTimer {
            token: timer,
            delay_ns: self.config.retry_backoff_ns,
        });
    }

    fn next_server(&mut self, group: GroupId) {
        let size = self.known.groups.get(&group).map_or(1, Vec::len);
        let position = self.leader.entry(group).or_insert(0);
        *position = (*position + 1) % size;
    }

    fn position(&self, group: GroupId, server: u64) -> Option<usize> {
        self.known
            .groups
            .get(&group)?
            .iter()
            .position(|&s| s == server)
    }

    fn new_token(&mut self) -> TimerToken {
        self.clock.new_token()
    }

    fn observe_time(&mut self, now_ns: u64) {
        self.clock.observe(self.client_id, now_ns);
    }
}
