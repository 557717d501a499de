//! The node: its state, construction from storage, inspection, ticks, message dispatch and
//! elections (§5.2, PreVote and CheckQuorum of §9.6). Replication, reads, membership and the
//! `Ready` cycle live in sibling modules as further `impl` blocks.

use std::collections::BTreeMap;

use crate::config::{Config, ReadOnlyOption};
use crate::error::Error;
use crate::log::RaftLog;
use crate::mutant::Mutant;
use crate::quorum::VoteResult;
use crate::read_only::ReadOnly;
use crate::storage::Storage;
use crate::tracker::{Configuration, Progress, ProgressTracker};
use crate::types::{
    ConfState, Entry, EntryKind, HardState, Message, MessageKind, NodeId, ReadState, Role,
    SoftState,
};

/// Draws the election jitter, in ticks, `0..election_tick`. Called whenever the node resets its
/// election timer; the driver owns the randomness (e.g. a seeded generator moved into the closure).
pub type JitterSource = Box<dyn FnMut() -> u64 + Send>;

/// Why a node campaigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CampaignKind {
    /// A PreVote round first (when `pre_vote` is on).
    PreElection,
    Election,
    /// Told by the leader to take over: skips PreVote and the receivers' CheckQuorum lease.
    Transfer,
}

/// Reads waiting for the leader's first commit in its term are bounded (STYLE: bound queues).
pub(crate) const MAX_PENDING_READS: usize = 4096;

/// A Raft node: a pure state machine driven by [`RawNode::tick`], [`RawNode::step`] and the
/// proposal calls, whose effects are collected with [`RawNode::ready`] and acknowledged with
/// [`RawNode::advance`].
pub struct RawNode<S: Storage> {
    pub(crate) id: NodeId,
    pub(crate) config: Config,
    pub(crate) term: u64,
    pub(crate) vote: Option<NodeId>,
    pub(crate) log: RaftLog<S>,
    pub(crate) tracker: ProgressTracker,
    pub(crate) role: Role,
    pub(crate) leader: Option<NodeId>,
    pub(crate) lead_transferee: Option<NodeId>,
    /// The index of the latest conf-change entry this leader appended (or the last index when it
    /// became leader): no new change until it is applied.
    pub(crate) pending_conf_index: u64,
    /// Election replies by voter.
    pub(crate) votes: BTreeMap<NodeId, bool>,
    /// Replies counted without de-duplication (`vote-count-not-set` only): granted, rejected.
    pub(crate) vote_reply_counts: (usize, usize),
    pub(crate) messages: Vec<Message>,
    pub(crate) persisted_messages: Vec<Message>,
    /// Replies to itself that count only once this node's state is durable (its own vote):
    /// handed out with the next `Ready` and stepped when it is acknowledged (`advance`).
    pub(crate) self_messages: Vec<Message>,
    /// Payload bytes this leader appended and has not yet seen applied
    /// (`Config::max_uncommitted_entries_size`).
    pub(crate) uncommitted_size: u64,
    pub(crate) read_states: Vec<ReadState>,
    pub(crate) read_only: ReadOnly,
    /// ReadIndex requests held until the leader commits an entry of its term.
    pub(crate) pending_reads: Vec<(NodeId, Vec<u8>)>,
    /// The latest ReadIndex confirmation round; increases forever, never reused.
    pub(crate) read_round: u64,
    pub(crate) election_elapsed: u64,
    pub(crate) heartbeat_elapsed: u64,
    pub(crate) randomized_election_timeout: u64,
    jitter: JitterSource,
    /// The term this node restarted in (`None` for a node that started empty).
    pub(crate) restart_term: Option<u64>,
    /// Ticks since this node became leader.
    pub(crate) leader_ticks: u64,
    /// The first read confirmation round of this leader's term.
    pub(crate) first_read_round: u64,
    /// Coverage marks hit since they were last taken.
    pub(crate) marks: crate::MarkCounts,
    /// The Ready cycle: what was last handed out.
    pub(crate) ready_state: crate::ready::ReadyState,
}

impl<S: Storage> RawNode<S> {
    /// Builds a node from what `storage` holds: a fresh node when it is empty, a restarted one
    /// otherwise (term, vote and commit from the hard state, configuration from the snapshot).
    pub fn new(config: Config, storage: S, jitter: JitterSource) -> Result<RawNode<S>, Error> {
        config.validate()?;
        let (mut hard_state, conf_state) = storage.initial_state();
        if config.mutants.contains(Mutant::ForgetVoteOnRestart) {
            // The stored vote is ignored as well, in case a driver persisted it anyway.
            hard_state.vote = None;
        }
        let log = RaftLog::new(storage, hard_state.commit);
        let mut node = RawNode {
            id: config.id,
            term: hard_state.term,
            vote: hard_state.vote,
            log,
            tracker: ProgressTracker::default(),
            role: Role::Follower,
            leader: None,
            lead_transferee: None,
            pending_conf_index: 0,
            votes: BTreeMap::new(),
            vote_reply_counts: (0, 0),
            messages: Vec::new(),
            persisted_messages: Vec::new(),
            self_messages: Vec::new(),
            uncommitted_size: 0,
            read_states: Vec::new(),
            read_only: ReadOnly::default(),
            pending_reads: Vec::new(),
            read_round: 0,
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_election_timeout: config.election_tick,
            jitter,
            restart_term: (hard_state.term > 0).then_some(hard_state.term),
            leader_ticks: 0,
            first_read_round: 0,
            marks: crate::MarkCounts::default(),
            ready_state: crate::ready::ReadyState::new(hard_state),
            config,
        };
        let last_index = node.log.last_index();
        let configuration = if node.config.conf_change_on_append {
            // The configuration is the latest one in the log, applied or not.
            node.configuration_at(last_index)
        } else {
            Configuration::from_conf_state(&conf_state)
        };
        let limits = node.config.inflight_limits();
        node.tracker
            .set_config(configuration, last_index + 1, limits);
        node.become_follower(node.term, None);
        node.ready_state.soft_state = node.soft_state();
        Ok(node)
    }

    // ----- inspection -----

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    pub fn vote(&self) -> Option<NodeId> {
        self.vote
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    pub fn commit_index(&self) -> u64 {
        self.log.committed
    }

    /// The last index handed to the application to apply (acknowledged by `advance`).
    pub fn applied_index(&self) -> u64 {
        self.log.applied
    }

    pub fn first_index(&self) -> u64 {
        self.log.first_index()
    }

    pub fn last_index(&self) -> u64 {
        self.log.last_index()
    }

    /// The term of the entry at `index`, if the log still holds it (the compaction point counts).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        self.log.term(index).ok()
    }

    /// Entries `low..high` of the log (stable and unstable).
    pub fn entries(&self, low: u64, high: u64) -> Result<Vec<Entry>, Error> {
        Ok(self.log.entries(low, high, usize::MAX)?)
    }

    pub fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.log.committed,
        }
    }

    pub fn soft_state(&self) -> SoftState {
        SoftState {
            leader: self.leader,
            role: self.role,
        }
    }

    /// The configuration in effect: the latest applied one, or with `conf_change_on_append` the
    /// latest one in the log.
    pub fn conf_state(&self) -> ConfState {
        self.tracker.config.to_conf_state()
    }

    /// The voters of the configuration in effect (both halves while joint), borrowed: what
    /// [`RawNode::conf_state`] says of them without building a copy.
    pub fn voters(&self) -> &crate::quorum::JointConfig {
        &self.tracker.config.voters
    }

    /// The learners of the configuration in effect, lent rather than copied.
    pub fn learners(&self) -> &std::collections::BTreeSet<NodeId> {
        &self.tracker.config.learners
    }

    /// Whether this node is a learner (a member that does not vote).
    pub fn is_learner(&self) -> bool {
        !self.tracker.is_voter(self.id) && self.tracker.config.members().contains(&self.id)
    }

    pub fn pending_conf_index(&self) -> u64 {
        self.pending_conf_index
    }

    pub fn read_only_option(&self) -> ReadOnlyOption {
        self.config.read_only
    }

    pub fn lead_transferee(&self) -> Option<NodeId> {
        self.lead_transferee
    }

    /// The leader's view of a peer's replication.
    pub fn progress(&self, id: NodeId) -> Option<&Progress> {
        self.tracker.progress.get(&id)
    }

    /// Every member's progress, by id (meaningful on the leader).
    pub fn progresses(&self) -> impl Iterator<Item = (NodeId, &Progress)> {
        self.tracker
            .progress
            .iter()
            .map(|(&id, progress)| (id, progress))
    }

    /// Test support only: puts a peer's progress into a given state, as etcd-raft's tests do
    /// to set up flow-control cases. A driver must never call it (a wrong match index could
    /// commit what no quorum holds).
    #[doc(hidden)]
    pub fn progress_mut(&mut self, id: NodeId) -> Option<&mut Progress> {
        self.tracker.progress.get_mut(&id)
    }

    /// Test support only: sets the current randomized election timeout (until the next reset
    /// draws a new jitter), as etcd-raft's `SetRandomizedElectionTimeout` does.
    #[doc(hidden)]
    pub fn set_randomized_election_timeout(&mut self, ticks: u64) {
        self.randomized_election_timeout = ticks;
    }

    /// Test support only: the leader sends heartbeats now, as on its heartbeat tick but
    /// without advancing any timer (etcd-raft's local `MsgBeat`); others do nothing.
    #[doc(hidden)]
    pub fn heartbeat_now(&mut self) {
        if self.role == Role::Leader {
            self.broadcast_heartbeat();
        }
    }

    /// Ticks since the election timer (or, at the leader, the CheckQuorum round) was reset.
    pub fn election_elapsed(&self) -> u64 {
        self.election_elapsed
    }

    /// The election timeout drawn at the last reset: `election_tick` plus the jitter.
    pub fn randomized_election_timeout(&self) -> u64 {
        self.randomized_election_timeout
    }

    /// ReadIndex requests this leader holds: waiting for its first commit in its term, or for
    /// a quorum to confirm their round.
    pub fn pending_read_count(&self) -> usize {
        self.pending_reads.len() + self.read_only.pending_count()
    }

    /// Payload bytes appended by this leader and not yet applied.
    pub fn uncommitted_size(&self) -> u64 {
        self.uncommitted_size
    }

    /// The coverage marks hit since the last call (see [`crate::Mark`]), now reset.
    pub fn take_marks(&mut self) -> crate::MarkCounts {
        std::mem::take(&mut self.marks)
    }

    pub(crate) fn mark(&mut self, mark: crate::Mark) {
        self.marks.hit(mark);
    }

    pub fn storage(&self) -> &S {
        &self.log.storage
    }

    /// The driver writes what a `Ready` asks to persist through this.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.log.storage
    }

    // ----- input -----

    /// Advances the node's logical clock by one tick.
    pub fn tick(&mut self) {
        match self.role {
            Role::Leader => self.tick_leader(),
            _ => self.tick_election(),
        }
    }

    /// Starts an election now (as if the election timer fired).
    pub fn campaign(&mut self) {
        self.hup(if self.config.pre_vote {
            CampaignKind::PreElection
        } else {
            CampaignKind::Election
        });
    }

    /// Processes a message from a peer.
    pub fn step(&mut self, message: Message) -> Result<(), Error> {
        if message.to != self.id {
            return Err(Error::WrongRecipient {
                to: message.to,
                id: self.id,
            });
        }
        let vote_refused = matches!(
            message.kind,
            MessageKind::VoteResponse | MessageKind::PreVoteResponse
        ) && message.reject;
        if vote_refused {
            self.learn_commit(message.commit, message.log_term);
        }
        // Forwarded proposals and reads belong to no term (etcd sends them with term 0): a
        // follower that has not yet heard of its leader's newer term still forwards to it.
        let termless = matches!(message.kind, MessageKind::Propose | MessageKind::ReadIndex)
            && message.term == 0;
        if termless {
        } else if message.term > self.term {
            if !self.step_higher_term(&message) {
                return Ok(());
            }
        } else if message.term < self.term {
            self.step_lower_term(&message);
            return Ok(());
        }
        match message.kind {
            MessageKind::Vote | MessageKind::PreVote => self.handle_vote_request(&message),
            _ => match self.role {
                Role::Leader => self.step_leader(message),
                Role::Candidate | Role::PreCandidate => self.step_candidate(message),
                Role::Follower => self.step_follower(message),
            },
        }
        Ok(())
    }

    /// A message of a higher term. Returns whether to go on processing it.
    fn step_higher_term(&mut self, message: &Message) -> bool {
        let is_vote_request = matches!(message.kind, MessageKind::Vote | MessageKind::PreVote);
        if is_vote_request && !message.leader_transfer && self.in_leader_lease() {
            // CheckQuorum: we heard from a leader within the election timeout, so a candidate
            // that did not is probably disruptive (a partitioned node rejoining).
            return false;
        }
        match message.kind {
            // A PreVote changes no state; a granted PreVote reply carries the term we asked for.
            MessageKind::PreVote => {}
            MessageKind::PreVoteResponse if !message.reject => {}
            MessageKind::Append | MessageKind::Heartbeat | MessageKind::Snapshot => {
                self.become_follower(message.term, Some(message.from));
            }
            _ => self.become_follower(message.term, None),
        }
        true
    }

    /// A message of a lower term: ignored, but a stale leader is told about the newer term.
    fn step_lower_term(&mut self, message: &Message) {
        let from_leader = matches!(message.kind, MessageKind::Append | MessageKind::Heartbeat);
        if from_leader && (self.config.check_quorum || self.config.pre_vote) {
            // Without this, a leader cut off and then reconnected would never learn that its term
            // is over, since with PreVote/CheckQuorum nobody sends it a higher-term vote request.
            self.send(Message {
                kind: MessageKind::AppendResponse,
                to: message.from,
                ..Message::default()
            });
        } else if message.kind == MessageKind::PreVote {
            self.refuse_vote(MessageKind::PreVoteResponse, message);
        }
    }

    /// Refuses a vote, telling the candidate how much of its log is committed: with
    /// configurations taking effect when applied, a candidate whose log is behind ours may be
    /// the only voter of a configuration it has not learned is committed, and no one else can
    /// campaign (etcd issue 12359); applied on append, a server that never hears its removal
    /// committed would campaign forever. Learning the commit lets it apply the change. When we
    /// hold the candidate's last entry and have committed it, that entry is the hint (the
    /// candidate surely holds it); otherwise our commit index and its term.
    fn refuse_vote(&mut self, kind: MessageKind, request: &Message) {
        let (last_index, last_term) = (request.index, request.log_term);
        let (commit, log_term) =
            if self.log.committed >= last_index && self.log.match_term(last_index, last_term) {
                (last_index, last_term)
            } else {
                let commit = self.log.committed;
                (commit, self.log.term(commit).unwrap_or(0))
            };
        self.send(Message {
            kind,
            to: request.from,
            reject: true,
            commit,
            log_term,
            ..Message::default()
        });
    }

    /// Another node's commit index: committed in our log too when we hold its entry with the
    /// same term (log matching makes the prefixes equal).
    fn learn_commit(&mut self, commit: u64, term: u64) {
        if commit > self.log.committed && self.log.match_term(commit, term) {
            self.log.commit_to(commit);
        }
    }

    fn in_leader_lease(&self) -> bool {
        self.config.check_quorum
            && self.leader.is_some()
            && self.election_elapsed < self.config.election_tick
    }

    fn handle_vote_request(&mut self, message: &Message) {
        let pre_vote = message.kind == MessageKind::PreVote;
        if !pre_vote && self.restart_term == Some(message.term) && message.term == self.term {
            self.mark(crate::Mark::VoteAfterRestart);
        }
        let can_vote = self.vote == Some(message.from)
            || (self.vote.is_none() && self.leader.is_none())
            || (pre_vote && message.term > self.term);
        let log_ok = self.log.is_up_to_date(message.index, message.log_term)
            || self.config.mutants.contains(Mutant::VoteWithoutLogCheck);
        let kind = if pre_vote {
            MessageKind::PreVoteResponse
        } else {
            MessageKind::VoteResponse
        };
        if can_vote && log_ok {
            if !pre_vote {
                self.election_elapsed = 0;
                self.vote = Some(message.from);
            }
            // A granted reply carries the requested term, so a pre-candidate can match it.
            self.send(Message {
                kind,
                to: message.from,
                term: message.term,
                ..Message::default()
            });
        } else {
            self.refuse_vote(kind, message);
        }
    }

    fn step_follower(&mut self, message: Message) {
        match message.kind {
            MessageKind::Append => {
                self.election_elapsed = 0;
                self.leader = Some(message.from);
                self.handle_append(message);
            }
            MessageKind::Heartbeat => {
                self.election_elapsed = 0;
                self.leader = Some(message.from);
                self.handle_heartbeat(&message);
            }
            MessageKind::Snapshot => {
                self.election_elapsed = 0;
                self.leader = Some(message.from);
                self.handle_snapshot(message);
            }
            MessageKind::TimeoutNow => self.hup(CampaignKind::Transfer),
            MessageKind::ReadIndexResponse => {
                if message.index > self.log.committed {
                    self.mark(crate::Mark::FollowerReadBehind);
                }
                self.read_states.push(ReadState {
                    index: message.index,
                    request_ctx: message.context.into_vec(),
                });
            }
            MessageKind::Propose => {
                // A proposal forwarded by another follower goes on to our leader (etcd).
                let _ = self.forward_proposal(message.entries);
            }
            MessageKind::TransferLeader => {
                if let Some(leader) = self.leader {
                    self.send(Message {
                        kind: MessageKind::TransferLeader,
                        to: leader,
                        transferee: message.transferee,
                        ..Message::default()
                    });
                }
            }
            _ => {}
        }
    }

    fn step_candidate(&mut self, message: Message) {
        match message.kind {
            MessageKind::Append | MessageKind::Heartbeat | MessageKind::Snapshot => {
                // A leader exists in our term: stand down and follow it.
                if self.role == Role::Candidate
                    && message.term == self.term
                    && self.holds_half_the_votes()
                {
                    self.mark(crate::Mark::VoteLostAtHalf);
                }
                self.become_follower(message.term, Some(message.from));
                self.step_follower(message);
            }
            MessageKind::VoteResponse if self.role == Role::Candidate => {
                self.receive_vote(&message)
            }
            MessageKind::PreVoteResponse if self.role == Role::PreCandidate => {
                self.receive_vote(&message)
            }
            _ => {}
        }
    }

    fn step_leader(&mut self, message: Message) {
        match message.kind {
            MessageKind::AppendResponse => self.handle_append_response(&message),
            MessageKind::HeartbeatResponse => self.handle_heartbeat_response(&message),
            MessageKind::ReadIndex => {
                self.handle_read_index(message.from, message.context.into_vec())
            }
            MessageKind::Propose => {
                // Nobody waits for an answer: a refused forwarded proposal is dropped, as in
                // etcd (the proposer times out and retries).
                let _ = self.leader_propose(message.entries);
            }
            MessageKind::TransferLeader => {
                let _ = self.transfer_leader(message.transferee);
            }
            _ => {}
        }
    }

    // ----- timers -----

    fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.election_elapsed >= self.randomized_election_timeout && self.promotable() {
            self.election_elapsed = 0;
            self.campaign();
        }
    }

    fn tick_leader(&mut self) {
        if self.removed_by_committed_change() {
            self.become_follower(self.term, None);
            return;
        }
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        self.leader_ticks += 1;
        if self.election_elapsed >= self.config.election_tick {
            self.election_elapsed = 0;
            if self.config.check_quorum && !self.quorum_recently_active() {
                self.become_follower(self.term, None);
                return;
            }
            // A transfer that has not completed within an election timeout is abandoned.
            self.lead_transferee = None;
        }
        if self.heartbeat_elapsed >= self.config.heartbeat_tick {
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeat();
        }
    }

    /// With `conf_change_on_append`: whether this leader removed or demoted itself by a change
    /// that is now committed. (Otherwise a leader steps down as soon as it applies such a change.)
    fn removed_by_committed_change(&self) -> bool {
        self.config.conf_change_on_append
            && !self.tracker.is_voter(self.id)
            && self.log.committed >= self.pending_conf_index
    }

    /// Whether a quorum was heard from since the last check; resets the marks for the next one.
    fn quorum_recently_active(&mut self) -> bool {
        let id = self.id;
        let progress = &self.tracker.progress;
        let result = self.tracker.config.voters.vote_result(|voter| {
            Some(voter == id || progress.get(&voter).is_some_and(|p| p.recent_active))
        });
        for (&peer, progress) in &mut self.tracker.progress {
            progress.recent_active = peer == id;
        }
        result == VoteResult::Won
    }

    fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let jitter = (self.jitter)();
        assert!(
            jitter < self.config.election_tick,
            "node {}: election jitter {jitter} outside 0..{}",
            self.id,
            self.config.election_tick
        );
        self.randomized_election_timeout = self.config.election_tick + jitter;
    }

    // ----- roles -----

    /// Whether this node may campaign: a voter of the current configuration that is not
    /// installing a snapshot (until the application has applied it, the configuration and log
    /// the node would lead with are not its own yet; etcd-raft's rule).
    pub fn promotable(&self) -> bool {
        let voter = self.tracker.is_voter(self.id)
            || (self.config.conf_change_on_append && self.voter_as_of_commit());
        voter && self.log.unstable_snapshot().is_none()
    }

    /// With configurations taking effect on append: whether we are a voter of the configuration
    /// as of our commit index. A server whose removal is appended but not known committed must
    /// still campaign (dissertation §4.2.2): it may hold the only copy of its removal, and the
    /// others, behind its log, cannot win without its vote. It counts votes under its latest
    /// configuration, without itself, and steps down once the removal commits.
    fn voter_as_of_commit(&self) -> bool {
        let snapshot_index = self.log.first_index() - 1;
        let index = self
            .log
            .committed
            .clamp(snapshot_index, self.log.last_index());
        self.configuration_at(index).voters.contains(self.id)
    }

    fn reset(&mut self, term: u64) {
        if term != self.term {
            self.term = term;
            self.vote = None;
        }
        self.leader = None;
        self.lead_transferee = None;
        self.heartbeat_elapsed = 0;
        self.reset_election_timer();
        self.votes.clear();
        self.vote_reply_counts = (0, 0);
        self.read_only.reset();
        self.pending_reads.clear();
        self.uncommitted_size = 0;
        // Only a leader has pending changes; `become_leader` sets it afresh.
        self.pending_conf_index = 0;
        let next_index = self.log.last_index() + 1;
        let limits = self.config.inflight_limits();
        let persisted = self.log.persisted_index().unwrap_or(0);
        for (&peer, progress) in &mut self.tracker.progress {
            *progress = Progress::new(next_index, limits);
            if peer == self.id {
                // What is durable here, not the whole log: the leader counts its own copy of
                // an entry only once it is synced.
                progress.match_index = persisted;
                progress.recent_active = true;
            }
        }
    }

    pub(crate) fn become_follower(&mut self, term: u64, leader: Option<NodeId>) {
        self.reset(term);
        self.role = Role::Follower;
        self.leader = leader;
    }

    fn become_pre_candidate(&mut self) {
        assert_ne!(
            self.role,
            Role::Leader,
            "node {} term {}: leader cannot pre-campaign",
            self.id,
            self.term
        );
        // PreVote changes neither term nor vote.
        self.role = Role::PreCandidate;
        self.leader = None;
        self.votes.clear();
        self.vote_reply_counts = (0, 0);
        self.reset_election_timer();
    }

    fn become_candidate(&mut self) {
        assert_ne!(
            self.role,
            Role::Leader,
            "node {} term {}: leader cannot campaign",
            self.id,
            self.term
        );
        // The `prevote-counted-as-vote` bug: the pre-vote tally carries over into the election.
        let pre_votes = (self.config.mutants)
            .contains(Mutant::PreVoteCountedAsVote)
            .then(|| std::mem::take(&mut self.votes));
        self.reset(self.term + 1);
        if let Some(pre_votes) = pre_votes {
            self.votes = pre_votes;
        }
        self.vote = Some(self.id);
        self.role = Role::Candidate;
    }

    fn become_leader(&mut self) {
        assert_ne!(
            self.role,
            Role::Follower,
            "node {} term {}: follower cannot become leader",
            self.id,
            self.term
        );
        self.reset(self.term);
        self.role = Role::Leader;
        self.leader = Some(self.id);
        self.leader_ticks = 0;
        self.first_read_round = self.read_round + 1;
        // Entries of earlier terms may hold conf changes this leader has not applied yet.
        self.pending_conf_index = if self.config.mutants.contains(Mutant::ConfChangeBeforeNoop) {
            0
        } else {
            self.log.last_index()
        };
        if let Some(progress) = self.tracker.progress.get_mut(&self.id) {
            progress.become_replicate();
            progress.recent_active = true;
        }
        // The empty entry of §5.4.2/§8: commits the earlier terms' entries and gates reads and
        // configuration changes. Empty, it never counts against the uncommitted-size limit.
        let appended = self.append_entries(vec![Entry {
            kind: EntryKind::Normal,
            ..Entry::default()
        }]);
        assert!(
            appended.is_some(),
            "node {} term {}: the empty entry of a new leader was dropped",
            self.id,
            self.term
        );
    }

    // ----- elections -----

    pub(crate) fn hup(&mut self, kind: CampaignKind) {
        if self.role == Role::Leader || !self.promotable() || self.has_unapplied_conf_change() {
            return;
        }
        let (message_kind, vote_term) = if kind == CampaignKind::PreElection {
            self.become_pre_candidate();
            (MessageKind::PreVote, self.term + 1)
        } else {
            self.become_candidate();
            (MessageKind::Vote, self.term)
        };
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        for voter in self.tracker.config.voters.ids() {
            if voter == self.id {
                // Our own vote counts once our term and vote are durable: it is a reply to
                // ourselves, stepped when the Ready that persists them is acknowledged. A lone
                // voter therefore leads (and sends entries of its term) only after that sync.
                let response = match message_kind {
                    MessageKind::PreVote => MessageKind::PreVoteResponse,
                    _ => MessageKind::VoteResponse,
                };
                self.send(Message {
                    kind: response,
                    to: self.id,
                    term: vote_term,
                    ..Message::default()
                });
                continue;
            }
            self.send(Message {
                kind: message_kind,
                to: voter,
                term: vote_term,
                index: last_index,
                log_term: last_term,
                leader_transfer: kind == CampaignKind::Transfer,
                ..Message::default()
            });
        }
    }

    /// A configuration change committed but not applied means our view of the voters may be
    /// stale; etcd refuses to campaign then, and so do we.
    pub fn has_unapplied_conf_change(&self) -> bool {
        let (applied, committed) = (self.log.applied, self.log.committed);
        if committed <= applied {
            return false;
        }
        let entries = self
            .log
            .entries(applied + 1, committed + 1, usize::MAX)
            .unwrap_or_default();
        entries
            .iter()
            .any(|entry| entry.kind == EntryKind::ConfChange)
    }

    fn win_election(&mut self) {
        if self.role == Role::PreCandidate {
            self.hup(CampaignKind::Election);
        } else {
            self.become_leader();
            self.broadcast_append();
        }
    }

    fn receive_vote(&mut self, message: &Message) {
        match self.record_vote(message.from, !message.reject) {
            VoteResult::Won => self.win_election(),
            VoteResult::Lost => self.become_follower(self.term, None),
            VoteResult::Pending => {}
        }
    }

    /// Records one reply and tallies the election.
    fn record_vote(&mut self, from: NodeId, granted: bool) -> VoteResult {
        if granted && self.votes.get(&from) == Some(&true) {
            self.mark(crate::Mark::VoteReplyDuplicated);
        }
        self.votes.entry(from).or_insert(granted);
        if granted {
            self.vote_reply_counts.0 += 1;
        } else {
            self.vote_reply_counts.1 += 1;
        }
        if self.config.mutants.contains(Mutant::VoteCountNotSet) {
            return self.tally_replies_not_voters();
        }
        if self.config.mutants.contains(Mutant::VoteHalfQuorum) {
            return self.tally_half_quorum();
        }
        let votes = &self.votes;
        self.tracker
            .config
            .voters
            .vote_result(|voter| votes.get(&voter).copied())
    }

    /// Whether the grants so far are at least half of each voter set (at least one): a quorum
    /// to the `vote-half-quorum` mutant.
    fn holds_half_the_votes(&self) -> bool {
        let voters = &self.tracker.config.voters;
        [&voters.incoming, &voters.outgoing].iter().all(|half| {
            let granted = half
                .iter()
                .filter(|id| self.votes.get(id) == Some(&true))
                .count();
            half.is_empty() || granted >= (half.len() / 2).max(1)
        })
    }

    /// The `vote-half-quorum` mutant: `len / 2` grants of each voter set win (the off-by-one).
    fn tally_half_quorum(&self) -> VoteResult {
        if self.holds_half_the_votes() {
            VoteResult::Won
        } else {
            let voters = &self.tracker.config.voters;
            let votes = &self.votes;
            match voters.vote_result(|voter| votes.get(&voter).copied()) {
                VoteResult::Won => VoteResult::Pending,
                result => result,
            }
        }
    }

    /// The `vote-count-not-set` mutant: counts replies, so a duplicated grant counts twice.
    fn tally_replies_not_voters(&self) -> VoteResult {
        let (granted, rejected) = self.vote_reply_counts;
        let voters = &self.tracker.config.voters;
        let halves = [&voters.incoming, &voters.outgoing];
        let quorums = halves.map(|half| {
            if half.is_empty() {
                0
            } else {
                half.len() / 2 + 1
            }
        });
        if quorums.iter().all(|&quorum| granted >= quorum) {
            VoteResult::Won
        } else if halves
            .iter()
            .zip(quorums)
            .any(|(half, quorum)| quorum > 0 && rejected > half.len() - quorum)
        {
            VoteResult::Lost
        } else {
            VoteResult::Pending
        }
    }

    // ----- output -----

    /// Queues a message. Messages that depend on state this node must make durable first
    /// (votes, vote replies, append and heartbeat acks) go to `persisted_messages`.
    pub(crate) fn send(&mut self, mut message: Message) {
        message.from = self.id;
        let termless = matches!(message.kind, MessageKind::Propose | MessageKind::ReadIndex);
        if message.term == 0 && !termless {
            message.term = self.term;
        }
        if message.to == self.id {
            assert!(
                matches!(
                    message.kind,
                    MessageKind::VoteResponse | MessageKind::PreVoteResponse
                ),
                "node {} term {}: only a vote for itself is addressed to itself, not {:?}",
                self.id,
                self.term,
                message.kind
            );
            self.self_messages.push(message);
            return;
        }
        let after_persist = match message.kind {
            MessageKind::Vote
            | MessageKind::VoteResponse
            | MessageKind::PreVoteResponse
            | MessageKind::HeartbeatResponse => true,
            MessageKind::AppendResponse => !self.config.mutants.contains(Mutant::AckBeforeSync),
            _ => false,
        };
        if after_persist {
            self.persisted_messages.push(message);
        } else {
            self.messages.push(message);
        }
    }
}

impl<S: Storage> std::fmt::Debug for RawNode<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawNode")
            .field("id", &self.id)
            .field("term", &self.term)
            .field("vote", &self.vote)
            .field("role", &self.role)
            .field("leader", &self.leader)
            .field("commit", &self.log.committed)
            .field("applied", &self.log.applied)
            .field("last_index", &self.log.last_index())
            .finish()
    }
}
