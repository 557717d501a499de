//! The clerk: a sans-IO client state machine (BRIEF §6, seed 004).
//!
//! The caller feeds it invocations, replies and timer firings with the current virtual time and
//! carries out the [`ClerkAction`]s it returns. One operation is outstanding at a time. The clerk
//! remembers the last leader, re-sends the same request (same client id and sequence number)
//! elsewhere on a wrong-leader reply or a request timeout, and when the operation's deadline
//! passes it records the operation as indefinite and is ready for the next one (a new sequence
//! number).
//!
//! `now_ns` must be the simulation's true virtual time, because it stamps the history; timer
//! delays are relative and may be run on the client's own (drifting) clock by the simulator.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::history::HistoryRecord;
use crate::op::Op;
use crate::protocol::{ClientReply, ClientRequest, ReadMode, ReplyOutcome};

const MILLISECOND_NS: u64 = 1_000_000;

/// Timing and routing of a clerk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClerkConfig {
    /// How long to wait for a reply to one attempt before trying the next server.
    pub request_timeout_ns: u64,
    /// How long after the invocation the clerk gives up and records the operation indefinite.
    pub op_deadline_ns: u64,
    /// Pause after every server in turn has refused (wrong leader) or after a not-ready reply,
    /// so a clerk does not flood the cluster while it has no leader.
    pub retry_backoff_ns: u64,
    /// The cluster's read mode; with `Follower`, `Get`s are spread over all servers instead of
    /// being sent to the leader.
    pub read_mode: ReadMode,
}

impl Default for ClerkConfig {
    fn default() -> Self {
        ClerkConfig {
            request_timeout_ns: 100 * MILLISECOND_NS,
            op_deadline_ns: 1_000 * MILLISECOND_NS,
            retry_backoff_ns: 20 * MILLISECOND_NS,
            read_mode: ReadMode::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ClerkConfigError {
    #[error("clerk {name} must be greater than 0")]
    ZeroDuration { name: &'static str },
    #[error("a clerk needs at least one server")]
    NoServers,
    #[error("server {server} is listed twice in the clerk's server list")]
    DuplicateServer { server: u64 },
}

impl ClerkConfig {
    pub fn validate(&self) -> Result<(), ClerkConfigError> {
        let durations = [
            ("request_timeout_ns", self.request_timeout_ns),
            ("op_deadline_ns", self.op_deadline_ns),
            ("retry_backoff_ns", self.retry_backoff_ns),
        ];
        match durations.into_iter().find(|(_, value)| *value == 0) {
            Some((name, _)) => Err(ClerkConfigError::ZeroDuration { name }),
            None => Ok(()),
        }
    }
}

/// Identifies a timer the clerk asked for. Tokens are unique per clerk and never reused. The
/// clerk cancels a timer it no longer needs ([`ClerkAction::CancelTimer`]), so a driver's timer
/// queue holds at most two of its timers (the operation's deadline, and the attempt's or the
/// backoff's); a firing of a token it no longer cares about is still ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimerToken(pub u64);

/// An effect for the caller to carry out.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClerkAction {
    Send {
        to: u64,
        request: ClientRequest,
    },
    SetTimer {
        token: TimerToken,
        delay_ns: u64,
    },
    /// The timer of `token` is no longer needed.
    CancelTimer {
        token: TimerToken,
    },
    /// The outstanding operation ended (completed or indefinite): append it to the history.
    Completed(HistoryRecord),
}

/// The outstanding operation.
#[derive(Clone, Debug)]
struct Pending {
    seq: u64,
    op: Op,
    call_ns: u64,
    /// Index into `servers` of the server the current attempt goes (or went) to.
    target: usize,
    /// Whether this operation follows the leader guess (false for spread follower reads).
    to_leader: bool,
    deadline_timer: TimerToken,
    /// The timer of the attempt in flight; `None` while backing off.
    attempt_timer: Option<TimerToken>,
    backoff_timer: Option<TimerToken>,
    /// Wrong-leader replies since the last backoff.
    rejections: usize,
}

#[derive(Clone, Debug)]
pub struct Clerk {
    client_id: u64,
    servers: Vec<u64>,
    config: ClerkConfig,
    /// Index into `servers` of the server believed to lead.
    leader: usize,
    next_seq: u64,
    clock: ClerkClock,
    pending: Option<Pending>,
}

impl Clerk {
    /// A clerk for `client_id` talking to `servers`. Panics on an invalid configuration (check
    /// with [`ClerkConfig::validate`] and [`Clerk::validate_servers`] first for user input).
    pub fn new(client_id: u64, servers: Vec<u64>, config: ClerkConfig) -> Self {
        if let Err(error) = config
            .validate()
            .and_then(|()| Self::validate_servers(&servers))
        {
            panic!("clerk {client_id}: {error}");
        }
        Clerk {
            client_id,
            servers,
            config,
            leader: 0,
            next_seq: 1,
            clock: ClerkClock::default(),
            pending: None,
        }
    }

    pub fn validate_servers(servers: &[u64]) -> Result<(), ClerkConfigError> {
        if servers.is_empty() {
            return Err(ClerkConfigError::NoServers);
        }
        for (index, server) in servers.iter().enumerate() {
            if servers[..index].contains(server) {
                return Err(ClerkConfigError::DuplicateServer { server: *server });
            }
        }
        Ok(())
    }

    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// True when no operation is outstanding, so [`Clerk::invoke`] may be called.
    pub fn is_idle(&self) -> bool {
        self.pending.is_none()
    }

    /// The server the clerk currently believes to lead (the first one it will try for a write).
    pub fn leader_guess(&self) -> u64 {
        self.servers[self.leader]
    }

    /// Points the clerk at `server` for its next operation (a script choosing where a client
    /// sends). Ignored for a server the clerk does not know.
    pub fn set_leader_guess(&mut self, server: u64) {
        if let Some(position) = self.servers.iter().position(|&s| s == server) {
            self.leader = position;
        }
    }

    /// The sequence number of the outstanding operation, if any.
    pub fn pending_seq(&self) -> Option<u64> {
        self.pending.as_ref().map(|pending| pending.seq)
    }

    /// Starts `op` under a fresh sequence number. Panics if an operation is still outstanding.
    pub fn invoke(&mut self, op: Op, now_ns: u64) -> Vec<ClerkAction> {
        self.observe_time(now_ns);
        assert!(
            self.pending.is_none(),
            "clerk {}: invoke({op}) while seq {:?} is outstanding",
            self.client_id,
            self.pending_seq()
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        let to_leader = !(op.is_read_only() && self.config.read_mode == ReadMode::Follower);
        let target = if to_leader {
            self.leader
        } else {
            // Spread follower reads deterministically over the servers.
            ((self.client_id.wrapping_add(seq)) % self.servers.len() as u64) as usize
        };
        let deadline_timer = self.new_token();
        self.pending = Some(Pending {
            seq,
            op,
            call_ns: now_ns,
            target,
            to_leader,
            deadline_timer,
            attempt_timer: None,
            backoff_timer: None,
            rejections: 0,
        });
        let mut actions = new_actions();
        actions.push(ClerkAction::SetTimer {
            token: deadline_timer,
            delay_ns: self.config.op_deadline_ns,
        });
        self.send_attempt(&mut actions);
        actions
    }

    /// Handles a reply from server `from`. Replies for other sequence numbers, or that arrive
    /// when no operation is outstanding, are stale and ignored.
    pub fn on_reply(&mut self, from: u64, reply: ClientReply, now_ns: u64) -> Vec<ClerkAction> {
        self.observe_time(now_ns);
        assert_eq!(
            reply.client_id, self.client_id,
            "reply for client {} delivered to clerk {} (seq {})",
            reply.client_id, self.client_id, reply.seq
        );
        let Some(pending) = &self.pending else {
            return Vec::new();
        };
        if reply.seq != pending.seq {
            return Vec::new();
        }
        match reply.outcome {
            // Any attempt of this sequence number may deliver the result, not just the latest.
            ReplyOutcome::Ok(result) => self.complete(from, result, now_ns),
            // Refusals count only from the server of the attempt in flight; a late refusal from
            // a server already left behind says nothing new.
            _ if !self.is_current_attempt(from) => Vec::new(),
            ReplyOutcome::WrongLeader { leader_hint } => self.on_wrong_leader(from, leader_hint),
            // Wrong group: KV servers never say it; back off like not-ready if one did.
            ReplyOutcome::NotReady | ReplyOutcome::WrongGroup => self.back_off(),
        }
    }

    /// Handles the firing of a timer the clerk set. Unknown or superseded tokens are ignored.
    pub fn on_timer(&mut self, token: TimerToken, now_ns: u64) -> Vec<ClerkAction> {
        self.observe_time(now_ns);
        let Some(pending) = &self.pending else {
            return Vec::new();
        };
        if token == pending.deadline_timer {
            let mut actions = new_actions();
            Self::cancel_attempt(pending, &mut actions);
            actions.extend(self.abandon().map(ClerkAction::Completed));
            return actions;
        }
        let mut actions = new_actions();
        if Some(token) == pending.attempt_timer {
            // No answer in time: the server may be down or partitioned away; try the next one.
            let next = (pending.target + 1) % self.servers.len();
            self.fired_attempt_timer();
            self.retarget(next);
            self.send_attempt(&mut actions);
        } else if Some(token) == pending.backoff_timer {
            self.fired_attempt_timer();
            self.send_attempt(&mut actions);
        }
        actions
    }

    /// Gives up the outstanding operation, if any, and returns its indefinite record (used at
    /// the deadline, and by the harness for operations still outstanding when a run ends).
    pub fn abandon(&mut self) -> Option<HistoryRecord> {
        let pending = self.pending.take()?;
        Some(HistoryRecord::indefinite(
            self.client_id,
            pending.seq,
            pending.op,
            pending.call_ns,
        ))
    }

    fn complete(
        &mut self,
        from: u64,
        result: crate::op::OpResult,
        now_ns: u64,
    ) -> Vec<ClerkAction> {
        let pending = self
            .pending
            .take()
            .expect("complete without an outstanding operation");
        if let Some(index) = self.server_index(from).filter(|_| pending.to_leader) {
            self.leader = index;
        }
        let mut actions = new_actions();
        Self::cancel_attempt(&pending, &mut actions);
        actions.push(ClerkAction::CancelTimer {
            token: pending.deadline_timer,
        });
        let record = HistoryRecord::completed(
            self.client_id,
            pending.seq,
            pending.op,
            pending.call_ns,
            result,
            now_ns,
        );
        actions.push(ClerkAction::Completed(record));
        actions
    }

    /// The attempt's or backoff's timer fired: nothing is left to cancel.
    fn fired_attempt_timer(&mut self) {
        if let Some(pending) = self.pending.as_mut() {
            pending.attempt_timer = None;
            pending.backoff_timer = None;
        }
    }

    /// Cancels the attempt's or the backoff's timer, whichever is set.
    fn cancel_attempt(pending: &Pending, actions: &mut Vec<ClerkAction>) {
        if let Some(token) = pending.attempt_timer.or(pending.backoff_timer) {
            actions.push(ClerkAction::CancelTimer { token });
        }
    }

    fn on_wrong_leader(&mut self, from: u64, leader_hint: Option<u64>) -> Vec<ClerkAction> {
        let hinted = leader_hint
            .filter(|hint| *hint != from)
            .and_then(|hint| self.server_index(hint));
        let server_count = self.servers.len();
        let pending = self
            .pending
            .as_mut()
            .expect("wrong-leader reply without an outstanding operation");
        pending.rejections += 1;
        let next = hinted.unwrap_or((pending.target + 1) % server_count);
        let round_refused = pending.rejections >= server_count;
        self.retarget(next);
        if round_refused {
            return self.back_off();
        }
        let mut actions = new_actions();
        self.send_attempt(&mut actions);
        actions
    }

    /// Waits `retry_backoff_ns` before sending the next attempt to the current target.
    fn back_off(&mut self) -> Vec<ClerkAction> {
        let token = self.new_token();
        let pending = self
            .pending
            .as_mut()
            .expect("back off without an outstanding operation");
        pending.rejections = 0;
        let mut actions = new_actions();
        Self::cancel_attempt(pending, &mut actions);
        pending.attempt_timer = None;
        pending.backoff_timer = Some(token);
        actions.push(ClerkAction::SetTimer {
            token,
            delay_ns: self.config.retry_backoff_ns,
        });
        actions
    }

    fn retarget(&mut self, target: usize) {
        let pending = self
            .pending
            .as_mut()
            .expect("retarget without an outstanding operation");
        pending.target = target;
        if pending.to_leader {
            self.leader = target;
        }
    }

    fn send_attempt(&mut self, actions: &mut Vec<ClerkAction>) {
        let token = self.new_token();
        let pending = self
            .pending
            .as_mut()
            .expect("send without an outstanding operation");
        Self::cancel_attempt(pending, actions);
        pending.attempt_timer = Some(token);
        pending.backoff_timer = None;
        let request = ClientRequest {
            client_id: self.client_id,
            seq: pending.seq,
            op: pending.op.clone(),
        };
        actions.push(ClerkAction::Send {
            to: self.servers[pending.target],
            request,
        });
        actions.push(ClerkAction::SetTimer {
            token,
            delay_ns: self.config.request_timeout_ns,
        });
    }

    fn is_current_attempt(&self, from: u64) -> bool {
        self.pending.as_ref().is_some_and(|pending| {
            pending.attempt_timer.is_some() && self.servers[pending.target] == from
        })
    }

    fn server_index(&self, server: u64) -> Option<usize> {
        self.servers
            .iter()
            .position(|candidate| *candidate == server)
    }

    fn new_token(&mut self) -> TimerToken {
        self.clock.new_token()
    }

    fn observe_time(&mut self, now_ns: u64) {
        self.clock.observe(self.client_id, now_ns);
    }
}

/// What every clerk keeps of time: its next timer token, and the last virtual time it saw
/// (which must never go back, since it stamps the history).
#[derive(Clone, Debug, Default)]
pub struct ClerkClock {
    next_token: u64,
    last_now_ns: u64,
}

impl ClerkClock {
    /// A token never handed out before by this clerk.
    pub fn new_token(&mut self) -> TimerToken {
        let token = TimerToken(self.next_token);
        self.next_token += 1;
        token
    }

    /// Notes `now_ns`; panics if virtual time went back for clerk `client_id`.
    pub fn observe(&mut self, client_id: u64, now_ns: u64) {
        assert!(
            now_ns >= self.last_now_ns,
            "clerk {client_id}: virtual time went back from {} ns to {now_ns} ns",
            self.last_now_ns
        );
        self.last_now_ns = now_ns;
    }
}

/// A buffer for the actions of one clerk event: at most four (cancel a timer, complete or send,
/// set a timer, and the deadline timer of a new operation), so it never grows.
fn new_actions() -> Vec<ClerkAction> {
    Vec::with_capacity(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_can_choose_the_first_server() {
        let mut clerk = Clerk::new(10, vec![0, 1, 2], ClerkConfig::default());
        clerk.set_leader_guess(2);
        assert_eq!(clerk.leader_guess(), 2);
        let actions = clerk.invoke(Op::Get { key: "x".into() }, 0);
        let sent_to: Vec<u64> = actions
            .iter()
            .filter_map(|action| match action {
                ClerkAction::Send { to, .. } => Some(*to),
                _ => None,
            })
            .collect();
        assert_eq!(sent_to, vec![2]);
        // An unknown server leaves the guess alone.
        clerk.set_leader_guess(7);
        assert_eq!(clerk.leader_guess(), 2);
    }

    #[test]
    fn invalid_configs_are_named() {
        let config = ClerkConfig {
            retry_backoff_ns: 0,
            ..ClerkConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err(ClerkConfigError::ZeroDuration {
                name: "retry_backoff_ns"
            })
        );
        assert_eq!(
            Clerk::validate_servers(&[]),
            Err(ClerkConfigError::NoServers)
        );
        assert_eq!(
            Clerk::validate_servers(&[1, 2, 1]),
            Err(ClerkConfigError::DuplicateServer { server: 1 })
        );
        assert_eq!(ClerkConfig::default().validate(), Ok(()));
    }

    #[test]
    fn follower_reads_spread_and_leave_the_leader_guess_alone() {
        let config = ClerkConfig {
            read_mode: ReadMode::Follower,
            ..ClerkConfig::default()
        };
        let mut clerk = Clerk::new(0, vec![10, 11, 12], config);
        let mut targets = Vec::new();
        for now_ns in 0..3 {
            let actions = clerk.invoke(Op::Get { key: "k".into() }, now_ns);
            let Some(ClerkAction::Send { to, request }) = actions.get(1).cloned() else {
                panic!("no send in {actions:?}");
            };
            targets.push(to);
            let reply = ClientReply {
                client_id: 0,
                seq: request.seq,
                outcome: ReplyOutcome::Ok(crate::op::OpResult::Value(String::new())),
            };
            clerk.on_reply(to, reply, now_ns);
        }
        assert_eq!(targets, vec![11, 12, 10]);
        assert_eq!(clerk.leader_guess(), 10);
    }
}
